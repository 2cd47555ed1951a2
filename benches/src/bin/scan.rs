//! minGRU and minLSTM against our GRU at growing sequence lengths: the point of the min cells
//! is that their parallel scan does not run step by step.
//!
//! `cargo run --release -p rnn-bench --bin scan [-- --repeat K]` times, for `L` = 64, 256 and
//! 1024 (N = 32, H_in = 128, H = 256, one layer, ndarray f32): our GRU on its fused kernels,
//! minGRU and minLSTM in parallel mode (the fused path's scan) and in step mode (the reference
//! path), forward and a training step (forward, `mean(output^2)`, backward). Rows are medians
//! of K interleaved rounds (default 3; a cell whose single run takes over 5 s is that run);
//! ratios are our GRU's time over the row's.

use std::time::{Duration, Instant};

use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use burn_autodiff::Autodiff;
use burn_ndarray::NdArray;
use burn_rnn::{ExecutionPath, GruConfig, MinGruConfig, MinLstmConfig, RnnBackend};

type B = NdArray<f32>;
type AD = Autodiff<B>;

const BATCH: usize = 32;
const INPUT: usize = 128;
const HIDDEN: usize = 256;

/// The layers of the table, by name.
const LAYERS: [&str; 5] = [
    "GRU (fused kernels)",
    "minGRU parallel scan",
    "minGRU step mode",
    "minLSTM parallel scan",
    "minLSTM step mode",
];

/// Median milliseconds of `f` over at least 3 runs and 0.5 s, after one warm-up; a warm-up
/// over 5 s is the answer itself (step mode at L = 1024 takes minutes per training step).
fn median_ms(mut f: impl FnMut()) -> f64 {
    let t0 = Instant::now();
    f();
    let warm_up = t0.elapsed();
    if warm_up > Duration::from_secs(5) {
        return warm_up.as_secs_f64() * 1e3;
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed() < Duration::from_millis(500) && times.len() < 50) {
        let t0 = Instant::now();
        f();
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The output `[N, L, H]` of layer `which` of [`LAYERS`] for `x: [N, L, H_in]`.
fn run<Bk: RnnBackend>(which: usize, x: Tensor<Bk, 3>, device: &Bk::Device) -> Tensor<Bk, 3> {
    let path = |step: bool| match step {
        true => ExecutionPath::Reference,
        false => ExecutionPath::Fused,
    };
    match which {
        0 => {
            GruConfig::new(INPUT, HIDDEN)
                .init(device)
                .forward(x, None)
                .output
        }
        1 | 2 => {
            let layer = MinGruConfig::new(INPUT, HIDDEN).init(device);
            layer.with_path(path(which == 2)).forward(x, None).output
        }
        _ => {
            let layer = MinLstmConfig::new(INPUT, HIDDEN).init(device);
            layer.with_path(path(which == 4)).forward(x, None).output
        }
    }
}

fn time(which: usize, seq: usize, train: bool) -> f64 {
    let device = Default::default();
    if train {
        let x = Tensor::<AD, 3>::random([BATCH, seq, INPUT], Distribution::Default, &device);
        median_ms(|| {
            drop(
                run(which, x.clone(), &device)
                    .powi_scalar(2)
                    .mean()
                    .backward(),
            )
        })
    } else {
        let x = Tensor::<B, 3>::random([BATCH, seq, INPUT], Distribution::Default, &device);
        median_ms(|| {
            drop(run(which, x.clone(), &device));
            B::sync(&device).expect("the device syncs");
        })
    }
}

fn main() {
    let repeat: usize = match std::env::args().skip_while(|a| a != "--repeat").nth(1) {
        None => 3,
        Some(k) => k.parse().unwrap_or_else(|_| {
            eprintln!("error: --repeat must be a positive integer, got {k}");
            std::process::exit(2)
        }),
    };
    let rows: Vec<(usize, bool)> = [64, 256, 1024]
        .into_iter()
        .flat_map(|seq| [(seq, false), (seq, true)])
        .collect();
    let mut ms = vec![vec![Vec::new(); LAYERS.len()]; rows.len()];
    for round in 0..repeat.max(1) {
        eprintln!("round {}/{repeat}", round + 1);
        for (r, &(seq, train)) in rows.iter().enumerate() {
            for (which, times) in ms[r].iter_mut().enumerate() {
                times.push(time(which, seq, train));
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "N = {BATCH}, H_in = {INPUT}, H = {HIDDEN}, 1 layer, ndarray f32; ms, medians of \
         {repeat} interleaved round(s); in brackets our GRU's time over the row's (above 1.00x \
         the row is faster)\n"
    );
    println!("| L | mode | {} |", LAYERS.join(" | "));
    println!("| --- | --- |{}", " ---: |".repeat(LAYERS.len()));
    for (r, &(seq, train)) in rows.iter().enumerate() {
        let medians: Vec<f64> = ms[r].iter_mut().map(median).collect();
        let cells: Vec<String> = medians
            .iter()
            .map(|m| format!("{m:.1} ({:.2}x)", medians[0] / m))
            .collect();
        let mode = if train { "training" } else { "forward" };
        println!("| {seq} | {mode} | {} |", cells.join(" | "));
    }
}
