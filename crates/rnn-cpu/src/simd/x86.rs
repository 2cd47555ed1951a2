//! The x86-64 paths: AVX-512 (16 lanes) and AVX2 with FMA (8 lanes).
//!
//! Reciprocals are the hardware estimate plus one Newton-Raphson step (relative error under
//! 1e-7 for `rcp14`, about 2e-7 for AVX2's 12-bit `rcp`), where a division would cost ~10
//! cycles of throughput, five times per LSTM element.

use std::arch::x86_64::*;

use super::{tile_rows, Simd};

/// AVX-512F (with VL, AVX2 and FMA).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx512;

impl Simd for Avx512 {
    const LANES: usize = 16;
    type V = __m512;

    fn rows_per_tile(vectors: usize) -> usize {
        match vectors {
            3 => 8,
            _ => 6,
        }
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
        match w / 16 {
            3 => tile_rows!(Self, rows, 3, [1 2 3 4 5 6 7 8], k, a, lda, b, w, out, acc),
            _ => tile_rows!(Self, rows, 4, [1 2 3 4 5 6], k, a, lda, b, w, out, acc),
        }
    }

    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        _mm512_set1_ps(x)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        _mm512_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        _mm512_storeu_ps(p, v)
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        _mm512_add_ps(a, b)
    }
    #[inline(always)]
    unsafe fn sub(a: __m512, b: __m512) -> __m512 {
        _mm512_sub_ps(a, b)
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        _mm512_mul_ps(a, b)
    }
    #[inline(always)]
    unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn fnma(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_fnmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn min(a: __m512, b: __m512) -> __m512 {
        _mm512_min_ps(a, b)
    }
    #[inline(always)]
    unsafe fn max(a: __m512, b: __m512) -> __m512 {
        _mm512_max_ps(a, b)
    }
    #[inline(always)]
    unsafe fn round(x: __m512) -> __m512 {
        _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x)
    }
    #[inline(always)]
    unsafe fn pow2(n: __m512) -> __m512 {
        _mm512_scalef_ps(_mm512_set1_ps(1.0), n)
    }
    #[inline(always)]
    unsafe fn recip(x: __m512) -> __m512 {
        let r = _mm512_rcp14_ps(x);
        _mm512_mul_ps(r, _mm512_fnmadd_ps(x, r, _mm512_set1_ps(2.0)))
    }
    #[inline(always)]
    unsafe fn positive(x: __m512) -> __m512 {
        let m = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, _mm512_setzero_ps());
        _mm512_maskz_mov_ps(m, _mm512_set1_ps(1.0))
    }
    #[inline(always)]
    unsafe fn sum(x: __m512) -> f32 {
        _mm512_reduce_add_ps(x)
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> __m512 {
        _mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p)
    }
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, n: usize, v: __m512) {
        _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as __mmask16, v)
    }
}

/// AVX2 with FMA.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2;

/// Lane masks for `_mm256_maskload_ps`: `MASKS[8 - n..]` has `n` leading ones.
static MASKS: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

impl Simd for Avx2 {
    const LANES: usize = 8;
    type V = __m256;

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
        // 6 x 2 accumulators, 2 loads and a broadcast: 15 of the 16 registers.
        tile_rows!(Self, rows, 2, [1 2 3 4 5 6], k, a, lda, b, w, out, acc)
    }

    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        _mm256_set1_ps(x)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        _mm256_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        _mm256_storeu_ps(p, v)
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        _mm256_add_ps(a, b)
    }
    #[inline(always)]
    unsafe fn sub(a: __m256, b: __m256) -> __m256 {
        _mm256_sub_ps(a, b)
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        _mm256_mul_ps(a, b)
    }
    #[inline(always)]
    unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
        _mm256_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn fnma(a: __m256, b: __m256, c: __m256) -> __m256 {
        _mm256_fnmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn min(a: __m256, b: __m256) -> __m256 {
        _mm256_min_ps(a, b)
    }
    #[inline(always)]
    unsafe fn max(a: __m256, b: __m256) -> __m256 {
        _mm256_max_ps(a, b)
    }
    #[inline(always)]
    unsafe fn round(x: __m256) -> __m256 {
        _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x)
    }
    #[inline(always)]
    unsafe fn pow2(n: __m256) -> __m256 {
        let bits = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
        _mm256_castsi256_ps(_mm256_slli_epi32::<23>(bits))
    }
    #[inline(always)]
    unsafe fn recip(x: __m256) -> __m256 {
        let r = _mm256_rcp_ps(x);
        _mm256_mul_ps(r, _mm256_fnmadd_ps(x, r, _mm256_set1_ps(2.0)))
    }
    #[inline(always)]
    unsafe fn positive(x: __m256) -> __m256 {
        let m = _mm256_cmp_ps::<_CMP_GT_OQ>(x, _mm256_setzero_ps());
        _mm256_and_ps(m, _mm256_set1_ps(1.0))
    }
    #[inline(always)]
    unsafe fn sum(x: __m256) -> f32 {
        let h = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps::<1>(x));
        let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)))
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> __m256 {
        let m = _mm256_loadu_si256(MASKS.as_ptr().add(8 - n) as *const __m256i);
        _mm256_maskload_ps(p, m)
    }
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, n: usize, v: __m256) {
        let m = _mm256_loadu_si256(MASKS.as_ptr().add(8 - n) as *const __m256i);
        _mm256_maskstore_ps(p, m, v)
    }
}
