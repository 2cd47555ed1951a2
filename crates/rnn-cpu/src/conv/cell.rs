//! The ConvLSTM step's gate math, forward and backward, in one vectorized pass over the gate
//! planes (the convolutions are the caller's).
//!
//! Gate order `i, f, o, g` on channels (the order of the PyTorch ConvLSTM ports), per pixel:
//!
//! ```text
//! c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
//! h' = sigmoid(o) * tanh(c')
//! ```
//!
//! Sigmoid and tanh are the recurrent kernels' (`gates.rs`): absolute errors under 2.5e-7.

use crate::gates::{sigmoid, tanh};
use crate::simd::{dispatch, Simd, WithSimd};
use crate::threads::{num_threads, parallel, split, Ptr};

/// Values of the state below which a call runs on one thread.
const MIN_PARALLEL: usize = 1 << 15;

/// The sizes of one ConvLSTM step: `N` maps of `C_h` channels of `H * W` pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvLstmShape {
    /// `N`
    pub batch: usize,
    /// `C_h`
    pub channels: usize,
    /// `H * W`
    pub plane: usize,
}

impl ConvLstmShape {
    /// `C_h * H * W`: the values of one map of the state.
    fn map(&self) -> usize {
        self.channels * self.plane
    }

    /// `N * C_h * H * W`: the values of `h` or `c`.
    pub fn state_len(&self) -> usize {
        self.batch * self.map()
    }

    /// `N * 4 * C_h * H * W`: the values of the gates.
    pub fn gates_len(&self) -> usize {
        4 * self.state_len()
    }

    /// `N * 5 * C_h * H * W`: the values [`conv_lstm_forward`] saves.
    pub fn saved_len(&self) -> usize {
        5 * self.state_len()
    }
}

/// One ConvLSTM step's gate math.
///
/// # Shapes
/// - `gates`: `[N, 4*C_h, H, W]`, the pre-activations in channel blocks `i, f, o, g`
/// - `c_prev`: `[N, C_h, H, W]`
/// - `h`, `c`: `[N, C_h, H, W]`, written whole: the new state
/// - `saved`: `[N, 5*C_h, H, W]`, written whole when given: `sigmoid(i), sigmoid(f),
///   sigmoid(o), tanh(g), tanh(c')` in channel blocks, what [`conv_lstm_backward`] takes
///
/// # Panics
/// If a buffer's length is not the one `s` gives.
pub fn conv_lstm_forward(
    s: &ConvLstmShape,
    gates: &[f32],
    c_prev: &[f32],
    h: &mut [f32],
    c: &mut [f32],
    saved: Option<&mut [f32]>,
) {
    let len = s.state_len();
    assert_eq!(
        gates.len(),
        s.gates_len(),
        "conv_lstm_forward: gates length"
    );
    for (name, got) in [("c_prev", c_prev.len()), ("h", h.len()), ("c", c.len())] {
        assert_eq!(got, len, "conv_lstm_forward: {name} length");
    }
    if let Some(saved) = &saved {
        assert_eq!(
            saved.len(),
            s.saved_len(),
            "conv_lstm_forward: saved length"
        );
    }
    let (h, c) = (Ptr::of(h), Ptr::of(c));
    let saved = saved.map_or_else(Ptr::null, Ptr::of);
    for_ranges(s, |n, range| {
        let op = Forward {
            s,
            gates,
            c_prev,
            h,
            c,
            saved,
            n,
            range,
        };
        // SAFETY: the path is available (dispatch) and the workers' ranges are disjoint.
        unsafe { dispatch(op) }
    });
}

/// The gradients of [`conv_lstm_forward`]'s inputs.
///
/// # Shapes
/// - `saved`: `[N, 5*C_h, H, W]`, the forward's; `c_prev`: `[N, C_h, H, W]`, the forward's
/// - `dh`, `dc`: `[N, C_h, H, W]`, the gradients of `h` and `c` (`None`: zero)
/// - `d_gates`: `[N, 4*C_h, H, W]`, written whole: the gradient of the pre-activations
/// - `dc_prev`: `[N, C_h, H, W]`, written whole
///
/// # Panics
/// If a buffer's length is not the one `s` gives.
pub fn conv_lstm_backward(
    s: &ConvLstmShape,
    saved: &[f32],
    c_prev: &[f32],
    dh: Option<&[f32]>,
    dc: Option<&[f32]>,
    d_gates: &mut [f32],
    dc_prev: &mut [f32],
) {
    let len = s.state_len();
    assert_eq!(
        saved.len(),
        s.saved_len(),
        "conv_lstm_backward: saved length"
    );
    assert_eq!(
        d_gates.len(),
        s.gates_len(),
        "conv_lstm_backward: d_gates length"
    );
    let parts = [
        ("c_prev", Some(c_prev.len())),
        ("dh", dh.map(<[f32]>::len)),
        ("dc", dc.map(<[f32]>::len)),
        ("dc_prev", Some(dc_prev.len())),
    ];
    for (name, got) in parts {
        if let Some(got) = got {
            assert_eq!(got, len, "conv_lstm_backward: {name} length");
        }
    }
    let (d_gates, dc_prev) = (Ptr::of(d_gates), Ptr::of(dc_prev));
    for_ranges(s, |n, range| {
        let op = Backward {
            s,
            saved,
            c_prev,
            dh,
            dc,
            d_gates,
            dc_prev,
            n,
            range,
        };
        // SAFETY: the path is available (dispatch) and the workers' ranges are disjoint.
        unsafe { dispatch(op) }
    });
}

/// Runs `f(n, units)` over every map `n` and range of its `C_h * H * W` units, the batch's
/// units split evenly over the workers when the state is big.
fn for_ranges(s: &ConvLstmShape, f: impl Fn(usize, std::ops::Range<usize>) + Sync) {
    let (map, total) = (s.map(), s.state_len());
    let threads = match total >= MIN_PARALLEL {
        true => num_threads(),
        false => 1,
    };
    parallel(threads, |tid, workers, _| {
        let mine = split(total, workers, tid);
        let mut at = mine.start;
        while at < mine.end {
            let n = at / map;
            let end = mine.end.min((n + 1) * map);
            f(n, at - n * map..end - n * map);
            at = end;
        }
    });
}

/// The chunks of `LANES` (the last one shorter) covering `range`: `(offset, lanes)`.
#[inline(always)]
fn chunks<S: Simd>(range: std::ops::Range<usize>) -> impl Iterator<Item = (usize, usize)> {
    range
        .clone()
        .step_by(S::LANES)
        .map(move |at| (at, (range.end - at).min(S::LANES)))
}

#[inline(always)]
unsafe fn ld<S: Simd>(p: *const f32, n: usize) -> S::V {
    match n == S::LANES {
        true => S::load(p),
        false => S::load_n(p, n),
    }
}

#[inline(always)]
unsafe fn st<S: Simd>(p: *mut f32, n: usize, v: S::V) {
    match n == S::LANES {
        true => S::store(p, v),
        false => S::store_n(p, n, v),
    }
}

struct Forward<'a> {
    s: &'a ConvLstmShape,
    gates: &'a [f32],
    c_prev: &'a [f32],
    h: Ptr,
    c: Ptr,
    saved: Ptr,
    n: usize,
    range: std::ops::Range<usize>,
}

impl WithSimd for Forward<'_> {
    type Output = ();

    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        let map = self.s.map();
        let (r, n) = (self.range.clone(), self.n);
        let len = r.len();
        // Gate `k`'s units `r` of map `n`, and the state's.
        let gate = |k: usize| self.gates[(4 * n + k) * map + r.start..][..len].as_ptr();
        let [gi, gf, go, gg] = [0, 1, 2, 3].map(gate);
        let cp = self.c_prev[n * map + r.start..][..len].as_ptr();
        let h = self.h.slice_mut(n * map + r.start, len).as_mut_ptr();
        let c = self.c.slice_mut(n * map + r.start, len).as_mut_ptr();
        let saved = (!self.saved.is_null()).then(|| {
            [0, 1, 2, 3, 4].map(|k| {
                self.saved
                    .slice_mut((5 * n + k) * map + r.start, len)
                    .as_mut_ptr()
            })
        });
        for (at, lanes) in chunks::<S>(0..len) {
            let i = sigmoid::<S>(ld::<S>(gi.add(at), lanes));
            let f = sigmoid::<S>(ld::<S>(gf.add(at), lanes));
            let o = sigmoid::<S>(ld::<S>(go.add(at), lanes));
            let g = tanh::<S>(ld::<S>(gg.add(at), lanes));
            let cn = S::fma(f, ld::<S>(cp.add(at), lanes), S::mul(i, g));
            let tc = tanh::<S>(cn);
            st::<S>(c.add(at), lanes, cn);
            st::<S>(h.add(at), lanes, S::mul(o, tc));
            if let Some([si, sf, so, sg, stc]) = saved {
                st::<S>(si.add(at), lanes, i);
                st::<S>(sf.add(at), lanes, f);
                st::<S>(so.add(at), lanes, o);
                st::<S>(sg.add(at), lanes, g);
                st::<S>(stc.add(at), lanes, tc);
            }
        }
    }
}

struct Backward<'a> {
    s: &'a ConvLstmShape,
    saved: &'a [f32],
    c_prev: &'a [f32],
    dh: Option<&'a [f32]>,
    dc: Option<&'a [f32]>,
    d_gates: Ptr,
    dc_prev: Ptr,
    n: usize,
    range: std::ops::Range<usize>,
}

impl WithSimd for Backward<'_> {
    type Output = ();

    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        let map = self.s.map();
        let (r, n) = (self.range.clone(), self.n);
        let len = r.len();
        let act = |k: usize| self.saved[(5 * n + k) * map + r.start..][..len].as_ptr();
        let [ai, af, ao, ag, atc] = [0, 1, 2, 3, 4].map(act);
        let state = |t: &[f32]| t[n * map + r.start..][..len].as_ptr();
        let cp = state(self.c_prev);
        let (dh, dc) = (self.dh.map(state), self.dc.map(state));
        let [di, df, d_o, dg] = [0, 1, 2, 3].map(|k| {
            self.d_gates
                .slice_mut((4 * n + k) * map + r.start, len)
                .as_mut_ptr()
        });
        let dcp = self.dc_prev.slice_mut(n * map + r.start, len).as_mut_ptr();
        let (zero, one) = (S::splat(0.0), S::splat(1.0));
        // s (1 - s): the sigmoid's derivative from its value.
        let ds = |s: S::V| S::fnma(s, s, s);
        for (at, lanes) in chunks::<S>(0..len) {
            // Element by element, not `array::map` (not inlined into the `#[target_feature]`
            // caller: its loads became calls).
            let [i, f, o, g, tc] = [
                ld::<S>(ai.add(at), lanes),
                ld::<S>(af.add(at), lanes),
                ld::<S>(ao.add(at), lanes),
                ld::<S>(ag.add(at), lanes),
                ld::<S>(atc.add(at), lanes),
            ];
            let dht = dh.map_or(zero, |p| ld::<S>(p.add(at), lanes));
            let dcn = dc.map_or(zero, |p| ld::<S>(p.add(at), lanes));
            let dct = S::fma(S::mul(dht, o), S::fnma(tc, tc, one), dcn);
            st::<S>(di.add(at), lanes, S::mul(S::mul(dct, g), ds(i)));
            let df_v = S::mul(S::mul(dct, ld::<S>(cp.add(at), lanes)), ds(f));
            st::<S>(df.add(at), lanes, df_v);
            st::<S>(d_o.add(at), lanes, S::mul(S::mul(dht, tc), ds(o)));
            st::<S>(
                dg.add(at),
                lanes,
                S::mul(S::mul(dct, i), S::fnma(g, g, one)),
            );
            st::<S>(dcp.add(at), lanes, S::mul(dct, f));
        }
    }
}
