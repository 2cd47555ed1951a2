//! One-time-step cells: the single home of each cell's math.
//!
//! A cell's step is split in two so that layers can hoist work out of the time loop:
//! [`Cell::project_input`] applies the input weights to many time steps in one matmul, and
//! [`Cell::step`] does the recurrent part of one step. A cell's own `forward` is just the two
//! called back to back, and the layers' reference path unrolls [`Cell::step`]. The math after
//! the matmuls lives in [`crate::math`] (`lstm_step`, `gru_step`, `rnn_step`), which the
//! kernels' plain-ops reference calls too; the fused kernels implement the same formulas and
//! are tested against it.

/// The [`Cell`] methods the three built-in cells share: their sizes and fused weights, read
/// from the fields every one of them has (`d_input`, `d_hidden`, `weight_ih`, `weight_hh`).
macro_rules! fused_cell_params {
    () => {
        fn d_input(&self) -> usize {
            self.d_input
        }

        fn d_hidden(&self) -> usize {
            self.d_hidden
        }

        fn weight_ih(&self) -> Tensor<B, 2> {
            self.weight_ih.val()
        }

        fn weight_hh(&self) -> Tensor<B, 2> {
            self.weight_hh.val()
        }
    };
}

mod gru;
mod lstm;
mod rnn;
mod state;

pub use gru::{GruCell, GruCellConfig};
pub use lstm::{LstmCell, LstmCellConfig};
pub use rnn::{RnnCell, RnnCellConfig};
pub use state::{CellState, GruState, LstmState, RnnState, StateShapeError};

use burn::module::{Initializer, Module, Param};
use burn::tensor::{backend::Backend, Tensor};

use crate::math::{self, RecurrentKind};

/// What a recurrent layer needs from a cell: the hoisted input projection and one step.
///
/// Implemented by [`RnnCell`], [`LstmCell`] and [`GruCell`]; the layer
/// [`Recurrent`](crate::Recurrent) is generic over it. A cell of your own implements it too:
/// the layers then run it by unrolling [`Cell::step`] over time (its [`Cell::kind`] is `None`),
/// with stacking, directions, lengths and dropout as for the built-in cells, and Burn's
/// autodiff does backpropagation through time.
pub trait Cell<B: Backend>: Module<B> + core::fmt::Debug {
    /// The per-step state: `[N, H]` tensors.
    type State: CellState<B>;

    /// The number of gate blocks `G` stacked in the fused weights (1, 4 or 3).
    const GATES: usize;

    /// The cell kind in PyTorch's words, used in messages (e.g. `"LSTMCell"`).
    const NAME: &'static str;

    /// The matching layer's name in PyTorch's words, used in messages (e.g. `"LSTM"`).
    const LAYER_NAME: &'static str;

    /// Input features `H_in`.
    fn d_input(&self) -> usize;

    /// Hidden size `H`.
    fn d_hidden(&self) -> usize;

    /// Applies the input weights to any number of rows at once.
    ///
    /// # Shapes
    /// - `x`: `[M, H_in]` (for a layer `M = L * N`, every time step in one matmul)
    /// - returns `[M, G*H]`: `x W_ih^T + b_ih`, plus `b_hh` where the cell's math allows
    ///   folding it in (RNN, LSTM).
    fn project_input(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        math::linear(x, self.weight_ih(), self.input_bias())
    }

    /// The input weights in PyTorch's layout, `[G*H, H_in]`.
    fn weight_ih(&self) -> Tensor<B, 2>;

    /// The bias of [`Cell::project_input`], `[G*H]`: `b_ih + b_hh` where the cell's math allows
    /// folding `b_hh` in (RNN, LSTM), else `b_ih`; `None` without biases.
    fn input_bias(&self) -> Option<Tensor<B, 1>>;

    /// One recurrent step from an already projected input.
    ///
    /// # Shapes
    /// - `gates_x`: `[N, G*H]`, one time step of [`Cell::project_input`]'s output
    /// - `weight_hh_t`: `[H, G*H]`, the transposed hidden weights (transposed once per
    ///   sequence by the caller, see [`Cell::weight_hh_t`])
    /// - `state`: `[N, H]` tensors; returns the new state, same shapes
    fn step(
        &self,
        gates_x: Tensor<B, 2>,
        weight_hh_t: &Tensor<B, 2>,
        state: Self::State,
    ) -> Self::State;

    /// The hidden weights transposed, `[H, G*H]`, ready for `h W_hh^T`.
    fn weight_hh_t(&self) -> Tensor<B, 2> {
        self.weight_hh().transpose()
    }

    /// The hidden weights in PyTorch's layout, `[G*H, H]`.
    fn weight_hh(&self) -> Tensor<B, 2>;

    /// The bias added to `h W_hh^T` at every step, `[G*H]`: GRU's `b_hh`; `None` for cells
    /// whose [`Cell::project_input`] folds `b_hh` in (RNN, LSTM) or that have no bias.
    fn step_bias(&self) -> Option<Tensor<B, 1>>;

    /// The math the whole-sequence kernels run for this cell
    /// ([`RnnBackend`](crate::kernels::RnnBackend)), or `None` (the default) for a cell the
    /// kernels do not know: the layers then unroll [`Cell::step`].
    fn kind(&self) -> Option<RecurrentKind> {
        None
    }
}

/// Parameters shared by the three cells, in PyTorch's layout.
///
/// Kept private: each cell exposes its own fields so the gate order is written on each.
pub(crate) fn init_weights<B: Backend>(
    gates: usize,
    d_input: usize,
    d_hidden: usize,
    bias: bool,
    initializer: &Option<Initializer>,
    device: &B::Device,
) -> Weights<B> {
    let initializer = initializer
        .clone()
        .unwrap_or_else(|| pytorch_default_init(d_hidden));
    let rows = gates * d_hidden;
    let init_bias =
        || bias.then(|| initializer.init_with([rows], Some(d_hidden), Some(rows), device));
    Weights {
        weight_ih: initializer.init_with([rows, d_input], Some(d_input), Some(rows), device),
        weight_hh: initializer.init_with([rows, d_hidden], Some(d_hidden), Some(rows), device),
        bias_ih: init_bias(),
        bias_hh: init_bias(),
    }
}

/// PyTorch's default for every recurrent parameter: U(-1/sqrt(H), 1/sqrt(H)).
pub(crate) fn pytorch_default_init(d_hidden: usize) -> Initializer {
    let k = 1.0 / (d_hidden as f64).sqrt();
    Initializer::Uniform { min: -k, max: k }
}

pub(crate) struct Weights<B: Backend> {
    pub weight_ih: Param<Tensor<B, 2>>,
    pub weight_hh: Param<Tensor<B, 2>>,
    pub bias_ih: Option<Param<Tensor<B, 1>>>,
    pub bias_hh: Option<Param<Tensor<B, 1>>>,
}

/// Checks a step input `[N, H_in]` against the cell, panicking with both shapes.
fn check_step_input(name: &str, x: &[usize; 2], d_input: usize) {
    assert!(
        x[1] == d_input,
        "{name}: expected input of shape [batch, {d_input}], got {x:?} \
         (input feature size: expected {d_input}, got {})",
        x[1]
    );
}

/// One step of a cell from a raw input: the checks, then [`Cell::project_input`] and
/// [`Cell::step`]. Every cell's `forward` is this.
pub(crate) fn forward_step<B: Backend, C: Cell<B>>(
    cell: &C,
    x: Tensor<B, 2>,
    state: Option<C::State>,
) -> C::State {
    let dims = x.dims();
    check_step_input(C::NAME, &dims, cell.d_input());
    let state = step_state(C::NAME, state, dims[0], cell.d_hidden(), &x.device());
    let gates_x = cell.project_input(x);
    cell.step(gates_x, &cell.weight_hh_t(), state)
}

/// The given state checked against `[batch, hidden]`, or the zero state.
fn step_state<B: Backend, S: CellState<B>>(
    name: &str,
    state: Option<S>,
    batch: usize,
    hidden: usize,
    device: &B::Device,
) -> S {
    match state {
        None => S::zeros(batch, hidden, device),
        Some(s) => {
            if let Err(e) = s.check_dims([batch, hidden]) {
                panic!("{name}: {e}");
            }
            s
        }
    }
}

/// `b_ih + b_hh` (either may be absent): the input bias of cells whose math lets `b_hh` be
/// added once for all time steps (RNN, LSTM).
pub(crate) fn folded_bias<B: Backend>(
    bias_ih: &Option<Param<Tensor<B, 1>>>,
    bias_hh: &Option<Param<Tensor<B, 1>>>,
) -> Option<Tensor<B, 1>> {
    match (bias_ih, bias_hh) {
        (Some(a), Some(b)) => Some(a.val() + b.val()),
        (Some(a), None) => Some(a.val()),
        (None, Some(b)) => Some(b.val()),
        (None, None) => None,
    }
}
