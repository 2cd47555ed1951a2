//! 2-D max pooling over `[N, C, H, W]`, forward and backward, planes split over the workers.
//! The padding counts as `-inf`; the backward recomputes each window's maximum (the first one
//! in row-major order on ties) from the input instead of keeping indices.

use std::ops::Range;

use crate::simd::{dispatch, Simd, WithSimd};
use crate::threads::{num_threads, parallel, split, Ptr};

/// Values below which a call runs on one thread.
const MIN_PARALLEL: usize = 1 << 16;

/// The settings of one max pooling (PyTorch's `F.max_pool2d` without `ceil_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2dShape {
    /// `[N, C, H, W]` of the input.
    pub input: [usize; 4],
    /// `[kH, kW]`
    pub kernel: [usize; 2],
    /// `[stride_h, stride_w]`, each at least 1.
    pub stride: [usize; 2],
    /// `-inf` padding on both sides, `[pad_h, pad_w]`, at most half the kernel.
    pub padding: [usize; 2],
    /// `[dilation_h, dilation_w]`, each at least 1.
    pub dilation: [usize; 2],
}

impl Pool2dShape {
    /// `[H_out, W_out]`: `(H + 2 * pad - dilation * (k - 1) - 1) / stride + 1`.
    ///
    /// # Panics
    /// On a zero kernel, stride or dilation, padding over half the kernel, or an input smaller
    /// than the dilated window.
    pub fn output(&self) -> [usize; 2] {
        [0, 1].map(|i| {
            let (k, s, p, d) = (
                self.kernel[i],
                self.stride[i],
                self.padding[i],
                self.dilation[i],
            );
            assert!(
                k > 0 && s > 0 && d > 0,
                "max_pool2d: kernel, stride and dilation must be >= 1"
            );
            assert!(
                2 * p <= k,
                "max_pool2d: padding {p} over half the kernel {k}"
            );
            let (padded, span) = (self.input[2 + i] + 2 * p, d * (k - 1) + 1);
            assert!(
                padded >= span,
                "max_pool2d: input {:?} smaller than the window",
                self.input
            );
            (padded - span) / s + 1
        })
    }

    /// No padding and no dilation: every window lies inside the plane (whose positions fit a
    /// `u32`).
    fn simple(&self) -> bool {
        self.padding == [0, 0]
            && self.dilation == [1, 1]
            && self.input[2] * self.input[3] <= u32::MAX as usize
    }

    /// For a [`Pool2dShape::simple`] pooling, the maximum of each window of output row `oy`
    /// (`best`, `W_out`), NaN where the window holds one: the maxima down each column of the
    /// window's rows (`cols`, `W`), then across each window's columns, both vectorized.
    #[inline(always)]
    fn row_max(&self, plane: &[f32], oy: usize, cols: &mut [f32], best: &mut [f32]) {
        let w = self.input[3];
        let first = oy * self.stride[0];
        cols.copy_from_slice(&plane[first * w..][..w]);
        for iy in first + 1..first + self.kernel[0] {
            for (c, &v) in cols.iter_mut().zip(&plane[iy * w..][..w]) {
                *c = max_nan(*c, v);
            }
        }
        match (self.kernel[1], self.stride[1]) {
            (1, 1) => best.copy_from_slice(&cols[..best.len()]),
            (2, 2) => {
                for (b, pair) in best.iter_mut().zip(cols.chunks_exact(2)) {
                    *b = max_nan(pair[0], pair[1]);
                }
            }
            (kw, sw) => {
                for (ox, b) in best.iter_mut().enumerate() {
                    let window = &cols[ox * sw..][..kw];
                    *b = window.iter().fold(window[0], |m, &v| max_nan(m, v));
                }
            }
        }
    }

    /// Windows that tile the plane: a [`Pool2dShape::simple`] pooling whose stride is its
    /// kernel.
    fn tiling(&self) -> bool {
        self.simple() && self.stride == self.kernel
    }

    /// For a [`Pool2dShape::tiling`] pooling, output row `oy`'s gradient `grads` (`W_out`)
    /// written to its windows' rows of `dx`: each window's gradient at the first position (in
    /// row-major order) that holds the window's maximum `best` (as [`Pool2dShape::row_max`]
    /// gives it), zero at the others. `found` (`W_out`) is scratch.
    #[inline(always)]
    fn row_scatter(
        &self,
        plane: &[f32],
        oy: usize,
        (best, grads): (&[f32], &[f32]),
        found: &mut [bool],
        dx: &mut [f32],
    ) {
        let (w, [kh, kw]) = (self.input[3], self.kernel);
        found.fill(false);
        for iy in oy * kh..(oy + 1) * kh {
            let row = &plane[iy * w..][..best.len() * kw];
            let out = &mut dx[iy * w..][..best.len() * kw];
            let windows = (found.iter_mut(), best, grads);
            match kw {
                1 => scatter_row::<1>(row, out, windows),
                2 => scatter_row::<2>(row, out, windows),
                3 => scatter_row::<3>(row, out, windows),
                _ => {
                    for (ox, ((f, &m), &g)) in windows.0.zip(best).zip(grads).enumerate() {
                        for (v, d) in row[ox * kw..][..kw].iter().zip(&mut out[ox * kw..][..kw]) {
                            let hit = ((*v == m) | (v.is_nan() & m.is_nan())) & !*f;
                            *f |= hit;
                            *d = if hit { g } else { 0.0 };
                        }
                    }
                }
            }
        }
    }

    /// For a [`Pool2dShape::simple`] pooling, the maximum of each window of output row `oy`
    /// (`best`) and its position in the plane (`idx`), `W_out` each, as
    /// [`Pool2dShape::argmax`] picks it: the first in the window's row-major order, which is
    /// the smallest position, on ties, and the first NaN if there is one.
    ///
    /// Two passes without branches on the data: the maxima down each column of the window's
    /// rows (`cols`, `rows`: `W` each, contiguous, vectorized), then across each window's
    /// columns.
    #[inline(always)]
    fn row_argmax(
        &self,
        plane: &[f32],
        oy: usize,
        (cols, rows): (&mut [f32], &mut [u32]),
        best: &mut [f32],
        idx: &mut [u32],
    ) {
        let w = self.input[3];
        let first = oy * self.stride[0];
        cols.copy_from_slice(&plane[first * w..][..w]);
        rows.fill(first as u32);
        for iy in first + 1..first + self.kernel[0] {
            let row = &plane[iy * w..][..w];
            for ((c, r), &v) in cols.iter_mut().zip(rows.iter_mut()).zip(row) {
                // Strictly greater, or the first NaN: an earlier row wins ties.
                let take = (v > *c) | (v.is_nan() & !c.is_nan());
                *c = if take { v } else { *c };
                *r = if take { iy as u32 } else { *r };
            }
        }
        let sw = self.stride[1];
        for (ox, (b, i)) in best.iter_mut().zip(idx.iter_mut()).enumerate() {
            let x0 = ox * sw;
            (*b, *i) = (cols[x0], rows[x0] * w as u32 + x0 as u32);
            for x in x0 + 1..x0 + self.kernel[1] {
                let (v, at) = (cols[x], rows[x] * w as u32 + x as u32);
                let earlier = at < *i;
                let take =
                    (v > *b) | ((v == *b) & earlier) | (v.is_nan() & (!b.is_nan() | earlier));
                let mask = (take as u32).wrapping_neg();
                *b = f32::from_bits((v.to_bits() & mask) | (b.to_bits() & !mask));
                *i = (at & mask) | (*i & !mask);
            }
        }
    }

    /// The input position of window `(oy, ox)`'s maximum in a plane, or `None` if the window
    /// only covers padding.
    #[inline(always)]
    fn argmax(&self, plane: &[f32], oy: usize, ox: usize) -> Option<usize> {
        let [_, _, h, w] = self.input;
        let mut best: Option<(usize, f32)> = None;
        for ky in 0..self.kernel[0] {
            let Some(iy) =
                (oy * self.stride[0] + ky * self.dilation[0]).checked_sub(self.padding[0])
            else {
                continue;
            };
            if iy >= h {
                break;
            }
            for kx in 0..self.kernel[1] {
                let Some(ix) =
                    (ox * self.stride[1] + kx * self.dilation[1]).checked_sub(self.padding[1])
                else {
                    continue;
                };
                if ix >= w {
                    break;
                }
                let v = plane[iy * w + ix];
                // A NaN is the maximum, as PyTorch has it.
                if best.is_none_or(|(_, b)| v > b || v.is_nan()) {
                    best = Some((iy * w + ix, v));
                }
            }
        }
        best.map(|(i, _)| i)
    }
}

/// One input row of [`Pool2dShape::row_scatter`] for windows `KW` wide: `out` gets each
/// window's gradient where `row` first holds its maximum, zero elsewhere.
#[inline(always)]
fn scatter_row<const KW: usize>(
    row: &[f32],
    out: &mut [f32],
    (found, best, grads): (std::slice::IterMut<'_, bool>, &[f32], &[f32]),
) {
    let windows = row.chunks_exact(KW).zip(out.chunks_exact_mut(KW));
    for ((f, (&m, &g)), (values, out)) in found.zip(best.iter().zip(grads)).zip(windows) {
        for (v, d) in values.iter().zip(out) {
            let hit = ((*v == m) | (v.is_nan() & m.is_nan())) & !*f;
            *f |= hit;
            *d = if hit { g } else { 0.0 };
        }
    }
}

/// The larger of `a` and `b`, or NaN if either is.
#[inline(always)]
fn max_nan(a: f32, b: f32) -> f32 {
    if (b > a) | b.is_nan() {
        b
    } else {
        a
    }
}

/// Runs `f(planes)` on each worker's share of the `[H, W]` planes, split over the workers
/// when big.
fn per_plane(planes: usize, len: usize, f: impl Fn(Range<usize>) + Sync) {
    let threads = match len >= MIN_PARALLEL {
        true => num_threads().min(planes).max(1),
        false => 1,
    };
    parallel(threads, |tid, workers, _| {
        f(split(planes, workers, tid));
    });
}

/// Max pooling.
///
/// # Shapes
/// - `x`: `[N, C, H, W]`; `y`: `[N, C, H_out, W_out]` ([`Pool2dShape::output`]), written whole
///
/// # Panics
/// As [`Pool2dShape::output`], and if a buffer's length is not the one its shape gives.
pub fn max_pool2d_forward(s: &Pool2dShape, x: &[f32], y: &mut [f32]) {
    let [n, c, h, w] = s.input;
    let [oh, ow] = s.output();
    assert_eq!(x.len(), n * c * h * w, "max_pool2d: input length");
    assert_eq!(y.len(), n * c * oh * ow, "max_pool2d: output length");
    let y = Ptr::of(y);
    per_plane(n * c, x.len(), |planes| {
        // SAFETY: each worker writes only its own planes' outputs.
        unsafe { dispatch(Forward { s, x, y, planes }) }
    });
}

/// A forward worker's planes.
struct Forward<'a> {
    s: &'a Pool2dShape,
    x: &'a [f32],
    y: Ptr,
    planes: Range<usize>,
}

impl WithSimd for Forward<'_> {
    type Output = ();

    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        let Self { s, x, .. } = self;
        let [_, _, h, w] = s.input;
        let [oh, ow] = s.output();
        let mut cols = vec![0.0f32; w];
        for p in self.planes {
            let plane = &x[p * h * w..][..h * w];
            let out = self.y.slice_mut(p * oh * ow, oh * ow);
            if s.simple() {
                for (oy, row) in out.chunks_exact_mut(ow).enumerate() {
                    s.row_max(plane, oy, &mut cols, row);
                }
                continue;
            }
            for oy in 0..oh {
                for ox in 0..ow {
                    out[oy * ow + ox] = s
                        .argmax(plane, oy, ox)
                        .map_or(f32::NEG_INFINITY, |i| plane[i]);
                }
            }
        }
    }
}

/// The gradient of [`max_pool2d_forward`]: each output's gradient goes to its window's maximum.
///
/// # Shapes
/// - `x`: `[N, C, H, W]`; `dy`: `[N, C, H_out, W_out]`; `dx`: `[N, C, H, W]`, written whole
///
/// # Panics
/// As [`max_pool2d_forward`].
pub fn max_pool2d_backward(s: &Pool2dShape, x: &[f32], dy: &[f32], dx: &mut [f32]) {
    let [n, c, h, w] = s.input;
    let [oh, ow] = s.output();
    assert_eq!(x.len(), n * c * h * w, "max_pool2d backward: input length");
    assert_eq!(
        dx.len(),
        x.len(),
        "max_pool2d backward: input gradient length"
    );
    assert_eq!(
        dy.len(),
        n * c * oh * ow,
        "max_pool2d backward: output gradient length"
    );
    let dx = Ptr::of(dx);
    per_plane(n * c, x.len(), |planes| {
        // SAFETY: each worker writes only its own planes' input gradients.
        unsafe {
            dispatch(Backward {
                s,
                x,
                dy,
                dx,
                planes,
            })
        }
    });
}

/// A backward worker's planes.
struct Backward<'a> {
    s: &'a Pool2dShape,
    x: &'a [f32],
    dy: &'a [f32],
    dx: Ptr,
    planes: Range<usize>,
}

impl WithSimd for Backward<'_> {
    type Output = ();

    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        let Self { s, x, dy, .. } = self;
        let [_, _, h, w] = s.input;
        let [oh, ow] = s.output();
        let (mut cols, mut rows) = (vec![0.0f32; w], vec![0u32; w]);
        let (mut best, mut idx) = (vec![0.0f32; ow], vec![0u32; ow]);
        let mut found = vec![false; ow];
        for p in self.planes {
            let plane = &x[p * h * w..][..h * w];
            let grads = &dy[p * oh * ow..][..oh * ow];
            let out = self.dx.slice_mut(p * h * w, h * w);
            if s.tiling() {
                // The rows and columns past the last whole window get no gradient.
                out[oh * s.kernel[0] * w..].fill(0.0);
                for row in out.chunks_exact_mut(w) {
                    row[ow * s.kernel[1]..].fill(0.0);
                }
                for oy in 0..oh {
                    s.row_max(plane, oy, &mut cols, &mut best);
                    let grads = (&best[..], &grads[oy * ow..(oy + 1) * ow]);
                    s.row_scatter(plane, oy, grads, &mut found, out);
                }
                continue;
            }
            out.fill(0.0);
            if s.simple() {
                for oy in 0..oh {
                    s.row_argmax(plane, oy, (&mut cols, &mut rows), &mut best, &mut idx);
                    for (&i, &g) in idx.iter().zip(&grads[oy * ow..(oy + 1) * ow]) {
                        out[i as usize] += g;
                    }
                }
                continue;
            }
            for oy in 0..oh {
                for ox in 0..ow {
                    if let Some(i) = s.argmax(plane, oy, ox) {
                        out[i] += grads[oy * ow + ox];
                    }
                }
            }
        }
    }
}
