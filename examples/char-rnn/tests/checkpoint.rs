//! Hostile checkpoint folders: configs that claim sizes the weights do not have, records whose
//! bytes do not match their shapes, vocabularies and carried states of the wrong size, and
//! thousands of corrupted records. Each is a one-line input error naming the file (and the
//! key), before anything is allocated from the claim; none panics.

use std::path::{Path, PathBuf};

use char_rnn::error::Error;
use char_rnn::generate::Generator;
use char_rnn::train::{train, TrainArgs};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("char-rnn-ckpt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A trained run folder (GRU, hidden 16, embedding 8) and its corpus.
fn trained(dir: &Path) -> (PathBuf, TrainArgs) {
    let corpus = dir.join("corpus.txt");
    std::fs::write(
        &corpus,
        "the quick brown fox jumps over the lazy dog. ".repeat(5),
    )
    .unwrap();
    let out = dir.join("run");
    let mut a = TrainArgs::defaults(&out);
    a.corpus = Some(corpus);
    a.cell = Some(char_rnn::model::CellKind::Gru.into());
    a.layers = Some(1);
    a.hidden = Some(16);
    a.embedding = Some(8);
    a.seq_len = 8;
    a.batch = 4;
    a.steps = 3;
    a.eval_every = 3;
    a.checkpoint_every = 3;
    a.sample = 0;
    a.quiet = true;
    train(&a).unwrap();
    (out, a)
}

fn load_error(out: &Path) -> String {
    match Generator::load(out) {
        Err(Error::Input(m)) => m,
        Err(other) => panic!("expected an input error, got {other}"),
        Ok(_) => panic!("the hostile checkpoint loaded"),
    }
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

#[test]
fn configs_that_disagree_with_the_weights_are_refused_before_the_model_is_built() {
    let dir = scratch("config");
    let (out, args) = trained(&dir);
    let config = out.join("checkpoint/config.json");
    let original = std::fs::read(&config).unwrap();
    for (key, value, words) in [
        (
            "hidden",
            1_000_000,
            "hidden must be in 1..=65536, got 1000000",
        ),
        ("layers", 1000, "layers must be in 1..=64"),
        ("vocab", 0, "vocab must be in 1..="),
        ("hidden", 32, "config.json and the weights disagree"),
        ("embedding", 9, "config.json and the weights disagree"),
        ("layers", 2, "config.json and the weights disagree"),
    ] {
        edit_json(&config, |v| v[key] = value.into());
        let m = load_error(&out);
        assert!(m.contains(words), "{key} = {value}: {m}");
        assert!(m.contains("checkpoint"), "{m}");
        // --resume refuses it the same way, and leaves the checkpoint as it was.
        let mut resume = args.clone();
        resume.resume = true;
        resume.steps = 6;
        resume.cell = None;
        resume.layers = None;
        resume.hidden = None;
        resume.embedding = None;
        assert!(matches!(train(&resume), Err(Error::Input(_))), "{key}");
        std::fs::write(&config, &original).unwrap();
    }
    Generator::load(&out).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_record_whose_bytes_do_not_match_a_shape_is_refused_naming_the_tensor() {
    let dir = scratch("record");
    let (out, _) = trained(&dir);
    let model = out.join("checkpoint/model.mpk");
    let bytes = std::fs::read(&model).unwrap();
    // The first tensor is the embedding, [vocab, 8] f32: a MessagePack bin16 of vocab * 32
    // bytes. Declare 4 bytes fewer and drop them: a well-formed record that lies.
    let vocab: usize = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(out.join("checkpoint/config.json")).unwrap(),
    )
    .unwrap()["vocab"]
        .as_u64()
        .unwrap() as usize;
    let len = (vocab * 32) as u16;
    let header = [0xc5, (len >> 8) as u8, len as u8];
    let at = bytes
        .windows(3)
        .position(|w| w == header)
        .expect("the bin16 header");
    let mut lying = bytes[..at].to_vec();
    lying.extend([0xc5, ((len - 4) >> 8) as u8, (len - 4) as u8]);
    lying.extend(&bytes[at + 3 + 4..]);
    std::fs::write(&model, &lying).unwrap();
    let m = load_error(&out);
    assert!(m.contains("model.mpk"), "{m}");
    assert!(m.contains("embedding"), "{m}");
    assert!(
        m.contains(&format!(
            "holds {} bytes, but shape [{vocab}, 8] of F32 needs {}",
            len - 4,
            len
        )),
        "{m}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn vocabularies_and_carried_states_of_the_wrong_size_are_refused() {
    let dir = scratch("vocab");
    let (out, args) = trained(&dir);
    let vocab = out.join("checkpoint/vocab.json");
    let original = std::fs::read(&vocab).unwrap();
    edit_json(&vocab, |v| {
        v["chars"].as_array_mut().unwrap().pop();
    });
    let m = load_error(&out);
    assert!(m.contains("the vocabulary has"), "{m}");
    std::fs::write(&vocab, original).unwrap();

    let carry = out.join("checkpoint/carry.json");
    edit_json(&carry, |v| v[0]["shape"] = serde_json::json!([1, 4, 17]));
    let mut resume = args.clone();
    resume.resume = true;
    resume.steps = 6;
    match train(&resume) {
        Err(Error::Input(m)) => assert!(m.contains("carry.json: tensor 0"), "{m}"),
        other => panic!("expected an input error, got {other:?}"),
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn thousands_of_corrupted_records_each_load_or_fail_cleanly() {
    let dir = scratch("fuzz");
    let (out, _) = trained(&dir);
    let model = out.join("checkpoint/model.mpk");
    let bytes = std::fs::read(&model).unwrap();
    let (mut ok, mut refused) = (0, std::collections::BTreeMap::<&str, usize>::new());
    let mut count = |b: &[u8]| {
        std::fs::write(&model, b).unwrap();
        match Generator::load(&out) {
            Ok(_) => ok += 1,
            Err(Error::Input(m)) => {
                let class = match m {
                    _ if m.contains("does not fit") => "caught panic in Burn's from_item",
                    _ if m.contains("bytes, but shape") => "byte length against shape",
                    _ if m.contains("disagree") => "shapes against the config",
                    _ if m.contains("not a Burn record") => "malformed MessagePack",
                    _ if m.contains("model.mpk: ") => "refused by the typed decoding",
                    _ => "other",
                };
                *refused.entry(class).or_default() += 1;
            }
            Err(e) => panic!("expected an input error, got {e}"),
        }
    };
    for n in (0..bytes.len()).step_by(61) {
        count(&bytes[..n]);
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..1500 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut m = bytes.clone();
        // Flip bytes of the structure (the first 200 bytes and around each tensor header)
        // as often as bytes of values.
        let at = match state % 2 {
            0 => (state >> 8) as usize % 200.min(m.len()),
            _ => (state >> 8) as usize % m.len(),
        };
        m[at] = (state >> 40) as u8;
        count(&m);
    }
    eprintln!("corrupted model.mpk: {ok} loaded; refused with an input error: {refused:?}");
    std::fs::remove_dir_all(dir).unwrap();
}
