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
