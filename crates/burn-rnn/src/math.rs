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
use serde::{Deserialize, Serialize};

/// The three built-in cell kinds, as the configs, the seq2seq model, the examples and the
/// benchmarks name them.
///
/// Parses from and prints as `rnn`, `lstm`, `gru` (any case), so it serves as a CLI flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CellKind {
    /// Vanilla (Elman) RNN, [`crate::RnnCell`].
    Rnn,
    /// LSTM, [`crate::LstmCell`], gates `i, f, g, o`.
    Lstm,
    /// GRU, [`crate::GruCell`], gates `r, z, n`.
    Gru,
}

impl CellKind {
    /// Every kind, in the order `rnn, lstm, gru`.
    pub const ALL: [CellKind; 3] = [CellKind::Rnn, CellKind::Lstm, CellKind::Gru];

    /// The number of gate blocks `G` stacked in the fused weights: 1, 4 or 3.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Rnn => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// The lower-case name: `"rnn"`, `"lstm"` or `"gru"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CellKind::Rnn => "rnn",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }

    /// Whether the state has a cell part `c` (LSTM).
    pub fn has_cell(self) -> bool {
        self == CellKind::Lstm
    }
}

impl core::fmt::Display for CellKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not `rnn`, `lstm` or `gru`, from [`CellKind`]'s `FromStr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCellKind(pub String);

impl core::fmt::Display for UnknownCellKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "unknown cell kind `{}`: expected rnn, lstm or gru",
            self.0
        )
    }
}

impl std::error::Error for UnknownCellKind {}

impl core::str::FromStr for CellKind {
    type Err = UnknownCellKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CellKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownCellKind(s.to_string()))
    }
}

/// The nonlinearity of a vanilla RNN, as PyTorch's `nonlinearity` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Nonlinearity {
    /// `tanh` (PyTorch's default).
    #[default]
    Tanh,
    /// `relu`.
    Relu,
}

/// The math a whole-sequence kernel runs: a [`CellKind`], with the RNN's [`Nonlinearity`]
/// folded in.
///
/// Gate order and equations are PyTorch's; see each cell's docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecurrentKind {
    /// `h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`
    RnnTanh,
    /// `h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)`
    RnnRelu,
    /// LSTM, gates `i, f, g, o`.
    Lstm,
    /// GRU, gates `r, z, n`; the reset gate multiplies `W_hn h + b_hn`.
    Gru,
}

impl RecurrentKind {
    /// The cell kind, without the RNN's nonlinearity.
    pub fn cell_kind(self) -> CellKind {
        match self {
            RecurrentKind::RnnTanh | RecurrentKind::RnnRelu => CellKind::Rnn,
            RecurrentKind::Lstm => CellKind::Lstm,
            RecurrentKind::Gru => CellKind::Gru,
        }
    }

    /// The number of gate blocks `G`: 1 (RNN), 4 (LSTM), 3 (GRU).
    pub fn gates(self) -> usize {
        self.cell_kind().gates()
    }

    /// Whether the state has a cell part `c` (LSTM).
    pub fn has_cell(self) -> bool {
        self.cell_kind().has_cell()
    }

    /// The activations a step saves for its backward, in units of `H`: RNN 1 (`h'`), LSTM 5
    /// (`i, f, g, o, tanh(c')`), GRU 4 (`r, z, n, W_hn h + b_hn`).
    pub fn saved_width(self) -> usize {
        match self.cell_kind() {
            CellKind::Rnn => 1,
            CellKind::Lstm => 5,
            CellKind::Gru => 4,
        }
    }
}

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
