//! The `crnn` command line end to end on a tiny model: train, resume, force, predict and eval,
//! the files a run writes, and the one-line errors (exit 2) of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crnn-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn crnn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crnn"))
        .args(args)
        .output()
        .expect("the crnn binary runs")
}

/// The one stderr line of a failed command, after checking it exited with `code`.
fn failure(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    stderr
}

/// A tiny model's flags: steps, widths 4, hidden 8, one layer, batches of 4.
fn tiny(out: &Path, steps: usize) -> Vec<String> {
    [
        "train",
        "--out",
        out.to_str().unwrap(),
        "--steps",
        &steps.to_string(),
        "--batch",
        "4",
        "--widths",
        "4,4,4,4",
        "--hidden",
        "8",
        "--layers",
        "1",
        "--warmup",
        "1",
        "--eval-every",
        "2",
        "--checkpoint-every",
        "2",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run(args: &[String]) -> Output {
    crnn(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn train_resume_predict_and_eval_write_what_the_readme_says() {
    let dir = scratch("run");
    let out = dir.join("run");
    let first = run(&tiny(&out, 2));
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for file in [
        "metrics.json",
        "loss.png",
        "predictions.png",
        "checkpoint/model.mpk",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let cer = metrics["cer"].as_f64().unwrap();
    assert!((0.0..=10.0).contains(&cer), "{metrics}");
    assert!(metrics["accuracy"].as_f64().is_some());
    assert_eq!(metrics["steps"], 2);
    assert_eq!(metrics["held_out"], 1000);

    // A second run into the same folder needs --resume or --force.
    let again = failure(&run(&tiny(&out, 4)), 2);
    assert!(
        again.contains("--resume") && again.contains("--force"),
        "{again}"
    );
    let mut resume = tiny(&out, 4);
    resume.push("--resume".into());
    assert!(run(&resume).status.success());
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["steps"], 4);
    assert_eq!(metrics["evals"].as_array().unwrap().len(), 2);
    let mut other = tiny(&out, 6);
    let at = other.iter().position(|a| a == "8").unwrap();
    other[at] = "16".into();
    other.push("--resume".into());
    let differs = failure(&run(&other), 2);
    assert!(
        differs.contains("--hidden 8") && differs.contains("--hidden 16"),
        "{differs}"
    );
    let mut force = tiny(&out, 2);
    force.push("--force".into());
    assert!(run(&force).status.success());

    // Predict: one output line per image, the text last after a tab.
    let lines = dir.join("lines");
    let rendered = crnn(&[
        "render",
        "--out",
        lines.to_str().unwrap(),
        "--steps",
        "1",
        "--batch",
        "3",
    ]);
    assert!(rendered.status.success());
    let images: Vec<String> = (0..3)
        .map(|i| {
            lines
                .join(format!("{i:07}.png"))
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut args = vec!["predict", "--model", out.to_str().unwrap(), "--beam", "4"];
    args.extend(images.iter().map(String::as_str));
    let predicted = crnn(&args);
    assert!(
        predicted.status.success(),
        "{}",
        String::from_utf8_lossy(&predicted.stderr)
    );
    let stdout = String::from_utf8(predicted.stdout).unwrap();
    let printed: Vec<&str> = stdout.lines().collect();
    assert_eq!(printed.len(), 3, "{stdout}");
    for (line, image) in printed.iter().zip(&images) {
        let (path, text) = line.split_once('\t').expect("IMAGE<TAB>text");
        assert_eq!(path, image);
        assert!(crnn::data::encode(text).is_ok(), "{text:?}");
    }
    let evaluated = crnn(&[
        "eval",
        "--model",
        out.to_str().unwrap(),
        "--data",
        lines.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8(evaluated.stdout).unwrap();
    assert!(stdout.starts_with("3 lines: CER "), "{stdout}");

    // Training on the folder (two lines to train on, one held out).
    let mut on_folder = tiny(&dir.join("folder-run"), 2);
    on_folder.extend(["--data".into(), lines.to_string_lossy().into_owned()]);
    let trained = run(&on_folder);
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_one_line_naming_the_file_or_flag_with_exit_2() {
    let dir = scratch("bad");
    let missing = dir.join("no-model");
    let err = failure(
        &crnn(&["predict", "--model", missing.to_str().unwrap(), "x.png"]),
        2,
    );
    assert!(
        err.contains("no-model") && err.contains("crnn train"),
        "{err}"
    );

    let empty_dir = dir.join("empty");
    std::fs::create_dir_all(&empty_dir).unwrap();
    let err = failure(&crnn(&["eval", "--model", empty_dir.to_str().unwrap()]), 2);
    assert!(err.contains("not a crnn checkpoint"), "{err}");

    let err = failure(
        &run(&[
            tiny(&dir.join("r"), 1),
            vec!["--widths".into(), "4,4".into()],
        ]
        .concat()),
        2,
    );
    assert!(err.contains("--widths"), "{err}");
    let err = failure(
        &run(&[tiny(&dir.join("r"), 1), vec!["--lr".into(), "0".into()]].concat()),
        2,
    );
    assert!(err.contains("--lr"), "{err}");

    // A model to point at bad images.
    let out = dir.join("run");
    assert!(run(&tiny(&out, 1)).status.success());
    let text = dir.join("notes.png");
    std::fs::write(&text, "not an image").unwrap();
    let err = failure(
        &crnn(&[
            "predict",
            "--model",
            out.to_str().unwrap(),
            text.to_str().unwrap(),
        ]),
        2,
    );
    assert!(err.contains("notes.png") && err.contains("PNG"), "{err}");
    let gone = dir.join("gone.png");
    let err = failure(
        &crnn(&[
            "predict",
            "--model",
            out.to_str().unwrap(),
            gone.to_str().unwrap(),
        ]),
        2,
    );
    assert!(err.contains("gone.png"), "{err}");

    // A label outside the alphabet names the file and line.
    let lines = dir.join("lines");
    assert!(crnn(&[
        "render",
        "--out",
        lines.to_str().unwrap(),
        "--steps",
        "1",
        "--batch",
        "2"
    ])
    .status
    .success());
    std::fs::write(
        lines.join("labels.tsv"),
        "0000000.png\tabc\n0000001.png\tno way\n",
    )
    .unwrap();
    let err = failure(
        &crnn(&[
            "eval",
            "--model",
            out.to_str().unwrap(),
            "--data",
            lines.to_str().unwrap(),
        ]),
        2,
    );
    assert!(
        err.contains("labels.tsv line 2") && err.contains("' '"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
