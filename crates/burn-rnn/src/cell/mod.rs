//! One-time-step cells: the single home of each cell's math.
//!
//! A cell's step is split in two so that layers can hoist work out of the time loop:
//! [`Cell::project_input`] applies the input weights to many time steps in one matmul, and
//! [`Cell::step`] does the recurrent part of one step. A cell's own `forward` is just the two
//! called back to back, and the layers' reference path unrolls [`Cell::step`]. The math after
//! the matmuls lives in [`crate::math`] (`lstm_step`, `gru_step`, `rnn_step`), which the
//! kernels' plain-ops reference calls too; the fused kernels implement the same formulas and
//! are tested against it.

/// The parameter getters and sizes the three built-in cells share: each has the fields
/// `weight_ih`, `weight_hh`, `bias_ih` and `bias_hh`, and reads its sizes from the weights.
macro_rules! builtin_cell_params {
    ($cell:ident, $gates:literal, $order:literal) => {
        builtin_cell_params!($cell, $gates, $order, "H");
    };
    ($cell:ident, $gates:literal, $order:literal, $hh_cols:literal) => {
        impl<B: Backend> $cell<B> {
            #[doc = concat!("Input weights `[", $gates, "*H, H_in]`, gate blocks ", $order, ".")]
            pub fn weight_ih(&self) -> &Param<Tensor<B, 2>> {
                &self.weight_ih
            }

            #[doc = concat!("Hidden weights `[", $gates, "*H, ", $hh_cols, "]`, gate blocks ", $order, ".")]
            pub fn weight_hh(&self) -> &Param<Tensor<B, 2>> {
                &self.weight_hh
            }

            #[doc = concat!("Input bias `[", $gates, "*H]` (", $order, "), if the cell has biases.")]
            pub fn bias_ih(&self) -> Option<&Param<Tensor<B, 1>>> {
                self.bias_ih.as_ref()
            }

            #[doc = concat!("Hidden bias `[", $gates, "*H]` (", $order, "), if the cell has biases.")]
            pub fn bias_hh(&self) -> Option<&Param<Tensor<B, 1>>> {
                self.bias_hh.as_ref()
            }

            /// Input features `H_in`, read from `weight_ih` (without initializing it).
            pub fn d_input(&self) -> usize {
                self.weight_ih.lazy_shape()[1]
            }

            #[doc = concat!("Hidden size `H`, read from `weight_hh`'s `", $gates, "*H` rows (without initializing it).")]
            pub fn d_hidden(&self) -> usize {
                self.weight_hh.lazy_shape()[0] / $gates
            }
        }
    };
}

mod gru;
mod layer_norm;
mod lstm;
mod min;
mod rnn;
pub(crate) mod state;

pub use gru::{GruCell, GruCellConfig};
pub use layer_norm::{
    LayerNormGruCell, LayerNormGruCellConfig, LayerNormLstmCell, LayerNormLstmCellConfig,
    LayerNormParams,
};
pub(crate) use lstm::check_proj_size;
pub use lstm::{LstmCell, LstmCellConfig};
pub use min::{MinGruCell, MinGruCellConfig, MinLstmCell, MinLstmCellConfig};
pub use rnn::{RnnCell, RnnCellConfig};
pub use state::{CellState, GruState, LstmState, RnnState, StateShapeError};

use burn::module::{Initializer, Module, Param};
use burn::tensor::{backend::Backend, Tensor};

use crate::math::CellKind;

/// What a recurrent layer needs from a cell: its state type and one step.
///
/// [`Recurrent`](crate::Recurrent) is generic over it; [`RnnCell`], [`LstmCell`] and
/// [`GruCell`] implement it, and so does a cell of your own. A new cell writes its [`Cell::State`]
/// (or reuses [`RnnState`] / [`LstmState`]), its sizes and [`Cell::step`]; the layer then runs
/// it with stacking, both directions, per-sequence lengths and dropout, and Burn's autodiff does
/// backpropagation through time. Everything else has a default:
/// - [`Cell::project_input`] hoists the input's share of the step out of the time loop (one
///   matmul over all steps); by default the step sees the raw input.
/// - [`Cell::fused`] hands the built-in cells' weights to the whole-sequence kernels
///   ([`kernels`](crate::kernels)); by default (`None`) the layer unrolls [`Cell::step`].
/// - [`Cell::NAME`] and [`Cell::LAYER_NAME`] name the cell in messages.
///
/// # Example: an IndRNN cell
/// IndRNN (Li et al., 2018) has one recurrent weight per unit:
/// `h' = relu(W x + b + u ⊙ h)`, `W: [H, H_in]`, `u: [H]`.
/// ```
/// use burn::module::{Module, Param};
/// use burn::nn::{Linear, LinearConfig};
/// use burn::tensor::{activation::relu, backend::Backend, Distribution, Tensor};
/// use burn_rnn::{backend::DefaultBackend as B, Cell, Recurrent, RnnState};
///
/// #[derive(Module, Debug)]
/// struct IndRnnCell<B: Backend> {
///     input: Linear<B>,           // W: [H_in, H] (Burn's layout), b: [H]
///     recurrent: Param<Tensor<B, 1>>, // u: [H]
/// }
///
/// impl<B: Backend> Cell<B> for IndRnnCell<B> {
///     type State = RnnState<B, 2>;
///
///     fn d_input(&self) -> usize {
///         self.input.weight.dims()[0]
///     }
///
///     fn d_hidden(&self) -> usize {
///         self.recurrent.dims()[0]
///     }
///
///     // `W x + b` for every time step at once: [L*N, H_in] -> [L*N, H].
///     fn project_input(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
///         self.input.forward(x)
///     }
///
///     // `x_t`: [N, H], this step's rows of `project_input`; the state: [N, H].
///     fn step(&self, x_t: Tensor<B, 2>, state: RnnState<B, 2>) -> RnnState<B, 2> {
///         let u = self.recurrent.val().unsqueeze_dim(0); // [1, H]
///         RnnState::new(relu(x_t + state.hidden * u))
///     }
/// }
///
/// let device = Default::default();
/// let cell = |d_input: usize| IndRnnCell::<B> {
///     input: LinearConfig::new(d_input, 16).init(&device),
///     recurrent: Param::from_tensor(Tensor::random([16], Distribution::Uniform(0.0, 1.0), &device)),
/// };
/// // Two layers, both directions: cells[layer * 2 + direction].
/// let dropout = burn::nn::DropoutConfig::new(0.0).init();
/// let layer = Recurrent::from_cells(vec![cell(8), cell(8), cell(32), cell(32)], dropout, 2, true, true);
/// let x = Tensor::<B, 3>::random([4, 10, 8], Distribution::Default, &device); // [N, L, H_in]
/// let out = layer.forward(x, None);
/// assert_eq!(out.output.dims(), [4, 10, 32]);      // [N, L, D*H]
/// assert_eq!(out.state.hidden.dims(), [4, 4, 16]); // [num_layers*D, N, H]
/// ```
pub trait Cell<B: Backend>: Module<B> + core::fmt::Debug {
    /// The per-step state: `[N, H]` tensors.
    type State: CellState<B>;

    /// The cell's name in messages (PyTorch's word for the built-in cells, e.g. `"LSTMCell"`).
    const NAME: &'static str = "Cell";

    /// The name of a layer of this cell in messages (e.g. `"LSTM"`).
    const LAYER_NAME: &'static str = "Recurrent";

    /// Input features `H_in`.
    fn d_input(&self) -> usize;

    /// Hidden size `H`.
    fn d_hidden(&self) -> usize;

    /// Output size: the width of `h`, of the layer's output and of the next layer's input.
    /// `H` (the default) for every cell but an LSTM with a projection, whose `h` is `P` wide
    /// ([`LstmCellConfig::proj_size`]). A cell that overrides it keeps its state's parts
    /// apart with [`CellState::zeros_sized`] and [`CellState::check_sized`].
    fn d_output(&self) -> usize {
        self.d_hidden()
    }

    /// The input's share of a step, for any number of rows at once: the layer calls it once
    /// on every time step (`M = L * N`) before the time loop. The default is the identity.
    ///
    /// # Shapes
    /// - `x`: `[M, H_in]`; returns `[M, P]`, whatever width [`Cell::step`] takes
    fn project_input(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        x
    }

    /// One recurrent step.
    ///
    /// # Shapes
    /// - `x_t`: `[N, P]`, one time step of [`Cell::project_input`]'s output
    /// - `state`: `[N, H]` tensors; returns the new state, same shapes
    fn step(&self, x_t: Tensor<B, 2>, state: Self::State) -> Self::State;

    /// For a cell whose step is `h' = a * h + b` with `a` and `b` functions of the input
    /// alone ([`MinGruCell`], [`MinLstmCell`]): both, for every step at once. The layers'
    /// fused path then runs a whole direction as one scan
    /// ([`RnnBackend::linear_scan_forward`](crate::RnnBackend::linear_scan_forward)); the
    /// state must then be the hidden state alone. `None` (the default) for other cells.
    ///
    /// # Shapes
    /// - `gates_x`: `[M, P]`, [`Cell::project_input`] of `M` steps
    /// - returns `(a, b)`, each `[M, H]`
    fn affine(&self, gates_x: Tensor<B, 2>) -> Option<(Tensor<B, 2>, Tensor<B, 2>)> {
        let _ = gates_x;
        None
    }

    /// For minGRU and minLSTM: which of the backend's fused coefficient ops
    /// ([`RnnBackend::min_coefficients_forward`](crate::RnnBackend::min_coefficients_forward))
    /// computes [`Cell::affine`]'s `(a, b)` on the layers' fused path. `None` (the default):
    /// the fused path calls [`Cell::affine`].
    fn min_kind(&self) -> Option<crate::kernels::MinKind> {
        None
    }

    /// The cell as the whole-sequence kernels run it ([`RnnBackend`](crate::RnnBackend)), or
    /// `None` (the default) for a cell the kernels do not know: the layers then unroll
    /// [`Cell::step`].
    fn fused(&self) -> Option<FusedCell<B>> {
        None
    }

    /// Whether the state has a cell part `c` besides `h` (the LSTMs): zoneout on `c`
    /// ([`Regularization::zoneout_cell`](crate::Regularization::zoneout_cell)) needs one.
    /// `false` by default; a cell of your own with such a state overrides it.
    fn has_cell_state(&self) -> bool {
        false
    }

    /// Whether the cell has a recurrent weight `W_hh` that
    /// [`Cell::map_recurrent_weight`] can replace (DropConnect,
    /// [`Regularization::weight_drop`](crate::Regularization::weight_drop)). `false` by
    /// default.
    fn has_recurrent_weight(&self) -> bool {
        false
    }

    /// The cell with its recurrent weight `W_hh` replaced by `f(W_hh)`, same shape (autodiff
    /// differentiates through `f` to the parameter), or `None` for a cell without one (the
    /// default).
    ///
    /// # Shapes
    /// - `f` takes and returns `W_hh`: `[G*H, P]` (`G` gate blocks)
    fn map_recurrent_weight(&self, f: &mut dyn FnMut(Tensor<B, 2>) -> Tensor<B, 2>) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = f;
        None
    }
}

/// [`Cell::has_recurrent_weight`] and [`Cell::map_recurrent_weight`] of a cell with a
/// `weight_hh: Param<Tensor<B, 2>>` field.
macro_rules! map_weight_hh {
    () => {
        fn has_recurrent_weight(&self) -> bool {
            true
        }

        fn map_recurrent_weight(
            &self,
            f: &mut dyn FnMut(Tensor<B, 2>) -> Tensor<B, 2>,
        ) -> Option<Self> {
            let mut cell = self.clone();
            cell.weight_hh = cell.weight_hh.map(f);
            Some(cell)
        }
    };
}
pub(crate) use map_weight_hh;

/// A cell in the form the whole-sequence kernels run: its kind and its weights in PyTorch's
/// layout, with the biases arranged as the kernels add them.
#[derive(Debug, Clone)]
pub struct FusedCell<B: Backend> {
    /// The math.
    pub kind: CellKind,
    /// `[G*H, H_in]`
    pub weight_ih: Tensor<B, 2>,
    /// `[G*H]`: `b_ih + b_hh` where the math allows folding `b_hh` into the input projection
    /// (RNN, LSTM), else `b_ih` (GRU); `None` without biases.
    pub input_bias: Option<Tensor<B, 1>>,
    /// `[G*H, P]` (`P = H` without a projection)
    pub weight_hh: Tensor<B, 2>,
    /// `[G*H]`: added to `h W_hh^T` every step (GRU's `b_hh`); `None` where it was folded.
    pub step_bias: Option<Tensor<B, 1>>,
    /// An LSTM's projection `W_hr: [P, H]` (`h = W_hr m`, `m = o * tanh(c)`), or `None`. The
    /// layers run such a cell as an LSTM over `m` with the folded recurrent weight
    /// `W_hh W_hr: [4*H, H]`, then project all steps' `m` at once.
    pub projection: Option<Tensor<B, 2>>,
}

/// Parameters shared by the three cells, in PyTorch's layout.
///
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

/// `d_input` and `d_hidden` of the cell `name` are at least 1.
pub(crate) fn check_sizes(
    name: &'static str,
    d_input: usize,
    d_hidden: usize,
) -> Result<(), crate::ConfigError> {
    let zero = [("d_input", d_input), ("d_hidden", d_hidden)]
        .into_iter()
        .find(|&(_, v)| v == 0);
    match zero {
        Some((setting, _)) => Err(crate::ConfigError::Zero {
            module: name,
            setting,
        }),
        None => Ok(()),
    }
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
    let sizes = (cell.d_output(), cell.d_hidden());
    let state = step_state(C::NAME, state, dims[0], sizes, &x.device());
    cell.step(cell.project_input(x), state)
}

/// The given state checked against `[batch, output]` / `[batch, hidden]`, or the zero state.
fn step_state<B: Backend, S: CellState<B>>(
    name: &str,
    state: Option<S>,
    batch: usize,
    (output, hidden): (usize, usize),
    device: &B::Device,
) -> S {
    match state {
        None => S::zeros_sized(batch, output, hidden, device),
        Some(s) => {
            if let Err(e) = s.check_sized(batch, output, hidden) {
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
