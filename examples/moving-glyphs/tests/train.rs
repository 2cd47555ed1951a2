//! A short run writes what the README says, and an occupied folder needs `--force`.

use moving_glyphs::train::{train, TrainArgs};
use rnn_example_common::Error;

#[test]
fn a_short_run_writes_its_files_and_refuses_to_overwrite_without_force() {
    let dir = std::env::temp_dir().join(format!("moving-glyphs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut args = TrainArgs::defaults(&dir);
    args.steps = 2;
    args.batch = 2;
    args.eval_every = 2;
    args.quiet = true;
    let m = train(&args).unwrap();
    assert_eq!((m.steps, m.evals.len(), m.held_out), (2, 1, 64));
    assert!(m.mse.is_finite() && m.baseline_mse > 0.0 && m.blank_mse > 0.0);
    for file in [
        "metrics.json",
        "loss.png",
        "strip.png",
        "checkpoint/model.mpk",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    match train(&args) {
        Err(Error::Input(m)) => assert!(m.contains("--force"), "{m}"),
        other => panic!("expected an input error, got {other:?}"),
    }
    args.force = true;
    assert!(train(&args).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
