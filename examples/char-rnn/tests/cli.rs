//! Every numeric flag of `char-rnn` is range-checked before anything runs: one line on stderr,
//! exit code 2, and nothing written.

use std::path::PathBuf;
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("char-rnn-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `char-rnn <args> --out <dir>/run` and checks the one-line error naming `flag`.
fn refused(dir: &std::path::Path, args: &[&str], flag: &str) {
    let run = dir.join("run");
    let out = Command::new(env!("CARGO_BIN_EXE_char-rnn"))
        .args(args)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.starts_with(&format!("error: {flag} must be")),
        "{args:?}: {stderr}"
    );
    assert!(!run.exists(), "{args:?} wrote {}", run.display());
}

#[test]
fn every_numeric_training_flag_out_of_range_is_refused_before_anything_is_written() {
    let dir = scratch("train");
    for (flag, value) in [
        ("--batch", "0"),
        ("--eval-every", "0"),
        ("--checkpoint-every", "0"),
        ("--seq-len", "0"),
        ("--dropout", "1"),
        ("--dropout", "-0.5"),
        ("--layers", "0"),
        ("--layers", "65"),
        ("--hidden", "0"),
        ("--hidden", "100000"),
        ("--embedding", "0"),
        ("--steps", "0"),
        ("--lr", "0"),
        ("--lr", "NaN"),
        ("--lr-decay", "0"),
        ("--lr-decay", "1.5"),
        ("--clip", "0"),
        ("--clip", "inf"),
        ("--proj-size", "0"),
        ("--proj-size", "128"),
        ("--zoneout-hidden", "1"),
        ("--zoneout-cell", "NaN"),
        ("--weight-drop", "-0.1"),
        ("--input-dropout", "1"),
        ("--output-dropout", "2"),
    ] {
        refused(
            &dir,
            &["train", "--quiet", &format!("{flag}={value}")],
            flag,
        );
    }
    refused(
        &dir,
        &["train", "--quiet", "--cell", "gru", "--proj-size", "64"],
        "--proj-size",
    );
    refused(
        &dir,
        &["train", "--quiet", "--cell", "mingru", "--peephole"],
        "--peephole",
    );
    refused(
        &dir,
        &[
            "train",
            "--quiet",
            "--cell",
            "mingru",
            "--weight-drop",
            "0.2",
        ],
        "--weight-drop",
    );
    refused(
        &dir,
        &["train", "--quiet", "--cell", "gru", "--zoneout-cell", "0.1"],
        "--zoneout-cell",
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn generation_flags_out_of_range_are_refused_before_the_model_is_read() {
    let dir = scratch("generate");
    for (flag, value) in [
        ("--temperature", "0"),
        ("--temperature", "-1"),
        ("--top-k", "0"),
    ] {
        refused(&dir, &["generate", &format!("{flag}={value}")], flag);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_endless_file_as_corpus_is_refused_not_read() {
    let dir = scratch("zero");
    let out = Command::new(env!("CARGO_BIN_EXE_char-rnn"))
        .args(["train", "--quiet", "--corpus", "/dev/zero", "--out"])
        .arg(dir.join("run"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/dev/zero: not a regular file"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}
