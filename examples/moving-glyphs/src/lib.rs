//! Next-frame prediction with burn-rnn's ConvLSTM: two glyphs move and bounce in 64x64 frames;
//! an encoder-forecaster reads 10 frames and predicts the next 10.
//!
//! - [`data`]: the sequences, drawn from an embedded font;
//! - [`model`]: the encoder-forecaster;
//! - [`train`]: training, the held-out MSE against copying the last frame, and the PNGs.

pub mod data;
pub mod model;
pub mod train;
