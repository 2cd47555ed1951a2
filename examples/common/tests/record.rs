//! Burn records through `rnn_example_common::record`: the durable, checked recorder round-trips a
//! module
//! and reads `NamedMpkFileRecorder` files; hostile records (made by hand, and every crash the
//! fuzz targets found, in `fixtures/hostile/`) are errors naming the file, never panics.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn_rnn::backend::DefaultBackend as B;
use burn_rnn::*;
use rnn_example_common::record::{self, check_shapes, inspect, CheckedRecorder};

fn device() -> burn_rnn::backend::DefaultDevice {
    Default::default()
}

/// A fixture of burn-rnn's tests: `lstm_3_2.mpk`, and `hostile/`, where the fuzz targets'
/// crashes are kept.
fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/burn-rnn/tests/fixtures")
        .join(name)
}

type Rec = CheckedRecorder<FullPrecisionSettings>;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("burn-rnn-record-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lstm() -> Lstm<B> {
    LstmConfig::new(3, 2).init(&device())
}

#[test]
fn the_checked_recorder_round_trips_and_reads_burns_own_files() {
    let dir = scratch("roundtrip");
    let model = lstm();
    let want = model.pytorch_tensors();
    model.clone().save_file(dir.join("a"), &Rec::new()).unwrap();
    model
        .clone()
        .save_file(
            dir.join("b"),
            &NamedMpkFileRecorder::<FullPrecisionSettings>::new(),
        )
        .unwrap();
    for name in ["a", "b"] {
        let tensors = inspect(&dir.join(name)).unwrap();
        check_shapes(&lstm(), &tensors).unwrap();
        let back = lstm()
            .load_file(dir.join(name), &Rec::new(), &device())
            .unwrap();
        assert_eq!(back.pytorch_tensors(), want, "{name}");
    }
    // Only the final file is there: the temporary one was renamed.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.mpk", "b.mpk"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_record_for_other_shapes_is_refused_before_anything_is_allocated() {
    let dir = scratch("shapes");
    lstm().save_file(dir.join("m"), &Rec::new()).unwrap();
    let tensors = inspect(&dir.join("m")).unwrap();
    let huge = LstmConfig::new(3, 1_000_000).init::<B>(&device());
    let err = check_shapes(&huge, &tensors).unwrap_err();
    assert!(err.contains("the config gives [4000000, 3]"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Loads `path` as `fixtures/lstm_3_2.mpk` is loaded: inspect, check shapes, load.
fn load(path: &Path) -> Result<Lstm<B>, String> {
    let tensors = inspect(path).map_err(|e| record::message(&e).to_string())?;
    check_shapes(&lstm(), &tensors)?;
    lstm()
        .load_file(path, &Rec::new(), &device())
        .map_err(|e| record::message(&e).to_string())
}

#[test]
fn hostile_records_are_errors_naming_the_file() {
    let fixture = fixture_path("lstm_3_2.mpk");
    load(&fixture).unwrap();
    let bytes = std::fs::read(&fixture).unwrap();
    let dir = scratch("hostile");
    let path = dir.join("m.mpk");
    let mut cases: Vec<(String, Vec<u8>)> = (0..bytes.len())
        .step_by(7)
        .map(|n| (format!("truncated to {n}"), bytes[..n].to_vec()))
        .collect();
    cases.push(("empty".into(), Vec::new()));
    cases.push(("nested 100000 deep".into(), vec![0x91; 100_000]));
    for entry in std::fs::read_dir(fixture_path("hostile")).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("checkpoint-") {
            cases.push((name, std::fs::read(&p).unwrap()));
        }
    }
    for (what, b) in &cases {
        std::fs::write(&path, b).unwrap();
        let err = load(&path).expect_err(what);
        assert!(err.contains("m.mpk"), "{what}: {err}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `bytes` with the text of every parameter id (a 13-character MessagePack string after an
/// `id` key) replaced by `id`.
fn with_ids(bytes: &[u8], id: &str) -> Vec<u8> {
    let key = [0xa2, b'i', b'd', 0xad];
    let mut out = Vec::new();
    let mut i = 0;
    let mut replaced = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(&key) {
            out.extend_from_slice(&key[..3]);
            out.push(0xa0 | id.len() as u8);
            out.extend_from_slice(id.as_bytes());
            i += key.len() + 13;
            replaced += 1;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    assert_eq!(replaced, 4, "the LSTM record's four parameter ids");
    out
}

#[test]
fn a_parameter_id_burn_cannot_parse_is_an_error_not_a_panic() {
    let bytes = std::fs::read(fixture_path("lstm_3_2.mpk")).unwrap();
    let dir = scratch("ids");
    let path = dir.join("m.mpk");
    // Another valid id loads; text outside base32 and UUIDs, and base32 of more than 8 bytes
    // (on which Burn's `ParamId::deserialize` panics), are refused by the reader.
    std::fs::write(&path, with_ids(&bytes, "0123456789abc")).unwrap();
    load(&path).unwrap();
    for bad in ["zzzzzzzzzzzzz", "0123456789abcdef"] {
        std::fs::write(&path, with_ids(&bytes, bad)).unwrap();
        let err = load(&path).unwrap_err();
        assert!(err.contains("is not a parameter id"), "{bad}: {err}");
        assert!(err.contains("m.mpk"), "{bad}: {err}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Writes `fixtures/lstm_3_2.mpk` (run with `BURN_RNN_WRITE_FIXTURES=1`): the seed of the
/// checkpoint fuzz target and of the tests above.
#[test]
fn write_the_record_fixture_when_asked() {
    if std::env::var_os("BURN_RNN_WRITE_FIXTURES").is_some() {
        let path = fixture_path("lstm_3_2.mpk");
        lstm().save_file(&path, &Rec::new()).unwrap();
    }
}
