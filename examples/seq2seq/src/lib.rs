//! Date normalization with burn-rnn's seq2seq: "Tuesday, 3 March 1998", "3/3/98" or
//! "march 3rd, 1998" in, `1998-03-03` out.
//!
//! - [`checkpoint`]: the trained model saved and loaded with its config and vocabularies.
//! - [`data`]: the dates, formats and splits, generated in code from a seed.
//! - [`train`]: the training settings and the pieces the loop builds on (model config,
//!   schedule, validation exact match, the run folder's files).
//! - [`learner`]: the training loop, burn-train's `Learner` (train and validation steps,
//!   metrics, Burn's file checkpointer, the terminal dashboard, `--devices N` data-parallel).
//! - [`translate`]: loading a checkpoint, `eval` on the test split, and `translate` with the
//!   n-best list and an attention heatmap.

pub mod checkpoint;
pub mod data;
pub mod error;
pub mod learner;
pub mod train;
pub mod translate;

/// The backend everything runs on: ndarray by default, wgpu with `--features wgpu`.
pub use burn_rnn::backend::{DefaultAutodiffBackend as AD, DefaultBackend as B};
