//! # burn-seq2seq
//!
//! Sequence-to-sequence models over [burn-rnn](https://docs.rs/burn-rnn)'s layers: an RNN encoder, attention, an RNN decoder, and batched
//! greedy, beam and sampled decoding.
//!
//! The design follows OpenNMT-py's RNN encoder-decoder and PyTorch's seq2seq tutorial:
//! - [`Encoder`]: embedding + any stack of burn-rnn's cells ([`burn_rnn::RnnCell`],
//!   [`burn_rnn::LstmCell`], [`burn_rnn::GruCell`]), optionally bidirectional, reading padded
//!   sources with their lengths (padding never reaches a result).
//! - [`Bridge`]: the encoder's final state (directions concatenated) to the decoder's initial
//!   state ([`BridgeKind`]).
//! - [`Decoder`]: embedding + recurrent layers + global attention ([`AttentionKind`]: dot,
//!   general, additive) + output projection, with optional input feeding.
//! - Training: [`Seq2Seq::forward`] (teacher forcing; the decoder's recurrent layers run as one
//!   fused whole-sequence call), [`Seq2Seq::forward_scheduled`] (scheduled sampling) and
//!   [`sequence_cross_entropy`] (padding ignored, optional label smoothing).
//! - Decoding: [`Seq2Seq::greedy`], [`Seq2Seq::beam_search`] (n-best with GNMT's length
//!   penalty), [`Seq2Seq::sample`] (temperature, top-k, top-p, seeded, through
//!   [`crate::sampling`]), each batched and able to return the attention weights.
//! - [`Vocab`]: token vocabularies with the special symbols; [`CharVocab`]: a plain character
//!   vocabulary without them.
//! - [`sampling`]: a seeded RNG and temperature, top-k and top-p sampling over rows of logits.
//!
//! ```
//! use burn_rnn::backend::DefaultBackend as B;
//! use burn_seq2seq::{GreedyOptions, Seq2SeqConfig, Vocab};
//! use burn_rnn::LstmCell;
//!
//! let vocab = Vocab::from_chars("0123456789");
//! let config = Seq2SeqConfig::new(vocab.len(), vocab.len())
//!     .with_encoder_hidden(16)
//!     .with_decoder_hidden(32);
//! let model = config.init::<B, LstmCell<B>>(&Default::default());
//! let src = vec![vocab.encode_chars("123").ids, vocab.encode_chars("45").ids];
//! let out = model.greedy(&src, &GreedyOptions { max_len: 5, ..Default::default() });
//! assert_eq!(out.len(), 2);
//! ```

#![warn(missing_docs)]

mod attention;
mod batch;
mod bridge;
mod config;
mod decode;
mod decoder;
mod encoder;
mod loss;
mod model;
pub mod sampling;
mod vocab;

pub use attention::{Attention, AttentionOutput};
pub use batch::{pad_sources, Seq2SeqBatch};
pub use bridge::Bridge;
pub use burn_rnn::CellKind;
pub use config::{AttentionKind, BridgeKind, ConfigError, Seq2SeqCell, Seq2SeqConfig, StackShape};
pub use decode::{BeamOptions, GreedyOptions, Hypothesis, SampleOptions};
pub use decoder::{Decoder, DecoderOutput, DecoderState, DecoderStepOutput};
pub use encoder::{Encoder, Memory};
pub use loss::sequence_cross_entropy;
pub use model::{Seq2Seq, Seq2SeqOutput};
pub use sampling::SplitMix64;
pub use vocab::{CharVocab, Encoded, Vocab};

/// The README's Rust blocks, compiled and run as doctests by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
