//! Every numeric flag of `seq2seq` is range-checked before anything runs: one line on stderr,
//! exit code 2, and nothing written.

use std::path::Path;
use std::process::Command;

fn refused(out: &Path, args: &[String], flag: &str) {
    let result = Command::new(env!("CARGO_BIN_EXE_seq2seq"))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.starts_with(&format!("error: {flag} must be")),
        "{args:?}: {stderr}"
    );
    assert!(!out.exists(), "{args:?} wrote {}", out.display());
}

#[test]
fn every_numeric_flag_out_of_range_is_refused_before_anything_is_written() {
    let out = std::env::temp_dir().join(format!("seq2seq-flags-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    for (flag, value) in [
        ("--steps", "0"),
        ("--batch", "0"),
        ("--batch", "100000"),
        ("--devices", "0"),
        ("--devices", "65"),
        ("--embed", "0"),
        ("--embed", "100000"),
        ("--encoder-hidden", "0"),
        ("--encoder-hidden", "100000"),
        ("--decoder-hidden", "0"),
        ("--decoder-hidden", "100000"),
        ("--eval-every", "0"),
        ("--checkpoint-every", "0"),
        ("--checkpoint-every", "30"),
        ("--valid", "0"),
        ("--test", "0"),
        ("--lr", "0"),
        ("--lr", "NaN"),
        ("--teacher-forcing", "1.5"),
        ("--label-smoothing", "1"),
        ("--dropout", "1"),
        ("--dropout", "-0.1"),
        ("--max-minutes", "0"),
        ("--stop-at", "0"),
        ("--stop-at", "3000"),
        ("--stop-at", "1500"),
    ] {
        let args = vec![
            "train".to_string(),
            "--quiet".into(),
            format!("{flag}={value}"),
        ];
        refused(&out, &args, flag);
    }
    for (command, flag, value) in [
        ("eval", "--beam", "0"),
        ("eval", "--beam", "1000"),
        ("translate", "--beam", "0"),
        ("translate", "--nbest", "0"),
        ("translate", "--alpha", "-1"),
        ("translate", "--alpha", "NaN"),
    ] {
        let mut args = vec![command.to_string()];
        if command == "translate" {
            args.push("3/3/98".into());
        }
        args.push(format!("{flag}={value}"));
        refused(&out, &args, flag);
    }
}
