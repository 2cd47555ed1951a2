//! minGRU and minLSTM (Feng et al., 2024, "Were RNNs All We Needed?"): recurrences whose gates
//! read only the input, so a whole sequence runs as one parallel scan.
//!
//! Both are `h_t = a_t * h_(t-1) + b_t` with `a_t`, `b_t` functions of `x_t` alone
//! ([`Cell::affine`]). Step mode ([`Cell::step`], the layers' reference path and generation)
//! applies it one step at a time; on the layers' fused path the coefficients of every step
//! come from one matmul and one op
//! ([`RnnBackend::min_coefficients_forward`](crate::RnnBackend::min_coefficients_forward), one
//! vectorized pass on the CPU), and the recurrence runs as one op,
//! [`RnnBackend::linear_scan_forward`](crate::RnnBackend::linear_scan_forward): a
//! Hillis–Steele parallel scan on the GPU backends (`log2(L)` passes, each
//! `(a, b)_t <- (a_t * a_(t-d), a_t * b_(t-d) + b_t)`), one pass in time order on the CPU.
//! Neither divides by products of coefficients, so both are stable in linear space for any
//! sign of `h_0` (the paper's log-space form makes a cumulative-sum formulation stable).

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::tensor::{backend::Backend, Tensor};

use super::{check_sizes, forward_step, Cell, RnnState};
use crate::math::{self, sigmoid};
use crate::ConfigError;

/// The paper's candidate activation `g(v) = v + 0.5` for `v >= 0`, `σ(v)` below: continuous,
/// positive, and linear for large `v`.
fn g<B: Backend, const D: usize>(v: Tensor<B, D>) -> Tensor<B, D> {
    let positive = v.clone().greater_equal_elem(0.0);
    sigmoid(v.clone()).mask_where(positive, v + 0.5)
}

/// Input weights `[G*H, H_in]` and bias `[G*H]` with PyTorch's `nn.Linear` initialization,
/// `U(-1/sqrt(H_in), 1/sqrt(H_in))`, unless `initializer` says otherwise.
fn init_linear<B: Backend>(
    rows: usize,
    d_input: usize,
    bias: bool,
    initializer: &Option<Initializer>,
    device: &B::Device,
) -> (Param<Tensor<B, 2>>, Option<Param<Tensor<B, 1>>>) {
    let k = 1.0 / (d_input as f64).sqrt();
    let init = initializer
        .clone()
        .unwrap_or(Initializer::Uniform { min: -k, max: k });
    (
        init.init_with([rows, d_input], Some(d_input), Some(rows), device),
        bias.then(|| init.init_with([rows], Some(d_input), Some(rows), device)),
    )
}

macro_rules! min_cell {
    (
        $(#[$doc:meta])*
        $cell:ident, $config:ident, $name:literal, $layer_name:literal, $gates:literal, $order:literal,
        $kind:expr
    ) => {
        #[doc = concat!("Configuration of a [`", stringify!($cell), "`].")]
        #[derive(Config, Debug)]
        pub struct $config {
            /// Input features `H_in`.
            pub d_input: usize,
            /// Hidden size `H`.
            pub d_hidden: usize,
            /// Whether the input projection has a bias.
            #[config(default = true)]
            pub bias: bool,
            /// Initializer of the weights and bias; `None` is `nn.Linear`'s
            /// U(-1/sqrt(H_in), 1/sqrt(H_in)).
            pub initializer: Option<Initializer>,
        }

        $(#[$doc])*
        #[derive(Module, Debug)]
        pub struct $cell<B: Backend> {
            #[doc = concat!("Input weights `[", $gates, "*H, H_in]`, blocks ", $order, ".")]
            pub(crate) weight_ih: Param<Tensor<B, 2>>,
            #[doc = concat!("Input bias `[", $gates, "*H]`, if the cell has one.")]
            pub(crate) bias_ih: Option<Param<Tensor<B, 1>>>,
        }

        impl $config {
            #[doc = concat!("Creates a [`", stringify!($cell), "`] on `device`.")]
            ///
            /// # Errors
            /// `d_input` or `d_hidden` of 0 ([`ConfigError`]).
            pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<$cell<B>, ConfigError> {
                check_sizes($name, self.d_input, self.d_hidden)?;
                let (weight_ih, bias_ih) = init_linear::<B>(
                    $gates * self.d_hidden,
                    self.d_input,
                    self.bias,
                    &self.initializer,
                    device,
                );
                Ok($cell { weight_ih, bias_ih })
            }

            #[doc = concat!("Creates a [`", stringify!($cell), "`] on `device`.")]
            ///
            /// # Panics
            #[doc = concat!("On the settings [`", stringify!($config), "::try_init`] refuses, with the same message.")]
            pub fn init<B: Backend>(&self, device: &B::Device) -> $cell<B> {
                self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
            }
        }

        impl<B: Backend> $cell<B> {
            /// One time step.
            ///
            /// # Shapes
            /// - `x`: `[N, H_in]`
            /// - `state`: `h` `[N, H]`; `None` is the zero state
            /// - returns `h'` `[N, H]`
            ///
            /// # Panics
            /// If `x` has not `H_in` features, or the state is not `[N, H]`.
            pub fn forward(&self, x: Tensor<B, 2>, state: Option<RnnState<B, 2>>) -> RnnState<B, 2> {
                forward_step(self, x, state)
            }

            #[doc = concat!("Input weights `[", $gates, "*H, H_in]`, blocks ", $order, ".")]
            pub fn weight_ih(&self) -> &Param<Tensor<B, 2>> {
                &self.weight_ih
            }

            #[doc = concat!("Input bias `[", $gates, "*H]`, if the cell has one.")]
            pub fn bias_ih(&self) -> Option<&Param<Tensor<B, 1>>> {
                self.bias_ih.as_ref()
            }

            /// Input features `H_in`.
            pub fn d_input(&self) -> usize {
                self.weight_ih.lazy_shape()[1]
            }

            /// Hidden size `H`.
            pub fn d_hidden(&self) -> usize {
                self.weight_ih.lazy_shape()[0] / $gates
            }
        }

        impl<B: Backend> Cell<B> for $cell<B> {
            type State = RnnState<B, 2>;
            const NAME: &'static str = $name;
            const LAYER_NAME: &'static str = $layer_name;

            fn d_input(&self) -> usize {
                $cell::d_input(self)
            }

            fn d_hidden(&self) -> usize {
                $cell::d_hidden(self)
            }

            fn project_input(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
                math::linear(x, self.weight_ih.val(), self.bias_ih.as_ref().map(|b| b.val()))
            }

            fn step(&self, gates_x: Tensor<B, 2>, state: Self::State) -> Self::State {
                let (a, b) = Self::coefficients(gates_x);
                RnnState::new(a * state.hidden + b)
            }

            fn affine(&self, gates_x: Tensor<B, 2>) -> Option<(Tensor<B, 2>, Tensor<B, 2>)> {
                Some(Self::coefficients(gates_x))
            }

            fn min_kind(&self) -> Option<crate::kernels::MinKind> {
                Some($kind)
            }
        }

        impl<B: Backend> crate::import::FusedParams<B> for $cell<B> {
            fn params(&self) -> Vec<(&'static str, crate::import::ParamRef<'_, B>)> {
                use crate::import::ParamRef;
                vec![
                    ("weight_ih", ParamRef::Matrix(&self.weight_ih)),
                    ("bias_ih", ParamRef::Vector(self.bias_ih.as_ref())),
                ]
            }

            fn params_mut(&mut self) -> Vec<(&'static str, crate::import::ParamMut<'_, B>)> {
                use crate::import::ParamMut;
                vec![
                    ("weight_ih", ParamMut::Matrix(&mut self.weight_ih)),
                    ("bias_ih", ParamMut::Vector(&mut self.bias_ih)),
                ]
            }
        }
    };
}

min_cell!(
    /// A minGRU cell (Feng et al., 2024, "Were RNNs All We Needed?"): a GRU whose gate and
    /// candidate read only the input.
    ///
    /// ```text
    /// z  = σ(W_z x + b_z)
    /// h~ = g(W_h x + b_h)            g(v) = v + 0.5 (v >= 0), σ(v) (v < 0)
    /// h' = (1 - z) * h + z * h~
    /// ```
    ///
    /// `x: [N, H_in]`, `h: [N, H]`; `weight_ih [2*H, H_in]` stacks `W_h` then `W_z` (the order
    /// of the `to_hidden_and_gate` projection of the reference PyTorch port). A layer of it
    /// ([`MinGru`](crate::MinGru)) runs a whole sequence as one parallel scan on the fused
    /// path, step by step on the reference path.
    MinGruCell, MinGruCellConfig, "minGRUCell", "minGRU", 2, "h, z",
    crate::kernels::MinKind::Gru
);

min_cell!(
    /// A minLSTM cell (Feng et al., 2024, "Were RNNs All We Needed?"): an LSTM without the
    /// output gate and the cell state, its gates reading only the input and normalized to
    /// sum to 1.
    ///
    /// ```text
    /// f  = σ(W_f x + b_f),   i = σ(W_i x + b_i)
    /// f' = f / (f + i),      i' = i / (f + i)
    /// h~ = g(W_h x + b_h)            g(v) = v + 0.5 (v >= 0), σ(v) (v < 0)
    /// h' = f' * h + i' * h~
    /// ```
    ///
    /// `x: [N, H_in]`, `h: [N, H]`; `weight_ih [3*H, H_in]` stacks `W_h`, `W_f`, `W_i` (the
    /// order of the reference PyTorch port's `to_hidden_and_f_i_gate`). A layer of it
    /// ([`MinLstm`](crate::MinLstm)) runs a whole sequence as one parallel scan on the fused
    /// path, step by step on the reference path.
    MinLstmCell, MinLstmCellConfig, "minLSTMCell", "minLSTM", 3, "h, f, i",
    crate::kernels::MinKind::Lstm
);

impl<B: Backend> MinGruCell<B> {
    /// `(a, b)` of `h' = a * h + b` from the projected input `[M, 2*H]`: `a = 1 - z`,
    /// `b = z * g(h~)`, each `[M, H]`.
    fn coefficients(gates_x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let [hidden, gate] = split::<B, 2>(gates_x);
        let z = sigmoid(gate);
        (z.clone().neg() + 1.0, z * g(hidden))
    }
}

impl<B: Backend> MinLstmCell<B> {
    /// `(a, b)` of `h' = a * h + b` from the projected input `[M, 3*H]`: `a = f'`,
    /// `b = i' * g(h~)`, each `[M, H]`.
    fn coefficients(gates_x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let [hidden, f, i] = split::<B, 3>(gates_x);
        let (f, i) = (sigmoid(f), sigmoid(i));
        let total = f.clone() + i.clone();
        (f / total.clone(), i / total * g(hidden))
    }
}

/// `[M, K*H]` split into its `K` blocks `[M, H]`.
fn split<B: Backend, const K: usize>(t: Tensor<B, 2>) -> [Tensor<B, 2>; K] {
    let parts = t.chunk(K, 1);
    parts.try_into().expect("K equal blocks")
}
