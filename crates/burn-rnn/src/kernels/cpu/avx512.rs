//! The forward gate math written with AVX-512 intrinsics.
//!
//! The portable loops in `cpu` vectorize, but compiled code divides (`1 / (1 + e^-x)`), and a
//! 512-bit division costs ~10 cycles of throughput: with five per LSTM element it bounded the
//! whole pass. Here reciprocals are `rcp14` plus one Newton-Raphson step (relative error under
//! 1e-7), `2^n` is `vscalefps`, and each call handles up to 16 units per masked vector, the
//! width of one forward tile. Same formulas as [`super::math`], same saved activations.

use std::arch::x86_64::*;

use super::super::RecurrentKind;

/// `e^x` (Cephes' `expf` polynomial, `x` clamped to `[-87.3, 88.0]`).
#[inline(always)]
unsafe fn exp(x: __m512) -> __m512 {
    let x = _mm512_min_ps(
        _mm512_max_ps(x, _mm512_set1_ps(-87.3)),
        _mm512_set1_ps(88.0),
    );
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm512_set1_ps(1.987_569_1e-4);
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    let p = _mm512_add_ps(
        _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r),
        _mm512_set1_ps(1.0),
    );
    _mm512_scalef_ps(p, n)
}

/// `1 / x`: `rcp14` and one Newton-Raphson step.
#[inline(always)]
unsafe fn recip(x: __m512) -> __m512 {
    let r = _mm512_rcp14_ps(x);
    _mm512_mul_ps(r, _mm512_fnmadd_ps(x, r, _mm512_set1_ps(2.0)))
}

#[inline(always)]
unsafe fn sigmoid(x: __m512) -> __m512 {
    let e = exp(_mm512_sub_ps(_mm512_setzero_ps(), x));
    recip(_mm512_add_ps(e, _mm512_set1_ps(1.0)))
}

#[inline(always)]
unsafe fn tanh(x: __m512) -> __m512 {
    let x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-9.0)), _mm512_set1_ps(9.0));
    let e = exp(_mm512_add_ps(x, x));
    let r = recip(_mm512_add_ps(e, _mm512_set1_ps(1.0)));
    _mm512_fnmadd_ps(_mm512_set1_ps(2.0), r, _mm512_set1_ps(1.0))
}

/// Lanes `j..j + 16` of `s` (those below `s.len()`; zero past it).
#[inline(always)]
unsafe fn load(s: &[f32], j: usize, mask: __mmask16) -> __m512 {
    _mm512_maskz_loadu_ps(mask, s.as_ptr().add(j))
}

#[inline(always)]
unsafe fn store(d: &mut [f32], j: usize, mask: __mmask16, v: __m512) {
    _mm512_mask_storeu_ps(d.as_mut_ptr().add(j), mask, v)
}

/// `gx + gh + b` of one gate.
#[inline(always)]
unsafe fn pre(gx: &[f32], gh: &[f32], b: &[f32], j: usize, m: __mmask16) -> __m512 {
    _mm512_add_ps(_mm512_add_ps(load(gx, j, m), load(gh, j, m)), load(b, j, m))
}

/// Masks of the 16-lane chunks covering `w` values.
#[inline(always)]
fn chunks(w: usize) -> impl Iterator<Item = (usize, __mmask16)> {
    (0..w).step_by(16).map(move |j| {
        let n = (w - j).min(16);
        (j, ((1u32 << n) - 1) as __mmask16)
    })
}

/// Checks every slice holds at least `w` values (the masked loads and stores stay inside).
#[inline(always)]
fn check(w: usize, inputs: &[&[f32]], outputs: &[usize]) {
    assert!(
        inputs.iter().all(|s| s.len() >= w),
        "gate math: an input is shorter than {w}"
    );
    assert!(
        outputs.iter().all(|&l| l >= w),
        "gate math: an output is shorter than {w}"
    );
}

/// As `cpu::rnn_forward`.
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
pub unsafe fn rnn_forward(
    kind: RecurrentKind,
    gx: &[f32],
    gh: &[f32],
    b: &[f32],
    h_new: &mut [f32],
    act: &mut [f32],
) {
    let w = h_new.len();
    check(w, &[gx, gh, b], &[act.len()]);
    for (j, m) in chunks(w) {
        let p = pre(gx, gh, b, j, m);
        let v = match kind {
            RecurrentKind::RnnRelu => _mm512_max_ps(p, _mm512_setzero_ps()),
            _ => tanh(p),
        };
        store(h_new, j, m, v);
        store(act, j, m, v);
    }
}

/// As `cpu::lstm_forward`.
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
pub unsafe fn lstm_forward(
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
    check(
        w,
        &[
            gx[0], gx[1], gx[2], gx[3], gh[0], gh[1], gh[2], gh[3], b[0], b[1], b[2], b[3], c,
        ],
        &[
            c_new.len(),
            ai.len(),
            af.len(),
            ag.len(),
            ao.len(),
            atc.len(),
        ],
    );
    for (j, m) in chunks(w) {
        let i = sigmoid(pre(gx[0], gh[0], b[0], j, m));
        let f = sigmoid(pre(gx[1], gh[1], b[1], j, m));
        let g = tanh(pre(gx[2], gh[2], b[2], j, m));
        let o = sigmoid(pre(gx[3], gh[3], b[3], j, m));
        let cn = _mm512_fmadd_ps(f, load(c, j, m), _mm512_mul_ps(i, g));
        let tc = tanh(cn);
        store(c_new, j, m, cn);
        store(h_new, j, m, _mm512_mul_ps(o, tc));
        store(ai, j, m, i);
        store(af, j, m, f);
        store(ag, j, m, g);
        store(ao, j, m, o);
        store(atc, j, m, tc);
    }
}

/// As `cpu::gru_forward`.
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
pub unsafe fn gru_forward(
    gx: [&[f32]; 3],
    gh: [&[f32]; 3],
    b: [&[f32]; 3],
    h: &[f32],
    h_new: &mut [f32],
    acts: [&mut [f32]; 4],
) {
    let w = h_new.len();
    let [ar, az, an, ahn] = acts;
    check(
        w,
        &[
            gx[0], gx[1], gx[2], gh[0], gh[1], gh[2], b[0], b[1], b[2], h,
        ],
        &[ar.len(), az.len(), an.len(), ahn.len()],
    );
    for (j, m) in chunks(w) {
        let r = sigmoid(pre(gx[0], gh[0], b[0], j, m));
        let z = sigmoid(pre(gx[1], gh[1], b[1], j, m));
        let ghn = _mm512_add_ps(load(gh[2], j, m), load(b[2], j, m));
        let n = tanh(_mm512_fmadd_ps(r, ghn, load(gx[2], j, m)));
        let h_old = load(h, j, m);
        store(h_new, j, m, _mm512_fmadd_ps(z, _mm512_sub_ps(h_old, n), n));
        store(ar, j, m, r);
        store(az, j, m, z);
        store(an, j, m, n);
        store(ahn, j, m, ghn);
    }
}
