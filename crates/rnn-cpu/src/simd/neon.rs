//! The AArch64 path: NEON, 4 lanes (32 vector registers).
//!
//! Reciprocals are `vrecpe` plus two Newton-Raphson steps (`vrecps`): the estimate has 8 bits.

use std::arch::aarch64::*;

use super::{tile_rows, Simd};

/// NEON (Advanced SIMD), baseline on AArch64.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Neon;

impl Simd for Neon {
    const LANES: usize = 4;
    type V = float32x4_t;

    fn rows_per_tile(_vectors: usize) -> usize {
        6
    }

    #[inline(always)]
    unsafe fn tile(
        rows: usize,
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        w: usize,
        out: *mut f32,
        acc: bool,
    ) {
        // 6 x 4 accumulators, 4 loads and a broadcast: 29 of the 32 registers.
        tile_rows!(Self, rows, 4, [1 2 3 4 5 6], k, a, lda, b, w, out, acc)
    }

    #[inline(always)]
    unsafe fn splat(x: f32) -> float32x4_t {
        vdupq_n_f32(x)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> float32x4_t {
        vld1q_f32(p)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: float32x4_t) {
        vst1q_f32(p, v)
    }
    #[inline(always)]
    unsafe fn add(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vaddq_f32(a, b)
    }
    #[inline(always)]
    unsafe fn sub(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vsubq_f32(a, b)
    }
    #[inline(always)]
    unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vmulq_f32(a, b)
    }
    #[inline(always)]
    unsafe fn fma(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        vfmaq_f32(c, a, b)
    }
    #[inline(always)]
    unsafe fn fnma(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        vfmsq_f32(c, a, b)
    }
    #[inline(always)]
    unsafe fn min(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vminq_f32(a, b)
    }
    #[inline(always)]
    unsafe fn max(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vmaxq_f32(a, b)
    }
    #[inline(always)]
    unsafe fn round(x: float32x4_t) -> float32x4_t {
        vrndnq_f32(x)
    }
    #[inline(always)]
    unsafe fn pow2(n: float32x4_t) -> float32x4_t {
        let bits = vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127));
        vreinterpretq_f32_s32(vshlq_n_s32::<23>(bits))
    }
    #[inline(always)]
    unsafe fn recip(x: float32x4_t) -> float32x4_t {
        let r = vrecpeq_f32(x);
        let r = vmulq_f32(vrecpsq_f32(x, r), r);
        vmulq_f32(vrecpsq_f32(x, r), r)
    }
    #[inline(always)]
    unsafe fn positive(x: float32x4_t) -> float32x4_t {
        let m = vcgtq_f32(x, vdupq_n_f32(0.0));
        vreinterpretq_f32_u32(vandq_u32(m, vreinterpretq_u32_f32(vdupq_n_f32(1.0))))
    }
    #[inline(always)]
    unsafe fn sum(x: float32x4_t) -> f32 {
        vaddvq_f32(x)
    }
}
