//! Peak memory of one training step of a long sequence: 1-layer LSTM, T = 1000, N = 32,
//! H_in = 256, H = 512 (forward, mean-square loss over the outputs, backward).
//!
//! `cargo run --release -p rnn-bench --bin memory` prints the process's peak resident set
//! (`VmHWM`) before and after the step; `benches/pytorch_memory.py` does the same for PyTorch.
//! The fused forward keeps, per step, only the gate activations and the states the backward
//! needs (`rnn_cpu::Saved`), so the step's peak is a small multiple of `T * N * 4H`.

use burn::tensor::{Distribution, Tensor};
use burn_autodiff::Autodiff;
use burn_ndarray::NdArray;
use burn_rnn::{ExecutionPath, LstmConfig};

type AD = Autodiff<NdArray<f32>>;

/// The named field of `/proc/self/status`, in MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let path = match std::env::args().nth(1).as_deref() {
        Some("reference") => ExecutionPath::Reference,
        _ => ExecutionPath::Fused,
    };
    let (seq, batch, input, hidden) = (1000, 32, 256, 512);
    let device = Default::default();
    let lstm = LstmConfig::new(input, hidden)
        .init::<AD>(&device)
        .with_path(path);
    let x = Tensor::<AD, 3>::random([batch, seq, input], Distribution::Default, &device);
    let before = status_mib("VmHWM:");
    let start = std::time::Instant::now();
    let out = lstm.forward(x, None).output;
    let grads = out.powi_scalar(2).mean().backward();
    drop(grads);
    let after = status_mib("VmHWM:");
    println!(
        "burn-rnn ({path:?}) LSTM T={seq} N={batch} H_in={input} H={hidden}: peak RSS {after:.0} MiB \
         (before the step {before:.0} MiB, step +{:.0} MiB); step took {:.1} s",
        after - before,
        start.elapsed().as_secs_f64()
    );
}
