//! The example end to end on a tiny run: train, eval, translate, and bad input (in-process and
//! on the binary).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use clap::Parser;
use seq2seq::error::Error;
use seq2seq::train::{self, TrainArgs};
use seq2seq::translate::{self, EvalArgs, TranslateArgs};

#[derive(Parser)]
struct Train {
    #[command(flatten)]
    args: TrainArgs,
}

#[derive(Parser)]
struct Translate {
    #[command(flatten)]
    args: TranslateArgs,
}

fn train_args(out: &Path, extra: &[&str]) -> TrainArgs {
    let mut argv = vec![
        "train",
        "--out",
        out.to_str().unwrap(),
        "--steps",
        "40",
        "--eval-every",
        "20",
        "--checkpoint-every",
        "20",
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
        "--quiet",
    ];
    argv.extend_from_slice(extra);
    Train::parse_from(argv).args
}

/// One tiny trained run shared by the tests.
fn run_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("seq2seq-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let summary = train::train(&train_args(&dir, &[])).expect("the tiny run trains");
        assert_eq!(summary.progress.step, 40);
        assert_eq!(summary.progress.val_accuracy.len(), 2);
        dir
    })
}

fn translate_args(text: &str, extra: &[&str]) -> TranslateArgs {
    let out = run_dir().to_str().unwrap().to_string();
    let mut argv = vec!["translate", text, "--out", &out];
    argv.extend_from_slice(extra);
    Translate::parse_from(argv).args
}

#[test]
fn a_run_writes_its_checkpoint_plots_and_metrics_and_refuses_to_overwrite() {
    let dir = run_dir();
    for file in [
        "checkpoint/seq2seq.json",
        "checkpoint/model.mpk",
        "metrics.json",
        // Burn's file checkpointer (every 20 steps = every epoch here; the last two kept) and
        // metric logs.
        "learner/checkpoint/model-1.mpk",
        "learner/checkpoint/optim-2.mpk",
        "learner/checkpoint/scheduler-2.mpk",
        "learner/train/epoch-2/Loss.log",
        "learner/valid/epoch-2/Exact_Match.log",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    for png in ["val_accuracy.png", "loss.png"] {
        let bytes = std::fs::read(dir.join(png)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{png}");
    }
    let weights = dir.join("checkpoint/model.mpk");
    let before = std::fs::read(&weights).unwrap();
    let err = train::train(&train_args(dir, &[])).unwrap_err();
    assert!(matches!(err, Error::Input(_)), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(
        std::fs::read(&weights).unwrap(),
        before,
        "the checkpoint was touched"
    );
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("metrics.json")).unwrap()).unwrap();
    let steps: Vec<u64> = metrics["val_accuracy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![20, 40]);
}

#[test]
fn bad_training_settings_are_input_errors() {
    let dir = std::env::temp_dir().join(format!("seq2seq-cli-bad-{}", std::process::id()));
    let base = train_args(&dir, &[]);
    let cases: [(TrainArgs, &str); 2] = [
        (
            TrainArgs {
                devices: 0,
                ..base.clone()
            },
            "--devices must be at least 1, got 0",
        ),
        (
            TrainArgs {
                checkpoint_every: 30,
                ..base.clone()
            },
            "multiple of --eval-every",
        ),
    ];
    for (args, want) in cases {
        let err = train::train(&args).unwrap_err();
        assert!(matches!(err, Error::Input(_)), "{err}");
        assert!(err.to_string().contains(want), "{want}: {err}");
    }
    assert!(!dir.exists(), "a refused run wrote {}", dir.display());
}

#[test]
fn the_binary_trains_headless_with_one_line_per_validation() {
    let dir = std::env::temp_dir().join(format!("seq2seq-cli-headless-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let args = [
        "train",
        "--steps",
        "20",
        "--eval-every",
        "10",
        "--checkpoint-every",
        "10",
        "--valid",
        "20",
        "--embed",
        "8",
        "--encoder-hidden",
        "8",
        "--decoder-hidden",
        "16",
        "--devices",
        "2",
        "--batch",
        "16",
    ];
    // Standard output is a pipe, not a terminal: the line renderer, not the dashboard.
    let out = Command::new(env!("CARGO_BIN_EXE_seq2seq"))
        .args(args)
        .args(["--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with("lstm model, "), "{stdout}");
    assert!(
        lines[1].starts_with("step    10 ") && lines[1].contains("exact match"),
        "{stdout}"
    );
    assert!(lines[2].starts_with("step    20 "), "{stdout}");
    assert!(lines[3].starts_with("trained 20 steps in "), "{stdout}");
    assert!(dir.join("checkpoint/model.mpk").is_file());

    // Again without --force: refused, one line, exit code 2.
    let out = Command::new(env!("CARGO_BIN_EXE_seq2seq"))
        .args(args)
        .args(["--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--force to replace it"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_scores_the_test_split() {
    for beam in [1, 3] {
        let report = translate::eval(&EvalArgs {
            out: run_dir().clone(),
            beam,
            show: 0,
        })
        .unwrap();
        assert_eq!(report.total, 30);
        let right = report.total - report.errors.len();
        let share = 100.0 * right as f64 / 30.0;
        assert!((share - report.accuracy).abs() < 1e-9);
    }
}

#[test]
fn translate_prints_a_sorted_nbest_and_draws_the_attention() {
    let png = run_dir().join("attention.png");
    let out = translate::translate(&translate_args(
        "Tuesday, 3 March 1998",
        &[
            "--beam",
            "4",
            "--nbest",
            "3",
            "--attention-png",
            png.to_str().unwrap(),
        ],
    ))
    .unwrap();
    assert_eq!(out.nbest.len(), 3);
    for pair in out.nbest.windows(2) {
        assert!(pair[0].1 >= pair[1].1);
    }
    assert!(out.unknown.is_empty());
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
}

#[test]
fn bad_input_is_a_clear_error_or_a_warning_never_a_panic() {
    for (text, want) in [
        ("", "empty"),
        ("   ", "empty"),
        (&"1".repeat(65)[..], "at most 64"),
    ] {
        let err = translate::translate(&translate_args(text, &[])).unwrap_err();
        assert!(matches!(err, Error::Input(_)), "{err}");
        assert!(err.to_string().contains(want), "{text:?}: {err}");
    }
    let out = translate::translate(&translate_args("3 März 1998 ☃", &[])).unwrap();
    assert_eq!(out.unknown, vec!["ä".to_string(), "☃".to_string()]);
    assert!(!out.nbest.is_empty());

    let missing = std::env::temp_dir().join("seq2seq-cli-nothing-here");
    let err = translate::eval(&EvalArgs {
        out: missing,
        beam: 1,
        show: 0,
    })
    .unwrap_err();
    assert!(err.to_string().contains("no checkpoint"), "{err}");
}

#[test]
fn the_binary_exits_2_with_one_line_on_bad_input() {
    let out = Command::new(env!("CARGO_BIN_EXE_seq2seq"))
        .args(["translate", "", "--out", run_dir().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: nothing to translate"),
        "{stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_seq2seq"))
        .args(["translate", "3/3/98", "--nbest", "2"])
        .args(["--out", run_dir().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("1. ") && stdout.contains("\n2. "),
        "{stdout}"
    );
}
