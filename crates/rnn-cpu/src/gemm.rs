//! The matrix product the kernels call: `C = A B + beta C` on strided `f32` views.
//!
//! Backed by `matrixmultiply` (its AVX2/FMA and AVX-512-era kernels are picked at run time);
//! `benches/` compares it with the `gemm` crate on the kernels' shapes.

/// A read-only strided matrix view.
#[derive(Debug, Clone, Copy)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Mat<'a> {
    /// A row-major `[rows, cols]` matrix.
    ///
    /// # Panics
    /// If `data` holds fewer than `rows * cols` values.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "matrix view [{rows}, {cols}] over {} values",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Rows `start..start + len` (no copy).
    pub fn rows(self, start: usize, len: usize) -> Self {
        assert!(
            start + len <= self.rows,
            "rows {start}..{} of {}",
            start + len,
            self.rows
        );
        Self {
            data: &self.data[start * self.row_stride..],
            rows: len,
            ..self
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// A mutable row-major matrix view.
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
}

impl<'a> MatMut<'a> {
    /// A row-major `[rows, cols]` matrix.
    ///
    /// # Panics
    /// If `data` holds fewer than `rows * cols` values.
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "matrix view [{rows}, {cols}] over {} values",
            data.len()
        );
        Self { data, rows, cols }
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Splits into consecutive blocks of at most `block` rows.
    pub fn split_rows(self, block: usize) -> Vec<(usize, MatMut<'a>)> {
        let cols = self.cols;
        let mut rest = &mut self.data[..self.rows * cols];
        let mut out = Vec::new();
        let mut start = 0;
        while !rest.is_empty() {
            let n = block.min(rest.len() / cols);
            let (head, tail) = rest.split_at_mut(n * cols);
            out.push((start, MatMut::new(head, n, cols)));
            start += n;
            rest = tail;
        }
        out
    }
}

/// `c = a b + beta c`.
///
/// # Panics
/// If the shapes do not chain: `a: [m, k]`, `b: [k, n]`, `c: [m, n]`.
pub fn sgemm(a: Mat<'_>, b: Mat<'_>, beta: f32, c: MatMut<'_>) {
    assert!(
        a.cols == b.rows && a.rows == c.rows && b.cols == c.cols,
        "sgemm: [{}, {}] x [{}, {}] into [{}, {}]",
        a.rows,
        a.cols,
        b.rows,
        b.cols,
        c.rows,
        c.cols
    );
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the views were checked to hold their `[rows, cols]` extents (strides are those
    // of a row-major matrix or its transpose), and `c` is exclusively borrowed.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.data.as_ptr(),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr(),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c.data.as_mut_ptr(),
            c.cols as isize,
            1,
        );
    }
}

/// Columns of one packed panel of `B` in [`tile_sgemm`].
const PANEL: usize = 64;

/// `c = a b + beta c` on the recurrent kernels' register tiles ([`crate::simd`]), for an `a`
/// whose rows are contiguous (`col_stride` 1): `b` is packed once into panels of 64 columns
/// (`[k][64]` each, zero past `n`), then each worker computes its rows' tiles, `MR` rows by one
/// panel at a time, over the whole `k`. Returns `false` (and does nothing) for an `a` of
/// another layout.
pub fn tile_sgemm(a: Mat<'_>, b: Mat<'_>, beta: f32, c: MatMut<'_>) -> bool {
    use crate::simd::dispatch;
    use crate::threads::{num_threads, parallel, split, Ptr};
    assert!(
        a.cols == b.rows && a.rows == c.rows && b.cols == c.cols,
        "sgemm: [{}, {}] x [{}, {}] into [{}, {}]",
        a.rows,
        a.cols,
        b.rows,
        b.cols,
        c.rows,
        c.cols
    );
    if a.col_stride != 1 {
        return false;
    }
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return true;
    }
    let panels = n.div_ceil(PANEL);
    let mut packed = vec![0.0f32; panels * k * PANEL];
    for (j, panel) in packed.chunks_exact_mut(k * PANEL).enumerate() {
        for col in 0..PANEL.min(n - j * PANEL) {
            let at = (j * PANEL + col) * b.col_stride;
            for p in 0..k {
                panel[p * PANEL + col] = b.data[at + p * b.row_stride];
            }
        }
    }
    let work = m * k * n;
    let threads = match work >= 1 << 21 && m >= 32 {
        true => num_threads(),
        false => 1,
    };
    let ldc = c.cols;
    let out = Ptr::of(c.data);
    parallel(threads, |tid, workers, _| {
        let op = TileGemm {
            a,
            packed: &packed,
            k,
            n,
            beta,
            out,
            ldc,
            rows: split(m, workers, tid),
        };
        // SAFETY: the path is available (dispatch); each worker writes its own rows of `c`.
        unsafe { dispatch(op) }
    });
    true
}

struct TileGemm<'a> {
    a: Mat<'a>,
    packed: &'a [f32],
    k: usize,
    n: usize,
    beta: f32,
    out: crate::threads::Ptr,
    ldc: usize,
    rows: std::ops::Range<usize>,
}

impl crate::simd::WithSimd for TileGemm<'_> {
    type Output = ();

    #[inline(always)]
    unsafe fn run<S: crate::simd::Simd>(self) {
        let mr = S::rows_per_tile(PANEL / 16);
        let mut tmp = [0.0f32; 8 * PANEL];
        let (k, n) = (self.k, self.n);
        let lda = self.a.row_stride;
        for (j, panel) in self.packed.chunks_exact(k * PANEL).enumerate() {
            let cols = PANEL.min(n - j * PANEL);
            let mut r0 = self.rows.start;
            while r0 < self.rows.end {
                let rows = mr.min(self.rows.end - r0);
                let a = self.a.data.as_ptr().add(r0 * lda);
                S::tile(
                    rows,
                    k,
                    a,
                    lda,
                    panel.as_ptr(),
                    PANEL,
                    tmp.as_mut_ptr(),
                    false,
                );
                for i in 0..rows {
                    let dst = self.out.slice_mut((r0 + i) * self.ldc + j * PANEL, cols);
                    let src = &tmp[i * PANEL..i * PANEL + cols];
                    match self.beta == 0.0 {
                        true => dst.copy_from_slice(src),
                        false => {
                            for (d, &s) in dst.iter_mut().zip(src) {
                                *d = s + self.beta * *d;
                            }
                        }
                    }
                }
                r0 += rows;
            }
        }
    }
}
