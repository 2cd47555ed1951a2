//! Fused recurrent kernels for CubeCL's `CubeBackend` over any runtime (wgpu, CUDA, ROCm, the
//! CubeCL CPU runtime): one kernel source, compiled by CubeCL for each.
//!
//! Each time step is two launches: the hidden matmul `h W_hh^T` ([`FloatTensorOps::float_matmul`],
//! Burn's matmul, autotuned where autotune is on) and one fused kernel ([`gates`]) for the
//! bias, the step's slice of the input projection, the gate math, the state update, the length
//! mask and every write (output row, saved activations, next matmul input). The backward step is
//! one kernel for the gate gradients and the carries, then `dG_hh W_hh`; the weight and bias
//! gradients are one matmul and one sum over all steps at the end. Burn's own LSTM launches
//! about 30 kernels per step.
//!
//! Tensors whose dtype is not the backend's float element run the plain-ops
//! [`reference`](super::reference) instead.

mod gates;
mod launch;

use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, FloatTensorOps};
use burn::tensor::{Shape, TensorData, TensorMetadata};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use cubecl::{calculate_cube_count_elemwise, prelude::*};

use super::{
    reference, RecurrentForward, RecurrentGrads, RecurrentSaved, RecurrentTensors, RnnBackend,
    SavedShapes, Spec,
};

type Cube<R, F, I, BT> = CubeBackend<R, F, I, BT>;

impl<R, F, I, BT> RnnBackend for CubeBackend<R, F, I, BT>
where
    R: CubeRuntime,
    F: FloatElement + Float,
    I: IntElement,
    BT: BoolElement,
    Self: Backend<FloatTensorPrimitive = CubeTensor<R>, Device = R::Device>,
{
    fn recurrent_forward(
        spec: &Spec,
        tensors: RecurrentTensors<Self>,
        save: bool,
    ) -> RecurrentForward<Self> {
        if tensors.gates_x.dtype != F::dtype() {
            return reference::forward::<Self>(spec, tensors, save);
        }
        forward::<R, F, I, BT>(spec, tensors, save)
    }

    fn recurrent_backward(
        spec: &Spec,
        saved: RecurrentSaved<Self>,
        grad_packed: FloatTensor<Self>,
    ) -> RecurrentGrads<Self> {
        if grad_packed.dtype != F::dtype() || saved.acts.dtype != F::dtype() {
            return reference::backward::<Self>(spec, saved, grad_packed);
        }
        backward::<R, F, I, BT>(spec, saved, grad_packed)
    }
}

fn launch_dims<R: CubeRuntime>(client: &ComputeClient<R>, units: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new(client, units);
    (calculate_cube_count_elemwise(client, units, dim), dim)
}

fn lengths_tensor<B: Backend>(
    spec: &Spec,
    batch: usize,
    seq: usize,
    device: &B::Device,
) -> FloatTensor<B> {
    let lengths: Vec<f32> = (0..batch)
        .map(|n| spec.lengths.as_ref().map_or(seq, |l| l[n]) as f32)
        .collect();
    B::float_from_data(TensorData::new(lengths, [batch]), device)
}

fn forward<R, F, I, BT>(
    spec: &Spec,
    tensors: RecurrentTensors<Cube<R, F, I, BT>>,
    save: bool,
) -> RecurrentForward<Cube<R, F, I, BT>>
where
    R: CubeRuntime,
    F: FloatElement + Float,
    I: IntElement,
    BT: BoolElement,
    Cube<R, F, I, BT>: Backend<FloatTensorPrimitive = CubeTensor<R>, Device = R::Device>,
{
    type B<R, F, I, BT> = Cube<R, F, I, BT>;
    let gx = into_contiguous(tensors.gates_x);
    let [seq, batch, gh] = dims3(&gx);
    let weight = into_contiguous(tensors.weight_hh);
    let hidden = weight.shape()[1];
    let bias = into_contiguous(tensors.bias_hh);
    let device = gx.device.clone();
    let client = gx.client.clone();
    let dtype = gx.dtype.into();
    let zeros =
        |shape: Vec<usize>| B::<R, F, I, BT>::float_zeros(Shape::from(shape), &device, dtype);
    let h0 = into_contiguous(tensors.h0);
    let c0 = into_contiguous(tensors.c0);
    let shapes = SavedShapes::new(spec.kind, seq, batch, hidden);
    let hs = starting_with::<R, F, I, BT>(h0.clone(), spec, seq);
    let cs = starting_with::<R, F, I, BT>(c0, spec, seq);
    let out = zeros(vec![seq + 2, batch, hidden]);
    let gates = zeros(shapes.acts.to_vec());
    let lengths = lengths_tensor::<B<R, F, I, BT>>(spec, batch, seq, &device);
    let weight_t = B::<R, F, I, BT>::float_transpose(weight.clone());
    let (count, dim) = launch_dims(&client, batch * hidden);
    let grid = launch::Grid {
        client: &client,
        count,
        dim,
        seq,
        batch,
        hidden,
    };
    debug_assert_eq!(gh, spec.kind.gates() * hidden);

    // The next matmul's input alternates between two buffers the kernel writes whole (no
    // allocation or fill per step; launches on one stream run in order). The caller's `h0` is
    // only read.
    let empty = || B::<R, F, I, BT>::float_empty(Shape::from(vec![batch, hidden]), &device, dtype);
    let (mut h, mut next, mut spare) = (h0, empty(), empty());
    for s in 0..seq {
        let t = spec.time(s, seq);
        let t_next = if s + 1 < seq {
            spec.time(s + 1, seq)
        } else {
            t
        };
        let hg = B::<R, F, I, BT>::float_matmul(h.clone(), weight_t.clone());
        let buffers = launch::ForwardBuffers {
            gx: &gx,
            hg: &hg,
            bias: &bias,
            lengths: &lengths,
            hs: &hs,
            cs: &cs,
            next: &next,
            out: &out,
            gates: &gates,
        };
        launch::forward_step::<R, F>(spec.kind, &grid, &buffers, [s, t, t_next]);
        h = next.clone();
        std::mem::swap(&mut next, &mut spare);
    }
    RecurrentForward {
        packed: out,
        saved: save.then(|| RecurrentSaved {
            weight_hh: weight,
            acts: gates,
            h_prev: hs,
            c_prev: spec.kind.has_cell().then_some(cs),
        }),
    }
}

fn backward<R, F, I, BT>(
    spec: &Spec,
    saved: RecurrentSaved<Cube<R, F, I, BT>>,
    grad_packed: CubeTensor<R>,
) -> RecurrentGrads<Cube<R, F, I, BT>>
where
    R: CubeRuntime,
    F: FloatElement + Float,
    I: IntElement,
    BT: BoolElement,
    Cube<R, F, I, BT>: Backend<FloatTensorPrimitive = CubeTensor<R>, Device = R::Device>,
{
    type B<R, F, I, BT> = Cube<R, F, I, BT>;
    let grad = into_contiguous(grad_packed);
    let [rows, batch, hidden] = dims3(&grad);
    let seq = rows - 2;
    saved.check(spec.kind, seq, batch, hidden);
    let gates = into_contiguous(saved.acts);
    let hs = into_contiguous(saved.h_prev);
    let cs = saved.c_prev.map(into_contiguous);
    let weight = into_contiguous(saved.weight_hh);
    let lengths = lengths_tensor::<B<R, F, I, BT>>(spec, batch, seq, &grad.device);
    let gh = spec.kind.gates() * hidden;
    let device = grad.device.clone();
    let client = grad.client.clone();
    let dtype = grad.dtype.into();
    let zeros =
        |shape: Vec<usize>| B::<R, F, I, BT>::float_zeros(Shape::from(shape), &device, dtype);
    // The carries start as the gradients of the final state.
    let dh_carry = fresh_row::<R, F, I, BT>(&grad, seq);
    let dc_carry = fresh_row::<R, F, I, BT>(&grad, seq + 1);
    let dgx = zeros(vec![seq, batch, gh]);
    let dgh = zeros(vec![seq, batch, gh]);
    let (count, dim) = launch_dims(&client, batch * hidden);
    let grid = launch::Grid {
        client: &client,
        count,
        dim,
        seq,
        batch,
        hidden,
    };

    let mut mm = zeros(vec![batch, hidden]);
    // This step's `dG_hh`, rewritten whole by each step's kernel after the previous step's
    // matmul has read it (launches on one stream run in order).
    let dgh_cur = B::<R, F, I, BT>::float_empty(Shape::from(vec![batch, gh]), &device, dtype);
    for s in (0..seq).rev() {
        let buffers = launch::BackwardBuffers {
            grad: &grad,
            mm: &mm,
            gates: &gates,
            hs: &hs,
            cs: cs.as_ref(),
            lengths: &lengths,
            dh_carry: &dh_carry,
            dc_carry: &dc_carry,
            dgx: &dgx,
            dgh: &dgh,
            dgh_cur: &dgh_cur,
        };
        launch::backward_step::<R, F>(spec.kind, &grid, &buffers, spec.time(s, seq));
        mm = B::<R, F, I, BT>::float_matmul(dgh_cur.clone(), weight.clone());
    }
    let h0 = B::<R, F, I, BT>::float_add(dh_carry, mm);
    let c0 = if spec.kind.has_cell() {
        dc_carry
    } else {
        zeros(vec![batch, hidden])
    };
    let (weight_hh, bias_hh) = hidden_weight_grads::<R, F, I, BT>(hs, dgh, seq * batch);
    RecurrentGrads {
        gates_x: dgx,
        weight_hh,
        bias_hh,
        h0,
        c0,
    }
}

/// A `[L, N, H]` buffer for the states each step starts from (`h_prev`, `c_prev`), holding
/// `state: [N, H]` in the row of the first step's time and zeros elsewhere; each step writes
/// the next step's row.
fn starting_with<R, F, I, BT>(state: CubeTensor<R>, spec: &Spec, seq: usize) -> CubeTensor<R>
where
    R: CubeRuntime,
    F: FloatElement + Float,
    I: IntElement,
    BT: BoolElement,
    Cube<R, F, I, BT>: Backend<FloatTensorPrimitive = CubeTensor<R>, Device = R::Device>,
{
    type B<R, F, I, BT> = Cube<R, F, I, BT>;
    let shape = state.shape();
    let (batch, hidden) = (shape[0], shape[1]);
    let (device, dtype) = (state.device.clone(), state.dtype.into());
    let state = B::<R, F, I, BT>::float_reshape(state, Shape::from(vec![1, batch, hidden]));
    if seq == 1 {
        return state;
    }
    let rest =
        B::<R, F, I, BT>::float_zeros(Shape::from(vec![seq - 1, batch, hidden]), &device, dtype);
    let rows = match spec.reverse {
        false => vec![state, rest],
        true => vec![rest, state],
    };
    B::<R, F, I, BT>::float_cat(rows, 0)
}

/// Row `r` of `t: [R, N, H]` as a new `[N, H]` buffer: the kernels update the carries in
/// place, so they are never views of `grad_packed` (which others may hold).
fn fresh_row<R, F, I, BT>(t: &CubeTensor<R>, r: usize) -> CubeTensor<R>
where
    R: CubeRuntime,
    F: FloatElement + Float,
    I: IntElement,
    BT: BoolElement,
    Cube<R, F, I, BT>: Backend<FloatTensorPrimitive = CubeTensor<R>, Device = R::Device>,
{
    type B<R, F, I, BT> = Cube<R, F, I, BT>;
    let [_, batch, hidden] = dims3(t);
    let slice = B::<R, F, I, BT>::float_slice(
        t.clone(),
        &[
            burn::tensor::Slice::from(r..r + 1),
            burn::tensor::Slice::from(0..batch),
            burn::tensor::Slice::from(0..hidden),
        ],
    );
    let row = B::<R, F, I, BT>::float_reshape(slice, Shape::from(vec![batch, hidden]));
    let zeros =
        B::<R, F, I, BT>::float_zeros(Shape::from(vec![batch, hidden]), &t.device, t.dtype.into());
    B::<R, F, I, BT>::float_add(zeros, into_contiguous(row))
}

/// `dW_hh = Σ_s dG_hh[s]^T h[s]` (`[G*H, H]`) and `db_hh = Σ dG_hh` (`[G*H]`), from the saved
/// states `hs: [L, N, H]` and the step gradients `dgh: [L, N, G*H]` (`rows = L * N`).
fn hidden_weight_grads<R, F, I, BT>(
    hs: CubeTensor<R>,
    dgh: CubeTensor<R>,
    rows: usize,
) -> (CubeTensor<R>, CubeTensor<R>)
where
    R: CubeRuntime,
    F: FloatElement + Float,
    I: IntElement,
    BT: BoolElement,
    Cube<R, F, I, BT>: Backend<FloatTensorPrimitive = CubeTensor<R>, Device = R::Device>,
{
    type B<R, F, I, BT> = Cube<R, F, I, BT>;
    let (hidden, gh) = (dims3(&hs)[2], dims3(&dgh)[2]);
    let states = B::<R, F, I, BT>::float_reshape(hs, Shape::from(vec![rows, hidden]));
    let dgh = B::<R, F, I, BT>::float_reshape(dgh, Shape::from(vec![rows, gh]));
    let weight_hh =
        B::<R, F, I, BT>::float_matmul(B::<R, F, I, BT>::float_transpose(dgh.clone()), states);
    let bias_hh = B::<R, F, I, BT>::float_reshape(
        B::<R, F, I, BT>::float_sum_dim(dgh, 0),
        Shape::from(vec![gh]),
    );
    (weight_hh, bias_hh)
}

fn dims3<R: CubeRuntime>(t: &CubeTensor<R>) -> [usize; 3] {
    let shape = t.shape();
    [shape[0], shape[1], shape[2]]
}
