//! Fused path == plain-ops reference path, outputs and gradients, to 1e-5 (f32).
//!
//! Every cell kind, with and without lengths, initial states, both directions and two layers;
//! hidden sizes that are not multiples of the kernels' 16-unit blocks; and steps big enough
//! for the CPU kernels to split them across two threads. On ndarray the fused path is the
//! hand-written CPU kernels; under `--features wgpu` it is the CubeCL kernels (with
//! `--features wgpu,fusion`, inside Burn's fusion stream), through the custom autodiff node.
//! GPU runs use the same 1e-5 tolerance: lavapipe computes in f32 on the CPU.

mod common;

use std::sync::Mutex;

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Tensor, TensorData};
use burn_rnn::import::{FusedParams, ParamRef};
use burn_rnn::*;
use common::{assert_close, device, AD, TOL};

/// The CPU kernels share one worker pool; running these cases one at a time makes sure the
/// big ones really get two threads.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Copy)]
struct Case {
    batch: usize,
    seq: usize,
    input: usize,
    hidden: usize,
    layers: usize,
    bidirectional: bool,
    batch_first: bool,
    lengths: bool,
    state: bool,
}

const SMALL: Case = Case {
    batch: 3,
    seq: 5,
    input: 4,
    hidden: 20,
    layers: 2,
    bidirectional: true,
    batch_first: true,
    lengths: true,
    state: true,
};

fn cases() -> Vec<Case> {
    vec![
        SMALL,
        Case {
            layers: 1,
            bidirectional: false,
            lengths: false,
            state: false,
            ..SMALL
        },
        Case {
            batch_first: false,
            hidden: 7,
            ..SMALL
        },
        // Big enough per step (N * G*H * H >= 2^17) for two threads.
        Case {
            batch: 16,
            seq: 4,
            input: 8,
            hidden: 70,
            ..SMALL
        },
        Case {
            batch: 12,
            seq: 3,
            input: 6,
            hidden: 130,
            layers: 1,
            bidirectional: false,
            ..SMALL
        },
    ]
}

/// Per-element weights for the loss, so that every output gets its own gradient.
fn weights_like<const D: usize>(t: &Tensor<AD, D>) -> Tensor<AD, D> {
    Tensor::random(t.dims(), Distribution::Uniform(-1.0, 1.0), &t.device())
}

/// Runs one layer on both paths and compares outputs, final states and every gradient.
fn check<C>(name: &str, layer: Recurrent<AD, C>, c: Case, has_cell: bool) -> (f32, f32)
where
    C: Cell<AD> + FusedParams<AD> + burn::module::ModuleDisplay + Clone + 'static,
    RecurrentInput<AD, LayerState<AD, C>>: Clone,
    LayerState<AD, C>: Clone,
{
    let device = device();
    touch_params(layer.cells());
    let dirs = if c.bidirectional { 2 } else { 1 };
    let shape = match c.batch_first {
        true => [c.batch, c.seq, c.input],
        false => [c.seq, c.batch, c.input],
    };
    let x = Tensor::<AD, 3>::random(shape, Distribution::Default, &device).require_grad();
    let state_shape = [c.layers * dirs, c.batch, c.hidden];
    let h0 = Tensor::<AD, 3>::random(state_shape, Distribution::Default, &device).require_grad();
    let c0 = Tensor::<AD, 3>::random(state_shape, Distribution::Default, &device).require_grad();
    let lengths: Vec<usize> = (0..c.batch).map(|n| c.seq - (n * 2) % c.seq).collect();

    let mut results = Vec::new();
    for path in [ExecutionPath::Fused, ExecutionPath::Reference] {
        let layer = layer.clone().with_path(path);
        let mut input = RecurrentInput::new(x.clone());
        if c.state {
            let parts = match has_cell {
                true => vec![h0.clone(), c0.clone()],
                false => vec![h0.clone()],
            };
            input = input.with_state(state_from_parts::<C>(parts));
        }
        if c.lengths {
            input = input.with_lengths(lengths.clone());
        }
        let out = layer.forward_with(input);
        let finals = state_parts::<C>(&out.state);
        results.push((layer, out.output, finals));
    }
    // The same loss weights for both paths.
    let w_out = weights_like(&results[0].1);
    let w_states: Vec<_> = results[0].2.iter().map(weights_like).collect();
    let mut forward_err = 0.0f32;
    let mut grad_err = 0.0f32;
    let mut grads = Vec::new();
    for (layer, output, finals) in &results {
        let mut loss = (output.clone() * w_out.clone()).sum();
        for (s, w) in finals.iter().zip(&w_states) {
            loss = loss + (s.clone() * w.clone()).sum();
        }
        let g = loss.backward();
        let mut named = vec![(
            "x".to_string(),
            x.grad(&g).expect("x has a gradient").into_data(),
        )];
        if c.state {
            named.push((
                "h0".into(),
                h0.grad(&g).expect("h0 has a gradient").into_data(),
            ));
            if has_cell {
                named.push((
                    "c0".into(),
                    c0.grad(&g).expect("c0 has a gradient").into_data(),
                ));
            }
        }
        named.extend(param_grads(layer.cells(), &g));
        grads.push(named);
    }
    let (fused, reference) = (&results[0], &results[1]);
    forward_err = forward_err.max(assert_close(
        &format!("{name} output"),
        fused.1.clone().into_data(),
        reference.1.clone().into_data(),
        TOL,
    ));
    for (i, (f, r)) in fused.2.iter().zip(&reference.2).enumerate() {
        forward_err = forward_err.max(assert_close(
            &format!("{name} final state part {i}"),
            f.clone().into_data(),
            r.clone().into_data(),
            TOL,
        ));
    }
    assert_eq!(grads[0].len(), grads[1].len());
    for ((key, f), (_, r)) in grads[0].iter().zip(&grads[1]) {
        grad_err = grad_err.max(assert_close(
            &format!("{name} grad {key}"),
            f.clone(),
            r.clone(),
            TOL,
        ));
    }
    (forward_err, grad_err)
}

/// Burn initializes parameters lazily, and a clone of an uninitialized parameter draws its own
/// values: touching every parameter first makes both paths share the same weights.
fn touch_params<C: FusedParams<AD>>(cells: &[C]) {
    for cell in cells {
        for (_, p) in cell.params() {
            match p {
                ParamRef::Matrix(p) => drop(p.val()),
                ParamRef::Vector(Some(p)) => drop(p.val()),
                ParamRef::Vector(None) => {}
            }
        }
    }
}

/// Gradients of every parameter of every cell.
fn param_grads<C: FusedParams<AD>>(
    cells: &[C],
    grads: &<AD as AutodiffBackend>::Gradients,
) -> Vec<(String, TensorData)> {
    let mut out = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        for (name, p) in cell.params() {
            let g = match p {
                ParamRef::Matrix(p) => p.val().grad(grads).map(|g| g.into_data()),
                ParamRef::Vector(Some(p)) => p.val().grad(grads).map(|g| g.into_data()),
                ParamRef::Vector(None) => continue,
            };
            out.push((
                format!("cell {i} {name}"),
                g.expect("every parameter has a gradient"),
            ));
        }
    }
    out
}

fn state_parts<C: Cell<AD> + 'static>(state: &LayerState<AD, C>) -> Vec<Tensor<AD, 3>>
where
    LayerState<AD, C>: Clone,
{
    let any: &dyn std::any::Any = state;
    if let Some(s) = any.downcast_ref::<LstmState<AD, 3>>() {
        return vec![s.hidden.clone(), s.cell.clone()];
    }
    if let Some(s) = any.downcast_ref::<RnnState<AD, 3>>() {
        return vec![s.hidden.clone()];
    }
    unreachable!("layer states are RnnState or LstmState")
}

fn state_from_parts<C: Cell<AD> + 'static>(mut parts: Vec<Tensor<AD, 3>>) -> LayerState<AD, C> {
    let boxed: Box<dyn std::any::Any> = match parts.len() {
        2 => {
            let c = parts.pop().expect("two parts");
            let h = parts.pop().expect("two parts");
            Box::new(LstmState::from_hidden_and_cell(h, c))
        }
        _ => Box::new(RnnState::new(parts.pop().expect("one part"))),
    };
    *boxed
        .downcast::<LayerState<AD, C>>()
        .expect("the state type matches the cell")
}

fn run_all(kind: &str) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    burn_rnn::kernels::set_num_threads(2);
    let device = device();
    let mut worst = (0.0f32, 0.0f32);
    for c in cases() {
        let name = format!("{kind} {c:?}");
        let errs = match kind {
            "rnn_tanh" | "rnn_relu" => {
                let nl = match kind {
                    "rnn_tanh" => Nonlinearity::Tanh,
                    _ => Nonlinearity::Relu,
                };
                let layer = RnnConfig::new(c.input, c.hidden)
                    .with_nonlinearity(nl)
                    .with_num_layers(c.layers)
                    .with_bidirectional(c.bidirectional)
                    .with_batch_first(c.batch_first)
                    .init::<AD>(&device);
                check(&name, layer, c, false)
            }
            "lstm" => {
                let layer = LstmConfig::new(c.input, c.hidden)
                    .with_num_layers(c.layers)
                    .with_bidirectional(c.bidirectional)
                    .with_batch_first(c.batch_first)
                    .init::<AD>(&device);
                check(&name, layer, c, true)
            }
            _ => {
                let layer = GruConfig::new(c.input, c.hidden)
                    .with_num_layers(c.layers)
                    .with_bidirectional(c.bidirectional)
                    .with_batch_first(c.batch_first)
                    .init::<AD>(&device);
                check(&name, layer, c, false)
            }
        };
        worst = (worst.0.max(errs.0), worst.1.max(errs.1));
    }
    println!(
        "fused vs reference, {kind}: worst abs error outputs/states {:.1e}, gradients {:.1e}",
        worst.0, worst.1
    );
}

#[test]
fn fused_rnn_tanh_equals_reference_outputs_and_gradients() {
    run_all("rnn_tanh");
}

#[test]
fn fused_rnn_relu_equals_reference_outputs_and_gradients() {
    run_all("rnn_relu");
}

#[test]
fn fused_lstm_equals_reference_outputs_and_gradients() {
    run_all("lstm");
}

#[test]
fn fused_gru_equals_reference_outputs_and_gradients() {
    run_all("gru");
}

/// The fused path without autodiff (inference) gives the same outputs as with it.
#[test]
fn fused_inference_equals_fused_training_forward() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let device = device();
    let layer = LstmConfig::new(6, 40)
        .with_num_layers(2)
        .with_bidirectional(true)
        .init::<AD>(&device);
    let x = Tensor::<AD, 3>::random([5, 7, 6], Distribution::Default, &device);
    let lengths = vec![7, 3, 5, 1, 7];
    touch_params(layer.cells());
    let train = layer.forward_with(RecurrentInput::new(x.clone()).with_lengths(lengths.clone()));
    let inner = layer.valid();
    let infer = inner.forward_with(RecurrentInput::new(x.inner()).with_lengths(lengths));
    assert_close(
        "inference vs training output",
        infer.output.into_data(),
        train.output.inner().into_data(),
        0.0,
    );
}

/// The trait's plain-ops default bodies (what backends without fused kernels run) against the
/// backend's fused kernels (CPU, or CubeCL under `--features wgpu`), at the primitive level:
/// outputs and every gradient.
#[test]
fn default_bodies_equal_the_fused_kernels() {
    // Sums over all steps (d bias_hh reaches ~22 here) differ in the last bits between the
    // plain ops and a GPU reduction: the 1e-4 on GPU backends, 1e-5 on the CPU.
    const PRIM_TOL: f32 = if cfg!(feature = "wgpu") { 1e-4 } else { TOL };
    // d weight_hh and d bias_hh are sums over the L*N = 30 rows, which the fused kernel adds in
    // another order (blocked over rows and threads) than the plain ops: f32 rounding of about
    // L*N * eps * max|term| (30 * 6e-8 * 22 = 4e-5 here), so 1e-5 failed now and then.
    const SUM_TOL: f32 = if cfg!(feature = "wgpu") { 1e-4 } else { 4e-5 };
    use burn::tensor::TensorPrimitive;
    use burn_rnn::kernels::{reference, CellKind, RecurrentTensors, RnnBackend, Spec};
    type B = common::B;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let device = device();
    let (seq, batch, hidden) = (6, 5, 21);
    let prim = |t: Tensor<B, 3>| t.into_primitive().tensor();
    let data = |p| Tensor::<B, 3>::from_primitive(TensorPrimitive::Float(p)).into_data();
    for kind in [
        CellKind::RnnTanh,
        CellKind::RnnRelu,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        for (lengths, reverse) in [
            (None, false),
            (Some(vec![6, 2, 4, 1, 6]), true),
            (Some(vec![3, 6, 1, 5, 2]), false),
        ] {
            let spec = Spec {
                kind,
                lengths: lengths.map(Into::into),
                reverse,
            };
            let gh = kind.gates() * hidden;
            let r = |shape: Vec<usize>| {
                Tensor::<B, 1>::random(
                    [shape.iter().product::<usize>()],
                    Distribution::Uniform(-0.5, 0.5),
                    &device,
                )
            };
            let tensors = RecurrentTensors::<B> {
                gates_x: r(vec![seq, batch, gh])
                    .reshape([seq, batch, gh])
                    .into_primitive()
                    .tensor(),
                weight_hh: r(vec![gh, hidden])
                    .reshape([gh, hidden])
                    .into_primitive()
                    .tensor(),
                bias_hh: r(vec![gh]).into_primitive().tensor(),
                h0: r(vec![batch, hidden])
                    .reshape([batch, hidden])
                    .into_primitive()
                    .tensor(),
                c0: r(vec![batch, hidden])
                    .reshape([batch, hidden])
                    .into_primitive()
                    .tensor(),
            };
            let grad = prim(Tensor::random(
                [seq + 2, batch, hidden],
                Distribution::Uniform(-1.0, 1.0),
                &device,
            ));
            let fused = B::recurrent_forward(&spec, tensors.clone(), true);
            let plain = reference::forward::<B>(&spec, tensors, true);
            let name = format!("{kind:?} {spec:?}");
            assert_close(
                &format!("{name} packed"),
                data(fused.packed),
                data(plain.packed),
                PRIM_TOL,
            );
            // One saved layout for every implementation: each backward consumes either
            // forward's saved tensors and gives the reference's gradients.
            let fused_saved = fused.saved.expect("asked to save");
            let plain_saved = plain.saved.expect("asked to save");
            let gp = reference::backward::<B>(&spec, plain_saved.clone(), grad.clone());
            let two = |p| Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(p)).into_data();
            let one = |p| Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(p)).into_data();
            let runs = [
                (
                    "fused fwd + fused bwd",
                    B::recurrent_backward(&spec, fused_saved.clone(), grad.clone()),
                ),
                (
                    "reference fwd + fused bwd",
                    B::recurrent_backward(&spec, plain_saved, grad.clone()),
                ),
                (
                    "fused fwd + reference bwd",
                    reference::backward::<B>(&spec, fused_saved, grad.clone()),
                ),
            ];
            for (how, gf) in runs {
                let name = format!("{name} {how}");
                assert_close(
                    &format!("{name} d gates_x"),
                    data(gf.gates_x),
                    data(gp.gates_x.clone()),
                    PRIM_TOL,
                );
                assert_close(
                    &format!("{name} d weight_hh"),
                    two(gf.weight_hh),
                    two(gp.weight_hh.clone()),
                    SUM_TOL,
                );
                assert_close(
                    &format!("{name} d bias_hh"),
                    one(gf.bias_hh),
                    one(gp.bias_hh.clone()),
                    SUM_TOL,
                );
                assert_close(
                    &format!("{name} d h0"),
                    two(gf.h0),
                    two(gp.h0.clone()),
                    PRIM_TOL,
                );
                assert_close(
                    &format!("{name} d c0"),
                    two(gf.c0),
                    two(gp.c0.clone()),
                    PRIM_TOL,
                );
            }
        }
    }
}

/// `h_t = a_t * h_(t-1) + b_t` written out on the host, in f64.
fn scan_by_hand(a: &[f32], b: &[f32], h0: &[f32]) -> Vec<f32> {
    let m = h0.len();
    let mut prev: Vec<f64> = h0.iter().map(|&v| f64::from(v)).collect();
    let mut out = Vec::with_capacity(a.len());
    for (a, b) in a.chunks(m).zip(b.chunks(m)) {
        for i in 0..m {
            prev[i] = f64::from(a[i]) * prev[i] + f64::from(b[i]);
            out.push(prev[i] as f32);
        }
    }
    out
}

/// The backend's linear scan (the CPU pass on ndarray; the Hillis–Steele default body on the
/// GPU backends) and the default body: the recurrence by hand, and equal gradients through
/// the autodiff node and through the default body's own backward, at a length that is not a
/// power of two.
#[test]
fn linear_scan_equals_the_recurrence_and_its_default_body() {
    use burn_rnn::kernels::{linear_scan, reference};
    type Inner = <AD as AutodiffBackend>::InnerBackend;
    let (seq, m) = (37, 11);
    let a = Tensor::<AD, 2>::random([seq, m], Distribution::Uniform(0.0, 1.0), &device());
    let b = Tensor::<AD, 2>::random([seq, m], Distribution::Uniform(-1.0, 1.0), &device());
    let h0 = Tensor::<AD, 1>::random([m], Distribution::Uniform(-1.0, 1.0), &device());
    let w = Tensor::<AD, 2>::random([seq, m], Distribution::Uniform(-1.0, 1.0), &device());
    let values = |t: Tensor<AD, 2>| t.into_data().to_vec::<f32>().unwrap();
    let expected = scan_by_hand(
        &values(a.clone()),
        &values(b.clone()),
        &h0.to_data().to_vec().unwrap(),
    );

    let (ag, bg, hg) = (
        a.clone().require_grad(),
        b.clone().require_grad(),
        h0.clone().require_grad(),
    );
    let h = linear_scan(ag.clone(), bg.clone(), hg.clone());
    let by_hand = TensorData::new(expected, [seq, m]);
    assert_close(
        "scan vs by hand",
        h.clone().into_data(),
        by_hand.clone(),
        TOL,
    );
    let grads = (h.clone() * w.clone()).sum().backward();

    let prim = |t: Tensor<AD, 2>| t.inner().into_primitive().tensor();
    let h0_prim = h0.clone().inner().into_primitive().tensor();
    let h_ref =
        reference::linear_scan_forward::<Inner>(prim(a.clone()), prim(b.clone()), h0_prim.clone());
    let h_ref = Tensor::<Inner, 2>::from_primitive(burn::tensor::TensorPrimitive::Float(h_ref));
    assert_close(
        "default body vs by hand",
        h_ref.clone().into_data(),
        by_hand,
        TOL,
    );
    let g = reference::linear_scan_backward::<Inner>(
        prim(a.clone()),
        h0_prim,
        h_ref.into_primitive().tensor(),
        prim(w.clone()),
    );
    let wrap = |p| Tensor::<Inner, 2>::from_primitive(burn::tensor::TensorPrimitive::Float(p));
    let h0_grad = Tensor::<Inner, 1>::from_primitive(burn::tensor::TensorPrimitive::Float(g.h0));
    assert_close(
        "grad a",
        ag.grad(&grads).unwrap().into_data(),
        wrap(g.a).into_data(),
        TOL,
    );
    assert_close(
        "grad b",
        bg.grad(&grads).unwrap().into_data(),
        wrap(g.b).into_data(),
        TOL,
    );
    assert_close(
        "grad h0",
        hg.grad(&grads).unwrap().into_data(),
        h0_grad.into_data(),
        TOL,
    );
}

/// The minGRU / minLSTM coefficient op (the backend's, through its autodiff node) against its
/// default body in tensor ops, forward, differentiated by autodiff, and its default backward.
#[test]
fn min_coefficients_equal_their_default_body() {
    use burn_rnn::kernels::{min_coefficients, reference, MinKind};
    type Inner = <AD as AutodiffBackend>::InnerBackend;
    let (rows, hidden) = (7, 19);
    for kind in [MinKind::Gru, MinKind::Lstm] {
        let width = kind.gates() * hidden;
        let gates =
            Tensor::<AD, 2>::random([rows, width], Distribution::Uniform(-3.0, 3.0), &device());
        let w = Tensor::<AD, 3>::random(
            [2, rows, hidden],
            Distribution::Uniform(-1.0, 1.0),
            &device(),
        );
        let fused = gates.clone().require_grad();
        let (a, b) = min_coefficients(kind, fused.clone());
        let out = Tensor::stack::<3>(vec![a, b], 0);
        let grads = (out.clone() * w.clone()).sum().backward();

        let plain = gates.clone().require_grad();
        let prim = plain.clone().into_primitive().tensor();
        let expected = Tensor::<AD, 3>::from_primitive(burn::tensor::TensorPrimitive::Float(
            reference::min_coefficients_forward::<AD>(kind, prim),
        ));
        let plain_grads = (expected.clone() * w.clone()).sum().backward();
        let name = format!("{kind:?}");
        assert_close(
            &format!("{name} (a, b)"),
            out.into_data(),
            expected.into_data(),
            TOL,
        );
        let d_plain = plain.grad(&plain_grads).unwrap();
        assert_close(
            &format!("{name} d gates"),
            fused.grad(&grads).unwrap().into_data(),
            d_plain.clone().into_data(),
            TOL,
        );
        let d_default = reference::min_coefficients_backward::<Inner>(
            kind,
            gates.inner().into_primitive().tensor(),
            w.inner().into_primitive().tensor(),
        );
        let d_default =
            Tensor::<Inner, 2>::from_primitive(burn::tensor::TensorPrimitive::Float(d_default));
        assert_close(
            &format!("{name} default backward"),
            d_default.into_data(),
            d_plain.into_data(),
            TOL,
        );
    }
}
