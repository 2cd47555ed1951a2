//! Fused whole-sequence RNN, LSTM and GRU kernels on raw `f32` buffers: the CPU engine of
//! [burn-rnn](https://crates.io/crates/burn-rnn), with no deep-learning framework underneath.
//!
//! [`forward`] runs a whole sequence and [`backward`] backpropagates through it, for the three
//! cells in PyTorch's layout and gate order ([`CellKind`]). Per step, forward: one product
//! `h W_hh^T` in register tiles over weights packed once per call, then the gate math on the
//! tile while it is in L1, writing the new state, the output row and (when training) the
//! activations the backward needs. Backward (Haste's layout): one pass per step turns the
//! incoming gradient into the gate gradients, then one tile product `dG W_hh` gives the
//! previous state's gradient; the hidden-weight gradient is one GEMM over all steps. Nothing is
//! allocated inside the time loop. Big steps are split over a persistent worker pool
//! ([`set_num_threads`]).
//!
//! The convolutional layers of a CRNN or a ConvLSTM run on the same tiles, instruction sets and
//! pool: [`conv2d_forward`], [`conv2d_backward_input`], [`conv2d_backward_weight`] (an implicit
//! GEMM over im2col panels that stay in L2), [`batch_norm2d_forward`] /
//! [`batch_norm2d_backward`] (and [`batch_norm2d_inference`] with fixed statistics),
//! [`max_pool2d_forward`] / [`max_pool2d_backward`], and a ConvLSTM step's gate math in one
//! pass ([`conv_lstm_forward`] / [`conv_lstm_backward`]).
//!
//! The input projection `x W_ih^T + b_ih` is the caller's (one GEMM over the whole sequence:
//! [`par_sgemm`]); it arrives as `gates_x`.
//!
//! # Instruction sets
//! One kernel source runs on every path ([`Isa`]): AVX-512, AVX2 with FMA and NEON, picked at
//! run time, and a scalar fallback. [`isa`] says which runs; the `BURN_RNN_ISA` environment
//! variable (`avx512`, `avx2`, `neon`, `scalar`) or [`set_isa`] forces one, for tests and
//! benchmarks.
//!
//! # Layout
//! Buffers are row-major and time-major. `L` steps, `N` sequences, `H` hidden units, `G`
//! gates ([`CellKind::gates`]), `A` saved activations per unit ([`CellKind::saved_width`]).
//!
//! # Example
//! ```
//! use rnn_cpu::{forward, CellKind, Dims, ForwardInputs, Spec};
//!
//! let (l, n, h) = (5, 2, 3);
//! let kind = CellKind::Gru;
//! let gh = kind.gates() * h;
//! let gates_x = vec![0.1f32; l * n * gh]; // x W_ih^T + b_ih, [L, N, G*H]
//! let weight_hh = vec![0.05f32; gh * h]; // [G*H, H]
//! let bias_hh = vec![0.0f32; gh]; // [G*H]
//! let h0 = vec![0.0f32; n * h]; // [N, H]
//! let inputs = ForwardInputs { gates_x: &gates_x, weight_hh: &weight_hh, bias_hh: &bias_hh, h0: &h0, c0: &[] };
//! let mut packed = vec![0.0f32; (l + 2) * n * h]; // outputs [L, N, H], final h, final c
//! let spec = Spec { kind, lengths: None, reverse: false };
//! forward(&spec, Dims { seq: l, batch: n, hidden: h }, inputs, &mut packed, None);
//! assert!(packed[..l * n * h].iter().all(|v| v.is_finite() && *v != 0.0));
//! ```

mod backward;
mod conv;
mod forward;
mod gates;
mod gemm;
mod kind;
mod min;
mod pool;
mod scan;
mod simd;
mod threads;
mod tile;

pub use backward::backward;
pub use conv::{
    batch_norm2d_backward, batch_norm2d_forward, batch_norm2d_inference, conv2d_backward_input,
    conv2d_backward_weight, conv2d_forward, conv_lstm_backward, conv_lstm_forward,
    max_pool2d_backward, max_pool2d_forward, Conv2dShape, ConvLstmShape, Pool2dShape,
};
pub use forward::forward;
pub use gemm::{sgemm, Mat, MatMut};
pub use kind::{CellKind, Nonlinearity, Spec, UnknownCellKind};
pub use min::{min_coefficients_backward, min_coefficients_forward, MinKind};
pub use scan::{linear_scan_backward, linear_scan_forward};
pub use simd::{isa, set_isa, Isa, IsaError, ISA_ENV};
pub use threads::{num_threads, par_sgemm, set_num_threads, zeroed};

/// Sizes of one whole-sequence call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// `L`
    pub seq: usize,
    /// `N`
    pub batch: usize,
    /// `H`
    pub hidden: usize,
}

/// The forward's inputs.
#[derive(Debug, Clone, Copy)]
pub struct ForwardInputs<'a> {
    /// `[L, N, G*H]`: `x_t W_ih^T + b_ih` (RNN and LSTM may fold `b_hh` in too).
    pub gates_x: &'a [f32],
    /// `[G*H, H]`
    pub weight_hh: &'a [f32],
    /// `[G*H]`: added to `h W_hh^T` every step.
    pub bias_hh: &'a [f32],
    /// `[N, H]`
    pub h0: &'a [f32],
    /// `[N, H]` for LSTM; not read otherwise (may be empty).
    pub c0: &'a [f32],
}

/// What the forward keeps for the backward (time order).
#[derive(Debug)]
pub struct Saved<'a> {
    /// `[L, N, A*H]`: for each step and sequence, the [`CellKind::saved_width`] activations, each
    /// `H` wide.
    pub acts: &'a mut [f32],
    /// `[L, N, H]`: the hidden state each step started from.
    pub h_prev: &'a mut [f32],
    /// `[L, N, H]`: the cell state each step started from (LSTM; empty otherwise).
    pub c_prev: &'a mut [f32],
}

/// The backward's inputs: the forward's saved buffers and the incoming gradient.
#[derive(Debug, Clone, Copy)]
pub struct BackwardInputs<'a> {
    /// `[G*H, H]`
    pub weight_hh: &'a [f32],
    /// `[L, N, A*H]`
    pub acts: &'a [f32],
    /// `[L, N, H]`
    pub h_prev: &'a [f32],
    /// `[L, N, H]` (LSTM) or empty
    pub c_prev: &'a [f32],
    /// `[L + 2, N, H]`: gradient of the forward's `packed` result
    pub grad_packed: &'a [f32],
}

/// The backward's outputs, written whole.
#[derive(Debug)]
pub struct BackwardOutputs<'a> {
    /// `[L, N, G*H]`: the gradient of `gates_x`
    pub gates_x: &'a mut [f32],
    /// `[G*H, H]`
    pub weight_hh: &'a mut [f32],
    /// `[G*H]`
    pub bias_hh: &'a mut [f32],
    /// `[N, H]`
    pub h0: &'a mut [f32],
    /// `[N, H]` (zeros for RNN and GRU)
    pub c0: &'a mut [f32],
}
