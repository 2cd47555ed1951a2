//! safetensors files: the index, then every tensor.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = rnn_io::TensorFile::safetensors(data) {
        for t in file.tensors() {
            if let Ok(values) = file.read_f32(&t.name) {
                assert_eq!(values.len(), t.shape.iter().product::<usize>());
            }
        }
    }
});
