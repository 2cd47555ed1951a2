//! The example's error: one line for the user and an exit code (the examples' shared
//! [`rnn_example_common::Error`]).

pub use rnn_example_common::{input, Error};
