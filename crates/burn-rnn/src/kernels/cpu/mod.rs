//! Fused whole-sequence kernels on raw `f32` buffers (what the ndarray backend runs).
//!
//! Per step, forward: ONE matmul `h W_hh^T` into a scratch `[N, G*H]` that stays in cache,
//! then ONE pass over it that adds the hoisted input slice and the bias, applies the gate
//! math, writes the new state, the output row and (when training) the activations backward
//! needs. Backward (Haste's layout): ONE pass per step that turns the incoming gradient into
//! the gate gradients, then ONE matmul `dG W_hh` for the previous state's gradient; the weight
//! gradient is a single matmul over all steps at the end. Nothing is allocated inside the
//! time loop.
//!
//! Buffers are row-major; `L` steps, `N` sequences, `H` hidden units, `G` gates.

//!
//! | file | what |
//! | --- | --- |
//! | `forward.rs` | the forward: one job per worker over every time step |
//! | `backward.rs` | backpropagation through time, and the weight gradient |
//! | `gates.rs` | the portable per-unit gate math (the `avx512` module has the same in intrinsics) |
//! | `threads.rs` | the worker pool, the per-step barrier, instruction-set dispatch, buffers |
//! | `tile.rs`, `gemm.rs` | the packed register-tile product `h W_hh^T` and the GEMM |

#[cfg(target_arch = "x86_64")]
mod avx512;
mod backward;
mod forward;
mod gates;
mod gemm;
pub(crate) mod math;
mod pool;
mod threads;
pub(crate) mod tile;

pub(crate) use backward::backward;
pub(crate) use forward::forward;
pub(crate) use gemm::{Mat, MatMut};
pub use threads::{num_threads, set_num_threads};
pub(crate) use threads::{par_sgemm, zeroed};

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
    /// `[L, N, G*H]`
    pub gates_x: &'a [f32],
    /// `[G*H, H]`
    pub weight_hh: &'a [f32],
    /// `[G*H]`
    pub bias_hh: &'a [f32],
    /// `[N, H]`
    pub h0: &'a [f32],
    /// `[N, H]` (read for LSTM only)
    pub c0: &'a [f32],
}

/// What the forward keeps for the backward (time order).
#[derive(Debug)]
pub struct Saved<'a> {
    /// `[L, N, A*H]`, see [`RecurrentKind::saved_width`].
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
    /// `[L + 2, N, H]`: gradient of the packed result
    pub grad_packed: &'a [f32],
}

/// The backward's outputs, written whole.
#[derive(Debug)]
pub struct BackwardOutputs<'a> {
    /// `[L, N, G*H]`
    pub gates_x: &'a mut [f32],
    /// `[G*H, H]`
    pub weight_hh: &'a mut [f32],
    /// `[G*H]`
    pub bias_hh: &'a mut [f32],
    /// `[N, H]`
    pub h0: &'a mut [f32],
    /// `[N, H]`
    pub c0: &'a mut [f32],
}
