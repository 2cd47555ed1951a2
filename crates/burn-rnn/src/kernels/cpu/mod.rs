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

/// Calls `$body`, or on x86-64 one of two copies of it compiled for AVX-512 or AVX2+FMA,
/// whichever this CPU has (checked once, cached by `is_x86_feature_detected!`).
macro_rules! multiversion {
    ($body:ident($($arg:expr),*); $avx512:ident, $avx2:ident) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU has the features the copy was compiled for.
                return unsafe { $avx512($($arg),*) };
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU has the features the copy was compiled for.
                return unsafe { $avx2($($arg),*) };
            }
        }
        $body($($arg),*)
    }};
}

mod gemm;
pub mod math;

pub use gemm::{sgemm, Mat, MatMut};

use super::{RecurrentKind, RecurrentSpec};
use math::{sigmoid, tanh};

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

/// Activations saved per step and row, in units of `H`: RNN `h'`; LSTM `i, f, g, o,
/// tanh(c')`; GRU `r, z, n, W_hn h + b_hn`.
pub fn act_width(kind: RecurrentKind) -> usize {
    match kind {
        RecurrentKind::RnnTanh | RecurrentKind::RnnRelu => 1,
        RecurrentKind::Lstm => 5,
        RecurrentKind::Gru => 4,
    }
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
    /// `[L, N, A*H]`, see [`act_width`].
    pub acts: &'a mut [f32],
    /// `[L, N, H]`: the hidden state each step started from.
    pub h_prev: &'a mut [f32],
    /// `[L, N, H]`: the cell state each step started from (LSTM; empty otherwise).
    pub c_prev: &'a mut [f32],
}

/// Runs a whole sequence.
///
/// # Shapes
/// - `inputs`: see [`ForwardInputs`]
/// - `packed`: `[L + 2, N, H]`, written whole: outputs (zero past each length), final `h`,
///   final `c` (zeros for RNN and GRU)
/// - `saved`: see [`Saved`]; `None` for inference
pub fn forward(
    spec: &RecurrentSpec,
    dims: Dims,
    inputs: ForwardInputs<'_>,
    packed: &mut [f32],
    saved: Option<Saved<'_>>,
) {
    multiversion!(forward_impl(spec, dims, inputs, packed, saved); forward_avx512, forward_avx2);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn forward_avx512(
    spec: &RecurrentSpec,
    dims: Dims,
    inputs: ForwardInputs<'_>,
    packed: &mut [f32],
    saved: Option<Saved<'_>>,
) {
    forward_impl(spec, dims, inputs, packed, saved)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_avx2(
    spec: &RecurrentSpec,
    dims: Dims,
    inputs: ForwardInputs<'_>,
    packed: &mut [f32],
    saved: Option<Saved<'_>>,
) {
    forward_impl(spec, dims, inputs, packed, saved)
}

#[inline(always)]
fn forward_impl(
    spec: &RecurrentSpec,
    dims: Dims,
    inputs: ForwardInputs<'_>,
    packed: &mut [f32],
    mut saved: Option<Saved<'_>>,
) {
    let Dims { seq, batch, hidden } = dims;
    let kind = spec.kind;
    let gh = kind.gates() * hidden;
    let aw = act_width(kind) * hidden;
    let nh = batch * hidden;
    assert_eq!(inputs.gates_x.len(), seq * batch * gh);
    assert_eq!(inputs.weight_hh.len(), gh * hidden);
    assert_eq!(packed.len(), (seq + 2) * nh);

    let mut h = inputs.h0.to_vec();
    let mut c = match kind.has_cell() {
        true => inputs.c0.to_vec(),
        false => Vec::new(),
    };
    let mut h_next = vec![0.0f32; nh];
    let mut c_next = vec![0.0f32; c.len()];
    let mut gates_h = vec![0.0f32; batch * gh];
    let mut scratch_acts = vec![0.0f32; aw];
    let w_t = Mat::new(inputs.weight_hh, gh, hidden).t();

    for s in 0..seq {
        let t = spec.time(s, seq);
        if let Some(saved) = saved.as_mut() {
            saved.h_prev[t * nh..(t + 1) * nh].copy_from_slice(&h);
            if kind.has_cell() {
                saved.c_prev[t * nh..(t + 1) * nh].copy_from_slice(&c);
            }
        }
        // gates_h = h W_hh^T
        sgemm(
            Mat::new(&h, batch, hidden),
            w_t,
            0.0,
            MatMut::new(&mut gates_h, batch, gh),
        );
        let (outputs, _) = packed.split_at_mut(seq * nh);
        let out_t = &mut outputs[t * nh..(t + 1) * nh];
        for n in 0..batch {
            let row = n * hidden..(n + 1) * hidden;
            if !spec.active(t, n) {
                h_next[row.clone()].copy_from_slice(&h[row.clone()]);
                if kind.has_cell() {
                    c_next[row.clone()].copy_from_slice(&c[row.clone()]);
                }
                out_t[row].fill(0.0);
                continue;
            }
            let gx = &inputs.gates_x[(t * batch + n) * gh..(t * batch + n + 1) * gh];
            let ghr = &gates_h[n * gh..(n + 1) * gh];
            let acts = match saved.as_mut() {
                Some(saved) => &mut saved.acts[(t * batch + n) * aw..(t * batch + n + 1) * aw],
                None => &mut scratch_acts[..],
            };
            let rows = RowFwd {
                gx,
                gh: ghr,
                bias: inputs.bias_hh,
                h: &h[row.clone()],
                c: if kind.has_cell() { &c[row.clone()] } else { &[] },
            };
            let (h_out, c_out) = (
                &mut h_next[row.clone()],
                if kind.has_cell() {
                    &mut c_next[row.clone()]
                } else {
                    &mut [][..]
                },
            );
            row_forward(kind, rows, h_out, c_out, acts);
            out_t[row.clone()].copy_from_slice(&h_next[row]);
        }
        std::mem::swap(&mut h, &mut h_next);
        std::mem::swap(&mut c, &mut c_next);
    }
    let (_, finals) = packed.split_at_mut(seq * nh);
    let (h_final, c_final) = finals.split_at_mut(nh);
    h_final.copy_from_slice(&h);
    match kind.has_cell() {
        true => c_final.copy_from_slice(&c),
        false => c_final.fill(0.0),
    }
}

/// One row's inputs to the gate math.
struct RowFwd<'a> {
    gx: &'a [f32],
    gh: &'a [f32],
    bias: &'a [f32],
    h: &'a [f32],
    c: &'a [f32],
}

#[inline(always)]
fn row_forward(
    kind: RecurrentKind,
    r: RowFwd<'_>,
    h_out: &mut [f32],
    c_out: &mut [f32],
    acts: &mut [f32],
) {
    let hd = h_out.len();
    match kind {
        RecurrentKind::RnnTanh | RecurrentKind::RnnRelu => {
            let (gx, gh, b) = (&r.gx[..hd], &r.gh[..hd], &r.bias[..hd]);
            let a = &mut acts[..hd];
            let relu = kind == RecurrentKind::RnnRelu;
            for j in 0..hd {
                let p = gx[j] + gh[j] + b[j];
                let v = if relu { p.max(0.0) } else { tanh(p) };
                h_out[j] = v;
                a[j] = v;
            }
        }
        RecurrentKind::Lstm => {
            let (gx, gh, b) = (&r.gx[..4 * hd], &r.gh[..4 * hd], &r.bias[..4 * hd]);
            let c = &r.c[..hd];
            let c_out = &mut c_out[..hd];
            let (ai, rest) = acts[..5 * hd].split_at_mut(hd);
            let (af, rest) = rest.split_at_mut(hd);
            let (ag, rest) = rest.split_at_mut(hd);
            let (ao, atc) = rest.split_at_mut(hd);
            for j in 0..hd {
                let i = sigmoid(gx[j] + gh[j] + b[j]);
                let f = sigmoid(gx[hd + j] + gh[hd + j] + b[hd + j]);
                let g = tanh(gx[2 * hd + j] + gh[2 * hd + j] + b[2 * hd + j]);
                let o = sigmoid(gx[3 * hd + j] + gh[3 * hd + j] + b[3 * hd + j]);
                let cn = f * c[j] + i * g;
                let tc = tanh(cn);
                c_out[j] = cn;
                h_out[j] = o * tc;
                ai[j] = i;
                af[j] = f;
                ag[j] = g;
                ao[j] = o;
                atc[j] = tc;
            }
        }
        RecurrentKind::Gru => {
            let (gx, gh, b) = (&r.gx[..3 * hd], &r.gh[..3 * hd], &r.bias[..3 * hd]);
            let h = &r.h[..hd];
            let (ar, rest) = acts[..4 * hd].split_at_mut(hd);
            let (az, rest) = rest.split_at_mut(hd);
            let (an, ahn) = rest.split_at_mut(hd);
            for j in 0..hd {
                let r_ = sigmoid(gx[j] + gh[j] + b[j]);
                let z = sigmoid(gx[hd + j] + gh[hd + j] + b[hd + j]);
                let hn = gh[2 * hd + j] + b[2 * hd + j];
                let n = tanh(gx[2 * hd + j] + r_ * hn);
                h_out[j] = n + z * (h[j] - n);
                ar[j] = r_;
                az[j] = z;
                an[j] = n;
                ahn[j] = hn;
            }
        }
    }
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

/// Backpropagation through time for [`forward`].
pub fn backward(
    spec: &RecurrentSpec,
    dims: Dims,
    inputs: BackwardInputs<'_>,
    out: BackwardOutputs<'_>,
) {
    multiversion!(backward_impl(spec, dims, inputs, out); backward_avx512, backward_avx2);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn backward_avx512(
    spec: &RecurrentSpec,
    dims: Dims,
    inputs: BackwardInputs<'_>,
    out: BackwardOutputs<'_>,
) {
    backward_impl(spec, dims, inputs, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn backward_avx2(
    spec: &RecurrentSpec,
    dims: Dims,
    inputs: BackwardInputs<'_>,
    out: BackwardOutputs<'_>,
) {
    backward_impl(spec, dims, inputs, out)
}

#[inline(always)]
fn backward_impl(
    spec: &RecurrentSpec,
    dims: Dims,
    inputs: BackwardInputs<'_>,
    out: BackwardOutputs<'_>,
) {
    let Dims { seq, batch, hidden } = dims;
    let kind = spec.kind;
    let gh = kind.gates() * hidden;
    let aw = act_width(kind) * hidden;
    let nh = batch * hidden;
    assert_eq!(inputs.grad_packed.len(), (seq + 2) * nh);
    assert_eq!(out.gates_x.len(), seq * batch * gh);

    let grad_out = &inputs.grad_packed[..seq * nh];
    let mut dh = inputs.grad_packed[seq * nh..(seq + 1) * nh].to_vec();
    let mut dc = match kind.has_cell() {
        true => inputs.grad_packed[(seq + 1) * nh..].to_vec(),
        false => Vec::new(),
    };
    let mut dh_next = vec![0.0f32; nh];
    let mut dc_next = vec![0.0f32; dc.len()];
    // GRU's gradient w.r.t. `h W_hh^T + b_hh` differs from the one w.r.t. the input gates.
    let mut gates_h_grad = match kind {
        RecurrentKind::Gru => vec![0.0f32; seq * batch * gh],
        _ => Vec::new(),
    };
    let w = Mat::new(inputs.weight_hh, gh, hidden);

    for s in (0..seq).rev() {
        let t = spec.time(s, seq);
        let span = t * batch * gh..(t + 1) * batch * gh;
        for n in 0..batch {
            let row = n * hidden..(n + 1) * hidden;
            let g_row = (t * batch + n) * gh..(t * batch + n + 1) * gh;
            if !spec.active(t, n) {
                out.gates_x[g_row.clone()].fill(0.0);
                if kind == RecurrentKind::Gru {
                    gates_h_grad[g_row].fill(0.0);
                }
                dh_next[row.clone()].copy_from_slice(&dh[row.clone()]);
                if kind.has_cell() {
                    dc_next[row.clone()].copy_from_slice(&dc[row]);
                }
                continue;
            }
            let base = (t * batch + n) * hidden;
            let r = RowBwd {
                acts: &inputs.acts[(t * batch + n) * aw..(t * batch + n + 1) * aw],
                h_prev: &inputs.h_prev[base..base + hidden],
                c_prev: if kind.has_cell() { &inputs.c_prev[base..base + hidden] } else { &[] },
                d_out: &grad_out[base..base + hidden],
                dh: &dh[row.clone()],
                dc: if kind.has_cell() { &dc[row.clone()] } else { &[] },
            };
            let dgh = match kind {
                RecurrentKind::Gru => Some(&mut gates_h_grad[g_row.clone()]),
                _ => None,
            };
            row_backward(
                kind,
                r,
                &mut out.gates_x[g_row],
                dgh,
                &mut dh_next[row.clone()],
                if kind.has_cell() { &mut dc_next[row] } else { &mut [][..] },
            );
        }
        // dh_prev = direct part + dG_h W_hh
        let dgh_t: &[f32] = match kind {
            RecurrentKind::Gru => &gates_h_grad[span],
            _ => &out.gates_x[span],
        };
        sgemm(Mat::new(dgh_t, batch, gh), w, 1.0, MatMut::new(&mut dh_next, batch, hidden));
        std::mem::swap(&mut dh, &mut dh_next);
        std::mem::swap(&mut dc, &mut dc_next);
    }
    out.h0.copy_from_slice(&dh);
    match kind.has_cell() {
        true => out.c0.copy_from_slice(&dc),
        false => out.c0.fill(0.0),
    }
    // dW_hh = sum_t dG_h[t]^T h_prev[t], one matmul over all steps; db_hh = column sums.
    let dgh_all: &[f32] = match kind {
        RecurrentKind::Gru => &gates_h_grad,
        _ => out.gates_x,
    };
    let rows = seq * batch;
    sgemm(
        Mat::new(dgh_all, rows, gh).t(),
        Mat::new(inputs.h_prev, rows, hidden),
        0.0,
        MatMut::new(out.weight_hh, gh, hidden),
    );
    out.bias_hh.fill(0.0);
    for r in dgh_all.chunks_exact(gh) {
        for (b, g) in out.bias_hh.iter_mut().zip(r) {
            *b += g;
        }
    }
}

/// One row's inputs to the gate gradients.
struct RowBwd<'a> {
    acts: &'a [f32],
    h_prev: &'a [f32],
    c_prev: &'a [f32],
    d_out: &'a [f32],
    dh: &'a [f32],
    dc: &'a [f32],
}

#[inline(always)]
fn row_backward(
    kind: RecurrentKind,
    r: RowBwd<'_>,
    dgx: &mut [f32],
    dgh: Option<&mut [f32]>,
    dh_prev: &mut [f32],
    dc_prev: &mut [f32],
) {
    let hd = dh_prev.len();
    let (d_out, dh) = (&r.d_out[..hd], &r.dh[..hd]);
    match kind {
        RecurrentKind::RnnTanh | RecurrentKind::RnnRelu => {
            let a = &r.acts[..hd];
            let dgx = &mut dgx[..hd];
            let relu = kind == RecurrentKind::RnnRelu;
            for j in 0..hd {
                let d = dh[j] + d_out[j];
                let v = a[j];
                let deriv = if relu {
                    if v > 0.0 {
                        1.0
                    } else {
                        0.0
                    }
                } else {
                    1.0 - v * v
                };
                dgx[j] = d * deriv;
                dh_prev[j] = 0.0;
            }
        }
        RecurrentKind::Lstm => {
            let a = &r.acts[..5 * hd];
            let (c_prev, dc) = (&r.c_prev[..hd], &r.dc[..hd]);
            let dgx = &mut dgx[..4 * hd];
            let dc_prev = &mut dc_prev[..hd];
            for j in 0..hd {
                let (i, f, g, o, tc) = (a[j], a[hd + j], a[2 * hd + j], a[3 * hd + j], a[4 * hd + j]);
                let d = dh[j] + d_out[j];
                let dct = dc[j] + d * o * (1.0 - tc * tc);
                dgx[j] = dct * g * i * (1.0 - i);
                dgx[hd + j] = dct * c_prev[j] * f * (1.0 - f);
                dgx[2 * hd + j] = dct * i * (1.0 - g * g);
                dgx[3 * hd + j] = d * tc * o * (1.0 - o);
                dc_prev[j] = dct * f;
                dh_prev[j] = 0.0;
            }
        }
        RecurrentKind::Gru => {
            let a = &r.acts[..4 * hd];
            let h = &r.h_prev[..hd];
            let dgx = &mut dgx[..3 * hd];
            let dgh = &mut dgh.expect("GRU backward writes the hidden gates' gradient")[..3 * hd];
            for j in 0..hd {
                let (r_, z, n, hn) = (a[j], a[hd + j], a[2 * hd + j], a[3 * hd + j]);
                let d = dh[j] + d_out[j];
                let dpn = d * (1.0 - z) * (1.0 - n * n);
                let dpr = dpn * hn * r_ * (1.0 - r_);
                let dpz = d * (h[j] - n) * z * (1.0 - z);
                dgx[j] = dpr;
                dgx[hd + j] = dpz;
                dgx[2 * hd + j] = dpn;
                dgh[j] = dpr;
                dgh[hd + j] = dpz;
                dgh[2 * hd + j] = dpn * r_;
                dh_prev[j] = d * z;
            }
        }
    }
}
