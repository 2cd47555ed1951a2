//! The CPU tables on ndarray: one-thread GEMM rates, then ours fused vs ours reference vs
//! `burn::nn` vs PyTorch on every config, forward and training, and the scaling rows.

use std::time::Duration;

use burn_ndarray::NdArray;

use burn_rnn::kernels::{isa, Isa};
use rnn_bench::{cpu_model, KEEP_FREED};

use crate::measure::{self, median_ms, time_forward_on, time_train_on, Impl, Row};
use crate::shape::{Shape, CONFIGS, SCALING};
use crate::torch::Torch;
use crate::Args;

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

/// Prints the CPU and kernel path, the GEMM table, the setup line (threads, allocator, torch),
/// and the main table: every wanted config forward and training, then the scaling rows, each
/// ours fused beside ours reference, `burn::nn` and PyTorch on the CPU, over `--repeat`
/// interleaved rounds. Returns the rows for `--json`.
pub fn tables(args: &Args, budget: Duration, threads: usize) -> Vec<serde_json::Value> {
    let configs: Vec<Shape> = CONFIGS.iter().copied().filter(|s| args.wants(s)).collect();
    let scaling: Vec<Shape> = SCALING.iter().copied().filter(|s| args.wants(s)).collect();
    println!(
        "CPU: {}; fused kernels on the `{}` path (this CPU can run: {}; `BURN_RNN_ISA` picks \
         one); {}\n",
        cpu_model(),
        isa(),
        Isa::available_paths()
            .iter()
            .map(|i| i.name())
            .collect::<Vec<_>>()
            .join(", "),
        rnn_bench::torch_isa_note(),
    );
    let peak = gemm_table(args);

    let mut all: Vec<Shape> = configs.clone();
    all.extend(scaling.iter().copied());
    let rows: Vec<(Shape, bool)> = configs
        .iter()
        .flat_map(|s| [(*s, false), (*s, true)])
        .chain(scaling.iter().map(|s| (*s, true)))
        .filter(|&(_, train)| !(train && args.forward_only))
        .collect();
    let time = |s: &Shape, train: bool, which| match train {
        false => time_forward_on::<B>(s, which, budget),
        true => time_train_on::<B>(s, which, budget),
    };
    // Per row: ours fused in every round, PyTorch in every round, the baselines once.
    let mut fused: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    let mut torch_ms: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    let mut ours_peak: Vec<Option<f64>> = vec![None; rows.len()];
    let mut torch_peak: Vec<Option<f64>> = vec![None; rows.len()];
    let mut baselines: Vec<(Option<f64>, Option<f64>)> = vec![(None, None); rows.len()];
    let mut torch: Option<Torch> = None;
    let mut torch_failed = false;
    for round in 0..args.repeat {
        if args.repeat > 1 {
            eprintln!("round {}/{}", round + 1, args.repeat);
        }
        for (i, (s, train)) in rows.iter().enumerate() {
            let start = rnn_bench::reset_heap_peak();
            fused[i].push(time(s, *train, Impl::Fused));
            ours_peak[i] = max_of(ours_peak[i], Some(rnn_bench::heap_peak_mib(start)));
            let slow = !(args.fused_only || (args.quick && s.seq > 256));
            if round == 0 && slow {
                baselines[i] = (
                    Some(time(s, *train, Impl::Reference)),
                    (s.proj == 0).then(|| time(s, *train, Impl::BurnNn)),
                );
            }
        }
        if torch_failed {
            continue;
        }
        match Torch::run(args, &all, threads, "cpu") {
            Ok(t) => {
                for (i, (s, train)) in rows.iter().enumerate() {
                    if let Some(ms) = t.ms(s, *train) {
                        torch_ms[i].push(ms);
                    }
                    torch_peak[i] = max_of(torch_peak[i], t.peak_mib(s, *train));
                }
                torch = Some(t);
            }
            Err(e) => {
                println!("\nPyTorch skipped: {e}");
                torch_failed = true;
            }
        }
    }
    setup_line(args, torch.as_ref(), threads, peak);
    println!(
        "\nTimes in ms, medians of {} interleaved round(s) (ours on every row, then PyTorch); \
         ratios are the other's time over ours fused (above 1.00x ours is faster), PyTorch's the \
         median of the rounds' ratios. GFLOP/s counts the matmuls, 2*N*(H_in+P)*G*H per \
         step (P = H, or the projection's size plus its 2*N*H*P), x3 for training. Peak heap MiB: the most our process's heap rose above its size \
         before the row's timed runs (a counting allocator; PyTorch's resident-set rise is in \
         --json).\n",
        args.repeat
    );
    println!(
        "| config (batch/seq/input/hidden) | mode | ours fused | ours reference | burn::nn | \
         PyTorch | fused GFLOP/s | vs reference | vs burn::nn | vs PyTorch | peak heap MiB |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut worst: Option<(f64, String)> = None;
    let mut json = Vec::new();
    for (i, (s, train)) in rows.iter().enumerate() {
        let ratios: Vec<f64> = fused[i]
            .iter()
            .zip(&torch_ms[i])
            .map(|(ours, theirs)| theirs / ours)
            .collect();
        let row = Row {
            fused: median(&fused[i]).expect("every round times ours"),
            reference: baselines[i].0,
            burn_nn: baselines[i].1,
            torch: median(&torch_ms[i]),
            vs_torch: median(&ratios),
        };
        let flops = s.forward_flops() * if *train { 3.0 } else { 1.0 };
        let gflops = flops / (row.fused * 1e-3) / 1e9;
        let mib = |m: Option<f64>| m.map_or("-".to_string(), |m| format!("{m:.0}"));
        println!(
            "| {} | {} | {} | {gflops:.0} | {} | {} |",
            s.label(),
            measure::mode(*train),
            row.times(),
            row.ratios(),
            mib(ours_peak[i]),
        );
        if let Some(ratio) = row
            .vs_torch
            .filter(|r| worst.as_ref().is_none_or(|(w, _)| r < w))
        {
            worst = Some((ratio, format!("{} {}", s.label(), measure::mode(*train))));
        }
        json.push(serde_json::json!({
            "table": "cpu",
            "cpu": cpu_model(),
            "isa": isa().name(),
            "pytorch_capped_to_avx2": rnn_bench::torch_capped(),
            "config": s.label(),
            "mode": measure::mode(*train),
            "rounds": args.repeat,
            "ours_fused_ms": row.fused,
            "ours_fused_ms_rounds": fused[i],
            "ours_reference_ms": row.reference,
            "burn_nn_ms": row.burn_nn,
            "pytorch_ms": row.torch,
            "pytorch_ms_rounds": torch_ms[i],
            "vs_pytorch": row.vs_torch,
            "fused_gflops": gflops,
            "ours_heap_peak_mib": ours_peak[i],
            "pytorch_rss_rise_mib": torch_peak[i],
        }));
    }
    if let Some((ratio, which)) = worst {
        println!("\nWorst ratio against PyTorch: {ratio:.2}x ({which}).");
    }
    json
}

/// The larger of two optional values.
fn max_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The median of `values` (the mean of the middle two for an even count); `None` for none.
fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[mid]),
        _ => Some(0.5 * (v[mid - 1] + v[mid])),
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
