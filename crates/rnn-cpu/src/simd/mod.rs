//! The SIMD abstraction the kernels are written over, and the instruction-set choice.
//!
//! A [`Simd`] type names one instruction set: its vector of `LANES` `f32`s and the dozen
//! operations the gate math and the tile product need. The kernels are generic over it and
//! `#[inline(always)]` all the way down; [`dispatch`] calls them from a function compiled with
//! that instruction set's `#[target_feature]`s, so each path is one monomorphized copy of the
//! same source, with the intrinsics inlined.
//!
//! | path | vector | tile (rows x registers per chunk) |
//! | --- | --- | --- |
//! | [`Isa::Avx512`] | `__m512`, 16 lanes | 6 x 4 (LSTM, RNN), 8 x 3 (GRU) |
//! | [`Isa::Avx2`] | `__m256`, 8 lanes, with FMA | 6 x 2 |
//! | [`Isa::Neon`] | `float32x4_t`, 4 lanes | 6 x 4 |
//! | [`Isa::Scalar`] | `f32` | 4 x 16 |

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

#[cfg(target_arch = "aarch64")]
mod neon;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(target_arch = "aarch64")]
pub(crate) use neon::Neon;
pub(crate) use scalar::Scalar;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

/// The widest vector any path uses, in lanes (the tails' stack buffers).
pub(crate) const MAX_LANES: usize = 16;

/// One instruction set's `f32` vector and operations.
///
/// # Safety
/// Every method is `unsafe`: it may only run where the instruction set is available, which
/// [`dispatch`] guarantees. Pointers must be valid for `LANES` values (`n` for the `_n`
/// forms).
pub(crate) trait Simd: Copy + 'static {
    /// `f32`s per vector.
    const LANES: usize;
    /// The vector.
    type V: Copy;

    /// Rows per tile of the product for a packed tile of `vectors` x 16 columns; the rows of
    /// `A` are packed in blocks of this many.
    fn rows_per_tile(vectors: usize) -> usize;

    /// `out[i][j] (+)= sum_p a[i * lda + p] * b[p * width + j]` for `i < rows`, `j < width`
    /// (`width = vectors * 16`, `rows <= rows_per_tile(vectors)`), added to `out` when
    /// `accumulate`.
    ///
    /// # Safety
    /// As the trait; `a` holds `rows` rows of `k` values `lda` apart, `b` `k * width` values
    /// and `out` `rows * width`.
    #[allow(clippy::too_many_arguments)] // the tile's geometry
    unsafe fn tile(
        rows: usize,
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        width: usize,
        out: *mut f32,
        accumulate: bool,
    );

    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self::V;
    /// `LANES` values from `p`.
    unsafe fn load(p: *const f32) -> Self::V;
    /// `LANES` values to `p`.
    unsafe fn store(p: *mut f32, v: Self::V);
    /// `a + b`
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a - b`
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    /// `a * b`
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `a * b + c`
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `c - a * b`
    unsafe fn fnma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Lane-wise minimum.
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    /// Lane-wise maximum.
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// Rounded to the nearest integer (ties to even).
    unsafe fn round(x: Self::V) -> Self::V;
    /// `2^n` for integral `n` in `[-126, 127]`.
    unsafe fn pow2(n: Self::V) -> Self::V;
    /// `1 / x`, to within a few ulp.
    unsafe fn recip(x: Self::V) -> Self::V;
    /// `1.0` where `x > 0`, else `0.0`.
    unsafe fn positive(x: Self::V) -> Self::V;
    /// The sum of the lanes.
    unsafe fn sum(x: Self::V) -> f32;

    /// The first `n < LANES` values from `p`, zero past them.
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> Self::V {
        let mut buf = [0.0f32; MAX_LANES];
        std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
        Self::load(buf.as_ptr())
    }

    /// The first `n < LANES` lanes of `v` to `p`.
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, n: usize, v: Self::V) {
        let mut buf = [0.0f32; MAX_LANES];
        Self::store(buf.as_mut_ptr(), v);
        std::ptr::copy_nonoverlapping(buf.as_ptr(), p, n);
    }
}

/// The tile product of `MR` rows in chunks of `C` registers: `MR x C` accumulators, per `k`
/// `C` loads of `b` and `MR` broadcasts of `a` (one from each row: `MR` streams in L1). Every path's [`Simd::tile`] is this with its
/// own `MR` and `C`.
///
/// # Safety
/// As [`Simd::tile`] with `rows = MR`; `width` is a multiple of `C * S::LANES`.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the tile's geometry, as `Simd::tile` takes it
pub(crate) unsafe fn tile_kernel<S: Simd, const MR: usize, const C: usize>(
    k: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    width: usize,
    out: *mut f32,
    accumulate: bool,
) {
    let chunk = C * S::LANES;
    let mut c0 = 0;
    while c0 < width {
        let mut acc = [[S::splat(0.0); C]; MR];
        if accumulate {
            for (i, row) in acc.iter_mut().enumerate() {
                for (v, s) in row.iter_mut().enumerate() {
                    *s = S::load(out.add(i * width + c0 + v * S::LANES));
                }
            }
        }
        for p in 0..k {
            let bp = b.add(p * width + c0);
            let mut bv = [S::splat(0.0); C];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = S::load(bp.add(v * S::LANES));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let x = S::splat(*a.add(i * lda + p));
                for (s, &w) in row.iter_mut().zip(&bv) {
                    *s = S::fma(x, w, *s);
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            for (v, s) in row.iter().enumerate() {
                S::store(out.add(i * width + c0 + v * S::LANES), *s);
            }
        }
        c0 += chunk;
    }
}

/// `tile_kernel::<S, rows, C>` for a run-time `rows` in `1..=max`.
macro_rules! tile_rows {
    ($s:ty, $rows:expr, $c:literal, [$($mr:literal)*], $k:expr, $a:expr, $lda:expr, $b:expr, $w:expr, $out:expr, $acc:expr) => {
        match $rows {
            $($mr => $crate::simd::tile_kernel::<$s, $mr, $c>($k, $a, $lda, $b, $w, $out, $acc),)*
            rows => unreachable!("{rows} rows in one tile"),
        }
    };
}
pub(crate) use tile_rows;

/// A code path of the fused kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// x86-64 AVX-512F (with AVX-512VL, AVX2 and FMA): 16 lanes.
    Avx512,
    /// x86-64 AVX2 with FMA: 8 lanes.
    Avx2,
    /// Arm NEON (AArch64): 4 lanes.
    Neon,
    /// Plain Rust on `f32`, for any CPU.
    Scalar,
}

impl Isa {
    /// Every path, best first.
    pub const ALL: [Isa; 4] = [Isa::Avx512, Isa::Avx2, Isa::Neon, Isa::Scalar];

    /// The name `BURN_RNN_ISA` takes: `avx512`, `avx2`, `neon` or `scalar`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Neon => "neon",
            Isa::Scalar => "scalar",
        }
    }

    /// Whether this CPU can run the path.
    pub fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            Isa::Scalar => true,
            #[allow(unreachable_patterns)] // the paths of other architectures
            _ => false,
        }
    }

    /// The best path this CPU can run.
    pub fn best() -> Isa {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.available())
            .unwrap_or(Isa::Scalar)
    }

    /// The paths this CPU can run, best first.
    pub fn available_paths() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|isa| isa.available()).collect()
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a path name or a path choice was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsaError {
    /// Not one of `avx512`, `avx2`, `neon`, `scalar`.
    Unknown(String),
    /// The path exists but this CPU cannot run it.
    Unavailable(Isa),
}

impl fmt::Display for IsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IsaError::Unknown(name) => write!(
                f,
                "unknown instruction set `{name}` (expected avx512, avx2, neon or scalar)"
            ),
            IsaError::Unavailable(isa) => write!(
                f,
                "this CPU cannot run the `{isa}` path (it can run: {})",
                Isa::available_paths()
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl std::error::Error for IsaError {}

impl FromStr for Isa {
    type Err = IsaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| IsaError::Unknown(s.to_string()))
    }
}

/// The environment variable that picks the path: `avx512`, `avx2`, `neon` or `scalar`.
pub const ISA_ENV: &str = "BURN_RNN_ISA";

/// 0: no override; else `1 + index in Isa::ALL`.
static OVERRIDE: AtomicU8 = AtomicU8::new(0);

/// Makes the kernels run `isa` (`None`: back to the default, see [`isa`]).
///
/// # Errors
/// [`IsaError::Unavailable`] if this CPU cannot run it; the current choice is kept.
pub fn set_isa(isa: Option<Isa>) -> Result<(), IsaError> {
    let code = match isa {
        None => 0,
        Some(isa) if !isa.available() => return Err(IsaError::Unavailable(isa)),
        Some(isa) => 1 + Isa::ALL.iter().position(|&i| i == isa).unwrap_or(3) as u8,
    };
    OVERRIDE.store(code, Ordering::Relaxed);
    Ok(())
}

/// The path the kernels run: the one [`set_isa`] chose, else the one the `BURN_RNN_ISA`
/// environment variable names, else [`Isa::best`]. A `BURN_RNN_ISA` that is unknown or that
/// this CPU cannot run is reported once on stderr and the best path runs.
pub fn isa() -> Isa {
    match OVERRIDE.load(Ordering::Relaxed) {
        0 => {
            static DEFAULT: OnceLock<Isa> = OnceLock::new();
            *DEFAULT.get_or_init(|| match std::env::var(ISA_ENV) {
                Err(_) => Isa::best(),
                Ok(name) => match name.parse::<Isa>().and_then(|isa| match isa.available() {
                    true => Ok(isa),
                    false => Err(IsaError::Unavailable(isa)),
                }) {
                    Ok(isa) => isa,
                    Err(e) => {
                        let best = Isa::best();
                        eprintln!("rnn-cpu: {ISA_ENV}: {e}; running `{best}`");
                        best
                    }
                },
            })
        }
        code => Isa::ALL[(code - 1) as usize],
    }
}

/// Code generic over the instruction set, run by [`dispatch`].
pub(crate) trait WithSimd {
    /// The result.
    type Output;
    /// Runs with instruction set `S`.
    ///
    /// # Safety
    /// `S` must be available (the caller checks), plus whatever the implementor documents.
    unsafe fn run<S: Simd>(self) -> Self::Output;
}

/// Runs `op` on the path [`isa`] picks, compiled for it.
///
/// # Safety
/// As `op`'s [`WithSimd::run`], besides the instruction set (checked here).
#[inline]
pub(crate) unsafe fn dispatch<W: WithSimd>(op: W) -> W::Output {
    match isa() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => run_avx512(op),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => run_avx2(op),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => op.run::<Neon>(),
        _ => op.run::<Scalar>(),
    }
}

/// # Safety
/// The CPU must have AVX-512F/VL, AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn run_avx512<W: WithSimd>(op: W) -> W::Output {
    op.run::<Avx512>()
}

/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<W: WithSimd>(op: W) -> W::Output {
    op.run::<Avx2>()
}
