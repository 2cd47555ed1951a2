//! The linear recurrence `h_t = a_t * h_(t-1) + b_t`, elementwise, over a sequence: the whole
//! recurrence of minGRU and minLSTM once their coefficients are known.
//!
//! One pass in time order over contiguous rows (the loops vectorize); the backward is the same
//! recurrence run from the end on the adjoints.

/// `h_t = a_t * h_(t-1) + b_t` for `t` in `0..L`, from `h_(-1) = h0`.
///
/// # Shapes
/// `a`, `b`, `h`: `L * M` values, row `t` at `t * M..(t + 1) * M`; `h0`: `M` values.
///
/// # Panics
/// If the lengths are not `L * M` and `M` for one `L`.
pub fn linear_scan_forward(a: &[f32], b: &[f32], h0: &[f32], h: &mut [f32]) {
    let m = h0.len();
    check("linear_scan_forward", m, &[a.len(), b.len(), h.len()]);
    if m == 0 {
        return;
    }
    let mut prev: &[f32] = h0;
    for ((a, b), h) in a
        .chunks_exact(m)
        .zip(b.chunks_exact(m))
        .zip(h.chunks_exact_mut(m))
    {
        for i in 0..m {
            h[i] = a[i] * prev[i] + b[i];
        }
        prev = h;
    }
}

/// The gradients of [`linear_scan_forward`] from `grad` (the gradient of every `h_t`): with
/// `λ_t = grad_t + a_(t+1) * λ_(t+1)`, `grad_b = λ`, `grad_a_t = λ_t * h_(t-1)` and
/// `grad_h0 = a_0 * λ_0`.
///
/// # Shapes
/// `a`, `h` (the forward's output), `grad`, `grad_a`, `grad_b`: `L * M` values; `h0`,
/// `grad_h0`: `M` values.
///
/// # Panics
/// If the lengths are not `L * M` and `M` for one `L`.
pub fn linear_scan_backward(
    a: &[f32],
    h0: &[f32],
    h: &[f32],
    grad: &[f32],
    grad_a: &mut [f32],
    grad_b: &mut [f32],
    grad_h0: &mut [f32],
) {
    let m = h0.len();
    let lens = [a.len(), h.len(), grad.len(), grad_a.len(), grad_b.len()];
    check("linear_scan_backward", m, &lens);
    assert_eq!(grad_h0.len(), m, "linear_scan_backward: grad_h0 length");
    if m == 0 {
        return;
    }
    let steps = a.len() / m;
    for t in (0..steps).rev() {
        let row = t * m..(t + 1) * m;
        let (lambda, later) = grad_b.split_at_mut((t + 1) * m);
        let lambda = &mut lambda[row.clone()];
        lambda.copy_from_slice(&grad[row.clone()]);
        if t + 1 < steps {
            let (a_next, lambda_next) = (&a[(t + 1) * m..(t + 2) * m], &later[..m]);
            for i in 0..m {
                lambda[i] += a_next[i] * lambda_next[i];
            }
        }
        let prev = if t == 0 { h0 } else { &h[(t - 1) * m..t * m] };
        let ga = &mut grad_a[row];
        for i in 0..m {
            ga[i] = lambda[i] * prev[i];
        }
    }
    for i in 0..m {
        grad_h0[i] = a[i] * grad_b[i];
    }
}

/// Every length is the same multiple of `m`.
fn check(op: &str, m: usize, lens: &[usize]) {
    let len = lens[0];
    assert!(
        lens.iter().all(|&l| l == len) && (m == 0 && len == 0 || m > 0 && len.is_multiple_of(m)),
        "{op}: expected L * {m} values in every sequence buffer, got {lens:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forward against the recurrence written out, and the backward against central
    /// differences of `sum(h * w)` in f64 arithmetic on f32 inputs.
    #[test]
    fn scan_and_its_gradients_match_the_recurrence() {
        let (steps, m) = (5, 3);
        let val = |i: usize, s: f32| (i as f32 * 0.37 + s).sin() * 0.9;
        let a: Vec<f32> = (0..steps * m).map(|i| val(i, 0.1).abs()).collect();
        let b: Vec<f32> = (0..steps * m).map(|i| val(i, 1.3)).collect();
        let h0: Vec<f32> = (0..m).map(|i| val(i, 2.2)).collect();
        let w: Vec<f32> = (0..steps * m).map(|i| val(i, 3.1)).collect();
        let run = |a: &[f32], b: &[f32], h0: &[f32]| {
            let mut h = vec![0.0; steps * m];
            linear_scan_forward(a, b, h0, &mut h);
            h
        };
        let h = run(&a, &b, &h0);
        let mut prev = h0.clone();
        for t in 0..steps {
            for i in 0..m {
                let expected = a[t * m + i] * prev[i] + b[t * m + i];
                assert!((h[t * m + i] - expected).abs() < 1e-6);
                prev[i] = expected;
            }
        }
        let (mut ga, mut gb, mut gh0) = (vec![0.0; steps * m], vec![0.0; steps * m], vec![0.0; m]);
        linear_scan_backward(&a, &h0, &h, &w, &mut ga, &mut gb, &mut gh0);
        let loss = |a: &[f32], b: &[f32], h0: &[f32]| -> f64 {
            run(a, b, h0)
                .iter()
                .zip(&w)
                .map(|(h, w)| f64::from(*h) * f64::from(*w))
                .sum()
        };
        let eps = 1e-3f32;
        let fd = |which: usize, i: usize| {
            let shifted = |d: f32| {
                let (mut a, mut b, mut h0) = (a.clone(), b.clone(), h0.clone());
                [&mut a, &mut b, &mut h0][which][i] += d;
                loss(&a, &b, &h0)
            };
            (shifted(eps) - shifted(-eps)) / (2.0 * f64::from(eps))
        };
        for (which, grads) in [(0, &ga), (1, &gb), (2, &gh0)] {
            for (i, &g) in grads.iter().enumerate() {
                let numeric = fd(which, i);
                assert!(
                    (f64::from(g) - numeric).abs() < 2e-3 * (1.0 + numeric.abs()),
                    "input {which} [{i}]: {g} vs finite difference {numeric}"
                );
            }
        }
    }
}
