//! Side-by-side benchmark: burn-rnn's fused path, its plain-ops reference path, `burn::nn`, and
//! PyTorch, on the same CPU with the same thread count, in one run.
//!
//! `cargo run --release -p rnn-bench` prints one Markdown table (copied into
//! `benches/RESULTS.md`). Each cell is the median of repeated runs after a warm-up; the
//! ndarray backend is synchronous, so a call's return is the end of its work. PyTorch runs
//! through `benches/pytorch_bench.py` with the interpreter named by `--python` (skipped with a
//! notice when it cannot import torch).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use burn_autodiff::Autodiff;
use burn_ndarray::NdArray;
use burn_rnn::{ExecutionPath, GruConfig, LstmConfig, RnnBackend, RnnConfig};
use clap::Parser;

type B = NdArray<f32>;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "burn-rnn vs burn::nn vs PyTorch, side by side")]
struct Args {
    /// Seconds of timed runs per cell (after warm-up); at least 3 runs each.
    #[arg(long, default_value_t = 1.0)]
    budget: f64,
    /// Threads for both sides (burn-rnn's kernels and PyTorch); default: all cores.
    #[arg(long)]
    threads: Option<usize>,
    /// Python interpreter with torch installed.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Skip the op-based baselines (reference path and burn::nn) on the long scaling runs.
    #[arg(long)]
    quick: bool,
    /// Only configs whose label contains this text.
    #[arg(long)]
    only: Option<String>,
    /// Time only burn-rnn's fused path (for profiling it).
    #[arg(long)]
    fused_only: bool,
    /// Only the forward rows (for profiling).
    #[arg(long)]
    forward_only: bool,
    /// Skip the GEMM table.
    #[arg(long)]
    no_gemm: bool,
    /// Only the GPU table (builds with `--features wgpu` or `--features cuda`).
    #[arg(long)]
    gpu_only: bool,
    /// Every config in the GPU table, not only DeepBench's and Braun's LSTMs.
    #[arg(long)]
    gpu_all: bool,
    /// Leave glibc's allocator as it is (by default both sides keep freed memory, see
    /// `keep_freed_memory`).
    #[arg(long)]
    default_malloc: bool,
}

/// The recurrent cell of a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rnn,
    Lstm,
    Gru,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Rnn => "rnn",
            Kind::Lstm => "lstm",
            Kind::Gru => "gru",
        }
    }

    fn gates(self) -> usize {
        match self {
            Kind::Rnn => 1,
            Kind::Lstm => 4,
            Kind::Gru => 3,
        }
    }
}

/// One benchmark shape: batch / seq / input / hidden.
#[derive(Debug, Clone, Copy)]
struct Shape {
    kind: Kind,
    batch: usize,
    seq: usize,
    input: usize,
    hidden: usize,
    note: &'static str,
}

impl Shape {
    const fn new(kind: Kind, batch: usize, seq: usize, input: usize, hidden: usize) -> Self {
        Self {
            kind,
            batch,
            seq,
            input,
            hidden,
            note: "",
        }
    }

    const fn note(mut self, note: &'static str) -> Self {
        self.note = note;
        self
    }

    fn label(&self) -> String {
        let base = format!(
            "{} {}/{}/{}/{}",
            self.kind.name(),
            self.batch,
            self.seq,
            self.input,
            self.hidden
        );
        match self.note {
            "" => base,
            note => format!("{base} ({note})"),
        }
    }

    fn torch_key(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.kind.name(),
            self.batch,
            self.seq,
            self.input,
            self.hidden
        )
    }

    /// Forward flops: `2 * N * (H_in + H) * G*H` per step (the two matmuls).
    fn forward_flops(&self) -> f64 {
        2.0 * (self.batch * (self.input + self.hidden) * self.kind.gates() * self.hidden * self.seq)
            as f64
    }
}

const CONFIGS: [Shape; 6] = [
    Shape::new(Kind::Lstm, 32, 64, 128, 256),
    Shape::new(Kind::Lstm, 16, 25, 512, 512).note("DeepBench"),
    Shape::new(Kind::Lstm, 64, 100, 123, 320).note("Braun 2018"),
    Shape::new(Kind::Gru, 64, 50, 500, 500),
    Shape::new(Kind::Rnn, 32, 64, 128, 256),
    Shape::new(Kind::Rnn, 1, 96, 64, 64).note("per-step overhead"),
];

const SCALING: [Shape; 3] = [
    Shape::new(Kind::Lstm, 32, 64, 128, 256).note("scaling"),
    Shape::new(Kind::Lstm, 32, 256, 128, 256).note("scaling"),
    Shape::new(Kind::Lstm, 32, 1024, 128, 256).note("scaling"),
];

/// Median milliseconds of `f` over at least 3 runs and `budget` seconds, after one warm-up.
fn median_ms(budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed() < budget && times.len() < 200) {
        let t0 = Instant::now();
        f();
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Our layer of a config's kind.
enum Ours<Bk: Backend> {
    Rnn(burn_rnn::Rnn<Bk>),
    Lstm(burn_rnn::Lstm<Bk>),
    Gru(burn_rnn::Gru<Bk>),
}

impl<Bk: RnnBackend> Ours<Bk> {
    fn new(s: &Shape, path: ExecutionPath, device: &Bk::Device) -> Self {
        match s.kind {
            Kind::Rnn => Ours::Rnn(
                RnnConfig::new(s.input, s.hidden)
                    .init(device)
                    .with_path(path),
            ),
            Kind::Lstm => Ours::Lstm(
                LstmConfig::new(s.input, s.hidden)
                    .init(device)
                    .with_path(path),
            ),
            Kind::Gru => Ours::Gru(
                GruConfig::new(s.input, s.hidden)
                    .init(device)
                    .with_path(path),
            ),
        }
    }

    fn forward(&self, x: Tensor<Bk, 3>) -> Tensor<Bk, 3> {
        match self {
            Ours::Rnn(m) => m.forward(x, None).output,
            Ours::Lstm(m) => m.forward(x, None).output,
            Ours::Gru(m) => m.forward(x, None).output,
        }
    }
}

/// `burn::nn`'s layer of a config's kind (one per timing, so variant sizes do not matter).
#[allow(clippy::large_enum_variant)]
enum Theirs<Bk: Backend> {
    Rnn(burn::nn::Rnn<Bk>),
    Lstm(burn::nn::Lstm<Bk>),
    Gru(burn::nn::Gru<Bk>),
}

impl<Bk: Backend> Theirs<Bk> {
    fn new(s: &Shape, device: &Bk::Device) -> Self {
        match s.kind {
            Kind::Rnn => {
                Theirs::Rnn(burn::nn::RnnConfig::new(s.input, s.hidden, true).init(device))
            }
            Kind::Lstm => {
                Theirs::Lstm(burn::nn::LstmConfig::new(s.input, s.hidden, true).init(device))
            }
            Kind::Gru => {
                Theirs::Gru(burn::nn::GruConfig::new(s.input, s.hidden, true).init(device))
            }
        }
    }

    fn forward(&self, x: Tensor<Bk, 3>) -> Tensor<Bk, 3> {
        match self {
            Theirs::Rnn(m) => m.forward(x, None).0,
            Theirs::Lstm(m) => m.forward(x, None).0,
            Theirs::Gru(m) => m.forward(x, None),
        }
    }
}

/// Which implementation a timing is of.
#[derive(Debug, Clone, Copy)]
enum Impl {
    Fused,
    Reference,
    BurnNn,
}

/// Forward-only milliseconds on `Bk`, the device synced inside the timed region.
fn time_forward_on<Bk: RnnBackend>(s: &Shape, which: Impl, budget: Duration) -> f64 {
    let device = Default::default();
    let x = Tensor::<Bk, 3>::random([s.batch, s.seq, s.input], Distribution::Default, &device);
    let sync = || Bk::sync(&device).expect("the device syncs");
    match which {
        Impl::Fused | Impl::Reference => {
            let path = match which {
                Impl::Fused => ExecutionPath::Fused,
                _ => ExecutionPath::Reference,
            };
            let m = Ours::<Bk>::new(s, path, &device);
            median_ms(budget, || {
                drop(m.forward(x.clone()));
                sync();
            })
        }
        Impl::BurnNn => {
            let m = Theirs::<Bk>::new(s, &device);
            median_ms(budget, || {
                drop(m.forward(x.clone()));
                sync();
            })
        }
    }
}

/// Training-step milliseconds on `Autodiff<Bk>`: forward, `mean(output^2)`, backward, sync.
fn time_train_on<Bk: RnnBackend>(s: &Shape, which: Impl, budget: Duration) -> f64 {
    let device = Default::default();
    let x = Tensor::<Autodiff<Bk>, 3>::random(
        [s.batch, s.seq, s.input],
        Distribution::Default,
        &device,
    );
    let step = |out: Tensor<Autodiff<Bk>, 3>| {
        drop(out.powi_scalar(2).mean().backward());
        Bk::sync(&device).expect("the device syncs");
    };
    match which {
        Impl::Fused | Impl::Reference => {
            let path = match which {
                Impl::Fused => ExecutionPath::Fused,
                _ => ExecutionPath::Reference,
            };
            let m = Ours::<Autodiff<Bk>>::new(s, path, &device);
            median_ms(budget, || step(m.forward(x.clone())))
        }
        Impl::BurnNn => {
            let m = Theirs::<Autodiff<Bk>>::new(s, &device);
            median_ms(budget, || step(m.forward(x.clone())))
        }
    }
}

/// Forward-only milliseconds on ndarray.
fn time_forward(s: &Shape, which: Impl, budget: Duration) -> f64 {
    time_forward_on::<B>(s, which, budget)
}

/// Training-step milliseconds on `Autodiff<NdArray>`.
fn time_train(s: &Shape, which: Impl, budget: Duration) -> f64 {
    time_train_on::<B>(s, which, budget)
}

/// GFLOP/s of `f` running an `m x k` by `k x n` product.
fn gemm_rate(m: usize, k: usize, n: usize, mut f: impl FnMut(&[f32], &[f32], &mut [f32])) -> f64 {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0.0f32; m * n];
    let ms = median_ms(Duration::from_millis(300), || f(&a, &b, &mut c));
    2.0 * (m * k * n) as f64 / (ms * 1e-3) / 1e9
}

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

/// The glibc tunables that keep freed memory in the process, for the PyTorch child.
const KEEP_FREED: &str = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647";

/// Makes glibc keep freed memory instead of returning it to the OS (for this process; the
/// PyTorch child gets the same policy through `GLIBC_TUNABLES`).
///
/// By default glibc serves big buffers with `mmap` and unmaps them on free, so every call of
/// an op that returns fresh multi-megabyte tensors pays a page fault per 4 KiB on first touch;
/// on this VM that was 40% of our LSTM forward (16.3 ms vs 10.0 ms, `perf stat -e
/// page-faults`: 534662 vs 8235 over the same runs). Long-running trainers get the same by
/// `GLIBC_TUNABLES` or a caching allocator; `--default-malloc` measures without it.
fn keep_freed_memory() {
    #[cfg(target_os = "linux")]
    // SAFETY: mallopt only changes glibc's allocation policy; called before any threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// PyTorch's timings, by config key.
struct Torch {
    device: String,
    version: String,
    sgemm_gflops: f64,
    results: std::collections::HashMap<String, (f64, f64)>,
}

fn run_torch(
    args: &Args,
    shapes: &[Shape],
    threads: usize,
    budget: f64,
    device: &str,
) -> Result<Torch, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pytorch_bench.py");
    let keys: Vec<String> = shapes.iter().map(Shape::torch_key).collect();
    let mut command = Command::new(&args.python);
    if !args.default_malloc {
        command.env("GLIBC_TUNABLES", KEEP_FREED);
    }
    let out = command
        .arg(&script)
        .args(["--threads", &threads.to_string()])
        .args(["--budget", &budget.to_string()])
        .args(["--configs", &keys.join(",")])
        .args(["--device", device])
        .output()
        .map_err(|e| format!("could not run {}: {e}", args.python))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("").to_string();
        return Err(format!(
            "{} {} failed: {last}",
            args.python,
            script.display()
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unreadable output from {}: {e}", script.display()))?;
    let mut results = std::collections::HashMap::new();
    for r in v["results"].as_array().into_iter().flatten() {
        results.insert(
            r["config"].as_str().unwrap_or_default().to_string(),
            (
                r["forward_ms"].as_f64().unwrap_or(f64::NAN),
                r["train_ms"].as_f64().unwrap_or(f64::NAN),
            ),
        );
    }
    Ok(Torch {
        device: v["device"].as_str().unwrap_or("?").to_string(),
        version: v["torch"].as_str().unwrap_or("?").to_string(),
        sgemm_gflops: v["sgemm_gflops"].as_f64().unwrap_or(f64::NAN),
        results,
    })
}

fn fmt_ms(ms: Option<f64>) -> String {
    match ms {
        Some(ms) if ms >= 100.0 => format!("{ms:.0}"),
        Some(ms) if ms >= 10.0 => format!("{ms:.1}"),
        Some(ms) => format!("{ms:.2}"),
        None => "-".to_string(),
    }
}

fn fmt_ratio(other: Option<f64>, ours: f64) -> String {
    match other {
        Some(o) => format!("{:.2}x", o / ours),
        None => "-".to_string(),
    }
}

fn main() {
    let args = Args::parse();
    if !args.default_malloc {
        keep_freed_memory();
    }
    let budget = Duration::from_secs_f64(args.budget);
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    burn_rnn::kernels::set_num_threads(threads);
    if args.gpu_only {
        gpu_table(&args, budget, threads);
        return;
    }
    let wanted = |s: &Shape| {
        args.only
            .as_ref()
            .is_none_or(|o| s.label().contains(o.as_str()))
    };
    let configs: Vec<Shape> = CONFIGS.iter().copied().filter(wanted).collect();
    let scaling: Vec<Shape> = SCALING.iter().copied().filter(wanted).collect();

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

    let mut all: Vec<Shape> = configs.clone();
    all.extend(scaling.iter().copied());
    let torch = match run_torch(&args, &all, threads, args.budget, "cpu") {
        Ok(t) => Some(t),
        Err(e) => {
            println!("\nPyTorch skipped: {e}");
            None
        }
    };
    println!();
    println!(
        "Threads: burn-rnn {}, PyTorch {threads}{}; allocator: {}; best one-thread sgemm \
         here: {peak:.0} GFLOP/s{}",
        burn_rnn::kernels::num_threads(),
        torch
            .as_ref()
            .map(|t| format!(" (torch {} on {})", t.version, t.device))
            .unwrap_or_default(),
        match args.default_malloc {
            true => "glibc defaults".to_string(),
            false => format!("freed memory kept (GLIBC_TUNABLES={KEEP_FREED}) on both sides"),
        },
        torch
            .as_ref()
            .map(|t| format!(
                "; torch sgemm ({threads} threads): {:.0} GFLOP/s",
                t.sgemm_gflops
            ))
            .unwrap_or_default()
    );
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
    let mut worst: Option<(f64, String)> = None;
    let rows = configs
        .iter()
        .flat_map(|s| [(*s, false), (*s, true)])
        .chain(scaling.iter().map(|s| (*s, true)))
        .filter(|&(_, train)| !(train && args.forward_only));
    for (s, train) in rows {
        let slow_ok = !(args.fused_only || (args.quick && s.seq > 256));
        let time = |which| match train {
            false => time_forward(&s, which, budget),
            true => time_train(&s, which, budget),
        };
        let fused = time(Impl::Fused);
        let reference = slow_ok.then(|| time(Impl::Reference));
        let burn_nn = slow_ok.then(|| time(Impl::BurnNn));
        let torch_ms = torch
            .as_ref()
            .and_then(|t| t.results.get(&s.torch_key()))
            .map(|&(f, t)| if train { t } else { f });
        let flops = s.forward_flops() * if train { 3.0 } else { 1.0 };
        let gflops = flops / (fused * 1e-3) / 1e9;
        if let Some(t) = torch_ms {
            let ratio = t / fused;
            let mode = if train { "training" } else { "forward" };
            if worst.as_ref().is_none_or(|(w, _)| ratio < *w) {
                worst = Some((ratio, format!("{} {mode}", s.label())));
            }
        }
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {} | {} | {} |",
            s.label(),
            if train { "training" } else { "forward" },
            fmt_ms(Some(fused)),
            fmt_ms(reference),
            fmt_ms(burn_nn),
            fmt_ms(torch_ms),
            gflops,
            fmt_ratio(reference, fused),
            fmt_ratio(burn_nn, fused),
            fmt_ratio(torch_ms, fused),
        );
    }
    if let Some((ratio, which)) = worst {
        println!("\nWorst ratio against PyTorch: {ratio:.2}x ({which}).");
    }
    gpu_table(&args, budget, threads);
}

/// The configs of the GPU table: DeepBench's and Braun's LSTMs, or all with `--gpu-all`.
fn gpu_configs(args: &Args) -> Vec<Shape> {
    CONFIGS
        .iter()
        .copied()
        .filter(|s| args.gpu_all || matches!(s.note, "DeepBench" | "Braun 2018"))
        .filter(|s| {
            args.only
                .as_ref()
                .is_none_or(|o| s.label().contains(o.as_str()))
        })
        .collect()
}

/// Without a GPU feature there is no GPU table.
#[cfg(not(any(feature = "wgpu", feature = "cuda")))]
fn gpu_table(args: &Args, _budget: Duration, _threads: usize) {
    if args.gpu_only {
        println!("--gpu-only: this binary has no GPU backend (build with --features wgpu or cuda)");
    }
    let _ = gpu_configs(args);
}

/// Ours fused vs ours reference vs `burn::nn` on the GPU backend the features chose, and
/// PyTorch (cuDNN) on the same GPU when built with `cuda`.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn gpu_table(args: &Args, budget: Duration, threads: usize) {
    type G = burn_rnn::backend::DefaultBackend;
    let backend = if cfg!(feature = "cuda") {
        "cuda (CubeCL)"
    } else if cfg!(feature = "fusion") {
        "wgpu (CubeCL, fusion on)"
    } else {
        "wgpu (CubeCL)"
    };
    let shapes = gpu_configs(args);
    let torch = if cfg!(feature = "cuda") {
        run_torch(args, &shapes, threads, args.budget, "cuda")
    } else {
        Err("PyTorch has no wgpu backend".to_string())
    };
    println!("\n## GPU: burn-rnn on {backend}\n");
    match &torch {
        Ok(t) => println!("PyTorch {} on {} (cuDNN).\n", t.version, t.device),
        Err(e) => println!("PyTorch column skipped: {e}.\n"),
    }
    println!(
        "Times in ms (median, device synced inside the timed region). Ratios are the other's \
         time over ours fused: above 1.00x ours is faster.\n"
    );
    println!(
        "| config (batch/seq/input/hidden) | mode | ours fused | ours reference | burn::nn | \
         PyTorch | vs reference | vs burn::nn | vs PyTorch |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for s in &shapes {
        for train in [false, true] {
            let time = |which| match train {
                false => time_forward_on::<G>(s, which, budget),
                true => time_train_on::<G>(s, which, budget),
            };
            let fused = time(Impl::Fused);
            let slow_ok = !args.fused_only;
            let reference = slow_ok.then(|| time(Impl::Reference));
            let burn_nn = slow_ok.then(|| time(Impl::BurnNn));
            let torch_ms = torch
                .as_ref()
                .ok()
                .and_then(|t| t.results.get(&s.torch_key()))
                .map(|&(f, t)| if train { t } else { f });
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                s.label(),
                if train { "training" } else { "forward" },
                fmt_ms(Some(fused)),
                fmt_ms(reference),
                fmt_ms(burn_nn),
                fmt_ms(torch_ms),
                fmt_ratio(reference, fused),
                fmt_ratio(burn_nn, fused),
                fmt_ratio(torch_ms, fused),
            );
        }
    }
}
