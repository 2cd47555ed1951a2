//! LayerNorm LSTM and LayerNorm GRU, in Haste's formulation (layer normalization, Ba et al.,
//! 2016, as the Haste RNN library applies it): layer norm on the input projection and on the
//! recurrent projection, each with its own gain and bias, and for the LSTM also on the cell
//! state before the output `tanh`.
//!
//! `LN(v; γ, β) = (v - mean(v)) / sqrt(var(v) + 1e-5) * γ + β` over the last axis (all `G*H`
//! gate columns of a projection at once, or the `H` units of a cell state). The input
//! projection and its norm run for every step at once ([`Cell::project_input`]); the rest runs
//! step by step in plain ops on every backend (the fused kernels have no norms).

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::tensor::{backend::Backend, Tensor};

use super::{check_sizes, forward_step, pytorch_default_init, Cell, LstmState, RnnState};
use crate::import::{FusedParams, ParamMut, ParamRef};
use crate::math::{gru_step, sigmoid};
use crate::ConfigError;

/// The variance floor of every norm.
const EPS: f64 = 1e-5;

/// A layer norm's gain `γ` and bias `β`, `[K]` each.
#[derive(Module, Debug)]
pub struct LayerNormParams<B: Backend> {
    /// Gain `γ: [K]`, ones at initialization.
    pub gamma: Param<Tensor<B, 1>>,
    /// Bias `β: [K]`, zeros at initialization.
    pub beta: Param<Tensor<B, 1>>,
}

impl<B: Backend> LayerNormParams<B> {
    fn new(k: usize, device: &B::Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([k], device)),
            beta: Param::from_tensor(Tensor::zeros([k], device)),
        }
    }

    /// `LN(v; γ, β)` over the last axis.
    ///
    /// # Shapes
    /// - `v`: `[M, K]`; returns `[M, K]`
    pub fn forward(&self, v: Tensor<B, 2>) -> Tensor<B, 2> {
        let centered = v.clone() - v.mean_dim(1);
        let var = centered.clone().powi_scalar(2).mean_dim(1);
        centered / (var + EPS).sqrt() * self.gamma.val().unsqueeze_dim(0)
            + self.beta.val().unsqueeze_dim(0)
    }

    fn refs<'a>(
        &'a self,
        prefix: &'static [&'static str; 2],
    ) -> [(&'static str, ParamRef<'a, B>); 2] {
        [
            (prefix[0], ParamRef::Vector(Some(&self.gamma))),
            (prefix[1], ParamRef::Vector(Some(&self.beta))),
        ]
    }

    fn muts<'a>(
        &'a mut self,
        prefix: &'static [&'static str; 2],
    ) -> [(&'static str, ParamMut<'a, B>); 2] {
        [
            (prefix[0], ParamMut::Present(&mut self.gamma)),
            (prefix[1], ParamMut::Present(&mut self.beta)),
        ]
    }
}

/// `(weight_ih [G*H, H_in], weight_hh [G*H, H])` drawn from `initializer`, by default
/// PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
fn weights<B: Backend>(
    gates: usize,
    d_input: usize,
    d_hidden: usize,
    initializer: &Option<Initializer>,
    device: &B::Device,
) -> (Param<Tensor<B, 2>>, Param<Tensor<B, 2>>) {
    let rows = gates * d_hidden;
    let init = initializer
        .clone()
        .unwrap_or_else(|| pytorch_default_init(d_hidden));
    (
        init.init_with([rows, d_input], Some(d_input), Some(rows), device),
        init.init_with([rows, d_hidden], Some(d_hidden), Some(rows), device),
    )
}

macro_rules! ln_config {
    ($config:ident, $cell:ident, $name:literal, $gates:literal, |$c:ident, $w:ident, $device:ident| $build:expr) => {
        #[doc = concat!("Configuration of a [`", stringify!($cell), "`].")]
        #[derive(Config, Debug)]
        pub struct $config {
            /// Input features `H_in`.
            pub d_input: usize,
            /// Hidden size `H`.
            pub d_hidden: usize,
            /// Initializer of the weights; `None` is PyTorch's U(-1/sqrt(H), 1/sqrt(H)). The
            /// norms start at `γ = 1`, `β = 0`.
            pub initializer: Option<Initializer>,
        }

        impl $config {
            #[doc = concat!("Creates a [`", stringify!($cell), "`] on `device`.")]
            ///
            /// # Errors
            /// `d_input` or `d_hidden` of 0 ([`ConfigError`]).
            pub fn try_init<B: Backend>(&self, $device: &B::Device) -> Result<$cell<B>, ConfigError> {
                check_sizes($name, self.d_input, self.d_hidden)?;
                let $w = weights::<B>($gates, self.d_input, self.d_hidden, &self.initializer, $device);
                let $c = self;
                Ok($build)
            }

            #[doc = concat!("Creates a [`", stringify!($cell), "`] on `device`.")]
            ///
            /// # Panics
            #[doc = concat!("On the settings [`", stringify!($config), "::try_init`] refuses, with the same message.")]
            pub fn init<B: Backend>(&self, device: &B::Device) -> $cell<B> {
                self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
            }
        }
    };
}

ln_config!(
    LayerNormLstmCellConfig,
    LayerNormLstmCell,
    "LayerNormLSTMCell",
    4,
    |c, w, device| {
        LayerNormLstmCell {
            weight_ih: w.0,
            weight_hh: w.1,
            norm_ih: LayerNormParams::new(4 * c.d_hidden, device),
            norm_hh: LayerNormParams::new(4 * c.d_hidden, device),
            norm_c: LayerNormParams::new(c.d_hidden, device),
        }
    }
);

ln_config!(
    LayerNormGruCellConfig,
    LayerNormGruCell,
    "LayerNormGRUCell",
    3,
    |c, w, device| {
        LayerNormGruCell {
            weight_ih: w.0,
            weight_hh: w.1,
            norm_ih: LayerNormParams::new(3 * c.d_hidden, device),
            norm_hh: LayerNormParams::new(3 * c.d_hidden, device),
        }
    }
);

/// A LayerNorm LSTM cell (Haste's `LayerNormLSTM`; layer normalization, Ba et al., 2016):
///
/// ```text
/// [i, f, g, o] = LN(W_ih x; γ_ih, β_ih) + LN(W_hh h; γ_hh, β_hh)     each block [N, H]
/// i, f, o = σ(i), σ(f), σ(o);  g = tanh(g)
/// c' = f * c + i * g
/// h' = o * tanh(LN(c'; γ_c, β_c))
/// ```
///
/// `x: [N, H_in]`, `h`, `c: [N, H]`; `W_ih: [4*H, H_in]`, `W_hh: [4*H, H]` (gate blocks
/// `i, f, g, o`), `γ_ih`, `β_ih`, `γ_hh`, `β_hh: [4*H]` (the `β`s are the cell's biases),
/// `γ_c`, `β_c: [H]`. `c'` itself is carried un-normalized. Parameter names:
/// `weight_ih`, `weight_hh`, `gamma_ih`, `beta_ih`, `gamma_hh`, `beta_hh`, `gamma_c`, `beta_c`.
#[derive(Module, Debug)]
pub struct LayerNormLstmCell<B: Backend> {
    pub(crate) weight_ih: Param<Tensor<B, 2>>,
    pub(crate) weight_hh: Param<Tensor<B, 2>>,
    pub(crate) norm_ih: LayerNormParams<B>,
    pub(crate) norm_hh: LayerNormParams<B>,
    pub(crate) norm_c: LayerNormParams<B>,
}

/// A LayerNorm GRU cell (Haste's `LayerNormGRU`; layer normalization, Ba et al., 2016):
///
/// ```text
/// [x_r, x_z, x_n] = LN(W_ih x; γ_ih, β_ih)      [h_r, h_z, h_n] = LN(W_hh h; γ_hh, β_hh)
/// r = σ(x_r + h_r);  z = σ(x_z + h_z)
/// n = tanh(x_n + r * h_n)
/// h' = (1 - z) * n + z * h
/// ```
///
/// `x: [N, H_in]`, `h: [N, H]`; `W_ih: [3*H, H_in]`, `W_hh: [3*H, H]` (gate blocks `r, z, n`),
/// `γ_ih`, `β_ih`, `γ_hh`, `β_hh: [3*H]`. Parameter names: `weight_ih`, `weight_hh`,
/// `gamma_ih`, `beta_ih`, `gamma_hh`, `beta_hh`.
#[derive(Module, Debug)]
pub struct LayerNormGruCell<B: Backend> {
    pub(crate) weight_ih: Param<Tensor<B, 2>>,
    pub(crate) weight_hh: Param<Tensor<B, 2>>,
    pub(crate) norm_ih: LayerNormParams<B>,
    pub(crate) norm_hh: LayerNormParams<B>,
}

macro_rules! ln_common {
    ($cell:ident, $state:ty, $name:literal, $layer:literal, $has_c:literal) => {
        impl<B: Backend> $cell<B> {
            /// One time step.
            ///
            /// # Shapes
            /// - `x`: `[N, H_in]`; `state`: `[N, H]` tensors, `None` is the zero state
            /// - returns the new state, `[N, H]` tensors
            ///
            /// # Panics
            /// If `x` has not `H_in` features, or the state is not `[N, H]`.
            pub fn forward(&self, x: Tensor<B, 2>, state: Option<$state>) -> $state {
                forward_step(self, x, state)
            }

            /// Input weights `[G*H, H_in]`.
            pub fn weight_ih(&self) -> &Param<Tensor<B, 2>> {
                &self.weight_ih
            }

            /// Hidden weights `[G*H, H]`.
            pub fn weight_hh(&self) -> &Param<Tensor<B, 2>> {
                &self.weight_hh
            }

            /// The input projection's norm, `[G*H]` gain and bias.
            pub fn norm_ih(&self) -> &LayerNormParams<B> {
                &self.norm_ih
            }

            /// The recurrent projection's norm, `[G*H]` gain and bias.
            pub fn norm_hh(&self) -> &LayerNormParams<B> {
                &self.norm_hh
            }
        }

        impl<B: Backend> Cell<B> for $cell<B> {
            type State = $state;
            const NAME: &'static str = $name;
            const LAYER_NAME: &'static str = $layer;

            fn d_input(&self) -> usize {
                self.weight_ih.lazy_shape()[1]
            }

            fn d_hidden(&self) -> usize {
                self.weight_hh.lazy_shape()[1]
            }

            /// `LN(x W_ih^T; γ_ih, β_ih)` for every row at once.
            fn project_input(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
                self.norm_ih
                    .forward(x.matmul(self.weight_ih.val().transpose()))
            }

            fn step(&self, gates_x: Tensor<B, 2>, state: Self::State) -> Self::State {
                self.step_normed(gates_x, state)
            }

            fn has_cell_state(&self) -> bool {
                $has_c
            }

            super::map_weight_hh!();
        }
    };
}

ln_common!(LayerNormLstmCell, LstmState<B, 2>, "LayerNormLSTMCell", "LayerNormLSTM", true);
ln_common!(LayerNormGruCell, RnnState<B, 2>, "LayerNormGRUCell", "LayerNormGRU", false);

impl<B: Backend> LayerNormLstmCell<B> {
    /// The cell state's norm, `[H]` gain and bias.
    pub fn norm_c(&self) -> &LayerNormParams<B> {
        &self.norm_c
    }

    fn step_normed(&self, gates_x: Tensor<B, 2>, state: LstmState<B, 2>) -> LstmState<B, 2> {
        let gates_h = self
            .norm_hh
            .forward(state.hidden.matmul(self.weight_hh.val().transpose()));
        let [i, f, g, o]: [Tensor<B, 2>; 4] = (gates_x + gates_h)
            .chunk(4, 1)
            .try_into()
            .expect("4*H gate columns");
        let cell = sigmoid(f) * state.cell + sigmoid(i) * g.tanh();
        let hidden = sigmoid(o) * self.norm_c.forward(cell.clone()).tanh();
        LstmState { hidden, cell }
    }
}

impl<B: Backend> LayerNormGruCell<B> {
    fn step_normed(&self, gates_x: Tensor<B, 2>, state: RnnState<B, 2>) -> RnnState<B, 2> {
        let gates_h = self.norm_hh.forward(
            state
                .hidden
                .clone()
                .matmul(self.weight_hh.val().transpose()),
        );
        RnnState::new(gru_step(gates_x, gates_h, state.hidden).hidden)
    }
}

const IH: &[&str; 2] = &["gamma_ih", "beta_ih"];
const HH: &[&str; 2] = &["gamma_hh", "beta_hh"];
const C: &[&str; 2] = &["gamma_c", "beta_c"];

impl<B: Backend> FusedParams<B> for LayerNormLstmCell<B> {
    fn params(&self) -> Vec<(&'static str, ParamRef<'_, B>)> {
        let mut out = vec![
            ("weight_ih", ParamRef::Matrix(&self.weight_ih)),
            ("weight_hh", ParamRef::Matrix(&self.weight_hh)),
        ];
        out.extend(self.norm_ih.refs(IH));
        out.extend(self.norm_hh.refs(HH));
        out.extend(self.norm_c.refs(C));
        out
    }

    fn params_mut(&mut self) -> Vec<(&'static str, ParamMut<'_, B>)> {
        let mut out = vec![
            ("weight_ih", ParamMut::Matrix(&mut self.weight_ih)),
            ("weight_hh", ParamMut::Matrix(&mut self.weight_hh)),
        ];
        out.extend(self.norm_ih.muts(IH));
        out.extend(self.norm_hh.muts(HH));
        out.extend(self.norm_c.muts(C));
        out
    }
}

impl<B: Backend> FusedParams<B> for LayerNormGruCell<B> {
    fn params(&self) -> Vec<(&'static str, ParamRef<'_, B>)> {
        let mut out = vec![
            ("weight_ih", ParamRef::Matrix(&self.weight_ih)),
            ("weight_hh", ParamRef::Matrix(&self.weight_hh)),
        ];
        out.extend(self.norm_ih.refs(IH));
        out.extend(self.norm_hh.refs(HH));
        out
    }

    fn params_mut(&mut self) -> Vec<(&'static str, ParamMut<'_, B>)> {
        let mut out = vec![
            ("weight_ih", ParamMut::Matrix(&mut self.weight_ih)),
            ("weight_hh", ParamMut::Matrix(&mut self.weight_hh)),
        ];
        out.extend(self.norm_ih.muts(IH));
        out.extend(self.norm_hh.muts(HH));
        out
    }
}
