//! The gate math of one step for a run of `w` hidden units, forward and backward, written
//! once over [`Simd`]. Formulas and gate orders are PyTorch's; the saved activations are those
//! of [`CellKind::saved_width`](crate::CellKind::saved_width).
//!
//! `exp` is Cephes' `expf` (range reduction by `ln 2` in two parts, degree-6 polynomial):
//! under 2 ulp on `[-87.3, 88]`; `sigmoid` and `tanh` are built on it, with absolute errors
//! under 2.5e-7 (tested), well inside the 1e-5 the kernels are tested to.

use crate::simd::Simd;

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `e^x` for `x` clamped to `[-87.3, 88.0]` (no infinities, no denormals).
#[inline(always)]
pub(crate) unsafe fn exp<S: Simd>(x: S::V) -> S::V {
    let x = S::min(S::max(x, S::splat(-87.3)), S::splat(88.0));
    let n = S::round(S::mul(x, S::splat(LOG2E)));
    let r = S::fnma(n, S::splat(LN2_HI), x);
    let r = S::fnma(n, S::splat(LN2_LO), r);
    let mut p = S::splat(1.987_569_1e-4);
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ] {
        p = S::fma(p, r, S::splat(c));
    }
    let p = S::add(S::fma(S::mul(p, r), r, r), S::splat(1.0));
    S::mul(p, S::pow2(n))
}

/// `1 / (1 + e^-x)`.
#[inline(always)]
pub(crate) unsafe fn sigmoid<S: Simd>(x: S::V) -> S::V {
    S::recip(S::add(exp::<S>(S::sub(S::splat(0.0), x)), S::splat(1.0)))
}

/// `tanh(x)` as `1 - 2 / (e^(2x) + 1)`; saturates to exactly +-1 past `|x| = 9`.
#[inline(always)]
pub(crate) unsafe fn tanh<S: Simd>(x: S::V) -> S::V {
    let x = S::min(S::max(x, S::splat(-9.0)), S::splat(9.0));
    let r = S::recip(S::add(exp::<S>(S::add(x, x)), S::splat(1.0)));
    S::fnma(S::splat(2.0), r, S::splat(1.0))
}

/// Loads and stores of one chunk of lanes: whole vectors, and `n < LANES` at the tail.
#[derive(Clone, Copy)]
pub(crate) struct Chunk {
    pub(crate) at: usize,
    pub(crate) n: usize,
}

impl Chunk {
    #[inline(always)]
    pub(crate) unsafe fn ld<S: Simd>(self, s: &[f32]) -> S::V {
        match self.n == S::LANES {
            true => S::load(s.as_ptr().add(self.at)),
            false => S::load_n(s.as_ptr().add(self.at), self.n),
        }
    }

    #[inline(always)]
    pub(crate) unsafe fn st<S: Simd>(self, d: &mut [f32], v: S::V) {
        match self.n == S::LANES {
            true => S::store(d.as_mut_ptr().add(self.at), v),
            false => S::store_n(d.as_mut_ptr().add(self.at), self.n, v),
        }
    }
}

/// The chunks covering `w` units.
#[inline(always)]
pub(crate) fn chunks<S: Simd>(w: usize) -> impl Iterator<Item = Chunk> {
    (0..w).step_by(S::LANES).map(move |at| Chunk {
        at,
        n: (w - at).min(S::LANES),
    })
}

/// Checks every slice holds at least `w` values (the loads and stores stay inside them).
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

/// `gx + gh + b` of one gate.
#[inline(always)]
unsafe fn pre<S: Simd>(c: Chunk, gx: &[f32], gh: &[f32], b: &[f32]) -> S::V {
    S::add(S::add(c.ld::<S>(gx), c.ld::<S>(gh)), c.ld::<S>(b))
}

/// RNN: `h' = act(gx + gh + b)`; saves `h'`.
#[inline(always)]
pub(crate) unsafe fn rnn_forward<S: Simd>(
    relu: bool,
    gx: &[f32],
    gh: &[f32],
    b: &[f32],
    h_new: &mut [f32],
    act: &mut [f32],
) {
    let w = h_new.len();
    check(w, &[gx, gh, b], &[act.len()]);
    for c in chunks::<S>(w) {
        let p = pre::<S>(c, gx, gh, b);
        let v = match relu {
            true => S::max(p, S::splat(0.0)),
            false => tanh::<S>(p),
        };
        c.st::<S>(h_new, v);
        c.st::<S>(act, v);
    }
}

/// LSTM gates `i, f, g, o`; saves `i, f, g, o, tanh(c')`.
#[inline(always)]
pub(crate) unsafe fn lstm_forward<S: Simd>(
    gx: [&[f32]; 4],
    gh: [&[f32]; 4],
    b: [&[f32]; 4],
    c_old: &[f32],
    c_new: &mut [f32],
    h_new: &mut [f32],
    acts: [&mut [f32]; 5],
) {
    let w = h_new.len();
    let [ai, af, ag, ao, atc] = acts;
    let lens = [
        c_new.len(),
        ai.len(),
        af.len(),
        ag.len(),
        ao.len(),
        atc.len(),
    ];
    let ins = [
        gx[0], gx[1], gx[2], gx[3], gh[0], gh[1], gh[2], gh[3], b[0], b[1], b[2], b[3],
    ];
    check(w, &ins, &lens);
    check(w, &[c_old], &[]);
    for c in chunks::<S>(w) {
        let i = sigmoid::<S>(pre::<S>(c, gx[0], gh[0], b[0]));
        let f = sigmoid::<S>(pre::<S>(c, gx[1], gh[1], b[1]));
        let g = tanh::<S>(pre::<S>(c, gx[2], gh[2], b[2]));
        let o = sigmoid::<S>(pre::<S>(c, gx[3], gh[3], b[3]));
        let cn = S::fma(f, c.ld::<S>(c_old), S::mul(i, g));
        let tc = tanh::<S>(cn);
        c.st::<S>(c_new, cn);
        c.st::<S>(h_new, S::mul(o, tc));
        c.st::<S>(ai, i);
        c.st::<S>(af, f);
        c.st::<S>(ag, g);
        c.st::<S>(ao, o);
        c.st::<S>(atc, tc);
    }
}

/// GRU gates `r, z, n` (reset gate on `W_hn h + b_hn`); saves `r, z, n, W_hn h + b_hn`.
#[inline(always)]
pub(crate) unsafe fn gru_forward<S: Simd>(
    gx: [&[f32]; 3],
    gh: [&[f32]; 3],
    b: [&[f32]; 3],
    h: &[f32],
    h_new: &mut [f32],
    acts: [&mut [f32]; 4],
) {
    let w = h_new.len();
    let [ar, az, an, ahn] = acts;
    let ins = [
        gx[0], gx[1], gx[2], gh[0], gh[1], gh[2], b[0], b[1], b[2], h,
    ];
    check(w, &ins, &[ar.len(), az.len(), an.len(), ahn.len()]);
    for c in chunks::<S>(w) {
        let r = sigmoid::<S>(pre::<S>(c, gx[0], gh[0], b[0]));
        let z = sigmoid::<S>(pre::<S>(c, gx[1], gh[1], b[1]));
        let ghn = S::add(c.ld::<S>(gh[2]), c.ld::<S>(b[2]));
        let n = tanh::<S>(S::fma(r, ghn, c.ld::<S>(gx[2])));
        let h_old = c.ld::<S>(h);
        c.st::<S>(h_new, S::fma(z, S::sub(h_old, n), n));
        c.st::<S>(ar, r);
        c.st::<S>(az, z);
        c.st::<S>(an, n);
        c.st::<S>(ahn, ghn);
    }
}

/// RNN: `dpre = (dout + dh) * act'(h')`.
#[inline(always)]
pub(crate) unsafe fn rnn_backward<S: Simd>(
    relu: bool,
    h_new: &[f32],
    d: [&[f32]; 2],
    dgx: &mut [f32],
) {
    let w = dgx.len();
    check(w, &[h_new, d[0], d[1]], &[]);
    let one = S::splat(1.0);
    for c in chunks::<S>(w) {
        let v = c.ld::<S>(h_new);
        let deriv = match relu {
            true => S::positive(v),
            false => S::fnma(v, v, one),
        };
        let dht = S::add(c.ld::<S>(d[0]), c.ld::<S>(d[1]));
        c.st::<S>(dgx, S::mul(dht, deriv));
    }
}

/// LSTM gate gradients and the cell state's gradient; `dh_prev` gets 0 (the product adds).
#[inline(always)]
pub(crate) unsafe fn lstm_backward<S: Simd>(
    acts: [&[f32]; 5],
    c_prev: &[f32],
    d: [&[f32]; 2],
    dc: &[f32],
    dgx: [&mut [f32]; 4],
    dc_prev: &mut [f32],
    dh_prev: &mut [f32],
) {
    let w = dh_prev.len();
    let [di, df, dg, d_o] = dgx;
    let ins = [
        acts[0], acts[1], acts[2], acts[3], acts[4], c_prev, d[0], d[1], dc,
    ];
    check(
        w,
        &ins,
        &[di.len(), df.len(), dg.len(), d_o.len(), dc_prev.len()],
    );
    let one = S::splat(1.0);
    for c in chunks::<S>(w) {
        // Element by element, not `acts.map(..)`: `array::map` is not inlined into the
        // `#[target_feature]` caller, and its loads became calls (measured in perf).
        let [i, f, g, o, tc] = [
            c.ld::<S>(acts[0]),
            c.ld::<S>(acts[1]),
            c.ld::<S>(acts[2]),
            c.ld::<S>(acts[3]),
            c.ld::<S>(acts[4]),
        ];
        let dht = S::add(c.ld::<S>(d[0]), c.ld::<S>(d[1]));
        let dct = S::fma(S::mul(dht, o), S::fnma(tc, tc, one), c.ld::<S>(dc));
        // s (1 - s) for the sigmoid gates, 1 - g^2 for the tanh one.
        let ds = |s: S::V| S::fnma(s, s, s);
        c.st::<S>(di, S::mul(S::mul(dct, g), ds(i)));
        c.st::<S>(df, S::mul(S::mul(dct, c.ld::<S>(c_prev)), ds(f)));
        c.st::<S>(dg, S::mul(S::mul(dct, i), S::fnma(g, g, one)));
        c.st::<S>(d_o, S::mul(S::mul(dht, tc), ds(o)));
        c.st::<S>(dc_prev, S::mul(dct, f));
        c.st::<S>(dh_prev, S::splat(0.0));
    }
}

/// GRU gate gradients (input side and hidden side) and the direct part of `dh_prev`.
#[inline(always)]
pub(crate) unsafe fn gru_backward<S: Simd>(
    acts: [&[f32]; 4],
    h_prev: &[f32],
    d: [&[f32]; 2],
    dgx: [&mut [f32]; 3],
    dgh: [&mut [f32]; 3],
    dh_prev: &mut [f32],
) {
    let w = dh_prev.len();
    let [xr, xz, xn] = dgx;
    let [hr, hz, hn] = dgh;
    let ins = [acts[0], acts[1], acts[2], acts[3], h_prev, d[0], d[1]];
    let outs = [xr.len(), xz.len(), xn.len(), hr.len(), hz.len(), hn.len()];
    check(w, &ins, &outs);
    let one = S::splat(1.0);
    for c in chunks::<S>(w) {
        // Element by element, not `acts.map(..)` (see `lstm_backward`).
        let [r, z, n, ghn] = [
            c.ld::<S>(acts[0]),
            c.ld::<S>(acts[1]),
            c.ld::<S>(acts[2]),
            c.ld::<S>(acts[3]),
        ];
        let dht = S::add(c.ld::<S>(d[0]), c.ld::<S>(d[1]));
        let ds = |s: S::V| S::fnma(s, s, s);
        let dpn = S::mul(S::mul(dht, S::sub(one, z)), S::fnma(n, n, one));
        let dpr = S::mul(S::mul(dpn, ghn), ds(r));
        let dpz = S::mul(S::mul(dht, S::sub(c.ld::<S>(h_prev), n)), ds(z));
        c.st::<S>(xr, dpr);
        c.st::<S>(xz, dpz);
        c.st::<S>(xn, dpn);
        c.st::<S>(hr, dpr);
        c.st::<S>(hz, dpz);
        c.st::<S>(hn, S::mul(dpn, r));
        c.st::<S>(dh_prev, S::mul(dht, z));
    }
}
