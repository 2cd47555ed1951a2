//! The forward: every time step, one worker per range of hidden-unit tiles.

use crate::gates::{gru_forward, lstm_forward, rnn_forward};
use crate::simd::{dispatch, Simd};
use crate::threads::{parallel, split, threads_for, Job, Ptr, RunJob, SpinBarrier};
use crate::tile::{self, Packed};
use crate::{CellKind, Dims, ForwardInputs, Saved, Spec};

/// Runs a whole sequence on the path [`isa`](crate::isa) picks.
///
/// # Shapes
/// - `inputs`: see [`ForwardInputs`]
/// - `packed`: `[L + 2, N, H]`, written whole: outputs (zero past each length), final `h`,
///   final `c` (zeros for RNN and GRU)
/// - `saved`: see [`Saved`]; `None` for inference
///
/// # Panics
/// If a buffer's length is not the one its shape gives, or `spec.lengths` does not hold `N`
/// lengths in `0..=L`.
pub fn forward(
    spec: &Spec,
    dims: Dims,
    inputs: ForwardInputs<'_>,
    packed: &mut [f32],
    saved: Option<Saved<'_>>,
) {
    let Dims { seq, batch, hidden } = dims;
    spec.check(dims);
    let kind = spec.kind;
    let (gh, nh) = (kind.gates() * hidden, batch * hidden);
    check_lengths(kind, dims, &inputs, packed.len());
    let aw = kind.saved_width() * hidden;
    let (acts, h_prev, c_prev) = match saved {
        Some(s) => {
            assert_eq!(s.acts.len(), seq * batch * aw);
            assert_eq!(s.h_prev.len(), seq * nh);
            assert_eq!(s.c_prev.len(), if kind.has_cell() { seq * nh } else { 0 });
            (Ptr::of(s.acts), Ptr::of(s.h_prev), Ptr::of(s.c_prev))
        }
        None => (Ptr::null(), Ptr::null(), Ptr::null()),
    };
    let unit_tile = if kind.gates() == 1 {
        4 * tile::LANES
    } else {
        tile::LANES
    };
    let threads = threads_for(batch * gh * hidden, hidden.div_ceil(unit_tile));
    let weights = Packed::forward(inputs.weight_hh, kind.gates(), hidden, threads);
    let cells = if kind.has_cell() { nh } else { 0 };
    let mut h = [inputs.h0.to_vec(), vec![0.0f32; nh]];
    let mut c = [inputs.c0[..cells].to_vec(), vec![0.0f32; cells]];
    let job = ForwardJob {
        spec,
        dims,
        gates_x: inputs.gates_x,
        bias: inputs.bias_hh,
        weights: &weights,
        h: [Ptr::of(&mut h[0]), Ptr::of(&mut h[1])],
        c: [Ptr::of(&mut c[0]), Ptr::of(&mut c[1])],
        out: Ptr::of(&mut packed[..seq * nh]),
        acts,
        h_prev,
        c_prev,
    };
    parallel(threads, |tid, threads, barrier| {
        let tiles = split(weights.tiles, threads, tid);
        let run = RunJob {
            job: &job,
            tiles,
            barrier,
        };
        // SAFETY: the extents were checked above; each worker writes only the units of its
        // own tiles, and the barrier orders every step's writes before the next step's reads.
        unsafe { dispatch(run) }
    });
    let last = seq % 2;
    let (_, finals) = packed.split_at_mut(seq * nh);
    let (h_final, c_final) = finals.split_at_mut(nh);
    h_final.copy_from_slice(&h[last]);
    match kind.has_cell() {
        true => c_final.copy_from_slice(&c[last]),
        false => c_final.fill(0.0),
    }
}

/// Panics unless every input, and `packed` (`packed_len`), has the length its shape gives.
fn check_lengths(kind: CellKind, dims: Dims, inputs: &ForwardInputs<'_>, packed_len: usize) {
    let Dims { seq, batch, hidden } = dims;
    let (gh, nh) = (kind.gates() * hidden, batch * hidden);
    assert_eq!(inputs.gates_x.len(), seq * batch * gh);
    assert_eq!(inputs.weight_hh.len(), gh * hidden);
    assert_eq!(inputs.bias_hh.len(), gh);
    assert_eq!(inputs.h0.len(), nh);
    assert_eq!(packed_len, (seq + 2) * nh);
    if kind.has_cell() {
        assert_eq!(inputs.c0.len(), nh);
    }
}

/// Everything a forward worker reads and writes (shared raw buffers: the workers write
/// disjoint units).
struct ForwardJob<'a> {
    spec: &'a Spec,
    dims: Dims,
    gates_x: &'a [f32],
    bias: &'a [f32],
    weights: &'a Packed,
    /// Double-buffered `[N, H]` states: step `s` reads `[s % 2]` and writes `[(s + 1) % 2]`.
    h: [Ptr; 2],
    c: [Ptr; 2],
    /// `[L, N, H]`
    out: Ptr,
    /// `[L, N, A*H]`, `[L, N, H]`, `[L, N, H]` or null when not saving.
    acts: Ptr,
    h_prev: Ptr,
    c_prev: Ptr,
}

/// One step's double-buffered states.
struct StepState {
    /// The step's time index.
    t: usize,
    /// `[N, H]`: the state the step starts from, read.
    h: Ptr,
    c: Ptr,
    /// `[N, H]`: the state it produces, written.
    h_next: Ptr,
    c_next: Ptr,
}

impl ForwardJob<'_> {
    /// Copies the step's starting state of `units` into the saved `h_prev` / `c_prev` rows.
    ///
    /// # Safety
    /// As [`Job::run`]: the worker owns `units` of every row it writes.
    #[inline(always)]
    unsafe fn save_state(&self, st: &StepState, units: &std::ops::Range<usize>) {
        let Dims { batch, hidden, .. } = self.dims;
        let nh = batch * hidden;
        for n in 0..batch {
            let (at, w) = (n * hidden + units.start, units.len());
            let dst = self.h_prev.slice_mut(st.t * nh + at, w);
            dst.copy_from_slice(st.h.slice(at, w));
            if self.spec.kind.has_cell() {
                let dst = self.c_prev.slice_mut(st.t * nh + at, w);
                dst.copy_from_slice(st.c.slice(at, w));
            }
        }
    }

    /// The gate math of sequence `n` for the units of the tile starting at unit `u0` (`w`
    /// units), from the tile product `tile_out: [N, tile width]`: the new state, the output
    /// row and the activations (into `scratch` when not saving). A sequence past its length
    /// keeps its state and outputs zero.
    ///
    /// # Safety
    /// As [`Job::run`]: the worker owns these units of every row it writes.
    #[inline(always)]
    unsafe fn gates<S: Simd>(
        &self,
        st: &StepState,
        n: usize,
        [u0, w]: [usize; 2],
        tile_out: &[f32],
        scratch: &mut [f32],
    ) {
        let Dims { batch, hidden, .. } = self.dims;
        let kind = self.spec.kind;
        let (gh, nh, aw) = (
            kind.gates() * hidden,
            batch * hidden,
            kind.saved_width() * hidden,
        );
        let width = self.weights.vectors * tile::LANES;
        let (tile_gate_width, upt) = (width / kind.gates(), self.weights.units_per_tile);
        let (t, h, c, h_next, c_next) = (st.t, st.h, st.c, st.h_next, st.c_next);
        let at = n * hidden + u0;
        let out = self.out.slice_mut(t * nh + at, w);
        if !self.spec.active(t, n) {
            h_next.slice_mut(at, w).copy_from_slice(h.slice(at, w));
            if kind.has_cell() {
                c_next.slice_mut(at, w).copy_from_slice(c.slice(at, w));
            }
            out.fill(0.0);
            return;
        }
        let row = (t * batch + n) * gh;
        let acts_at = (t * batch + n) * aw + u0;
        let mut acts: [&mut [f32]; 5] = Default::default();
        for (a, slot) in acts.iter_mut().enumerate().take(kind.saved_width()) {
            *slot = match self.acts.is_null() {
                false => self.acts.slice_mut(acts_at + a * hidden, w),
                true => {
                    let p = scratch.as_mut_ptr().add(a * upt);
                    std::slice::from_raw_parts_mut(p, w)
                }
            };
        }
        let gx = |g: usize| &self.gates_x[row + g * hidden + u0..][..w];
        let hg = |g: usize| &tile_out[n * width + g * tile_gate_width..][..w];
        let b = |g: usize| &self.bias[g * hidden + u0..][..w];
        let h_new = h_next.slice_mut(at, w);
        let c_old = if kind.has_cell() { c.slice(at, w) } else { &[] };
        let c_new = match kind.has_cell() {
            true => c_next.slice_mut(at, w),
            false => &mut [][..],
        };
        match kind {
            CellKind::RnnTanh | CellKind::RnnRelu => {
                let [a0, ..] = acts;
                let relu = kind == CellKind::RnnRelu;
                rnn_forward::<S>(relu, gx(0), hg(0), b(0), h_new, a0);
            }
            CellKind::Lstm => lstm_forward::<S>(
                [gx(0), gx(1), gx(2), gx(3)],
                [hg(0), hg(1), hg(2), hg(3)],
                [b(0), b(1), b(2), b(3)],
                c_old,
                c_new,
                h_new,
                acts,
            ),
            CellKind::Gru => {
                let [a0, a1, a2, a3, _] = acts;
                gru_forward::<S>(
                    [gx(0), gx(1), gx(2)],
                    [hg(0), hg(1), hg(2)],
                    [b(0), b(1), b(2)],
                    h.slice(at, w),
                    h_new,
                    [a0, a1, a2, a3],
                )
            }
        }
        out.copy_from_slice(h_next.slice(at, w));
    }
}

impl Job for ForwardJob<'_> {
    /// Runs every step for the units of `tiles`.
    ///
    /// # Safety
    /// As [`Job::run`].
    #[inline(always)]
    unsafe fn run<S: Simd>(&self, tiles: std::ops::Range<usize>, barrier: &SpinBarrier) {
        let Dims { seq, batch, hidden } = self.dims;
        let upt = self.weights.units_per_tile;
        let mut tile_out = vec![0.0f32; batch * self.weights.vectors * tile::LANES];
        let mut scratch_acts = vec![0.0f32; self.spec.kind.saved_width() * upt];
        let units = (tiles.start * upt).min(hidden)..(tiles.end * upt).min(hidden);
        let mut round = 0;
        for s in 0..seq {
            let st = StepState {
                t: self.spec.time(s, seq),
                h: self.h[s % 2],
                c: self.c[s % 2],
                h_next: self.h[(s + 1) % 2],
                c_next: self.c[(s + 1) % 2],
            };
            if !self.h_prev.is_null() {
                self.save_state(&st, &units);
            }
            let h_all = st.h.slice(0, batch * hidden);
            for tile_index in tiles.clone() {
                let u0 = tile_index * upt;
                let w = upt.min(hidden - u0);
                tile::tile_product::<S>(
                    batch,
                    h_all,
                    hidden,
                    self.weights,
                    tile_index,
                    &mut tile_out,
                );
                for n in 0..batch {
                    self.gates::<S>(&st, n, [u0, w], &tile_out, &mut scratch_acts);
                }
            }
            barrier.wait(&mut round);
        }
    }
}
