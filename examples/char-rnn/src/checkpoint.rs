//! The checkpoint folder: weights, optimizer state, carried state, config, vocabulary and the
//! run's progress, written atomically (a temporary folder swapped into place).

use std::path::Path;

use burn::module::Module;
use burn::record::FullPrecisionSettings;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, TensorData};
use rnn_example_common::record::CheckedRecorder;
pub use rnn_example_common::RunDir;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::data::Vocab;
use crate::error::{input, Error};
use crate::model::{Cell, CellKind, CharModel, CharModelConfig};

/// The recorder of weights and optimizer state: Burn's named MessagePack, written durably and
/// checked on load ([`CheckedRecorder`]).
pub type Rec = CheckedRecorder<FullPrecisionSettings>;

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

/// Reads JSON written by [`rnn_example_common::write_json`], naming the file in errors.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, Error> {
    rnn_example_common::read_json(path, "char-rnn")
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
    let mut config: serde_json::Value = read_json(&path)?;
    // Checkpoints written before LSTM projections, peepholes and regularizers have none of
    // these fields: they had none of them.
    if let Some(fields) = config.as_object_mut() {
        fields
            .entry("proj_size")
            .or_insert(serde_json::Value::from(0));
        fields
            .entry("peephole")
            .or_insert(serde_json::Value::from(false));
        if !fields.contains_key("regularization") {
            let none = serde_json::to_value(burn_rnn::Regularization::new())
                .expect("the regularization serializes");
            fields.insert("regularization".into(), none);
        }
    }
    serde_json::from_value(config).map_err(|e| {
        input(format!(
            "{} is not what char-rnn wrote: {e}",
            path.display()
        ))
    })
}

/// The carried state's tensors, saved as JSON.
pub type CarryData = Vec<TensorData>;

/// The regularizers' rates by the flag names of `char-rnn train` (`zoneout-hidden`, ...).
pub fn regularizer_rates(reg: &burn_rnn::Regularization) -> [(&'static str, f64); 5] {
    [
        ("zoneout-hidden", reg.zoneout_hidden),
        ("zoneout-cell", reg.zoneout_cell),
        ("weight-drop", reg.weight_drop),
        ("input-dropout", reg.input_dropout),
        ("output-dropout", reg.output_dropout),
    ]
}

/// The most of each size a checkpoint's config may claim (the command line's limits too).
pub const MAX_VOCAB: usize = 1 << 20;
/// The most recurrent layers.
pub const MAX_LAYERS: usize = 64;
/// The largest hidden or embedding size.
pub const MAX_WIDTH: usize = 1 << 16;

impl CharModelConfig {
    /// Checks every size against the limits above and the dropout against `[0, 1)`, naming
    /// the first field out of range.
    pub fn check(&self) -> Result<(), String> {
        for (name, value, max) in [
            ("vocab", self.vocab, MAX_VOCAB),
            ("layers", self.layers, MAX_LAYERS),
            ("hidden", self.hidden, MAX_WIDTH),
            ("embedding", self.embedding, MAX_WIDTH),
        ] {
            if !(1..=max).contains(&value) {
                return Err(format!("{name} must be in 1..={max}, got {value}"));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        if self.proj_size != 0 && self.cell != Cell::Kernel(CellKind::Lstm) {
            return Err(format!(
                "proj_size {} needs an LSTM, the cell is {}",
                self.proj_size, self.cell
            ));
        }
        if self.peephole && self.cell != Cell::Kernel(CellKind::Lstm) {
            return Err(format!("peephole needs an LSTM, the cell is {}", self.cell));
        }
        let reg = &self.regularization;
        for (name, rate) in regularizer_rates(reg) {
            if !(0.0..1.0).contains(&rate) {
                return Err(format!("{name} must be in [0, 1), got {rate}"));
            }
        }
        if reg.weight_drop > 0.0 && !self.cell.has_recurrent_weight() {
            return Err(format!(
                "weight_drop needs a cell with a recurrent weight, the cell is {}",
                self.cell
            ));
        }
        if reg.zoneout_cell > 0.0 && !self.cell.has_cell_state() {
            return Err(format!(
                "zoneout_cell needs an LSTM's cell state, the cell is {}",
                self.cell
            ));
        }
        if self.proj_size >= self.hidden {
            return Err(format!(
                "proj_size must be below hidden = {} (or 0), got {}",
                self.hidden, self.proj_size
            ));
        }
        Ok(())
    }
}

/// A checkpoint's config, vocabulary and model, each checked against the others before
/// anything is allocated: the config against [`CharModelConfig::check`]'s limits, the
/// vocabulary's size against the config, and the config's parameter shapes against the
/// record's ([`rnn_example_common::record::check_shapes`], before the model's weights exist).
pub fn load_model<Bk: Backend>(
    dir: &Path,
    device: &Bk::Device,
) -> Result<(CharModelConfig, Vocab, CharModel<Bk>), Error> {
    let config = read_config(dir)?;
    config
        .check()
        .map_err(|e| input(format!("{}: {e}", dir.join("config.json").display())))?;
    let vocab = Vocab::load(&dir.join("vocab.json"))?;
    if vocab.len() != config.vocab {
        return Err(input(format!(
            "{}: the vocabulary has {} characters but the model {}",
            dir.display(),
            vocab.len(),
            config.vocab
        )));
    }
    let model_path = dir.join("model.mpk");
    let bad = |e: String| input(format!("{}: {e}", model_path.display()));
    let record = rnn_example_common::record::inspect(&model_path)
        .map_err(|e| input(rnn_example_common::record::message(&e).to_string()))?;
    let model: CharModel<Bk> = config.init(device);
    rnn_example_common::record::check_shapes(&model, &record)
        .map_err(|e| bad(format!("{e} (config.json and the weights disagree)")))?;
    let model = model
        .load_file(dir.join("model"), &Rec::new(), device)
        .map_err(|e| input(rnn_example_common::record::message(&e).to_string()))?;
    Ok((config, vocab, model))
}

/// Checks a saved carried state: none, or `count` f32 tensors of `shape`, their bytes
/// matching it.
pub fn check_carry(data: &CarryData, shapes: &[[usize; 3]], path: &Path) -> Result<(), Error> {
    let count = shapes.len();
    if !data.is_empty() && data.len() != count {
        return Err(input(format!(
            "{}: {} tensors, expected {count}",
            path.display(),
            data.len()
        )));
    }
    for (i, (t, &shape)) in data.iter().zip(shapes).enumerate() {
        let numel: usize = t.shape.iter().product();
        if t.dtype != DType::F32 || t.shape.as_slice() != shape || t.bytes.len() != numel * 4 {
            return Err(input(format!(
                "{}: tensor {i} is {:?} {:?} with {} bytes, expected F32 {shape:?}",
                path.display(),
                t.dtype,
                t.shape.as_slice(),
                t.bytes.len()
            )));
        }
    }
    Ok(())
}
