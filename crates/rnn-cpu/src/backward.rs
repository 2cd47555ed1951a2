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
    check_lengths(kind, dims, &inputs, &out);
    let (gh, nh) = (kind.gates() * hidden, batch * hidden);

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
    hidden_weight_grads(dgh_all, inputs.h_prev, gh, out.weight_hh, out.bias_hh);
}

/// Panics unless every buffer has the length its shape gives.
fn check_lengths(
    kind: CellKind,
    dims: Dims,
    inputs: &BackwardInputs<'_>,
    out: &BackwardOutputs<'_>,
) {
    let Dims { seq, batch, hidden } = dims;
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
}

/// `dW_hh = dG^T H` over all `rows = L * N` rows (`dgh: [rows, G*H]`, `h_prev: [rows, H]`)
/// and `db_hh` = the column sums of `dgh`.
fn hidden_weight_grads(
    dgh: &[f32],
    h_prev: &[f32],
    gh: usize,
    weight: &mut [f32],
    bias: &mut [f32],
) {
    let rows = dgh.len() / gh;
    let hidden = h_prev.len() / rows.max(1);
    par_sgemm(
        Mat::new(dgh, rows, gh).t(),
        Mat::new(h_prev, rows, hidden),
        0.0,
        MatMut::new(weight, gh, hidden),
    );
    bias.fill(0.0);
    for r in dgh.chunks_exact(gh) {
        for (b, g) in bias.iter_mut().zip(r) {
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

/// The state gradients of one step (counting down), double-buffered.
struct StepState {
    /// The step's time index.
    t: usize,
    /// `[N, H]`: the gradient of the state this step produced, read.
    dh: Ptr,
    /// `[N, H]`: the gradient of the state it started from, written.
    dh_next: Ptr,
    /// The same for the cell state (LSTM; unused otherwise).
    dc: Ptr,
    dc_next: Ptr,
}

impl BackwardJob<'_> {
    /// The gate gradients of sequence `n` at step `st.t` for hidden units `units`, and the
    /// state gradients they pass back (before `dG W_hh` is added). A sequence past its length
    /// passes its gradient through unchanged.
    ///
    /// # Safety
    /// As [`Job::run`]: the worker owns `units` of every row it writes.
    #[inline(always)]
    unsafe fn gate_grads<S: Simd>(&self, st: &StepState, n: usize, units: std::ops::Range<usize>) {
        let Dims { seq, batch, hidden } = self.dims;
        let kind = self.spec.kind;
        let (gates, gru) = (kind.gates(), kind == CellKind::Gru);
        let (gh, nh, aw) = (gates * hidden, batch * hidden, kind.saved_width() * hidden);
        let (t, u0, w) = (st.t, units.start, units.len());
        let at = n * hidden + u0;
        let row = (t * batch + n) * gh;
        let dgx = |g: usize| self.d_gates_x.slice_mut(row + g * hidden + u0, w);
        let dgh = |g: usize| self.d_gates_h.slice_mut(row + g * hidden + u0, w);
        let (dh, dh_next, dc, dc_next) = (st.dh, st.dh_next, st.dc, st.dc_next);
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
            return;
        }
        let acts_at = (t * batch + n) * aw + u0;
        let act = |a: usize| &self.inputs.acts[acts_at + a * hidden..][..w];
        let base = t * nh + at;
        let grad_out = &self.inputs.grad_packed[..seq * nh];
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

    /// `dh_prev += dG_t W_hh` for the units of `tiles` (`dg_t: [N, G*H]`, all the step's gate
    /// gradients), through `tile_out: [N, tile width]`.
    ///
    /// # Safety
    /// As [`Job::run`]: the worker owns the units of `tiles` in `dh_next`.
    #[inline(always)]
    unsafe fn add_tile_products<S: Simd>(
        &self,
        dg_t: &[f32],
        tiles: std::ops::Range<usize>,
        dh_next: Ptr,
        tile_out: &mut [f32],
    ) {
        let Dims { batch, hidden, .. } = self.dims;
        let gh = self.spec.kind.gates() * hidden;
        let upt = self.weights.units_per_tile;
        let width = self.weights.vectors * tile::LANES;
        for tile_index in tiles {
            let tu0 = tile_index * upt;
            let tw = upt.min(hidden - tu0);
            tile::tile_product::<S>(batch, dg_t, gh, self.weights, tile_index, tile_out);
            for n in 0..batch {
                let dst = dh_next.slice_mut(n * hidden + tu0, tw);
                for (x, y) in dst.iter_mut().zip(&tile_out[n * width..n * width + tw]) {
                    *x += y;
                }
            }
        }
    }
}

impl Job for BackwardJob<'_> {
    /// Runs every step for the units of `tiles`.
    ///
    /// # Safety
    /// As [`Job::run`].
    #[inline(always)]
    unsafe fn run<S: Simd>(&self, tiles: std::ops::Range<usize>, barrier: &SpinBarrier) {
        let Dims { seq, batch, hidden } = self.dims;
        let gh = self.spec.kind.gates() * hidden;
        let upt = self.weights.units_per_tile;
        let mut tile_out = vec![0.0f32; batch * self.weights.vectors * tile::LANES];
        let units = (tiles.start * upt).min(hidden)..(tiles.end * upt).min(hidden);
        let gru = self.spec.kind == CellKind::Gru;
        let mut round = 0;
        for (k, s) in (0..seq).rev().enumerate() {
            let t = self.spec.time(s, seq);
            let (dh, dh_next) = (self.dh[k % 2], self.dh[(k + 1) % 2]);
            let (dc, dc_next) = (self.dc[k % 2], self.dc[(k + 1) % 2]);
            if !units.is_empty() {
                let step = StepState {
                    t,
                    dh,
                    dh_next,
                    dc,
                    dc_next,
                };
                for n in 0..batch {
                    self.gate_grads::<S>(&step, n, units.clone());
                }
            }
            barrier.wait(&mut round);
            // dh_prev += dG_h[t] W_hh for this worker's units.
            let dg = match gru {
                true => self.d_gates_h,
                false => self.d_gates_x,
            };
            let dg_t = dg.slice(t * batch * gh, batch * gh);
            self.add_tile_products::<S>(dg_t, tiles.clone(), dh_next, &mut tile_out);
            // The next step's gate gradients go to another time step's rows, and this
            // worker's state gradients are its own: no second barrier.
        }
    }
}
