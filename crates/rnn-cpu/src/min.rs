//! The coefficients of minGRU and minLSTM (Feng et al., 2024): `h' = a * h + b` from the
//! projected input, forward and backward, in one pass over [`Simd`] vectors.
//!
//! With `g(v) = v + 0.5` for `v >= 0` and `σ(v)` below (written `max(v, 0) + min(σ(v), 0.5)`):
//! - minGRU, gate blocks `v, u`: `z = σ(u)`, `a = 1 - z`, `b = z * g(v)`;
//! - minLSTM, gate blocks `v, p, q`: `f = σ(p)`, `i = σ(q)`, `a = f / (f + i)`,
//!   `b = i / (f + i) * g(v)`.

use crate::gates::{chunks, sigmoid};
use crate::simd::{dispatch, Simd, WithSimd};

/// Which cell's coefficients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MinKind {
    /// minGRU: gate blocks `v, u` (`2*H` per row).
    Gru,
    /// minLSTM: gate blocks `v, p, q` (`3*H` per row).
    Lstm,
}

impl MinKind {
    /// Gate blocks per row: 2 (minGRU) or 3 (minLSTM).
    pub fn gates(self) -> usize {
        match self {
            MinKind::Gru => 2,
            MinKind::Lstm => 3,
        }
    }
}

/// `(a, b)` of every row.
///
/// # Shapes
/// `gates`: `M * G*H` values (row `r` at `r * G*H`, blocks of `H`); `out`: `2 * M * H` values,
/// `a` (`[M, H]`) then `b` (`[M, H]`).
///
/// # Panics
/// If the lengths do not fit one `M`.
pub fn min_coefficients_forward(kind: MinKind, hidden: usize, gates: &[f32], out: &mut [f32]) {
    let rows = check(kind, hidden, gates, out.len());
    let (a, b) = out.split_at_mut(rows * hidden);
    // SAFETY: `check` sized every buffer to `rows` rows of their widths.
    unsafe {
        dispatch(Forward {
            kind,
            hidden,
            gates,
            a,
            b,
        })
    }
}

/// The gradient of the projected input from `grad`, the gradients of `a` and `b` in
/// [`min_coefficients_forward`]'s layout.
///
/// # Shapes
/// `gates`, `d_gates`: `M * G*H` values; `grad`: `2 * M * H` values (`a`'s then `b`'s).
///
/// # Panics
/// If the lengths do not fit one `M`.
pub fn min_coefficients_backward(
    kind: MinKind,
    hidden: usize,
    gates: &[f32],
    grad: &[f32],
    d_gates: &mut [f32],
) {
    let rows = check(kind, hidden, gates, grad.len());
    assert_eq!(
        d_gates.len(),
        gates.len(),
        "min_coefficients_backward: d_gates length"
    );
    let (da, db) = grad.split_at(rows * hidden);
    // SAFETY: `check` sized every buffer to `rows` rows of their widths.
    unsafe {
        dispatch(Backward {
            kind,
            hidden,
            gates,
            da,
            db,
            d_gates,
        })
    }
}

/// The row count `M`, after checking the buffers against it.
fn check(kind: MinKind, hidden: usize, gates: &[f32], coefficients: usize) -> usize {
    let width = kind.gates() * hidden;
    assert!(
        hidden > 0
            && gates.len().is_multiple_of(width)
            && coefficients == 2 * (gates.len() / width) * hidden,
        "min coefficients: expected M * {width} gate values and 2 * M * {hidden} coefficients, \
         got {} and {coefficients}",
        gates.len()
    );
    gates.len() / width
}

/// `g(v) = max(v, 0) + min(σ(v), 0.5)` and `σ(v)`.
#[inline(always)]
unsafe fn g<S: Simd>(v: S::V) -> (S::V, S::V) {
    let s = sigmoid::<S>(v);
    let g = S::add(S::max(v, S::splat(0.0)), S::min(s, S::splat(0.5)));
    (g, s)
}

/// `g'(v)`: 1 for `v >= 0`, `σ(v) (1 - σ(v))` below.
#[inline(always)]
unsafe fn g_prime<S: Simd>(v: S::V, s: S::V) -> S::V {
    let below = S::positive(S::sub(S::splat(0.0), v)); // 1 where v < 0
    let ds = S::mul(s, S::sub(S::splat(1.0), s));
    // below * ds + (1 - below)
    S::fma(below, S::sub(ds, S::splat(1.0)), S::splat(1.0))
}

struct Forward<'a> {
    kind: MinKind,
    hidden: usize,
    gates: &'a [f32],
    a: &'a mut [f32],
    b: &'a mut [f32],
}

impl WithSimd for Forward<'_> {
    type Output = ();

    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        let (h, width) = (self.hidden, self.kind.gates() * self.hidden);
        for (r, row) in self.gates.chunks_exact(width).enumerate() {
            let (a, b) = (&mut self.a[r * h..], &mut self.b[r * h..]);
            for c in chunks::<S>(h) {
                let (gv, _) = g::<S>(c.ld::<S>(row));
                let (ca, cb) = match self.kind {
                    MinKind::Gru => {
                        let z = sigmoid::<S>(c.ld::<S>(&row[h..]));
                        (S::sub(S::splat(1.0), z), S::mul(z, gv))
                    }
                    MinKind::Lstm => {
                        let f = sigmoid::<S>(c.ld::<S>(&row[h..]));
                        let i = sigmoid::<S>(c.ld::<S>(&row[2 * h..]));
                        let inv = S::recip(S::add(f, i));
                        (S::mul(f, inv), S::mul(S::mul(i, inv), gv))
                    }
                };
                c.st::<S>(a, ca);
                c.st::<S>(b, cb);
            }
        }
    }
}

struct Backward<'a> {
    kind: MinKind,
    hidden: usize,
    gates: &'a [f32],
    da: &'a [f32],
    db: &'a [f32],
    d_gates: &'a mut [f32],
}

impl WithSimd for Backward<'_> {
    type Output = ();

    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        let (h, width) = (self.hidden, self.kind.gates() * self.hidden);
        let one = S::splat(1.0);
        for (r, (row, d_row)) in self
            .gates
            .chunks_exact(width)
            .zip(self.d_gates.chunks_exact_mut(width))
            .enumerate()
        {
            let (da, db) = (&self.da[r * h..], &self.db[r * h..]);
            for c in chunks::<S>(h) {
                let v = c.ld::<S>(row);
                let (gv, sv) = g::<S>(v);
                let dgv = g_prime::<S>(v, sv);
                let (da, db) = (c.ld::<S>(da), c.ld::<S>(db));
                match self.kind {
                    MinKind::Gru => {
                        // a = 1 - z, b = z g(v)
                        let z = sigmoid::<S>(c.ld::<S>(&row[h..]));
                        let dz = S::sub(S::mul(db, gv), da);
                        let du = S::mul(dz, S::mul(z, S::sub(one, z)));
                        c.st::<S>(d_row, S::mul(S::mul(db, z), dgv));
                        c.st::<S>(&mut d_row[h..], du);
                    }
                    MinKind::Lstm => {
                        // a = f / s, b = (i / s) g(v), s = f + i
                        let f = sigmoid::<S>(c.ld::<S>(&row[h..]));
                        let i = sigmoid::<S>(c.ld::<S>(&row[2 * h..]));
                        let inv = S::recip(S::add(f, i));
                        let inv2 = S::mul(inv, inv);
                        let diff = S::sub(da, S::mul(db, gv)); // da - db g
                        let df = S::mul(S::mul(i, inv2), diff);
                        let di = S::mul(S::mul(f, inv2), S::sub(S::splat(0.0), diff));
                        let dp = S::mul(df, S::mul(f, S::sub(one, f)));
                        let dq = S::mul(di, S::mul(i, S::sub(one, i)));
                        c.st::<S>(d_row, S::mul(S::mul(db, S::mul(i, inv)), dgv));
                        c.st::<S>(&mut d_row[h..], dp);
                        c.st::<S>(&mut d_row[2 * h..], dq);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    fn g64(v: f64) -> f64 {
        if v >= 0.0 {
            v + 0.5
        } else {
            sig(v)
        }
    }

    /// `(a, b)` of one unit in f64, from its gate values `[v, u]` or `[v, p, q]`.
    fn by_hand(kind: MinKind, x: &[f64]) -> (f64, f64) {
        match kind {
            MinKind::Gru => {
                let z = sig(x[1]);
                (1.0 - z, z * g64(x[0]))
            }
            MinKind::Lstm => {
                let (f, i) = (sig(x[1]), sig(x[2]));
                (f / (f + i), i / (f + i) * g64(x[0]))
            }
        }
    }

    /// Forward against the formulas in f64 and backward against central differences of
    /// them, for H = 19 (a vector tail on every path) over values on both sides of 0.
    #[test]
    fn coefficients_and_their_gradients_match_the_formulas() {
        let (m, h) = (3, 19);
        for kind in [MinKind::Gru, MinKind::Lstm] {
            let w = kind.gates() * h;
            let gates: Vec<f32> = (0..m * w)
                .map(|k| ((k * 37 % 101) as f32 / 101.0 - 0.5) * 6.0)
                .collect();
            let grad: Vec<f32> = (0..2 * m * h)
                .map(|k| ((k * 53 % 97) as f32 / 97.0) - 0.4)
                .collect();
            let mut out = vec![0.0; 2 * m * h];
            min_coefficients_forward(kind, h, &gates, &mut out);
            let mut d = vec![0.0; m * w];
            min_coefficients_backward(kind, h, &gates, &grad, &mut d);
            for r in 0..m {
                for k in 0..h {
                    let x: Vec<f64> = (0..kind.gates())
                        .map(|j| f64::from(gates[r * w + j * h + k]))
                        .collect();
                    let (a, b) = by_hand(kind, &x);
                    let at = r * h + k;
                    assert!((f64::from(out[at]) - a).abs() < 1e-6, "{kind:?} a[{r},{k}]");
                    assert!(
                        (f64::from(out[m * h + at]) - b).abs() < 1e-6,
                        "{kind:?} b[{r},{k}]"
                    );
                    let (ga, gb) = (f64::from(grad[at]), f64::from(grad[m * h + at]));
                    for j in 0..kind.gates() {
                        let eps = 1e-4;
                        let (mut up, mut down) = (x.clone(), x.clone());
                        up[j] += eps;
                        down[j] -= eps;
                        let (au, bu) = by_hand(kind, &up);
                        let (ad, bd) = by_hand(kind, &down);
                        let fd = (ga * (au - ad) + gb * (bu - bd)) / (2.0 * eps);
                        let got = f64::from(d[r * w + j * h + k]);
                        assert!(
                            (got - fd).abs() < 1e-5,
                            "{kind:?} d[{r},{j},{k}]: {got} vs {fd}"
                        );
                    }
                }
            }
        }
    }
}
