//! The checkpoint loader: a Burn record file checked ([`rnn_example_common::record::inspect`]), its
//! shapes compared with a module's ([`rnn_example_common::record::check_shapes`]), then loaded into it
//! through [`rnn_example_common::record::CheckedRecorder`], as char-rnn and seq2seq load theirs. Every
//! outcome must be `Ok` or `Err`.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use burn::module::Module;
use burn_rnn::backend::DefaultBackend as B;
use rnn_example_common::record::CheckedRecorder;
use burn_rnn::LstmConfig;
use libfuzzer_sys::fuzz_target;

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| std::env::temp_dir().join(format!("fuzz-ckpt-{}", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let file = path().with_extension("mpk");
    std::fs::write(&file, data).unwrap();
    let device = Default::default();
    let lstm = LstmConfig::new(3, 2).init::<B>(&device);
    let Ok(record) = rnn_example_common::record::inspect(&file) else {
        return;
    };
    if rnn_example_common::record::check_shapes(&lstm, &record).is_err() {
        return;
    }
    let _ = lstm.load_file(path(), &CheckedRecorder::<burn::record::FullPrecisionSettings>::new(), &device);
});
