//! Fused whole-sequence kernels on raw `f32` buffers (what the ndarray backend runs).
//!
//! Per step, forward: ONE matmul `h W_hh^T` into a scratch `[N, G*H]` that stays in cache,
//! then ONE pass over it that adds the hoisted input slice and the bias, applies the gate
//! math, writes the new state, the output row and (when training) the activations backward
//! needs. Backward (Haste's layout): ONE pass per step that turns the incoming gradient into
//! the gate gradients, then ONE matmul `dG W_hh` for the previous state's gradient; the weight
//! gradient is a single matmul over all steps at the end. Nothing is allocated inside the
//! time loop.
//!
//! Buffers are row-major; `L` steps, `N` sequences, `H` hidden units, `G` gates.

#[cfg(target_arch = "x86_64")]
mod avx512;
mod gemm;
pub mod math;
mod pool;
pub mod tile;

use std::sync::atomic::{AtomicUsize, Ordering};

pub use gemm::{sgemm, Mat, MatMut};

use super::{RecurrentKind, RecurrentSpec};
use math::{sigmoid, tanh};
use tile::Packed;

/// Sizes of one whole-sequence call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// `L`
    pub seq: usize,
    /// `N`
    pub batch: usize,
    /// `H`
    pub hidden: usize,
}

/// The forward's inputs.
#[derive(Debug, Clone, Copy)]
pub struct ForwardInputs<'a> {
    /// `[L, N, G*H]`
    pub gates_x: &'a [f32],
    /// `[G*H, H]`
    pub weight_hh: &'a [f32],
    /// `[G*H]`
    pub bias_hh: &'a [f32],
    /// `[N, H]`
    pub h0: &'a [f32],
    /// `[N, H]` (read for LSTM only)
    pub c0: &'a [f32],
}

/// What the forward keeps for the backward (time order).
#[derive(Debug)]
pub struct Saved<'a> {
    /// `[L, N, A*H]`, see [`RecurrentKind::saved_width`].
    pub acts: &'a mut [f32],
    /// `[L, N, H]`: the hidden state each step started from.
    pub h_prev: &'a mut [f32],
    /// `[L, N, H]`: the cell state each step started from (LSTM; empty otherwise).
    pub c_prev: &'a mut [f32],
}

/// Runs a whole sequence.
///
/// # Shapes
/// - `inputs`: see [`ForwardInputs`]
/// - `packed`: `[L + 2, N, H]`, written whole: outputs (zero past each length), final `h`,
///   final `c` (zeros for RNN and GRU)
/// - `saved`: see [`Saved`]; `None` for inference
pub fn forward(
    spec: &RecurrentSpec,
    dims: Dims,
    inputs: ForwardInputs<'_>,
    packed: &mut [f32],
    saved: Option<Saved<'_>>,
) {
    forward_impl(spec, dims, inputs, packed, saved)
}

fn forward_impl(
    spec: &RecurrentSpec,
    dims: Dims,
    inputs: ForwardInputs<'_>,
    packed: &mut [f32],
    saved: Option<Saved<'_>>,
) {
    let Dims { seq, batch, hidden } = dims;
    let kind = spec.kind;
    let gh = kind.gates() * hidden;
    let nh = batch * hidden;
    assert_eq!(inputs.gates_x.len(), seq * batch * gh);
    assert_eq!(inputs.weight_hh.len(), gh * hidden);
    assert_eq!(inputs.bias_hh.len(), gh);
    assert_eq!(inputs.h0.len(), nh);
    assert_eq!(packed.len(), (seq + 2) * nh);
    if kind.has_cell() {
        assert_eq!(inputs.c0.len(), nh);
    }
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
    let weights = Packed::forward(inputs.weight_hh, kind.gates(), hidden);
    let cells = if kind.has_cell() { nh } else { 0 };
    let mut h = [inputs.h0.to_vec(), vec![0.0f32; nh]];
    let mut c = [inputs.c0[..cells].to_vec(), vec![0.0f32; cells]];
    let threads = threads_for(batch * gh * hidden, weights.tiles);
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
        simd: has_avx512(),
    };
    parallel(threads, |tid, threads, barrier| {
        let tiles = split(weights.tiles, threads, tid);
        // SAFETY: each worker writes only the units of its own tiles; the barrier orders
        // every step's writes before the next step's reads.
        unsafe { run_best(&job, job.simd, tiles, barrier) }
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

/// A worker's share of a call: every time step for a range of tiles.
trait Job: Sync {
    /// Runs every step for the units of `tiles`.
    ///
    /// # Safety
    /// The buffers must have the extents the call checked, and concurrent workers must own
    /// disjoint tile ranges and share `barrier`.
    unsafe fn run(&self, tiles: std::ops::Range<usize>, barrier: &SpinBarrier);
}

/// [`Job::run`] compiled for the best instruction set this CPU has (`simd`: AVX-512F was
/// detected and is not turned off).
///
/// # Safety
/// As [`Job::run`].
unsafe fn run_best<J: Job>(job: &J, simd: bool, tiles: std::ops::Range<usize>, b: &SpinBarrier) {
    #[cfg(target_arch = "x86_64")]
    {
        if simd {
            return run_avx512(job, tiles, b);
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return run_avx2(job, tiles, b);
        }
    }
    let _ = simd;
    job.run(tiles, b)
}

/// # Safety
/// As [`Job::run`], and the CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn run_avx512<J: Job>(job: &J, tiles: std::ops::Range<usize>, b: &SpinBarrier) {
    job.run(tiles, b)
}

/// # Safety
/// As [`Job::run`], and the CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<J: Job>(job: &J, tiles: std::ops::Range<usize>, b: &SpinBarrier) {
    job.run(tiles, b)
}

/// Everything a forward worker reads and writes (shared raw buffers: the workers write
/// disjoint units).
struct ForwardJob<'a> {
    spec: &'a RecurrentSpec,
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
    simd: bool,
}

impl Job for ForwardJob<'_> {
    /// Runs every step for the units of `tiles`.
    ///
    /// # Safety
    /// The buffers must have the extents `forward_impl` checked, and concurrent workers must
    /// own disjoint tile ranges and share `barrier`.
    #[inline(always)]
    unsafe fn run(&self, tiles: std::ops::Range<usize>, barrier: &SpinBarrier) {
        let Dims { seq, batch, hidden } = self.dims;
        let kind = self.spec.kind;
        let gates = kind.gates();
        let gh = gates * hidden;
        let nh = batch * hidden;
        let aw = kind.saved_width() * hidden;
        let upt = self.weights.units_per_tile;
        let mr = self.weights.rows_per_tile();
        let width = self.weights.vectors * tile::LANES;
        let tile_gate_width = width / gates;
        let mut tile_out = vec![0.0f32; mr * width];
        let mut a_packed = Vec::new();
        let mut scratch_acts = vec![0.0f32; kind.saved_width() * upt];
        let units = (tiles.start * upt).min(hidden)..(tiles.end * upt).min(hidden);
        let mut round = 0;
        for s in 0..seq {
            let t = self.spec.time(s, seq);
            let (h, h_next) = (self.h[s % 2], self.h[(s + 1) % 2]);
            let (c, c_next) = (self.c[s % 2], self.c[(s + 1) % 2]);
            if !self.h_prev.is_null() {
                for n in 0..batch {
                    let row = n * hidden + units.start..n * hidden + units.end;
                    let dst = self.h_prev.slice_mut(t * nh + row.start, row.len());
                    dst.copy_from_slice(h.slice(row.start, row.len()));
                    if kind.has_cell() {
                        let dst = self.c_prev.slice_mut(t * nh + row.start, row.len());
                        dst.copy_from_slice(c.slice(row.start, row.len()));
                    }
                }
            }
            tile::pack_rows(h.slice(0, nh), batch, hidden, hidden, mr, &mut a_packed);
            for tile_index in tiles.clone() {
                let u0 = tile_index * upt;
                let w = upt.min(hidden - u0);
                for r0 in (0..batch).step_by(mr) {
                    let rows = mr.min(batch - r0);
                    tile::tile_product(
                        rows,
                        &a_packed[r0 * hidden..],
                        self.weights,
                        tile_index,
                        &mut tile_out,
                        self.simd,
                    );
                    for i in 0..rows {
                        let n = r0 + i;
                        let at = n * hidden + u0;
                        let out = self.out.slice_mut(t * nh + at, w);
                        if !self.spec.active(t, n) {
                            h_next.slice_mut(at, w).copy_from_slice(h.slice(at, w));
                            if kind.has_cell() {
                                c_next.slice_mut(at, w).copy_from_slice(c.slice(at, w));
                            }
                            out.fill(0.0);
                            continue;
                        }
                        let row = (t * batch + n) * gh;
                        let acts_at = (t * batch + n) * aw + u0;
                        let mut acts: [&mut [f32]; 5] = Default::default();
                        for (a, slot) in acts.iter_mut().enumerate().take(kind.saved_width()) {
                            *slot = match self.acts.is_null() {
                                false => self.acts.slice_mut(acts_at + a * hidden, w),
                                true => {
                                    let p = scratch_acts.as_mut_ptr().add(a * upt);
                                    std::slice::from_raw_parts_mut(p, w)
                                }
                            };
                        }
                        let gx = |g: usize| &self.gates_x[row + g * hidden + u0..][..w];
                        let hg = |g: usize| &tile_out[i * width + g * tile_gate_width..][..w];
                        let b = |g: usize| &self.bias[g * hidden + u0..][..w];
                        let h_new = h_next.slice_mut(at, w);
                        let c_old = if kind.has_cell() { c.slice(at, w) } else { &[] };
                        let c_new = match kind.has_cell() {
                            true => c_next.slice_mut(at, w),
                            false => &mut [][..],
                        };
                        #[cfg(target_arch = "x86_64")]
                        if self.simd {
                            // SAFETY: `simd` is set only where AVX-512F was detected.
                            match kind {
                                RecurrentKind::RnnTanh | RecurrentKind::RnnRelu => {
                                    let [a0, ..] = acts;
                                    avx512::rnn_forward(kind, gx(0), hg(0), b(0), h_new, a0);
                                }
                                RecurrentKind::Lstm => avx512::lstm_forward(
                                    [gx(0), gx(1), gx(2), gx(3)],
                                    [hg(0), hg(1), hg(2), hg(3)],
                                    [b(0), b(1), b(2), b(3)],
                                    c_old,
                                    c_new,
                                    h_new,
                                    acts,
                                ),
                                RecurrentKind::Gru => {
                                    let [a0, a1, a2, a3, _] = acts;
                                    avx512::gru_forward(
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
                            continue;
                        }
                        match kind {
                            RecurrentKind::RnnTanh | RecurrentKind::RnnRelu => {
                                let [a0, ..] = acts;
                                rnn_forward(kind, gx(0), hg(0), b(0), h_new, a0);
                            }
                            RecurrentKind::Lstm => lstm_forward(
                                [gx(0), gx(1), gx(2), gx(3)],
                                [hg(0), hg(1), hg(2), hg(3)],
                                [b(0), b(1), b(2), b(3)],
                                c_old,
                                c_new,
                                h_new,
                                acts,
                            ),
                            RecurrentKind::Gru => {
                                let [a0, a1, a2, a3, _] = acts;
                                gru_forward(
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
            }
            barrier.wait(&mut round);
        }
    }
}

/// `h' = act(gx + gh + b)`; saves `h'`.
#[inline(always)]
fn rnn_forward(
    kind: RecurrentKind,
    gx: &[f32],
    gh: &[f32],
    b: &[f32],
    h_new: &mut [f32],
    act: &mut [f32],
) {
    let w = h_new.len();
    let (gx, gh, b, act) = (&gx[..w], &gh[..w], &b[..w], &mut act[..w]);
    let relu = kind == RecurrentKind::RnnRelu;
    for j in 0..w {
        let p = gx[j] + gh[j] + b[j];
        let v = if relu { p.max(0.0) } else { tanh(p) };
        h_new[j] = v;
        act[j] = v;
    }
}

/// LSTM gates `i, f, g, o`; saves `i, f, g, o, tanh(c')`.
#[inline(always)]
fn lstm_forward(
    gx: [&[f32]; 4],
    gh: [&[f32]; 4],
    b: [&[f32]; 4],
    c: &[f32],
    c_new: &mut [f32],
    h_new: &mut [f32],
    acts: [&mut [f32]; 5],
) {
    let w = h_new.len();
    let [ai, af, ag, ao, atc] = acts;
    let (ai, af, ag, ao, atc) = (
        &mut ai[..w],
        &mut af[..w],
        &mut ag[..w],
        &mut ao[..w],
        &mut atc[..w],
    );
    let (c, c_new) = (&c[..w], &mut c_new[..w]);
    let (xi, xf, xg, xo) = (&gx[0][..w], &gx[1][..w], &gx[2][..w], &gx[3][..w]);
    let (hi, hf, hg, ho) = (&gh[0][..w], &gh[1][..w], &gh[2][..w], &gh[3][..w]);
    let (bi, bf, bg, bo) = (&b[0][..w], &b[1][..w], &b[2][..w], &b[3][..w]);
    for j in 0..w {
        let i = sigmoid(xi[j] + hi[j] + bi[j]);
        let f = sigmoid(xf[j] + hf[j] + bf[j]);
        let g = tanh(xg[j] + hg[j] + bg[j]);
        let o = sigmoid(xo[j] + ho[j] + bo[j]);
        let cn = f * c[j] + i * g;
        let tc = tanh(cn);
        c_new[j] = cn;
        h_new[j] = o * tc;
        ai[j] = i;
        af[j] = f;
        ag[j] = g;
        ao[j] = o;
        atc[j] = tc;
    }
}

/// GRU gates `r, z, n` (reset gate on `W_hn h + b_hn`); saves `r, z, n, W_hn h + b_hn`.
#[inline(always)]
fn gru_forward(
    gx: [&[f32]; 3],
    gh: [&[f32]; 3],
    b: [&[f32]; 3],
    h: &[f32],
    h_new: &mut [f32],
    acts: [&mut [f32]; 4],
) {
    let w = h_new.len();
    let [ar, az, an, ahn] = acts;
    let (ar, az, an, ahn) = (&mut ar[..w], &mut az[..w], &mut an[..w], &mut ahn[..w]);
    let h = &h[..w];
    let (xr, xz, xn) = (&gx[0][..w], &gx[1][..w], &gx[2][..w]);
    let (hr, hz, hn) = (&gh[0][..w], &gh[1][..w], &gh[2][..w]);
    let (br, bz, bn) = (&b[0][..w], &b[1][..w], &b[2][..w]);
    for j in 0..w {
        let r = sigmoid(xr[j] + hr[j] + br[j]);
        let z = sigmoid(xz[j] + hz[j] + bz[j]);
        let ghn = hn[j] + bn[j];
        let n = tanh(xn[j] + r * ghn);
        h_new[j] = n + z * (h[j] - n);
        ar[j] = r;
        az[j] = z;
        an[j] = n;
        ahn[j] = ghn;
    }
}

/// The backward's inputs: the forward's saved buffers and the incoming gradient.
#[derive(Debug, Clone, Copy)]
pub struct BackwardInputs<'a> {
    /// `[G*H, H]`
    pub weight_hh: &'a [f32],
    /// `[L, N, A*H]`
    pub acts: &'a [f32],
    /// `[L, N, H]`
    pub h_prev: &'a [f32],
    /// `[L, N, H]` (LSTM) or empty
    pub c_prev: &'a [f32],
    /// `[L + 2, N, H]`: gradient of the packed result
    pub grad_packed: &'a [f32],
}

/// The backward's outputs, written whole.
#[derive(Debug)]
pub struct BackwardOutputs<'a> {
    /// `[L, N, G*H]`
    pub gates_x: &'a mut [f32],
    /// `[G*H, H]`
    pub weight_hh: &'a mut [f32],
    /// `[G*H]`
    pub bias_hh: &'a mut [f32],
    /// `[N, H]`
    pub h0: &'a mut [f32],
    /// `[N, H]`
    pub c0: &'a mut [f32],
}

/// Backpropagation through time for [`forward`].
pub fn backward(
    spec: &RecurrentSpec,
    dims: Dims,
    inputs: BackwardInputs<'_>,
    out: BackwardOutputs<'_>,
) {
    backward_impl(spec, dims, inputs, out)
}

fn backward_impl(
    spec: &RecurrentSpec,
    dims: Dims,
    inputs: BackwardInputs<'_>,
    out: BackwardOutputs<'_>,
) {
    let Dims { seq, batch, hidden } = dims;
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

    let weights = Packed::backward(inputs.weight_hh, kind.gates(), hidden);
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
        RecurrentKind::Gru => zeroed(seq * batch * gh),
        _ => Vec::new(),
    };
    let threads = threads_for(batch * gh * hidden, weights.tiles);
    let job = BackwardJob {
        spec,
        dims,
        inputs,
        weights: &weights,
        dh: [Ptr::of(&mut dh[0]), Ptr::of(&mut dh[1])],
        dc: [Ptr::of(&mut dc[0]), Ptr::of(&mut dc[1])],
        d_gates_x: Ptr::of(out.gates_x),
        d_gates_h: match kind {
            RecurrentKind::Gru => Ptr::of(&mut gates_h_grad),
            _ => Ptr::null(),
        },
        simd: has_avx512(),
    };
    parallel(threads, |tid, threads, barrier| {
        let tiles = split(weights.tiles, threads, tid);
        // SAFETY: each worker writes only the units of its own tiles; the barrier orders
        // each step's gate gradients before the matmul that reads all of them.
        unsafe { run_best(&job, job.simd, tiles, barrier) }
    });
    let last = seq % 2;
    out.h0.copy_from_slice(&dh[last]);
    match kind.has_cell() {
        true => out.c0.copy_from_slice(&dc[last]),
        false => out.c0.fill(0.0),
    }
    // dW_hh = sum_t dG_h[t]^T h_prev[t], one matmul over all steps; db_hh = column sums.
    let dgh_all: &[f32] = match kind {
        RecurrentKind::Gru => &gates_h_grad,
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
    spec: &'a RecurrentSpec,
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
    simd: bool,
}

impl Job for BackwardJob<'_> {
    /// Runs every step for the units of `tiles`.
    ///
    /// # Safety
    /// As `ForwardJob::run`.
    #[inline(always)]
    unsafe fn run(&self, tiles: std::ops::Range<usize>, barrier: &SpinBarrier) {
        let Dims { seq, batch, hidden } = self.dims;
        let kind = self.spec.kind;
        let gates = kind.gates();
        let gh = gates * hidden;
        let nh = batch * hidden;
        let aw = kind.saved_width() * hidden;
        let upt = self.weights.units_per_tile;
        let mr = self.weights.rows_per_tile();
        let width = self.weights.vectors * tile::LANES;
        let mut tile_out = vec![0.0f32; mr * width];
        let mut a_packed = Vec::new();
        let units = (tiles.start * upt).min(hidden)..(tiles.end * upt).min(hidden);
        let (u0, w) = (units.start, units.len());
        let grad_out = &self.inputs.grad_packed[..seq * nh];
        let gru = kind == RecurrentKind::Gru;
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
                        RecurrentKind::RnnTanh | RecurrentKind::RnnRelu => {
                            rnn_backward(kind, act(0), d, dgx(0));
                            dh_next.slice_mut(at, w).fill(0.0);
                        }
                        RecurrentKind::Lstm => lstm_backward(
                            [act(0), act(1), act(2), act(3), act(4)],
                            &self.inputs.c_prev[base..base + w],
                            d,
                            dc.slice(at, w),
                            [dgx(0), dgx(1), dgx(2), dgx(3)],
                            dc_next.slice_mut(at, w),
                            dh_next.slice_mut(at, w),
                        ),
                        RecurrentKind::Gru => gru_backward(
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
            tile::pack_rows(dg_t, batch, gh, gh, mr, &mut a_packed);
            for tile_index in tiles.clone() {
                let tu0 = tile_index * upt;
                let tw = upt.min(hidden - tu0);
                for r0 in (0..batch).step_by(mr) {
                    let rows = mr.min(batch - r0);
                    tile::tile_product(
                        rows,
                        &a_packed[r0 * gh..],
                        self.weights,
                        tile_index,
                        &mut tile_out,
                        self.simd,
                    );
                    for i in 0..rows {
                        let dst = dh_next.slice_mut((r0 + i) * hidden + tu0, tw);
                        for (x, y) in dst.iter_mut().zip(&tile_out[i * width..i * width + tw]) {
                            *x += y;
                        }
                    }
                }
            }
            // The next step's gate gradients go to another time step's rows, and this
            // worker's state gradients are its own: no second barrier.
        }
    }
}

/// `dpre = (dout + dh) * act'(h')`.
#[inline(always)]
fn rnn_backward(kind: RecurrentKind, h_new: &[f32], d: [&[f32]; 2], dgx: &mut [f32]) {
    let w = dgx.len();
    let (h_new, d_out, dh) = (&h_new[..w], &d[0][..w], &d[1][..w]);
    let relu = kind == RecurrentKind::RnnRelu;
    for j in 0..w {
        let v = h_new[j];
        let deriv = match relu {
            true => (v > 0.0) as u32 as f32,
            false => 1.0 - v * v,
        };
        dgx[j] = (d_out[j] + dh[j]) * deriv;
    }
}

/// LSTM gate gradients and the cell state's gradient; `dh_prev` gets 0 (the matmul adds).
#[inline(always)]
fn lstm_backward(
    acts: [&[f32]; 5],
    c_prev: &[f32],
    d: [&[f32]; 2],
    dc: &[f32],
    dgx: [&mut [f32]; 4],
    dc_prev: &mut [f32],
    dh_prev: &mut [f32],
) {
    let w = dh_prev.len();
    let [ai, af, ag, ao, atc] = acts;
    let (ai, af, ag, ao, atc) = (&ai[..w], &af[..w], &ag[..w], &ao[..w], &atc[..w]);
    let (c_prev, d_out, dh, dc) = (&c_prev[..w], &d[0][..w], &d[1][..w], &dc[..w]);
    let [di, df, dg, d_o] = dgx;
    let (di, df, dg, d_o) = (&mut di[..w], &mut df[..w], &mut dg[..w], &mut d_o[..w]);
    let dc_prev = &mut dc_prev[..w];
    for j in 0..w {
        let (i, f, g, o, tc) = (ai[j], af[j], ag[j], ao[j], atc[j]);
        let dht = d_out[j] + dh[j];
        let dct = dc[j] + dht * o * (1.0 - tc * tc);
        di[j] = dct * g * i * (1.0 - i);
        df[j] = dct * c_prev[j] * f * (1.0 - f);
        dg[j] = dct * i * (1.0 - g * g);
        d_o[j] = dht * tc * o * (1.0 - o);
        dc_prev[j] = dct * f;
        dh_prev[j] = 0.0;
    }
}

/// GRU gate gradients (input side and hidden side) and the direct part of `dh_prev`.
#[inline(always)]
fn gru_backward(
    acts: [&[f32]; 4],
    h_prev: &[f32],
    d: [&[f32]; 2],
    dgx: [&mut [f32]; 3],
    dgh: [&mut [f32]; 3],
    dh_prev: &mut [f32],
) {
    let w = dh_prev.len();
    let [ar, az, an, ahn] = acts;
    let (ar, az, an, ahn) = (&ar[..w], &az[..w], &an[..w], &ahn[..w]);
    let (h, d_out, dh) = (&h_prev[..w], &d[0][..w], &d[1][..w]);
    let [xr, xz, xn] = dgx;
    let (xr, xz, xn) = (&mut xr[..w], &mut xz[..w], &mut xn[..w]);
    let [hr, hz, hn] = dgh;
    let (hr, hz, hn) = (&mut hr[..w], &mut hz[..w], &mut hn[..w]);
    for j in 0..w {
        let (r, z, n, ghn) = (ar[j], az[j], an[j], ahn[j]);
        let dht = d_out[j] + dh[j];
        let dpn = dht * (1.0 - z) * (1.0 - n * n);
        let dpr = dpn * ghn * r * (1.0 - r);
        let dpz = dht * (h[j] - n) * z * (1.0 - z);
        xr[j] = dpr;
        xz[j] = dpz;
        xn[j] = dpn;
        hr[j] = dpr;
        hz[j] = dpz;
        hn[j] = dpn * r;
        dh_prev[j] = dht * z;
    }
}

/// A raw `f32` buffer shared by the workers of one call (each writes disjoint ranges).
#[derive(Debug, Clone, Copy)]
struct Ptr(*mut f32, usize);

// SAFETY: `Ptr` is only dereferenced inside `parallel`'s scope, on ranges the workers own.
unsafe impl Send for Ptr {}
// SAFETY: as above.
unsafe impl Sync for Ptr {}

impl Ptr {
    fn of(buffer: &mut [f32]) -> Self {
        Self(buffer.as_mut_ptr(), buffer.len())
    }

    fn null() -> Self {
        Self(std::ptr::null_mut(), 0)
    }

    fn is_null(&self) -> bool {
        self.0.is_null()
    }

    /// # Safety
    /// No one may write `[at, at + len)` while the slice lives.
    #[inline(always)]
    unsafe fn slice<'a>(self, at: usize, len: usize) -> &'a [f32] {
        assert!(at + len <= self.1, "buffer range out of bounds");
        std::slice::from_raw_parts(self.0.add(at), len)
    }

    /// # Safety
    /// No one else may touch `[at, at + len)` while the slice lives.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice_mut<'a>(self, at: usize, len: usize) -> &'a mut [f32] {
        assert!(at + len <= self.1, "buffer range out of bounds");
        std::slice::from_raw_parts_mut(self.0.add(at), len)
    }
}

/// A barrier for the workers of one call that spins (then yields): steps are microseconds
/// apart, far below what a sleeping barrier wakes up in.
struct SpinBarrier {
    arrived: AtomicUsize,
    threads: usize,
}

impl SpinBarrier {
    fn new(threads: usize) -> Self {
        Self {
            arrived: AtomicUsize::new(0),
            threads,
        }
    }

    /// Waits until every worker has called `wait` as often as this one (`round` counts).
    fn wait(&self, round: &mut usize) {
        if self.threads == 1 {
            return;
        }
        *round += 1;
        self.arrived.fetch_add(1, Ordering::AcqRel);
        let target = *round * self.threads;
        let mut spins = 0u32;
        while self.arrived.load(Ordering::Acquire) < target {
            spins += 1;
            if spins < 1 << 10 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Runs `work(worker, workers, barrier)` on up to `threads` workers at once (the caller's
/// thread is worker 0, the others come from the persistent [`pool`]); `workers` is the count
/// really used (1 when the pool is busy with another call).
fn parallel(threads: usize, work: impl Fn(usize, usize, &SpinBarrier) + Sync) {
    let solo = SpinBarrier::new(1);
    if threads <= 1 {
        work(0, 1, &solo);
        return;
    }
    let pool = pool::pool();
    let barrier = SpinBarrier::new(threads.min(pool.max_threads()));
    pool.run(threads, &|worker, workers| match workers {
        1 => work(0, 1, &solo),
        _ => work(worker, workers, &barrier),
    });
}

/// `c = a b + beta c`, the rows of `c` split across the kernel threads when the product is
/// big enough to pay for it (the input projections and the weight gradients).
pub fn par_sgemm(a: Mat<'_>, b: Mat<'_>, beta: f32, c: MatMut<'_>) {
    const MIN_WORK: usize = 1 << 21;
    let work = a.shape().0 * a.shape().1 * b.shape().1;
    let rows = a.shape().0;
    let threads = match work >= MIN_WORK && rows >= 32 {
        true => num_threads().min(rows / 16).max(1),
        false => 1,
    };
    if threads == 1 {
        return sgemm(a, b, beta, c);
    }
    let blocks: Vec<std::sync::Mutex<Option<(usize, MatMut<'_>)>>> = c
        .split_rows(rows.div_ceil(threads))
        .into_iter()
        .map(|block| std::sync::Mutex::new(Some(block)))
        .collect();
    parallel(threads, |worker, workers, _| {
        for slot in blocks.iter().skip(worker).step_by(workers) {
            let taken = slot.lock().expect("gemm block").take();
            if let Some((start, block)) = taken {
                let n = block.shape().0;
                sgemm(a.rows(start, n), b, beta, block);
            }
        }
    });
}

/// A zeroed buffer of `len` values for a kernel's output; on Linux, buffers of 4 MiB and more
/// ask for transparent huge pages before their first touch.
///
/// The first write to each page of a fresh allocation faults into the kernel; at 4 KiB per
/// fault, the outputs of one long sequence cost thousands of faults per call (measured: about
/// a fifth of a Braun-config forward on this VM), and 2 MiB pages cut that 512-fold.
pub fn zeroed(len: usize) -> Vec<f32> {
    let v = vec![0.0f32; len];
    #[cfg(target_os = "linux")]
    if len * 4 >= 4 << 20 {
        // SAFETY: the range is this vector's own allocation; MADV_HUGEPAGE changes no contents
        // and its failure (e.g. THP disabled) is harmless.
        unsafe {
            libc::madvise(
                v.as_ptr() as *mut libc::c_void,
                len * 4,
                libc::MADV_HUGEPAGE,
            );
        }
    }
    v
}

/// Part `i` of `0..total` split into `parts` contiguous ranges.
fn split(total: usize, parts: usize, i: usize) -> std::ops::Range<usize> {
    total * i / parts..total * (i + 1) / parts
}

/// Workers for a call whose per-step matmul is `work` multiply-adds over `tiles` tiles: one
/// unless the step is big enough to pay for a barrier per step.
fn threads_for(work: usize, tiles: usize) -> usize {
    const MIN_WORK: usize = 1 << 17;
    match work >= MIN_WORK {
        true => num_threads().min(tiles).max(1),
        false => 1,
    }
}

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets the number of threads the fused CPU kernels use (0: the default, the
/// `BURN_RNN_NUM_THREADS` environment variable or else the available parallelism).
pub fn set_num_threads(threads: usize) {
    THREADS.store(threads, Ordering::Relaxed);
}

/// The number of threads the fused CPU kernels use for big enough steps.
pub fn num_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            static DEFAULT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
            *DEFAULT.get_or_init(|| {
                std::env::var("BURN_RNN_NUM_THREADS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            })
        }
        n => n,
    }
}

/// Whether the AVX-512 tile kernel can run here (and is not turned off by setting
/// `BURN_RNN_PORTABLE`, which tests use to cover the portable kernels).
fn has_avx512() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        if std::env::var_os("BURN_RNN_PORTABLE").is_some() {
            return false;
        }
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}
