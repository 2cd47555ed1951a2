//! The model: Embedding -> stacked RNN/LSTM/GRU -> Linear.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{backend::Backend, Int, Tensor};
use burn_rnn::{
    AnyRecurrent, AnyRecurrentConfig, AnyState, LayerNormGru, LayerNormGruConfig, LayerNormLstm,
    LayerNormLstmConfig, LstmState, MinGru, MinGruConfig, MinLstm, MinLstmConfig, Regularization,
    RnnState,
};

pub use burn_rnn::CellKind;

/// The model's recurrent cell: one of burn-rnn's kernel cells ([`CellKind`]), a minGRU /
/// minLSTM (one scan op), or a LayerNorm LSTM / GRU. Parses from and prints as `rnn`,
/// `rnn_relu`, `lstm`, `gru`, `mingru`, `minlstm`, `lnlstm`, `lngru`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// A cell the fused kernels run.
    Kernel(CellKind),
    /// minGRU (Feng et al., 2024).
    MinGru,
    /// minLSTM (Feng et al., 2024).
    MinLstm,
    /// LayerNorm LSTM (Haste's formulation).
    LnLstm,
    /// LayerNorm GRU (Haste's formulation).
    LnGru,
}

impl Cell {
    /// Every cell, in the order of `--help`.
    pub fn all() -> Vec<Cell> {
        let mut all: Vec<Cell> = CellKind::ALL.into_iter().map(Cell::Kernel).collect();
        all.extend([Cell::MinGru, Cell::MinLstm, Cell::LnLstm, Cell::LnGru]);
        all
    }

    /// The name `--cell` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Cell::Kernel(kind) => kind.as_str(),
            Cell::MinGru => "mingru",
            Cell::MinLstm => "minlstm",
            Cell::LnLstm => "lnlstm",
            Cell::LnGru => "lngru",
        }
    }

    /// Whether the state has a cell part `c` (the LSTMs').
    pub fn has_cell_state(self) -> bool {
        matches!(self, Cell::Kernel(CellKind::Lstm) | Cell::LnLstm)
    }

    /// Whether it has a recurrent weight `W_hh` (all but minGRU and minLSTM): DropConnect
    /// needs one.
    pub fn has_recurrent_weight(self) -> bool {
        !matches!(self, Cell::MinGru | Cell::MinLstm)
    }

    /// Whether it is burn-rnn's `Lstm` (which takes a projection and peepholes).
    pub fn is_lstm(self) -> bool {
        self == Cell::Kernel(CellKind::Lstm)
    }
}

impl From<CellKind> for Cell {
    fn from(kind: CellKind) -> Self {
        Cell::Kernel(kind)
    }
}

impl core::fmt::Display for Cell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::str::FromStr for Cell {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "mingru" => Ok(Cell::MinGru),
            "minlstm" => Ok(Cell::MinLstm),
            "lnlstm" => Ok(Cell::LnLstm),
            "lngru" => Ok(Cell::LnGru),
            _ => s.parse::<CellKind>().map(Cell::Kernel).map_err(|_| {
                let names: Vec<&str> = Cell::all().into_iter().map(Cell::as_str).collect();
                format!("unknown cell `{s}`, expected one of {}", names.join(", "))
            }),
        }
    }
}

impl serde::Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Cell {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The `--cell` parser: one of [`Cell::all`]'s names.
pub fn cell_parser() -> impl clap::builder::TypedValueParser<Value = Cell> {
    use clap::builder::TypedValueParser;
    let names: Vec<&'static str> = Cell::all().into_iter().map(Cell::as_str).collect();
    clap::builder::PossibleValuesParser::new(names)
        .map(|name| name.parse::<Cell>().expect("one of the listed names"))
}

/// The model's shape; saved beside its weights.
#[derive(Config, Debug, PartialEq)]
pub struct CharModelConfig {
    /// Vocabulary size.
    pub vocab: usize,
    /// Cell kind.
    pub cell: Cell,
    /// Recurrent layers.
    pub layers: usize,
    /// Hidden size.
    pub hidden: usize,
    /// Embedding size.
    pub embedding: usize,
    /// Dropout between recurrent layers and before the read-out (training only).
    pub dropout: f64,
    /// LSTM projection size `P` (PyTorch's `proj_size`; 0: none): `h` is `[N, P]` and the
    /// read-out takes `P` features.
    #[config(default = 0)]
    pub proj_size: usize,
    /// LSTM peepholes (Gers and Schmidhuber, 2000).
    #[config(default = false)]
    pub peephole: bool,
    /// Train-time regularizers of the recurrent layers (zoneout, DropConnect on `W_hh`,
    /// variational dropout); all off by default.
    #[config(default = "Regularization::new()")]
    pub regularization: Regularization,
}

/// Embedding -> recurrent layers -> Linear.
#[derive(Module, Debug)]
pub struct CharModel<B: Backend> {
    embedding: Embedding<B>,
    /// The layers of a kernel cell (`None` for the others).
    rnn: Option<AnyRecurrent<B>>,
    /// The layers of any other cell (`None` for a kernel cell).
    zoo: Option<ZooLayers<B>>,
    dropout: Dropout,
    head: Linear<B>,
}

/// The layers of a cell the kernels do not run.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one per model
pub enum ZooLayers<B: Backend> {
    /// minGRU layers.
    MinGru(MinGru<B>),
    /// minLSTM layers.
    MinLstm(MinLstm<B>),
    /// LayerNorm LSTM layers.
    LnLstm(LayerNormLstm<B>),
    /// LayerNorm GRU layers.
    LnGru(LayerNormGru<B>),
}

/// The recurrent state carried between chunks: `h` `[layers, N, P]` (`P = H` without a
/// projection) and, for an LSTM, `c` `[layers, N, H]`.
pub type Carry<B> = AnyState<B, 3>;

/// Rebuilds a carried state from [`AnyState::tensors`]'s output: `h`, then `c` for an LSTM.
pub fn carry_from_tensors<B: Backend>(mut t: Vec<Tensor<B, 3>>) -> Carry<B> {
    let cell = (t.len() == 2).then(|| t.pop().expect("c"));
    AnyState {
        hidden: t.pop().expect("h"),
        cell,
    }
}

impl CharModelConfig {
    /// The width of `h` and of the read-out's input: `proj_size`, or `hidden` without one.
    pub fn d_output(&self) -> usize {
        match self.proj_size {
            0 => self.hidden,
            p => p,
        }
    }

    /// Creates the model on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> CharModel<B> {
        let (e, h, p) = (self.embedding, self.hidden, self.dropout);
        let reg = &self.regularization;
        let (rnn, zoo) = match self.cell {
            Cell::Kernel(kind) => {
                let rnn = AnyRecurrentConfig::new(kind, e, h)
                    .with_num_layers(self.layers)
                    .with_dropout(p)
                    .with_regularization(reg.clone())
                    .with_proj_size(self.proj_size)
                    .with_peephole(self.peephole)
                    .init(device);
                (Some(rnn), None)
            }
            Cell::MinGru => {
                let layers = MinGruConfig::new(e, h)
                    .with_num_layers(self.layers)
                    .with_dropout(p)
                    .with_regularization(reg.clone())
                    .init(device);
                (None, Some(ZooLayers::MinGru(layers)))
            }
            Cell::MinLstm => {
                let layers = MinLstmConfig::new(e, h)
                    .with_num_layers(self.layers)
                    .with_dropout(p)
                    .with_regularization(reg.clone())
                    .init(device);
                (None, Some(ZooLayers::MinLstm(layers)))
            }
            Cell::LnLstm => {
                let layers = LayerNormLstmConfig::new(e, h)
                    .with_num_layers(self.layers)
                    .with_dropout(p)
                    .with_regularization(reg.clone())
                    .init(device);
                (None, Some(ZooLayers::LnLstm(layers)))
            }
            Cell::LnGru => {
                let layers = LayerNormGruConfig::new(e, h)
                    .with_num_layers(self.layers)
                    .with_dropout(p)
                    .with_regularization(reg.clone())
                    .init(device);
                (None, Some(ZooLayers::LnGru(layers)))
            }
        };
        CharModel {
            embedding: EmbeddingConfig::new(self.vocab, e).init(device),
            rnn,
            zoo,
            dropout: DropoutConfig::new(p).init(),
            head: LinearConfig::new(self.d_output(), self.vocab).init(device),
        }
    }
}

impl<B: burn_rnn::RnnBackend> CharModel<B> {
    /// # Shapes
    /// - `ids`: `[N, L]` character ids
    /// - returns logits `[N, L, vocab]` and the final state
    pub fn forward(
        &self,
        ids: Tensor<B, 2, Int>,
        state: Option<Carry<B>>,
    ) -> (Tensor<B, 3>, Carry<B>) {
        let x = self.embedding.forward(ids);
        let (output, state) = match (&self.rnn, &self.zoo) {
            (Some(rnn), _) => {
                let out = rnn.forward(x, state);
                (out.output, out.state)
            }
            (None, Some(zoo)) => {
                let hidden_only = |s: Carry<B>| RnnState::new(s.hidden);
                let out = match zoo {
                    ZooLayers::MinGru(m) => m.forward(x, state.map(hidden_only)),
                    ZooLayers::MinLstm(m) => m.forward(x, state.map(hidden_only)),
                    ZooLayers::LnGru(m) => m.forward(x, state.map(hidden_only)),
                    ZooLayers::LnLstm(m) => {
                        let state = state.map(|s| {
                            let cell = s.cell.unwrap_or_else(|| s.hidden.zeros_like());
                            LstmState::from_hidden_and_cell(s.hidden, cell)
                        });
                        let out = m.forward(x, state);
                        let carry = AnyState {
                            hidden: out.state.hidden,
                            cell: Some(out.state.cell),
                        };
                        return (self.head.forward(self.dropout.forward(out.output)), carry);
                    }
                };
                let carry = AnyState {
                    hidden: out.state.hidden,
                    cell: None,
                };
                (out.output, carry)
            }
            (None, None) => unreachable!("a model has recurrent layers"),
        };
        (self.head.forward(self.dropout.forward(output)), state)
    }
}
