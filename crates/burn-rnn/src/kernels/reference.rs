//! The plain-ops reference: what every fused kernel is tested against, and the default bodies
//! of [`RnnBackend`](super::RnnBackend).
//!
//! [`forward`] is the unroll from ordinary tensor ops (one hidden matmul and the cell's math
//! from [`crate::math`] per step, [`step`]), keeping the activations of the shared saved
//! layout ([`RecurrentSaved`]); [`backward`] is backpropagation through time written out in
//! plain ops over that layout, so it consumes what any backend's forward saved. The layers'
//! own reference path ([`crate::Recurrent::forward_reference`]) unrolls the cells' steps.

use burn::tensor::backend::Backend;
use burn::tensor::ops::{ConvOptions, FloatTensor};
use burn::tensor::{Tensor, TensorData};

use super::{
    unwrap, wrap, BatchNormForward, BatchNormGrads, CellKind, Conv2dGrads, ConvLstmGatesForward,
    ConvLstmGatesGrads, ConvNeeds, LinearGrads, LinearScanGrads, RecurrentForward, RecurrentGrads,
    RecurrentSaved, RecurrentTensors, SequenceOutput, Spec,
};
use crate::math::{gru_step, lstm_step, rnn_step, sigmoid, Nonlinearity};

pub use crate::math::linear;

/// One step of the cell math after both matmuls, with the activations of the saved layout.
///
/// # Shapes
/// - `gates_x`: `[N, G*H]` (`x W_ih^T + b_ih`, plus the folded `b_hh` for RNN and LSTM)
/// - `gates_h`: `[N, G*H]` (`h W_hh^T`, plus `b_hh` for GRU)
/// - `hidden`, `cell`: `[N, H]` (`cell` for LSTM only)
/// - returns `h'`, `c'` (LSTM) and the activations, each `[N, H]`
pub fn step<B: Backend>(
    kind: CellKind,
    gates_x: Tensor<B, 2>,
    gates_h: Tensor<B, 2>,
    hidden: Tensor<B, 2>,
    cell: Option<Tensor<B, 2>>,
) -> StepOutput<B> {
    match kind {
        CellKind::RnnTanh | CellKind::RnnRelu => {
            let nonlinearity = match kind {
                CellKind::RnnRelu => Nonlinearity::Relu,
                _ => Nonlinearity::Tanh,
            };
            let h = rnn_step(gates_x + gates_h, nonlinearity);
            StepOutput {
                hidden: h.clone(),
                cell: None,
                acts: vec![h],
            }
        }
        CellKind::Lstm => {
            let cell = cell.expect("an LSTM step needs a cell state");
            let s = lstm_step(gates_x + gates_h, cell);
            StepOutput {
                hidden: s.hidden,
                cell: Some(s.cell),
                acts: vec![s.i, s.f, s.g, s.o, s.tanh_cell],
            }
        }
        CellKind::Gru => {
            let s = gru_step(gates_x, gates_h, hidden);
            StepOutput {
                hidden: s.hidden,
                cell: None,
                acts: vec![s.r, s.z, s.n, s.hidden_n],
            }
        }
    }
}

/// The result of [`step`]: the new state and the step's activations.
#[derive(Debug, Clone)]
pub struct StepOutput<B: Backend> {
    /// `h': [N, H]`
    pub hidden: Tensor<B, 2>,
    /// `c': [N, H]` (LSTM), else `None`.
    pub cell: Option<Tensor<B, 2>>,
    /// The `A` activation blocks of [`RecurrentSaved::acts`], each `[N, H]`.
    pub acts: Vec<Tensor<B, 2>>,
}

/// What [`unroll`] keeps per time step when asked to save.
struct SavedSteps<B: Backend> {
    acts: Vec<Option<Tensor<B, 2>>>,
    h_prev: Vec<Option<Tensor<B, 2>>>,
    c_prev: Vec<Option<Tensor<B, 2>>>,
}

/// One layer and direction over a whole sequence from plain tensor ops, differentiable by
/// Burn's autodiff; with `save`, it keeps per time step the activations and the state the
/// step started from.
///
/// # Shapes
/// - `tensors`: see [`RecurrentTensors`]
/// - returns `output: [L, N, H]` (zero past each length) and the final state `[N, H]`
fn unroll<B: Backend>(
    spec: &Spec,
    tensors: RecurrentTensors<B>,
    save: bool,
) -> (SequenceOutput<B>, Option<SavedSteps<B>>) {
    let gates_x = wrap::<B, 3>(tensors.gates_x);
    let weight_hh = wrap::<B, 2>(tensors.weight_hh);
    let bias_hh = Some(wrap::<B, 1>(tensors.bias_hh));
    let (h0, c0) = (wrap::<B, 2>(tensors.h0), Some(wrap::<B, 2>(tensors.c0)));
    let [seq, batch, _] = gates_x.dims();
    let device = gates_x.device();
    let masks = step_masks::<B>(spec.lengths.as_deref(), seq, batch, &device);
    let weight_hh_t = weight_hh.transpose();
    let bias_hh = bias_hh.map(|b| b.unsqueeze_dim::<2>(0));
    let mut hidden = h0;
    let mut cell = match spec.kind.has_cell() {
        true => Some(c0.unwrap_or_else(|| hidden.zeros_like())),
        false => None,
    };
    let gx: Vec<Tensor<B, 2>> = gates_x
        .chunk(seq, 0)
        .into_iter()
        .map(|g| g.squeeze_dim(0))
        .collect();
    let none = || (0..seq).map(|_| None).collect::<Vec<_>>();
    let mut saved = save.then(|| SavedSteps {
        acts: none(),
        h_prev: none(),
        c_prev: none(),
    });
    let mut outputs = none();
    for s in 0..seq {
        let t = spec.time(s, seq);
        let mut gates_h = hidden.clone().matmul(weight_hh_t.clone());
        if let Some(b) = &bias_hh {
            gates_h = gates_h + b.clone();
        }
        let out = step(
            spec.kind,
            gx[t].clone(),
            gates_h,
            hidden.clone(),
            cell.clone(),
        );
        if let Some(saved) = saved.as_mut() {
            saved.acts[t] = Some(Tensor::cat(out.acts, 1));
            saved.h_prev[t] = Some(hidden.clone());
            saved.c_prev[t] = cell.clone();
        }
        match &masks {
            None => {
                outputs[t] = Some(out.hidden.clone());
                hidden = out.hidden;
                cell = out.cell;
            }
            Some(masks) => {
                let m = &masks[t];
                outputs[t] = Some(out.hidden.clone() * m.clone());
                hidden = select(out.hidden, hidden, m);
                cell = out.cell.zip(cell).map(|(new, old)| select(new, old, m));
            }
        }
    }
    let output = Tensor::stack(outputs.into_iter().map(Option::unwrap).collect(), 0);
    (
        SequenceOutput {
            output,
            hidden,
            cell,
        },
        saved,
    )
}

/// `mask * new + (1 - mask) * old`, with `mask: [N, 1]` of 0.0 and 1.0.
fn select<B: Backend>(new: Tensor<B, 2>, old: Tensor<B, 2>, mask: &Tensor<B, 2>) -> Tensor<B, 2> {
    old.clone() + (new - old) * mask.clone()
}

/// One `[N, 1]` mask per time step (1.0 while a sequence runs, that is `t < lengths[n]`), or
/// `None` when every sequence runs to the end.
pub(crate) fn step_masks<B: Backend>(
    lengths: Option<&[usize]>,
    seq: usize,
    batch: usize,
    device: &B::Device,
) -> Option<Vec<Tensor<B, 2>>> {
    let lengths = lengths?;
    if lengths.iter().all(|&len| len >= seq) {
        return None;
    }
    let values: Vec<f32> = (0..seq)
        .flat_map(|t| (0..batch).map(move |n| if t < lengths[n] { 1.0 } else { 0.0 }))
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

/// Default body of [`RnnBackend::recurrent_forward`](super::RnnBackend::recurrent_forward):
/// the plain-ops unroll, packed, keeping the [`RecurrentSaved`] layout when `save`.
pub fn forward<B: Backend>(
    spec: &Spec,
    tensors: RecurrentTensors<B>,
    save: bool,
) -> RecurrentForward<B> {
    let weight_hh = tensors.weight_hh.clone();
    let (out, steps) = unroll(spec, tensors, save);
    let saved = steps.map(|steps| {
        let stack = |v: Vec<Option<Tensor<B, 2>>>| {
            unwrap(Tensor::stack::<3>(
                v.into_iter().map(|t| t.expect("every step ran")).collect(),
                0,
            ))
        };
        RecurrentSaved {
            weight_hh,
            acts: stack(steps.acts),
            h_prev: stack(steps.h_prev),
            c_prev: spec.kind.has_cell().then(|| stack(steps.c_prev)),
        }
    });
    RecurrentForward {
        packed: unwrap(pack(out)),
        saved,
    }
}

/// Default body of [`RnnBackend::recurrent_backward`](super::RnnBackend::recurrent_backward):
/// backpropagation through time written out in plain tensor ops over the saved layout (no
/// autodiff: it runs inside an autodiff backward step, where a nested backward would deadlock
/// on the graph's lock), with the same formulas as the fused kernels.
pub fn backward<B: Backend>(
    spec: &Spec,
    saved: RecurrentSaved<B>,
    grad_packed: FloatTensor<B>,
) -> RecurrentGrads<B> {
    let weight_hh = wrap::<B, 2>(saved.weight_hh);
    let grad = wrap::<B, 3>(grad_packed);
    let [rows, batch, hidden] = grad.dims();
    let seq = rows - 2;
    let kind = spec.kind;
    let gh = kind.gates() * hidden;
    let device = grad.device();
    let masks = step_masks::<B>(spec.lengths.as_deref(), seq, batch, &device);
    let per_step = |t: FloatTensor<B>| -> Vec<Tensor<B, 2>> {
        wrap::<B, 3>(t)
            .chunk(seq, 0)
            .into_iter()
            .map(|g| g.squeeze_dim(0))
            .collect()
    };
    let acts = per_step(saved.acts);
    let h_prev = per_step(saved.h_prev);
    let c_prev = saved.c_prev.map(per_step);

    let mut dh = grad.clone().slice(seq..seq + 1).squeeze_dim::<2>(0);
    let mut dc = grad.clone().slice(seq + 1..seq + 2).squeeze_dim::<2>(0);
    let grad_out = per_step(unwrap(grad.slice(0..seq)));
    let mut d_gates_x: Vec<Option<Tensor<B, 2>>> = (0..seq).map(|_| None).collect();
    let mut d_weight_hh = Tensor::<B, 2>::zeros([gh, hidden], &device);
    let mut d_bias_hh = Tensor::<B, 1>::zeros([gh], &device);
    for s in (0..seq).rev() {
        let t = spec.time(s, seq);
        let step = Step {
            h_prev: h_prev[t].clone(),
            c_prev: c_prev.as_ref().map(|c| c[t].clone()),
            acts: acts[t].clone().chunk(kind.saved_width(), 1),
        };
        let mask = masks.as_ref().map(|m| m[t].clone());
        let keep = |x: Tensor<B, 2>| match &mask {
            Some(m) => x * m.clone(),
            None => x,
        };
        let pass = |x: Tensor<B, 2>| mask.as_ref().map(|m| x * (m.clone().neg() + 1.0));
        // Gradient w.r.t. the state this step chose (new where running, old where frozen).
        let dh_total = dh.clone() + keep(grad_out[t].clone());
        let g = gate_grads(kind, &step, keep(dh_total.clone()), keep(dc.clone()));
        let mut dh_prev = g.gates_h.clone().matmul(weight_hh.clone());
        if let Some(d) = g.h_prev_direct {
            dh_prev = dh_prev + d;
        }
        if let Some(p) = pass(dh_total) {
            dh_prev = dh_prev + p;
        }
        if kind.has_cell() {
            let mut dc_prev = g.c_prev.expect("an LSTM step has a cell gradient");
            if let Some(p) = pass(dc.clone()) {
                dc_prev = dc_prev + p;
            }
            dc = dc_prev;
        }
        d_weight_hh = d_weight_hh + g.gates_h.clone().transpose().matmul(step.h_prev);
        d_bias_hh = d_bias_hh + g.gates_h.sum_dim(0).squeeze_dim::<1>(0);
        d_gates_x[t] = Some(g.gates_x);
        dh = dh_prev;
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

/// One step's share of the saved layout, for its backward.
struct Step<B: Backend> {
    /// `[N, H]`
    h_prev: Tensor<B, 2>,
    /// `[N, H]` (LSTM), else `None`.
    c_prev: Option<Tensor<B, 2>>,
    /// The `A` activation blocks, each `[N, H]`: RNN `[h']`; LSTM `[i, f, g, o, tanh(c')]`;
    /// GRU `[r, z, n, W_hn h + b_hn]`.
    acts: Vec<Tensor<B, 2>>,
}

/// The gradients [`gate_grads`] returns for one step, each `[N, G*H]` or `[N, H]`.
struct GateGrads<B: Backend> {
    /// `[N, G*H]`: the gradient of the step's slice of `gates_x`.
    gates_x: Tensor<B, 2>,
    /// `[N, G*H]`: the gradient of `h W_hh^T + b_hh` (what `dW_hh` and `dh_prev` come from).
    gates_h: Tensor<B, 2>,
    /// `[N, H]`: the part of `dh_prev` that does not go through `W_hh` (GRU's `z * dh`).
    h_prev_direct: Option<Tensor<B, 2>>,
    /// `[N, H]`: `dc_prev` (LSTM).
    c_prev: Option<Tensor<B, 2>>,
}

/// The gate gradients of one step from the gradients of its new state `dh_new`, `dc_new`
/// (`[N, H]` each).
fn gate_grads<B: Backend>(
    kind: CellKind,
    step: &Step<B>,
    dh_new: Tensor<B, 2>,
    dc_new: Tensor<B, 2>,
) -> GateGrads<B> {
    let one_minus_sq = |x: &Tensor<B, 2>| x.clone().powi_scalar(2).neg() + 1.0;
    let dsig = |x: &Tensor<B, 2>| x.clone() * (x.clone().neg() + 1.0);
    match kind {
        CellKind::RnnTanh | CellKind::RnnRelu => {
            let h_new = &step.acts[0];
            let deriv = match kind {
                CellKind::RnnRelu => h_new.clone().greater_elem(0.0).float(),
                _ => one_minus_sq(h_new),
            };
            let dp = dh_new * deriv;
            GateGrads {
                gates_x: dp.clone(),
                gates_h: dp,
                h_prev_direct: None,
                c_prev: None,
            }
        }
        CellKind::Lstm => {
            let [i, f, g, o, tc] = [0, 1, 2, 3, 4].map(|k| step.acts[k].clone());
            let c_prev = step.c_prev.clone().expect("an LSTM step saves c_prev");
            let dct = dc_new + dh_new.clone() * o.clone() * one_minus_sq(&tc);
            let di = dct.clone() * g.clone() * dsig(&i);
            let df = dct.clone() * c_prev * dsig(&f);
            let dg = dct.clone() * i * one_minus_sq(&g);
            let d_o = dh_new * tc * dsig(&o);
            let dgates = Tensor::cat(vec![di, df, dg, d_o], 1);
            GateGrads {
                gates_x: dgates.clone(),
                gates_h: dgates,
                h_prev_direct: None,
                c_prev: Some(dct * f),
            }
        }
        CellKind::Gru => {
            let [r, z, n, hn] = [0, 1, 2, 3].map(|k| step.acts[k].clone());
            let dpn = dh_new.clone() * (z.clone().neg() + 1.0) * one_minus_sq(&n);
            let dpr = dpn.clone() * hn * dsig(&r);
            let dpz = dh_new.clone() * (step.h_prev.clone() - n) * dsig(&z);
            GateGrads {
                gates_x: Tensor::cat(vec![dpr.clone(), dpz.clone(), dpn.clone()], 1),
                gates_h: Tensor::cat(vec![dpr, dpz, dpn * r], 1),
                h_prev_direct: Some(dh_new * z),
                c_prev: None,
            }
        }
    }
}

/// Default body of [`RnnBackend::linear_backward`](super::RnnBackend::linear_backward):
/// `dx = g W` (if `needs_x`), `dW = g^T x`, `db = sum of g's rows`.
pub fn linear_backward<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    needs_x: bool,
) -> LinearGrads<B> {
    let (x, weight, grad) = (wrap::<B, 2>(x), wrap::<B, 2>(weight), wrap::<B, 2>(grad));
    LinearGrads {
        x: needs_x.then(|| unwrap(grad.clone().matmul(weight))),
        weight: unwrap(grad.clone().transpose().matmul(x)),
        bias: unwrap(grad.sum_dim(0).squeeze_dim::<1>(0)),
    }
}

/// Burn's own convolution backward: the default body of
/// [`RnnBackend::conv2d_backward`](super::RnnBackend::conv2d_backward), each gradient only
/// when `needs` asks for it.
///
/// # Shapes
/// - `x: [N, C_in, H, W]`, `weight: [C_out, C_in / groups, kH, kW]`,
///   `grad: [N, C_out, H_out, W_out]`
/// - returns the gradients of `x`, `weight` and the bias `[C_out]`
pub fn conv2d_backward<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    options: ConvOptions<2>,
    needs: ConvNeeds,
) -> Conv2dGrads<B> {
    let dx = needs
        .x
        .then(|| B::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), options.clone()));
    let dw = needs
        .weight
        .then(|| B::conv2d_weight_backward(x, weight, grad.clone(), options));
    let db = needs.bias.then(|| {
        let grad: Tensor<B, 4> = wrap(grad);
        let c_out = grad.dims()[1];
        unwrap(
            grad.swap_dims(0, 1)
                .reshape([c_out as i32, -1])
                .sum_dim(1)
                .reshape([c_out]),
        )
    });
    Conv2dGrads {
        x: dx,
        weight: dw,
        bias: db,
    }
}

/// Batch normalization with the batch's statistics in plain tensor ops: the default body of
/// [`RnnBackend::batch_norm2d_forward`](super::RnnBackend::batch_norm2d_forward).
///
/// # Shapes
/// - `x`: `[N, C, H, W]`, `gamma`, `beta`: `[C]`; returns `y: [N, C, H, W]`, `mean`,
///   `invstd`: `[C]`
pub fn batch_norm2d_forward<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    eps: f64,
) -> BatchNormForward<B> {
    let x: Tensor<B, 4> = wrap(x);
    let c = x.dims()[1];
    let per_channel = |t: Tensor<B, 4>| t.swap_dims(0, 1).reshape([c as i32, -1]);
    let mean = per_channel(x.clone()).mean_dim(1).reshape([c]);
    let centered = x - mean.clone().reshape([1, c, 1, 1]);
    let var = per_channel(centered.clone().powi_scalar(2))
        .mean_dim(1)
        .reshape([c]);
    let invstd = (var + eps).sqrt().recip();
    let gamma: Tensor<B, 1> = wrap(gamma);
    let beta: Tensor<B, 1> = wrap(beta);
    let y = centered * (invstd.clone() * gamma).reshape([1, c, 1, 1]) + beta.reshape([1, c, 1, 1]);
    BatchNormForward {
        y: unwrap(y),
        mean: unwrap(mean),
        invstd: unwrap(invstd),
    }
}

/// Batch normalization with fixed statistics in plain tensor ops, `x * scale + shift` per
/// channel: the default body of
/// [`RnnBackend::batch_norm2d_inference`](super::RnnBackend::batch_norm2d_inference).
///
/// # Shapes
/// - `x`: `[N, C, H, W]`, `scale`, `shift`: `[C]`; returns `[N, C, H, W]`
pub fn batch_norm2d_inference<B: Backend>(
    x: FloatTensor<B>,
    scale: FloatTensor<B>,
    shift: FloatTensor<B>,
) -> FloatTensor<B> {
    let x: Tensor<B, 4> = wrap(x);
    let c = x.dims()[1];
    let column = |t: FloatTensor<B>| wrap::<B, 1>(t).reshape([1, c, 1, 1]);
    unwrap(x * column(scale) + column(shift))
}

/// The gradients of [`batch_norm2d_forward`] in plain tensor ops: the default body of
/// [`RnnBackend::batch_norm2d_backward`](super::RnnBackend::batch_norm2d_backward).
///
/// # Shapes
/// - `x`, `grad`: `[N, C, H, W]`; `gamma`, `mean`, `invstd`: `[C]`
pub fn batch_norm2d_backward<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    mean: FloatTensor<B>,
    invstd: FloatTensor<B>,
    grad: FloatTensor<B>,
    needs_x: bool,
) -> BatchNormGrads<B> {
    let (x, grad): (Tensor<B, 4>, Tensor<B, 4>) = (wrap(x), wrap(grad));
    let [n, c, h, w] = x.dims();
    let m = (n * h * w) as f64;
    let column = |t: Tensor<B, 1>| t.reshape([1, c, 1, 1]);
    let (mean, invstd): (Tensor<B, 1>, Tensor<B, 1>) = (wrap(mean), wrap(invstd));
    let xhat = (x - column(mean)) * column(invstd.clone());
    let per_channel = |t: Tensor<B, 4>| {
        t.swap_dims(0, 1)
            .reshape([c as i32, -1])
            .sum_dim(1)
            .reshape([c])
    };
    let dbeta = per_channel(grad.clone());
    let dgamma = per_channel(grad.clone() * xhat.clone());
    let dx = needs_x.then(|| {
        let gamma: Tensor<B, 1> = wrap(gamma);
        let k = column(gamma * invstd);
        let dx = k * (grad - column(dbeta.clone() / m) - xhat * column(dgamma.clone() / m));
        unwrap(dx)
    });
    BatchNormGrads {
        x: dx,
        gamma: unwrap(dgamma),
        beta: unwrap(dbeta),
    }
}

/// A ConvLSTM step's gate math in plain tensor ops: the default body of
/// [`RnnBackend::conv_lstm_gates_forward`](super::RnnBackend::conv_lstm_gates_forward).
///
/// # Shapes
/// - `gates`: `[N, 4*C_h, H, W]` (blocks `i, f, o, g`), `c_prev`: `[N, C_h, H, W]`
/// - returns `packed: [2, N, C_h, H, W]` and, if `save`, `[N, 5*C_h, H, W]`
pub fn conv_lstm_gates_forward<B: Backend>(
    gates: FloatTensor<B>,
    c_prev: FloatTensor<B>,
    save: bool,
) -> ConvLstmGatesForward<B> {
    let gates: Tensor<B, 4> = wrap(gates);
    let [i, f, o, g]: [Tensor<B, 4>; 4] = gates
        .chunk(4, 1)
        .try_into()
        .expect("4 * C_h channels split in 4");
    let [i, f, o, g] = [sigmoid(i), sigmoid(f), sigmoid(o), g.tanh()];
    let c = f.clone() * wrap::<B, 4>(c_prev) + i.clone() * g.clone();
    let tc = c.clone().tanh();
    let h = o.clone() * tc.clone();
    let packed = Tensor::stack::<5>(vec![h, c], 0);
    ConvLstmGatesForward {
        packed: unwrap(packed),
        saved: save.then(|| unwrap(Tensor::cat(vec![i, f, o, g, tc], 1))),
    }
}

/// The gradients of [`conv_lstm_gates_forward`] in plain tensor ops: the default body of
/// [`RnnBackend::conv_lstm_gates_backward`](super::RnnBackend::conv_lstm_gates_backward).
///
/// # Shapes
/// - `saved`: `[N, 5*C_h, H, W]`, `c_prev`: `[N, C_h, H, W]`, `grad_packed`:
///   `[2, N, C_h, H, W]`; returns `gates: [N, 4*C_h, H, W]`, `c_prev: [N, C_h, H, W]`
pub fn conv_lstm_gates_backward<B: Backend>(
    saved: FloatTensor<B>,
    c_prev: FloatTensor<B>,
    grad_packed: FloatTensor<B>,
) -> ConvLstmGatesGrads<B> {
    let saved: Tensor<B, 4> = wrap(saved);
    let [i, f, o, g, tc]: [Tensor<B, 4>; 5] = saved
        .chunk(5, 1)
        .try_into()
        .expect("5 * C_h channels split in 5");
    let grad: Tensor<B, 5> = wrap(grad_packed);
    let dh = grad.clone().slice(0..1).squeeze_dim::<4>(0);
    let dc = grad.slice(1..2).squeeze_dim::<4>(0);
    // s (1 - s) and 1 - t^2 from the activations' values.
    let ds = |s: Tensor<B, 4>| s.clone() - s.clone() * s;
    let dt = |t: Tensor<B, 4>| (t.clone() * t).neg().add_scalar(1.0);
    let dct = dh.clone() * o.clone() * dt(tc.clone()) + dc;
    let c_prev: Tensor<B, 4> = wrap(c_prev);
    let d_gates = Tensor::cat(
        vec![
            dct.clone() * g.clone() * ds(i.clone()),
            dct.clone() * c_prev * ds(f.clone()),
            dh * tc * ds(o),
            dct.clone() * i * dt(g),
        ],
        1,
    );
    ConvLstmGatesGrads {
        gates: unwrap(d_gates),
        c_prev: unwrap(dct * f),
    }
}

/// `h_t = a_t * h_(t-1) + b_t` over the leading axis by a Hillis–Steele scan of the affine
/// maps: `log2(L)` passes of `(a, b)_t <- (a_t * a_(t-d), a_t * b_(t-d) + b_t)`, which multiply
/// coefficients and never divide by their products. The default body of
/// [`RnnBackend::linear_scan_forward`](super::RnnBackend::linear_scan_forward).
///
/// # Shapes
/// - `a`, `b`: `[L, M]`; `h0`: `[M]`; returns `[L, M]`
pub fn linear_scan_forward<B: Backend>(
    a: FloatTensor<B>,
    b: FloatTensor<B>,
    h0: FloatTensor<B>,
) -> FloatTensor<B> {
    let (mut a, mut b) = (wrap::<B, 2>(a), wrap::<B, 2>(b));
    let h0 = wrap::<B, 1>(h0);
    let seq = a.dims()[0];
    // Fold h0 into the first step: b_0 <- a_0 * h0 + b_0.
    let first = a.clone().slice(0..1) * h0.unsqueeze_dim::<2>(0) + b.clone().slice(0..1);
    b = b.slice_assign(0..1, first);
    let mut d = 1;
    while d < seq {
        let (a_prev, b_prev) = (a.clone().slice(0..seq - d), b.clone().slice(0..seq - d));
        let (a_cur, b_cur) = (a.clone().slice(d..seq), b.clone().slice(d..seq));
        let b_new = a_cur.clone() * b_prev + b_cur;
        let a_new = a_cur * a_prev;
        b = Tensor::cat(vec![b.slice(0..d), b_new], 0);
        a = Tensor::cat(vec![a.slice(0..d), a_new], 0);
        d *= 2;
    }
    unwrap(b)
}

/// `g(v) = v + 0.5` for `v >= 0`, `σ(v)` below, and its derivative.
fn min_g<B: Backend>(v: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let positive = v.clone().greater_equal_elem(0.0);
    let s = crate::math::sigmoid(v.clone());
    let ds = s.clone() * (s.clone().neg() + 1.0);
    (
        s.mask_where(positive.clone(), v + 0.5),
        ds.mask_fill(positive, 1.0),
    )
}

/// The default body of
/// [`RnnBackend::min_coefficients_forward`](super::RnnBackend::min_coefficients_forward).
pub fn min_coefficients_forward<B: Backend>(
    kind: super::MinKind,
    gates: FloatTensor<B>,
) -> FloatTensor<B> {
    let gates = wrap::<B, 2>(gates);
    let blocks = gates.chunk(kind.gates(), 1);
    let (g, _) = min_g(blocks[0].clone());
    let sigmoid = |k: usize| crate::math::sigmoid(blocks[k].clone());
    let (a, b) = match kind {
        super::MinKind::Gru => {
            let z = sigmoid(1);
            (z.clone().neg() + 1.0, z * g)
        }
        super::MinKind::Lstm => {
            let (f, i) = (sigmoid(1), sigmoid(2));
            let total = f.clone() + i.clone();
            (f / total.clone(), i / total * g)
        }
    };
    unwrap(Tensor::stack::<3>(vec![a, b], 0))
}

/// The default body of
/// [`RnnBackend::min_coefficients_backward`](super::RnnBackend::min_coefficients_backward).
pub fn min_coefficients_backward<B: Backend>(
    kind: super::MinKind,
    gates: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> FloatTensor<B> {
    let gates = wrap::<B, 2>(gates);
    let [rows, width] = gates.dims();
    let hidden = width / kind.gates();
    let grad = wrap::<B, 3>(grad);
    let da = grad.clone().slice(0..1).reshape([rows, hidden]);
    let db = grad.slice(1..2).reshape([rows, hidden]);
    let blocks = gates.chunk(kind.gates(), 1);
    let (g, dg) = min_g(blocks[0].clone());
    let sigmoid = |k: usize| crate::math::sigmoid(blocks[k].clone());
    let slope = |s: Tensor<B, 2>| s.clone() * (s.neg() + 1.0);
    let parts = match kind {
        super::MinKind::Gru => {
            let z = sigmoid(1);
            let du = (db.clone() * g - da) * slope(z.clone());
            vec![db * z * dg, du]
        }
        super::MinKind::Lstm => {
            let (f, i) = (sigmoid(1), sigmoid(2));
            let inv = (f.clone() + i.clone()).recip();
            let inv2 = inv.clone() * inv.clone();
            let diff = da - db.clone() * g;
            let dp = i.clone() * inv2.clone() * diff.clone() * slope(f.clone());
            let dq = (f * inv2 * diff).neg() * slope(i.clone());
            vec![db * i * inv * dg, dp, dq]
        }
    };
    unwrap(Tensor::cat(parts, 1))
}

/// The gradients of [`linear_scan_forward`]: the adjoints `λ_t = grad_t + a_(t+1) * λ_(t+1)`
/// are the same recurrence run from the end, then `b: λ`, `a: λ_t * h_(t-1)`, `h0: a_0 * λ_0`.
/// The default body of
/// [`RnnBackend::linear_scan_backward`](super::RnnBackend::linear_scan_backward).
pub fn linear_scan_backward<B: Backend>(
    a: FloatTensor<B>,
    h0: FloatTensor<B>,
    h: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> LinearScanGrads<B> {
    let (a, h, grad) = (wrap::<B, 2>(a), wrap::<B, 2>(h), wrap::<B, 2>(grad));
    let h0 = wrap::<B, 1>(h0);
    let [seq, m] = a.dims();
    let device = a.device();
    // a_(t+1), with 0 after the last step, reversed in time.
    let a_next = Tensor::cat(
        vec![a.clone().slice(1..seq), Tensor::zeros([1, m], &device)],
        0,
    );
    let lambda = wrap::<B, 2>(linear_scan_forward::<B>(
        unwrap(a_next.flip([0])),
        unwrap(grad.flip([0])),
        unwrap(Tensor::<B, 1>::zeros([m], &device)),
    ))
    .flip([0]);
    let h_prev = Tensor::cat(vec![h0.unsqueeze_dim(0), h.slice(0..seq - 1)], 0);
    let grad_h0 = (a.slice(0..1) * lambda.clone().slice(0..1)).squeeze_dim::<1>(0);
    LinearScanGrads {
        a: unwrap(lambda.clone() * h_prev),
        b: unwrap(lambda),
        h0: unwrap(grad_h0),
    }
}
