//! 2-D max pooling over `[N, C, H, W]`, forward and backward, planes split over the workers.
//! The padding counts as `-inf`; the backward recomputes each window's maximum (the first one
//! in row-major order on ties) from the input instead of keeping indices.

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

    /// No padding and no dilation: every window lies inside the plane.
    fn simple(&self) -> bool {
        self.padding == [0, 0] && self.dilation == [1, 1]
    }

    /// For a [`Pool2dShape::simple`] pooling, the maximum of each window of output row `oy`
    /// (`best`) and its position in the plane (`idx`), `W_out` each: branch-free over the
    /// row's windows, in the order of [`Pool2dShape::argmax`].
    #[inline(always)]
    fn row_argmax(&self, plane: &[f32], oy: usize, best: &mut [f32], idx: &mut [usize]) {
        let w = self.input[3];
        let sw = self.stride[1];
        let base = oy * self.stride[0] * w;
        for (ox, (b, i)) in best.iter_mut().zip(idx.iter_mut()).enumerate() {
            *i = base + ox * sw;
            *b = plane[*i];
        }
        for ky in 0..self.kernel[0] {
            let row = &plane[base + ky * w..];
            for kx in 0..self.kernel[1] {
                if ky == 0 && kx == 0 {
                    continue;
                }
                for (ox, (b, i)) in best.iter_mut().zip(idx.iter_mut()).enumerate() {
                    let v = row[ox * sw + kx];
                    // Greater, or the first NaN: the window's maximum as PyTorch picks it.
                    let take = v > *b || (v.is_nan() & !b.is_nan());
                    *b = if take { v } else { *b };
                    *i = if take {
                        base + ky * w + ox * sw + kx
                    } else {
                        *i
                    };
                }
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

/// Runs `f(plane index)` for every `[H, W]` plane, split over the workers when big.
fn per_plane(planes: usize, len: usize, f: impl Fn(usize) + Sync) {
    let threads = match len >= MIN_PARALLEL {
        true => num_threads().min(planes).max(1),
        false => 1,
    };
    parallel(threads, |tid, workers, _| {
        for p in split(planes, workers, tid) {
            f(p);
        }
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
    per_plane(n * c, x.len(), |p| {
        let plane = &x[p * h * w..][..h * w];
        // SAFETY: plane `p`'s outputs are this worker's alone.
        let out = unsafe { y.slice_mut(p * oh * ow, oh * ow) };
        if s.simple() {
            let mut idx = vec![0usize; ow];
            for (oy, row) in out.chunks_exact_mut(ow).enumerate() {
                s.row_argmax(plane, oy, row, &mut idx);
            }
            return;
        }
        for oy in 0..oh {
            for ox in 0..ow {
                out[oy * ow + ox] = s
                    .argmax(plane, oy, ox)
                    .map_or(f32::NEG_INFINITY, |i| plane[i]);
            }
        }
    });
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
    per_plane(n * c, x.len(), |p| {
        let plane = &x[p * h * w..][..h * w];
        let grads = &dy[p * oh * ow..][..oh * ow];
        // SAFETY: plane `p`'s input gradient is this worker's alone.
        let out = unsafe { dx.slice_mut(p * h * w, h * w) };
        out.fill(0.0);
        if s.simple() {
            let (mut best, mut idx) = (vec![0.0f32; ow], vec![0usize; ow]);
            for oy in 0..oh {
                s.row_argmax(plane, oy, &mut best, &mut idx);
                for (&i, &g) in idx.iter().zip(&grads[oy * ow..(oy + 1) * ow]) {
                    out[i] += g;
                }
            }
            return;
        }
        for oy in 0..oh {
            for ox in 0..ow {
                if let Some(i) = s.argmax(plane, oy, ox) {
                    out[i] += grads[oy * ow + ox];
                }
            }
        }
    });
}
