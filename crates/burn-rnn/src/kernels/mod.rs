//! Whole-sequence recurrent primitives: the backend extension behind the layers' fast path.
//!
//! A layer runs each layer and direction as two backend operations: the input projection of
//! every time step, [`RnnBackend::linear_forward`] (one matrix product), then the recurrence,
//! [`RnnBackend::recurrent_forward`], over the whole sequence. The matching backward methods
//! consume what the forwards saved. Backends override them with fused kernels; the default
//! bodies are built from plain tensor ops ([`reference`](mod@reference)), so every backend works.
//!
//! | backend | forward | backward |
//! | --- | --- | --- |
//! | `NdArray`, f32 | fused CPU kernels (the `rnn-cpu` crate): packed register tiles for `h W_hh^T` on AVX-512, AVX2 or NEON, picked at run time ([`isa`]), the gate math fused per tile, threads over hidden units; threaded GEMM for the projection | fused BPTT: gate gradients per step, one tile product `dG W_hh`, one GEMM for `dW_hh` over all steps |
//! | `NdArray`, other dtypes | reference ops | recompute + autodiff of the reference |
//! | `CubeBackend`, any runtime (features `wgpu`, `cuda` or `cubecl`) | per step: Burn's matmul `h W_hh^T`, then ONE fused CubeCL kernel (bias, input slice, gate math, state update, length mask, all writes) | per step: one fused gate-gradient kernel, then `dG W_hh`; `dW_hh` and `db_hh` as one matmul and one sum over all steps |
//! | `Fusion<B>` (feature `fusion`) | one lazy custom fusion op running `B`'s forward | one lazy custom fusion op running `B`'s backward |
//! | `Candle`, `Flex` (features `candle`, `flex`) | reference ops | recompute + autodiff of the reference |
//! | `Autodiff<B>` | `B`'s forward, saving what `B`'s backward needs | `B`'s backward, as ONE autodiff node per op |
//!
//! The CPU kernels use [`num_threads`] threads (set by [`set_num_threads`] or
//! `BURN_RNN_NUM_THREADS`; default: all cores) from a persistent pool, for steps big enough to
//! pay for a barrier per step. They run the best instruction set the CPU has; [`set_isa`] or
//! the `BURN_RNN_ISA` environment variable (`avx512`, `avx2`, `neon`, `scalar`) forces one.
//!
//! ## How the layers reach it
//! [`Recurrent::forward`](crate::Recurrent::forward) is bounded by `B: RnnBackend` and takes
//! this path unless the layer's [`ExecutionPath`] says `Reference`;
//! [`Recurrent::forward_reference`](crate::Recurrent::forward_reference) runs the plain-ops
//! unroll for any `B: Backend`. The crate implements `RnnBackend` for every backend it
//! builds with (`NdArray`, `CubeBackend` over any CubeCL runtime, `Fusion` over those, and
//! `Autodiff` over any of them); the orphan
//! rule keeps users from adding impls for foreign backends, so a new backend is added here.
//!
//! ## The packed result
//! An autodiff node has one output, so the forward returns one tensor `[L + 2, N, H]`: the
//! outputs at rows `0..L`, the final hidden state at row `L`, the final cell state at row
//! `L + 1` (zeros for RNN and GRU). [`sequence`] unpacks it.

mod autodiff;
mod cnn;
#[cfg(feature = "cubecl")]
mod cube;
#[cfg(feature = "fusion")]
mod fusion;
#[cfg(feature = "ndarray")]
mod ndarray;
#[cfg(any(feature = "candle", feature = "flex"))]
mod others;
pub mod reference;

pub use cnn::{
    BatchNormForward, BatchNormGrads, Conv2dGrads, ConvLstmGatesForward, ConvLstmGatesGrads,
    ConvNeeds, PoolOptions,
};

pub use rnn_cpu::{
    isa, num_threads, set_isa, set_num_threads, CellKind, Isa, IsaError, MinKind, Spec,
};

use burn::tensor::backend::Backend;
use burn::tensor::ops::{ConvOptions, FloatTensor};
use burn::tensor::{Tensor, TensorPrimitive};

/// Which implementation a layer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ExecutionPath {
    /// The backend's whole-sequence primitive ([`RnnBackend`]): fused kernels where the
    /// backend has them. The default.
    #[default]
    Fused,
    /// The plain-ops unroll: one hidden matmul and a handful of element-wise ops per step,
    /// differentiated by Burn's autodiff. Slower; kept as the reference.
    Reference,
}

/// The tensors of a whole-sequence primitive (backend primitives).
#[derive(Debug, Clone)]
pub struct RecurrentTensors<B: Backend> {
    /// `[L, N, G*H]`, time-major: `x_t W_ih^T + b_ih` (+ `b_hh` for RNN and LSTM, whose math
    /// allows folding it in).
    pub gates_x: FloatTensor<B>,
    /// `[G*H, H]`: the hidden weights in PyTorch's layout.
    pub weight_hh: FloatTensor<B>,
    /// `[G*H]`: added to `h W_hh^T` every step (GRU's `b_hh`; zeros where it was folded).
    pub bias_hh: FloatTensor<B>,
    /// `[N, H]`: the initial hidden state.
    pub h0: FloatTensor<B>,
    /// `[N, H]`: the initial cell state (LSTM; zeros and unused otherwise).
    pub c0: FloatTensor<B>,
}

/// The gradients of [`RecurrentTensors`]: the same fields with the same shapes, each the
/// gradient of the input of that name (`c0`'s is zeros for RNN and GRU).
pub type RecurrentGrads<B> = RecurrentTensors<B>;

/// What a whole-sequence forward keeps for its backward: one layout for every backend (the
/// CPU kernels, the CubeCL kernels, `Fusion`, `Autodiff` and the plain-ops reference), in time
/// order, so that any backward consumes any forward's result.
///
/// Shapes for `L` steps, `N` sequences, hidden size `H`, `G` gates and `A` saved activations
/// per hidden unit ([`CellKind::saved_width`]); [`SavedShapes`] computes them.
#[derive(Debug, Clone)]
pub struct RecurrentSaved<B: Backend> {
    /// `[G*H, H]`: the hidden weights.
    pub weight_hh: FloatTensor<B>,
    /// `[L, N, A*H]`: the activations of the step at time `t` in row `t`, in blocks of `H`
    /// columns: RNN `h'` (`A = 1`); LSTM `i, f, g, o, tanh(c')` (`A = 5`); GRU
    /// `r, z, n, W_hn h + b_hn` (`A = 4`). Gates are activated (after σ or tanh).
    pub acts: FloatTensor<B>,
    /// `[L, N, H]`: in row `t`, the hidden state the step at time `t` started from.
    pub h_prev: FloatTensor<B>,
    /// `[L, N, H]`: in row `t`, the cell state the step at time `t` started from (LSTM);
    /// `None` for RNN and GRU.
    pub c_prev: Option<FloatTensor<B>>,
}

/// The shapes of a [`RecurrentSaved`], field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedShapes {
    /// `[G*H, H]`
    pub weight_hh: [usize; 2],
    /// `[L, N, A*H]`
    pub acts: [usize; 3],
    /// `[L, N, H]`
    pub h_prev: [usize; 3],
    /// `[L, N, H]` for LSTM, else `None`.
    pub c_prev: Option<[usize; 3]>,
}

impl SavedShapes {
    /// The shapes for `seq` steps of `batch` sequences with hidden size `hidden`.
    pub fn new(kind: CellKind, seq: usize, batch: usize, hidden: usize) -> Self {
        Self {
            weight_hh: [kind.gates() * hidden, hidden],
            acts: [seq, batch, kind.saved_width() * hidden],
            h_prev: [seq, batch, hidden],
            c_prev: kind.has_cell().then_some([seq, batch, hidden]),
        }
    }

    /// The shapes in the order of [`RecurrentSaved::into_vec`].
    pub fn to_vec(&self) -> Vec<Vec<usize>> {
        let mut shapes = vec![
            self.weight_hh.to_vec(),
            self.acts.to_vec(),
            self.h_prev.to_vec(),
        ];
        shapes.extend(self.c_prev.map(|s| s.to_vec()));
        shapes
    }
}

impl<B: Backend> RecurrentSaved<B> {
    /// The tensors in a fixed order, `[weight_hh, acts, h_prev, c_prev?]`, for backends that
    /// move them as a list (a fusion op's outputs).
    pub fn into_vec(self) -> Vec<FloatTensor<B>> {
        let mut tensors = vec![self.weight_hh, self.acts, self.h_prev];
        tensors.extend(self.c_prev);
        tensors
    }

    /// The inverse of [`RecurrentSaved::into_vec`].
    ///
    /// # Panics
    /// If `tensors` does not hold 4 tensors for an LSTM or 3 for the others.
    pub fn from_vec(kind: CellKind, tensors: Vec<FloatTensor<B>>) -> Self {
        let expected = 3 + usize::from(kind.has_cell());
        assert_eq!(
            tensors.len(),
            expected,
            "saved tensors of a {kind:?} sequence: expected {expected}, got {}",
            tensors.len()
        );
        let mut it = tensors.into_iter();
        let mut next = || it.next().expect("length checked above");
        Self {
            weight_hh: next(),
            acts: next(),
            h_prev: next(),
            c_prev: kind.has_cell().then(next),
        }
    }

    /// Checks every field against [`SavedShapes`] for `kind`, `seq`, `batch`, `hidden`.
    ///
    /// # Panics
    /// With the field, the expected and the actual shape, if one differs: a backend whose
    /// forward breaks the layout fails here, not with wrong gradients.
    pub fn check(&self, kind: CellKind, seq: usize, batch: usize, hidden: usize) {
        let expected = SavedShapes::new(kind, seq, batch, hidden);
        let check = |name: &str, t: &FloatTensor<B>, want: &[usize]| {
            let got = burn::tensor::TensorMetadata::shape(t);
            assert!(
                got.as_slice() == want,
                "saved `{name}` of a {kind:?} sequence: expected shape {want:?}, got {:?}",
                got.as_slice()
            );
        };
        check("weight_hh", &self.weight_hh, &expected.weight_hh);
        check("acts", &self.acts, &expected.acts);
        check("h_prev", &self.h_prev, &expected.h_prev);
        match (&self.c_prev, expected.c_prev) {
            (Some(c), Some(want)) => check("c_prev", c, &want),
            (None, None) => {}
            (got, want) => panic!(
                "saved `c_prev` of a {kind:?} sequence: expected {}, got {}",
                if want.is_some() { "a tensor" } else { "none" },
                if got.is_some() { "a tensor" } else { "none" },
            ),
        }
    }
}

/// The result of [`RnnBackend::recurrent_forward`].
#[derive(Debug, Clone)]
pub struct RecurrentForward<B: Backend> {
    /// `[L + 2, N, H]`: outputs at rows `0..L` (zero past a sequence's length), final hidden
    /// state at row `L`, final cell state at row `L + 1` (zeros for RNN and GRU).
    pub packed: FloatTensor<B>,
    /// What the backward needs, when the forward was asked to save.
    pub saved: Option<RecurrentSaved<B>>,
}

/// A backend that runs whole recurrent sequences as single operations.
///
/// Every method has a plain-ops default body ([`reference`](mod@reference)), so an `impl RnnBackend for
/// MyBackend {}` is complete. A backend may override any of the four methods on its own: the
/// recurrent pair shares one saved layout ([`RecurrentSaved`]), so a fused forward works with
/// the reference backward and the other way round.
pub trait RnnBackend: Backend {
    /// Runs one layer and direction over a whole sequence.
    ///
    /// # Shapes
    /// - `tensors`: see [`RecurrentTensors`] (`gates_x: [L, N, G*H]`, `weight_hh: [G*H, H]`,
    ///   `bias_hh: [G*H]`, `h0, c0: [N, H]`)
    /// - returns `packed: [L + 2, N, H]` and, if `save`, what [`RnnBackend::recurrent_backward`]
    ///   needs, with the shapes of [`SavedShapes`]
    fn recurrent_forward(
        spec: &Spec,
        tensors: RecurrentTensors<Self>,
        save: bool,
    ) -> RecurrentForward<Self> {
        reference::forward::<Self>(spec, tensors, save)
    }

    /// Backpropagation through time for [`RnnBackend::recurrent_forward`].
    ///
    /// # Shapes
    /// - `saved`: what the forward returned with `save = true` ([`RecurrentSaved`])
    /// - `grad_packed`: `[L + 2, N, H]`, the gradient of the packed result
    /// - returns the gradient of every input tensor, same shapes as [`RecurrentTensors`]
    fn recurrent_backward(
        spec: &Spec,
        saved: RecurrentSaved<Self>,
        grad_packed: FloatTensor<Self>,
    ) -> RecurrentGrads<Self> {
        reference::backward::<Self>(spec, saved, grad_packed)
    }

    /// The input projection of every time step at once: `x W^T + b`.
    ///
    /// # Shapes
    /// - `x`: `[M, H_in]` (`M = L * N`), `weight`: `[G*H, H_in]`, `bias`: `[G*H]`
    /// - returns `[M, G*H]`
    fn linear_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        unwrap(reference::linear::<Self>(
            wrap(x),
            wrap(weight),
            Some(wrap(bias)),
        ))
    }

    /// The gradients of [`RnnBackend::linear_forward`]. `x`'s gradient (a product as big as
    /// the forward's) is computed only when `needs_x`: the autodiff node asks for it only
    /// when something tracks `x` (not for a first layer's input data).
    ///
    /// # Shapes
    /// - `x: [M, H_in]`, `weight: [G*H, H_in]`, `grad: [M, G*H]`
    /// - returns `x: [M, H_in]` (`None` unless `needs_x`), `weight: [G*H, H_in]`, `bias: [G*H]`
    fn linear_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        needs_x: bool,
    ) -> LinearGrads<Self> {
        reference::linear_backward::<Self>(x, weight, grad, needs_x)
    }

    /// A 2-D convolution with zero padding (PyTorch's `F.conv2d`), the op behind
    /// [`Conv2d`](crate::conv::Conv2d). The default body is Burn's own convolution.
    ///
    /// # Shapes
    /// - `x`: `[N, C_in, H, W]`, `weight`: `[C_out, C_in / groups, kH, kW]`, `bias`: `[C_out]`
    /// - returns `[N, C_out, H_out, W_out]`
    fn conv2d_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        <Self as burn::tensor::ops::ModuleOps<Self>>::conv2d(x, weight, Some(bias), options)
    }

    /// The gradients of [`RnnBackend::conv2d_forward`], each computed only when `needs` asks
    /// for it. The default body is Burn's own convolution backward.
    ///
    /// # Shapes
    /// - `x`, `weight` as [`RnnBackend::conv2d_forward`], `grad`: `[N, C_out, H_out, W_out]`
    /// - returns `x: [N, C_in, H, W]`, `weight: [C_out, C_in / groups, kH, kW]`,
    ///   `bias: [C_out]`
    fn conv2d_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        options: ConvOptions<2>,
        needs: ConvNeeds,
    ) -> Conv2dGrads<Self> {
        reference::conv2d_backward::<Self>(x, weight, grad, options, needs)
    }

    /// Batch normalization of `[N, C, H, W]` with the batch's own statistics (training mode),
    /// per channel: `y = (x - mean) / sqrt(var + eps) * gamma + beta`, `var` biased.
    ///
    /// # Shapes
    /// - `x`: `[N, C, H, W]`, `gamma`, `beta`: `[C]`
    /// - returns `y: [N, C, H, W]`, `mean` and `invstd = 1 / sqrt(var + eps)`: `[C]`
    fn batch_norm2d_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> BatchNormForward<Self> {
        reference::batch_norm2d_forward::<Self>(x, gamma, beta, eps)
    }

    /// Batch normalization with fixed statistics (inference), per channel:
    /// `y = x * scale + shift` (`scale = gamma / sqrt(running_var + eps)`,
    /// `shift = beta - running_mean * scale`).
    ///
    /// # Shapes
    /// - `x`: `[N, C, H, W]`, `scale`, `shift`: `[C]`
    /// - returns `y: [N, C, H, W]`
    fn batch_norm2d_inference(
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        reference::batch_norm2d_inference::<Self>(x, scale, shift)
    }

    /// The gradients of [`RnnBackend::batch_norm2d_forward`]; `x`'s only when `needs_x`.
    ///
    /// # Shapes
    /// - `x`, `grad`: `[N, C, H, W]`; `gamma`, `mean`, `invstd`: `[C]` (the forward's)
    /// - returns `x: [N, C, H, W]`, `gamma`, `beta`: `[C]`
    fn batch_norm2d_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        invstd: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        needs_x: bool,
    ) -> BatchNormGrads<Self> {
        reference::batch_norm2d_backward::<Self>(x, gamma, mean, invstd, grad, needs_x)
    }

    /// 2-D max pooling (`-inf` padding). The default body is Burn's own.
    ///
    /// # Shapes
    /// - `x`: `[N, C, H, W]`; returns `[N, C, H_out, W_out]`
    fn max_pool2d_forward(x: FloatTensor<Self>, options: PoolOptions) -> FloatTensor<Self> {
        let PoolOptions {
            kernel,
            stride,
            padding,
            dilation,
        } = options;
        Self::max_pool2d(x, kernel, stride, padding, dilation, false)
    }

    /// The gradient of [`RnnBackend::max_pool2d_forward`] with respect to `x`: each output's
    /// gradient goes to its window's maximum. The default body is Burn's own.
    ///
    /// # Shapes
    /// - `x`: `[N, C, H, W]`, `grad`: `[N, C, H_out, W_out]`; returns `[N, C, H, W]`
    fn max_pool2d_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        options: PoolOptions,
    ) -> FloatTensor<Self> {
        let PoolOptions {
            kernel,
            stride,
            padding,
            dilation,
        } = options;
        let indices =
            Self::max_pool2d_with_indices(x.clone(), kernel, stride, padding, dilation, false)
                .indices;
        Self::max_pool2d_with_indices_backward(
            x, kernel, stride, padding, dilation, false, grad, indices,
        )
        .x_grad
    }

    /// A ConvLSTM step's gate math after its convolution, the op behind
    /// [`ConvLstmCell`](crate::convrnn::ConvLstmCell): with the pre-activations in channel
    /// blocks `i, f, o, g`,
    /// `c' = sigmoid(f) * c + sigmoid(i) * tanh(g)`, `h' = sigmoid(o) * tanh(c')`.
    ///
    /// # Shapes
    /// - `gates`: `[N, 4*C_h, H, W]`, `c_prev`: `[N, C_h, H, W]`
    /// - returns `packed: [2, N, C_h, H, W]` (`h'`, `c'`) and, if `save`, the activations
    ///   [`RnnBackend::conv_lstm_gates_backward`] takes, `[N, 5*C_h, H, W]`
    fn conv_lstm_gates_forward(
        gates: FloatTensor<Self>,
        c_prev: FloatTensor<Self>,
        save: bool,
    ) -> ConvLstmGatesForward<Self> {
        reference::conv_lstm_gates_forward::<Self>(gates, c_prev, save)
    }

    /// The gradients of [`RnnBackend::conv_lstm_gates_forward`].
    ///
    /// # Shapes
    /// - `saved`: `[N, 5*C_h, H, W]`, the forward's; `c_prev`: `[N, C_h, H, W]`
    /// - `grad_packed`: `[2, N, C_h, H, W]`, the gradient of `packed`
    /// - returns `gates: [N, 4*C_h, H, W]` and `c_prev: [N, C_h, H, W]`
    fn conv_lstm_gates_backward(
        saved: FloatTensor<Self>,
        c_prev: FloatTensor<Self>,
        grad_packed: FloatTensor<Self>,
    ) -> ConvLstmGatesGrads<Self> {
        reference::conv_lstm_gates_backward::<Self>(saved, c_prev, grad_packed)
    }

    /// The elementwise linear recurrence `h_t = a_t * h_(t-1) + b_t` over the leading axis,
    /// from `h_(-1) = h0`: the whole recurrence of [`MinGru`](crate::MinGru) and
    /// [`MinLstm`](crate::MinLstm). The default body is a Hillis–Steele scan in tensor ops
    /// (`log2(L)` passes, parallel over time); on `NdArray<f32>` one pass in time order.
    ///
    /// # Shapes
    /// - `a`, `b`: `[L, M]`; `h0`: `[M]`; returns `h`: `[L, M]`
    fn linear_scan_forward(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        h0: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        reference::linear_scan_forward::<Self>(a, b, h0)
    }

    /// The gradients of [`RnnBackend::linear_scan_forward`] from `grad`, the gradient of
    /// every `h_t`.
    ///
    /// # Shapes
    /// - `a`, `h` (the forward's output), `grad`: `[L, M]`; `h0`: `[M]`
    /// - returns `a`, `b`: `[L, M]` and `h0`: `[M]`
    fn linear_scan_backward(
        a: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        h: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> LinearScanGrads<Self> {
        reference::linear_scan_backward::<Self>(a, h0, h, grad)
    }

    /// The coefficients of minGRU's or minLSTM's `h' = a * h + b` for every row of the
    /// projected input, `a` and `b` stacked: minGRU (blocks `v, u`) `a = 1 - σ(u)`,
    /// `b = σ(u) g(v)`; minLSTM (blocks `v, p, q`) `a = σ(p) / (σ(p) + σ(q))`,
    /// `b = σ(q) / (σ(p) + σ(q)) g(v)`; `g(v) = v + 0.5` for `v >= 0`, `σ(v)` below. The
    /// default body is tensor ops; on `NdArray<f32>` one vectorized pass.
    ///
    /// # Shapes
    /// - `gates`: `[M, G*H]` (`G` = [`MinKind::gates`]); returns `[2, M, H]`: `a`, then `b`
    fn min_coefficients_forward(kind: MinKind, gates: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::min_coefficients_forward::<Self>(kind, gates)
    }

    /// The gradient of the projected input of [`RnnBackend::min_coefficients_forward`] from
    /// `grad`, the gradient of its output.
    ///
    /// # Shapes
    /// - `gates`: `[M, G*H]`; `grad`: `[2, M, H]`; returns `[M, G*H]`
    fn min_coefficients_backward(
        kind: MinKind,
        gates: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        reference::min_coefficients_backward::<Self>(kind, gates, grad)
    }
}

/// The coefficients `(a, b)` of minGRU's or minLSTM's `h' = a * h + b` from the projected input
/// ([`RnnBackend::min_coefficients_forward`]), on tensors.
///
/// # Shapes
/// - `gates`: `[M, G*H]` (`G` = [`MinKind::gates`]); returns `a`, `b`: `[M, H]`
pub fn min_coefficients<B: RnnBackend>(
    kind: MinKind,
    gates: Tensor<B, 2>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let [rows, width] = gates.dims();
    let hidden = width / kind.gates();
    let packed: Tensor<B, 3> = wrap(B::min_coefficients_forward(kind, unwrap(gates)));
    let a = packed.clone().slice(0..1).reshape([rows, hidden]);
    let b = packed.slice(1..2).reshape([rows, hidden]);
    (a, b)
}

/// The gradients of [`RnnBackend::linear_scan_forward`]'s inputs.
#[derive(Debug, Clone)]
pub struct LinearScanGrads<B: Backend> {
    /// `[L, M]`
    pub a: FloatTensor<B>,
    /// `[L, M]`
    pub b: FloatTensor<B>,
    /// `[M]`
    pub h0: FloatTensor<B>,
}

/// `h_t = a_t * h_(t-1) + b_t` through [`RnnBackend::linear_scan_forward`], on tensors.
///
/// # Shapes
/// - `a`, `b`: `[L, M]`; `h0`: `[M]`; returns `[L, M]`
pub fn linear_scan<B: RnnBackend>(
    a: Tensor<B, 2>,
    b: Tensor<B, 2>,
    h0: Tensor<B, 1>,
) -> Tensor<B, 2> {
    wrap(B::linear_scan_forward(unwrap(a), unwrap(b), unwrap(h0)))
}

/// The gradients of [`RnnBackend::linear_forward`]'s inputs.
#[derive(Debug, Clone)]
pub struct LinearGrads<B: Backend> {
    /// `[M, H_in]`, when it was asked for
    pub x: Option<FloatTensor<B>>,
    /// `[G*H, H_in]`
    pub weight: FloatTensor<B>,
    /// `[G*H]`
    pub bias: FloatTensor<B>,
}

/// `x W^T + b` through [`RnnBackend::linear_forward`], on tensors.
///
/// # Shapes
/// - `x`: `[M, H_in]`, `weight`: `[G*H, H_in]`, `bias`: `[G*H]` or `None`
/// - returns `[M, G*H]`
pub fn linear<B: RnnBackend>(
    x: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 2> {
    let rows = weight.dims()[0];
    let bias = bias.unwrap_or_else(|| Tensor::zeros([rows], &weight.device()));
    wrap(B::linear_forward(unwrap(x), unwrap(weight), unwrap(bias)))
}

/// A ConvLSTM step's gate math through [`RnnBackend::conv_lstm_gates_forward`], on tensors.
///
/// # Shapes
/// - `gates`: `[N, 4*C_h, H, W]` (channel blocks `i, f, o, g`), `c_prev`: `[N, C_h, H, W]`
/// - returns `(h', c')`, each `[N, C_h, H, W]`
pub fn conv_lstm_gates<B: RnnBackend>(
    gates: Tensor<B, 4>,
    c_prev: Tensor<B, 4>,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let packed: Tensor<B, 5> =
        wrap(B::conv_lstm_gates_forward(unwrap(gates), unwrap(c_prev), false).packed);
    let h = packed.clone().slice(0..1).squeeze_dim(0);
    let c = packed.slice(1..2).squeeze_dim(0);
    (h, c)
}

/// The result of [`sequence`]: one layer and direction over a whole sequence.
#[derive(Debug, Clone)]
pub struct SequenceOutput<B: Backend> {
    /// `[L, N, H]`, zero past each sequence's length.
    pub output: Tensor<B, 3>,
    /// `[N, H]`: the final hidden state.
    pub hidden: Tensor<B, 2>,
    /// `[N, H]`: the final cell state (LSTM), else `None`.
    pub cell: Option<Tensor<B, 2>>,
}

/// Runs one layer and direction through [`RnnBackend::recurrent_forward`], on tensors.
///
/// # Shapes
/// - `gates_x`: `[L, N, G*H]` (time-major, input projection applied), `weight_hh: [G*H, H]`,
///   `bias_hh: [G*H]` or `None`, `h0`/`c0`: `[N, H]` (`c0` for LSTM; `None` is zeros)
/// - returns `output: [L, N, H]` and the final state `[N, H]`
pub fn sequence<B: RnnBackend>(
    spec: &Spec,
    gates_x: Tensor<B, 3>,
    weight_hh: Tensor<B, 2>,
    bias_hh: Option<Tensor<B, 1>>,
    h0: Tensor<B, 2>,
    c0: Option<Tensor<B, 2>>,
) -> SequenceOutput<B> {
    let [seq, batch, _] = gates_x.dims();
    let [gh, hidden] = weight_hh.dims();
    let device = gates_x.device();
    let bias_hh = bias_hh.unwrap_or_else(|| Tensor::zeros([gh], &device));
    let c0 = c0.unwrap_or_else(|| Tensor::zeros([batch, hidden], &device));
    let tensors = RecurrentTensors {
        gates_x: gates_x.into_primitive().tensor(),
        weight_hh: weight_hh.into_primitive().tensor(),
        bias_hh: bias_hh.into_primitive().tensor(),
        h0: h0.into_primitive().tensor(),
        c0: c0.into_primitive().tensor(),
    };
    let packed = B::recurrent_forward(spec, tensors, false).packed;
    let packed = Tensor::<B, 3>::from_primitive(TensorPrimitive::Float(packed));
    let output = packed.clone().slice(0..seq);
    let hidden_final = packed.clone().slice(seq..seq + 1).squeeze_dim(0);
    let cell = spec
        .kind
        .has_cell()
        .then(|| packed.slice(seq + 1..seq + 2).squeeze_dim(0));
    SequenceOutput {
        output,
        hidden: hidden_final,
        cell,
    }
}

/// `Tensor` from a float primitive.
pub(crate) fn wrap<B: Backend, const D: usize>(p: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

/// Float primitive from a `Tensor`.
pub(crate) fn unwrap<B: Backend, const D: usize>(t: Tensor<B, D>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}
