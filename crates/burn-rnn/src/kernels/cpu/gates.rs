//! The portable gate math of one step for a run of hidden units, forward and backward: what
//! the compiler vectorises for AVX2 and NEON (the `avx512` module writes the same in
//! intrinsics). Formulas are those of [`crate::math`].

use super::math::{sigmoid, tanh};
use crate::kernels::RecurrentKind;

/// `h' = act(gx + gh + b)`; saves `h'`.
#[inline(always)]
pub(super) fn rnn_forward(
    kind: RecurrentKind,
    gx: &[f32],
    gh: &[f32],
    b: &[f32],
    h_new: &mut [f32],
    act: &mut [f32],
) {
    let w = h_new.len();
    let (gx, gh, b, act) = (&gx[..w], &gh[..w], &b[..w], &mut act[..w]);
    let relu = kind == RecurrentKind::RnnRelu;
    for j in 0..w {
        let p = gx[j] + gh[j] + b[j];
        let v = if relu { p.max(0.0) } else { tanh(p) };
        h_new[j] = v;
        act[j] = v;
    }
}

/// LSTM gates `i, f, g, o`; saves `i, f, g, o, tanh(c')`.
#[inline(always)]
pub(super) fn lstm_forward(
    gx: [&[f32]; 4],
    gh: [&[f32]; 4],
    b: [&[f32]; 4],
    c: &[f32],
    c_new: &mut [f32],
    h_new: &mut [f32],
    acts: [&mut [f32]; 5],
) {
    let w = h_new.len();
    let [ai, af, ag, ao, atc] = acts;
    let (ai, af, ag, ao, atc) = (
        &mut ai[..w],
        &mut af[..w],
        &mut ag[..w],
        &mut ao[..w],
        &mut atc[..w],
    );
    let (c, c_new) = (&c[..w], &mut c_new[..w]);
    let (xi, xf, xg, xo) = (&gx[0][..w], &gx[1][..w], &gx[2][..w], &gx[3][..w]);
    let (hi, hf, hg, ho) = (&gh[0][..w], &gh[1][..w], &gh[2][..w], &gh[3][..w]);
    let (bi, bf, bg, bo) = (&b[0][..w], &b[1][..w], &b[2][..w], &b[3][..w]);
    for j in 0..w {
        let i = sigmoid(xi[j] + hi[j] + bi[j]);
        let f = sigmoid(xf[j] + hf[j] + bf[j]);
        let g = tanh(xg[j] + hg[j] + bg[j]);
        let o = sigmoid(xo[j] + ho[j] + bo[j]);
        let cn = f * c[j] + i * g;
        let tc = tanh(cn);
        c_new[j] = cn;
        h_new[j] = o * tc;
        ai[j] = i;
        af[j] = f;
        ag[j] = g;
        ao[j] = o;
        atc[j] = tc;
    }
}

/// GRU gates `r, z, n` (reset gate on `W_hn h + b_hn`); saves `r, z, n, W_hn h + b_hn`.
#[inline(always)]
pub(super) fn gru_forward(
    gx: [&[f32]; 3],
    gh: [&[f32]; 3],
    b: [&[f32]; 3],
    h: &[f32],
    h_new: &mut [f32],
    acts: [&mut [f32]; 4],
) {
    let w = h_new.len();
    let [ar, az, an, ahn] = acts;
    let (ar, az, an, ahn) = (&mut ar[..w], &mut az[..w], &mut an[..w], &mut ahn[..w]);
    let h = &h[..w];
    let (xr, xz, xn) = (&gx[0][..w], &gx[1][..w], &gx[2][..w]);
    let (hr, hz, hn) = (&gh[0][..w], &gh[1][..w], &gh[2][..w]);
    let (br, bz, bn) = (&b[0][..w], &b[1][..w], &b[2][..w]);
    for j in 0..w {
        let r = sigmoid(xr[j] + hr[j] + br[j]);
        let z = sigmoid(xz[j] + hz[j] + bz[j]);
        let ghn = hn[j] + bn[j];
        let n = tanh(xn[j] + r * ghn);
        h_new[j] = n + z * (h[j] - n);
        ar[j] = r;
        az[j] = z;
        an[j] = n;
        ahn[j] = ghn;
    }
}

/// `dpre = (dout + dh) * act'(h')`.
#[inline(always)]
pub(super) fn rnn_backward(kind: RecurrentKind, h_new: &[f32], d: [&[f32]; 2], dgx: &mut [f32]) {
    let w = dgx.len();
    let (h_new, d_out, dh) = (&h_new[..w], &d[0][..w], &d[1][..w]);
    let relu = kind == RecurrentKind::RnnRelu;
    for j in 0..w {
        let v = h_new[j];
        let deriv = match relu {
            true => (v > 0.0) as u32 as f32,
            false => 1.0 - v * v,
        };
        dgx[j] = (d_out[j] + dh[j]) * deriv;
    }
}

/// LSTM gate gradients and the cell state's gradient; `dh_prev` gets 0 (the matmul adds).
#[inline(always)]
pub(super) fn lstm_backward(
    acts: [&[f32]; 5],
    c_prev: &[f32],
    d: [&[f32]; 2],
    dc: &[f32],
    dgx: [&mut [f32]; 4],
    dc_prev: &mut [f32],
    dh_prev: &mut [f32],
) {
    let w = dh_prev.len();
    let [ai, af, ag, ao, atc] = acts;
    let (ai, af, ag, ao, atc) = (&ai[..w], &af[..w], &ag[..w], &ao[..w], &atc[..w]);
    let (c_prev, d_out, dh, dc) = (&c_prev[..w], &d[0][..w], &d[1][..w], &dc[..w]);
    let [di, df, dg, d_o] = dgx;
    let (di, df, dg, d_o) = (&mut di[..w], &mut df[..w], &mut dg[..w], &mut d_o[..w]);
    let dc_prev = &mut dc_prev[..w];
    for j in 0..w {
        let (i, f, g, o, tc) = (ai[j], af[j], ag[j], ao[j], atc[j]);
        let dht = d_out[j] + dh[j];
        let dct = dc[j] + dht * o * (1.0 - tc * tc);
        di[j] = dct * g * i * (1.0 - i);
        df[j] = dct * c_prev[j] * f * (1.0 - f);
        dg[j] = dct * i * (1.0 - g * g);
        d_o[j] = dht * tc * o * (1.0 - o);
        dc_prev[j] = dct * f;
        dh_prev[j] = 0.0;
    }
}

/// GRU gate gradients (input side and hidden side) and the direct part of `dh_prev`.
#[inline(always)]
pub(super) fn gru_backward(
    acts: [&[f32]; 4],
    h_prev: &[f32],
    d: [&[f32]; 2],
    dgx: [&mut [f32]; 3],
    dgh: [&mut [f32]; 3],
    dh_prev: &mut [f32],
) {
    let w = dh_prev.len();
    let [ar, az, an, ahn] = acts;
    let (ar, az, an, ahn) = (&ar[..w], &az[..w], &an[..w], &ahn[..w]);
    let (h, d_out, dh) = (&h_prev[..w], &d[0][..w], &d[1][..w]);
    let [xr, xz, xn] = dgx;
    let (xr, xz, xn) = (&mut xr[..w], &mut xz[..w], &mut xn[..w]);
    let [hr, hz, hn] = dgh;
    let (hr, hz, hn) = (&mut hr[..w], &mut hz[..w], &mut hn[..w]);
    for j in 0..w {
        let (r, z, n, ghn) = (ar[j], az[j], an[j], ahn[j]);
        let dht = d_out[j] + dh[j];
        let dpn = dht * (1.0 - z) * (1.0 - n * n);
        let dpr = dpn * ghn * r * (1.0 - r);
        let dpz = dht * (h[j] - n) * z * (1.0 - z);
        xr[j] = dpr;
        xz[j] = dpz;
        xn[j] = dpn;
        hr[j] = dpr;
        hz[j] = dpz;
        hn[j] = dpn * r;
        dh_prev[j] = dht * z;
    }
}
