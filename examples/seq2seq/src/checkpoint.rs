//! Saving and loading a trained model with its config and vocabularies.
//!
//! A checkpoint is a folder: `seq2seq.json` (config, vocabularies, and whatever the caller
//! adds) and `model.mpk` (the weights, Burn's named MessagePack record at full precision,
//! through [`CheckedRecorder`]). It is written into a temporary sibling folder, every file
//! synced, and renamed into place, so an interrupted save leaves the previous checkpoint whole.
//!
//! A load checks before it allocates: the config against its limits
//! ([`Seq2SeqConfig::validate`]), the vocabularies against the config, every tensor's bytes
//! against its shape, and the config's parameter shapes against the record's.

use std::fmt;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::FullPrecisionSettings;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use burn_seq2seq::{Seq2Seq, Seq2SeqCell, Seq2SeqConfig, Vocab};

/// The file holding the config and vocabularies.
pub const META_FILE: &str = "seq2seq.json";
/// The file holding the weights.
pub const WEIGHTS_FILE: &str = "model.mpk";

use rnn_example_common::record::CheckedRecorder;

type Recorder = CheckedRecorder<FullPrecisionSettings>;

/// Everything in a checkpoint but the weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// The model's config.
    pub config: Seq2SeqConfig,
    /// The source vocabulary (`config.src_vocab_size` tokens).
    pub src_vocab: Vocab,
    /// The target vocabulary (`config.tgt_vocab_size` tokens).
    pub tgt_vocab: Vocab,
    /// Anything the caller wants kept with the model (training progress, data settings).
    #[serde(default)]
    pub extra: serde_json::Value,
}

/// Why a checkpoint could not be saved or loaded; every variant names the file.
#[derive(Debug)]
pub enum CheckpointError {
    /// Reading or writing a file failed.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// Burn's recorder could not write or read the weights file.
    Record {
        /// The weights file.
        path: PathBuf,
        /// The recorder's message.
        message: String,
    },
    /// A file is not what a checkpoint holds.
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the key where there is one.
        message: String,
    },
    /// The checkpoint was made with another config than the one asked for.
    ConfigMismatch {
        /// The checkpoint's `seq2seq.json`.
        path: PathBuf,
        /// One line per differing key: `key: checkpoint has X, expected Y`.
        differences: Vec<String>,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Record { path, message } => write!(f, "{}: {message}", path.display()),
            Self::Format { path, message } => write!(f, "{}: {message}", path.display()),
            Self::ConfigMismatch { path, differences } => write!(
                f,
                "{} was made with another config: {}",
                path.display(),
                differences.join("; ")
            ),
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Saves `model` and `meta` as the checkpoint folder `dir`, atomically (see the module docs).
///
/// # Errors
/// If a file cannot be written, or the vocabularies do not have the config's sizes.
pub fn save<B: Backend, C: Seq2SeqCell<B>>(
    dir: &Path,
    model: &Seq2Seq<B, C>,
    meta: &CheckpointMeta,
) -> Result<(), CheckpointError> {
    check_vocabs(&dir.join(META_FILE), meta)?;
    let written = |e: rnn_io::atomic::WriteError| CheckpointError::Io {
        path: e.path,
        source: e.source,
    };
    let staged = rnn_io::atomic::StagedDir::new(dir).map_err(written)?;
    let tmp = staged.path();
    let text = serde_json::to_string_pretty(meta).expect("the meta serializes");
    std::fs::write(tmp.join(META_FILE), text).map_err(io(&tmp.join(META_FILE)))?;
    let weights = tmp.join(WEIGHTS_FILE);
    // Burn initializes parameters lazily, and a clone of an uninitialized parameter draws its
    // own values: touch every parameter first so the clone saved is the model itself.
    parameter_shapes(model);
    model
        .clone()
        .save_file(weights.with_extension(""), &Recorder::new())
        .map_err(|e| CheckpointError::Record {
            path: weights.clone(),
            message: rnn_example_common::record::message(&e).to_string(),
        })?;
    staged.commit().map_err(written)
}

/// Reads a checkpoint's `seq2seq.json`.
///
/// # Errors
/// If the file is missing or unreadable, or not a checkpoint's meta file.
pub fn load_meta(dir: &Path) -> Result<CheckpointMeta, CheckpointError> {
    let path = dir.join(META_FILE);
    let text = rnn_io::atomic::read_regular_text(&path).map_err(io(&path))?;
    let meta: CheckpointMeta =
        serde_json::from_str(&text).map_err(|e| CheckpointError::Format {
            path: path.clone(),
            message: format!("not a seq2seq checkpoint's meta file: {e}"),
        })?;
    meta.config
        .validate()
        .map_err(|e| CheckpointError::Format {
            path: path.clone(),
            message: e.to_string(),
        })?;
    check_vocabs(&path, &meta)?;
    Ok(meta)
}

/// Loads the checkpoint `dir`, building the model from the config stored in it.
///
/// # Errors
/// If a file is missing or malformed, a weight is missing or has another shape, or the
/// checkpoint holds another cell kind than `C`.
pub fn load<B: Backend, C: Seq2SeqCell<B>>(
    dir: &Path,
    device: &B::Device,
) -> Result<(Seq2Seq<B, C>, CheckpointMeta), CheckpointError> {
    let meta = load_meta(dir)?;
    if !C::builds(meta.config.cell) {
        return Err(CheckpointError::ConfigMismatch {
            path: dir.join(META_FILE),
            differences: vec![format!(
                "cell: checkpoint has {}, the model type is {}",
                meta.config.cell,
                C::NAME
            )],
        });
    }
    let model = load_weights::<B, C>(dir, &meta.config, device)?;
    Ok((model, meta))
}

/// Loads the checkpoint `dir` for a model built from `expected`: an error lists every config
/// key whose value differs.
///
/// # Errors
/// As [`load`], and [`CheckpointError::ConfigMismatch`] if the stored config differs.
pub fn load_matching<B: Backend, C: Seq2SeqCell<B>>(
    dir: &Path,
    expected: &Seq2SeqConfig,
    device: &B::Device,
) -> Result<(Seq2Seq<B, C>, CheckpointMeta), CheckpointError> {
    let meta = load_meta(dir)?;
    let differences = config_differences(&meta.config, expected);
    if !differences.is_empty() {
        return Err(CheckpointError::ConfigMismatch {
            path: dir.join(META_FILE),
            differences,
        });
    }
    load::<B, C>(dir, device)
}

/// `key: checkpoint has X, expected Y` for every config key whose value differs.
pub fn config_differences(stored: &Seq2SeqConfig, expected: &Seq2SeqConfig) -> Vec<String> {
    let a = serde_json::to_value(stored).expect("configs serialize");
    let b = serde_json::to_value(expected).expect("configs serialize");
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let (x, y) = (a.get(key), b.get(key));
            (x != y).then(|| {
                let show = |v: Option<&serde_json::Value>| {
                    v.map_or_else(|| "nothing".to_string(), |v| v.to_string())
                };
                format!("{key}: checkpoint has {}, expected {}", show(x), show(y))
            })
        })
        .collect()
}

fn check_vocabs(path: &Path, meta: &CheckpointMeta) -> Result<(), CheckpointError> {
    for (key, vocab, size) in [
        ("src_vocab", &meta.src_vocab, meta.config.src_vocab_size),
        ("tgt_vocab", &meta.tgt_vocab, meta.config.tgt_vocab_size),
    ] {
        if vocab.len() != size {
            return Err(CheckpointError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "{key} has {} tokens but the config says {size}",
                    vocab.len()
                ),
            });
        }
    }
    Ok(())
}

fn load_weights<B: Backend, C: Seq2SeqCell<B>>(
    dir: &Path,
    config: &Seq2SeqConfig,
    device: &B::Device,
) -> Result<Seq2Seq<B, C>, CheckpointError> {
    let path = dir.join(WEIGHTS_FILE);
    if !path.exists() {
        return Err(CheckpointError::Io {
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "missing (the checkpoint has no weights)",
            ),
        });
    }
    let format = |message: String| CheckpointError::Format {
        path: path.clone(),
        message,
    };
    let record = rnn_example_common::record::inspect(&path)
        .map_err(|e| format(rnn_example_common::record::message(&e).to_string()))?;
    // The parameters are lazy: the model's weights are not allocated before they are checked.
    let model = config.init::<B, C>(device);
    rnn_example_common::record::check_shapes(&model, &record).map_err(format)?;
    model
        .load_file(path.with_extension(""), &Recorder::new(), device)
        .map_err(|e| {
            format(format!(
                "cannot load the weights: {}",
                rnn_example_common::record::message(&e)
            ))
        })
}

/// The shapes of every parameter, in visiting order.
fn parameter_shapes<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<usize>> {
    struct Shapes(Vec<Vec<usize>>);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Shapes {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<B, D>>,
        ) {
            self.0.push(param.val().dims().to_vec());
        }
    }
    let mut shapes = Shapes(Vec::new());
    module.visit(&mut shapes);
    shapes.0
}

/// A checkpoint that cannot be read or written is a failed run; one that is malformed or was
/// made for another model is bad input (the user pointed at the wrong folder).
impl From<CheckpointError> for rnn_example_common::Error {
    fn from(e: CheckpointError) -> Self {
        match e {
            CheckpointError::Io { .. } | CheckpointError::Record { .. } => {
                rnn_example_common::Error::Run(e.to_string())
            }
            _ => rnn_example_common::Error::Input(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_io_is_a_run_error_and_a_bad_checkpoint_is_input() {
        let io = CheckpointError::Io {
            path: "ckpt/model.mpk".into(),
            source: std::io::Error::other("disk full"),
        };
        assert!(
            matches!(rnn_example_common::Error::from(io), rnn_example_common::Error::Run(m) if m == "ckpt/model.mpk: disk full")
        );
        let format = CheckpointError::Format {
            path: "ckpt/seq2seq.json".into(),
            message: "not a meta file".into(),
        };
        assert!(matches!(
            rnn_example_common::Error::from(format),
            rnn_example_common::Error::Input(_)
        ));
    }
}
