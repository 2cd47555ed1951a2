//! 2-D convolution (NCHW, `f32`): forward, input gradient, weight and bias gradients, on the
//! same register tiles, instruction-set dispatch and worker pool as the recurrent kernels.
//!
//! Each product is an implicit GEMM: the im2col matrix is never built whole
//! (`C_in * kH * kW x N * H_out * W_out`); its columns or rows are packed one block at a time
//! into a buffer that stays in L2.
//!
//! | op | product | packed block | inner dimension |
//! | --- | --- | --- | --- |
//! | [`conv2d_forward`] | weights `[C_out/g, K]` x columns, on the tile kernel ([`crate::simd`]) | input columns `[K, 64 pixels]` | `K = C_in/g * kH * kW` |
//! | [`conv2d_backward_input`] | weights transposed `[K, C_out/g]` x output gradient, then col2im | output gradient `[C_out/g, 64 pixels]` | `C_out/g` |
//! | [`conv2d_backward_weight`] | output gradient `[C_out/g, 512]` x columns transposed (`A Bᵀ`, lanes along the pixels) | input rows `[64 taps, 512 positions]` | output positions, across images |
//!
//! Threads: the forward splits (image, group, pixel tile) items over the workers; the input
//! gradient splits (image, group, input-channel block) items, so each worker scatters into its
//! own input channels; the weight gradient splits chunks of 512 output positions of the batch,
//! each worker accumulating privately, summed once at the end.

mod cell;
mod dot;
mod norm;
mod pack;
mod pool;

pub use cell::{conv_lstm_backward, conv_lstm_forward, ConvLstmShape};
pub use norm::{batch_norm2d_backward, batch_norm2d_forward, batch_norm2d_inference};
pub use pool::{max_pool2d_backward, max_pool2d_forward, Pool2dShape};

use std::ops::Range;
use std::sync::Mutex;

use crate::simd::{dispatch, Simd, WithSimd};
use crate::threads::{num_threads, parallel, split, Ptr};
use dot::dot;
use pack::{gather, scatter_add, Geometry};

/// Columns of a packed panel: 4 vectors of 16.
const WIDTH: usize = 64;
/// Values of the inner dimension per pass over the rows: a `256 x 64` panel chunk is 64 KiB.
const K_CHUNK: usize = 256;
/// Output positions per weight-gradient item (a multiple of every path's lanes).
const W_CHUNK: usize = 512;
/// Taps gathered per pass of the weight gradient: a `64 x 512` block is 128 KiB.
const W_TAPS: usize = 64;
/// Multiply-adds below which a call runs on one thread.
const MIN_PARALLEL_WORK: usize = 1 << 20;

/// The sizes and settings of one 2-D convolution (PyTorch's `F.conv2d` with zero padding).
///
/// Layouts: input `[N, C_in, H, W]`, weight `[C_out, C_in / groups, kH, kW]`, bias `[C_out]`,
/// output `[N, C_out, H_out, W_out]`, all row-major, with
/// `H_out = (H + 2 * padding[0] - dilation[0] * (kH - 1) - 1) / stride[0] + 1` (and the same for
/// `W_out` with index 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dShape {
    /// `N`
    pub batch: usize,
    /// `C_in`
    pub channels_in: usize,
    /// `C_out`
    pub channels_out: usize,
    /// `[H, W]` of the input.
    pub input: [usize; 2],
    /// `[kH, kW]`
    pub kernel: [usize; 2],
    /// `[stride_h, stride_w]`, each at least 1.
    pub stride: [usize; 2],
    /// Zero padding on both sides, `[pad_h, pad_w]`.
    pub padding: [usize; 2],
    /// `[dilation_h, dilation_w]`, each at least 1.
    pub dilation: [usize; 2],
    /// Groups: `C_in` and `C_out` are both multiples of it.
    pub groups: usize,
}

impl Conv2dShape {
    /// `[H_out, W_out]`, or `None` if the (padded) input is smaller than the dilated kernel.
    pub fn output(&self) -> Option<[usize; 2]> {
        let size = |i: usize| {
            let span = self.dilation[i] * (self.kernel[i].checked_sub(1)?) + 1;
            let padded = self.input[i] + 2 * self.padding[i];
            (padded >= span && self.stride[i] > 0).then(|| (padded - span) / self.stride[i] + 1)
        };
        Some([size(0)?, size(1)?])
    }

    /// Values of the input, `N * C_in * H * W`.
    pub fn input_len(&self) -> usize {
        self.batch * self.channels_in * self.input[0] * self.input[1]
    }

    /// Values of the weight, `C_out * C_in / groups * kH * kW`.
    pub fn weight_len(&self) -> usize {
        self.channels_out * self.taps()
    }

    /// Values of the output, `N * C_out * H_out * W_out` (0 if there is no output).
    pub fn output_len(&self) -> usize {
        self.output()
            .map_or(0, |[h, w]| self.batch * self.channels_out * h * w)
    }

    /// Checks the settings.
    ///
    /// # Panics
    /// On a zero size, stride, dilation or group count, channels that the groups do not
    /// divide, or an input smaller than the dilated kernel; the message names the setting.
    pub fn check(&self) {
        let named = [
            ("batch", self.batch),
            ("channels_in", self.channels_in),
            ("channels_out", self.channels_out),
            ("groups", self.groups),
            ("kernel height", self.kernel[0]),
            ("kernel width", self.kernel[1]),
            ("stride height", self.stride[0]),
            ("stride width", self.stride[1]),
            ("dilation height", self.dilation[0]),
            ("dilation width", self.dilation[1]),
        ];
        for (name, value) in named {
            assert!(value > 0, "conv2d: expected {name} >= 1, got 0");
        }
        assert!(
            self.channels_in.is_multiple_of(self.groups)
                && self.channels_out.is_multiple_of(self.groups),
            "conv2d: expected channels divisible by groups = {}, got {} in and {} out",
            self.groups,
            self.channels_in,
            self.channels_out
        );
        assert!(
            self.output().is_some(),
            "conv2d: the input {:?} padded by {:?} is smaller than the kernel {:?} dilated by {:?}",
            self.input,
            self.padding,
            self.kernel,
            self.dilation
        );
    }

    /// `K = C_in / groups * kH * kW`: the weights of one output channel.
    fn taps(&self) -> usize {
        self.channels_in / self.groups * self.kernel[0] * self.kernel[1]
    }

    fn geometry(&self) -> Geometry {
        let [oh, ow] = self.output().expect("checked");
        Geometry {
            input: self.input,
            output: [oh, ow],
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
        }
    }

    /// Threads for `work` multiply-adds split into `items` items.
    fn threads(work: usize, items: usize) -> usize {
        match work >= MIN_PARALLEL_WORK {
            true => num_threads().min(items).max(1),
            false => 1,
        }
    }
}

/// `y = conv2d(x, w) + b` on the path [`isa`](crate::isa) picks.
///
/// # Shapes
/// - `x`: `[N, C_in, H, W]`, `w`: `[C_out, C_in / groups, kH, kW]`, `bias`: `[C_out]` or `None`
/// - `y`: `[N, C_out, H_out, W_out]`, written whole
///
/// # Panics
/// As [`Conv2dShape::check`], and if a buffer's length is not the one its shape gives.
pub fn conv2d_forward(s: &Conv2dShape, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    s.check();
    assert_eq!(x.len(), s.input_len(), "conv2d: input length");
    assert_eq!(w.len(), s.weight_len(), "conv2d: weight length");
    assert_eq!(y.len(), s.output_len(), "conv2d: output length");
    if let Some(b) = bias {
        assert_eq!(b.len(), s.channels_out, "conv2d: bias length");
    }
    let g = s.geometry();
    let tiles = g.pixels().div_ceil(WIDTH);
    let items = s.batch * s.groups * tiles;
    let threads = Conv2dShape::threads(s.output_len() * s.taps(), items);
    let y = Ptr::of(y);
    parallel(threads, |tid, workers, _| {
        let work = Forward {
            s,
            g: &g,
            x,
            w,
            bias,
            y,
            items: split(items, workers, tid),
        };
        // SAFETY: the lengths were checked above; each item writes its own pixels of its own
        // image and group, and the items are split disjointly.
        unsafe { dispatch(work) }
    });
}

/// The gradient of [`conv2d_forward`] with respect to its input.
///
/// # Shapes
/// - `w`: `[C_out, C_in / groups, kH, kW]`, `dy`: `[N, C_out, H_out, W_out]`
/// - `dx`: `[N, C_in, H, W]`, written whole
///
/// # Panics
/// As [`conv2d_forward`].
pub fn conv2d_backward_input(s: &Conv2dShape, w: &[f32], dy: &[f32], dx: &mut [f32]) {
    s.check();
    assert_eq!(w.len(), s.weight_len(), "conv2d backward: weight length");
    assert_eq!(
        dy.len(),
        s.output_len(),
        "conv2d backward: output gradient length"
    );
    assert_eq!(
        dx.len(),
        s.input_len(),
        "conv2d backward: input gradient length"
    );
    let g = s.geometry();
    let (cg_in, cg_out) = (s.channels_in / s.groups, s.channels_out / s.groups);
    let taps = g.kernel[0] * g.kernel[1];
    // Each group's weights transposed, `[K, C_out/g]`: the rows of the product.
    let mut wt = vec![0.0f32; s.weight_len()];
    for group in 0..s.groups {
        let (src, dst) = (
            &w[group * cg_out * s.taps()..][..cg_out * s.taps()],
            &mut wt[group * cg_out * s.taps()..][..cg_out * s.taps()],
        );
        for co in 0..cg_out {
            for k in 0..s.taps() {
                dst[k * cg_out + co] = src[co * s.taps() + k];
            }
        }
    }
    // Input-channel blocks: enough items for every worker, as big as that allows.
    let images = s.batch * s.groups;
    let wanted = (4 * num_threads()).div_ceil(images).clamp(1, cg_in);
    let block = cg_in.div_ceil(wanted);
    let blocks = cg_in.div_ceil(block);
    let items = images * blocks;
    let threads = Conv2dShape::threads(s.output_len() * s.taps(), items);
    let dx = Ptr::of(dx);
    parallel(threads, |tid, workers, _| {
        let work = BackwardInput {
            s,
            g: &g,
            wt: &wt,
            dy,
            dx,
            block,
            blocks,
            taps,
            items: split(items, workers, tid),
        };
        // SAFETY: the lengths were checked above; each item writes only the input channels of
        // its own block, image and group, and the items are split disjointly.
        unsafe { dispatch(work) }
    });
}

/// The gradients of [`conv2d_forward`] with respect to its weight and bias.
///
/// # Shapes
/// - `x`: `[N, C_in, H, W]`, `dy`: `[N, C_out, H_out, W_out]`
/// - `dw`: `[C_out, C_in / groups, kH, kW]`, written whole; `db`: `[C_out]` or `None`,
///   written whole
///
/// # Panics
/// As [`conv2d_forward`].
pub fn conv2d_backward_weight(
    s: &Conv2dShape,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) {
    s.check();
    assert_eq!(x.len(), s.input_len(), "conv2d backward: input length");
    assert_eq!(
        dy.len(),
        s.output_len(),
        "conv2d backward: output gradient length"
    );
    assert_eq!(
        dw.len(),
        s.weight_len(),
        "conv2d backward: weight gradient length"
    );
    let g = s.geometry();
    let pixels = g.pixels();
    let items = (s.batch * pixels).div_ceil(W_CHUNK);
    let total = Mutex::new(vec![0.0f32; s.weight_len()]);
    let threads = Conv2dShape::threads(s.output_len() * s.taps(), items);
    parallel(threads, |tid, workers, _| {
        let work = BackwardWeight {
            s,
            g: &g,
            x,
            dy,
            items: split(items, workers, tid),
        };
        // SAFETY: the lengths were checked above; the worker writes only its own accumulator.
        let acc = unsafe { dispatch(work) };
        let mut total = total.lock().unwrap_or_else(|e| e.into_inner());
        for (t, a) in total.iter_mut().zip(&acc) {
            *t += a;
        }
    });
    dw.copy_from_slice(&total.into_inner().unwrap_or_else(|e| e.into_inner()));
    if let Some(db) = db {
        assert_eq!(
            db.len(),
            s.channels_out,
            "conv2d backward: bias gradient length"
        );
        db.fill(0.0);
        for image in dy.chunks_exact(s.channels_out * pixels) {
            for (b, plane) in db.iter_mut().zip(image.chunks_exact(pixels)) {
                *b += lane_sum(plane);
            }
        }
    }
}

/// The sum of `values` in 16 independent lanes (a plain `sum` is one dependent chain of adds,
/// which the compiler may not reorder), then across them.
fn lane_sum(values: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let mut chunks = values.chunks_exact(16);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// `out[r][j] (+)= sum_p a[r * lda + p] * panel[p][j]` for `rows` rows and the 64 columns of
/// `panel` (`k` rows), in row blocks of the path's tile height and inner chunks of
/// [`K_CHUNK`]; accumulates into `out` when `accumulate`, else overwrites it.
///
/// # Safety
/// `S` must be available; `a` holds `rows` rows of `k` values `lda` apart, `panel` `k * 64`
/// values and `out` `rows * 64`.
#[inline(always)]
unsafe fn product<S: Simd>(
    rows: usize,
    k: usize,
    a: *const f32,
    lda: usize,
    panel: *const f32,
    out: *mut f32,
    accumulate: bool,
) {
    let mr = S::rows_per_tile(WIDTH / crate::tile::LANES);
    for k0 in (0..k).step_by(K_CHUNK) {
        let kc = K_CHUNK.min(k - k0);
        for r0 in (0..rows).step_by(mr) {
            S::tile(
                mr.min(rows - r0),
                kc,
                a.add(r0 * lda + k0),
                lda,
                panel.add(k0 * WIDTH),
                WIDTH,
                out.add(r0 * WIDTH),
                accumulate || k0 > 0,
            );
        }
    }
}

/// A forward worker's share: (image, group, pixel tile) items.
struct Forward<'a> {
    s: &'a Conv2dShape,
    g: &'a Geometry,
    x: &'a [f32],
    w: &'a [f32],
    bias: Option<&'a [f32]>,
    y: Ptr,
    items: Range<usize>,
}

impl WithSimd for Forward<'_> {
    type Output = ();

    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        let Self { s, g, x, w, .. } = self;
        let (cg_in, cg_out, k) = (
            s.channels_in / s.groups,
            s.channels_out / s.groups,
            s.taps(),
        );
        let (plane, pixels) = (g.input[0] * g.input[1], g.pixels());
        let tiles = pixels.div_ceil(WIDTH);
        let mut panel = vec![0.0f32; k * WIDTH];
        let mut out = vec![0.0f32; cg_out * WIDTH];
        for item in self.items {
            let (image_group, tile) = (item / tiles, item % tiles);
            let (n, group) = (image_group / s.groups, image_group % s.groups);
            let (p0, count) = (tile * WIDTH, WIDTH.min(pixels - tile * WIDTH));
            let channels = &x[(n * s.channels_in + group * cg_in) * plane..][..cg_in * plane];
            for (row, tap) in panel.chunks_exact_mut(WIDTH).zip(0..k) {
                let (ci, ky, kx) = g.tap(tap);
                gather(
                    g,
                    &channels[ci * plane..][..plane],
                    ky,
                    kx,
                    p0,
                    count,
                    row,
                    1,
                );
                row[count..].fill(0.0);
            }
            let weights = &w[group * cg_out * k..][..cg_out * k];
            product::<S>(
                cg_out,
                k,
                weights.as_ptr(),
                k,
                panel.as_ptr(),
                out.as_mut_ptr(),
                false,
            );
            for (co, row) in out.chunks_exact(WIDTH).enumerate() {
                let c = group * cg_out + co;
                let b = self.bias.map_or(0.0, |b| b[c]);
                let dst = self
                    .y
                    .slice_mut((n * s.channels_out + c) * pixels + p0, count);
                for (d, &v) in dst.iter_mut().zip(row) {
                    *d = v + b;
                }
            }
        }
    }
}

/// An input-gradient worker's share: (image, group, input-channel block) items.
struct BackwardInput<'a> {
    s: &'a Conv2dShape,
    g: &'a Geometry,
    /// Each group's weights transposed: `[groups][K][C_out/g]`.
    wt: &'a [f32],
    dy: &'a [f32],
    dx: Ptr,
    /// Input channels per block.
    block: usize,
    blocks: usize,
    taps: usize,
    items: Range<usize>,
}

impl WithSimd for BackwardInput<'_> {
    type Output = ();

    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        let Self { s, g, wt, dy, .. } = self;
        let (cg_in, cg_out, k) = (
            s.channels_in / s.groups,
            s.channels_out / s.groups,
            s.taps(),
        );
        let (plane, pixels) = (g.input[0] * g.input[1], g.pixels());
        let mut panel = vec![0.0f32; cg_out * WIDTH];
        let mut out = vec![0.0f32; self.block * self.taps * WIDTH];
        for item in self.items {
            let (image_group, b) = (item / self.blocks, item % self.blocks);
            let (n, group) = (image_group / s.groups, image_group % s.groups);
            let ci0 = b * self.block;
            let ci1 = (ci0 + self.block).min(cg_in);
            let rows = (ci1 - ci0) * self.taps;
            let first = (n * s.channels_in + group * cg_in + ci0) * plane;
            let dx = self.dx.slice_mut(first, (ci1 - ci0) * plane);
            dx.fill(0.0);
            let grads = &dy[(n * s.channels_out + group * cg_out) * pixels..][..cg_out * pixels];
            let weights = &wt[(group * k + ci0 * self.taps) * cg_out..][..rows * cg_out];
            for p0 in (0..pixels).step_by(WIDTH) {
                let count = WIDTH.min(pixels - p0);
                for (row, plane_grad) in panel.chunks_exact_mut(WIDTH).zip(grads.chunks(pixels)) {
                    row[..count].copy_from_slice(&plane_grad[p0..p0 + count]);
                    row[count..].fill(0.0);
                }
                product::<S>(
                    rows,
                    cg_out,
                    weights.as_ptr(),
                    cg_out,
                    panel.as_ptr(),
                    out.as_mut_ptr(),
                    false,
                );
                for (r, row) in out[..rows * WIDTH].chunks_exact(WIDTH).enumerate() {
                    let (ci, ky, kx) = g.tap(r);
                    scatter_add(g, &mut dx[ci * plane..][..plane], ky, kx, p0, count, row);
                }
            }
        }
    }
}

/// A weight-gradient worker's share: items of [`W_CHUNK`] output positions of the batch
/// (`n * P + p`, across images), summed into the worker's own accumulator, shaped as the
/// weights, which it returns.
struct BackwardWeight<'a> {
    s: &'a Conv2dShape,
    g: &'a Geometry,
    x: &'a [f32],
    dy: &'a [f32],
    items: Range<usize>,
}

impl WithSimd for BackwardWeight<'_> {
    type Output = Vec<f32>;

    #[inline(always)]
    unsafe fn run<S: Simd>(self) -> Vec<f32> {
        let Self { s, g, x, dy, .. } = self;
        let (cg_in, cg_out, k) = (
            s.channels_in / s.groups,
            s.channels_out / s.groups,
            s.taps(),
        );
        let (plane, pixels) = (g.input[0] * g.input[1], g.pixels());
        let positions = s.batch * pixels;
        let mut acc = vec![0.0f32; s.weight_len()];
        // The chunk's output gradient `[C_out/g][W_CHUNK]` and columns `[W_TAPS][W_CHUNK]`.
        let mut grads = vec![0.0f32; cg_out * W_CHUNK];
        let mut columns = vec![0.0f32; W_TAPS.min(k) * W_CHUNK];
        for item in self.items {
            let q0 = item * W_CHUNK;
            let len = W_CHUNK.min(positions - q0);
            let padded = len.next_multiple_of(S::LANES);
            // The chunk's runs within one image: (image, first pixel, count, offset).
            let runs = || {
                let mut q = q0;
                std::iter::from_fn(move || {
                    (q < q0 + len).then(|| {
                        let (n, p) = (q / pixels, q % pixels);
                        let count = (pixels - p).min(q0 + len - q);
                        q += count;
                        (n, p, count, q - count - q0)
                    })
                })
            };
            for group in 0..s.groups {
                for (co, row) in grads.chunks_exact_mut(W_CHUNK).enumerate() {
                    for (n, p, count, off) in runs() {
                        let c = n * s.channels_out + group * cg_out + co;
                        row[off..off + count].copy_from_slice(&dy[c * pixels + p..][..count]);
                    }
                    row[len..padded].fill(0.0);
                }
                for t0 in (0..k).step_by(W_TAPS) {
                    let taps = W_TAPS.min(k - t0);
                    for (tap, row) in (t0..t0 + taps).zip(columns.chunks_exact_mut(W_CHUNK)) {
                        let (ci, ky, kx) = g.tap(tap);
                        for (n, p, count, off) in runs() {
                            let c = n * s.channels_in + group * cg_in + ci;
                            let channel = &x[c * plane..][..plane];
                            gather(g, channel, ky, kx, p, count, &mut row[off..], 1);
                        }
                        row[len..padded].fill(0.0);
                    }
                    dot::<S>(
                        cg_out,
                        taps,
                        padded,
                        grads.as_ptr(),
                        W_CHUNK,
                        columns.as_ptr(),
                        W_CHUNK,
                        acc[group * cg_out * k + t0..].as_mut_ptr(),
                        k,
                    );
                }
            }
        }
        acc
    }
}
