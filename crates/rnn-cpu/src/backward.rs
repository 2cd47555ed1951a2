//! Backpropagation through time for [`forward`](crate::forward): per step the gate gradients,
//! then one tile product `dG W_hh`; the weight gradient is one GEMM over all steps.

use crate::gates::{gru_backward, lstm_backward, rnn_backward};
use crate::gemm::{Mat, MatMut};
use crate::simd::{dispatch, Simd};
use crate::threads::{
    par_sgemm, parallel, split, threads_for, zeroed, Job, Ptr, RunJob, SpinBarrier,
};
use crate::tile::{self, Packed};
use crate::{BackwardInputs, BackwardOutputs, CellKind, Dims, Spec};

/// Backpropagation through time for [`forward`](crate::forward), on the path
/// [`isa`](crate::isa) picks.
///
/// # Panics
/// As [`forward`](crate::forward).
pub fn backward(spec: &Spec, dims: Dims, inputs: BackwardInputs<'_>, out: BackwardOutputs<'_>) {
    let Dims { seq, batch, hidden } = dims;
    spec.check(dims);
    let kind = spec.kind;
    let gh = kind.gates() * hidden;
    let nh = batch * hidden;
    let aw = kind.saved_width() * hidden;
    assert_eq!(inputs.weight_hh.len(), gh * hidden);
    assert_eq!(inputs.acts.len(), seq * batch * aw);
    assert_eq!(inputs.h_prev.len(), seq * nh);
    assert_eq!(
        inputs.c_prev.len(),
        if kind.has_cell() { seq * nh } else { 0 }
    );
    assert_eq!(inputs.grad_packed.len(), (seq + 2) * nh);
    assert_eq!(out.gates_x.len(), seq * batch * gh);
    assert_eq!(out.weight_hh.len(), gh * hidden);
    assert_eq!(out.bias_hh.len(), gh);
    assert_eq!(out.h0.len(), nh);
    assert_eq!(out.c0.len(), nh);

    let threads = threads_for(batch * gh * hidden, hidden.div_ceil(4 * tile::LANES));
    let weights = Packed::backward(inputs.weight_hh, kind.gates(), hidden, threads);
    let cells = if kind.has_cell() { nh } else { 0 };
    let mut dh = [
        inputs.grad_packed[seq * nh..(seq + 1) * nh].to_vec(),
        vec![0.0f32; nh],
    ];
    let mut dc = [
        inputs.grad_packed[(seq + 1) * nh..(seq + 1) * nh + cells].to_vec(),
        vec![0.0f32; cells],
    ];
    // GRU's gradient w.r.t. `h W_hh^T + b_hh` differs from the one w.r.t. the input gates.
    let mut gates_h_grad = match kind {
        CellKind::Gru => zeroed(seq * batch * gh),
        _ => Vec::new(),
    };
    let job = BackwardJob {
        spec,
        dims,
        inputs,
        weights: &weights,
        dh: [Ptr::of(&mut dh[0]), Ptr::of(&mut dh[1])],
        dc: [Ptr::of(&mut dc[0]), Ptr::of(&mut dc[1])],
        d_gates_x: Ptr::of(out.gates_x),
        d_gates_h: match kind {
            CellKind::Gru => Ptr::of(&mut gates_h_grad),
            _ => Ptr::null(),
        },
    };
    parallel(threads, |tid, threads, barrier| {
        let tiles = split(weights.tiles, threads, tid);
        let run = RunJob {
            job: &job,
            tiles,
            barrier,
        };
        // SAFETY: the extents were checked above; each worker writes only the units of its
        // own tiles, and the barrier orders each step's gate gradients before the product
        // that reads all of them.
        unsafe { dispatch(run) }
    });
    let last = seq % 2;
    out.h0.copy_from_slice(&dh[last]);
    match kind.has_cell() {
        true => out.c0.copy_from_slice(&dc[last]),
        false => out.c0.fill(0.0),
    }
    // dW_hh = sum_t dG_h[t]^T h_prev[t], one matmul over all steps; db_hh = column sums.
    let dgh_all: &[f32] = match kind {
        CellKind::Gru => &gates_h_grad,
        _ => out.gates_x,
    };
    let rows = seq * batch;
    par_sgemm(
        Mat::new(dgh_all, rows, gh).t(),
        Mat::new(inputs.h_prev, rows, hidden),
        0.0,
        MatMut::new(out.weight_hh, gh, hidden),
    );
    out.bias_hh.fill(0.0);
    for r in dgh_all.chunks_exact(gh) {
        for (b, g) in out.bias_hh.iter_mut().zip(r) {
            *b += g;
        }
    }
}

/// Everything a backward worker reads and writes.
struct BackwardJob<'a> {
    spec: &'a Spec,
    dims: Dims,
    inputs: BackwardInputs<'a>,
    weights: &'a Packed,
    /// Double-buffered `[N, H]` gradients of the state: step `s` (counting down from the
    /// last) reads `[s % 2]` and writes `[(s + 1) % 2]`.
    dh: [Ptr; 2],
    dc: [Ptr; 2],
    /// `[L, N, G*H]`, and GRU's `[L, N, G*H]` hidden-gate gradient (null otherwise).
    d_gates_x: Ptr,
    d_gates_h: Ptr,
}

impl Job for BackwardJob<'_> {
    /// Runs every step for the units of `tiles`.
    ///
    /// # Safety
    /// As [`Job::run`].
    #[inline(always)]
    unsafe fn run<S: Simd>(&self, tiles: std::ops::Range<usize>, barrier: &SpinBarrier) {
        let Dims { seq, batch, hidden } = self.dims;
        let kind = self.spec.kind;
        let gates = kind.gates();
        let gh = gates * hidden;
        let nh = batch * hidden;
        let aw = kind.saved_width() * hidden;
        let upt = self.weights.units_per_tile;
        let width = self.weights.vectors * tile::LANES;
        let mut tile_out = vec![0.0f32; batch * width];
        let units = (tiles.start * upt).min(hidden)..(tiles.end * upt).min(hidden);
        let (u0, w) = (units.start, units.len());
        let grad_out = &self.inputs.grad_packed[..seq * nh];
        let gru = kind == CellKind::Gru;
        let mut round = 0;
        for (k, s) in (0..seq).rev().enumerate() {
            let t = self.spec.time(s, seq);
            let (dh, dh_next) = (self.dh[k % 2], self.dh[(k + 1) % 2]);
            let (dc, dc_next) = (self.dc[k % 2], self.dc[(k + 1) % 2]);
            if w > 0 {
                for n in 0..batch {
                    let at = n * hidden + u0;
                    let row = (t * batch + n) * gh;
                    let dgx = |g: usize| self.d_gates_x.slice_mut(row + g * hidden + u0, w);
                    let dgh = |g: usize| self.d_gates_h.slice_mut(row + g * hidden + u0, w);
                    if !self.spec.active(t, n) {
                        for g in 0..gates {
                            dgx(g).fill(0.0);
                            if gru {
                                dgh(g).fill(0.0);
                            }
                        }
                        dh_next.slice_mut(at, w).copy_from_slice(dh.slice(at, w));
                        if kind.has_cell() {
                            dc_next.slice_mut(at, w).copy_from_slice(dc.slice(at, w));
                        }
                        continue;
                    }
                    let acts_at = (t * batch + n) * aw + u0;
                    let act = |a: usize| &self.inputs.acts[acts_at + a * hidden..][..w];
                    let base = t * nh + at;
                    let d = [&grad_out[base..base + w], dh.slice(at, w)];
                    match kind {
                        CellKind::RnnTanh | CellKind::RnnRelu => {
                            rnn_backward::<S>(kind == CellKind::RnnRelu, act(0), d, dgx(0));
                            dh_next.slice_mut(at, w).fill(0.0);
                        }
                        CellKind::Lstm => lstm_backward::<S>(
                            [act(0), act(1), act(2), act(3), act(4)],
                            &self.inputs.c_prev[base..base + w],
                            d,
                            dc.slice(at, w),
                            [dgx(0), dgx(1), dgx(2), dgx(3)],
                            dc_next.slice_mut(at, w),
                            dh_next.slice_mut(at, w),
                        ),
                        CellKind::Gru => gru_backward::<S>(
                            [act(0), act(1), act(2), act(3)],
                            &self.inputs.h_prev[base..base + w],
                            d,
                            [dgx(0), dgx(1), dgx(2)],
                            [dgh(0), dgh(1), dgh(2)],
                            dh_next.slice_mut(at, w),
                        ),
                    }
                }
            }
            barrier.wait(&mut round);
            // dh_prev += dG_h[t] W_hh for this worker's units.
            let dg = match gru {
                true => self.d_gates_h,
                false => self.d_gates_x,
            };
            let dg_t = dg.slice(t * batch * gh, batch * gh);
            for tile_index in tiles.clone() {
                let tu0 = tile_index * upt;
                let tw = upt.min(hidden - tu0);
                tile::tile_product::<S>(batch, dg_t, gh, self.weights, tile_index, &mut tile_out);
                for n in 0..batch {
                    let dst = dh_next.slice_mut(n * hidden + tu0, tw);
                    for (x, y) in dst.iter_mut().zip(&tile_out[n * width..n * width + tw]) {
                        *x += y;
                    }
                }
            }
            // The next step's gate gradients go to another time step's rows, and this
            // worker's state gradients are its own: no second barrier.
        }
    }
}
