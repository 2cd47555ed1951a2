//! `NdArray`: the fused CPU kernels of the `rnn-cpu` crate on the backend's raw `f32` buffers.
//!
//! Tensors of any other dtype (f64, f16, ...) take the plain-ops reference.
//!
//! The saved tensors are the shared [`RecurrentSaved`] layout, which the CPU kernels write and
//! read directly (`rnn_cpu::Saved`).

use std::borrow::Cow;

use burn::tensor::ops::{ConvOptions, FloatTensor, ModuleOps};
use burn::tensor::TensorData;
use burn_ndarray::{
    FloatNdArrayElement, IntNdArrayElement, NdArray, NdArrayTensor, QuantElement, SharedArray,
};

use super::{
    reference, BatchNormForward, BatchNormGrads, Conv2dGrads, ConvLstmGatesForward,
    ConvLstmGatesGrads, ConvNeeds, LinearGrads, LinearScanGrads, MinKind, PoolOptions,
    RecurrentForward, RecurrentGrads, RecurrentSaved, RecurrentTensors, RnnBackend, SavedShapes,
    Spec,
};
use rnn_cpu::{
    self as cpu, BackwardInputs, BackwardOutputs, Dims, ForwardInputs, Mat, MatMut, Saved,
};

/// The tensor's values in row-major order when it holds `f32`: borrowed when its layout is
/// already standard, else copied once.
fn f32_values(t: &NdArrayTensor) -> Option<Cow<'_, [f32]>> {
    match t {
        NdArrayTensor::F32(storage) => {
            let view = storage.view();
            Some(match view.to_slice() {
                Some(values) => Cow::Borrowed(values),
                None => Cow::Owned(view.iter().copied().collect()),
            })
        }
        _ => None,
    }
}

fn shape(t: &NdArrayTensor) -> Vec<usize> {
    match t {
        NdArrayTensor::F32(storage) => storage.shape().to_vec(),
        _ => Vec::new(),
    }
}

fn tensor(values: Vec<f32>, shape: impl Into<Vec<usize>>) -> NdArrayTensor {
    NdArrayTensor::from_data(TensorData::new(values, shape.into()))
}

impl<E, I, Q> RnnBackend for NdArray<E, I, Q>
where
    E: FloatNdArrayElement,
    I: IntNdArrayElement,
    Q: QuantElement,
    NdArrayTensor: From<SharedArray<E>>,
    NdArrayTensor: From<SharedArray<I>>,
{
    fn recurrent_forward(
        spec: &Spec,
        tensors: RecurrentTensors<Self>,
        save: bool,
    ) -> RecurrentForward<Self> {
        let all_f32 = [
            &tensors.gates_x,
            &tensors.weight_hh,
            &tensors.bias_hh,
            &tensors.h0,
            &tensors.c0,
        ]
        .iter()
        .all(|t| matches!(t, NdArrayTensor::F32(_)));
        if !all_f32 {
            return reference::forward::<Self>(spec, tensors, save);
        }
        let [seq, batch, _] = shape(&tensors.gates_x)[..] else {
            panic!("recurrent_forward: gates_x must be [L, N, G*H]");
        };
        let hidden = shape(&tensors.weight_hh)[1];
        let dims = Dims { seq, batch, hidden };
        let shapes = SavedShapes::new(spec.kind, seq, batch, hidden);
        let values = |t| f32_values(t).expect("checked f32 above");
        let (gates_x, weight_hh, bias_hh, h0, c0) = (
            values(&tensors.gates_x),
            values(&tensors.weight_hh),
            values(&tensors.bias_hh),
            values(&tensors.h0),
            values(&tensors.c0),
        );
        let inputs = ForwardInputs {
            gates_x: &gates_x,
            weight_hh: &weight_hh,
            bias_hh: &bias_hh,
            h0: &h0,
            c0: &c0,
        };
        let mut packed = cpu::zeroed((seq + 2) * batch * hidden);
        if !save {
            cpu::forward(spec, dims, inputs, &mut packed, None);
            return RecurrentForward {
                packed: tensor(packed, [seq + 2, batch, hidden]),
                saved: None,
            };
        }
        let len = |s: [usize; 3]| s.iter().product::<usize>();
        let mut acts = cpu::zeroed(len(shapes.acts));
        let mut h_prev = cpu::zeroed(len(shapes.h_prev));
        let mut c_prev = cpu::zeroed(shapes.c_prev.map_or(0, len));
        let saved = Saved {
            acts: &mut acts,
            h_prev: &mut h_prev,
            c_prev: &mut c_prev,
        };
        cpu::forward(spec, dims, inputs, &mut packed, Some(saved));
        drop(weight_hh);
        RecurrentForward {
            packed: tensor(packed, [seq + 2, batch, hidden]),
            saved: Some(RecurrentSaved {
                weight_hh: tensors.weight_hh,
                acts: tensor(acts, shapes.acts),
                h_prev: tensor(h_prev, shapes.h_prev),
                c_prev: shapes.c_prev.map(|s| tensor(c_prev, s)),
            }),
        }
    }

    fn linear_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (Some(xv), Some(wv), Some(bv)) =
            (f32_values(&x), f32_values(&weight), f32_values(&bias))
        else {
            let out = reference::linear::<Self>(
                super::wrap(x),
                super::wrap(weight),
                Some(super::wrap(bias)),
            );
            return super::unwrap(out);
        };
        let (m, k) = (shape(&x)[0], shape(&x)[1]);
        let n = shape(&weight)[0];
        // The product (beta = 0), then the bias in a pass of its own.
        let mut y = cpu::zeroed(m * n);
        cpu::par_sgemm(
            Mat::new(&xv, m, k),
            Mat::new(&wv, n, k).t(),
            0.0,
            MatMut::new(&mut y, m, n),
        );
        for row in y.chunks_exact_mut(n) {
            for (v, b) in row.iter_mut().zip(bv.iter()) {
                *v += b;
            }
        }
        tensor(y, [m, n])
    }

    fn linear_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        needs_x: bool,
    ) -> LinearGrads<Self> {
        let (Some(xv), Some(wv), Some(gv)) =
            (f32_values(&x), f32_values(&weight), f32_values(&grad))
        else {
            return reference::linear_backward::<Self>(x, weight, grad, needs_x);
        };
        let (m, k) = (shape(&x)[0], shape(&x)[1]);
        let n = shape(&weight)[0];
        let dx = needs_x.then(|| {
            let mut dx = cpu::zeroed(m * k);
            cpu::par_sgemm(
                Mat::new(&gv, m, n),
                Mat::new(&wv, n, k),
                0.0,
                MatMut::new(&mut dx, m, k),
            );
            tensor(dx, [m, k])
        });
        let mut dw = vec![0.0f32; n * k];
        cpu::par_sgemm(
            Mat::new(&gv, m, n).t(),
            Mat::new(&xv, m, k),
            0.0,
            MatMut::new(&mut dw, n, k),
        );
        let mut db = vec![0.0f32; n];
        for row in gv.chunks_exact(n) {
            for (b, g) in db.iter_mut().zip(row) {
                *b += g;
            }
        }
        LinearGrads {
            x: dx,
            weight: tensor(dw, [n, k]),
            bias: tensor(db, [n]),
        }
    }

    fn conv2d_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let (Some(xv), Some(wv), Some(bv)) =
            (f32_values(&x), f32_values(&weight), f32_values(&bias))
        else {
            return <Self as ModuleOps<Self>>::conv2d(x, weight, Some(bias), options);
        };
        let s = conv_shape(&shape(&x), &shape(&weight), &options);
        let [oh, ow] = s.output().expect("checked by conv_shape");
        let mut y = cpu::zeroed(s.output_len());
        cpu::conv2d_forward(&s, &xv, &wv, Some(&bv), &mut y);
        tensor(y, [s.batch, s.channels_out, oh, ow])
    }

    fn conv2d_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        options: ConvOptions<2>,
        needs: ConvNeeds,
    ) -> Conv2dGrads<Self> {
        let (Some(xv), Some(wv), Some(gv)) =
            (f32_values(&x), f32_values(&weight), f32_values(&grad))
        else {
            return reference::conv2d_backward::<Self>(x, weight, grad, options, needs);
        };
        let (x_shape, w_shape) = (shape(&x), shape(&weight));
        let s = conv_shape(&x_shape, &w_shape, &options);
        let dx = needs.x.then(|| {
            let mut dx = cpu::zeroed(s.input_len());
            cpu::conv2d_backward_input(&s, &wv, &gv, &mut dx);
            tensor(dx, x_shape.clone())
        });
        let (mut dw, mut db) = (Vec::new(), Vec::new());
        if needs.weight || needs.bias {
            dw = vec![0.0f32; s.weight_len()];
            db = vec![0.0f32; s.channels_out];
            cpu::conv2d_backward_weight(&s, &xv, &gv, &mut dw, Some(&mut db));
        }
        Conv2dGrads {
            x: dx,
            weight: needs.weight.then(|| tensor(dw, w_shape)),
            bias: needs.bias.then(|| tensor(db, [s.channels_out])),
        }
    }

    fn batch_norm2d_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> BatchNormForward<Self> {
        let (Some(xv), Some(gv), Some(bv)) =
            (f32_values(&x), f32_values(&gamma), f32_values(&beta))
        else {
            return reference::batch_norm2d_forward::<Self>(x, gamma, beta, eps);
        };
        let dims = shape4(&x, "batch_norm2d");
        let c = dims[1];
        let mut y = cpu::zeroed(xv.len());
        let (mut mean, mut invstd) = (vec![0.0f32; c], vec![0.0f32; c]);
        cpu::batch_norm2d_forward(dims, &xv, &gv, &bv, eps, &mut y, &mut mean, &mut invstd);
        BatchNormForward {
            y: tensor(y, dims),
            mean: tensor(mean, [c]),
            invstd: tensor(invstd, [c]),
        }
    }

    fn batch_norm2d_inference(
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (Some(xv), Some(av), Some(bv)) =
            (f32_values(&x), f32_values(&scale), f32_values(&shift))
        else {
            return reference::batch_norm2d_inference::<Self>(x, scale, shift);
        };
        let dims = shape4(&x, "batch_norm2d");
        let mut y = cpu::zeroed(xv.len());
        cpu::batch_norm2d_inference(dims, &xv, &av, &bv, &mut y);
        tensor(y, dims)
    }

    fn batch_norm2d_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        invstd: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        needs_x: bool,
    ) -> BatchNormGrads<Self> {
        let values = [&x, &gamma, &mean, &invstd, &grad].map(f32_values);
        let [Some(xv), Some(gv), Some(mv), Some(iv), Some(dv)] = values else {
            return reference::batch_norm2d_backward::<Self>(x, gamma, mean, invstd, grad, needs_x);
        };
        let dims = shape4(&x, "batch_norm2d backward");
        let c = dims[1];
        let mut dx = needs_x.then(|| cpu::zeroed(xv.len()));
        let (mut dgamma, mut dbeta) = (vec![0.0f32; c], vec![0.0f32; c]);
        cpu::batch_norm2d_backward(
            dims,
            &xv,
            &gv,
            &mv,
            &iv,
            &dv,
            dx.as_deref_mut(),
            &mut dgamma,
            &mut dbeta,
        );
        BatchNormGrads {
            x: dx.map(|dx| tensor(dx, dims)),
            gamma: tensor(dgamma, [c]),
            beta: tensor(dbeta, [c]),
        }
    }

    fn conv_lstm_gates_forward(
        gates: FloatTensor<Self>,
        c_prev: FloatTensor<Self>,
        save: bool,
    ) -> ConvLstmGatesForward<Self> {
        let (Some(gv), Some(cv)) = (f32_values(&gates), f32_values(&c_prev)) else {
            return reference::conv_lstm_gates_forward::<Self>(gates, c_prev, save);
        };
        let [n, ch, h, w] = shape4(&c_prev, "conv_lstm_gates");
        let s = conv_lstm_shape(&gates, [n, ch, h, w]);
        let mut packed = cpu::zeroed(2 * s.state_len());
        let mut saved = save.then(|| cpu::zeroed(s.saved_len()));
        let (hv, cv_new) = packed.split_at_mut(s.state_len());
        cpu::conv_lstm_forward(&s, &gv, &cv, hv, cv_new, saved.as_deref_mut());
        ConvLstmGatesForward {
            packed: tensor(packed, [2, n, ch, h, w]),
            saved: saved.map(|v| tensor(v, [n, 5 * ch, h, w])),
        }
    }

    fn conv_lstm_gates_backward(
        saved: FloatTensor<Self>,
        c_prev: FloatTensor<Self>,
        grad_packed: FloatTensor<Self>,
    ) -> ConvLstmGatesGrads<Self> {
        let values = [&saved, &c_prev, &grad_packed].map(f32_values);
        let [Some(sv), Some(cv), Some(dv)] = values else {
            return reference::conv_lstm_gates_backward::<Self>(saved, c_prev, grad_packed);
        };
        let [n, ch, h, w] = shape4(&c_prev, "conv_lstm_gates backward");
        let s = cpu::ConvLstmShape {
            batch: n,
            channels: ch,
            plane: h * w,
        };
        let (dh, dc) = dv.split_at(s.state_len());
        let mut d_gates = cpu::zeroed(s.gates_len());
        let mut dc_prev = cpu::zeroed(s.state_len());
        cpu::conv_lstm_backward(&s, &sv, &cv, Some(dh), Some(dc), &mut d_gates, &mut dc_prev);
        ConvLstmGatesGrads {
            gates: tensor(d_gates, [n, 4 * ch, h, w]),
            c_prev: tensor(dc_prev, [n, ch, h, w]),
        }
    }

    fn linear_scan_forward(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        h0: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let [Some(av), Some(bv), Some(hv)] = [&a, &b, &h0].map(f32_values) else {
            return reference::linear_scan_forward::<Self>(a, b, h0);
        };
        let mut h = cpu::zeroed(av.len());
        cpu::linear_scan_forward(&av, &bv, &hv, &mut h);
        tensor(h, shape(&a))
    }

    fn min_coefficients_forward(kind: MinKind, gates: FloatTensor<Self>) -> FloatTensor<Self> {
        let Some(gv) = f32_values(&gates) else {
            return reference::min_coefficients_forward::<Self>(kind, gates);
        };
        let dims = shape(&gates);
        let (rows, hidden) = (dims[0], dims[1] / kind.gates());
        let mut out = cpu::zeroed(2 * rows * hidden);
        cpu::min_coefficients_forward(kind, hidden, &gv, &mut out);
        tensor(out, [2, rows, hidden])
    }

    fn min_coefficients_backward(
        kind: MinKind,
        gates: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let [Some(gv), Some(dv)] = [&gates, &grad].map(f32_values) else {
            return reference::min_coefficients_backward::<Self>(kind, gates, grad);
        };
        let dims = shape(&gates);
        let mut d = cpu::zeroed(gv.len());
        cpu::min_coefficients_backward(kind, dims[1] / kind.gates(), &gv, &dv, &mut d);
        tensor(d, dims)
    }

    fn linear_scan_backward(
        a: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        h: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> LinearScanGrads<Self> {
        let [Some(av), Some(h0v), Some(hv), Some(gv)] = [&a, &h0, &h, &grad].map(f32_values) else {
            return reference::linear_scan_backward::<Self>(a, h0, h, grad);
        };
        let (mut ga, mut gb, mut gh0) = (
            cpu::zeroed(av.len()),
            cpu::zeroed(av.len()),
            cpu::zeroed(h0v.len()),
        );
        cpu::linear_scan_backward(&av, &h0v, &hv, &gv, &mut ga, &mut gb, &mut gh0);
        let dims = shape(&a);
        LinearScanGrads {
            a: tensor(ga, dims.clone()),
            b: tensor(gb, dims),
            h0: tensor(gh0, shape(&h0)),
        }
    }

    fn max_pool2d_forward(x: FloatTensor<Self>, options: PoolOptions) -> FloatTensor<Self> {
        let Some(xv) = f32_values(&x) else {
            let PoolOptions {
                kernel,
                stride,
                padding,
                dilation,
            } = options;
            return Self::max_pool2d(x, kernel, stride, padding, dilation, false);
        };
        let s = pool_shape(shape4(&x, "max_pool2d"), options);
        let [oh, ow] = s.output();
        let [n, c, _, _] = s.input;
        let mut y = cpu::zeroed(n * c * oh * ow);
        cpu::max_pool2d_forward(&s, &xv, &mut y);
        tensor(y, [n, c, oh, ow])
    }

    fn max_pool2d_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        options: PoolOptions,
    ) -> FloatTensor<Self> {
        let (Some(xv), Some(gv)) = (f32_values(&x), f32_values(&grad)) else {
            let PoolOptions {
                kernel,
                stride,
                padding,
                dilation,
            } = options;
            let indices =
                Self::max_pool2d_with_indices(x.clone(), kernel, stride, padding, dilation, false)
                    .indices;
            return Self::max_pool2d_with_indices_backward(
                x, kernel, stride, padding, dilation, false, grad, indices,
            )
            .x_grad;
        };
        let dims = shape4(&x, "max_pool2d backward");
        let s = pool_shape(dims, options);
        let mut dx = cpu::zeroed(xv.len());
        cpu::max_pool2d_backward(&s, &xv, &gv, &mut dx);
        tensor(dx, dims)
    }

    fn recurrent_backward(
        spec: &Spec,
        saved: RecurrentSaved<Self>,
        grad_packed: FloatTensor<Self>,
    ) -> RecurrentGrads<Self> {
        let all_f32 = [&saved.weight_hh, &saved.acts, &saved.h_prev]
            .into_iter()
            .chain(saved.c_prev.as_ref())
            .all(|t| matches!(t, NdArrayTensor::F32(_)));
        if !all_f32 {
            return reference::backward::<Self>(spec, saved, grad_packed);
        }
        let [seq, batch, hidden] = shape(&saved.h_prev)[..] else {
            panic!("recurrent_backward: h_prev must be [L, N, H]");
        };
        let gh = spec.kind.gates() * hidden;
        let dims = Dims { seq, batch, hidden };
        let grad = match f32_values(&grad_packed) {
            Some(g) => g,
            None => Cow::Owned(grad_packed_to_f32(grad_packed.clone())),
        };
        saved.check(spec.kind, seq, batch, hidden);
        let values = |t| f32_values(t).expect("checked f32 above");
        let (w, a, hp) = (
            values(&saved.weight_hh),
            values(&saved.acts),
            values(&saved.h_prev),
        );
        let cp = saved.c_prev.as_ref().map_or(Cow::Borrowed(&[][..]), values);
        let mut d_gates_x = cpu::zeroed(seq * batch * gh);
        let mut d_weight_hh = vec![0.0f32; gh * hidden];
        let mut d_bias_hh = vec![0.0f32; gh];
        let mut d_h0 = vec![0.0f32; batch * hidden];
        let mut d_c0 = vec![0.0f32; batch * hidden];
        cpu::backward(
            spec,
            dims,
            BackwardInputs {
                weight_hh: &w,
                acts: &a,
                h_prev: &hp,
                c_prev: &cp,
                grad_packed: &grad,
            },
            BackwardOutputs {
                gates_x: &mut d_gates_x,
                weight_hh: &mut d_weight_hh,
                bias_hh: &mut d_bias_hh,
                h0: &mut d_h0,
                c0: &mut d_c0,
            },
        );
        RecurrentGrads {
            gates_x: tensor(d_gates_x, [seq, batch, gh]),
            weight_hh: tensor(d_weight_hh, [gh, hidden]),
            bias_hh: tensor(d_bias_hh, [gh]),
            h0: tensor(d_h0, [batch, hidden]),
            c0: tensor(d_c0, [batch, hidden]),
        }
    }
}

/// The kernels' description of a convolution of `x: [N, C_in, H, W]` by
/// `weight: [C_out, C_in / groups, kH, kW]`.
fn conv_shape(x: &[usize], weight: &[usize], options: &ConvOptions<2>) -> cpu::Conv2dShape {
    let s = cpu::Conv2dShape {
        batch: x[0],
        channels_in: x[1],
        channels_out: weight[0],
        input: [x[2], x[3]],
        kernel: [weight[2], weight[3]],
        stride: options.stride,
        padding: options.padding,
        dilation: options.dilation,
        groups: options.groups,
    };
    s.check();
    assert!(
        weight[1] * options.groups == x[1],
        "conv2d: expected an input with C_in = {} channels (weight {weight:?}, groups {}), got \
         shape {x:?}",
        weight[1] * options.groups,
        options.groups
    );
    s
}

/// The `[N, C, H, W]` shape of a rank-4 tensor.
/// The ConvLSTM step of `c_prev`'s shape `[N, C_h, H, W]`, checking `gates` is
/// `[N, 4*C_h, H, W]`.
fn conv_lstm_shape(gates: &NdArrayTensor, [n, ch, h, w]: [usize; 4]) -> cpu::ConvLstmShape {
    let got = shape(gates);
    assert!(
        got == [n, 4 * ch, h, w],
        "conv_lstm_gates: expected gates of shape {:?} for a cell state of shape {:?}, got {got:?}",
        [n, 4 * ch, h, w],
        [n, ch, h, w]
    );
    cpu::ConvLstmShape {
        batch: n,
        channels: ch,
        plane: h * w,
    }
}

fn shape4(t: &NdArrayTensor, op: &str) -> [usize; 4] {
    let dims = shape(t);
    dims.clone()
        .try_into()
        .unwrap_or_else(|_| panic!("{op}: expected a tensor of shape [N, C, H, W], got {dims:?}"))
}

fn pool_shape(input: [usize; 4], o: PoolOptions) -> cpu::Pool2dShape {
    cpu::Pool2dShape {
        input,
        kernel: o.kernel,
        stride: o.stride,
        padding: o.padding,
        dilation: o.dilation,
    }
}

/// A gradient of another dtype, converted to `f32` values.
fn grad_packed_to_f32(t: NdArrayTensor) -> Vec<f32> {
    let data = burn::tensor::Tensor::<NdArray<f32>, 3>::from_primitive(
        burn::tensor::TensorPrimitive::Float(t),
    )
    .into_data();
    data.convert::<f32>().to_vec().expect("f32 values")
}
