//! The plumbing that burn-rnn's examples (`char-rnn`, `crnn`, `seq2seq`, `sine`) share, so that each
//! example's code is about its model.
//!
//! ## Contents
//! - [`Error`] and [`input`]: a command's error, one line for the user and an exit code (2 for
//!   bad input, 1 for a failed run); [`run`] is the `main` around a command that prints it
//!   and exits, after [`keep_freed_memory`] (glibc keeps freed memory for the next step).
//! - [`progress_bar`] and [`say`]: the training progress bar (steps, rate, ETA; hidden for
//!   quiet runs), and lines printed above it.
//! - [`cell_kind_parser`]: the `--cell rnn|rnn_relu|lstm|gru` flag, parsed into the library's
//!   [`CellKind`](burn_rnn::CellKind); [`default_args`]: an argument struct at its defaults.
//! - [`write_json`]: a small JSON file (`metrics.json`) written atomically, through
//!   [`rnn_io::atomic`] like every checkpoint.
//! - [`RunDir`] and [`read_json`]: a run's output folder (locked, its checkpoint replaced
//!   atomically) and the JSON files in it.
//! - [`record`]: Burn records written durably and checked before Burn decodes them.

mod cli;
mod error;
mod files;
mod progress;
pub mod record;
mod run_dir;

pub use cli::{cell_kind_parser, default_args};
pub use error::{input, keep_freed_memory, run, Error};
pub use files::write_json;
pub use progress::{progress_bar, say};
pub use run_dir::{read_json, RunDir};
