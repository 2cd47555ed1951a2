//! The CPU tables on ndarray: one-thread GEMM rates, then ours fused vs ours reference vs
//! `burn::nn` vs PyTorch on every config, forward and training, and the scaling rows.

use std::time::Duration;

use burn_ndarray::NdArray;

use crate::measure::{self, median_ms, time_forward_on, time_train_on, Row};
use crate::shape::{Shape, CONFIGS, SCALING};
use crate::torch::Torch;
use crate::{Args, KEEP_FREED};

/// The CPU backend.
type B = NdArray<f32>;

/// GFLOP/s of `f` running an `m x k` by `k x n` product.
fn gemm_rate(m: usize, k: usize, n: usize, mut f: impl FnMut(&[f32], &[f32], &mut [f32])) -> f64 {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0.0f32; m * n];
    let ms = median_ms(Duration::from_millis(300), || f(&a, &b, &mut c));
    2.0 * (m * k * n) as f64 / (ms * 1e-3) / 1e9
}

/// `c = a b` by `matrixmultiply` (what the kernels call), row-major `[m, k] x [k, n]`.
fn matrixmultiply_gemm(m: usize, k: usize, n: usize) -> impl FnMut(&[f32], &[f32], &mut [f32]) {
    move |a, b, c| unsafe {
        // SAFETY: row-major buffers of exactly [m, k], [k, n], [m, n].
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

/// `c = a b` by the `gemm` crate on one thread, row-major `[m, k] x [k, n]`.
fn gemm_crate_gemm(m: usize, k: usize, n: usize) -> impl FnMut(&[f32], &[f32], &mut [f32]) {
    move |a, b, c| unsafe {
        // SAFETY: row-major buffers of exactly [m, k], [k, n], [m, n].
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// Prints the GEMM table (empty with `--no-gemm`) and returns the best rate in it, GFLOP/s.
fn gemm_table(args: &Args) -> f64 {
    println!("## GEMM on this CPU (one thread, GFLOP/s)\n");
    println!("| shape (m x k x n) | matrixmultiply | gemm crate |");
    println!("| --- | --- | --- |");
    let shapes = [
        (1024, 1024, 1024, "square"),
        (32, 256, 1024, "LSTM step h W_hh^T, N=32 H=256"),
        (2048, 128, 1024, "hoisted input x W_ih^T, L*N=2048"),
        (1024, 2048, 256, "weight gradient dG^T h, L*N=2048"),
    ];
    let mut peak = 0.0f64;
    for (m, k, n, what) in shapes.into_iter().filter(|_| !args.no_gemm) {
        let mm = gemm_rate(m, k, n, matrixmultiply_gemm(m, k, n));
        let gc = gemm_rate(m, k, n, gemm_crate_gemm(m, k, n));
        peak = peak.max(mm).max(gc);
        println!("| {m} x {k} x {n} ({what}) | {mm:.0} | {gc:.0} |");
    }
    peak
}

/// The CPU's model name (Linux's `/proc/cpuinfo`), or `unknown CPU`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

/// Prints the CPU and kernel path, the GEMM table, the setup line (threads, allocator, torch), and the main table:
/// every wanted config forward and training, then the scaling rows, each ours fused beside
/// ours reference, `burn::nn` and PyTorch on the CPU.
pub fn tables(args: &Args, budget: Duration, threads: usize) {
    let configs: Vec<Shape> = CONFIGS.iter().copied().filter(|s| args.wants(s)).collect();
    let scaling: Vec<Shape> = SCALING.iter().copied().filter(|s| args.wants(s)).collect();
    println!(
        "CPU: {}; fused kernels on the `{}` path (this CPU can run: {}; `BURN_RNN_ISA` picks \
         one)\n",
        cpu_model(),
        burn_rnn::kernels::isa(),
        burn_rnn::kernels::Isa::available_paths()
            .iter()
            .map(|i| i.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let peak = gemm_table(args);

    let mut all: Vec<Shape> = configs.clone();
    all.extend(scaling.iter().copied());
    let torch = match Torch::run(args, &all, threads, "cpu") {
        Ok(t) => Some(t),
        Err(e) => {
            println!("\nPyTorch skipped: {e}");
            None
        }
    };
    setup_line(args, torch.as_ref(), threads, peak);
    println!(
        "\nTimes in ms (median). Ratios are the other's time over ours fused: above 1.00x ours \
         is faster. GFLOP/s counts the two matmuls, 2*N*(H_in+H)*G*H per step, x3 for \
         training.\n"
    );
    println!(
        "| config (batch/seq/input/hidden) | mode | ours fused | ours reference | burn::nn | \
         PyTorch | fused GFLOP/s | vs reference | vs burn::nn | vs PyTorch |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let rows = configs
        .iter()
        .flat_map(|s| [(*s, false), (*s, true)])
        .chain(scaling.iter().map(|s| (*s, true)))
        .filter(|&(_, train)| !(train && args.forward_only));
    let mut worst: Option<(f64, String)> = None;
    for (s, train) in rows {
        let ratio = table_row(args, &s, train, torch.as_ref(), budget);
        if let Some(ratio) = ratio.filter(|r| worst.as_ref().is_none_or(|(w, _)| r < w)) {
            worst = Some((ratio, format!("{} {}", s.label(), measure::mode(train))));
        }
    }
    if let Some((ratio, which)) = worst {
        println!("\nWorst ratio against PyTorch: {ratio:.2}x ({which}).");
    }
}

/// The line under the GEMM table: threads, allocator, and the sgemm peaks of both sides.
fn setup_line(args: &Args, torch: Option<&Torch>, threads: usize, peak: f64) {
    let torch_version = torch
        .map(|t| format!(" (torch {} on {})", t.version, t.device))
        .unwrap_or_default();
    let allocator = match args.default_malloc {
        true => "glibc defaults".to_string(),
        false => format!("freed memory kept (GLIBC_TUNABLES={KEEP_FREED}) on both sides"),
    };
    let torch_sgemm = torch
        .map(|t| {
            format!(
                "; torch sgemm ({threads} threads): {:.0} GFLOP/s",
                t.sgemm_gflops
            )
        })
        .unwrap_or_default();
    println!();
    println!(
        "Threads: burn-rnn {}, PyTorch {threads}{torch_version}; allocator: {allocator}; best \
         one-thread sgemm here: {peak:.0} GFLOP/s{torch_sgemm}",
        burn_rnn::kernels::num_threads(),
    );
}

/// Measures and prints the row of `s` (forward, or training when `train`); returns PyTorch's
/// time over ours fused when PyTorch ran.
fn table_row(
    args: &Args,
    s: &Shape,
    train: bool,
    torch: Option<&Torch>,
    budget: Duration,
) -> Option<f64> {
    let baselines = !(args.fused_only || (args.quick && s.seq > 256));
    let time = |which| match train {
        false => time_forward_on::<B>(s, which, budget),
        true => time_train_on::<B>(s, which, budget),
    };
    let row = Row::measure(time, baselines, torch.and_then(|t| t.ms(s, train)));
    let flops = s.forward_flops() * if train { 3.0 } else { 1.0 };
    let gflops = flops / (row.fused * 1e-3) / 1e9;
    println!(
        "| {} | {} | {} | {gflops:.0} | {} |",
        s.label(),
        measure::mode(train),
        row.times(),
        row.ratios()
    );
    row.torch.map(|t| t / row.fused)
}
