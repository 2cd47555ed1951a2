//! ConvLSTM and ConvGRU: PyTorch parity (outputs, final states, gradients of the input, the
//! initial state and every parameter, against `tests/fixtures/generate_convrnn.py`), a
//! `state_dict` loaded by name from a `.pt` file, and the errors (finite differences: in
//! `gradcheck.rs`, the f64 test binary).

mod common;

use std::path::Path;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Tensor, TensorData};
use burn_rnn::conv::Conv2d;
use burn_rnn::convrnn::*;
use burn_rnn::{ConfigError, PytorchParams};
use common::{assert_close, fixture_path, Fixture, AD, TOL};

type Grads = <AD as AutodiffBackend>::Gradients;

fn flag(case: &str, name: &str) -> usize {
    let tail = case.rsplit_once('/').unwrap().1;
    tail.split('_')
        .find_map(|part| part.strip_prefix(name).and_then(|v| v.parse().ok()))
        .unwrap_or_else(|| panic!("case {case} has no flag {name}"))
}

/// `(PyTorch name, gradient)` of a convolution's weight and bias.
fn conv_grads(prefix: String, conv: &Conv2d<AD>, grads: &Grads) -> Vec<(String, TensorData)> {
    let mut out = vec![(
        format!("grad.p.{prefix}weight"),
        conv.weight()
            .val()
            .grad(grads)
            .expect("weight grad")
            .into_data(),
    )];
    if let Some(b) = conv.bias() {
        let g = b.val().grad(grads).expect("bias grad").into_data();
        out.push((format!("grad.p.{prefix}bias"), g));
    }
    out
}

fn cell_prefix(i: usize, dirs: usize) -> String {
    match i % dirs {
        0 => format!("cell_list.{}.", i / dirs),
        _ => format!("cell_list_reverse.{}.", i / dirs),
    }
}

/// Runs one fixture case through `layer` (built with the case's flags) and compares.
fn check_case<C: ConvCell<AD>>(
    fx: &Fixture,
    case: &str,
    layer: ConvRecurrent<AD, C>,
    param_grads: impl Fn(&ConvRecurrent<AD, C>, &Grads) -> Vec<(String, TensorData)>,
) where
    ConvRecurrent<AD, C>: PytorchParams<AD>,
{
    let layer = layer
        .load_tensors(fx.params(case), Path::new(case))
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    let x = fx.tensor::<AD, 5>(case, "x").require_grad();
    let h0 = fx
        .get(case, "h0")
        .map(|_| fx.tensor::<AD, 5>(case, "h0").require_grad());
    let c0 = fx
        .get(case, "c0")
        .map(|_| fx.tensor::<AD, 5>(case, "c0").require_grad());
    let state = h0.clone().map(|hidden| ConvState {
        hidden,
        cell: c0.clone(),
    });
    let lengths: Option<Vec<usize>> = fx.get(case, "lengths").map(|l| {
        l.to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|&v| v as usize)
            .collect()
    });
    let out = layer
        .try_forward(x.clone(), state, lengths.as_deref())
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    let mut loss = (out.output.clone() * fx.tensor::<AD, 5>(case, "gy")).sum()
        + (out.state.hidden.clone() * fx.tensor::<AD, 5>(case, "gh")).sum();
    let mut checks = vec![
        ("y", out.output.clone().into_data()),
        ("hn", out.state.hidden.clone().into_data()),
    ];
    if let Some(cn) = out.state.cell.clone() {
        loss = loss + (cn.clone() * fx.tensor::<AD, 5>(case, "gc")).sum();
        checks.push(("cn", cn.into_data()));
    }
    let grads = loss.backward();
    let mut grad_checks = vec![("grad.x".to_string(), x.grad(&grads).unwrap().into_data())];
    for (key, t) in [("grad.h0", h0), ("grad.c0", c0)] {
        if let Some(t) = t {
            grad_checks.push((key.to_string(), t.grad(&grads).unwrap().into_data()));
        }
    }
    grad_checks.extend(param_grads(&layer, &grads));
    let checks = checks.into_iter().map(|(k, v)| (k.to_string(), v));
    for (key, actual) in checks.chain(grad_checks) {
        let expected = fx
            .get(case, &key)
            .unwrap_or_else(|| panic!("{case}: no {key}"));
        assert_close(&format!("{case} {key}"), actual, expected, TOL);
    }
}

/// A cell's convolutions with their PyTorch names.
type NamedConvs<C> = for<'a> fn(&'a C) -> Vec<(&'static str, &'a Conv2d<AD>)>;

/// Every fixture case of `kind`: a layer built by `make(num_layers, bidirectional, bias)`, the
/// gradients of each cell's convolutions (`(PyTorch name, conv)` per cell) compared too.
fn check_kind<C: ConvCell<AD>>(
    kind: &str,
    count: usize,
    make: impl Fn(usize, bool, bool) -> ConvRecurrent<AD, C>,
    convs: NamedConvs<C>,
    others: fn(&C, &Grads) -> Vec<(&'static str, TensorData)>,
) where
    ConvRecurrent<AD, C>: PytorchParams<AD>,
{
    let fx = Fixture::load("convrnn.safetensors");
    let cases = fx.cases(&format!("{kind}/"));
    assert_eq!(cases.len(), count, "every case of the fixture");
    for case in &cases {
        let layer = make(
            flag(case, "l"),
            flag(case, "bi") == 1,
            flag(case, "bias") == 1,
        );
        check_case(&fx, case, layer, |layer, grads| {
            let dirs = layer.num_directions();
            let cells = layer.cells().iter().enumerate();
            cells
                .flat_map(|(i, cell)| {
                    let prefix = cell_prefix(i, dirs);
                    let mut g: Vec<(String, TensorData)> = convs(cell)
                        .into_iter()
                        .flat_map(|(name, conv)| {
                            conv_grads(format!("{prefix}{name}."), conv, grads)
                        })
                        .collect();
                    g.extend(
                        others(cell, grads)
                            .into_iter()
                            .map(|(name, d)| (format!("grad.p.{prefix}{name}"), d)),
                    );
                    g
                })
                .collect()
        });
    }
}

#[test]
fn conv_lstm_matches_pytorch_outputs_and_gradients() {
    let make = |layers, bidirectional, bias| {
        ConvLstmConfig::new(2, 3, 3)
            .with_num_layers(layers)
            .with_bidirectional(bidirectional)
            .with_bias(bias)
            .init::<AD>(&Default::default())
    };
    check_kind("lstm", 16, make, lstm_convs, |_, _| Vec::new());
}

fn lstm_convs(cell: &ConvLstmCell<AD>) -> Vec<(&'static str, &Conv2d<AD>)> {
    vec![("conv", cell.conv())]
}

/// Shi et al.'s Hadamard peepholes against the peephole form of the fixture script (random
/// `Wci`, `Wcf`, `Wco`): outputs, states and every gradient, peephole weights included.
#[test]
fn conv_lstm_with_peepholes_matches_pytorch() {
    let make = |layers, bidirectional, bias| {
        ConvLstmConfig::new(2, 3, 3)
            .with_num_layers(layers)
            .with_bidirectional(bidirectional)
            .with_bias(bias)
            .with_peephole(Some([4, 3]))
            .init::<AD>(&Default::default())
    };
    check_kind("lstm_peep", 4, make, lstm_convs, |cell, grads| {
        let ws = cell.peephole().expect("built with peepholes");
        ["Wci", "Wcf", "Wco"]
            .into_iter()
            .zip(ws)
            .map(|(name, w)| {
                (
                    name,
                    w.val().grad(grads).expect("peephole grad").into_data(),
                )
            })
            .collect()
    });
}

#[test]
fn conv_gru_matches_pytorch_outputs_and_gradients() {
    let make = |layers, bidirectional, bias| {
        ConvGruConfig::new(2, 3, 3)
            .with_num_layers(layers)
            .with_bidirectional(bidirectional)
            .with_bias(bias)
            .init::<AD>(&Default::default())
    };
    fn convs(cell: &ConvGruCell<AD>) -> Vec<(&'static str, &Conv2d<AD>)> {
        vec![
            ("conv_gates", cell.conv_gates()),
            ("conv_can", cell.conv_can()),
        ]
    }
    check_kind("gru", 16, make, convs, |_, _| Vec::new());
}

#[test]
fn a_pytorch_state_dict_loads_by_name() {
    let fx = Fixture::load("convrnn.safetensors");
    let layer = ConvLstmConfig::new(2, 3, 3)
        .with_num_layers(2)
        .init::<common::B>(&Default::default())
        .load_pytorch(fixture_path("convlstm_l2.pt"))
        .unwrap_or_else(|e| panic!("{e}"));
    let y = layer.forward(fx.tensor("pt", "x"), None).output;
    assert_close(
        "convlstm_l2.pt",
        y.into_data(),
        fx.get("pt", "y").unwrap(),
        TOL,
    );
    // A layer of another shape names the parameter and both shapes.
    let err = ConvLstmConfig::new(2, 4, 3)
        .with_num_layers(2)
        .init::<common::B>(&Default::default())
        .load_pytorch(fixture_path("convlstm_l2.pt"))
        .expect_err("hidden channels 4 against a file of 3");
    let msg = err.to_string();
    assert!(msg.contains("cell_list.0.conv.weight"), "{msg}");
}

#[test]
fn settings_and_inputs_that_cannot_run_are_typed_errors() {
    let device = Default::default();
    let err = ConvLstmConfig::new(2, 3, 3)
        .with_peephole(Some([0, 3]))
        .try_init::<AD>(&device)
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::Zero {
            module: "ConvLSTM",
            setting: "peephole"
        }
    );
    let peephole = ConvLstmConfig::new(2, 3, 3)
        .with_peephole(Some([4, 3]))
        .init::<AD>(&device);
    let x = Tensor::<AD, 5>::zeros([1, 2, 2, 5, 3], &device);
    let err = peephole.try_forward(x, None, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ConvLSTM: expected input of shape [1, 2, 2, 4, 3], got [1, 2, 2, 5, 3]"
    );
    let err = ConvLstmConfig::new(2, 3, 4)
        .try_init::<AD>(&device)
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::EvenKernel {
            module: "ConvLSTM",
            kernel_size: 4
        }
    );
    assert!(err.to_string().contains("odd kernel_size"), "{err}");
    for (config, setting) in [
        (ConvGruConfig::new(0, 3, 3), "channels_in"),
        (ConvGruConfig::new(2, 0, 3), "channels_hidden"),
        (ConvGruConfig::new(2, 3, 3).with_num_layers(0), "num_layers"),
    ] {
        let err = config.try_init::<AD>(&device).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Zero {
                module: "ConvGRU",
                setting
            }
        );
    }

    let layer = ConvLstmConfig::new(2, 3, 3)
        .with_num_layers(2)
        .init::<AD>(&device);
    let x = Tensor::<AD, 5>::zeros([2, 4, 2, 5, 6], &device);
    let bad_state = ConvState {
        hidden: Tensor::zeros([2, 2, 3, 5, 5], &device),
        cell: Some(Tensor::zeros([2, 2, 3, 5, 6], &device)),
    };
    let err = layer
        .try_forward(x.clone(), Some(bad_state), None)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ConvLSTM: expected hidden of shape [2, 2, 3, 5, 6], got [2, 2, 3, 5, 5]"
    );
    let no_cell = ConvState {
        hidden: Tensor::zeros([2, 2, 3, 5, 6], &device),
        cell: None,
    };
    let err = layer
        .try_forward(x.clone(), Some(no_cell), None)
        .unwrap_err();
    assert!(
        matches!(err, ConvInputError::Part { expected: true, .. }),
        "{err}"
    );
    let err = layer
        .try_forward(Tensor::zeros([2, 4, 3, 5, 6], &device), None, None)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ConvLSTM: expected input of shape [2, 4, 2, 5, 6], got [2, 4, 3, 5, 6]"
    );
    let err = layer
        .try_forward(x.clone(), None, Some(&[4, 5]))
        .unwrap_err();
    assert_eq!(
        err,
        ConvInputError::Length {
            module: "ConvLSTM",
            sequence: 1,
            length: 5,
            max: 4
        }
    );
    let err = layer.try_forward(x, None, Some(&[4])).unwrap_err();
    assert!(
        err.to_string().contains("lengths of shape [2], got [1]"),
        "{err}"
    );
}

#[test]
fn time_major_is_the_transpose_of_batch_first() {
    let device = Default::default();
    let a = ConvGruConfig::new(2, 3, 3).init::<common::B>(&device);
    let b = ConvGruConfig::new(2, 3, 3)
        .with_batch_first(false)
        .init::<common::B>(&device)
        .load_tensors(
            a.pytorch_tensors().into_iter().collect(),
            Path::new("batch-first layer"),
        )
        .unwrap();
    let x = Tensor::<common::B, 5>::random([2, 3, 2, 4, 4], Distribution::Default, &device);
    let ya = a.forward(x.clone(), None).output;
    let yb = b.forward(x.swap_dims(0, 1), None).output.swap_dims(0, 1);
    assert_close("time-major", yb.into_data(), ya.into_data(), 1e-6);
}
