//! `torch.save` archives: the index, then every float tensor whose shape is small enough to
//! read (a module's shapes bound what burn-rnn reads from an untrusted file).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = rnn_io::TensorFile::torch(data) {
        for t in file.tensors() {
            let numel = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            if numel.is_some_and(|n| n <= 1 << 20) {
                if let Ok(values) = file.read_f32(&t.name) {
                    assert_eq!(Some(values.len()), numel);
                }
            }
        }
    }
});
