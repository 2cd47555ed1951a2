//! char-rnn: a character-level language model on burn-rnn, trained with truncated BPTT and
//! sampled one character at a time. `main.rs` is the command line; the pieces live here so
//! that tests can drive them.

pub mod checkpoint;
pub mod data;
pub mod error;
pub mod generate;
pub mod model;
pub mod train;
