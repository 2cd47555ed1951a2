//! The seq2seq checkpoint folder: a round trip decodes the same, and a checkpoint made for
//! another model, or whose config claims other sizes, is an error naming the file.

use burn_rnn::backend::DefaultBackend as B;
use burn_rnn::{GruCell, LstmCell};
use burn_seq2seq::{AttentionKind, BeamOptions, CellKind, Seq2Seq, Seq2SeqConfig, Vocab};
use seq2seq::checkpoint::{self, CheckpointError, CheckpointMeta};

const V: usize = 10;

fn device() -> burn_rnn::backend::DefaultDevice {
    Default::default()
}

fn config(cell: CellKind) -> Seq2SeqConfig {
    Seq2SeqConfig::new(V, V)
        .with_cell(cell)
        .with_d_embed(6)
        .with_encoder_hidden(5)
        .with_decoder_hidden(10)
}

fn sources() -> Vec<Vec<usize>> {
    vec![vec![4, 5, 6, 7, 8], vec![9, 4], vec![5, 6, 7], vec![8]]
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("burn-rnn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_checkpoint_round_trip_decodes_the_same_and_mismatches_are_errors() {
    let vocab = Vocab::new((0..V - 4).map(|i| i.to_string()));
    let config = config(CellKind::Gru).with_attention(AttentionKind::Additive);
    let model: Seq2Seq<B, GruCell<B>> = config.init(&device());
    let meta = CheckpointMeta {
        config: config.clone(),
        src_vocab: vocab.clone(),
        tgt_vocab: vocab.clone(),
        extra: serde_json::json!({"step": 7}),
    };
    let root = temp_dir("ckpt");
    let dir = root.join("model");
    checkpoint::save(&dir, &model, &meta).unwrap();
    checkpoint::save(&dir, &model, &meta).unwrap(); // over an existing one
                                                    // Nothing but the checkpoint is left beside it: no temp or old folder.
    let entries: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["model"], "{entries:?}");

    let (loaded, back) = checkpoint::load::<B, GruCell<B>>(&dir, &device()).unwrap();
    assert_eq!(back.config, config);
    assert_eq!(back.src_vocab, vocab);
    assert_eq!(back.extra["step"], 7);
    let options = BeamOptions {
        beam_size: 3,
        nbest: 3,
        max_len: 6,
        ..BeamOptions::default()
    };
    assert_eq!(
        model.beam_search(&sources(), &options),
        loaded.beam_search(&sources(), &options)
    );

    let other = config.clone().with_decoder_hidden(12).with_dropout(0.1);
    let err = checkpoint::load_matching::<B, GruCell<B>>(&dir, &other, &device()).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, CheckpointError::ConfigMismatch { .. }),
        "{text}"
    );
    assert!(
        text.contains("decoder_hidden: checkpoint has 10, expected 12"),
        "{text}"
    );
    assert!(text.contains("dropout"), "{text}");
    assert!(text.contains("seq2seq.json"), "{text}");

    let err = checkpoint::load::<B, LstmCell<B>>(&dir, &device()).unwrap_err();
    assert!(
        err.to_string()
            .contains("cell: checkpoint has gru, the model type is LSTMCell"),
        "{err}"
    );

    std::fs::write(dir.join(checkpoint::WEIGHTS_FILE), b"not a record").unwrap();
    let err = checkpoint::load::<B, GruCell<B>>(&dir, &device()).unwrap_err();
    assert!(err.to_string().contains("model.mpk"), "{err}");

    std::fs::remove_file(dir.join(checkpoint::META_FILE)).unwrap();
    let err = checkpoint::load::<B, GruCell<B>>(&dir, &device()).unwrap_err();
    assert!(err.to_string().contains("seq2seq.json"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_checkpoint_whose_config_claims_other_sizes_is_refused_before_the_model_is_built() {
    let vocab = Vocab::new((0..V - 4).map(|i| i.to_string()));
    let config = config(CellKind::Gru);
    let model: Seq2Seq<B, GruCell<B>> = config.init(&device());
    let meta = CheckpointMeta {
        config: config.clone(),
        src_vocab: vocab.clone(),
        tgt_vocab: vocab.clone(),
        extra: serde_json::Value::Null,
    };
    let root = temp_dir("ckpt-claims");
    let dir = root.join("model");
    checkpoint::save(&dir, &model, &meta).unwrap();
    let meta_path = dir.join(checkpoint::META_FILE);
    let original = std::fs::read_to_string(&meta_path).unwrap();
    for (key, value, words) in [
        (
            "decoder_hidden",
            1_000_000,
            "decoder_hidden must be at most 65536",
        ),
        ("encoder_layers", 100, "encoder_layers must be at most 64"),
        ("decoder_hidden", 11, "the config gives"),
        ("d_embed", 9, "the config gives"),
    ] {
        let mut v: serde_json::Value = serde_json::from_str(&original).unwrap();
        v["config"][key] = value.into();
        std::fs::write(&meta_path, v.to_string()).unwrap();
        let err = checkpoint::load::<B, GruCell<B>>(&dir, &device()).unwrap_err();
        assert!(
            matches!(err, CheckpointError::Format { .. }),
            "{key}: {err}"
        );
        assert!(err.to_string().contains(words), "{key}: {err}");
    }
    let _ = std::fs::remove_dir_all(&root);
}
