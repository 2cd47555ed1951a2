//! Side-by-side benchmark: burn-rnn's fused path, its plain-ops reference path, `burn::nn`, and
//! PyTorch, on the same CPU with the same thread count, in one run.
//!
//! `cargo run --release -p rnn-bench` prints one Markdown table (copied into
//! `benches/RESULTS.md`). Each cell is the median of repeated runs after a warm-up; the
//! ndarray backend is synchronous, so a call's return is the end of its work. PyTorch runs
//! through `benches/pytorch_bench.py` with the interpreter named by `--python` (skipped with a
//! notice when it cannot import torch).
//!
//! Layout: this file holds the command line and the order of the tables; [`cpu`] prints the
//! GEMM and CPU tables, [`gpu`] the GPU table (features `wgpu`, `cuda`), [`torch`] runs the
//! PyTorch script, [`measure`] times one config and formats a row, [`shape`] lists the configs.

mod cpu;
mod gpu;
mod measure;
mod shape;
mod torch;

use std::time::Duration;

use clap::Parser;
use rnn_bench::CountingAlloc;

use crate::shape::Shape;

/// Counts heap bytes for the table's peak-memory column.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "burn-rnn vs burn::nn vs PyTorch, side by side")]
struct Args {
    /// Interleaved rounds of the CPU table: ours on every row, then PyTorch on every row, K
    /// times; a cell is the median of its rounds and a ratio the median of the rounds' ratios
    /// (the reference path and burn::nn run in the first round only).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
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
    /// Only configs whose label contains this text; a comma-separated list keeps a config
    /// that matches any of its items (`--only 16/25/512/512,1/96/64/64`).
    #[arg(long)]
    only: Option<String>,
    /// The PyTorch script (default: `pytorch_bench.py` beside the benchmark's sources).
    #[arg(long)]
    torch_script: Option<std::path::PathBuf>,
    /// Also write every table's rows as JSON to this file: one object per config, mode and
    /// path (ours and PyTorch ms, ratio, GFLOP/s, peak memory), to compare commits.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
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

impl Args {
    /// Whether `--only` keeps `s` (its label contains one of the list's items, or there is no
    /// `--only`).
    fn wants(&self, s: &Shape) -> bool {
        let label = s.label();
        self.only
            .as_ref()
            .is_none_or(|o| o.split(',').any(|item| label.contains(item.trim())))
    }
}

/// Makes glibc keep freed memory instead of returning it to the OS (for this process; the
/// PyTorch child gets the same policy through `GLIBC_TUNABLES`).
///
/// By default glibc serves big buffers with `mmap` and unmaps them on free, so every call of
/// an op that returns fresh multi-megabyte tensors pays a page fault per 4 KiB on first touch;
/// on a 2-core AMD EPYC machine that was 40% of our LSTM forward (16.3 ms vs 10.0 ms, `perf stat -e
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
    if args.repeat == 0 {
        eprintln!("error: --repeat must be at least 1");
        std::process::exit(2);
    }
    let mut rows = Vec::new();
    if !args.gpu_only {
        rows = cpu::tables(&args, budget, threads);
    }
    rows.extend(gpu::table(&args, budget, threads));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&rows).expect("JSON values serialize");
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("error: cannot write {}: {e}", path.display());
            std::process::exit(2);
        }
    }
}
