//! The checkpoint folder (weights, optimizer state, config, progress) and loading a model from
//! it, each file checked before it is used.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::FullPrecisionSettings;
use burn::tensor::backend::Backend;
use rnn_example_common::record::CheckedRecorder;
use rnn_example_common::{input, Error};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::model::{Crnn, CrnnConfig};

/// The recorder of weights and optimizer state: Burn's named MessagePack, written durably and
/// checked on load.
pub type Rec = CheckedRecorder<FullPrecisionSettings>;

/// The training settings a resumed run keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hyper {
    /// Lines per batch.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Steps of linear warm-up.
    pub warmup: usize,
    /// Gradient-norm clipping threshold.
    pub clip: f32,
    /// Steps over which the augmentation grows to full.
    pub ramp: usize,
    /// Seed of the initialization and of the rendered lines.
    pub seed: u64,
    /// The user's folder trained on; `None` for rendered lines.
    pub data: Option<PathBuf>,
}

/// One evaluation on the held-out lines.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Eval {
    /// Steps done.
    pub step: usize,
    /// Character error rate (greedy decoding).
    pub cer: f64,
    /// Share of lines read exactly.
    pub accuracy: f64,
    /// Seconds of training before it.
    pub seconds: f64,
}

/// Where a run stands: saved with each checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    /// Optimizer steps done.
    pub step: usize,
    /// `(step, CTC loss per character)` after every step.
    pub train_loss: Vec<(usize, f64)>,
    /// The held-out evaluations.
    pub evals: Vec<Eval>,
    /// Seconds spent training (all sessions of the run), evaluations excluded.
    pub seconds: f64,
    /// The settings.
    pub hyper: Hyper,
}

/// `metrics.json`: the final model's held-out scores at the top, then the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metrics {
    /// Character error rate of the last evaluation (greedy decoding).
    pub cer: f64,
    /// Exact-line accuracy of the last evaluation.
    pub accuracy: f64,
    /// Held-out lines evaluated.
    pub held_out: usize,
    /// Optimizer steps done.
    pub steps: usize,
    /// Seconds of training, evaluations excluded.
    pub seconds: f64,
    /// Milliseconds per training step.
    pub ms_per_step: f64,
    /// Every evaluation.
    pub evals: Vec<Eval>,
    /// The settings.
    pub hyper: Hyper,
}

/// Reads a JSON file `crnn` wrote, naming it in errors.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, Error> {
    rnn_example_common::read_json(path, "crnn")
}

/// The model config of a checkpoint folder, with a clear error if it is not one.
pub fn read_config(dir: &Path) -> Result<CrnnConfig, Error> {
    let path = dir.join("config.json");
    if !path.exists() {
        return Err(input(format!(
            "{} is not a crnn checkpoint (no config.json); train one with `crnn train`",
            dir.display()
        )));
    }
    let config: CrnnConfig = read_json(&path)?;
    config
        .check()
        .map_err(|e| input(format!("{}: {e}", path.display())))?;
    Ok(config)
}

/// A checkpoint folder's config and model: the config range-checked, the record's parameter
/// shapes checked against it before the weights load.
///
/// # Errors
/// One-line input errors naming the file at fault.
pub fn load_model<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> Result<(CrnnConfig, Crnn<B>), Error> {
    let config = read_config(dir)?;
    let model_path = dir.join("model.mpk");
    let record = rnn_example_common::record::inspect(&model_path)
        .map_err(|e| input(rnn_example_common::record::message(&e).to_string()))?;
    let model: Crnn<B> = config.init(device);
    rnn_example_common::record::check_shapes(&model, &record).map_err(|e| {
        input(format!(
            "{}: {e} (config.json and the weights disagree)",
            model_path.display()
        ))
    })?;
    let model = model
        .load_file(dir.join("model"), &Rec::new(), device)
        .map_err(|e| input(rnn_example_common::record::message(&e).to_string()))?;
    Ok((config, model))
}

/// The checkpoint folder of a model folder given to `predict` or `eval` (`--model`): the
/// folder itself if it holds `config.json`, else its `checkpoint/`.
///
/// # Errors
/// The folder does not exist.
pub fn model_dir(path: &Path) -> Result<PathBuf, Error> {
    if !path.is_dir() {
        return Err(input(format!(
            "--model {}: no such folder; train a model with `crnn train` first",
            path.display()
        )));
    }
    match path.join("config.json").exists() {
        true => Ok(path.to_path_buf()),
        false => Ok(path.join("checkpoint")),
    }
}
