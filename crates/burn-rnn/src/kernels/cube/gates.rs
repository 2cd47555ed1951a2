//! The per-step CubeCL kernels: one thread per `(sequence, hidden unit)`, launched after the
//! step's hidden matmul. Each folds the bias, the step's slice of the hoisted input projection,
//! the gate math, the state update, the length mask and the writes of the output row, the
//! saved activations and the next matmul's input into one launch.
//!
//! Buffers (all contiguous, row-major):
//! - `gx: [L, N, G*H]` input projection, indexed by time `t`
//! - `hg: [N, G*H]` this step's `h W_hh^T`; `bias: [G*H]`
//! - `lengths: [N]` as floats (a sequence runs while `t < lengths[n]`)
//! - `hs, cs: [L, N, H]` the saved `h_prev`, `c_prev`: row `t` holds the state the step at
//!   time `t` started from; each step reads its row and writes the next step's (`t_next`)
//! - `out: [L + 2, N, H]` the packed result; `gates: [L, N, A*H]` the saved activations by
//!   time (the shared layout, `RecurrentSaved`)
//!
//! The backward kernels mirror them: `dh = dh_carry + mm + dout[t]` where `mm` is the
//! previous backward step's `dG_hh W_hh`, then the gate gradients (written by time into
//! `dgx` and `dgh`, and into `dgh_cur`, the next matmul's input) and the carries.

use cubecl::prelude::*;

#[cube]
fn sigmoid<F: Float>(x: F) -> F {
    F::new(1.0) / (F::new(1.0) + F::exp(F::new(0.0) - x))
}

/// LSTM forward step; saves `i, f, g, o` (activated) and `tanh(c')` per step.
#[cube(launch)]
// A kernel takes every buffer and index as its own argument: CubeCL launches have no structs.
#[allow(clippy::too_many_arguments)]
pub fn lstm_forward<F: Float>(
    gx: &Tensor<F>,
    hg: &Tensor<F>,
    bias: &Tensor<F>,
    lengths: &Tensor<F>,
    hs: &mut Tensor<F>,
    cs: &mut Tensor<F>,
    h_next: &mut Tensor<F>,
    out: &mut Tensor<F>,
    gates: &mut Tensor<F>,
    s: usize,
    t: usize,
    t_next: usize,
    seq: usize,
    batch: usize,
    hidden: usize,
) {
    let pos = ABSOLUTE_POS;
    let nh = batch * hidden;
    if pos >= nh {
        terminate!();
    }
    let n = pos / hidden;
    let j = pos % hidden;
    let gh = 4 * hidden;
    let x = t * batch * gh + n * gh + j;
    let r = n * gh + j;
    let i = sigmoid::<F>(gx[x] + hg[r] + bias[j]);
    let f = sigmoid::<F>(gx[x + hidden] + hg[r + hidden] + bias[j + hidden]);
    let g = F::tanh(gx[x + 2 * hidden] + hg[r + 2 * hidden] + bias[j + 2 * hidden]);
    let o = sigmoid::<F>(gx[x + 3 * hidden] + hg[r + 3 * hidden] + bias[j + 3 * hidden]);
    let prev = t * nh + pos;
    let c_prev = cs[prev];
    let h_prev = hs[prev];
    let mut c = f * c_prev + i * g;
    let tc = F::tanh(c);
    let mut h = o * tc;
    let saved = t * batch * 5 * hidden + n * 5 * hidden + j;
    gates[saved] = i;
    gates[saved + hidden] = f;
    gates[saved + 2 * hidden] = g;
    gates[saved + 3 * hidden] = o;
    gates[saved + 4 * hidden] = tc;
    let mut y = h;
    if F::cast_from(t) >= lengths[n] {
        c = c_prev;
        h = h_prev;
        y = F::new(0.0);
    }
    if s + 1 < seq {
        hs[t_next * nh + pos] = h;
        cs[t_next * nh + pos] = c;
    }
    h_next[pos] = h;
    out[t * nh + pos] = y;
    if s + 1 == seq {
        out[seq * nh + pos] = h;
        out[(seq + 1) * nh + pos] = c;
    }
}

/// GRU forward step; saves `r, z, n` (activated) and `W_hn h + b_hn` per step.
#[cube(launch)]
// A kernel takes every buffer and index as its own argument: CubeCL launches have no structs.
#[allow(clippy::too_many_arguments)]
pub fn gru_forward<F: Float>(
    gx: &Tensor<F>,
    hg: &Tensor<F>,
    bias: &Tensor<F>,
    lengths: &Tensor<F>,
    hs: &mut Tensor<F>,
    h_next: &mut Tensor<F>,
    out: &mut Tensor<F>,
    gates: &mut Tensor<F>,
    s: usize,
    t: usize,
    t_next: usize,
    seq: usize,
    batch: usize,
    hidden: usize,
) {
    let pos = ABSOLUTE_POS;
    let nh = batch * hidden;
    if pos >= nh {
        terminate!();
    }
    let n = pos / hidden;
    let j = pos % hidden;
    let gh = 3 * hidden;
    let x = t * batch * gh + n * gh + j;
    let row = n * gh + j;
    let r = sigmoid::<F>(gx[x] + hg[row] + bias[j]);
    let z = sigmoid::<F>(gx[x + hidden] + hg[row + hidden] + bias[j + hidden]);
    let hn = hg[row + 2 * hidden] + bias[j + 2 * hidden];
    let cand = F::tanh(gx[x + 2 * hidden] + r * hn);
    let saved = t * batch * 4 * hidden + n * 4 * hidden + j;
    gates[saved] = r;
    gates[saved + hidden] = z;
    gates[saved + 2 * hidden] = cand;
    gates[saved + 3 * hidden] = hn;
    let prev = t * nh + pos;
    let h_prev = hs[prev];
    let mut h = (F::new(1.0) - z) * cand + z * h_prev;
    let mut y = h;
    if F::cast_from(t) >= lengths[n] {
        h = h_prev;
        y = F::new(0.0);
    }
    if s + 1 < seq {
        hs[t_next * nh + pos] = h;
    }
    h_next[pos] = h;
    out[t * nh + pos] = y;
    if s + 1 == seq {
        out[seq * nh + pos] = h;
    }
}

/// Vanilla RNN forward step (tanh, or relu when `relu`); saves `h'` per step.
#[cube(launch)]
// A kernel takes every buffer and index as its own argument: CubeCL launches have no structs.
#[allow(clippy::too_many_arguments)]
pub fn rnn_forward<F: Float>(
    gx: &Tensor<F>,
    hg: &Tensor<F>,
    bias: &Tensor<F>,
    lengths: &Tensor<F>,
    hs: &mut Tensor<F>,
    h_next: &mut Tensor<F>,
    out: &mut Tensor<F>,
    gates: &mut Tensor<F>,
    s: usize,
    t: usize,
    t_next: usize,
    seq: usize,
    batch: usize,
    hidden: usize,
    #[comptime] relu: bool,
) {
    let pos = ABSOLUTE_POS;
    let nh = batch * hidden;
    if pos >= nh {
        terminate!();
    }
    let n = pos / hidden;
    let j = pos % hidden;
    let pre = gx[t * nh + pos] + hg[pos] + bias[j];
    let mut a = F::tanh(pre);
    if relu {
        a = F::max(pre, F::new(0.0));
    }
    gates[t * nh + pos] = a;
    let mut h = a;
    let mut y = a;
    if F::cast_from(t) >= lengths[n] {
        h = hs[t * nh + pos];
        y = F::new(0.0);
    }
    if s + 1 < seq {
        hs[t_next * nh + pos] = h;
    }
    h_next[pos] = h;
    out[t * nh + pos] = y;
    if s + 1 == seq {
        out[seq * nh + pos] = h;
    }
}

/// LSTM backward step.
#[cube(launch)]
// A kernel takes every buffer and index as its own argument: CubeCL launches have no structs.
#[allow(clippy::too_many_arguments)]
pub fn lstm_backward<F: Float>(
    grad: &Tensor<F>,
    mm: &Tensor<F>,
    gates: &Tensor<F>,
    cs: &Tensor<F>,
    lengths: &Tensor<F>,
    dh_carry: &mut Tensor<F>,
    dc_carry: &mut Tensor<F>,
    dgx: &mut Tensor<F>,
    dgh: &mut Tensor<F>,
    dgh_cur: &mut Tensor<F>,
    t: usize,
    batch: usize,
    hidden: usize,
) {
    let pos = ABSOLUTE_POS;
    let nh = batch * hidden;
    if pos >= nh {
        terminate!();
    }
    let n = pos / hidden;
    let j = pos % hidden;
    let gh = 4 * hidden;
    let xg = t * batch * gh + n * gh + j;
    let sg = t * batch * 5 * hidden + n * 5 * hidden + j;
    let cur = n * gh + j;
    let carried = dh_carry[pos] + mm[pos];
    if F::cast_from(t) >= lengths[n] {
        dh_carry[pos] = carried;
        for k in 0..4 {
            dgx[xg + k * hidden] = F::new(0.0);
            dgh[xg + k * hidden] = F::new(0.0);
            dgh_cur[cur + k * hidden] = F::new(0.0);
        }
    } else {
        let dh = carried + grad[t * nh + pos];
        let i = gates[sg];
        let f = gates[sg + hidden];
        let g = gates[sg + 2 * hidden];
        let o = gates[sg + 3 * hidden];
        let tc = gates[sg + 4 * hidden];
        let c_prev = cs[t * nh + pos];
        let one = F::new(1.0);
        let dc = dc_carry[pos] + dh * o * (one - tc * tc);
        let di = dc * g * i * (one - i);
        let df = dc * c_prev * f * (one - f);
        let dg = dc * i * (one - g * g);
        let d_o = dh * tc * o * (one - o);
        dc_carry[pos] = dc * f;
        dh_carry[pos] = F::new(0.0);
        dgx[xg] = di;
        dgx[xg + hidden] = df;
        dgx[xg + 2 * hidden] = dg;
        dgx[xg + 3 * hidden] = d_o;
        dgh[xg] = di;
        dgh[xg + hidden] = df;
        dgh[xg + 2 * hidden] = dg;
        dgh[xg + 3 * hidden] = d_o;
        dgh_cur[cur] = di;
        dgh_cur[cur + hidden] = df;
        dgh_cur[cur + 2 * hidden] = dg;
        dgh_cur[cur + 3 * hidden] = d_o;
    }
}

/// GRU backward step.
#[cube(launch)]
// A kernel takes every buffer and index as its own argument: CubeCL launches have no structs.
#[allow(clippy::too_many_arguments)]
pub fn gru_backward<F: Float>(
    grad: &Tensor<F>,
    mm: &Tensor<F>,
    gates: &Tensor<F>,
    hs: &Tensor<F>,
    lengths: &Tensor<F>,
    dh_carry: &mut Tensor<F>,
    dgx: &mut Tensor<F>,
    dgh: &mut Tensor<F>,
    dgh_cur: &mut Tensor<F>,
    t: usize,
    batch: usize,
    hidden: usize,
) {
    let pos = ABSOLUTE_POS;
    let nh = batch * hidden;
    if pos >= nh {
        terminate!();
    }
    let n = pos / hidden;
    let j = pos % hidden;
    let gh = 3 * hidden;
    let xg = t * batch * gh + n * gh + j;
    let cur = n * gh + j;
    let carried = dh_carry[pos] + mm[pos];
    if F::cast_from(t) >= lengths[n] {
        dh_carry[pos] = carried;
        for k in 0..3 {
            dgx[xg + k * hidden] = F::new(0.0);
            dgh[xg + k * hidden] = F::new(0.0);
            dgh_cur[cur + k * hidden] = F::new(0.0);
        }
    } else {
        let dh = carried + grad[t * nh + pos];
        let saved = t * batch * 4 * hidden + n * 4 * hidden + j;
        let r = gates[saved];
        let z = gates[saved + hidden];
        let cand = gates[saved + 2 * hidden];
        let hn = gates[saved + 3 * hidden];
        let h_prev = hs[t * nh + pos];
        let one = F::new(1.0);
        let dn = dh * (one - z) * (one - cand * cand);
        let dz = dh * (h_prev - cand) * z * (one - z);
        let dr = dn * hn * r * (one - r);
        dh_carry[pos] = dh * z;
        dgx[xg] = dr;
        dgx[xg + hidden] = dz;
        dgx[xg + 2 * hidden] = dn;
        dgh[xg] = dr;
        dgh[xg + hidden] = dz;
        dgh[xg + 2 * hidden] = dn * r;
        dgh_cur[cur] = dr;
        dgh_cur[cur + hidden] = dz;
        dgh_cur[cur + 2 * hidden] = dn * r;
    }
}

/// Vanilla RNN backward step (tanh, or relu when `relu`).
#[cube(launch)]
// A kernel takes every buffer and index as its own argument: CubeCL launches have no structs.
#[allow(clippy::too_many_arguments)]
pub fn rnn_backward<F: Float>(
    grad: &Tensor<F>,
    mm: &Tensor<F>,
    gates: &Tensor<F>,
    lengths: &Tensor<F>,
    dh_carry: &mut Tensor<F>,
    dgx: &mut Tensor<F>,
    dgh: &mut Tensor<F>,
    dgh_cur: &mut Tensor<F>,
    t: usize,
    batch: usize,
    hidden: usize,
    #[comptime] relu: bool,
) {
    let pos = ABSOLUTE_POS;
    let nh = batch * hidden;
    if pos >= nh {
        terminate!();
    }
    let n = pos / hidden;
    let carried = dh_carry[pos] + mm[pos];
    if F::cast_from(t) >= lengths[n] {
        dh_carry[pos] = carried;
        dgx[t * nh + pos] = F::new(0.0);
        dgh[t * nh + pos] = F::new(0.0);
        dgh_cur[pos] = F::new(0.0);
    } else {
        let dh = carried + grad[t * nh + pos];
        let a = gates[t * nh + pos];
        let mut d = dh * (F::new(1.0) - a * a);
        if relu {
            d = F::new(0.0);
            if a > F::new(0.0) {
                d = dh;
            }
        }
        dh_carry[pos] = F::new(0.0);
        dgx[t * nh + pos] = d;
        dgh[t * nh + pos] = d;
        dgh_cur[pos] = d;
    }
}
