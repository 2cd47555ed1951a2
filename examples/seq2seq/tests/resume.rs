//! `--stop-at` then `--resume` reproduces an uninterrupted run: the same loss at every step
//! and the same validation scores (dropout 0, one device). Alone in its test binary, so that
//! no other training in the process draws from Burn's random generator meanwhile.

use std::path::{Path, PathBuf};

use clap::Parser;
use seq2seq::error::Error;
use seq2seq::train::{self, TrainArgs};

#[derive(Parser)]
struct Train {
    #[command(flatten)]
    args: TrainArgs,
}

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seq2seq-resume-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn args(out: &Path, extra: &[&str]) -> TrainArgs {
    let mut argv = vec!["train", "--out", out.to_str().unwrap()];
    argv.extend([
        "--steps",
        "40",
        "--eval-every",
        "10",
        "--checkpoint-every",
        "10",
        "--warmup",
        "5",
        "--valid",
        "40",
        "--test",
        "30",
        "--embed",
        "8",
        "--encoder-hidden",
        "8",
        "--decoder-hidden",
        "16",
        "--teacher-forcing",
        "0.7",
        "--quiet",
    ]);
    argv.extend_from_slice(extra);
    Train::parse_from(argv).args
}

#[test]
fn a_run_stopped_and_resumed_gives_the_losses_of_an_uninterrupted_run() {
    let (a, b) = (dir("whole"), dir("split"));
    let whole = train::train(&args(&a, &[])).unwrap();
    assert_eq!(whole.step_losses.len(), 40);

    let first = train::train(&args(&b, &["--stop-at", "20"])).unwrap();
    assert_eq!(first.progress.step, 20);
    assert_eq!(first.step_losses[..], whole.step_losses[..20]);
    // A plain run refuses the folder; --resume with another setting is refused too.
    let err = train::train(&args(&b, &[])).unwrap_err().to_string();
    assert!(err.contains("--resume"), "{err}");
    let err = train::train(&args(&b, &["--resume", "--lr", "0.1"])).unwrap_err();
    assert!(matches!(err, Error::Input(_)), "{err}");
    assert!(err.to_string().contains("--lr 0.003"), "{err}");

    let resumed = train::train(&args(&b, &["--resume"])).unwrap();
    assert_eq!(resumed.progress.step, 40);
    assert_eq!(resumed.step_losses, whole.step_losses, "per-step losses");
    assert_eq!(resumed.progress.train_loss, whole.progress.train_loss);
    let scores = |s: &train::Summary| -> Vec<(usize, f64)> {
        s.progress
            .val_accuracy
            .iter()
            .map(|&(step, a, _)| (step, a))
            .collect()
    };
    assert_eq!(scores(&resumed), scores(&whole));
    assert_eq!(resumed.final_accuracy, whole.final_accuracy);
    for d in [a, b] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
