//! The PyTorch side: runs `benches/pytorch_bench.py` with the interpreter named by `--python`
//! and reads its JSON answer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use rnn_bench::KEEP_FREED;

use crate::shape::Shape;
use crate::Args;

/// PyTorch's timings, by config key.
pub struct Torch {
    /// The device torch ran on, as the script names it.
    pub device: String,
    /// torch's version.
    pub version: String,
    /// torch's sgemm rate on the benchmark's thread count, GFLOP/s.
    pub sgemm_gflops: f64,
    /// `[(forward_ms, forward_peak_mib), (train_ms, train_peak_mib)]` by
    /// [`Shape::torch_key`]; a peak is NaN where the script could not measure it.
    results: HashMap<String, [(f64, f64); 2]>,
}

impl Torch {
    /// Runs the script on `shapes` with `threads` threads on `device` (`cpu` or `cuda`); the
    /// error says why torch could not be timed.
    pub fn run(
        args: &Args,
        shapes: &[Shape],
        threads: usize,
        device: &str,
    ) -> Result<Self, String> {
        let script = args
            .torch_script
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pytorch_bench.py"));
        let keys: Vec<String> = shapes.iter().map(Shape::torch_key).collect();
        let mut command = Command::new(&args.python);
        if !args.default_malloc {
            command.env("GLIBC_TUNABLES", KEEP_FREED);
        }
        if device == "cpu" {
            rnn_bench::cap_torch(&mut command);
        }
        let out = command
            .arg(&script)
            .args(["--threads", &threads.to_string()])
            .args(["--budget", &args.budget.to_string()])
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
        let mut results = HashMap::new();
        for r in v["results"].as_array().into_iter().flatten() {
            let number = |key: &str| r[key].as_f64().unwrap_or(f64::NAN);
            results.insert(
                r["config"].as_str().unwrap_or_default().to_string(),
                [
                    (number("forward_ms"), number("forward_peak_mib")),
                    (number("train_ms"), number("train_peak_mib")),
                ],
            );
        }
        Ok(Torch {
            device: v["device"].as_str().unwrap_or("?").to_string(),
            version: v["torch"].as_str().unwrap_or("?").to_string(),
            sgemm_gflops: v["sgemm_gflops"].as_f64().unwrap_or(f64::NAN),
            results,
        })
    }

    /// torch's milliseconds for `s`, a training step when `train`, else forward only.
    pub fn ms(&self, s: &Shape, train: bool) -> Option<f64> {
        self.results
            .get(&s.torch_key())
            .map(|r| r[usize::from(train)].0)
    }

    /// How far torch's resident set rose above its size before `s`'s timed runs, MiB.
    pub fn peak_mib(&self, s: &Shape, train: bool) -> Option<f64> {
        self.results
            .get(&s.torch_key())
            .map(|r| r[usize::from(train)].1)
            .filter(|p| p.is_finite())
    }
}
