//! The training command's contract: resume reproduces an uninterrupted run, bad input is a
//! one-line error that overwrites nothing, and a trained model generates from a prime.

use std::path::{Path, PathBuf};

use char_rnn::error::Error;
use char_rnn::generate::{GenerateArgs, Generator};
use char_rnn::train::{train, TrainArgs};

/// Burn's random generator is one per process, and parameters are drawn lazily: tests that
/// train in parallel would interleave their draws, so a run's weights would depend on its
/// neighbours. Every test takes this lock first.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("char-rnn-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A tiny recipe that runs in a second: 1-layer GRU, hidden 16, chunks of 8, batch 4.
fn tiny(out: &Path, corpus: &Path, steps: usize) -> TrainArgs {
    let mut a = TrainArgs::defaults(out);
    a.corpus = Some(corpus.to_path_buf());
    a.cell = Some(char_rnn::model::CellKind::Gru.into());
    a.layers = Some(1);
    a.hidden = Some(16);
    a.embedding = Some(8);
    a.seq_len = 8;
    a.batch = 4;
    a.lr = 1e-2;
    a.lr_decay = 0.5;
    a.steps = steps;
    a.eval_every = 3;
    a.checkpoint_every = 3;
    a.quiet = true;
    a
}

fn corpus(dir: &Path) -> PathBuf {
    let path = dir.join("corpus.txt");
    let text = "the quick brown fox jumps over the lazy dog. ".repeat(5);
    std::fs::write(&path, text).unwrap();
    path
}

fn input_error(r: Result<impl std::fmt::Debug, Error>) -> String {
    match r {
        Err(Error::Input(m)) => m,
        other => panic!("expected an input error, got {other:?}"),
    }
}

#[test]
fn resuming_reproduces_the_losses_of_an_uninterrupted_run() {
    let _serial = serial();
    let dir = temp_dir("resume");
    let corpus = corpus(&dir);
    // 10 steps cross an epoch boundary (6 chunks per pass), so the carry reset and the
    // learning-rate decay are exercised across the interruption too.
    let whole = train(&tiny(&dir.join("whole"), &corpus, 10)).unwrap();
    train(&tiny(&dir.join("split"), &corpus, 6)).unwrap();
    let mut resume = tiny(&dir.join("split"), &corpus, 10);
    resume.resume = true;
    resume.hidden = None; // taken from the checkpoint
    let resumed = train(&resume).unwrap();
    assert_eq!(whole.progress.epoch, 1);
    assert_eq!(resumed.progress.train_loss, whole.progress.train_loss);
    assert_eq!(resumed.progress.val_loss, whole.progress.val_loss);
    assert!(whole.progress.train_loss[9].1 < whole.progress.train_loss[0].1);
    for f in [
        "metrics.json",
        "loss.png",
        "checkpoint/model.mpk",
        "checkpoint/optim.mpk",
    ] {
        assert!(dir.join("split").join(f).exists(), "{f}");
    }
    let leftovers: Vec<String> = std::fs::read_dir(dir.join("split"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("checkpoint") && name != "checkpoint")
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary folders left: {leftovers:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_corpora_are_one_line_errors() {
    let _serial = serial();
    let dir = temp_dir("corpora");
    let out = dir.join("out");
    let missing = input_error(train(&tiny(&out, &dir.join("nope.txt"), 3)));
    assert!(
        missing.starts_with("cannot read corpus") && missing.contains("nope.txt"),
        "{missing}"
    );

    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    assert!(input_error(train(&tiny(&out, &empty, 3))).contains("is empty"));

    let binary = dir.join("binary.txt");
    std::fs::write(&binary, [b'a', b'b', 0xff, 0xfe]).unwrap();
    let m = input_error(train(&tiny(&out, &binary, 3)));
    assert!(
        m.contains("is not UTF-8 text (invalid byte at offset 2)"),
        "{m}"
    );

    let short = dir.join("short.txt");
    std::fs::write(&short, "too short for a batch").unwrap();
    let m = input_error(train(&tiny(&out, &short, 3)));
    assert!(
        m.contains("too short") && m.contains("need at least"),
        "{m}"
    );
    assert!(!m.contains('\n'));
    assert!(
        !out.join("checkpoint").exists(),
        "nothing is written for bad input"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn another_models_checkpoint_is_refused_and_left_untouched() {
    let _serial = serial();
    let dir = temp_dir("other");
    let corpus = corpus(&dir);
    let out = dir.join("run");
    train(&tiny(&out, &corpus, 3)).unwrap();
    let model = out.join("checkpoint/model.mpk");

    let again = input_error(train(&tiny(&out, &corpus, 3)));
    assert!(
        again.contains("already holds a checkpoint; pass --resume"),
        "{again}"
    );
    let mut forced = tiny(&out, &corpus, 2);
    forced.force = true;
    assert_eq!(
        train(&forced).unwrap().progress.step,
        2,
        "--force starts a new run"
    );
    let before = std::fs::read(&model).unwrap();

    let mut other = tiny(&out, &corpus, 6);
    other.resume = true;
    other.hidden = Some(32);
    let m = input_error(train(&other));
    assert!(
        m.contains("trained with --hidden 16, this run asks for --hidden 32"),
        "{m}"
    );
    assert_eq!(
        std::fs::read(&model).unwrap(),
        before,
        "the checkpoint is unchanged"
    );

    let mut other = tiny(&out, &corpus, 6);
    other.resume = true;
    other.weight_drop = Some(0.5);
    let m = input_error(train(&other));
    assert!(
        m.contains("trained with --weight-drop 0, this run asks for --weight-drop 0.5"),
        "{m}"
    );

    let m = input_error(Generator::load(&dir).map(|_| ()));
    assert!(m.contains("is not a char-rnn checkpoint"), "{m}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn generation_follows_the_prime_and_rejects_unknown_characters() {
    let _serial = serial();
    let dir = temp_dir("generate");
    let corpus = corpus(&dir);
    let out = dir.join("run");
    train(&tiny(&out, &corpus, 3)).unwrap();
    let generator = Generator::load(&out).unwrap();
    let mut args = GenerateArgs {
        out: out.clone(),
        prime: "the ".into(),
        len: 30,
        temperature: 0.8,
        top_k: Some(5),
        greedy: false,
        seed: 3,
    };
    let mut streamed = String::new();
    let text = generator.generate(&args, |c| streamed.push(c)).unwrap();
    assert_eq!(text.chars().count(), 30);
    assert_eq!(streamed, text, "characters are streamed as they come");
    assert_eq!(generator.generate(&args, |_| {}).unwrap(), text, "seeded");
    args.greedy = true;
    let greedy = generator.generate(&args, |_| {}).unwrap();
    assert_eq!(generator.generate(&args, |_| {}).unwrap(), greedy);

    args.prime = "Zebra!".into();
    let m = input_error(generator.generate(&args, |_| {}));
    assert!(m.contains("never saw: 'Z', '!'"), "{m}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_diverging_loss_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let _serial = serial();
    let dir = temp_dir("diverge");
    let corpus = corpus(&dir);
    let out = dir.join("run");
    let mut args = tiny(&out, &corpus, 200);
    args.lr = 1e4;
    args.clip = 1e30;
    args.checkpoint_every = 1;
    args.eval_every = 1000;
    let err = train(&args).unwrap_err();
    let Error::Run(m) = &err else {
        panic!("expected a run error, got {err:?}")
    };
    assert!(
        m.contains("stopped. The last good checkpoint (in checkpoint/)"),
        "{m}"
    );
    let generator = Generator::load(&out).expect("the last good checkpoint loads");
    let args = GenerateArgs {
        out,
        prime: "the".into(),
        len: 5,
        temperature: 1.0,
        top_k: None,
        greedy: true,
        seed: 1,
    };
    assert_eq!(
        generator.generate(&args, |_| {}).unwrap().chars().count(),
        5
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_command_line_exits_2_with_one_line_for_bad_input() {
    let _serial = serial();
    let dir = temp_dir("cli");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_char-rnn"))
        .args(["train", "--quiet", "--corpus"])
        .arg(dir.join("missing.txt"))
        .arg("--out")
        .arg(dir.join("run"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: cannot read corpus"), "{stderr}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_char-rnn"))
        .args(["generate", "--out"])
        .arg(dir.join("run"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(dir).unwrap();
}

/// An LSTM with every regularizer trains (its loss falls), its checkpoint keeps them, and it
/// generates (zoneout's expectation, no dropout).
#[test]
fn a_regularized_lstm_trains_and_generates() {
    let _serial = serial();
    let dir = temp_dir("regularized");
    let corpus = corpus(&dir);
    let out = dir.join("run");
    let mut args = tiny(&out, &corpus, 10);
    args.cell = Some(char_rnn::model::CellKind::Lstm.into());
    args.zoneout_hidden = Some(0.1);
    args.zoneout_cell = Some(0.2);
    args.weight_drop = Some(0.3);
    args.input_dropout = Some(0.1);
    args.output_dropout = Some(0.1);
    let run = train(&args).unwrap();
    let losses = &run.progress.train_loss;
    assert!(losses.iter().all(|(_, l)| l.is_finite()), "{losses:?}");
    assert!(losses[9].1 < losses[0].1, "{losses:?}");
    let config = char_rnn::checkpoint::read_config(&out.join("checkpoint")).unwrap();
    assert_eq!(config.regularization.weight_drop, 0.3);
    assert_eq!(config.regularization.zoneout_cell, 0.2);
    let generator = Generator::load(&out).unwrap();
    let args = GenerateArgs {
        out,
        prime: "the ".into(),
        len: 20,
        temperature: 1.0,
        top_k: None,
        greedy: true,
        seed: 3,
    };
    let text = generator.generate(&args, |_| {}).unwrap();
    assert_eq!(generator.generate(&args, |_| {}).unwrap(), text);
    std::fs::remove_dir_all(dir).unwrap();
}
