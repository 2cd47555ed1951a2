//! Sequence-to-sequence models: an RNN encoder, attention, an RNN decoder, and batched
//! greedy, beam and sampled decoding.
//!
//! The design follows OpenNMT-py's RNN encoder-decoder and PyTorch's seq2seq tutorial:
//! - [`Encoder`]: embedding + any stack of this crate's cells ([`crate::RnnCell`],
//!   [`crate::LstmCell`], [`crate::GruCell`]), optionally bidirectional, reading padded
//!   sources with their lengths (padding never reaches a result).
//! - [`Bridge`]: the encoder's final state (directions concatenated) to the decoder's initial
//!   state ([`BridgeKind`]).
//! - [`Decoder`]: embedding + recurrent layers + global attention ([`AttentionKind`]: dot,
//!   general, additive) + output projection, with optional input feeding.
//! - Training: [`Seq2Seq::forward`] (teacher forcing; the decoder's recurrent layers run as one
//!   fused whole-sequence call), [`Seq2Seq::forward_scheduled`] (scheduled sampling) and
//!   [`sequence_cross_entropy`] (padding ignored, optional label smoothing).
//! - Decoding: [`Seq2Seq::greedy`], [`Seq2Seq::beam_search`] (n-best with GNMT's length
//!   penalty), [`Seq2Seq::sample`] (temperature, top-k, top-p, seeded), each batched and able
//!   to return the attention weights.
//! - [`checkpoint`]: save and load with the config and vocabularies.
//!
//! ```
//! use burn_rnn::backend::DefaultBackend as B;
//! use burn_rnn::seq2seq::{GreedyOptions, Seq2SeqConfig, Vocab};
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

mod attention;
pub mod checkpoint;
mod config;
mod decode;
mod loss;
mod model;
mod vocab;

pub use attention::Attention;
pub use checkpoint::{CheckpointError, CheckpointMeta};
pub use config::{AttentionKind, BridgeKind, CellKind, Seq2SeqCell, Seq2SeqConfig};
pub use decode::{BeamOptions, GreedyOptions, Hypothesis, SampleOptions};
pub use loss::sequence_cross_entropy;
pub use model::{
    pad_sources, Bridge, Decoder, DecoderOutput, DecoderState, Encoder, Memory, Seq2Seq,
    Seq2SeqBatch, Seq2SeqOutput,
};
pub use vocab::{Encoded, Vocab};

/// A small seeded random generator (SplitMix64) for scheduled sampling and decoding: the same
/// seed gives the same numbers on every backend and platform.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform index in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_f64() * n as f64) as usize % n.max(1)
    }
}
