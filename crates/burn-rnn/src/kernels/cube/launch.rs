//! One time step's kernel launch, forward and backward, for each cell kind: the argument lists
//! of [`gates`](super::gates)' kernels in one place.

use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeRuntime;
use cubecl::prelude::*;

use super::gates;
use crate::kernels::CellKind;

fn arg<R: CubeRuntime>(t: &CubeTensor<R>) -> TensorArg<R> {
    t.clone().into_tensor_arg()
}

/// Where a step's kernel runs: its launch grid and the sizes.
pub(super) struct Grid<'a, R: CubeRuntime> {
    pub client: &'a ComputeClient<R>,
    pub count: CubeCount,
    pub dim: CubeDim,
    /// `L`, `N`, `H`
    pub seq: usize,
    pub batch: usize,
    pub hidden: usize,
}

/// The buffers of a forward step (shapes in [`super::forward`]).
pub(super) struct ForwardBuffers<'a, R: CubeRuntime> {
    /// `[L, N, G*H]`
    pub gx: &'a CubeTensor<R>,
    /// `[N, G*H]`: this step's `h W_hh^T`
    pub hg: &'a CubeTensor<R>,
    /// `[G*H]`
    pub bias: &'a CubeTensor<R>,
    /// `[N]`
    pub lengths: &'a CubeTensor<R>,
    /// `[L, N, H]`: the saved states each step starts from
    pub hs: &'a CubeTensor<R>,
    /// `[L, N, H]` (LSTM)
    pub cs: &'a CubeTensor<R>,
    /// `[N, H]`: the next matmul's input
    pub next: &'a CubeTensor<R>,
    /// `[L + 2, N, H]`
    pub out: &'a CubeTensor<R>,
    /// `[L, N, A*H]`
    pub gates: &'a CubeTensor<R>,
}

/// Launches the forward kernel of processing step `s` (time `t`; the next step's time
/// `t_next`).
pub(super) fn forward_step<R: CubeRuntime, F: Float + CubeElement>(
    kind: CellKind,
    grid: &Grid<'_, R>,
    b: &ForwardBuffers<'_, R>,
    [s, t, t_next]: [usize; 3],
) {
    let (client, count, dim) = (grid.client, grid.count.clone(), grid.dim);
    let (seq, batch, hidden) = (grid.seq, grid.batch, grid.hidden);
    let (gx, hg, bias, lengths) = (arg(b.gx), arg(b.hg), arg(b.bias), arg(b.lengths));
    let (next, out, acts) = (arg(b.next), arg(b.out), arg(b.gates));
    match kind {
        CellKind::Lstm => gates::lstm_forward::launch::<F, R>(
            client,
            count,
            dim,
            gx,
            hg,
            bias,
            lengths,
            arg(b.hs),
            arg(b.cs),
            next,
            out,
            acts,
            s,
            t,
            t_next,
            seq,
            batch,
            hidden,
        ),
        CellKind::Gru => gates::gru_forward::launch::<F, R>(
            client,
            count,
            dim,
            gx,
            hg,
            bias,
            lengths,
            arg(b.hs),
            next,
            out,
            acts,
            s,
            t,
            t_next,
            seq,
            batch,
            hidden,
        ),
        CellKind::RnnTanh | CellKind::RnnRelu => gates::rnn_forward::launch::<F, R>(
            client,
            count,
            dim,
            gx,
            hg,
            bias,
            lengths,
            arg(b.hs),
            next,
            out,
            acts,
            s,
            t,
            t_next,
            seq,
            batch,
            hidden,
            kind == CellKind::RnnRelu,
        ),
    };
}

/// The buffers of a backward step (shapes in [`super::backward`]).
pub(super) struct BackwardBuffers<'a, R: CubeRuntime> {
    /// `[L + 2, N, H]`: the gradient of the packed forward result
    pub grad: &'a CubeTensor<R>,
    /// `[N, H]`: the previous (later) step's `dG_hh W_hh`
    pub mm: &'a CubeTensor<R>,
    /// `[L, N, A*H]`
    pub gates: &'a CubeTensor<R>,
    /// `[L, N, H]`
    pub hs: &'a CubeTensor<R>,
    /// `[L, N, H]` (LSTM)
    pub cs: Option<&'a CubeTensor<R>>,
    /// `[N]`
    pub lengths: &'a CubeTensor<R>,
    /// `[N, H]`, updated in place
    pub dh_carry: &'a CubeTensor<R>,
    /// `[N, H]` (LSTM), updated in place
    pub dc_carry: &'a CubeTensor<R>,
    /// `[L, N, G*H]`
    pub dgx: &'a CubeTensor<R>,
    /// `[L, N, G*H]`
    pub dgh: &'a CubeTensor<R>,
    /// `[N, G*H]`: this step's `dG_hh`
    pub dgh_cur: &'a CubeTensor<R>,
}

/// Launches the backward kernel of the step at time `t`.
pub(super) fn backward_step<R: CubeRuntime, F: Float + CubeElement>(
    kind: CellKind,
    grid: &Grid<'_, R>,
    b: &BackwardBuffers<'_, R>,
    t: usize,
) {
    let (client, count, dim) = (grid.client, grid.count.clone(), grid.dim);
    let (batch, hidden) = (grid.batch, grid.hidden);
    let (grad, mm, acts, lengths) = (arg(b.grad), arg(b.mm), arg(b.gates), arg(b.lengths));
    let (dh, dgx, dgh, dgh_cur) = (arg(b.dh_carry), arg(b.dgx), arg(b.dgh), arg(b.dgh_cur));
    match kind {
        CellKind::Lstm => gates::lstm_backward::launch::<F, R>(
            client,
            count,
            dim,
            grad,
            mm,
            acts,
            arg(b.cs.expect("an LSTM saves c_prev")),
            lengths,
            dh,
            arg(b.dc_carry),
            dgx,
            dgh,
            dgh_cur,
            t,
            batch,
            hidden,
        ),
        CellKind::Gru => gates::gru_backward::launch::<F, R>(
            client,
            count,
            dim,
            grad,
            mm,
            acts,
            arg(b.hs),
            lengths,
            dh,
            dgx,
            dgh,
            dgh_cur,
            t,
            batch,
            hidden,
        ),
        CellKind::RnnTanh | CellKind::RnnRelu => gates::rnn_backward::launch::<F, R>(
            client,
            count,
            dim,
            grad,
            mm,
            acts,
            lengths,
            dh,
            dgx,
            dgh,
            dgh_cur,
            t,
            batch,
            hidden,
            kind == CellKind::RnnRelu,
        ),
    };
}
