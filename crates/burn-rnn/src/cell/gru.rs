//! The GRU cell.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::tensor::{backend::Backend, Tensor};

use super::{check_sizes, forward_step, init_weights, Cell, FusedCell, GruState, RnnState};
use crate::math::{self, gru_step, CellKind};
use crate::ConfigError;

/// Configuration of a [`GruCell`] (PyTorch's `nn.GRUCell`).
#[derive(Config, Debug)]
pub struct GruCellConfig {
    /// Input features `H_in`.
    pub d_input: usize,
    /// Hidden size `H`.
    pub d_hidden: usize,
    /// Whether the cell has the biases `b_ih` and `b_hh`.
    #[config(default = true)]
    pub bias: bool,
    /// Initializer of every parameter; `None` is PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
    pub initializer: Option<Initializer>,
}

/// A GRU cell: one time step of a GRU, with PyTorch's fused parameters.
///
/// ```text
/// r = σ(W_ir x + b_ir + W_hr h + b_hr)
/// z = σ(W_iz x + b_iz + W_hz h + b_hz)
/// n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
/// h' = (1 - z) * n + z * h
/// ```
#[derive(Module, Debug)]
pub struct GruCell<B: Backend> {
    /// Input weights `[3*H, H_in]`, gate blocks in the order r, z, n.
    pub(crate) weight_ih: Param<Tensor<B, 2>>,
    /// Hidden weights `[3*H, H]`, gate blocks in the order r, z, n.
    pub(crate) weight_hh: Param<Tensor<B, 2>>,
    /// Input bias `[3*H]` (r, z, n), if the cell has biases.
    pub(crate) bias_ih: Option<Param<Tensor<B, 1>>>,
    /// Hidden bias `[3*H]` (r, z, n), if the cell has biases; `b_hn` sits inside `r * (...)`.
    pub(crate) bias_hh: Option<Param<Tensor<B, 1>>>,
}

impl GruCellConfig {
    /// Creates a [`GruCell`] on `device`.
    ///
    /// # Errors
    /// `d_input` or `d_hidden` of 0 ([`ConfigError`]).
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<GruCell<B>, ConfigError> {
        check_sizes("GRUCell", self.d_input, self.d_hidden)?;
        Ok(self.build(device))
    }

    /// Creates a [`GruCell`] on `device`.
    ///
    /// # Panics
    /// On the settings [`GruCellConfig::try_init`] refuses, with the same message.
    pub fn init<B: Backend>(&self, device: &B::Device) -> GruCell<B> {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }

    fn build<B: Backend>(&self, device: &B::Device) -> GruCell<B> {
        let w = init_weights::<B>(
            3,
            self.d_input,
            self.d_hidden,
            self.bias,
            &self.initializer,
            device,
        );
        GruCell {
            weight_ih: w.weight_ih,
            weight_hh: w.weight_hh,
            bias_ih: w.bias_ih,
            bias_hh: w.bias_hh,
        }
    }
}

impl<B: Backend> GruCell<B> {
    /// One time step.
    ///
    /// # Shapes
    /// - `x`: `[N, H_in]`
    /// - `state`: `h: [N, H]`; `None` is the zero state
    /// - returns the new state `h': [N, H]`
    ///
    /// # Panics
    /// If `x` has not `H_in` features, or the state is not `[N, H]`.
    pub fn forward(&self, x: Tensor<B, 2>, state: Option<GruState<B, 2>>) -> GruState<B, 2> {
        forward_step(self, x, state)
    }
}

builtin_cell_params!(GruCell, 3, "r, z, n");

impl<B: Backend> Cell<B> for GruCell<B> {
    type State = GruState<B, 2>;
    const NAME: &'static str = "GRUCell";
    const LAYER_NAME: &'static str = "GRU";

    fn d_input(&self) -> usize {
        GruCell::d_input(self)
    }

    fn d_hidden(&self) -> usize {
        GruCell::d_hidden(self)
    }

    fn project_input(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        // b_hh cannot be folded in: b_hn sits inside the reset gate's product.
        math::linear(
            x,
            self.weight_ih.val(),
            self.bias_ih.as_ref().map(|b| b.val()),
        )
    }

    fn step(&self, gates_x: Tensor<B, 2>, state: Self::State) -> Self::State {
        let mut gates_h = state
            .hidden
            .clone()
            .matmul(self.weight_hh.val().transpose());
        if let Some(b) = &self.bias_hh {
            gates_h = gates_h + b.val().unsqueeze_dim(0);
        }
        RnnState::new(gru_step(gates_x, gates_h, state.hidden).hidden)
    }

    fn fused(&self) -> Option<FusedCell<B>> {
        Some(FusedCell {
            kind: CellKind::Gru,
            weight_ih: self.weight_ih.val(),
            input_bias: self.bias_ih.as_ref().map(|b| b.val()),
            weight_hh: self.weight_hh.val(),
            step_bias: self.bias_hh.as_ref().map(|b| b.val()),
            projection: None,
        })
    }

    super::map_weight_hh!();
}
