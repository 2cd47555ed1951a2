//! The plain-Rust path: one `f32` per "vector", for any CPU (and the reference the other paths
//! are tested against besides the naive loops).

use super::{tile_rows, Simd};

/// `1.5 * 2^23`: adding and subtracting it rounds an `|x| < 2^22` to the nearest integer.
const ROUNDER: f32 = 12_582_912.0;

/// Plain `f32` arithmetic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scalar;

impl Simd for Scalar {
    const LANES: usize = 1;
    type V = f32;

    fn rows_per_tile(_vectors: usize) -> usize {
        4
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
        tile_rows!(Self, rows, 16, [1 2 3 4], k, a, lda, b, w, out, acc)
    }

    #[inline(always)]
    unsafe fn splat(x: f32) -> f32 {
        x
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> f32 {
        *p
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: f32) {
        *p = v
    }
    #[inline(always)]
    unsafe fn add(a: f32, b: f32) -> f32 {
        a + b
    }
    #[inline(always)]
    unsafe fn sub(a: f32, b: f32) -> f32 {
        a - b
    }
    #[inline(always)]
    unsafe fn mul(a: f32, b: f32) -> f32 {
        a * b
    }
    // Not `mul_add`: without hardware FMA it is a library call.
    #[inline(always)]
    unsafe fn fma(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
    #[inline(always)]
    unsafe fn fnma(a: f32, b: f32, c: f32) -> f32 {
        c - a * b
    }
    #[inline(always)]
    unsafe fn min(a: f32, b: f32) -> f32 {
        a.min(b)
    }
    #[inline(always)]
    unsafe fn max(a: f32, b: f32) -> f32 {
        a.max(b)
    }
    #[inline(always)]
    unsafe fn round(x: f32) -> f32 {
        (x + ROUNDER) - ROUNDER
    }
    #[inline(always)]
    unsafe fn pow2(n: f32) -> f32 {
        f32::from_bits(((n as i32 + 127) as u32) << 23)
    }
    #[inline(always)]
    unsafe fn recip(x: f32) -> f32 {
        1.0 / x
    }
    #[inline(always)]
    unsafe fn positive(x: f32) -> f32 {
        (x > 0.0) as u32 as f32
    }
    #[inline(always)]
    unsafe fn sum(x: f32) -> f32 {
        x
    }
}
