//! PyTorch files: `torch.save` and safetensors loading, prefixes, the save round trip, and the
//! errors that name the file and the keys.

mod common;

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::{Distribution, Tensor, TensorData};
use burn_rnn::import::{read_tensors, ShapeMismatch};
use burn_rnn::*;
use common::{assert_close, device, fixture_path, Fixture, B, TOL};

fn lstm_l2_bi() -> Lstm<B> {
    LstmConfig::new(4, 3)
        .with_num_layers(2)
        .with_bidirectional(true)
        .init(&device())
}

#[test]
fn torch_save_lstm_state_dict_loads_and_matches_pytorch() {
    let lstm = lstm_l2_bi()
        .load_pytorch(fixture_path("lstm_l2_bi.pt"))
        .unwrap();
    let fx = Fixture::load("torch_files.safetensors");
    let out = lstm.forward(fx.tensor::<B, 3>("lstm_l2_bi", "x"), None);
    let expected = |k| fx.get("lstm_l2_bi", k).unwrap();
    assert_close("y", out.output.into_data(), expected("y"), TOL);
    assert_close("h_n", out.state.hidden.into_data(), expected("hn"), TOL);
    assert_close("c_n", out.state.cell.into_data(), expected("cn"), TOL);
}

#[test]
fn torch_save_gru_cell_state_dict_loads_and_matches_pytorch() {
    let cell = GruCellConfig::new(4, 3)
        .init::<B>(&device())
        .load_pytorch(fixture_path("gru_cell.pt"))
        .unwrap();
    let fx = Fixture::load("torch_files.safetensors");
    let h = cell.forward(fx.tensor::<B, 2>("gru_cell", "x"), None);
    assert_close(
        "h'",
        h.hidden.into_data(),
        fx.get("gru_cell", "y").unwrap(),
        TOL,
    );
}

#[test]
fn prefixed_keys_load_a_layer_out_of_a_larger_state_dict() {
    let path = fixture_path("nested.safetensors");
    let gru = GruConfig::new(4, 3)
        .init::<B>(&device())
        .load_pytorch_prefixed(&path, "encoder.rnn.")
        .unwrap();
    let file = read_tensors(&path).unwrap();
    let got = gru.cells()[0].weight_hh().val().into_data();
    assert_eq!(got, file["encoder.rnn.weight_hh_l0"]);
}

#[test]
fn safetensors_round_trip_keeps_names_and_values() {
    let dir = std::env::temp_dir().join(format!("burn-rnn-roundtrip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lstm.safetensors");
    let original = lstm_l2_bi();
    original.save_safetensors(&path).unwrap();

    let names: Vec<String> = original
        .pytorch_shapes()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let mut stored: Vec<String> = read_tensors(&path).unwrap().into_keys().collect();
    stored.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(stored, expected);
    assert!(names.contains(&"weight_hh_l1_reverse".to_string()));

    let loaded = lstm_l2_bi().load_pytorch(&path).unwrap();
    let x = Tensor::<B, 3>::random([2, 6, 4], Distribution::Default, &device());
    let a = original.forward(x.clone(), None).output.into_data();
    let b = loaded.forward(x, None).output.into_data();
    assert_eq!(a, b, "a saved and reloaded LSTM computes the same outputs");

    // With a projection: PyTorch's `weight_hr_l{k}[_reverse]` after each cell's four tensors.
    let projected = || {
        LstmConfig::new(4, 5)
            .with_proj_size(3)
            .with_bidirectional(true)
            .with_num_layers(2)
            .init::<B>(&device())
    };
    let original = projected();
    let path = dir.join("lstm-proj.safetensors");
    original.save_safetensors(&path).unwrap();
    let shapes = original.pytorch_shapes();
    assert_eq!(shapes[4], ("weight_hr_l0".into(), vec![3, 5]));
    assert_eq!(shapes[1], ("weight_hh_l0".into(), vec![20, 3]));
    assert_eq!(shapes[15], ("weight_ih_l1_reverse".into(), vec![20, 6]));
    assert_eq!(shapes[19], ("weight_hr_l1_reverse".into(), vec![3, 5]));
    let loaded = projected().load_pytorch(&path).unwrap();
    let x = Tensor::<B, 3>::random([2, 6, 4], Distribution::Default, &device());
    let (a, b) = (original.forward(x.clone(), None), loaded.forward(x, None));
    assert_eq!(a.output.dims(), [2, 6, 6]);
    assert_eq!(a.output.into_data(), b.output.into_data());
    assert_eq!(a.state.cell.dims(), [4, 2, 5]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_extra_and_misshaped_keys_are_each_named_and_nothing_is_loaded() {
    let path = fixture_path("lstm_l2_bi.pt");
    // Hidden size 5 instead of 3, one layer instead of two, no bias.
    let lstm = LstmConfig::new(4, 5)
        .with_bidirectional(true)
        .with_bias(false)
        .init::<B>(&device());
    let err = lstm.load_pytorch(&path).unwrap_err();
    let ImportError::Mismatch {
        path: p,
        missing,
        unexpected,
        shapes,
        ..
    } = &err
    else {
        panic!("expected a mismatch, got {err}");
    };
    assert_eq!(p, &path);
    assert!(missing.is_empty());
    assert!(unexpected.contains(&"bias_ih_l0".to_string()));
    assert!(unexpected.contains(&"weight_ih_l1_reverse".to_string()));
    assert!(shapes.contains(&ShapeMismatch {
        key: "weight_ih_l0".into(),
        expected: vec![20, 4],
        actual: vec![12, 4],
    }));
    let message = err.to_string();
    assert!(message.contains("lstm_l2_bi.pt"), "{message}");
    assert!(
        message
            .contains("shape mismatch for `weight_hh_l0_reverse`: expected [20, 5], got [12, 3]"),
        "{message}"
    );

    let bigger = LstmConfig::new(4, 3)
        .with_num_layers(3)
        .with_bidirectional(true);
    let err = bigger.init::<B>(&device()).load_pytorch(&path).unwrap_err();
    assert!(
        err.to_string()
            .contains("missing keys: weight_ih_l2, weight_hh_l2, bias_ih_l2"),
        "{err}"
    );
}

#[test]
fn a_tensor_of_the_wrong_rank_is_a_shape_mismatch() {
    let cell = RnnCellConfig::new(2, 2).init::<B>(&device());
    let mut tensors: HashMap<String, TensorData> = cell.pytorch_tensors().into_iter().collect();
    tensors.insert("weight_ih".into(), TensorData::new(vec![0.0f32; 4], [4]));
    let err = cell.load_tensors(tensors, Path::new("mem")).unwrap_err();
    assert!(
        err.to_string()
            .contains("`weight_ih`: expected [2, 2], got [4]"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let err = RnnCellConfig::new(2, 2)
        .init::<B>(&device())
        .load_pytorch("/nonexistent/rnn.safetensors")
        .unwrap_err();
    assert!(matches!(err, ImportError::Io { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/rnn.safetensors"),
        "{err}"
    );
    let err = RnnCellConfig::new(2, 2)
        .init::<B>(&device())
        .load_pytorch("/nonexistent/rnn.pt")
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/rnn.pt"), "{err}");
}

#[test]
fn a_file_that_is_not_a_checkpoint_is_a_format_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("burn-rnn-garbage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["garbage.safetensors", "garbage.pt"] {
        let path = dir.join(name);
        std::fs::write(&path, b"this is not a tensor file").unwrap();
        let err = GruCellConfig::new(2, 2)
            .init::<B>(&device())
            .load_pytorch(&path)
            .unwrap_err();
        assert!(matches!(err, ImportError::Format { .. }), "{err:?}");
        assert!(err.to_string().contains(name), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn torch_save_views_and_dtypes_load_exactly_as_torch_load_gives_them() {
    // views.pt (fixtures/torch_files.py): a transposed f64 weight, an f16 weight, an expanded
    // bf16 bias and an f32 bias at a storage offset of a storage shared with another key,
    // beside an int64 buffer and plain Python values.
    let lstm = LstmConfig::new(4, 3)
        .init::<B>(&device())
        .load_pytorch_prefixed(fixture_path("views.pt"), "")
        .unwrap_err();
    // The whole file holds more than the LSTM: the unexpected keys are named.
    let message = lstm.to_string();
    assert!(
        message.contains("unexpected keys: bn.num_batches_tracked, shared"),
        "{message}"
    );

    let expected = read_tensors(fixture_path("views_expected.safetensors")).unwrap();
    let file = read_tensors(fixture_path("views.pt")).unwrap();
    for (key, want) in &expected {
        assert_eq!(&file[key], want, "{key}");
    }
    assert!(
        !file.contains_key("bn.num_batches_tracked"),
        "int tensors are skipped"
    );

    let mut tensors = file;
    tensors.remove("shared");
    let lstm = LstmConfig::new(4, 3)
        .init::<B>(&device())
        .load_tensors(tensors, Path::new("views.pt"))
        .unwrap();
    for (key, value) in lstm.pytorch_tensors() {
        assert_eq!(value, expected[&key], "{key}");
    }
}

#[test]
fn a_prefixed_load_skips_every_other_tensor_of_a_crnn_in_both_formats() {
    // crnn.*: Conv2d + BatchNorm2d (with an int64 num_batches_tracked) + a bidirectional LSTM
    // under "rnn." + Linear.
    let reference = read_tensors(fixture_path("crnn.safetensors")).unwrap();
    for file in ["crnn.pt", "crnn.safetensors"] {
        let lstm = LstmConfig::new(6, 5)
            .with_bidirectional(true)
            .init::<B>(&device())
            .load_pytorch_prefixed(fixture_path(file), "rnn.")
            .unwrap_or_else(|e| panic!("{e}"));
        for (key, value) in lstm.pytorch_tensors() {
            assert_eq!(value, reference[&format!("rnn.{key}")], "{file}: {key}");
        }
    }
    let err = LstmConfig::new(6, 5)
        .init::<B>(&device())
        .load_pytorch_prefixed(fixture_path("crnn.pt"), "encoder.")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the file has no key under `encoder.`"),
        "{err}"
    );
    let err = LstmCellConfig::new(6, 5)
        .init::<B>(&device())
        .load_pytorch_prefixed(fixture_path("crnn.pt"), "rnn.")
        .unwrap_err()
        .to_string();
    assert!(err.contains("under `rnn.` it holds: bias_hh_l0"), "{err}");
}

#[test]
fn archives_torch_load_refuses_are_errors_naming_the_file_and_the_key() {
    // fixtures/torch_files.py checks that torch.load raises on each of these.
    for (file, key, words) in [
        (
            "bad_short_storage.pt",
            Some("weight_ih_l0"),
            "holds 192 bytes",
        ),
        (
            "bad_missing_storage.pt",
            Some("weight_ih_l0"),
            "is missing from the archive",
        ),
        (
            "bad_truncated_pickle.pt",
            None,
            "past the end of the pickle",
        ),
    ] {
        let err = read_tensors(fixture_path(file)).unwrap_err();
        let ImportError::Format {
            path,
            key: k,
            message,
        } = &err
        else {
            panic!("{file}: expected a format error, got {err}");
        };
        assert!(path.ends_with(file), "{err}");
        assert_eq!(k.as_deref(), key, "{file}: {err}");
        assert!(message.contains(words), "{file}: {err}");
    }
}

#[test]
fn crashes_the_fuzz_targets_found_are_errors_now() {
    // fixtures/hostile holds every input `fuzz/run.sh` found crashing a target, named
    // `<target>-<hash>.<ext>`; each must now load or fail with an error naming the file.
    let mut tried = 0;
    for entry in std::fs::read_dir(fixture_path("hostile")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("torch_import-") || name.starts_with("safetensors_import-")) {
            continue;
        }
        tried += 1;
        if let Err(e) = LstmConfig::new(4, 3)
            .init::<B>(&device())
            .load_pytorch(&path)
        {
            assert!(e.to_string().contains(&name), "{e}");
        }
        let _ = read_tensors(&path);
    }
    eprintln!("{tried} fuzz crash fixtures");
}

#[test]
#[cfg(unix)]
fn endless_and_special_files_are_io_errors_not_reads() {
    for path in ["/dev/zero", "/dev/urandom", "/tmp"] {
        let err = LstmConfig::new(4, 3)
            .init::<B>(&device())
            .load_pytorch(path)
            .unwrap_err();
        assert!(matches!(err, ImportError::Io { .. }), "{path}: {err}");
        assert!(
            err.to_string().contains("not a regular file"),
            "{path}: {err}"
        );
    }
}
