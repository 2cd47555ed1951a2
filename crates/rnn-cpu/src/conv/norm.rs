//! Batch normalization over `[N, C, H, W]` with batch statistics (training), forward and
//! backward, channels split over the workers.
//!
//! Forward, per channel `c` over its `M = N * H * W` values: `mean`, the biased variance
//! `var` (two passes), `invstd = 1 / sqrt(var + eps)`, `y = (x - mean) * invstd * gamma + beta`.
//! Backward, with `xhat = (x - mean) * invstd`:
//! `dx = gamma * invstd * (dy - sum(dy) / M - xhat * sum(dy * xhat) / M)`,
//! `dgamma = sum(dy * xhat)`, `dbeta = sum(dy)`.

use crate::threads::{num_threads, parallel, split, Ptr};

/// Values below which a call runs on one thread.
const MIN_PARALLEL: usize = 1 << 16;

/// `sum(f(v))` over `values` in 16 lanes (vectorizable), then in `f64`.
#[inline(always)]
fn sum_by(values: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut acc = [0.0f32; 16];
    let mut chunks = values.chunks_exact(16);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(v);
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v) as f64).sum();
    acc.iter().map(|&a| a as f64).sum::<f64>() + tail
}

/// Runs `f(i)` for every `i < channels` (channels, or `[H, W]` planes), split over the
/// workers when the tensor is big.
fn per_channel(channels: usize, len: usize, f: impl Fn(usize) + Sync) {
    let threads = match len >= MIN_PARALLEL {
        true => num_threads().min(channels).max(1),
        false => 1,
    };
    parallel(threads, |tid, workers, _| {
        for c in split(channels, workers, tid) {
            f(c);
        }
    });
}

/// Batch normalization of `x: [N, C, H, W]` (`shape`) with its own statistics.
///
/// # Shapes
/// - `x`, `y`: `[N, C, H, W]` (`y` written whole); `gamma`, `beta`: `[C]`
/// - `mean`, `invstd`: `[C]`, written: each channel's mean and `1 / sqrt(var + eps)` (biased
///   variance), what [`batch_norm2d_backward`] takes
///
/// # Panics
/// If a buffer's length is not the one its shape gives.
#[allow(clippy::too_many_arguments)] // the op's buffers, each documented above
pub fn batch_norm2d_forward(
    shape: [usize; 4],
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
    y: &mut [f32],
    mean: &mut [f32],
    invstd: &mut [f32],
) {
    let [n, c, h, w] = shape;
    let (plane, len) = (h * w, n * c * h * w);
    assert!(
        x.len() == len && y.len() == len,
        "batch_norm2d: x and y must be {shape:?}"
    );
    for (name, v) in [
        ("gamma", gamma.len()),
        ("beta", beta.len()),
        ("mean", mean.len()),
        ("invstd", invstd.len()),
    ] {
        assert_eq!(v, c, "batch_norm2d: {name} must have C = {c} values");
    }
    let m = (n * plane) as f64;
    let (y, mean_p, invstd_p) = (Ptr::of(y), Ptr::of(mean), Ptr::of(invstd));
    per_channel(c, len, |ch| {
        let planes = || (0..n).map(|i| &x[(i * c + ch) * plane..][..plane]);
        let mu = planes().map(|p| sum_by(p, |v| v)).sum::<f64>() / m;
        let mu32 = mu as f32;
        let var = planes()
            .map(|p| sum_by(p, |v| (v - mu32) * (v - mu32)))
            .sum::<f64>()
            / m;
        let inv = 1.0 / (var + eps).sqrt();
        let scale = (inv * gamma[ch] as f64) as f32;
        let shift = (beta[ch] as f64 - mu * inv * gamma[ch] as f64) as f32;
        for i in 0..n {
            let at = (i * c + ch) * plane;
            // SAFETY: channel `ch`'s planes and its statistics are this worker's alone.
            let out = unsafe { y.slice_mut(at, plane) };
            for (o, &v) in out.iter_mut().zip(&x[at..at + plane]) {
                *o = v * scale + shift;
            }
        }
        // SAFETY: as above.
        unsafe {
            mean_p.slice_mut(ch, 1)[0] = mu32;
            invstd_p.slice_mut(ch, 1)[0] = inv as f32;
        }
    });
}

/// Batch normalization with fixed statistics (inference), one pass: per channel
/// `y = x * scale + shift`, with `scale = gamma / sqrt(running_var + eps)` and
/// `shift = beta - running_mean * scale` folded by the caller.
///
/// # Shapes
/// - `x`, `y`: `[N, C, H, W]` (`y` written whole); `scale`, `shift`: `[C]`
///
/// # Panics
/// If a buffer's length is not the one its shape gives.
pub fn batch_norm2d_inference(
    shape: [usize; 4],
    x: &[f32],
    scale: &[f32],
    shift: &[f32],
    y: &mut [f32],
) {
    let [n, c, h, w] = shape;
    let (plane, len) = (h * w, n * c * h * w);
    assert!(
        x.len() == len && y.len() == len,
        "batch_norm2d: x and y must be {shape:?}"
    );
    assert!(
        scale.len() == c && shift.len() == c,
        "batch_norm2d: scale and shift must have C = {c} values"
    );
    let y = Ptr::of(y);
    per_channel(n * c, len, |p| {
        let (a, b) = (scale[p % c], shift[p % c]);
        // SAFETY: plane `p` is this worker's alone.
        let out = unsafe { y.slice_mut(p * plane, plane) };
        for (o, &v) in out.iter_mut().zip(&x[p * plane..][..plane]) {
            *o = v * a + b;
        }
    });
}

/// The gradients of [`batch_norm2d_forward`].
///
/// # Shapes
/// - `x`, `dy`: `[N, C, H, W]`; `gamma`, `mean`, `invstd`: `[C]` (the forward's)
/// - `dx`: `[N, C, H, W]` or `None` (not computed); `dgamma`, `dbeta`: `[C]`; each written whole
///
/// # Panics
/// If a buffer's length is not the one its shape gives.
#[allow(clippy::too_many_arguments)] // the op's buffers, each documented above
pub fn batch_norm2d_backward(
    shape: [usize; 4],
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    invstd: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let [n, c, h, w] = shape;
    let (plane, len) = (h * w, n * c * h * w);
    assert!(
        x.len() == len && dy.len() == len,
        "batch_norm2d backward: x and dy must be {shape:?}"
    );
    for (name, v) in [
        ("gamma", gamma.len()),
        ("mean", mean.len()),
        ("invstd", invstd.len()),
        ("dgamma", dgamma.len()),
        ("dbeta", dbeta.len()),
    ] {
        assert_eq!(
            v, c,
            "batch_norm2d backward: {name} must have C = {c} values"
        );
    }
    let m = (n * plane) as f64;
    let dx = dx.map(|d| {
        assert_eq!(d.len(), len, "batch_norm2d backward: dx must be {shape:?}");
        Ptr::of(d)
    });
    let (dgamma_p, dbeta_p) = (Ptr::of(dgamma), Ptr::of(dbeta));
    per_channel(c, len, |ch| {
        let (mu, inv) = (mean[ch], invstd[ch]);
        let (mut sum_dy, mut sum_dy_x) = (0.0f64, 0.0f64);
        for i in 0..n {
            let at = (i * c + ch) * plane;
            let (xs, gs) = (&x[at..at + plane], &dy[at..at + plane]);
            sum_dy += sum_by(gs, |g| g);
            // sum(dy * (x - mean)), in 16 lanes.
            let mut acc = [0.0f32; 16];
            let (mut xc, mut gc) = (xs.chunks_exact(16), gs.chunks_exact(16));
            for (xk, gk) in (&mut xc).zip(&mut gc) {
                for ((a, &xv), &gv) in acc.iter_mut().zip(xk).zip(gk) {
                    *a += gv * (xv - mu);
                }
            }
            let tail: f64 = xc
                .remainder()
                .iter()
                .zip(gc.remainder())
                .map(|(&xv, &gv)| (gv * (xv - mu)) as f64)
                .sum();
            sum_dy_x += acc.iter().map(|&a| a as f64).sum::<f64>() + tail;
        }
        let sum_dy_xhat = sum_dy_x * inv as f64;
        // SAFETY: channel `ch`'s planes and gradients are this worker's alone.
        unsafe {
            dgamma_p.slice_mut(ch, 1)[0] = sum_dy_xhat as f32;
            dbeta_p.slice_mut(ch, 1)[0] = sum_dy as f32;
        }
        let Some(dx) = dx else { return };
        let k = (gamma[ch] * inv) as f64;
        let (mean_dy, coef) = ((sum_dy / m) as f32, (sum_dy_xhat / m * inv as f64) as f32);
        let k = k as f32;
        for i in 0..n {
            let at = (i * c + ch) * plane;
            // SAFETY: as above.
            let out = unsafe { dx.slice_mut(at, plane) };
            for ((o, &xv), &gv) in out
                .iter_mut()
                .zip(&x[at..at + plane])
                .zip(&dy[at..at + plane])
            {
                *o = k * (gv - mean_dy - (xv - mu) * coef);
            }
        }
    });
}
