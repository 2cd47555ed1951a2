//! A layer whose cell kind is chosen at run time: [`AnyRecurrent`], over [`AnyCell`].

use burn::config::Config;
use burn::module::{Initializer, Module};
use burn::tensor::{backend::Backend, Tensor};

use super::config::Stack;
use super::Recurrent;
use crate::cell::state::{select, unstack3};
use crate::cell::StateShapeError;
use crate::cell::{
    Cell, CellState, FusedCell, GruCell, GruCellConfig, LstmCell, LstmCellConfig, LstmState,
    RnnCell, RnnCellConfig, RnnState,
};
use crate::import::{FusedParams, ParamMut, ParamRef};
use crate::math::CellKind;
use crate::ConfigError;

/// Any of the three built-in cells, chosen at run time (a `CellKind` read from a flag or a
/// config file): the cell of [`AnyRecurrent`].
///
/// It runs exactly as the cell it holds: the fused kernels, PyTorch names and shapes. Its
/// state is an [`AnyState`].
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // the three cells have the same fields
pub enum AnyCell<B: Backend> {
    /// A vanilla RNN cell (tanh or relu).
    Rnn(RnnCell<B>),
    /// An LSTM cell.
    Lstm(LstmCell<B>),
    /// A GRU cell.
    Gru(GruCell<B>),
}

/// A stack of recurrent layers of any built-in cell kind: PyTorch's `nn.RNN`, `nn.LSTM` or
/// `nn.GRU`, with one type, one forward and one state type ([`AnyState`]) for the three.
///
/// Build it with [`AnyRecurrentConfig`], or convert a typed layer: `AnyRecurrent::from(lstm)`.
/// Shapes, parameters and options are those of [`Lstm`](crate::Lstm) and the others; a
/// PyTorch `state_dict` of the matching kind loads by name
/// ([`PytorchParams`](crate::PytorchParams)).
///
/// ```
/// use burn_rnn::{AnyRecurrentConfig, CellKind, backend::DefaultBackend as B};
/// use burn::tensor::{Distribution, Tensor};
///
/// let device = Default::default();
/// let kind: CellKind = "gru".parse().unwrap(); // from a flag, say
/// let layer = AnyRecurrentConfig::new(kind, 8, 16).with_num_layers(2).init::<B>(&device);
/// let x = Tensor::<B, 3>::random([4, 10, 8], Distribution::Default, &device); // [N, L, H_in]
/// let out = layer.forward(x, None);
/// assert_eq!(out.output.dims(), [4, 10, 16]);      // [N, L, D*H]
/// assert_eq!(out.state.hidden.dims(), [2, 4, 16]); // [num_layers*D, N, H]
/// assert!(out.state.cell.is_none());               // an LSTM's would be `Some`
/// ```
pub type AnyRecurrent<B> = Recurrent<B, AnyCell<B>>;

/// The state of an [`AnyCell`] (`D = 2`: `[N, H]`) or an [`AnyRecurrent`] (`D = 3`:
/// `[num_layers*D, N, H]`): the hidden state, and the cell state of an LSTM.
#[derive(Debug, Clone)]
pub struct AnyState<B: Backend, const D: usize> {
    /// The hidden state `h`.
    pub hidden: Tensor<B, D>,
    /// The cell state `c` of an LSTM (`[N, H]` or `[num_layers*D, N, H]`: the shape of
    /// `hidden` unless the LSTM has a projection); `None` for RNN and GRU. An
    /// LSTM started from a state without it starts from `c = 0`.
    pub cell: Option<Tensor<B, D>>,
}

impl<B: Backend, const D: usize> AnyState<B, D> {
    /// The state detached from the autodiff graph (for truncated BPTT).
    pub fn detach(self) -> Self {
        Self {
            hidden: self.hidden.detach(),
            cell: self.cell.map(|c| c.detach()),
        }
    }

    /// The state's tensors: `h`, then `c` for an LSTM.
    pub fn tensors(&self) -> Vec<Tensor<B, D>> {
        core::iter::once(self.hidden.clone())
            .chain(self.cell.clone())
            .collect()
    }
}

impl<B: Backend> CellState<B> for AnyState<B, 2> {
    type Layer = AnyState<B, 3>;

    fn zeros(batch: usize, hidden: usize, device: &B::Device) -> Self {
        Self {
            hidden: Tensor::zeros([batch, hidden], device),
            cell: None,
        }
    }

    fn zeros_sized(batch: usize, output: usize, _hidden: usize, device: &B::Device) -> Self {
        Self::zeros(batch, output, device)
    }

    fn check_sized(
        &self,
        batch: usize,
        output: usize,
        hidden: usize,
    ) -> Result<(), StateShapeError> {
        let parts = [
            ("hidden", Some(&self.hidden), output),
            ("cell", self.cell.as_ref(), hidden),
        ];
        for (part, t, width) in parts {
            let Some(actual) = t.map(|t| t.dims()) else {
                continue;
            };
            if actual != [batch, width] {
                return Err(StateShapeError::Part {
                    part,
                    expected: vec![batch, width],
                    actual: actual.to_vec(),
                });
            }
        }
        Ok(())
    }

    fn output(&self) -> Tensor<B, 2> {
        self.hidden.clone()
    }

    fn into_parts(self) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
        (self.hidden, self.cell)
    }

    fn from_parts(hidden: Tensor<B, 2>, cell: Option<Tensor<B, 2>>) -> Self {
        Self { hidden, cell }
    }

    fn check_dims(&self, expected: [usize; 2]) -> Result<(), StateShapeError> {
        self.check_sized(expected[0], expected[1], expected[1])
    }

    fn select(self, previous: Self, mask: &Tensor<B, 2>) -> Self {
        let cell = match (self.cell, previous.cell) {
            (Some(new), Some(old)) => Some(select(new, old, mask)),
            (Some(new), None) => Some(new * mask.clone()),
            (None, _) => None,
        };
        Self {
            hidden: select(self.hidden, previous.hidden, mask),
            cell,
        }
    }

    fn stack(states: Vec<Self>) -> Self::Layer {
        let (h, c): (Vec<_>, Vec<_>) = states.into_iter().map(|s| (s.hidden, s.cell)).unzip();
        let cell = c.into_iter().collect::<Option<Vec<_>>>();
        AnyState {
            hidden: Tensor::stack(h, 0),
            cell: cell.map(|c| Tensor::stack(c, 0)),
        }
    }

    fn unstack(layer: Self::Layer) -> Vec<Self> {
        let hidden = unstack3(layer.hidden);
        let mut cells = layer.cell.map(unstack3).map(Vec::into_iter);
        hidden
            .into_iter()
            .map(|hidden| Self {
                hidden,
                cell: cells.as_mut().and_then(Iterator::next),
            })
            .collect()
    }

    fn layer_dims(layer: &Self::Layer) -> Result<[usize; 3], StateShapeError> {
        let h = layer.hidden.dims();
        match &layer.cell {
            Some(c) if c.dims()[..2] != h[..2] => Err(StateShapeError::Mismatch {
                hidden: h.to_vec(),
                cell: c.dims().to_vec(),
            }),
            _ => Ok(h),
        }
    }
}

impl<B: Backend> AnyCell<B> {
    /// The kind of the cell it holds.
    pub fn kind(&self) -> CellKind {
        match self {
            AnyCell::Rnn(c) => CellKind::rnn(c.nonlinearity()),
            AnyCell::Lstm(_) => CellKind::Lstm,
            AnyCell::Gru(_) => CellKind::Gru,
        }
    }
}

/// Runs `$body` with `$c` bound to the cell inside, whatever its kind.
macro_rules! each {
    ($cell:expr, $c:ident => $body:expr) => {
        match $cell {
            AnyCell::Rnn($c) => $body,
            AnyCell::Lstm($c) => $body,
            AnyCell::Gru($c) => $body,
        }
    };
}

impl<B: Backend> Cell<B> for AnyCell<B> {
    type State = AnyState<B, 2>;
    const NAME: &'static str = "AnyCell";
    const LAYER_NAME: &'static str = "AnyRecurrent";

    fn d_input(&self) -> usize {
        each!(self, c => c.d_input())
    }

    fn d_hidden(&self) -> usize {
        each!(self, c => c.d_hidden())
    }

    fn d_output(&self) -> usize {
        each!(self, c => c.d_output())
    }

    fn project_input(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        each!(self, c => c.project_input(x))
    }

    fn step(&self, x_t: Tensor<B, 2>, state: Self::State) -> Self::State {
        let hidden = state.hidden;
        match self {
            AnyCell::Rnn(c) => {
                AnyState::from_parts(c.step(x_t, RnnState::new(hidden)).hidden, None)
            }
            AnyCell::Gru(c) => {
                AnyState::from_parts(c.step(x_t, RnnState::new(hidden)).hidden, None)
            }
            AnyCell::Lstm(c) => {
                let cell = state.cell.unwrap_or_else(|| {
                    Tensor::zeros([hidden.dims()[0], c.d_hidden()], &hidden.device())
                });
                let s = c.step(x_t, LstmState::from_hidden_and_cell(hidden, cell));
                AnyState::from_parts(s.hidden, Some(s.cell))
            }
        }
    }

    fn fused(&self) -> Option<FusedCell<B>> {
        each!(self, c => c.fused())
    }

    fn has_cell_state(&self) -> bool {
        matches!(self, AnyCell::Lstm(_))
    }

    fn has_recurrent_weight(&self) -> bool {
        true
    }

    fn map_recurrent_weight(
        &self,
        f: &mut dyn FnMut(Tensor<B, 2>) -> Tensor<B, 2>,
    ) -> Option<Self> {
        Some(match self {
            AnyCell::Rnn(c) => AnyCell::Rnn(c.map_recurrent_weight(f)?),
            AnyCell::Lstm(c) => AnyCell::Lstm(c.map_recurrent_weight(f)?),
            AnyCell::Gru(c) => AnyCell::Gru(c.map_recurrent_weight(f)?),
        })
    }
}

impl<B: Backend> FusedParams<B> for AnyCell<B> {
    fn params(&self) -> Vec<(&'static str, ParamRef<'_, B>)> {
        each!(self, c => c.params())
    }

    fn params_mut(&mut self) -> Vec<(&'static str, ParamMut<'_, B>)> {
        each!(self, c => c.params_mut())
    }
}

/// The same layer with each cell wrapped in [`AnyCell`].
macro_rules! from_typed {
    ($cell:ident, $variant:ident) => {
        impl<B: Backend> From<Recurrent<B, $cell<B>>> for AnyRecurrent<B> {
            fn from(layer: Recurrent<B, $cell<B>>) -> Self {
                Recurrent {
                    cells: layer.cells.into_iter().map(AnyCell::$variant).collect(),
                    dropout: layer.dropout,
                    num_layers: layer.num_layers,
                    bidirectional: layer.bidirectional,
                    batch_first: layer.batch_first,
                    path: layer.path,
                    regularization: layer.regularization,
                    phantom: core::marker::PhantomData,
                }
            }
        }
    };
}

from_typed!(RnnCell, Rnn);
from_typed!(LstmCell, Lstm);
from_typed!(GruCell, Gru);

/// Configuration of an [`AnyRecurrent`]: the cell kind and the settings the three layer
/// configs share ([`RnnConfig`](super::RnnConfig), [`LstmConfig`](super::LstmConfig),
/// [`GruConfig`](super::GruConfig)).
#[derive(Config, Debug)]
pub struct AnyRecurrentConfig {
    /// The cell kind (the vanilla RNN's nonlinearity included).
    pub kind: CellKind,
    /// Input features `H_in`.
    pub d_input: usize,
    /// Hidden size `H`.
    pub d_hidden: usize,
    /// Number of stacked layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Whether the cells have biases.
    #[config(default = true)]
    pub bias: bool,
    /// `true`: input and output are `[N, L, *]`; `false`: `[L, N, *]`.
    #[config(default = true)]
    pub batch_first: bool,
    /// Dropout probability on the outputs of every layer but the last (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether each layer also runs backwards over the sequence.
    #[config(default = false)]
    pub bidirectional: bool,
    /// Initializer of every parameter; `None` is PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
    pub initializer: Option<Initializer>,
    /// The LSTM's projection size `P` ([`LstmConfig::proj_size`](super::LstmConfig::proj_size));
    /// 0 (the default) is none, and the only value the RNN and the GRU take.
    #[config(default = 0)]
    pub proj_size: usize,
    /// The LSTM's diagonal peepholes ([`LstmConfig::peephole`](super::LstmConfig::peephole));
    /// the RNN and the GRU take only `false`.
    #[config(default = false)]
    pub peephole: bool,
    /// Train-time regularizers: zoneout, DropConnect on `W_hh`, variational dropout (all off
    /// by default); see [`Regularization`](super::Regularization).
    #[config(default = "super::Regularization::new()")]
    pub regularization: super::Regularization,
}

impl AnyRecurrentConfig {
    /// Creates an [`AnyRecurrent`] on `device`.
    ///
    /// # Errors
    /// A size or `num_layers` of 0, a `dropout` outside `[0, 1)`, a `proj_size` not below
    /// `d_hidden`, or a `proj_size` or `peephole` on a cell other than the LSTM ([`ConfigError`], naming the layer as
    /// PyTorch does: `RNN`, `LSTM` or `GRU`).
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<AnyRecurrent<B>, ConfigError> {
        let name = self.kind.layer_name();
        for (set, setting) in [
            (self.proj_size != 0, "proj_size"),
            (self.peephole, "peephole"),
        ] {
            if set && self.kind != CellKind::Lstm {
                return Err(ConfigError::Unsupported {
                    module: name,
                    setting,
                });
            }
        }
        let stack = Stack {
            name,
            proj_size: self.proj_size,
            d_input: self.d_input,
            d_hidden: self.d_hidden,
            num_layers: self.num_layers,
            bidirectional: self.bidirectional,
            batch_first: self.batch_first,
            dropout: self.dropout,
            regularization: self.regularization.clone(),
        };
        stack.build(|d_input| self.cell(d_input, device))
    }

    /// Creates an [`AnyRecurrent`] on `device`.
    ///
    /// # Panics
    /// On the settings [`AnyRecurrentConfig::try_init`] refuses, with the same message.
    pub fn init<B: Backend>(&self, device: &B::Device) -> AnyRecurrent<B> {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }

    /// One cell of the stack, taking `d_input` features.
    fn cell<B: Backend>(&self, d_input: usize, device: &B::Device) -> AnyCell<B> {
        let init = self.initializer.clone();
        match self.kind {
            CellKind::Lstm => AnyCell::Lstm(
                LstmCellConfig::new(d_input, self.d_hidden)
                    .with_bias(self.bias)
                    .with_initializer(init)
                    .with_proj_size(self.proj_size)
                    .with_peephole(self.peephole)
                    .init(device),
            ),
            CellKind::Gru => AnyCell::Gru(
                GruCellConfig::new(d_input, self.d_hidden)
                    .with_bias(self.bias)
                    .with_initializer(init)
                    .init(device),
            ),
            CellKind::RnnTanh | CellKind::RnnRelu => AnyCell::Rnn(
                RnnCellConfig::new(d_input, self.d_hidden)
                    .with_bias(self.bias)
                    .with_nonlinearity(self.kind.nonlinearity().unwrap_or_default())
                    .with_initializer(init)
                    .init(device),
            ),
        }
    }
}
