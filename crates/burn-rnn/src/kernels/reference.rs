//! The plain-ops reference: what every fused kernel is tested against, and the default bodies
//! of [`RnnBackend`](super::RnnBackend).
//!
//! [`sequence`] is the unroll from ordinary tensor ops (one hidden matmul and the cell's math
//! per step), differentiable by Burn's autodiff on any backend. [`forward`] and [`backward`]
//! wrap it for the primitive-level trait; [`backward`] recomputes the forward on
//! `Autodiff<B>` and lets Burn's autodiff do backpropagation through time.

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorData};

use super::{
    unwrap, wrap, LinearGrads, RecurrentForward, RecurrentGrads, RecurrentKind, RecurrentSpec,
    RecurrentTensors, SequenceOutput,
};
use crate::cell::{gru_update, lstm_update, rnn_update, sigmoid, Nonlinearity};

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
        vec![
            out.output,
            out.hidden.unsqueeze_dim(0),
            cell.unsqueeze_dim(0),
        ],
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
    pack(sequence(
        spec,
        gates_x,
        weight_hh,
        Some(bias_hh),
        h0,
        Some(c0),
    ))
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

/// The shapes [`forward`] saves: its five inputs.
pub fn saved_shapes(
    spec: &RecurrentSpec,
    seq: usize,
    batch: usize,
    hidden: usize,
) -> Vec<Vec<usize>> {
    let gh = spec.kind.gates() * hidden;
    vec![
        vec![seq, batch, gh],
        vec![gh, hidden],
        vec![gh],
        vec![batch, hidden],
        vec![batch, hidden],
    ]
}

/// Default body of [`RnnBackend::recurrent_backward`](super::RnnBackend::recurrent_backward):
/// backpropagation through time written out in plain tensor ops (no autodiff: it runs inside
/// an autodiff backward step, where a nested backward would deadlock on the graph's lock).
///
/// It recomputes the forward from the saved inputs, keeping each step's gate activations, then
/// walks the steps backwards with the same formulas as the CPU kernels (`cpu::backward`).
///
/// # Panics
/// If `saved` is not what [`forward`] saved (five tensors).
pub fn backward<B: Backend>(
    spec: &RecurrentSpec,
    saved: Vec<FloatTensor<B>>,
    grad_packed: FloatTensor<B>,
) -> RecurrentGrads<B> {
    let [gates_x, weight_hh, bias_hh, h0, c0]: [FloatTensor<B>; 5] = saved
        .try_into()
        .expect("the reference backward takes the five tensors its forward saved");
    let gates_x = wrap::<B, 3>(gates_x);
    let weight_hh = wrap::<B, 2>(weight_hh);
    let bias_hh = wrap::<B, 1>(bias_hh);
    let grad = wrap::<B, 3>(grad_packed);
    let [seq, batch, gh] = gates_x.dims();
    let hidden = weight_hh.dims()[1];
    let device = gates_x.device();
    let kind = spec.kind;
    let masks = step_masks::<B>(spec, seq, batch, &device);
    let weight_hh_t = weight_hh.clone().transpose();
    let bias_row = bias_hh.unsqueeze_dim::<2>(0);
    let gx: Vec<Tensor<B, 2>> = gates_x
        .chunk(seq, 0)
        .into_iter()
        .map(|g| g.squeeze_dim(0))
        .collect();
    let order: Vec<usize> = (0..seq).map(|s| spec.time(s, seq)).collect();

    // Forward again, keeping per time step: the state it started from and the activations.
    let mut h = wrap::<B, 2>(h0);
    let mut c = wrap::<B, 2>(c0);
    let mut steps: Vec<Option<Step<B>>> = (0..seq).map(|_| None).collect();
    for &t in &order {
        let gates_h = h.clone().matmul(weight_hh_t.clone()) + bias_row.clone();
        let (acts, h_new, c_new) = activations(kind, gx[t].clone(), gates_h, &h, &c, hidden);
        steps[t] = Some(Step {
            h_prev: h.clone(),
            c_prev: c.clone(),
            acts,
        });
        match &masks {
            None => {
                h = h_new;
                c = c_new;
            }
            Some(m) => {
                h = select(h_new, h, &m[t]);
                c = select(c_new, c, &m[t]);
            }
        }
    }

    // Backwards through time.
    let mut dh = grad.clone().slice(seq..seq + 1).squeeze_dim::<2>(0);
    let mut dc = match kind.has_cell() {
        true => grad.clone().slice(seq + 1..seq + 2).squeeze_dim::<2>(0),
        false => dh.zeros_like(),
    };
    let grad_out: Vec<Tensor<B, 2>> = grad
        .slice(0..seq)
        .chunk(seq, 0)
        .into_iter()
        .map(|g| g.squeeze_dim(0))
        .collect();
    let mut d_gates_x: Vec<Option<Tensor<B, 2>>> = (0..seq).map(|_| None).collect();
    let mut d_weight_hh = Tensor::<B, 2>::zeros([gh, hidden], &device);
    let mut d_bias_hh = Tensor::<B, 1>::zeros([gh], &device);
    for &t in order.iter().rev() {
        let step = steps[t].take().expect("every step was run forward");
        let mask = masks.as_ref().map(|m| m[t].clone());
        let keep = |x: Tensor<B, 2>| match &mask {
            Some(m) => x * m.clone(),
            None => x,
        };
        let pass = |x: Tensor<B, 2>| mask.as_ref().map(|m| x * (m.clone().neg() + 1.0));
        // Gradient w.r.t. the state this step chose (new where running, old where frozen).
        let dh_total = dh.clone() + keep(grad_out[t].clone());
        let dh_new = keep(dh_total.clone());
        let dc_new = keep(dc.clone());
        let (dgx, dgh, dh_direct, dc_prev) = gate_grads(kind, &step, dh_new, dc_new);
        let mut dh_prev = dgh.clone().matmul(weight_hh.clone());
        if let Some(d) = dh_direct {
            dh_prev = dh_prev + d;
        }
        if let Some(p) = pass(dh_total) {
            dh_prev = dh_prev + p;
        }
        let mut dc_prev = dc_prev.unwrap_or_else(|| dc.zeros_like());
        if kind.has_cell() {
            if let Some(p) = pass(dc.clone()) {
                dc_prev = dc_prev + p;
            }
        }
        d_weight_hh = d_weight_hh + dgh.clone().transpose().matmul(step.h_prev);
        d_bias_hh = d_bias_hh + dgh.sum_dim(0).squeeze_dim::<1>(0);
        d_gates_x[t] = Some(dgx);
        dh = dh_prev;
        dc = dc_prev;
    }
    let d_gates_x: Vec<Tensor<B, 2>> = d_gates_x
        .into_iter()
        .map(|g| g.expect("every step has a gradient"))
        .collect();
    RecurrentGrads {
        gates_x: unwrap(Tensor::stack::<3>(d_gates_x, 0)),
        weight_hh: unwrap(d_weight_hh),
        bias_hh: unwrap(d_bias_hh),
        h0: unwrap(dh),
        c0: unwrap(match kind.has_cell() {
            true => dc,
            false => dc.zeros_like(),
        }),
    }
}

/// What one recomputed step keeps for its backward.
struct Step<B: Backend> {
    h_prev: Tensor<B, 2>,
    c_prev: Tensor<B, 2>,
    /// RNN `[h']`; LSTM `[i, f, g, o, tanh(c')]`; GRU `[r, z, n, W_hn h + b_hn]`.
    acts: Vec<Tensor<B, 2>>,
}

/// One step forward keeping the activations: `(acts, h', c')` (`c'` is `c` unchanged for RNN
/// and GRU).
fn activations<B: Backend>(
    kind: RecurrentKind,
    gates_x: Tensor<B, 2>,
    gates_h: Tensor<B, 2>,
    h: &Tensor<B, 2>,
    c: &Tensor<B, 2>,
    hidden: usize,
) -> (Vec<Tensor<B, 2>>, Tensor<B, 2>, Tensor<B, 2>) {
    let gate = |t: &Tensor<B, 2>, g: usize| {
        t.clone()
            .slice([0..t.dims()[0], g * hidden..(g + 1) * hidden])
    };
    match kind {
        RecurrentKind::RnnTanh | RecurrentKind::RnnRelu => {
            let (h_new, _) = step(kind, gates_x, gates_h, h.clone(), None);
            (vec![h_new.clone()], h_new, c.clone())
        }
        RecurrentKind::Lstm => {
            let pre = gates_x + gates_h;
            let i = sigmoid(gate(&pre, 0));
            let f = sigmoid(gate(&pre, 1));
            let g = gate(&pre, 2).tanh();
            let o = sigmoid(gate(&pre, 3));
            let c_new = f.clone() * c.clone() + i.clone() * g.clone();
            let tc = c_new.clone().tanh();
            let h_new = o.clone() * tc.clone();
            (vec![i, f, g, o, tc], h_new, c_new)
        }
        RecurrentKind::Gru => {
            let r = sigmoid(gate(&gates_x, 0) + gate(&gates_h, 0));
            let z = sigmoid(gate(&gates_x, 1) + gate(&gates_h, 1));
            let hn = gate(&gates_h, 2);
            let n = (gate(&gates_x, 2) + r.clone() * hn.clone()).tanh();
            let h_new = n.clone() + z.clone() * (h.clone() - n.clone());
            (vec![r, z, n, hn], h_new, c.clone())
        }
    }
}

/// The gate gradients of one step from the gradients of its new state:
/// `(d gates_x, d gates_h, direct part of dh_prev, dc_prev)`.
#[allow(clippy::type_complexity)]
fn gate_grads<B: Backend>(
    kind: RecurrentKind,
    step: &Step<B>,
    dh_new: Tensor<B, 2>,
    dc_new: Tensor<B, 2>,
) -> (
    Tensor<B, 2>,
    Tensor<B, 2>,
    Option<Tensor<B, 2>>,
    Option<Tensor<B, 2>>,
) {
    let one_minus_sq = |x: &Tensor<B, 2>| x.clone().powi_scalar(2).neg() + 1.0;
    let dsig = |x: &Tensor<B, 2>| x.clone() * (x.clone().neg() + 1.0);
    match kind {
        RecurrentKind::RnnTanh | RecurrentKind::RnnRelu => {
            let h_new = &step.acts[0];
            let deriv = match kind {
                RecurrentKind::RnnRelu => h_new.clone().greater_elem(0.0).float(),
                _ => one_minus_sq(h_new),
            };
            let dp = dh_new * deriv;
            (dp.clone(), dp, None, None)
        }
        RecurrentKind::Lstm => {
            let [i, f, g, o, tc] = [0, 1, 2, 3, 4].map(|k| step.acts[k].clone());
            let dct = dc_new + dh_new.clone() * o.clone() * one_minus_sq(&tc);
            let di = dct.clone() * g.clone() * dsig(&i);
            let df = dct.clone() * step.c_prev.clone() * dsig(&f);
            let dg = dct.clone() * i * one_minus_sq(&g);
            let d_o = dh_new * tc * dsig(&o);
            let dgates = Tensor::cat(vec![di, df, dg, d_o], 1);
            (dgates.clone(), dgates, None, Some(dct * f))
        }
        RecurrentKind::Gru => {
            let [r, z, n, hn] = [0, 1, 2, 3].map(|k| step.acts[k].clone());
            let dpn = dh_new.clone() * (z.clone().neg() + 1.0) * one_minus_sq(&n);
            let dpr = dpn.clone() * hn * dsig(&r);
            let dpz = dh_new.clone() * (step.h_prev.clone() - n) * dsig(&z);
            let dgx = Tensor::cat(vec![dpr.clone(), dpz.clone(), dpn.clone()], 1);
            let dgh = Tensor::cat(vec![dpr, dpz, dpn * r], 1);
            (dgx, dgh, Some(dh_new * z), None)
        }
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
