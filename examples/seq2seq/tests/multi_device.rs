//! `train --devices 2` (burn-train's multi-device strategy on two ndarray devices) follows the
//! loss curve of one device with the doubled batch, on a short run of a tiny model (fixed seed,
//! the deterministic data order of `learner::loader`).
//!
//! Why a tolerance and how large: the runs compute the same function on the same examples, but
//! not in the same order. With two devices each half batch is padded to its own longest source
//! (the lengths mask the padding out, but the matrix products have other shapes and so sum in
//! another order), the two halves' gradients are added after the fact, and the mean loss is
//! the mean of two means. Each reordering moves f32 results by an ulp or so (~1e-7 relative),
//! and Adam, which divides by `sqrt(v)` (tiny in the first steps), can carry such differences
//! from step to step. Measured here over 16 steps: 8.9e-8 at most, one f32 ulp of a loss of
//! 2.7. The test allows 1e-5 (`TOLERANCE`, about 100 times that), and checks that a run on other
//! data (one device with the single batch, 1.4e-2 apart) is far outside it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use clap::Parser;
use seq2seq::train::{self, Summary, TrainArgs};

#[derive(Parser)]
struct Train {
    #[command(flatten)]
    args: TrainArgs,
}

/// The largest relative difference allowed between two loss curves of the same run.
const TOLERANCE: f64 = 1e-5;

/// The model's initial weights come from the backend's global seed: one run at a time (the
/// test harness runs tests on several threads).
static SERIAL: Mutex<()> = Mutex::new(());

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "seq2seq-multi-device-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run(out: &Path, extra: &[&str]) -> Summary {
    let mut argv = vec![
        "train",
        "--out",
        out.to_str().unwrap(),
        "--steps",
        "16",
        "--eval-every",
        "8",
        "--checkpoint-every",
        "8",
        "--warmup",
        "4",
        "--valid",
        "40",
        "--test",
        "10",
        "--embed",
        "8",
        "--encoder-hidden",
        "8",
        "--decoder-hidden",
        "16",
        "--label-smoothing",
        "0.1",
        "--seed",
        "7",
        "--quiet",
    ];
    argv.extend_from_slice(extra);
    let args = Train::parse_from(argv).args;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let summary = train::train(&args).expect("the tiny run trains");
    let _ = std::fs::remove_dir_all(out);
    summary
}

/// The largest `|a - b| / max(|b|, 1)` over the steps.
fn max_relative_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
        .fold(0.0, f64::max)
}

#[test]
fn two_devices_follow_the_loss_curve_of_one_device_with_the_doubled_batch() {
    let one = run(&dir("one"), &["--batch", "16", "--devices", "1"]);
    let two = run(&dir("two"), &["--batch", "8", "--devices", "2"]);
    let other = run(&dir("other"), &["--batch", "8", "--devices", "1"]);
    assert_eq!(one.step_losses.len(), 16);
    assert_eq!(two.step_losses.len(), 16);
    assert_eq!(two.progress.step, 16);
    assert_eq!(two.progress.val_accuracy.len(), 2);
    assert!(one.step_losses.iter().all(|l| l.is_finite() && *l > 0.0));
    let same = max_relative_difference(&two.step_losses, &one.step_losses);
    let apart = max_relative_difference(&other.step_losses, &one.step_losses);
    println!("2 devices vs 1: {same:.3e}; other data vs 1: {apart:.3e}");
    assert!(same <= TOLERANCE, "2 devices off by {same:.3e}");
    assert!(
        apart > 100.0 * TOLERANCE,
        "the check cannot tell runs apart: {apart:.3e}"
    );
    // The loss came down.
    assert!(one.step_losses[15] < one.step_losses[0]);
}
