//! Whole-sequence layers: stacking, directions, variable lengths, and the unroll over time.
//!
//! [`Recurrent`] is one layer type generic over the [`Cell`]; [`Rnn`], [`Lstm`] and [`Gru`] are
//! its three instances, built from [`RnnConfig`], [`LstmConfig`] and [`GruConfig`].

mod any;
mod config;
mod regularize;

pub use any::{AnyCell, AnyRecurrent, AnyRecurrentConfig, AnyState};
pub use config::{
    ConfigError, GruConfig, LayerNormGruConfig, LayerNormLstmConfig, LstmConfig, MinGruConfig,
    MinLstmConfig, RnnConfig,
};
pub use regularize::Regularization;

use core::marker::PhantomData;

use burn::module::Module;
use burn::nn::Dropout;
use std::sync::Arc;

use burn::tensor::{backend::Backend, Tensor};

use crate::cell::{
    Cell, CellState, GruCell, LstmCell, MinGruCell, MinLstmCell, RnnCell, StateShapeError,
};
use crate::kernels::{self, reference, ExecutionPath, RnnBackend, Spec};

/// A stack of recurrent layers over whole sequences, PyTorch's `nn.RNN`/`nn.LSTM`/`nn.GRU`.
///
/// Use it through [`Rnn`], [`Lstm`] or [`Gru`]. The cells are stored in PyTorch's order,
/// `cells[layer * D + direction]`; the cells of layer 0 take `H_in` features, the others
/// `D * H` (both directions of the layer below, concatenated).
///
/// Equivalent naive loop, per layer and direction (the layer runs the input projection of all
/// time steps as one op, then the whole recurrence as one op, [`crate::kernels`]):
/// ```text
/// for t in 0..L (or L-1 down to 0 for the reverse direction):
///     state = cell.forward(x[t], state)     // frozen once t >= lengths[n]
///     out[t] = state.h                      // zero once t >= lengths[n]
/// ```
#[derive(Module, Debug)]
pub struct Recurrent<B: Backend, C> {
    /// The cells, index `layer * D + direction`.
    pub(crate) cells: Vec<C>,
    /// Dropout on the outputs of every layer but the last (active only on autodiff backends).
    pub(crate) dropout: Dropout,
    /// Number of stacked layers.
    pub(crate) num_layers: usize,
    /// Whether each layer also runs over the sequence backwards (`D = 2`).
    pub(crate) bidirectional: bool,
    /// `true`: input and output are `[N, L, *]`; `false`: `[L, N, *]`.
    pub(crate) batch_first: bool,
    /// Fused kernels (the default) or the plain-ops reference; see [`Recurrent::with_path`].
    #[module(skip)]
    pub(crate) path: ExecutionPath,
    /// Train-time regularizers; see [`Recurrent::with_regularization`].
    #[module(skip)]
    pub(crate) regularization: Regularization,
    pub(crate) phantom: PhantomData<B>,
}

/// A vanilla (Elman) RNN layer stack, PyTorch's `nn.RNN`, built by [`RnnConfig`].
///
/// Per layer and direction, for each time step:
/// ```text
/// h_t = act(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh)      act = tanh (default) or relu
/// ```
///
/// Parameters per cell ([`RnnCell`]): `weight_ih [H, H_in]` (`[H, D*H]` above layer 0),
/// `weight_hh [H, H]`, `bias_ih [H]`, `bias_hh [H]`.
///
/// # Shapes
/// | letter | meaning |
/// | --- | --- |
/// | `N` | batch size |
/// | `L` | sequence length |
/// | `D` | directions: 2 if bidirectional, else 1 |
/// | `H_in` | input features |
/// | `H` | hidden size |
///
/// - input `[N, L, H_in]` (`batch_first`, the default) or `[L, N, H_in]`
/// - output `[N, L, D*H]` (or `[L, N, D*H]`), the forward direction's features first
/// - states `[num_layers*D, N, H]`, index `layer * D + direction`
///
/// The state is an [`RnnState`](crate::RnnState) `{ hidden }`.
pub type Rnn<B> = Recurrent<B, RnnCell<B>>;

/// An LSTM layer stack, PyTorch's `nn.LSTM`, built by [`LstmConfig`].
///
/// Per layer and direction, for each time step, gates in PyTorch's order `i, f, g, o`:
/// ```text
/// i = σ(W_ii x + b_ii + W_hi h + b_hi)
/// f = σ(W_if x + b_if + W_hf h + b_hf)
/// g = tanh(W_ig x + b_ig + W_hg h + b_hg)
/// o = σ(W_io x + b_io + W_ho h + b_ho)
/// c' = f * c + i * g
/// h' = o * tanh(c')
/// ```
///
/// Parameters per cell ([`LstmCell`]): `weight_ih [4*H, H_in]` (`[4*H, D*P]` above layer 0),
/// `weight_hh [4*H, P]`, `bias_ih [4*H]`, `bias_hh [4*H]`, gate blocks stacked `i, f, g, o`,
/// and with a projection ([`LstmConfig::proj_size`]) `weight_hr [P, H]`: then
/// `h' = W_hr (o * tanh(c'))`, as PyTorch's `proj_size` (Sak et al., 2014). Without one,
/// `P = H`. On the fused path a projected layer runs the LSTM kernel over `m = o * tanh(c)`
/// with the folded recurrent weight `W_hh W_hr` (`[4*H, H]`), then projects every step at once.
///
/// # Shapes
/// | letter | meaning |
/// | --- | --- |
/// | `N` | batch size |
/// | `L` | sequence length |
/// | `D` | directions: 2 if bidirectional, else 1 |
/// | `H_in` | input features |
/// | `H` | hidden size |
/// | `P` | projection size (`proj_size`), `H` without a projection |
///
/// - input `[N, L, H_in]` (`batch_first`, the default) or `[L, N, H_in]`
/// - output `[N, L, D*P]` (or `[L, N, D*P]`), the forward direction's features first
/// - states: `hidden` `[num_layers*D, N, P]` and `cell` `[num_layers*D, N, H]`, index
///   `layer * D + direction`
///
/// The state is an [`LstmState`](crate::LstmState) `{ hidden, cell }`; build one with named
/// fields or [`LstmState::from_hidden_and_cell`](crate::LstmState::from_hidden_and_cell)
/// (`burn::nn`'s `LstmState::new` takes the cell state first).
pub type Lstm<B> = Recurrent<B, LstmCell<B>>;

/// A GRU layer stack, PyTorch's `nn.GRU`, built by [`GruConfig`].
///
/// Per layer and direction, for each time step, gates in PyTorch's order `r, z, n`; the reset
/// gate multiplies `W_hn h + b_hn` (PyTorch's and cuDNN's form):
/// ```text
/// r = σ(W_ir x + b_ir + W_hr h + b_hr)
/// z = σ(W_iz x + b_iz + W_hz h + b_hz)
/// n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
/// h' = (1 - z) * n + z * h
/// ```
///
/// Parameters per cell ([`GruCell`]): `weight_ih [3*H, H_in]` (`[3*H, D*H]` above layer 0),
/// `weight_hh [3*H, H]`, `bias_ih [3*H]`, `bias_hh [3*H]`, gate blocks stacked `r, z, n`.
///
/// # Shapes
/// | letter | meaning |
/// | --- | --- |
/// | `N` | batch size |
/// | `L` | sequence length |
/// | `D` | directions: 2 if bidirectional, else 1 |
/// | `H_in` | input features |
/// | `H` | hidden size |
///
/// - input `[N, L, H_in]` (`batch_first`, the default) or `[L, N, H_in]`
/// - output `[N, L, D*H]` (or `[L, N, D*H]`), the forward direction's features first
/// - states `[num_layers*D, N, H]`, index `layer * D + direction`
///
/// The state is a [`GruState`](crate::GruState) `{ hidden }`.
pub type Gru<B> = Recurrent<B, GruCell<B>>;

/// A LayerNorm LSTM layer stack (Haste's formulation), built by [`LayerNormLstmConfig`]; see
/// [`LayerNormLstmCell`](crate::LayerNormLstmCell) for the equations. Runs step by step in
/// plain ops on every backend.
///
/// Parameters per cell: `weight_ih [4*H, H_in]` (`[4*H, D*H]` above layer 0), `weight_hh
/// [4*H, H]`, the norms' `gamma_ih`, `beta_ih`, `gamma_hh`, `beta_hh [4*H]` and `gamma_c`,
/// `beta_c [H]`.
///
/// # Shapes
/// - input `[N, L, H_in]` (`batch_first`, the default) or `[L, N, H_in]`
/// - output `[N, L, D*H]`; states `hidden` and `cell` `[num_layers*D, N, H]`
pub type LayerNormLstm<B> = Recurrent<B, crate::LayerNormLstmCell<B>>;

/// A LayerNorm GRU layer stack (Haste's formulation), built by [`LayerNormGruConfig`]; see
/// [`LayerNormGruCell`](crate::LayerNormGruCell) for the equations. Runs step by step in plain
/// ops on every backend.
///
/// Parameters per cell: `weight_ih [3*H, H_in]` (`[3*H, D*H]` above layer 0), `weight_hh
/// [3*H, H]`, the norms' `gamma_ih`, `beta_ih`, `gamma_hh`, `beta_hh [3*H]`.
///
/// # Shapes
/// - input `[N, L, H_in]` (`batch_first`, the default) or `[L, N, H_in]`
/// - output `[N, L, D*H]`; states `[num_layers*D, N, H]`
pub type LayerNormGru<B> = Recurrent<B, crate::LayerNormGruCell<B>>;

/// A minGRU layer stack (Feng et al., 2024), built by [`MinGruConfig`]; see [`MinGruCell`]
/// for the equations. The fused path runs each layer and direction as one parallel scan over
/// the sequence, the reference path step by step; both give the same outputs and gradients.
///
/// Parameters per cell: `weight_ih [2*H, H_in]` (`[2*H, D*H]` above layer 0, blocks `h, z`)
/// and `bias_ih [2*H]`.
///
/// # Shapes
/// - input `[N, L, H_in]` (`batch_first`, the default) or `[L, N, H_in]`
/// - output `[N, L, D*H]` (or `[L, N, D*H]`); states `[num_layers*D, N, H]`
pub type MinGru<B> = Recurrent<B, MinGruCell<B>>;

/// A minLSTM layer stack (Feng et al., 2024), built by [`MinLstmConfig`]; see
/// [`MinLstmCell`] for the equations. The fused path runs each layer and direction as one
/// parallel scan over the sequence, the reference path step by step.
///
/// Parameters per cell: `weight_ih [3*H, H_in]` (`[3*H, D*H]` above layer 0, blocks
/// `h, f, i`) and `bias_ih [3*H]`.
///
/// # Shapes
/// - input `[N, L, H_in]` (`batch_first`, the default) or `[L, N, H_in]`
/// - output `[N, L, D*H]` (or `[L, N, D*H]`); states `[num_layers*D, N, H]`
pub type MinLstm<B> = Recurrent<B, MinLstmCell<B>>;

/// The layer-level state of a cell kind: `[num_layers*D, N, H]` tensors.
pub type LayerState<B, C> = <<C as Cell<B>>::State as CellState<B>>::Layer;

/// The input of [`Recurrent::forward_with`]: a batch of sequences, an optional initial state
/// and optional per-sequence lengths.
#[derive(Debug, Clone)]
pub struct RecurrentInput<B: Backend, S> {
    /// The sequences: `[N, L, H_in]` (batch first) or `[L, N, H_in]`.
    pub input: Tensor<B, 3>,
    /// The initial state, `[num_layers*D, N, H]` tensors; `None` is zeros.
    pub state: Option<S>,
    /// One length per sequence, each in `1..=L`; `None` means all are `L` long. Past its
    /// length a sequence's state is frozen and its outputs are zero, as with PyTorch's
    /// `pack_padded_sequence`.
    pub lengths: Option<Vec<usize>>,
}

impl<B: Backend, S> RecurrentInput<B, S> {
    /// Sequences `[N, L, H_in]` (or `[L, N, H_in]`), zero initial state, full lengths.
    pub fn new(input: Tensor<B, 3>) -> Self {
        Self {
            input,
            state: None,
            lengths: None,
        }
    }

    /// With an initial state `[num_layers*D, N, H]`.
    pub fn with_state(mut self, state: S) -> Self {
        self.state = Some(state);
        self
    }

    /// With one length per sequence (`N` values, each in `1..=L`).
    pub fn with_lengths(mut self, lengths: Vec<usize>) -> Self {
        self.lengths = Some(lengths);
        self
    }
}

/// What a layer returns: the outputs of the last layer and the final states of all layers.
#[derive(Debug, Clone)]
pub struct RecurrentOutput<B: Backend, S> {
    /// The last layer's hidden states at every step: `[N, L, D*H]` (batch first) or
    /// `[L, N, D*H]`; the forward direction's features come first. Zero past a sequence's
    /// length.
    pub output: Tensor<B, 3>,
    /// The final state of every layer and direction: `[num_layers*D, N, H]` tensors, index
    /// `layer * D + direction`. With lengths, each sequence's own last step (forward) or
    /// first step (reverse).
    pub state: S,
}

impl<B: Backend, C: Cell<B>> Recurrent<B, C> {
    /// Builds a layer from its cells, `cells[layer * D + direction]`: how a layer of a cell of
    /// your own is made (the configs build the built-in ones).
    ///
    /// The cells of layer 0 take the sequence's `H_in` features, the others `D * H`; every
    /// cell has the same hidden size `H`.
    ///
    /// # Panics
    /// If there are not `num_layers * D` cells, or their sizes do not chain as above; the
    /// message names the cell and both sizes.
    pub fn from_cells(
        cells: Vec<C>,
        dropout: Dropout,
        num_layers: usize,
        bidirectional: bool,
        batch_first: bool,
    ) -> Self {
        let name = C::LAYER_NAME;
        let dirs = if bidirectional { 2 } else { 1 };
        assert!(
            num_layers > 0 && cells.len() == num_layers * dirs,
            "{name}: expected num_layers * D = {} cells, got {}",
            num_layers * dirs,
            cells.len()
        );
        let (hidden, output) = (cells[0].d_hidden(), cells[0].d_output());
        for (index, cell) in cells.iter().enumerate() {
            assert!(
                cell.d_hidden() == hidden,
                "{name}: cell {index}: expected hidden size {hidden}, got {}",
                cell.d_hidden()
            );
            assert!(
                cell.d_output() == output,
                "{name}: cell {index}: expected output size {output}, got {}",
                cell.d_output()
            );
            if index >= dirs {
                assert!(
                    cell.d_input() == dirs * output,
                    "{name}: cell {index}: expected input size D * {} = {}, got {}",
                    if output == hidden { "H" } else { "P" },
                    dirs * output,
                    cell.d_input()
                );
            }
        }
        Self {
            cells,
            dropout,
            num_layers,
            bidirectional,
            batch_first,
            path: ExecutionPath::Fused,
            regularization: Regularization::new(),
            phantom: PhantomData,
        }
    }

    /// The same layer with the train-time regularizers `regularization` (zoneout,
    /// DropConnect on `W_hh`, variational dropout; see [`Regularization`]).
    ///
    /// # Errors
    /// A rate outside `[0, 1)` ([`ConfigError::Rate`]), or a regularizer the cell cannot take
    /// ([`ConfigError::Regularizer`]): `weight_drop` without a recurrent weight
    /// ([`Cell::has_recurrent_weight`]), `zoneout_cell` without a cell state
    /// ([`Cell::has_cell_state`]).
    pub fn with_regularization(self, regularization: Regularization) -> Result<Self, ConfigError> {
        self.regularized(C::LAYER_NAME, regularization)
    }

    /// [`Recurrent::with_regularization`], naming the layer `module` in errors.
    pub(crate) fn regularized(
        mut self,
        module: &'static str,
        regularization: Regularization,
    ) -> Result<Self, ConfigError> {
        regularization.check(module, &self.cells[0])?;
        self.regularization = regularization;
        Ok(self)
    }

    /// The train-time regularizers ([`Recurrent::with_regularization`]).
    pub fn regularization(&self) -> &Regularization {
        &self.regularization
    }

    /// The same layer running on `path`: [`ExecutionPath::Fused`] (the default; the backend's
    /// whole-sequence kernels) or [`ExecutionPath::Reference`] (the plain-ops unroll).
    pub fn with_path(mut self, path: ExecutionPath) -> Self {
        self.path = path;
        self
    }

    /// Number of stacked layers.
    pub fn num_layers(&self) -> usize {
        self.num_layers
    }

    /// Whether each layer also runs over the sequence backwards (`D = 2`).
    pub fn bidirectional(&self) -> bool {
        self.bidirectional
    }

    /// `true`: input and output are `[N, L, *]`; `false`: `[L, N, *]`.
    pub fn batch_first(&self) -> bool {
        self.batch_first
    }

    /// The dropout probability on the outputs of every layer but the last.
    pub fn dropout(&self) -> f64 {
        self.dropout.prob
    }

    /// The path [`Recurrent::forward`] takes ([`Recurrent::with_path`]).
    pub fn path(&self) -> ExecutionPath {
        self.path
    }

    /// Every cell, index `layer * D + direction`.
    pub fn cells(&self) -> &[C] {
        &self.cells
    }

    /// Number of directions `D`: 2 if bidirectional, else 1.
    pub fn num_directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Input features `H_in`.
    pub fn d_input(&self) -> usize {
        self.cells[0].d_input()
    }

    /// Hidden size `H`.
    pub fn d_hidden(&self) -> usize {
        self.cells[0].d_hidden()
    }

    /// Output size per direction: `P` for an LSTM with a projection, else `H`
    /// ([`Cell::d_output`]). The output has `D * d_output` features.
    pub fn d_output(&self) -> usize {
        self.cells[0].d_output()
    }

    /// The cell of one layer and direction (0 forward, 1 reverse).
    pub fn cell(&self, layer: usize, direction: usize) -> &C {
        &self.cells[layer * self.num_directions() + direction]
    }

    /// [`Recurrent::forward_with`] on the plain-ops reference path, for any backend.
    ///
    /// # Shapes
    /// As [`Recurrent::forward_with`].
    ///
    /// # Panics
    /// As [`Recurrent::forward_with`].
    pub fn forward_reference(
        &self,
        input: RecurrentInput<B, LayerState<B, C>>,
    ) -> RecurrentOutput<B, LayerState<B, C>> {
        self.run(input, unroll::<B, C>)
    }

    /// Checks an input's shape against the layer and returns `(N, L)`.
    ///
    /// # Panics
    /// If the feature size is not `H_in` or the input is empty, naming both shapes.
    fn check_input(&self, dims: &[usize; 3]) -> (usize, usize) {
        let name = C::LAYER_NAME;
        let (batch, seq, layout) = match self.batch_first {
            true => (dims[0], dims[1], "[batch, seq, input]"),
            false => (dims[1], dims[0], "[seq, batch, input]"),
        };
        let d_input = self.d_input();
        if dims[2] != d_input {
            panic!(
                "{name}: expected input of shape {layout} with input = {d_input}, got {dims:?} \
                 (input feature size: expected {d_input}, got {})",
                dims[2]
            );
        }
        assert!(
            seq > 0 && batch > 0,
            "{name}: expected a non-empty input, got shape {dims:?}"
        );
        (batch, seq)
    }

    /// The stacking, directions and checks around one direction's whole-sequence function.
    fn run(
        &self,
        input: RecurrentInput<B, LayerState<B, C>>,
        direction_fn: impl Fn(&C, Direction<B>, C::State) -> (Tensor<B, 3>, C::State),
    ) -> RecurrentOutput<B, LayerState<B, C>> {
        let name = C::LAYER_NAME;
        let x = input.input;
        let (batch, seq) = self.check_input(&x.dims());
        let (d_hidden, d_output, dirs) = (self.d_hidden(), self.d_output(), self.num_directions());
        let device = x.device();
        let lengths = input
            .lengths
            .as_deref()
            .and_then(|lengths| check_lengths(name, lengths, batch, seq));
        let layers = self.num_layers * dirs;
        let mut initial = initial_states::<B, C>(input.state, [layers, batch, d_output], d_hidden);
        let reg = &self.regularization;
        let training = B::ad_enabled(&device);
        let zoneout = reg.zoneout(training);

        // Time-major from here on: each step's slice is contiguous.
        let mut layer_input = if self.batch_first {
            x.swap_dims(0, 1)
        } else {
            x
        };
        if training && reg.input_dropout > 0.0 {
            layer_input = regularize::variational_dropout(layer_input, reg.input_dropout);
        }
        let mut finals = Vec::with_capacity(layers);
        for layer in 0..self.num_layers {
            if layer > 0 {
                layer_input = self.dropout.forward(layer_input);
            }
            let mut outputs = Vec::with_capacity(dirs);
            for direction in 0..dirs {
                let index = layer * dirs + direction;
                let dropped;
                let cell = match training && reg.weight_drop > 0.0 {
                    false => &self.cells[index],
                    true => {
                        let p = reg.weight_drop;
                        dropped = self.cells[index]
                            .map_recurrent_weight(&mut |w| regularize::drop_connect(w, p))
                            .unwrap_or_else(|| {
                                panic!("{name}: weight_drop needs a recurrent weight W_hh")
                            });
                        &dropped
                    }
                };
                let state = initial[index]
                    .take()
                    .unwrap_or_else(|| C::State::zeros_sized(batch, d_output, d_hidden, &device));
                let run = Direction {
                    input: layer_input.clone(),
                    lengths: lengths.clone(),
                    reverse: direction == 1,
                    zoneout,
                };
                let (output, last) = direction_fn(cell, run, state);
                outputs.push(output);
                finals.push(last);
            }
            layer_input = if outputs.len() == 1 {
                outputs.pop().expect("one direction")
            } else {
                Tensor::cat(outputs, 2)
            };
            if training && reg.output_dropout > 0.0 {
                layer_input = regularize::variational_dropout(layer_input, reg.output_dropout);
            }
        }
        let output = if self.batch_first {
            layer_input.swap_dims(0, 1)
        } else {
            layer_input
        };
        RecurrentOutput {
            output,
            state: C::State::stack(finals),
        }
    }
}

/// The initial state of each layer and direction, checked against `expected`
/// (`[num_layers*D, N, P]` for `h`, `P = H` without a projection) and `d_hidden` (the width of
/// the other parts, an LSTM's `c`); `None` where it starts at zero.
///
/// # Panics
/// If a part's shape is not the expected one, naming both.
fn initial_states<B: Backend, C: Cell<B>>(
    state: Option<LayerState<B, C>>,
    expected: [usize; 3],
    d_hidden: usize,
) -> Vec<Option<C::State>> {
    let name = C::LAYER_NAME;
    let [layers, batch, d_output] = expected;
    let Some(state) = state else {
        return (0..layers).map(|_| None).collect();
    };
    let got = C::State::layer_dims(&state).unwrap_or_else(|e| panic!("{name}: {e}"));
    let width = if d_output == d_hidden {
        "hidden"
    } else {
        "proj_size"
    };
    assert!(
        got == expected,
        "{name}: expected initial state of shape {expected:?} \
         [num_layers*D, batch, {width}], got {got:?}"
    );
    let states = C::State::unstack(state);
    for s in &states {
        if let Err(StateShapeError::Part {
            part,
            expected,
            actual,
        }) = s.check_sized(batch, d_output, d_hidden)
        {
            panic!(
                "{name}: expected initial {part} state of shape {:?}, got {:?}",
                [&[layers][..], &expected].concat(),
                [&[layers][..], &actual].concat()
            );
        }
    }
    states.into_iter().map(Some).collect()
}

/// One layer and direction's share of a [`Recurrent::run`] call.
struct Direction<B: Backend> {
    /// `[L, N, F]`, time-major: the sequence input or the layer below's output.
    input: Tensor<B, 3>,
    /// Per-sequence lengths, `None` when all are `L` long.
    lengths: Option<Arc<[usize]>>,
    /// Run from `t = L - 1` down to `0`.
    reverse: bool,
    /// Zoneout on the state after every step, `None` without.
    zoneout: Option<regularize::Zoneout>,
}

/// One direction by unrolling [`Cell::step`]: the reference path, and the path of every cell
/// the kernels do not know. Returns the output `[L, N, H]` (zero past each length) and the
/// final state.
fn unroll<B: Backend, C: Cell<B>>(
    cell: &C,
    run: Direction<B>,
    state: C::State,
) -> (Tensor<B, 3>, C::State) {
    let [seq, batch, features] = run.input.dims();
    let gates_x = cell.project_input(run.input.clone().reshape([seq * batch, features]));
    let width = gates_x.dims()[1];
    let gates_x = gates_x.reshape([seq, batch, width]);
    unroll_projected(cell, gates_x, run, state)
}

/// [`unroll`] from the projected input `gates_x: [L, N, P]` ([`Cell::project_input`] of every
/// step); `run.input` is not read.
fn unroll_projected<B: Backend, C: Cell<B>>(
    cell: &C,
    gates_x: Tensor<B, 3>,
    run: Direction<B>,
    state: C::State,
) -> (Tensor<B, 3>, C::State) {
    let [seq, batch, _] = gates_x.dims();
    let device = gates_x.device();
    let masks = reference::step_masks::<B>(run.lengths.as_deref(), seq, batch, &device);
    let mut steps: Vec<(usize, Tensor<B, 2>)> = gates_x
        .chunk(seq, 0)
        .into_iter()
        .map(|g| g.squeeze_dim(0))
        .enumerate()
        .collect();
    if run.reverse {
        steps.reverse();
    }
    let mut state = state;
    let mut outputs: Vec<Option<Tensor<B, 2>>> = (0..seq).map(|_| None).collect();
    for (t, gates_t) in steps {
        let mut new = cell.step(gates_t, state.clone());
        if let Some(zoneout) = &run.zoneout {
            new = zoneout.apply(state.clone(), new);
        }
        match &masks {
            None => {
                outputs[t] = Some(new.output());
                state = new;
            }
            Some(masks) => {
                outputs[t] = Some(new.output() * masks[t].clone());
                state = new.select(state, &masks[t]);
            }
        }
    }
    let outputs = outputs
        .into_iter()
        .map(|o| o.expect("every step ran"))
        .collect();
    (Tensor::stack(outputs, 0), state)
}

/// One direction through the backend's whole-sequence primitives ([`kernels::linear`] and
/// [`kernels::sequence`]), for the built-in cells; others are unrolled.
fn fused<B: RnnBackend, C: Cell<B>>(
    cell: &C,
    run: Direction<B>,
    state: C::State,
) -> (Tensor<B, 3>, C::State) {
    let [seq, batch, features] = run.input.dims();
    // Zoneout changes the recurrence the kernels run: such a layer steps the cell.
    let fused = match run.zoneout {
        None => cell.fused(),
        Some(_) => None,
    };
    let Some(fused) = fused else {
        let gates_x = cell.project_input(run.input.clone().reshape([seq * batch, features]));
        let coefficients = match cell.min_kind() {
            Some(kind) => Some(kernels::min_coefficients(kind, gates_x.clone())),
            None => cell.affine(gates_x.clone()),
        };
        if let Some((a, b)) = coefficients {
            let h = cell.d_hidden();
            let (a, b) = (a.reshape([seq, batch, h]), b.reshape([seq, batch, h]));
            let (a, b) = match &run.zoneout {
                Some(zoneout) => zoneout.affine(a, b),
                None => (a, b),
            };
            let (h0, _) = state.into_parts();
            let (output, last) = affine_scan(a, b, h0, run.lengths.as_deref(), run.reverse);
            return (output, C::State::from_parts(last, None));
        }
        let width = gates_x.dims()[1];
        let gates_x = gates_x.reshape([seq, batch, width]);
        return unroll_projected(cell, gates_x, run, state);
    };
    let rows = run.input.reshape([seq * batch, features]);
    let width = fused.kind.gates() * cell.d_hidden();
    let gates_x =
        kernels::linear(rows, fused.weight_ih, fused.input_bias).reshape([seq, batch, width]);
    let (h0, c0) = state.into_parts();
    if let Some(w_hr) = fused.projection {
        let spec = Spec {
            kind: fused.kind,
            lengths: run.lengths,
            reverse: run.reverse,
        };
        return projected(spec, gates_x, fused.weight_hh, w_hr, h0, c0);
    }
    let spec = Spec {
        kind: fused.kind,
        lengths: run.lengths,
        reverse: run.reverse,
    };
    let out = kernels::sequence(&spec, gates_x, fused.weight_hh, fused.step_bias, h0, c0);
    (out.output, C::State::from_parts(out.hidden, out.cell))
}

/// `h_t = a_t * h_(t-1) + b_t` over one direction through [`kernels::linear_scan`], with
/// per-sequence lengths (past its length a sequence's `h` is frozen and its output zero: the
/// step there is the identity, `a = 1`, `b = 0`) and optionally from the end (each sequence
/// from its own last element).
///
/// # Shapes
/// - `a`, `b`: `[L, N, H]`; `h0`: `[N, H]`; `lengths`: `N` values in `1..=L`
/// - returns the outputs `[L, N, H]` and the final `h` `[N, H]`
fn affine_scan<B: RnnBackend>(
    a: Tensor<B, 3>,
    b: Tensor<B, 3>,
    h0: Tensor<B, 2>,
    lengths: Option<&[usize]>,
    reverse: bool,
) -> (Tensor<B, 3>, Tensor<B, 2>) {
    let [seq, batch, hidden] = a.dims();
    let device = a.device();
    let mask = lengths.map(|lengths| {
        let values: Vec<f32> = (0..seq)
            .flat_map(|t| lengths.iter().map(move |&len| f32::from(u8::from(t < len))))
            .collect();
        Tensor::<B, 3>::from_data(
            burn::tensor::TensorData::new(values, [seq, batch, 1]),
            &device,
        )
    });
    let (mut a, mut b) = match &mask {
        None => (a, b),
        Some(m) => ((a - 1.0) * m.clone() + 1.0, b * m.clone()),
    };
    if reverse {
        a = a.flip([0]);
        b = b.flip([0]);
    }
    let flat = |t: Tensor<B, 3>| t.reshape([seq, batch * hidden]);
    let h = kernels::linear_scan(flat(a), flat(b), h0.reshape([batch * hidden]))
        .reshape([seq, batch, hidden]);
    let last = h.clone().slice(seq - 1..seq).squeeze_dim(0);
    let mut out = if reverse { h.flip([0]) } else { h };
    if let Some(m) = mask {
        out = out * m;
    }
    (out, last)
}

/// An LSTM with a projection through the unprojected whole-sequence kernel.
///
/// With `m_t = o_t * tanh(c_t)` and `h_t = W_hr m_t`, the recurrent term is
/// `W_hh h_(t-1) = (W_hh W_hr) m_(t-1)`: the kernel runs an LSTM over `m` with the folded
/// weight `W_hh W_hr: [4*H, H]`, from `m = 0`, with each sequence's first step given
/// `W_hh h_0` in its input projection; then one matmul projects every step's `m` (zero past a
/// sequence's length, as the output must be) and the final `m`. Autodiff differentiates the
/// fold and the projections, so `W_hh` and `W_hr` get their gradients through the kernel's.
///
/// # Shapes
/// - `gates_x`: `[L, N, 4*H]`; `w_hh`: `[4*H, P]`; `w_hr`: `[P, H]`
/// - `h0`: `[N, P]`; `c0`: `[N, H]`
/// - returns the output `[L, N, P]` and the final state (`h [N, P]`, `c [N, H]`)
fn projected<B: RnnBackend, S: CellState<B>>(
    spec: Spec,
    gates_x: Tensor<B, 3>,
    w_hh: Tensor<B, 2>,
    w_hr: Tensor<B, 2>,
    h0: Tensor<B, 2>,
    c0: Option<Tensor<B, 2>>,
) -> (Tensor<B, 3>, S) {
    let [seq, batch, width] = gates_x.dims();
    let d_hidden = width / 4;
    let device = gates_x.device();
    let first = h0.matmul(w_hh.clone().transpose()).unsqueeze_dim::<3>(0); // [1, N, 4H]
    let gates_x = match (&spec.lengths, spec.reverse) {
        (_, false) => {
            let head = gates_x.clone().slice(0..1) + first;
            gates_x.slice_assign(0..1, head)
        }
        (None, true) => {
            let tail = gates_x.clone().slice(seq - 1..seq) + first;
            gates_x.slice_assign(seq - 1..seq, tail)
        }
        (Some(lengths), true) => {
            // Each sequence's first step is its own last element.
            let values: Vec<f32> = (0..seq)
                .flat_map(|t| {
                    lengths
                        .iter()
                        .map(move |&len| if t + 1 == len { 1.0 } else { 0.0 })
                })
                .collect();
            let mask = Tensor::<B, 3>::from_data(
                burn::tensor::TensorData::new(values, [seq, batch, 1]),
                &device,
            );
            gates_x + mask * first
        }
    };
    let folded = w_hh.matmul(w_hr.clone()); // [4H, H]
    let m0 = Tensor::zeros([batch, d_hidden], &device);
    let out = kernels::sequence(&spec, gates_x, folded, None, m0, c0);
    let w_hr_t = w_hr.transpose(); // [H, P]
    let d_output = w_hr_t.dims()[1];
    let output = out
        .output
        .reshape([seq * batch, d_hidden])
        .matmul(w_hr_t.clone())
        .reshape([seq, batch, d_output]);
    (output, S::from_parts(out.hidden.matmul(w_hr_t), out.cell))
}

impl<B: RnnBackend, C: Cell<B>> Recurrent<B, C> {
    /// Runs the layers over whole sequences.
    ///
    /// # Shapes
    /// - `input`: `[N, L, H_in]` if `batch_first` (the default), else `[L, N, H_in]`
    /// - `state`: initial state, `[num_layers*D, N, H]` tensors; `None` is zeros
    /// - returns `output: [N, L, D*H]` (or `[L, N, D*H]`) and the final `state`,
    ///   `[num_layers*D, N, H]` tensors
    ///
    /// # Panics
    /// If the input's feature size is not `H_in`, or the state's shape is not
    /// `[num_layers*D, N, H]`; the message gives the expected and the actual shape.
    pub fn forward(
        &self,
        input: Tensor<B, 3>,
        state: Option<LayerState<B, C>>,
    ) -> RecurrentOutput<B, LayerState<B, C>> {
        self.forward_with(RecurrentInput {
            input,
            state,
            lengths: None,
        })
    }

    /// Runs the layers over whole sequences, with optional per-sequence lengths.
    ///
    /// # Shapes
    /// As [`Recurrent::forward`], plus `lengths`: `N` values in `1..=L`. The outputs past a
    /// sequence's length are zero and its state is frozen there; the reverse direction starts
    /// at each sequence's own last element. This equals PyTorch's `pack_padded_sequence` then
    /// `pad_packed_sequence(total_length = L)`.
    ///
    /// # Panics
    /// As [`Recurrent::forward`], and if `lengths` has not `N` values or one is 0 or over `L`.
    pub fn forward_with(
        &self,
        input: RecurrentInput<B, LayerState<B, C>>,
    ) -> RecurrentOutput<B, LayerState<B, C>> {
        match self.path {
            ExecutionPath::Fused => self.run(input, fused::<B, C>),
            ExecutionPath::Reference => self.run(input, unroll::<B, C>),
        }
    }
}

/// Checks `lengths` and returns them shared, or `None` when every sequence is full length.
fn check_lengths(name: &str, lengths: &[usize], batch: usize, seq: usize) -> Option<Arc<[usize]>> {
    assert!(
        lengths.len() == batch,
        "{name}: expected one length per sequence ({batch}), got {} lengths",
        lengths.len()
    );
    for (n, &len) in lengths.iter().enumerate() {
        assert!(
            (1..=seq).contains(&len),
            "{name}: expected every length in 1..={seq} (the sequence length), got {len} for \
             sequence {n}"
        );
    }
    if lengths.iter().all(|&len| len == seq) {
        return None;
    }
    Some(lengths.into())
}
