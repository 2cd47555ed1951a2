//! Crashes and contention on the training binary: `kill -9` at random moments, a full disk
//! (RLIMIT_FSIZE), and two runs in one folder. After each, the last good checkpoint loads and
//! `--resume` continues.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use char_rnn::checkpoint::{read_json, Progress, RunDir};
use char_rnn::generate::Generator;

const BIN: &str = env!("CARGO_BIN_EXE_char-rnn");

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("char-rnn-crash-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn corpus(dir: &Path) -> PathBuf {
    let path = dir.join("corpus.txt");
    std::fs::write(
        &path,
        "the quick brown fox jumps over the lazy dog. ".repeat(8),
    )
    .unwrap();
    path
}

/// The arguments of a tiny run that saves every `every` steps.
fn tiny(corpus: &Path, out: &Path, steps: usize, every: usize) -> Vec<String> {
    let mut a: Vec<String> = [
        "train",
        "--quiet",
        "--cell",
        "gru",
        "--layers",
        "1",
        "--hidden",
        "16",
        "--embedding",
        "8",
        "--seq-len",
        "8",
        "--batch",
        "4",
        "--eval-every",
        "100000",
        "--sample",
        "0",
    ]
    .map(String::from)
    .to_vec();
    a.extend(["--steps".into(), steps.to_string()]);
    a.extend(["--checkpoint-every".into(), every.to_string()]);
    a.extend(["--corpus".into(), corpus.display().to_string()]);
    a.extend(["--out".into(), out.display().to_string()]);
    a
}

fn spawn(args: &[String]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The steps of the checkpoint in `out`, after the lock's repair; `None` if there is none.
/// Checks that the model loads.
fn checkpoint_step(out: &Path) -> Option<usize> {
    let run = RunDir::new(out);
    drop(run.lock().expect("the killed run's lock is released"));
    if !run.has_checkpoint() {
        return None;
    }
    Generator::load(out).expect("the checkpoint loads");
    let progress: Progress = read_json(&run.checkpoint().join("progress.json")).unwrap();
    Some(progress.step)
}

#[test]
fn kill_9_at_random_moments_always_leaves_a_checkpoint_that_loads_and_resumes() {
    let dir = scratch("kill");
    let (corpus, out) = (corpus(&dir), dir.join("run"));
    let steps = 120;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let (mut last, mut direct, mut restored) = (0, 0, 0);
    let kills = 10;
    for _ in 0..kills {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut args = tiny(&corpus, &out, steps, 1);
        if out.join("checkpoint").exists() || last > 0 {
            args.push("--resume".into());
        }
        let mut child = spawn(&args);
        std::thread::sleep(Duration::from_millis(150 + state % 900));
        let _ = child.kill();
        child.wait().unwrap();
        // The folder as the kill left it: the checkpoint itself, or a previous one aside.
        if out.join("checkpoint/config.json").exists() {
            direct += 1;
        } else if last > 0 {
            restored += 1;
        }
        if let Some(step) = checkpoint_step(&out) {
            assert!(
                step >= last,
                "the checkpoint went back from step {last} to {step}"
            );
            last = step;
        }
    }
    assert!(last > 0, "no checkpoint was written in {kills} runs");
    let status = Command::new(BIN)
        .args(tiny(&corpus, &out, steps, 1))
        .arg("--resume")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(checkpoint_step(&out), Some(steps));
    eprintln!(
        "{kills} kills: the checkpoint loaded as left {direct} times, was restored from the \
         previous one {restored} times; the last resume finished at step {steps}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_save_on_a_full_disk_is_a_clear_error_and_the_previous_checkpoint_stays() {
    let dir = scratch("full");
    let (corpus, out) = (corpus(&dir), dir.join("run"));
    let status = Command::new(BIN)
        .args(tiny(&corpus, &out, 6, 3))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(checkpoint_step(&out), Some(6));
    let before = entries(&out);

    // RLIMIT_FSIZE of 4 KiB (dash counts 512-byte blocks) with SIGXFSZ ignored: a write past
    // it fails with EFBIG, as on a full disk.
    let mut cmd = String::from("trap '' XFSZ; ulimit -f 8; exec \"$0\" \"$@\"");
    cmd.push(' ');
    let out_ = Command::new("sh")
        .arg("-c")
        .arg(cmd.trim_end())
        .arg(BIN)
        .args(tiny(&corpus, &out, 12, 3))
        .arg("--resume")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out_.stderr);
    assert_eq!(out_.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("model.mpk") && stderr.contains("File too large"),
        "{stderr}"
    );
    assert_eq!(
        checkpoint_step(&out),
        Some(6),
        "the previous checkpoint is intact"
    );
    assert_eq!(entries(&out), before, "no temporary file or folder is left");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_second_run_in_the_same_folder_stops_at_once_naming_the_first() {
    let dir = scratch("two");
    let (corpus, out) = (corpus(&dir), dir.join("run"));
    let mut first = spawn(&tiny(&corpus, &out, 1_000_000, 50));
    let pid = first.id().to_string();
    let lock = out.join(".lock");
    let start = Instant::now();
    while std::fs::read_to_string(&lock)
        .map(|s| s.trim() != pid)
        .unwrap_or(true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first run never locked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for extra in [None, Some("--resume"), Some("--force")] {
        let mut args = tiny(&corpus, &out, 10, 5);
        args.extend(extra.map(String::from));
        let second = Command::new(BIN).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&second.stderr);
        assert_eq!(second.status.code(), Some(2), "{extra:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("is in use by another run (process {pid})")),
            "{stderr}"
        );
    }
    let _ = first.kill();
    first.wait().unwrap();
    checkpoint_step(&out);
    std::fs::remove_dir_all(dir).unwrap();
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
