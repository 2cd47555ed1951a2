//! The vanilla (Elman) RNN cell.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::tensor::{backend::Backend, Tensor};

use super::{folded_bias, forward_step, init_weights, Cell, RnnState};
use crate::math::{rnn_step, Nonlinearity, RecurrentKind};

/// Configuration of an [`RnnCell`] (PyTorch's `nn.RNNCell`).
#[derive(Config, Debug)]
pub struct RnnCellConfig {
    /// Input features `H_in`.
    pub d_input: usize,
    /// Hidden size `H`.
    pub d_hidden: usize,
    /// Whether the cell has the biases `b_ih` and `b_hh`.
    #[config(default = true)]
    pub bias: bool,
    /// The nonlinearity: tanh (default) or relu.
    #[config(default = "Nonlinearity::Tanh")]
    pub nonlinearity: Nonlinearity,
    /// Initializer of every parameter; `None` is PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
    pub initializer: Option<Initializer>,
}

/// A vanilla RNN cell: `h' = act(W_ih x + b_ih + W_hh h + b_hh)`, act = tanh or relu.
#[derive(Module, Debug)]
pub struct RnnCell<B: Backend> {
    /// Input weights `[H, H_in]`.
    pub weight_ih: Param<Tensor<B, 2>>,
    /// Hidden weights `[H, H]`.
    pub weight_hh: Param<Tensor<B, 2>>,
    /// Input bias `[H]`, if the cell has biases.
    pub bias_ih: Option<Param<Tensor<B, 1>>>,
    /// Hidden bias `[H]`, if the cell has biases.
    pub bias_hh: Option<Param<Tensor<B, 1>>>,
    /// The nonlinearity.
    #[module(skip)]
    pub nonlinearity: Nonlinearity,
    /// Input features `H_in`.
    pub d_input: usize,
    /// Hidden size `H`.
    pub d_hidden: usize,
}

impl RnnCellConfig {
    /// Creates an [`RnnCell`] on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> RnnCell<B> {
        let w = init_weights::<B>(
            1,
            self.d_input,
            self.d_hidden,
            self.bias,
            &self.initializer,
            device,
        );
        RnnCell {
            weight_ih: w.weight_ih,
            weight_hh: w.weight_hh,
            bias_ih: w.bias_ih,
            bias_hh: w.bias_hh,
            nonlinearity: self.nonlinearity,
            d_input: self.d_input,
            d_hidden: self.d_hidden,
        }
    }
}

impl<B: Backend> RnnCell<B> {
    /// One time step.
    ///
    /// # Shapes
    /// - `x`: `[N, H_in]`
    /// - `state`: `h: [N, H]`; `None` is the zero state
    /// - returns the new state `h': [N, H]`
    ///
    /// # Panics
    /// If `x` has not `H_in` features, or the state is not `[N, H]`.
    pub fn forward(&self, x: Tensor<B, 2>, state: Option<RnnState<B, 2>>) -> RnnState<B, 2> {
        forward_step(self, x, state)
    }
}

impl<B: Backend> Cell<B> for RnnCell<B> {
    type State = RnnState<B, 2>;
    const GATES: usize = 1;
    const NAME: &'static str = "RNNCell";
    const LAYER_NAME: &'static str = "RNN";

    fused_cell_params!();

    fn input_bias(&self) -> Option<Tensor<B, 1>> {
        folded_bias(&self.bias_ih, &self.bias_hh)
    }

    fn step(
        &self,
        gates_x: Tensor<B, 2>,
        weight_hh_t: &Tensor<B, 2>,
        state: Self::State,
    ) -> Self::State {
        let pre = gates_x + state.hidden.matmul(weight_hh_t.clone());
        RnnState::new(rnn_step(pre, self.nonlinearity))
    }

    fn step_bias(&self) -> Option<Tensor<B, 1>> {
        None
    }

    fn kind(&self) -> Option<RecurrentKind> {
        Some(match self.nonlinearity {
            Nonlinearity::Tanh => RecurrentKind::RnnTanh,
            Nonlinearity::Relu => RecurrentKind::RnnRelu,
        })
    }
}
