//! The checkpoint folder: weights, optimizer state, carried state, config, vocabulary and the
//! run's progress, written atomically (a temporary folder swapped into place).

use std::path::{Path, PathBuf};

use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::TensorData;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::{input, Error};
use crate::model::CharModelConfig;

/// The recorder of weights and optimizer state.
pub type Rec = NamedMpkFileRecorder<FullPrecisionSettings>;

/// The training settings that a resumed run keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hyper {
    /// Characters per chunk.
    pub seq_len: usize,
    /// Streams per batch.
    pub batch: usize,
    /// Initial learning rate.
    pub lr: f64,
    /// Learning-rate factor applied at each epoch's end.
    pub lr_decay: f64,
    /// Gradient-norm clipping threshold.
    pub clip: f32,
    /// Seed of the backend's random numbers.
    pub seed: u64,
}

/// Where a run stands: saved with each checkpoint, and as `metrics.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    /// Optimizer steps done.
    pub step: usize,
    /// Passes over the training text done.
    pub epoch: usize,
    /// Offset of the next chunk within each stream.
    pub position: usize,
    /// The current learning rate.
    pub lr: f64,
    /// `(step, training loss)` after every step, nats per character.
    pub train_loss: Vec<(usize, f64)>,
    /// `(step, validation loss)` at each validation, nats per character.
    pub val_loss: Vec<(usize, f64)>,
    /// Seconds spent training (all sessions of the run).
    pub seconds: f64,
    /// The settings.
    pub hyper: Hyper,
}

/// The paths of a run's output folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The output folder.
    pub root: PathBuf,
}

impl RunDir {
    /// The run folder `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// The current checkpoint folder.
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    /// Whether a checkpoint is there.
    pub fn has_checkpoint(&self) -> bool {
        self.checkpoint().join("config.json").exists()
    }

    /// Replaces the checkpoint by what `write` puts into a fresh temporary folder
    /// ([`burn_rnn::atomic::write_dir`]): the old one stays whole until the new one is
    /// complete.
    pub fn save(&self, write: impl FnOnce(&Path) -> Result<(), Error>) -> Result<(), Error> {
        burn_rnn::atomic::write_dir(&self.checkpoint(), write)
    }
}

/// Reads JSON written by [`rnn_example_common::write_json`], naming the file in errors.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| input(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        input(format!(
            "{} is not what char-rnn wrote: {e}",
            path.display()
        ))
    })
}

/// The model config of a checkpoint folder, with a clear error if it is not one.
pub fn read_config(dir: &Path) -> Result<CharModelConfig, Error> {
    let path = dir.join("config.json");
    if !path.exists() {
        return Err(input(format!(
            "{} is not a char-rnn checkpoint (no config.json); train one with `char-rnn train`",
            dir.display()
        )));
    }
    read_json(&path)
}

/// The carried state's tensors, saved as JSON.
pub type CarryData = Vec<TensorData>;
