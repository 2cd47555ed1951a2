//! The example's error: one line for the user and an exit code (the examples' shared
//! [`rnn_example_common::Error`]; [`crate::checkpoint`] turns a `CheckpointError` into a run
//! error for I/O and an input error otherwise).

pub use rnn_example_common::{input, Error};
