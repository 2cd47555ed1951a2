//! The GPU table, built with `--features wgpu` or `--features cuda`: ours fused vs ours
//! reference vs `burn::nn` on the GPU backend the features chose, and PyTorch (cuDNN) on the
//! same GPU with `cuda`. Without either feature it only says so under `--gpu-only`.

use std::time::Duration;

use crate::Args;

/// Without a GPU feature there is no GPU table (and no rows).
#[cfg(not(any(feature = "wgpu", feature = "cuda")))]
pub fn table(args: &Args, _budget: Duration, _threads: usize) -> Vec<serde_json::Value> {
    if args.gpu_only {
        println!("--gpu-only: this binary has no GPU backend (build with --features wgpu or cuda)");
    }
    Vec::new()
}

/// The configs of the GPU table: DeepBench's and Braun's LSTMs, or all with `--gpu-all`.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn configs(args: &Args) -> Vec<crate::shape::Shape> {
    crate::shape::CONFIGS
        .iter()
        .copied()
        .filter(|s| args.gpu_all || matches!(s.note, "DeepBench" | "Braun 2018"))
        .filter(|s| args.wants(s))
        .collect()
}

/// Ours fused vs ours reference vs `burn::nn` on the GPU backend the features chose, and
/// PyTorch (cuDNN) on the same GPU when built with `cuda`; prints the table and returns its
/// rows (milliseconds, `null` where a column did not run).
#[cfg(any(feature = "wgpu", feature = "cuda"))]
pub fn table(args: &Args, budget: Duration, threads: usize) -> Vec<serde_json::Value> {
    use crate::measure::{self, time_forward_on, time_train_on, Row};
    use crate::torch::Torch;

    type G = burn_rnn::backend::DefaultBackend;
    let backend = if cfg!(feature = "cuda") {
        "cuda (CubeCL)"
    } else if cfg!(feature = "fusion") {
        "wgpu (CubeCL, fusion on)"
    } else {
        "wgpu (CubeCL)"
    };
    let shapes = configs(args);
    let torch = if cfg!(feature = "cuda") {
        Torch::run(args, &shapes, threads, "cuda")
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
    let mut rows = Vec::new();
    for s in &shapes {
        for train in [false, true] {
            let time = |which| match train {
                false => time_forward_on::<G>(s, which, budget),
                true => time_train_on::<G>(s, which, budget),
            };
            let torch_ms = torch.as_ref().ok().and_then(|t| t.ms(s, train));
            let row = Row::measure(time, !args.fused_only, torch_ms);
            println!(
                "| {} | {} | {} | {} |",
                s.label(),
                measure::mode(train),
                row.times(),
                row.ratios()
            );
            rows.push(serde_json::json!({
                "backend": backend,
                "config": s.label(),
                "mode": measure::mode(train),
                "ours_fused_ms": row.fused,
                "ours_reference_ms": row.reference,
                "burn_nn_ms": row.burn_nn,
                "pytorch_ms": row.torch,
                "pytorch": torch.as_ref().ok().map(|t| format!("{} on {}", t.version, t.device)),
            }));
        }
    }
    rows
}
