//! The example's error: one line for the user and an exit code.

use std::fmt;

use burn_rnn::seq2seq::CheckpointError;

/// Why a command failed.
#[derive(Debug)]
pub enum Error {
    /// Bad input from the user (arguments, text to translate, checkpoint folder): exit code 2.
    Input(String),
    /// The run itself failed (I/O while saving, a diverging loss): exit code 1.
    Run(String),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => 2,
            Error::Run(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(m) | Error::Run(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<CheckpointError> for Error {
    fn from(e: CheckpointError) -> Self {
        match e {
            CheckpointError::Io { .. } => Error::Run(e.to_string()),
            _ => Error::Input(e.to_string()),
        }
    }
}

/// Shorthand for bad-input errors.
pub fn input(msg: impl Into<String>) -> Error {
    Error::Input(msg.into())
}
