//! Finite-difference gradient checks of each cell (the LSTM with and without a projection), in f64 on ndarray: autodiff's gradients of a
//! 3-step unroll equal central differences for every parameter and every input element; and
//! the input gradients of the ConvLSTM and ConvGRU layers (with lengths, both directions).
#![cfg(feature = "ndarray")]

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::{backend::Backend, Tensor, TensorData};
use burn_autodiff::Autodiff;
use burn_ndarray::NdArray;
use burn_rnn::import::{FusedParams, ParamRef};
use burn_rnn::*;

type F64 = NdArray<f64>;
type AD64 = Autodiff<F64>;

const STEPS: usize = 3;
const BATCH: usize = 2;
const INPUT: usize = 3;
const EPS: f64 = 1e-6;

/// Deterministic values in (-1, 1).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// `sum_t sum(h_t * w_t)` over a 3-step unroll from the zero state.
fn loss<Bk: Backend, C: Cell<Bk>>(cell: &C, x: Tensor<Bk, 3>) -> Tensor<Bk, 1> {
    let device = x.device();
    let (hidden, output) = (cell.d_hidden(), cell.d_output());
    let mut state = C::State::zeros_sized(BATCH, output, hidden, &device);
    let mut total = Tensor::<Bk, 1>::zeros([1], &device);
    let w = Tensor::<Bk, 3>::from_data(
        TensorData::new(values(STEPS * BATCH * output, 99), [STEPS, BATCH, output]),
        &device,
    );
    for t in 0..STEPS {
        let x_t = x.clone().slice(t..t + 1).squeeze_dim(0);
        state = cell.step(cell.project_input(x_t), state);
        let w_t = w.clone().slice(t..t + 1).squeeze_dim(0);
        total = total + (CellState::output(&state) * w_t).sum();
    }
    total
}

fn scalar(t: Tensor<F64, 1>) -> f64 {
    t.into_data().to_vec::<f64>().unwrap()[0]
}

fn gradcheck<CA, CP>(name: &str, cell_ad: CA, cell_plain: CP)
where
    CA: Cell<AD64> + PytorchParams<AD64> + FusedParams<AD64>,
    CP: Cell<F64> + PytorchParams<F64> + Clone,
{
    let source = Path::new(name);
    let params: HashMap<String, TensorData> = cell_ad
        .pytorch_shapes()
        .into_iter()
        .enumerate()
        .map(|(i, (k, shape))| {
            let n = shape.iter().product();
            (k, TensorData::new(values(n, i as u64 + 1), shape))
        })
        .collect();
    let x_values = values(STEPS * BATCH * INPUT, 42);
    let x_shape = [STEPS, BATCH, INPUT];
    let device = Default::default();

    // Autodiff.
    let cell_ad = cell_ad.load_tensors(params.clone(), source).unwrap();
    let x = Tensor::<AD64, 3>::from_data(TensorData::new(x_values.clone(), x_shape), &device)
        .require_grad();
    let loss_ad = loss(&cell_ad, x.clone());
    let plain = cell_plain
        .clone()
        .load_tensors(params.clone(), source)
        .unwrap();
    let loss_plain = scalar(loss(
        &plain,
        Tensor::<F64, 3>::from_data(TensorData::new(x_values.clone(), x_shape), &device),
    ));
    let loss_ad_value: f64 = loss_ad.clone().into_data().to_vec::<f64>().unwrap()[0];
    assert_eq!(
        loss_ad_value, loss_plain,
        "{name}: the autodiff and the plain backend compute the same loss"
    );
    let grads = loss_ad.backward();
    let mut analytic: Vec<(String, Vec<f64>)> = vec![(
        "x".into(),
        x.grad(&grads).unwrap().into_data().to_vec().unwrap(),
    )];
    for (key, p) in cell_ad.params() {
        let g = match p {
            ParamRef::Matrix(p) => p.val().grad(&grads).unwrap().into_data(),
            ParamRef::Vector(Some(p)) => p.val().grad(&grads).unwrap().into_data(),
            ParamRef::Vector(None) => continue,
        };
        analytic.push((key.to_string(), g.to_vec().unwrap()));
    }

    // Central differences, one element at a time.
    let eval = |params: &HashMap<String, TensorData>, x: &[f64]| {
        let cell = cell_plain
            .clone()
            .load_tensors(params.clone(), source)
            .unwrap();
        let x = Tensor::<F64, 3>::from_data(TensorData::new(x.to_vec(), x_shape), &device);
        scalar(loss(&cell, x))
    };
    let mut checked = 0;
    for (key, grad) in &analytic {
        for (i, &g) in grad.iter().enumerate() {
            let numeric = if key == "x" {
                let (mut plus, mut minus) = (x_values.clone(), x_values.clone());
                plus[i] += EPS;
                minus[i] -= EPS;
                (eval(&params, &plus) - eval(&params, &minus)) / (2.0 * EPS)
            } else {
                let shift = |delta: f64| {
                    let mut p = params.clone();
                    let data = &p[key];
                    let mut v: Vec<f64> = data.to_vec().unwrap();
                    v[i] += delta;
                    let shape = data.shape.clone();
                    p.insert(key.clone(), TensorData::new(v, shape));
                    eval(&p, &x_values)
                };
                (shift(EPS) - shift(-EPS)) / (2.0 * EPS)
            };
            let tol = 1e-7 + 1e-6 * numeric.abs();
            assert!(
                (g - numeric).abs() <= tol,
                "{name}: d loss / d {key}[{i}]: autodiff {g}, finite difference {numeric}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn rnn_cell_gradients_match_finite_differences() {
    let d = Default::default();
    for nl in [Nonlinearity::Tanh, Nonlinearity::Relu] {
        let config = RnnCellConfig::new(INPUT, 2).with_nonlinearity(nl);
        gradcheck("rnn", config.init::<AD64>(&d), config.init::<F64>(&d));
    }
}

#[test]
fn lstm_cell_gradients_match_finite_differences() {
    let d = Default::default();
    let config = LstmCellConfig::new(INPUT, 2);
    gradcheck("lstm", config.init::<AD64>(&d), config.init::<F64>(&d));
}

#[test]
fn lstm_cell_with_projection_gradients_match_finite_differences() {
    let d = Default::default();
    for bias in [true, false] {
        let config = LstmCellConfig::new(INPUT, 3)
            .with_proj_size(2)
            .with_bias(bias);
        gradcheck("lstm proj", config.init::<AD64>(&d), config.init::<F64>(&d));
    }
}

#[test]
fn lstm_cell_with_peepholes_gradients_match_finite_differences() {
    let d = Default::default();
    for proj in [0, 2] {
        let config = LstmCellConfig::new(INPUT, 3)
            .with_peephole(true)
            .with_proj_size(proj);
        gradcheck(
            "lstm peephole",
            config.init::<AD64>(&d),
            config.init::<F64>(&d),
        );
    }
}

#[test]
fn layer_norm_lstm_and_gru_cell_gradients_match_finite_differences() {
    let d = Default::default();
    let lstm = LayerNormLstmCellConfig::new(INPUT, 3);
    gradcheck(
        "LayerNorm LSTM",
        lstm.init::<AD64>(&d),
        lstm.init::<F64>(&d),
    );
    let gru = LayerNormGruCellConfig::new(INPUT, 3);
    gradcheck("LayerNorm GRU", gru.init::<AD64>(&d), gru.init::<F64>(&d));
}

#[test]
fn min_gru_and_min_lstm_cell_gradients_match_finite_differences() {
    let d = Default::default();
    for bias in [true, false] {
        let gru = MinGruCellConfig::new(INPUT, 2).with_bias(bias);
        gradcheck("minGRU", gru.init::<AD64>(&d), gru.init::<F64>(&d));
        let lstm = MinLstmCellConfig::new(INPUT, 2).with_bias(bias);
        gradcheck("minLSTM", lstm.init::<AD64>(&d), lstm.init::<F64>(&d));
    }
}

#[test]
fn gru_cell_gradients_match_finite_differences() {
    let d = Default::default();
    for bias in [true, false] {
        let config = GruCellConfig::new(INPUT, 2).with_bias(bias);
        gradcheck("gru", config.init::<AD64>(&d), config.init::<F64>(&d));
    }
}

/// Central differences of `sum(y^2) + sum(h_n) [+ sum(c_n)]` against autodiff, on every fifth
/// input value, in `f64`, with lengths.
fn check_conv_layer<C: burn_rnn::convrnn::ConvCell<AD64>>(
    name: &str,
    layer: &burn_rnn::convrnn::ConvRecurrent<AD64, C>,
) {
    let device = Default::default();
    let shape = [2, 3, 1, 3, 3];
    let x = Tensor::<AD64, 5>::from_data(TensorData::new(values(54, 7), shape), &device);
    let loss = |x: Tensor<AD64, 5>| {
        let out = layer.try_forward(x, None, Some(&[2, 3])).unwrap();
        let mut loss = out.output.powi_scalar(2).sum() + out.state.hidden.sum();
        if let Some(c) = out.state.cell {
            loss = loss + c.sum();
        }
        loss
    };
    let xg = x.clone().require_grad();
    let analytic = xg.grad(&loss(xg.clone()).backward()).unwrap();
    let analytic = analytic.into_data().to_vec::<f64>().unwrap();
    let base = x.into_data().to_vec::<f64>().unwrap();
    let eps = 1e-6;
    for i in (0..base.len()).step_by(5) {
        let at = |d: f64| {
            let mut v = base.clone();
            v[i] += d;
            loss(Tensor::from_data(TensorData::new(v, shape), &device)).into_scalar()
        };
        let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
        assert!(
            (numeric - analytic[i]).abs() < 1e-6 * (1.0 + numeric.abs()),
            "{name} x[{i}]: finite difference {numeric}, autodiff {}",
            analytic[i]
        );
    }
}

#[test]
fn conv_lstm_and_conv_gru_input_gradients_match_finite_differences() {
    let device = Default::default();
    for bidirectional in [false, true] {
        let gru = burn_rnn::convrnn::ConvGruConfig::new(1, 2, 3).with_bidirectional(bidirectional);
        check_conv_layer(&format!("{gru}"), &gru.init::<AD64>(&device));
        let lstm =
            burn_rnn::convrnn::ConvLstmConfig::new(1, 2, 3).with_bidirectional(bidirectional);
        check_conv_layer(&format!("{lstm}"), &lstm.init::<AD64>(&device));
    }
}
