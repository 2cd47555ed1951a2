//! The im2col and col2im of one kernel tap over a run of output pixels: the packing of the
//! convolution's panels, split into row segments so that the inner loops are plain copies
//! (a `memcpy` at stride 1) between zero-padded ends.

/// The spatial sizes of a checked [`Conv2dShape`](super::Conv2dShape).
#[derive(Debug, Clone, Copy)]
pub(super) struct Geometry {
    /// `[H, W]`
    pub input: [usize; 2],
    /// `[H_out, W_out]`
    pub output: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
}

/// A run of output pixels `j..j + len` (relative to the first pixel of the call) that one tap
/// reads from input positions `src, src + step, ...` of the channel plane, or from the zero
/// padding (`src = None`).
#[derive(Debug, Clone, Copy)]
struct Segment {
    j: usize,
    len: usize,
    src: Option<usize>,
}

impl Geometry {
    /// `P = H_out * W_out`
    pub fn pixels(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// Tap `k` of an output channel's weights: `(input channel, ky, kx)`.
    #[inline(always)]
    pub fn tap(&self, k: usize) -> (usize, usize, usize) {
        let per_channel = self.kernel[0] * self.kernel[1];
        let (ci, r) = (k / per_channel, k % per_channel);
        (ci, r / self.kernel[1], r % self.kernel[1])
    }

    /// Output columns `ox` whose input column `ox * s + kx * d - p` is inside `0..W`.
    fn valid_columns(&self, kx: usize) -> (usize, usize) {
        let (s, offset, w) = (self.stride[1], kx * self.dilation[1], self.input[1]);
        let pad = self.padding[1];
        // ox * s + offset >= pad, and ox * s + offset < w + pad.
        let lo = pad.saturating_sub(offset).div_ceil(s);
        let hi = (w + pad).saturating_sub(offset).div_ceil(s);
        (lo, hi.max(lo))
    }

    /// Calls `f` for each segment of pixels `p0..p0 + count` for tap `(ky, kx)`.
    #[inline(always)]
    fn segments(&self, ky: usize, kx: usize, p0: usize, count: usize, mut f: impl FnMut(Segment)) {
        let [h, w] = self.input;
        let ow = self.output[1];
        let (lo, hi) = self.valid_columns(kx);
        let (end, mut p) = (p0 + count, p0);
        while p < end {
            let (oy, a) = (p / ow, p % ow);
            let b = ow.min(a + end - p);
            let iy = (oy * self.stride[0] + ky * self.dilation[0]).checked_sub(self.padding[0]);
            let j = p - p0;
            match iy.filter(|&iy| iy < h) {
                None => f(Segment {
                    j,
                    len: b - a,
                    src: None,
                }),
                Some(iy) => {
                    let (l, r) = (lo.clamp(a, b), hi.clamp(a, b));
                    if l > a {
                        f(Segment {
                            j,
                            len: l - a,
                            src: None,
                        });
                    }
                    if r > l {
                        let ix = l * self.stride[1] + kx * self.dilation[1] - self.padding[1];
                        let src = Some(iy * w + ix);
                        f(Segment {
                            j: j + l - a,
                            len: r - l,
                            src,
                        });
                    }
                    if b > r {
                        f(Segment {
                            j: j + r - a,
                            len: b - r,
                            src: None,
                        });
                    }
                }
            }
            p += b - a;
        }
    }
}

/// `out[j * stride] = plane[input position of pixel p0 + j for tap (ky, kx)]` (0 in the
/// padding) for `j < count`.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // one tap's geometry
pub(super) fn gather(
    g: &Geometry,
    plane: &[f32],
    ky: usize,
    kx: usize,
    p0: usize,
    count: usize,
    out: &mut [f32],
    stride: usize,
) {
    let step = g.stride[1];
    g.segments(ky, kx, p0, count, |seg| match seg.src {
        None => {
            for j in seg.j..seg.j + seg.len {
                out[j * stride] = 0.0;
            }
        }
        Some(src) if step == 1 && stride == 1 => {
            out[seg.j..seg.j + seg.len].copy_from_slice(&plane[src..src + seg.len]);
        }
        Some(src) => {
            for i in 0..seg.len {
                out[(seg.j + i) * stride] = plane[src + i * step];
            }
        }
    });
}

/// `plane[input position of pixel p0 + j for tap (ky, kx)] += values[j]` for `j < count`
/// (nothing for pixels that read the padding): col2im of one tap.
#[inline(always)]
pub(super) fn scatter_add(
    g: &Geometry,
    plane: &mut [f32],
    ky: usize,
    kx: usize,
    p0: usize,
    count: usize,
    values: &[f32],
) {
    let step = g.stride[1];
    g.segments(ky, kx, p0, count, |seg| {
        if let Some(src) = seg.src {
            let values = &values[seg.j..seg.j + seg.len];
            if step == 1 {
                for (d, v) in plane[src..src + seg.len].iter_mut().zip(values) {
                    *d += v;
                }
            } else {
                for (i, v) in values.iter().enumerate() {
                    plane[src + i * step] += v;
                }
            }
        }
    });
}
