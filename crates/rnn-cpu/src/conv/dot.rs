//! `A B^T` for two row-major matrices that share their inner dimension: the weight gradient's
//! product, where both the output gradient and the input columns are contiguous along the
//! pixels. Lanes run along the inner dimension; each output is one horizontal sum at the end.

use crate::simd::Simd;

/// `out[i * ldo + j] += sum_{p < k} a[i * lda + p] * b[j * ldb + p]` for `i < rows`,
/// `j < cols`, in blocks of 4 x 4 accumulators (3 x 3 on 8-lane paths, whose 16 registers
/// hold no more).
///
/// # Safety
/// `S` must be available; `k` is a multiple of `S::LANES`; `a` holds `rows` rows of `k` values
/// `lda` apart, `b` `cols` rows of `k` values `ldb` apart, `out` `rows` rows of `cols` values
/// `ldo` apart.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the two operands' geometry
pub(super) unsafe fn dot<S: Simd>(
    rows: usize,
    cols: usize,
    k: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    out: *mut f32,
    ldo: usize,
) {
    let m = Operands {
        k,
        a,
        lda,
        b,
        ldb,
        out,
        ldo,
    };
    match S::LANES {
        8 => m.blocks::<S, 3, 3>(rows, cols),
        _ => m.blocks::<S, 4, 4>(rows, cols),
    }
}

#[derive(Clone, Copy)]
struct Operands {
    k: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    out: *mut f32,
    ldo: usize,
}

impl Operands {
    /// Every `MR x NR` block, then the rows and columns past the last whole block one at a
    /// time.
    #[inline(always)]
    unsafe fn blocks<S: Simd, const MR: usize, const NR: usize>(self, rows: usize, cols: usize) {
        let (rf, cf) = (rows - rows % MR, cols - cols % NR);
        for i in (0..rf).step_by(MR) {
            for j in (0..cf).step_by(NR) {
                self.block::<S, MR, NR>(i, j);
            }
            for j in cf..cols {
                self.block::<S, MR, 1>(i, j);
            }
        }
        for i in rf..rows {
            for j in (0..cf).step_by(NR) {
                self.block::<S, 1, NR>(i, j);
            }
            for j in cf..cols {
                self.block::<S, 1, 1>(i, j);
            }
        }
    }

    /// Rows `i..i + MR` of `A` against rows `j..j + NR` of `B`.
    #[inline(always)]
    unsafe fn block<S: Simd, const MR: usize, const NR: usize>(self, i: usize, j: usize) {
        let (a, b) = (self.a.add(i * self.lda), self.b.add(j * self.ldb));
        let mut acc = [[S::splat(0.0); NR]; MR];
        let mut p = 0;
        while p < self.k {
            let mut bv = [S::splat(0.0); NR];
            for (c, v) in bv.iter_mut().enumerate() {
                *v = S::load(b.add(c * self.ldb + p));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let av = S::load(a.add(r * self.lda + p));
                for (s, &w) in row.iter_mut().zip(&bv) {
                    *s = S::fma(av, w, *s);
                }
            }
            p += S::LANES;
        }
        for (r, row) in acc.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                *self.out.add((i + r) * self.ldo + j + c) += S::sum(v);
            }
        }
    }
}
