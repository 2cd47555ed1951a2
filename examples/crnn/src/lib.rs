//! A CRNN text-line recognizer on burn-rnn (Shi, Bai and Yao 2015): a convolution stack, its
//! feature map read column by column by a bidirectional LSTM, CTC loss, best-path and prefix
//! beam decoding. It trains on lines rendered from embedded fonts with augmentation, or on a
//! folder of labelled PNG lines.
//!
//! - [`render`]: the fonts and the rendered, augmented lines; [`image`]: PNG reading, scaling;
//! - [`data`]: the alphabet, the training stream, the held-out set, folders, batches;
//! - [`model`]: the network and its CTC loss; [`decode`]: decoding and error rates;
//! - [`train`], [`predict`]: the `crnn train`, `predict` and `eval` commands;
//!   [`checkpoint`]: the run folder's files; [`plots`]: `loss.png` and `predictions.png`.

pub mod checkpoint;
pub mod data;
pub mod decode;
pub mod image;
pub mod model;
pub mod plots;
pub mod predict;
pub mod render;
pub mod train;
