//! The LSTM cell.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::tensor::{backend::Backend, Tensor};

use super::{
    check_sizes, folded_bias, forward_step, init_weights, pytorch_default_init, Cell, FusedCell,
    LstmState,
};
use crate::math::{self, lstm_step, CellKind};
use crate::ConfigError;

/// Configuration of an [`LstmCell`] (PyTorch's `nn.LSTMCell`).
#[derive(Config, Debug)]
pub struct LstmCellConfig {
    /// Input features `H_in`.
    pub d_input: usize,
    /// Hidden size `H`.
    pub d_hidden: usize,
    /// Whether the cell has the biases `b_ih` and `b_hh`.
    #[config(default = true)]
    pub bias: bool,
    /// Initializer of every parameter; `None` is PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
    pub initializer: Option<Initializer>,
    /// If set, the forget gate's bias starts at this value (`b_ih[f] = value`, `b_hh[f] = 0`),
    /// as Jozefowicz et al. (2015) recommend with 1.0. Ignored without bias.
    pub forget_bias: Option<f64>,
    /// Projection size `P` (Sak et al., 2014; PyTorch's `proj_size`): `h` is the cell's
    /// output projected by `W_hr [P, H]`, so `h` is `[N, P]` and `W_hh` is `[4*H, P]`.
    /// 0 (the default) is no projection; otherwise `0 < P < H`.
    #[config(default = 0)]
    pub proj_size: usize,
    /// Diagonal peephole connections (Gers and Schmidhuber, 2000): `i` and `f` also see
    /// `w_ci ⊙ c`, `o` sees `w_co ⊙ c'` (`weight_ch [3, H]`, rows `i, f, o`).
    #[config(default = false)]
    pub peephole: bool,
}

/// An LSTM cell: one time step of an LSTM, with PyTorch's fused parameters.
///
/// ```text
/// i = σ(W_ii x + b_ii + W_hi h + b_hi)
/// f = σ(W_if x + b_if + W_hf h + b_hf)
/// g = tanh(W_ig x + b_ig + W_hg h + b_hg)
/// o = σ(W_io x + b_io + W_ho h + b_ho)
/// c' = f * c + i * g
/// h' = o * tanh(c')
/// ```
///
/// With a projection ([`LstmCellConfig::proj_size`] `P`, Sak et al. 2014, "Long Short-Term
/// Memory Based Recurrent Neural Network Architectures for Large Vocabulary Speech
/// Recognition"; PyTorch's `proj_size`), the last line is `h' = W_hr (o * tanh(c'))`:
/// `W_hr: [P, H]`, `h: [N, P]`, `W_h*: [H, P]` (so `weight_hh` is `[4*H, P]`), `c: [N, H]`.
///
/// With peepholes ([`LstmCellConfig::peephole`]; Gers and Schmidhuber, 2000, "Recurrent Nets
/// that Time and Count"), the gates also read the cell state through diagonal weights
/// (`weight_ch [3, H]`, rows `w_ci, w_cf, w_co`):
/// ```text
/// i = σ(W_ii x + b_ii + W_hi h + b_hi + w_ci ⊙ c)
/// f = σ(W_if x + b_if + W_hf h + b_hf + w_cf ⊙ c)
/// c' = f * c + i * g
/// o = σ(W_io x + b_io + W_ho h + b_ho + w_co ⊙ c')
/// h' = o * tanh(c')
/// ```
/// A cell with peepholes runs step by step (plain ops) in the layers: the fused kernels have
/// no peephole terms.
#[derive(Module, Debug)]
pub struct LstmCell<B: Backend> {
    /// Input weights `[4*H, H_in]`, gate blocks in the order i, f, g, o.
    pub(crate) weight_ih: Param<Tensor<B, 2>>,
    /// Hidden weights `[4*H, P]` (`P = H` without a projection), gate blocks i, f, g, o.
    pub(crate) weight_hh: Param<Tensor<B, 2>>,
    /// Input bias `[4*H]` (i, f, g, o), if the cell has biases.
    pub(crate) bias_ih: Option<Param<Tensor<B, 1>>>,
    /// Hidden bias `[4*H]` (i, f, g, o), if the cell has biases.
    pub(crate) bias_hh: Option<Param<Tensor<B, 1>>>,
    /// Projection weights `[P, H]` (PyTorch's `weight_hr`), if the cell has a projection.
    pub(crate) weight_hr: Option<Param<Tensor<B, 2>>>,
    /// Peephole weights `[3, H]`, rows `w_ci, w_cf, w_co`, if the cell has peepholes.
    pub(crate) weight_ch: Option<Param<Tensor<B, 2>>>,
}

impl LstmCellConfig {
    /// Creates a [`LstmCell`] on `device`.
    ///
    /// # Errors
    /// `d_input` or `d_hidden` of 0, or a `proj_size` not below `d_hidden`
    /// ([`ConfigError`]).
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<LstmCell<B>, ConfigError> {
        check_sizes("LSTMCell", self.d_input, self.d_hidden)?;
        check_proj_size("LSTMCell", self.proj_size, self.d_hidden)?;
        Ok(self.build(device))
    }

    /// Creates a [`LstmCell`] on `device`.
    ///
    /// # Panics
    /// On the settings [`LstmCellConfig::try_init`] refuses, with the same message.
    pub fn init<B: Backend>(&self, device: &B::Device) -> LstmCell<B> {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }

    fn build<B: Backend>(&self, device: &B::Device) -> LstmCell<B> {
        let w = init_weights::<B>(
            4,
            self.d_input,
            self.d_hidden,
            self.bias,
            &self.initializer,
            device,
        );
        let h = self.d_hidden;
        let (weight_hh, weight_hr) = match self.proj_size {
            0 => (w.weight_hh, None),
            p => {
                // PyTorch draws every parameter from U(-1/sqrt(H), 1/sqrt(H)), `H` being the
                // hidden size even where the fan-in is `P`.
                let init = self
                    .initializer
                    .clone()
                    .unwrap_or_else(|| pytorch_default_init(h));
                (
                    init.init_with([4 * h, p], Some(p), Some(4 * h), device),
                    Some(init.init_with([p, h], Some(h), Some(p), device)),
                )
            }
        };
        let (mut bias_ih, mut bias_hh) = (w.bias_ih, w.bias_hh);
        if let Some(value) = self.forget_bias {
            let set = |b: Param<Tensor<B, 1>>, v: f64| {
                b.map(|t| {
                    let device = t.device();
                    t.slice_assign(h..2 * h, Tensor::full([h], v, &device))
                })
            };
            bias_ih = bias_ih.map(|b| set(b, value));
            bias_hh = bias_hh.map(|b| set(b, 0.0));
        }
        LstmCell {
            weight_ih: w.weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
            weight_hr,
            weight_ch: self.peephole.then(|| {
                let init = self
                    .initializer
                    .clone()
                    .unwrap_or_else(|| pytorch_default_init(h));
                init.init_with([3, h], Some(h), Some(3), device)
            }),
        }
    }
}

/// `proj_size` is 0 (off) or below `d_hidden`, as PyTorch requires.
pub(crate) fn check_proj_size(
    module: &'static str,
    proj_size: usize,
    d_hidden: usize,
) -> Result<(), ConfigError> {
    if proj_size >= d_hidden && proj_size > 0 {
        return Err(ConfigError::ProjSize {
            module,
            proj_size,
            d_hidden,
        });
    }
    Ok(())
}

impl<B: Backend> LstmCell<B> {
    /// One time step.
    ///
    /// # Shapes
    /// - `x`: `[N, H_in]`
    /// - `state`: `h` `[N, P]` and `c` `[N, H]` (`P = H` without a projection); `None` is
    ///   the zero state
    /// - returns the new state, `h'` `[N, P]` and `c'` `[N, H]`
    ///
    /// # Panics
    /// If `x` has not `H_in` features, or the state's parts are not `[N, P]` and `[N, H]`.
    pub fn forward(&self, x: Tensor<B, 2>, state: Option<LstmState<B, 2>>) -> LstmState<B, 2> {
        forward_step(self, x, state)
    }

    /// Projection weights `[P, H]` (PyTorch's `weight_hr`), if the cell has a projection.
    pub fn weight_hr(&self) -> Option<&Param<Tensor<B, 2>>> {
        self.weight_hr.as_ref()
    }

    /// Peephole weights `[3, H]` (rows `w_ci, w_cf, w_co`), if the cell has peepholes.
    pub fn weight_ch(&self) -> Option<&Param<Tensor<B, 2>>> {
        self.weight_ch.as_ref()
    }

    /// Projection size `P`, or `None` without a projection.
    pub fn proj_size(&self) -> Option<usize> {
        self.weight_hr.as_ref().map(|w| w.lazy_shape()[0])
    }
}

builtin_cell_params!(LstmCell, 4, "i, f, g, o", "P");

impl<B: Backend> Cell<B> for LstmCell<B> {
    type State = LstmState<B, 2>;
    const NAME: &'static str = "LSTMCell";
    const LAYER_NAME: &'static str = "LSTM";

    fn d_input(&self) -> usize {
        LstmCell::d_input(self)
    }

    fn d_hidden(&self) -> usize {
        LstmCell::d_hidden(self)
    }

    fn d_output(&self) -> usize {
        self.proj_size().unwrap_or_else(|| LstmCell::d_hidden(self))
    }

    fn project_input(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        math::linear(
            x,
            self.weight_ih.val(),
            folded_bias(&self.bias_ih, &self.bias_hh),
        )
    }

    fn step(&self, gates_x: Tensor<B, 2>, state: Self::State) -> Self::State {
        let gates = gates_x + state.hidden.matmul(self.weight_hh.val().transpose());
        let (hidden, cell) = match &self.weight_ch {
            None => {
                let step = lstm_step(gates, state.cell);
                (step.hidden, step.cell)
            }
            Some(w) => peephole_step(gates, state.cell, w.val()),
        };
        let hidden = match &self.weight_hr {
            None => hidden,
            Some(w) => hidden.matmul(w.val().transpose()),
        };
        LstmState { hidden, cell }
    }

    /// `None` with peepholes (the kernels have no peephole terms): the layers then unroll.
    fn fused(&self) -> Option<FusedCell<B>> {
        if self.weight_ch.is_some() {
            return None;
        }
        Some(FusedCell {
            kind: CellKind::Lstm,
            weight_ih: self.weight_ih.val(),
            input_bias: folded_bias(&self.bias_ih, &self.bias_hh),
            weight_hh: self.weight_hh.val(),
            step_bias: None,
            projection: self.weight_hr.as_ref().map(|w| w.val()),
        })
    }

    super::map_weight_hh!();

    fn has_cell_state(&self) -> bool {
        true
    }
}

/// One LSTM step with diagonal peepholes from the pre-activations `gates` (`[N, 4*H]`, blocks
/// `i, f, g, o`), `c: [N, H]` and `w: [3, H]` (rows `w_ci, w_cf, w_co`): returns `(h', c')`.
fn peephole_step<B: Backend>(
    gates: Tensor<B, 2>,
    c: Tensor<B, 2>,
    w: Tensor<B, 2>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let [i, f, g, o]: [Tensor<B, 2>; 4] = gates.chunk(4, 1).try_into().expect("4 gate blocks");
    let [w_ci, w_cf, w_co]: [Tensor<B, 2>; 3] = w.chunk(3, 0).try_into().expect("3 rows");
    let i = math::sigmoid(i + c.clone() * w_ci);
    let f = math::sigmoid(f + c.clone() * w_cf);
    let cell = f * c + i * g.tanh();
    let o = math::sigmoid(o + cell.clone() * w_co);
    (o * cell.clone().tanh(), cell)
}
