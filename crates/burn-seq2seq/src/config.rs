//! The configuration of a [`Seq2Seq`](super::Seq2Seq) model, and the choices it names.

use burn::config::Config;
use burn::module::ModuleDisplay;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use burn_rnn::CellKind;
use burn_rnn::{AnyCell, AnyRecurrent, AnyRecurrentConfig, Cell, GruCell, LstmCell, RnnCell};
use burn_rnn::{GruConfig, LstmConfig, Recurrent, RnnConfig};

/// How the decoder scores a memory position `m_s` (an encoder output, `[D*H_enc]`) against its
/// hidden state `h_t` (`[H_dec]`); the names are Luong et al. (2015)'s and OpenNMT-py's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttentionKind {
    /// `h_t · m_s`; needs `H_dec == D*H_enc`.
    Dot,
    /// `h_t · (W_a m_s)` (Luong's "general").
    General,
    /// `v · tanh(W_q h_t + W_m m_s)` (Bahdanau et al. 2015; OpenNMT-py's "mlp").
    Additive,
}

/// How the encoder's final state becomes the decoder's initial state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BridgeKind {
    /// Both directions' states concatenated, `[N, D*H_enc]`, then a learned linear map to
    /// `[N, H_dec]` (with tanh for `h`; the LSTM cell state stays linear).
    Linear,
    /// The concatenated states as they are; needs `H_dec == D*H_enc`.
    Copy,
    /// No bridge: the decoder starts from zeros.
    Zeros,
}

/// Configuration of a [`Seq2Seq`](super::Seq2Seq): an embedding + recurrent encoder, a bridge,
/// and an embedding + recurrent + attention decoder.
///
/// The encoder reads `[N, S]` source ids into a memory `[N, S, D*H_enc]` (`D = 2` when
/// bidirectional). The decoder runs Luong et al. (2015)'s global attention after its recurrent
/// layers, as OpenNMT-py's RNN decoder does: `h̃_t = tanh(W_c [c_t; h_t])`,
/// `logits_t = W_out h̃_t`, where `c_t` is the attention-weighted memory.
#[derive(Config, Debug, PartialEq)]
pub struct Seq2SeqConfig {
    /// The cell kind of both the encoder and the decoder.
    #[config(default = "CellKind::Lstm")]
    pub cell: CellKind,
    /// Source vocabulary size `V_src` (specials included).
    pub src_vocab_size: usize,
    /// Target vocabulary size `V_tgt` (specials included).
    pub tgt_vocab_size: usize,
    /// Embedding width `E` of both vocabularies.
    #[config(default = 64)]
    pub d_embed: usize,
    /// Encoder hidden size `H_enc` (per direction).
    #[config(default = 128)]
    pub encoder_hidden: usize,
    /// Encoder layers.
    #[config(default = 1)]
    pub encoder_layers: usize,
    /// Whether the encoder reads the source in both directions (`D = 2`).
    #[config(default = true)]
    pub bidirectional: bool,
    /// Decoder hidden size `H_dec`.
    #[config(default = 256)]
    pub decoder_hidden: usize,
    /// Decoder layers.
    #[config(default = 1)]
    pub decoder_layers: usize,
    /// Dropout on the embeddings, between stacked layers and on `h̃` (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// The attention score.
    #[config(default = "AttentionKind::General")]
    pub attention: AttentionKind,
    /// Width of the additive attention's hidden layer; `None` is `H_dec`.
    pub attention_hidden: Option<usize>,
    /// Input feeding (Luong et al. 2015): `h̃_{t-1}` joins the embedding of the next input
    /// token. The decoder then runs step by step even with full teacher forcing.
    #[config(default = false)]
    pub input_feeding: bool,
    /// The bridge from the encoder's final state to the decoder's initial state.
    #[config(default = "BridgeKind::Linear")]
    pub bridge: BridgeKind,
    /// Padding id (both vocabularies).
    #[config(default = 0)]
    pub pad_id: usize,
    /// Begin-of-sequence id of the target vocabulary (the decoder's first input).
    #[config(default = 1)]
    pub bos_id: usize,
    /// End-of-sequence id of the target vocabulary.
    #[config(default = 2)]
    pub eos_id: usize,
}

impl Seq2SeqConfig {
    /// `D * H_enc`: the width of the encoder's memory.
    pub fn d_memory(&self) -> usize {
        self.encoder_hidden * if self.bidirectional { 2 } else { 1 }
    }

    /// The largest width (`d_embed`, hidden sizes, `attention_hidden`) a config may ask for.
    pub const MAX_WIDTH: usize = 1 << 16;
    /// The most layers of the encoder or the decoder.
    pub const MAX_LAYERS: usize = 64;
    /// The largest vocabulary.
    pub const MAX_VOCAB: usize = 1 << 20;

    /// Checks the settings against each other and against the limits above; the error names
    /// the fields and values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("src_vocab_size", self.src_vocab_size),
            ("tgt_vocab_size", self.tgt_vocab_size),
            ("d_embed", self.d_embed),
            ("encoder_hidden", self.encoder_hidden),
            ("encoder_layers", self.encoder_layers),
            ("decoder_hidden", self.decoder_hidden),
            ("decoder_layers", self.decoder_layers),
        ];
        if let Some((field, _)) = positive.into_iter().find(|&(_, value)| value == 0) {
            return Err(ConfigError::Zero { field });
        }
        let widths = [
            ("src_vocab_size", self.src_vocab_size, Self::MAX_VOCAB),
            ("tgt_vocab_size", self.tgt_vocab_size, Self::MAX_VOCAB),
            ("d_embed", self.d_embed, Self::MAX_WIDTH),
            ("encoder_hidden", self.encoder_hidden, Self::MAX_WIDTH),
            ("encoder_layers", self.encoder_layers, Self::MAX_LAYERS),
            ("decoder_hidden", self.decoder_hidden, Self::MAX_WIDTH),
            ("decoder_layers", self.decoder_layers, Self::MAX_LAYERS),
            (
                "attention_hidden",
                self.attention_hidden.unwrap_or(0),
                Self::MAX_WIDTH,
            ),
        ];
        if let Some((field, value, max)) = widths.into_iter().find(|&(_, v, max)| v > max) {
            return Err(ConfigError::TooLarge { field, value, max });
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ConfigError::Dropout(self.dropout));
        }
        let d_memory = self.d_memory();
        let decoder_hidden = self.decoder_hidden;
        if self.attention == AttentionKind::Dot && decoder_hidden != d_memory {
            return Err(ConfigError::DotAttentionWidth {
                d_memory,
                decoder_hidden,
            });
        }
        if self.bridge == BridgeKind::Copy && decoder_hidden != d_memory {
            return Err(ConfigError::CopyBridgeWidth {
                d_memory,
                decoder_hidden,
            });
        }
        for (field, id) in [("bos_id", self.bos_id), ("eos_id", self.eos_id)] {
            if id >= self.tgt_vocab_size {
                return Err(ConfigError::IdOutsideTarget {
                    field,
                    id,
                    tgt_vocab_size: self.tgt_vocab_size,
                });
            }
        }
        if self.pad_id >= self.src_vocab_size.min(self.tgt_vocab_size) {
            return Err(ConfigError::PadOutsideVocab {
                pad_id: self.pad_id,
                src_vocab_size: self.src_vocab_size,
                tgt_vocab_size: self.tgt_vocab_size,
            });
        }
        Ok(())
    }
}

/// Why a [`Seq2SeqConfig`] is invalid, from [`Seq2SeqConfig::validate`]. Its message names the
/// fields and the values.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    /// A size or layer count (`field`) is 0.
    Zero {
        /// The field's name, e.g. `"d_embed"`.
        field: &'static str,
    },
    /// A size or layer count (`field`) is above the most a config may ask for
    /// ([`Seq2SeqConfig::MAX_WIDTH`], [`Seq2SeqConfig::MAX_LAYERS`],
    /// [`Seq2SeqConfig::MAX_VOCAB`]): a guard against configs read from files.
    TooLarge {
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: usize,
        /// The limit.
        max: usize,
    },
    /// The dropout is outside `[0, 1)`.
    Dropout(f64),
    /// Dot attention with `decoder_hidden != D*encoder_hidden`.
    DotAttentionWidth {
        /// The encoder memory's width `D*H_enc`.
        d_memory: usize,
        /// `H_dec`.
        decoder_hidden: usize,
    },
    /// The copy bridge with `decoder_hidden != D*encoder_hidden`.
    CopyBridgeWidth {
        /// The encoder memory's width `D*H_enc`.
        d_memory: usize,
        /// `H_dec`.
        decoder_hidden: usize,
    },
    /// `bos_id` or `eos_id` (`field`) is not below `tgt_vocab_size`.
    IdOutsideTarget {
        /// `"bos_id"` or `"eos_id"`.
        field: &'static str,
        /// Its value.
        id: usize,
        /// `V_tgt`.
        tgt_vocab_size: usize,
    },
    /// `pad_id` is not below both vocabulary sizes.
    PadOutsideVocab {
        /// The padding id.
        pad_id: usize,
        /// `V_src`.
        src_vocab_size: usize,
        /// `V_tgt`.
        tgt_vocab_size: usize,
    },
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::Zero { field } => {
                write!(f, "seq2seq config: {field} must be at least 1, got 0")
            }
            ConfigError::TooLarge { field, value, max } => {
                write!(
                    f,
                    "seq2seq config: {field} must be at most {max}, got {value}"
                )
            }
            ConfigError::Dropout(p) => {
                write!(f, "seq2seq config: dropout must be in [0, 1), got {p}")
            }
            ConfigError::DotAttentionWidth {
                d_memory,
                decoder_hidden,
            } => write!(
                f,
                "seq2seq config: dot attention needs decoder_hidden == encoder memory width \
                 (D*encoder_hidden = {d_memory}), got decoder_hidden = {decoder_hidden}"
            ),
            ConfigError::CopyBridgeWidth {
                d_memory,
                decoder_hidden,
            } => write!(
                f,
                "seq2seq config: the copy bridge needs decoder_hidden == D*encoder_hidden \
                 ({d_memory}), got decoder_hidden = {decoder_hidden}"
            ),
            ConfigError::IdOutsideTarget {
                field,
                id,
                tgt_vocab_size,
            } => write!(
                f,
                "seq2seq config: {field} = {id} is outside the target vocabulary \
                 (size {tgt_vocab_size})"
            ),
            ConfigError::PadOutsideVocab {
                pad_id,
                src_vocab_size,
                tgt_vocab_size,
            } => write!(
                f,
                "seq2seq config: pad_id = {pad_id} is outside a vocabulary (sizes \
                 {src_vocab_size} and {tgt_vocab_size})"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A cell type a [`Seq2Seq`](super::Seq2Seq) can be built from: burn-rnn's three cells, or
/// [`AnyCell`] for a kind chosen at run time (a config or checkpoint read from a file).
pub trait Seq2SeqCell<B: Backend>: Cell<B> + ModuleDisplay + Sized {
    /// Whether a config naming `kind` builds this cell type (`AnyCell`: every kind).
    fn builds(kind: CellKind) -> bool;

    /// A batch-first, unidirectional-or-bidirectional layer stack of this cell of `kind`, with
    /// PyTorch's default initialization.
    fn stack(kind: CellKind, shape: StackShape, device: &B::Device) -> Recurrent<B, Self>;
}

/// The sizes of one of a [`Seq2Seq`](super::Seq2Seq)'s recurrent stacks.
#[derive(Debug, Clone, Copy)]
pub struct StackShape {
    /// Input features.
    pub d_input: usize,
    /// Hidden size.
    pub d_hidden: usize,
    /// Stacked layers.
    pub num_layers: usize,
    /// Both directions (the encoder's option).
    pub bidirectional: bool,
    /// Dropout between layers.
    pub dropout: f64,
}

impl<B: Backend> Seq2SeqCell<B> for AnyCell<B> {
    fn builds(_: CellKind) -> bool {
        true
    }

    fn stack(kind: CellKind, s: StackShape, device: &B::Device) -> AnyRecurrent<B> {
        AnyRecurrentConfig::new(kind, s.d_input, s.d_hidden)
            .with_num_layers(s.num_layers)
            .with_bidirectional(s.bidirectional)
            .with_dropout(s.dropout)
            .init(device)
    }
}

/// [`Seq2SeqCell`] for a built-in cell: the kinds it builds and its layer config.
macro_rules! seq2seq_cell {
    ($cell:ident, $config:ident, |$kind:ident| $builds:expr, |$c:ident, $k:ident| $with_kind:expr) => {
        impl<B: Backend> Seq2SeqCell<B> for $cell<B> {
            fn builds($kind: CellKind) -> bool {
                $builds
            }

            fn stack($k: CellKind, s: StackShape, device: &B::Device) -> Recurrent<B, Self> {
                let $c = $config::new(s.d_input, s.d_hidden)
                    .with_num_layers(s.num_layers)
                    .with_bidirectional(s.bidirectional)
                    .with_dropout(s.dropout);
                $with_kind.init(device)
            }
        }
    };
}

seq2seq_cell!(
    RnnCell,
    RnnConfig,
    |k| k.nonlinearity().is_some(),
    |c, kind| c.with_nonlinearity(kind.nonlinearity().unwrap_or_default())
);
seq2seq_cell!(LstmCell, LstmConfig, |k| k == CellKind::Lstm, |c, _kind| c);
seq2seq_cell!(GruCell, GruConfig, |k| k == CellKind::Gru, |c, _kind| c);
