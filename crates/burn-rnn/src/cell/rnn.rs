//! The vanilla (Elman) RNN cell.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::tensor::{backend::Backend, Tensor};

use super::{check_sizes, folded_bias, forward_step, init_weights, Cell, FusedCell, RnnState};
use crate::math::{self, rnn_step, CellKind, Nonlinearity};
use crate::ConfigError;

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
    pub(crate) weight_ih: Param<Tensor<B, 2>>,
    /// Hidden weights `[H, H]`.
    pub(crate) weight_hh: Param<Tensor<B, 2>>,
    /// Input bias `[H]`, if the cell has biases.
    pub(crate) bias_ih: Option<Param<Tensor<B, 1>>>,
    /// Hidden bias `[H]`, if the cell has biases.
    pub(crate) bias_hh: Option<Param<Tensor<B, 1>>>,
    /// The nonlinearity.
    #[module(skip)]
    pub(crate) nonlinearity: Nonlinearity,
}

impl RnnCellConfig {
    /// Creates a [`RnnCell`] on `device`.
    ///
    /// # Errors
    /// `d_input` or `d_hidden` of 0 ([`ConfigError`]).
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<RnnCell<B>, ConfigError> {
        check_sizes("RNNCell", self.d_input, self.d_hidden)?;
        Ok(self.build(device))
    }

    /// Creates a [`RnnCell`] on `device`.
    ///
    /// # Panics
    /// On the settings [`RnnCellConfig::try_init`] refuses, with the same message.
    pub fn init<B: Backend>(&self, device: &B::Device) -> RnnCell<B> {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }

    fn build<B: Backend>(&self, device: &B::Device) -> RnnCell<B> {
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

builtin_cell_params!(RnnCell, 1, "(one block)");

impl<B: Backend> RnnCell<B> {
    /// The nonlinearity: tanh or relu.
    pub fn nonlinearity(&self) -> Nonlinearity {
        self.nonlinearity
    }
}

impl<B: Backend> Cell<B> for RnnCell<B> {
    type State = RnnState<B, 2>;
    const NAME: &'static str = "RNNCell";
    const LAYER_NAME: &'static str = "RNN";

    fn d_input(&self) -> usize {
        RnnCell::d_input(self)
    }

    fn d_hidden(&self) -> usize {
        RnnCell::d_hidden(self)
    }

    fn project_input(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        math::linear(
            x,
            self.weight_ih.val(),
            folded_bias(&self.bias_ih, &self.bias_hh),
        )
    }

    fn step(&self, gates_x: Tensor<B, 2>, state: Self::State) -> Self::State {
        let pre = gates_x + state.hidden.matmul(self.weight_hh.val().transpose());
        RnnState::new(rnn_step(pre, self.nonlinearity))
    }

    fn fused(&self) -> Option<FusedCell<B>> {
        Some(FusedCell {
            kind: CellKind::rnn(self.nonlinearity),
            weight_ih: self.weight_ih.val(),
            input_bias: folded_bias(&self.bias_ih, &self.bias_hh),
            weight_hh: self.weight_hh.val(),
            step_bias: None,
            projection: None,
        })
    }

    super::map_weight_hh!();
}
