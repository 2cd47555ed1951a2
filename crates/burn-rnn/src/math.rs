//! The per-step math of the three built-in cells, after the matmuls: the single home of each
//! formula.
//!
//! The cells ([`crate::LstmCell`] and the others), the plain-ops reference of the kernels and
//! the tests all call these functions; the fused kernels implement the same formulas and are
//! tested against them. Each update returns the activations its backward needs, in the order
//! of the saved layout ([`crate::kernels::SavedShapes`]).
//!
//! This module imports nothing from the rest of the crate.
//!
//! Shapes: `N` batch, `H` hidden size; gate blocks are stacked in PyTorch's order.

use burn::tensor::{activation::relu, backend::Backend, Tensor};

pub use rnn_cpu::{CellKind, Nonlinearity, UnknownCellKind};

/// The logistic sigmoid in the tensor's own precision, `0.5 * tanh(x / 2) + 0.5`.
///
/// Burn 0.21's `activation::sigmoid` computes in f32 whatever the dtype (it casts), which
/// breaks f64 gradient checks; the tanh form is exact in every dtype, saturates without
/// overflow and its gradient never meets `0 * inf`.
pub fn sigmoid<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.mul_scalar(0.5).tanh().mul_scalar(0.5).add_scalar(0.5)
}

/// `x W^T + b`, from tensor ops.
///
/// # Shapes
/// - `x`: `[M, H_in]`, `weight`: `[G*H, H_in]`, `bias`: `[G*H]` or `None`; returns `[M, G*H]`
pub fn linear<B: Backend>(
    x: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 2> {
    let y = x.matmul(weight.transpose());
    match bias {
        Some(b) => y + b.unsqueeze_dim(0),
        None => y,
    }
}

/// The vanilla RNN's step: `h' = act(pre)`.
///
/// # Shapes
/// - `pre`: `[N, H]`, `x W_ih^T + b_ih + h W_hh^T + b_hh`; returns `h': [N, H]` (which is
///   also the one activation the backward needs)
pub fn rnn_step<B: Backend>(pre: Tensor<B, 2>, nonlinearity: Nonlinearity) -> Tensor<B, 2> {
    match nonlinearity {
        Nonlinearity::Tanh => pre.tanh(),
        Nonlinearity::Relu => relu(pre),
    }
}

/// One LSTM step and its activations, every field `[N, H]`.
#[derive(Debug, Clone)]
pub struct LstmStep<B: Backend> {
    /// Input gate `i = σ(·)`.
    pub i: Tensor<B, 2>,
    /// Forget gate `f = σ(·)`.
    pub f: Tensor<B, 2>,
    /// Candidate `g = tanh(·)`.
    pub g: Tensor<B, 2>,
    /// Output gate `o = σ(·)`.
    pub o: Tensor<B, 2>,
    /// `tanh(c')`.
    pub tanh_cell: Tensor<B, 2>,
    /// The new hidden state `h' = o * tanh(c')`.
    pub hidden: Tensor<B, 2>,
    /// The new cell state `c' = f * c + i * g`.
    pub cell: Tensor<B, 2>,
}

/// The LSTM's step.
///
/// # Shapes
/// - `gates`: `[N, 4H]`, `x W_ih^T + b_ih + h W_hh^T + b_hh` in gate order `i, f, g, o`
/// - `cell`: `c: [N, H]`
/// - returns every activation and the new state, each `[N, H]`
pub fn lstm_step<B: Backend>(gates: Tensor<B, 2>, cell: Tensor<B, 2>) -> LstmStep<B> {
    let [i, f, g, o]: [Tensor<B, 2>; 4] = gates
        .chunk(4, 1)
        .try_into()
        .expect("4*H gate columns split into 4 gates");
    let (i, f, g, o) = (sigmoid(i), sigmoid(f), g.tanh(), sigmoid(o));
    let cell = f.clone() * cell + i.clone() * g.clone();
    let tanh_cell = cell.clone().tanh();
    let hidden = o.clone() * tanh_cell.clone();
    LstmStep {
        i,
        f,
        g,
        o,
        tanh_cell,
        hidden,
        cell,
    }
}

/// One GRU step and its activations, every field `[N, H]`.
#[derive(Debug, Clone)]
pub struct GruStep<B: Backend> {
    /// Reset gate `r = σ(·)`.
    pub r: Tensor<B, 2>,
    /// Update gate `z = σ(·)`.
    pub z: Tensor<B, 2>,
    /// Candidate `n = tanh(x_n + r * (W_hn h + b_hn))`.
    pub n: Tensor<B, 2>,
    /// `W_hn h + b_hn`, the hidden part the reset gate multiplies.
    pub hidden_n: Tensor<B, 2>,
    /// The new hidden state `h' = (1 - z) * n + z * h`.
    pub hidden: Tensor<B, 2>,
}

/// The GRU's step.
///
/// # Shapes
/// - `gates_x`: `[N, 3H]`, `x W_ih^T + b_ih`; `gates_h`: `[N, 3H]`, `h W_hh^T + b_hh`; both in
///   gate order `r, z, n`
/// - `hidden`: `h: [N, H]`
/// - returns every activation and `h'`, each `[N, H]`
pub fn gru_step<B: Backend>(
    gates_x: Tensor<B, 2>,
    gates_h: Tensor<B, 2>,
    hidden: Tensor<B, 2>,
) -> GruStep<B> {
    let [xr, xz, xn]: [Tensor<B, 2>; 3] = gates_x
        .chunk(3, 1)
        .try_into()
        .expect("3*H columns split into 3 gates");
    let [hr, hz, hidden_n]: [Tensor<B, 2>; 3] = gates_h
        .chunk(3, 1)
        .try_into()
        .expect("3*H columns split into 3 gates");
    let r = sigmoid(xr + hr);
    let z = sigmoid(xz + hz);
    let n = (xn + r.clone() * hidden_n.clone()).tanh();
    // h' = (1 - z) * n + z * h = n + z * (h - n)
    let new = n.clone() + z.clone() * (hidden - n.clone());
    GruStep {
        r,
        z,
        n,
        hidden_n,
        hidden: new,
    }
}
