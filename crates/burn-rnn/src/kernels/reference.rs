//! The plain-ops reference: what every fused kernel is tested against, and the default bodies
//! of [`RnnBackend`](super::RnnBackend).
//!
//! [`sequence`] is the unroll from ordinary tensor ops (one hidden matmul and the cell's math
//! per step), differentiable by Burn's autodiff on any backend. [`forward`] and [`backward`]
//! wrap it for the primitive-level trait; [`backward`] recomputes the forward on
//! `Autodiff<B>` and lets Burn's autodiff do backpropagation through time.

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorData};
use burn_autodiff::Autodiff;

use super::{
    unwrap, wrap, LinearGrads, RecurrentForward, RecurrentGrads, RecurrentKind, RecurrentSpec,
    RecurrentTensors, SequenceOutput,
};
use crate::cell::{gru_update, lstm_update, rnn_update, Nonlinearity};

/// One step of the cell math after both matmuls.
///
/// # Shapes
/// - `gates_x`: `[N, G*H]` (`x W_ih^T + b_ih`, plus the folded `b_hh` for RNN and LSTM)
/// - `gates_h`: `[N, G*H]` (`h W_hh^T`, plus `b_hh` for GRU)
/// - `hidden`, `cell`: `[N, H]` (`cell` for LSTM only)
/// - returns `(h', c')`, each `[N, H]` (`c'` for LSTM only)
pub fn step<B: Backend>(
    kind: RecurrentKind,
    gates_x: Tensor<B, 2>,
    gates_h: Tensor<B, 2>,
    hidden: Tensor<B, 2>,
    cell: Option<Tensor<B, 2>>,
) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
    match kind {
        RecurrentKind::RnnTanh => (rnn_update(gates_x + gates_h, Nonlinearity::Tanh), None),
        RecurrentKind::RnnRelu => (rnn_update(gates_x + gates_h, Nonlinearity::Relu), None),
        RecurrentKind::Lstm => {
            let cell = cell.expect("an LSTM step needs a cell state");
            let (h, c) = lstm_update(gates_x + gates_h, cell);
            (h, Some(c))
        }
        RecurrentKind::Gru => (gru_update(gates_x, gates_h, hidden), None),
    }
}

/// One layer and direction over a whole sequence, from plain tensor ops.
///
/// # Shapes
/// - `gates_x`: `[L, N, G*H]`, time-major, input projection applied
/// - `weight_hh`: `[G*H, H]`; `bias_hh`: `[G*H]` added to `h W_hh^T` every step, or `None`
/// - `h0`, `c0`: `[N, H]` (`c0` for LSTM; `None` is zeros)
/// - returns `output: [L, N, H]` (zero past each length) and the final state `[N, H]`
pub fn sequence<B: Backend>(
    spec: &RecurrentSpec,
    gates_x: Tensor<B, 3>,
    weight_hh: Tensor<B, 2>,
    bias_hh: Option<Tensor<B, 1>>,
    h0: Tensor<B, 2>,
    c0: Option<Tensor<B, 2>>,
) -> SequenceOutput<B> {
    let [seq, batch, _] = gates_x.dims();
    let device = gates_x.device();
    let masks = step_masks::<B>(spec, seq, batch, &device);
    let weight_hh_t = weight_hh.transpose();
    let bias_hh = bias_hh.map(|b| b.unsqueeze_dim::<2>(0));
    let mut hidden = h0;
    let mut cell = match spec.kind.has_cell() {
        true => Some(c0.unwrap_or_else(|| hidden.zeros_like())),
        false => None,
    };
    let mut steps: Vec<(usize, Tensor<B, 2>)> = gates_x
        .chunk(seq, 0)
        .into_iter()
        .map(|g| g.squeeze_dim(0))
        .enumerate()
        .collect();
    if spec.reverse {
        steps.reverse();
    }
    let mut outputs = Vec::with_capacity(seq);
    for (t, gates_t) in steps {
        let mut gates_h = hidden.clone().matmul(weight_hh_t.clone());
        if let Some(b) = &bias_hh {
            gates_h = gates_h + b.clone();
        }
        let (h, c) = step(spec.kind, gates_t, gates_h, hidden.clone(), cell.clone());
        match &masks {
            None => {
                outputs.push(h.clone());
                hidden = h;
                cell = c;
            }
            Some(masks) => {
                let m = &masks[t];
                outputs.push(h.clone() * m.clone());
                hidden = select(h, hidden, m);
                cell = c.zip(cell).map(|(new, old)| select(new, old, m));
            }
        }
    }
    if spec.reverse {
        outputs.reverse();
    }
    SequenceOutput {
        output: Tensor::stack(outputs, 0),
        hidden,
        cell,
    }
}

/// `mask * new + (1 - mask) * old`, with `mask: [N, 1]` of 0.0 and 1.0.
fn select<B: Backend>(new: Tensor<B, 2>, old: Tensor<B, 2>, mask: &Tensor<B, 2>) -> Tensor<B, 2> {
    old.clone() + (new - old) * mask.clone()
}

/// One `[N, 1]` mask per time step (1.0 while a sequence runs), or `None` when all run to
/// the end.
fn step_masks<B: Backend>(
    spec: &RecurrentSpec,
    seq: usize,
    batch: usize,
    device: &B::Device,
) -> Option<Vec<Tensor<B, 2>>> {
    let lengths = spec.lengths.as_ref()?;
    if lengths.iter().all(|&len| len >= seq) {
        return None;
    }
    let values: Vec<f32> = (0..seq)
        .flat_map(|t| (0..batch).map(move |n| if spec.active(t, n) { 1.0 } else { 0.0 }))
        .collect();
    let masks = Tensor::<B, 3>::from_data(TensorData::new(values, [seq, batch, 1]), device);
    Some(
        masks
            .chunk(seq, 0)
            .into_iter()
            .map(|m| m.squeeze_dim(0))
            .collect(),
    )
}

/// Packs a sequence's result into `[L + 2, N, H]` (see [`RecurrentForward::packed`]).
fn pack<B: Backend>(out: SequenceOutput<B>) -> Tensor<B, 3> {
    let cell = out.cell.unwrap_or_else(|| out.hidden.zeros_like());
    Tensor::cat(
        vec![out.output, out.hidden.unsqueeze_dim(0), cell.unsqueeze_dim(0)],
        0,
    )
}

/// [`sequence`] with every input given, packed.
fn run<B: Backend>(
    spec: &RecurrentSpec,
    gates_x: Tensor<B, 3>,
    weight_hh: Tensor<B, 2>,
    bias_hh: Tensor<B, 1>,
    h0: Tensor<B, 2>,
    c0: Tensor<B, 2>,
) -> Tensor<B, 3> {
    pack(sequence(spec, gates_x, weight_hh, Some(bias_hh), h0, Some(c0)))
}

/// Default body of [`RnnBackend::recurrent_forward`](super::RnnBackend::recurrent_forward):
/// [`sequence`], packed. With `save`, `saved` holds the five inputs (the backward recomputes).
pub fn forward<B: Backend>(
    spec: &RecurrentSpec,
    tensors: RecurrentTensors<B>,
    save: bool,
) -> RecurrentForward<B> {
    let saved = match save {
        true => vec![
            tensors.gates_x.clone(),
            tensors.weight_hh.clone(),
            tensors.bias_hh.clone(),
            tensors.h0.clone(),
            tensors.c0.clone(),
        ],
        false => Vec::new(),
    };
    let packed = run::<B>(
        spec,
        wrap(tensors.gates_x),
        wrap(tensors.weight_hh),
        wrap(tensors.bias_hh),
        wrap(tensors.h0),
        wrap(tensors.c0),
    );
    RecurrentForward {
        packed: unwrap(packed),
        saved,
    }
}

/// Default body of [`RnnBackend::recurrent_backward`](super::RnnBackend::recurrent_backward):
/// recomputes [`sequence`] on `Autodiff<B>` from the saved inputs and backpropagates
/// `sum(packed * grad_packed)`.
///
/// # Panics
/// If `saved` is not what [`forward`] saved (five tensors).
pub fn backward<B: Backend>(
    spec: &RecurrentSpec,
    saved: Vec<FloatTensor<B>>,
    grad_packed: FloatTensor<B>,
) -> RecurrentGrads<B> {
    type A<B> = Autodiff<B>;
    let [gates_x, weight_hh, bias_hh, h0, c0]: [FloatTensor<B>; 5] = saved
        .try_into()
        .expect("the reference backward takes the five tensors its forward saved");
    let gates_x = Tensor::<A<B>, 3>::from_inner(wrap(gates_x)).require_grad();
    let weight_hh = Tensor::<A<B>, 2>::from_inner(wrap(weight_hh)).require_grad();
    let bias_hh = Tensor::<A<B>, 1>::from_inner(wrap(bias_hh)).require_grad();
    let h0 = Tensor::<A<B>, 2>::from_inner(wrap(h0)).require_grad();
    let c0 = Tensor::<A<B>, 2>::from_inner(wrap(c0)).require_grad();
    let packed = run::<A<B>>(
        spec,
        gates_x.clone(),
        weight_hh.clone(),
        bias_hh.clone(),
        h0.clone(),
        c0.clone(),
    );
    let grad = Tensor::<A<B>, 3>::from_inner(wrap(grad_packed));
    let grads = (packed * grad).sum().backward();
    fn take<B: Backend, const D: usize>(
        t: &Tensor<A<B>, D>,
        grads: &<A<B> as AutodiffBackend>::Gradients,
    ) -> FloatTensor<B> {
        let g = t.grad(grads).unwrap_or_else(|| t.clone().inner().zeros_like());
        unwrap(g)
    }
    RecurrentGrads {
        gates_x: take(&gates_x, &grads),
        weight_hh: take(&weight_hh, &grads),
        bias_hh: take(&bias_hh, &grads),
        h0: take(&h0, &grads),
        c0: take(&c0, &grads),
    }
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

/// Default body of [`RnnBackend::linear_backward`](super::RnnBackend::linear_backward):
/// `dx = g W`, `dW = g^T x`, `db = sum of g's rows`.
pub fn linear_backward<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> LinearGrads<B> {
    let (x, weight, grad) = (wrap::<B, 2>(x), wrap::<B, 2>(weight), wrap::<B, 2>(grad));
    LinearGrads {
        x: unwrap(grad.clone().matmul(weight)),
        weight: unwrap(grad.clone().transpose().matmul(x)),
        bias: unwrap(grad.sum_dim(0).squeeze_dim::<1>(0)),
    }
}
