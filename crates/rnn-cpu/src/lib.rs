//! Fused whole-sequence RNN, LSTM and GRU kernels on raw `f32` buffers: the CPU engine of
//! [burn-rnn](https://crates.io/crates/burn-rnn), with no deep-learning framework underneath.
//!
//! [`forward`] runs a whole sequence and [`backward`] backpropagates through it, for the three
//! cells in PyTorch's layout and gate order ([`Cell`]). Per step, forward: one product
//! `h W_hh^T` in register tiles over weights packed once per call, then the gate math on the
//! tile while it is in L1, writing the new state, the output row and (when training) the
//! activations the backward needs. Backward (Haste's layout): one pass per step turns the
//! incoming gradient into the gate gradients, then one tile product `dG W_hh` gives the
//! previous state's gradient; the hidden-weight gradient is one GEMM over all steps. Nothing is
//! allocated inside the time loop. Big steps are split over a persistent worker pool
//! ([`set_num_threads`]).
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
//! gates ([`Cell::gates`]), `A` saved activations per unit ([`Cell::saved_width`]).
//!
//! # Example
//! ```
//! use rnn_cpu::{forward, Cell, Dims, ForwardInputs, Spec};
//!
//! let (l, n, h) = (5, 2, 3);
//! let cell = Cell::Gru;
//! let gh = cell.gates() * h;
//! let gates_x = vec![0.1f32; l * n * gh]; // x W_ih^T + b_ih, [L, N, G*H]
//! let weight_hh = vec![0.05f32; gh * h]; // [G*H, H]
//! let bias_hh = vec![0.0f32; gh]; // [G*H]
//! let h0 = vec![0.0f32; n * h]; // [N, H]
//! let inputs = ForwardInputs { gates_x: &gates_x, weight_hh: &weight_hh, bias_hh: &bias_hh, h0: &h0, c0: &[] };
//! let mut packed = vec![0.0f32; (l + 2) * n * h]; // outputs [L, N, H], final h, final c
//! let spec = Spec { cell, lengths: None, reverse: false };
//! forward(&spec, Dims { seq: l, batch: n, hidden: h }, inputs, &mut packed, None);
//! assert!(packed[..l * n * h].iter().all(|v| v.is_finite() && *v != 0.0));
//! ```

mod backward;
mod forward;
mod gates;
mod gemm;
mod pool;
mod simd;
mod threads;
mod tile;

pub use backward::backward;
pub use forward::forward;
pub use gemm::{sgemm, Mat, MatMut};
pub use simd::{isa, set_isa, Isa, IsaError, ISA_ENV};
pub use threads::{num_threads, par_sgemm, set_num_threads, zeroed};

/// The cell a kernel runs, with PyTorch's equations and gate order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cell {
    /// `h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`
    RnnTanh,
    /// `h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)`
    RnnRelu,
    /// LSTM, gates `i, f, g, o`: `c' = f c + i g`, `h' = o tanh(c')`.
    Lstm,
    /// GRU, gates `r, z, n`: `n = tanh(W_in x + b_in + r (W_hn h + b_hn))`,
    /// `h' = (1 - z) n + z h`.
    Gru,
}

impl Cell {
    /// The number of gate blocks `G`: 1 (RNN), 4 (LSTM), 3 (GRU).
    pub fn gates(self) -> usize {
        match self {
            Cell::RnnTanh | Cell::RnnRelu => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// Whether the state has a cell part `c` (LSTM).
    pub fn has_cell(self) -> bool {
        self == Cell::Lstm
    }

    /// The activations a step saves for its backward, in units of `H` (`A`): RNN 1 (`h'`),
    /// LSTM 5 (`i, f, g, o, tanh(c')`), GRU 4 (`r, z, n, W_hn h + b_hn`).
    pub fn saved_width(self) -> usize {
        match self {
            Cell::RnnTanh | Cell::RnnRelu => 1,
            Cell::Lstm => 5,
            Cell::Gru => 4,
        }
    }
}

/// What one call computes besides its sizes: the cell, the lengths and the direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec<'a> {
    /// The cell math.
    pub cell: Cell,
    /// `[N]` lengths in `0..=L`, or `None` when every sequence is `L` long. Past its length a
    /// sequence's state is frozen and its outputs are zero.
    pub lengths: Option<&'a [usize]>,
    /// Run from `t = L - 1` down to `0` (the reverse direction of a bidirectional layer).
    pub reverse: bool,
}

impl Spec<'_> {
    /// Whether sequence `n` is still running at time `t`.
    #[inline]
    pub fn active(&self, t: usize, n: usize) -> bool {
        self.lengths.is_none_or(|l| t < l[n])
    }

    /// The time index of processing step `s` in a sequence of `seq` steps.
    #[inline]
    pub fn time(&self, s: usize, seq: usize) -> usize {
        match self.reverse {
            true => seq - 1 - s,
            false => s,
        }
    }

    /// Panics unless the lengths fit `dims`.
    fn check(&self, dims: Dims) {
        if let Some(lengths) = self.lengths {
            assert_eq!(lengths.len(), dims.batch, "one length per sequence");
            assert!(
                lengths.iter().all(|&l| l <= dims.seq),
                "a length exceeds the {} steps",
                dims.seq
            );
        }
    }
}

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
    /// `[L, N, A*H]`: for each step and sequence, the [`Cell::saved_width`] activations, each
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
