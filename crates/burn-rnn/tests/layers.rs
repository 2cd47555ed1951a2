//! Layer behaviour beyond the PyTorch fixtures: padding, layouts, dropout, init, cells vs layers.

mod common;

use burn::tensor::{Distribution, Tensor, TensorData};
use burn_rnn::*;
use common::{assert_close, device, AD, B};

fn random<const D: usize>(shape: [usize; D]) -> Tensor<B, D> {
    Tensor::random(shape, Distribution::Default, &device())
}

#[test]
fn values_past_a_sequence_length_change_nothing() {
    let gru = GruConfig::new(3, 4)
        .with_num_layers(2)
        .with_bidirectional(true)
        .init::<B>(&device());
    let x = random([2, 6, 3]);
    // Replace everything past length 2 of sequence 1 by other values.
    let noise = random([1, 4, 3]).mul_scalar(10.0);
    let y = x.clone().slice_assign([1..2, 2..6, 0..3], noise);
    let lengths = vec![6, 2];
    let a = gru.forward_with(RecurrentInput::new(x).with_lengths(lengths.clone()));
    let b = gru.forward_with(RecurrentInput::new(y).with_lengths(lengths));
    assert_close(
        "output",
        a.output.clone().into_data(),
        b.output.into_data(),
        0.0,
    );
    assert_close(
        "h_n",
        a.state.hidden.into_data(),
        b.state.hidden.into_data(),
        0.0,
    );
    // And the padded outputs are exactly zero.
    let padded = a.output.slice([1..2, 2..6, 0..8]).abs().max().into_scalar();
    assert_eq!(padded, 0.0);
}

#[test]
fn a_short_sequence_in_a_batch_equals_the_sequence_alone() {
    let lstm = LstmConfig::new(3, 4)
        .with_bidirectional(true)
        .init::<B>(&device());
    let x = random([2, 5, 3]);
    let batch = lstm.forward_with(RecurrentInput::new(x.clone()).with_lengths(vec![5, 3]));
    let alone = lstm.forward(x.slice([1..2, 0..3, 0..3]), None);
    assert_close(
        "output",
        batch.output.slice([1..2, 0..3, 0..8]).into_data(),
        alone.output.into_data(),
        1e-6,
    );
    assert_close(
        "h_n",
        batch.state.hidden.slice([0..2, 1..2, 0..4]).into_data(),
        alone.state.hidden.into_data(),
        1e-6,
    );
}

#[test]
fn time_major_layout_equals_batch_first_transposed() {
    let config = RnnConfig::new(3, 4).with_num_layers(2);
    let bf = config.init::<B>(&device());
    let tm = config
        .clone()
        .with_batch_first(false)
        .init::<B>(&device())
        .load_tensors(
            bf.pytorch_tensors().into_iter().collect(),
            std::path::Path::new("mem"),
        )
        .unwrap();
    let x = random([2, 5, 3]);
    let a = bf.forward(x.clone(), None).output;
    let b = tm.forward(x.swap_dims(0, 1), None).output.swap_dims(0, 1);
    assert_close("output", a.into_data(), b.into_data(), 0.0);
}

#[test]
fn a_layer_equals_its_cell_stepped_by_hand() {
    for batch in [2, 1] {
        layer_equals_cell_stepped_by_hand(batch);
    }
}

fn layer_equals_cell_stepped_by_hand(batch: usize) {
    let lstm = LstmConfig::new(3, 4).init::<B>(&device());
    let x = random([batch, 5, 3]);
    let out = lstm.forward(x.clone(), None);
    let cell = lstm.cell(0, 0);
    let mut state = None;
    let mut hs = Vec::new();
    for t in 0..5 {
        let s = cell.forward(x.clone().slice([0..batch, t..t + 1]).squeeze_dim(1), state);
        hs.push(s.hidden.clone());
        state = Some(s);
    }
    let by_hand = Tensor::stack::<3>(hs, 1);
    assert_close("output", out.output.into_data(), by_hand.into_data(), 1e-6);
    let state = state.unwrap();
    assert_close(
        "c_n",
        out.state.cell.squeeze_dim::<2>(0).into_data(),
        state.cell.into_data(),
        1e-6,
    );
}

#[test]
fn dropout_between_layers_acts_only_when_training() {
    let config = GruConfig::new(3, 16).with_num_layers(2).with_dropout(0.5);
    let inference = config.init::<B>(&device());
    let x = random([2, 5, 3]);
    let a = inference.forward(x.clone(), None).output.into_data();
    let b = inference.forward(x.clone(), None).output.into_data();
    assert_eq!(a, b, "no dropout on a backend without autodiff");

    let training = config.init::<AD>(&device());
    let x = Tensor::<AD, 3>::from_data(x.into_data(), &device());
    let a = training.forward(x.clone(), None).output.into_data();
    let b = training.forward(x, None).output.into_data();
    assert_ne!(a, b, "dropout draws new masks on an autodiff backend");
}

#[test]
fn default_init_is_pytorch_uniform_and_forget_bias_is_applied() {
    let h = 16;
    let k = 1.0 / (h as f32).sqrt();
    let lstm = LstmConfig::new(8, h)
        .with_forget_bias(Some(1.0))
        .init::<B>(&device());
    let cell = lstm.cell(0, 0);
    let w: Vec<f32> = cell.weight_hh().val().into_data().to_vec().unwrap();
    assert!(w.iter().all(|v| v.abs() <= k), "weights within ±1/sqrt(H)");
    let spread =
        w.iter().cloned().fold(f32::MIN, f32::max) - w.iter().cloned().fold(f32::MAX, f32::min);
    assert!(spread > k, "weights spread over the range, got {spread}");
    let values = |b: Option<&burn::module::Param<Tensor<B, 1>>>| -> Vec<f32> {
        b.unwrap().val().into_data().to_vec().unwrap()
    };
    let (b_ih, b_hh) = (values(cell.bias_ih()), values(cell.bias_hh()));
    assert!(
        b_ih[h..2 * h].iter().all(|&v| v == 1.0),
        "forget gate block of b_ih"
    );
    assert!(
        b_hh[h..2 * h].iter().all(|&v| v == 0.0),
        "forget gate block of b_hh"
    );
    assert!(
        b_ih[..h].iter().all(|v| v.abs() <= k),
        "other gates keep the default init"
    );
}

#[test]
fn custom_initializer_is_used() {
    let init = burn::module::Initializer::Constant { value: 0.25 };
    let cell = GruCellConfig::new(2, 3)
        .with_initializer(Some(init))
        .init::<B>(&device());
    let expected = TensorData::new(vec![0.25f32; 18], [9, 2]);
    assert_eq!(cell.weight_ih().val().into_data(), expected);
}

#[test]
fn relu_rnn_outputs_are_non_negative() {
    let rnn = RnnConfig::new(3, 8)
        .with_nonlinearity(Nonlinearity::Relu)
        .init::<B>(&device());
    let out = rnn.forward(random([2, 5, 3]).sub_scalar(0.5), None).output;
    assert!(out.clone().min().into_scalar() >= 0.0);
    assert!(out.max().into_scalar() > 0.0);
}

/// `AnyRecurrent::from(layer)` runs as the typed layer it wraps, on both paths: outputs, final
/// states (the LSTM's cell part included, and none for RNN and GRU) and the input's gradient,
/// with lengths, two layers and both directions.
#[test]
fn any_recurrent_runs_as_the_layer_it_wraps() {
    let dev = device();
    let data = Tensor::<AD, 3>::random([3, 5, 4], Distribution::Default, &dev).into_data();
    let lengths = vec![5, 2, 4];
    // Each run has its own leaf, so each backward sees its own graph.
    let leaf = || Tensor::<AD, 3>::from_data(data.clone(), &dev).require_grad();
    fn input<S>(x: &Tensor<AD, 3>, lengths: &[usize]) -> RecurrentInput<AD, S> {
        RecurrentInput::new(x.clone()).with_lengths(lengths.to_vec())
    }
    type Run = (Tensor<AD, 3>, Tensor<AD, 3>, Vec<Tensor<AD, 3>>);
    let check = |what: &str, typed: Run, any: Run| {
        assert_close(
            what,
            any.1.clone().into_data(),
            typed.1.clone().into_data(),
            1e-6,
        );
        assert_eq!(any.2.len(), typed.2.len(), "{what}: state parts");
        for (a, t) in any.2.iter().zip(&typed.2) {
            assert_close(what, a.clone().into_data(), t.clone().into_data(), 1e-6);
        }
        // One backward for both: the two runs share the layer's parameters, so their graphs
        // are one graph, and each sum reaches only its own input.
        let g = (any.1.sum() + typed.1.sum()).backward();
        let grad = |x: &Tensor<AD, 3>| x.grad(&g).expect("x is tracked").into_data();
        assert_close(what, grad(&any.0), grad(&typed.0), 1e-6);
    };
    for path in [ExecutionPath::Fused, ExecutionPath::Reference] {
        let lstm = LstmConfig::new(4, 3)
            .with_num_layers(2)
            .with_bidirectional(true)
            .init::<AD>(&dev)
            .with_path(path);
        let (xt, xa) = (leaf(), leaf());
        let t = lstm.forward_with(input(&xt, &lengths));
        let a = AnyRecurrent::from(lstm).forward_with(input(&xa, &lengths));
        check(
            "lstm",
            (xt, t.output, vec![t.state.hidden, t.state.cell]),
            (xa, a.output, a.state.tensors()),
        );
        let gru = GruConfig::new(4, 3)
            .with_num_layers(2)
            .init::<AD>(&dev)
            .with_path(path);
        let (xt, xa) = (leaf(), leaf());
        let t = gru.forward_with(input(&xt, &lengths));
        let a = AnyRecurrent::from(gru).forward_with(input(&xa, &lengths));
        check(
            "gru",
            (xt, t.output, vec![t.state.hidden]),
            (xa, a.output, a.state.tensors()),
        );
        let rnn = RnnConfig::new(4, 3)
            .with_nonlinearity(Nonlinearity::Relu)
            .with_bidirectional(true)
            .init::<AD>(&dev)
            .with_path(path);
        let (xt, xa) = (leaf(), leaf());
        let t = rnn.forward_with(input(&xt, &lengths));
        let a = AnyRecurrent::from(rnn).forward_with(input(&xa, &lengths));
        check(
            "rnn relu",
            (xt, t.output, vec![t.state.hidden]),
            (xa, a.output, a.state.tensors()),
        );
    }
}

/// `h' = a * h + b` of a minGRU or minLSTM step, in f64 from the cell's weights: the
/// equations of Feng et al. (2024) written out, blocks `h, z` (minGRU) or `h, f, i` (minLSTM).
fn min_step_by_hand(w: &[f32], b: &[f32], x: &[f32], h: &[f32], lstm: bool) -> Vec<f64> {
    let (d_in, d_h) = (x.len(), h.len());
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let g = |v: f64| if v >= 0.0 { v + 0.5 } else { sig(v) };
    let row = |r: usize| {
        (0..d_in)
            .map(|k| f64::from(w[r * d_in + k]) * f64::from(x[k]))
            .sum::<f64>()
            + f64::from(b[r])
    };
    (0..d_h)
        .map(|j| {
            let cand = g(row(j));
            let h = f64::from(h[j]);
            if lstm {
                let (f, i) = (sig(row(d_h + j)), sig(row(2 * d_h + j)));
                f / (f + i) * h + i / (f + i) * cand
            } else {
                let z = sig(row(d_h + j));
                (1.0 - z) * h + z * cand
            }
        })
        .collect()
}

#[test]
fn min_gru_and_min_lstm_steps_follow_their_equations() {
    let dev = device();
    let x = random([2, 3]);
    let h = random([2, 4]) * 2.0 - 1.0;
    let vec = |t: Tensor<B, 2>| t.into_data().to_vec::<f32>().unwrap();
    for lstm in [false, true] {
        let (out, w, b) = if lstm {
            let cell = MinLstmCellConfig::new(3, 4).init::<B>(&dev);
            let out = cell.forward(x.clone(), Some(RnnState::new(h.clone())));
            (out, cell.weight_ih().val(), cell.bias_ih().unwrap().val())
        } else {
            let cell = MinGruCellConfig::new(3, 4).init::<B>(&dev);
            let out = cell.forward(x.clone(), Some(RnnState::new(h.clone())));
            (out, cell.weight_ih().val(), cell.bias_ih().unwrap().val())
        };
        let (w, b) = (vec(w), b.into_data().to_vec::<f32>().unwrap());
        let (xs, hs, out) = (vec(x.clone()), vec(h.clone()), vec(out.hidden));
        for n in 0..2 {
            let expected =
                min_step_by_hand(&w, &b, &xs[n * 3..n * 3 + 3], &hs[n * 4..n * 4 + 4], lstm);
            for (j, e) in expected.iter().enumerate() {
                let got = f64::from(out[n * 4 + j]);
                assert!(
                    (got - e).abs() < 1e-6,
                    "lstm={lstm} [{n}, {j}]: {got} vs {e}"
                );
            }
        }
    }
}

/// The parallel scan (fused path) and step mode (reference path) of a min layer: outputs,
/// final states and the gradients of the input, the initial state and every parameter.
fn min_modes_agree<C>(name: &str, fused: Recurrent<AD, C>, lengths: Option<Vec<usize>>, state: bool)
where
    C: Cell<AD, State = RnnState<AD, 2>> + burn_rnn::import::FusedParams<AD>,
    Recurrent<AD, C>: Clone,
{
    use burn_rnn::import::ParamRef;
    // Parameters initialize lazily: materialize them before cloning, or the clone draws anew.
    materialize(&fused);
    let reference = fused.clone().with_path(ExecutionPath::Reference);
    let dirs = fused.num_directions();
    let (batch, seq) = (lengths.as_ref().map_or(1, Vec::len), 13);
    let x = Tensor::<AD, 3>::random(
        [batch, seq, fused.d_input()],
        Distribution::Default,
        &device(),
    );
    let h0 = Tensor::<AD, 3>::random(
        [fused.num_layers() * dirs, batch, fused.d_hidden()],
        Distribution::Uniform(-1.0, 1.0),
        &device(),
    );
    let run = |layer: &Recurrent<AD, C>| {
        let (x, h0) = (
            x.clone().detach().require_grad(),
            h0.clone().detach().require_grad(),
        );
        let mut input = RecurrentInput::new(x.clone());
        if state {
            input = input.with_state(RnnState::new(h0.clone()));
        }
        if let Some(l) = &lengths {
            input = input.with_lengths(l.clone());
        }
        let out = layer.forward_with(input);
        let w = Tensor::<AD, 3>::ones(out.output.dims(), &device()).cumsum(1) / seq as f64;
        let loss = (out.output.clone() * w).sum() + out.state.hidden.clone().powi_scalar(2).sum();
        let grads = loss.backward();
        let mut parts = vec![
            ("output".to_string(), out.output.inner().into_data()),
            ("h_n".to_string(), out.state.hidden.inner().into_data()),
            ("grad x".to_string(), x.grad(&grads).unwrap().into_data()),
        ];
        if state {
            parts.push(("grad h0".into(), h0.grad(&grads).unwrap().into_data()));
        }
        for (i, cell) in layer.cells().iter().enumerate() {
            for (key, p) in cell.params() {
                let g = match p {
                    ParamRef::Matrix(p) => p.val().grad(&grads).map(|g| g.into_data()),
                    ParamRef::Vector(Some(p)) => p.val().grad(&grads).map(|g| g.into_data()),
                    ParamRef::Vector(None) => continue,
                };
                parts.push((format!("grad {key} of cell {i}"), g.unwrap()));
            }
        }
        parts
    };
    for ((what, a), (_, b)) in run(&fused).into_iter().zip(run(&reference)) {
        assert_close(&format!("{name}: {what}"), a, b, 1e-5);
    }
}

#[test]
fn min_gru_and_min_lstm_parallel_scan_equals_step_mode() {
    let dev = device();
    let cases = [
        (1, false, None, false),
        (1, false, Some(vec![4, 13]), false),
        (1, true, None, false),
        (1, true, Some(vec![4, 13]), false),
        (2, true, Some(vec![13, 1, 7]), true),
    ];
    for (layers, bi, lengths, state) in cases {
        let name = format!("layers {layers} bi {bi} lengths {lengths:?} state {state}");
        let gru = MinGruConfig::new(3, 5)
            .with_num_layers(layers)
            .with_bidirectional(bi)
            .init::<AD>(&dev);
        min_modes_agree(&format!("minGRU {name}"), gru, lengths.clone(), state);
        let lstm = MinLstmConfig::new(3, 5)
            .with_num_layers(layers)
            .with_bidirectional(bi)
            .with_bias(layers == 1)
            .init::<AD>(&dev);
        min_modes_agree(&format!("minLSTM {name}"), lstm, lengths, state);
    }
}

/// A peephole LSTM step against its equations (Gers and Schmidhuber, 2000) in f64, from the
/// cell's own weights: `i` and `f` see `w_ci ⊙ c` and `w_cf ⊙ c`, `o` sees `w_co ⊙ c'`.
#[test]
fn peephole_lstm_step_follows_its_equations() {
    let dev = device();
    let cell = LstmCellConfig::new(3, 4)
        .with_peephole(true)
        .init::<B>(&dev);
    let (x, h, c) = (
        random([2, 3]),
        random([2, 4]) - 0.5,
        random([2, 4]) * 2.0 - 1.0,
    );
    let out = cell.forward(
        x.clone(),
        Some(LstmState::from_hidden_and_cell(h.clone(), c.clone())),
    );
    let v = |t: Tensor<B, 2>| -> Vec<f64> {
        t.into_data()
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect()
    };
    let v1 = |t: Tensor<B, 1>| -> Vec<f64> {
        t.into_data()
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect()
    };
    let (w_ih, w_hh, w_ch) = (
        v(cell.weight_ih().val()),
        v(cell.weight_hh().val()),
        v(cell.weight_ch().expect("peepholes").val()),
    );
    let bias: Vec<f64> = v1(cell.bias_ih().unwrap().val())
        .iter()
        .zip(v1(cell.bias_hh().unwrap().val()))
        .map(|(a, b)| a + b)
        .collect();
    let (xs, hs, cs) = (v(x), v(h), v(c));
    let (ho, co) = (v(out.hidden), v(out.cell));
    let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
    for n in 0..2 {
        let pre = |row: usize| {
            bias[row]
                + (0..3)
                    .map(|k| w_ih[row * 3 + k] * xs[n * 3 + k])
                    .sum::<f64>()
                + (0..4)
                    .map(|k| w_hh[row * 4 + k] * hs[n * 4 + k])
                    .sum::<f64>()
        };
        for j in 0..4 {
            let c_prev = cs[n * 4 + j];
            let i = sig(pre(j) + w_ch[j] * c_prev);
            let f = sig(pre(4 + j) + w_ch[4 + j] * c_prev);
            let g = pre(8 + j).tanh();
            let c_new = f * c_prev + i * g;
            let o = sig(pre(12 + j) + w_ch[8 + j] * c_new);
            let h_new = o * c_new.tanh();
            assert!((co[n * 4 + j] - c_new).abs() < 1e-5, "c' [{n}, {j}]");
            assert!((ho[n * 4 + j] - h_new).abs() < 1e-5, "h' [{n}, {j}]");
        }
    }
}

/// `LN(v; γ, β)` of one row in f64.
fn ln_by_hand(v: &[f64], gamma: &[f64], beta: &[f64]) -> Vec<f64> {
    let k = v.len() as f64;
    let mean = v.iter().sum::<f64>() / k;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / k;
    v.iter()
        .zip(gamma.iter().zip(beta))
        .map(|(x, (g, b))| (x - mean) / (var + 1e-5).sqrt() * g + b)
        .collect()
}

/// A LayerNorm LSTM and a LayerNorm GRU step against Haste's equations in f64, from the
/// cells' own parameters (the norms' gains and biases moved off their 1 / 0 start).
#[test]
fn layer_norm_lstm_and_gru_steps_follow_their_equations() {
    use burn_rnn::import::{FusedParams, ParamRef};
    let dev = device();
    let (x, h, c) = (
        random([2, 3]),
        random([2, 4]) - 0.5,
        random([2, 4]) * 2.0 - 1.0,
    );
    let rows = |t: Tensor<B, 2>| -> Vec<Vec<f64>> {
        let [n, k] = t.dims();
        let v: Vec<f64> = t
            .into_data()
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect();
        (0..n).map(|i| v[i * k..(i + 1) * k].to_vec()).collect()
    };
    let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
    let matvec = |w: &[f64], v: &[f64]| -> Vec<f64> {
        let k = v.len();
        (0..w.len() / k)
            .map(|r| (0..k).map(|j| w[r * k + j] * v[j]).sum())
            .collect()
    };
    let spread = |p: Vec<(String, TensorData)>| -> std::collections::HashMap<String, TensorData> {
        p.into_iter()
            .map(|(k, d)| {
                let v: Vec<f32> = d.to_vec::<f32>().unwrap();
                let moved: Vec<f32> = v
                    .iter()
                    .enumerate()
                    .map(|(i, x)| x + 0.3 * ((i as f32) * 0.7).sin())
                    .collect();
                (k, TensorData::new(moved, d.shape.clone()))
            })
            .collect()
    };
    let get = |cell_params: Vec<(&'static str, ParamRef<'_, B>)>| -> std::collections::HashMap<String, Vec<f64>> {
        cell_params
            .into_iter()
            .map(|(k, p)| {
                let data = match p {
                    ParamRef::Matrix(p) => p.val().into_data(),
                    ParamRef::Vector(Some(p)) => p.val().into_data(),
                    ParamRef::Vector(None) => unreachable!("norm cells have every parameter"),
                };
                (k.to_string(), data.to_vec::<f32>().unwrap().into_iter().map(f64::from).collect())
            })
            .collect()
    };

    let lstm = LayerNormLstmCellConfig::new(3, 4).init::<B>(&dev);
    let lstm = lstm
        .clone()
        .load_tensors(spread(lstm.pytorch_tensors()), std::path::Path::new("x"))
        .unwrap();
    let p = get(lstm.params());
    let out = lstm.forward(
        x.clone(),
        Some(LstmState::from_hidden_and_cell(h.clone(), c.clone())),
    );
    let (xs, hs, cs) = (rows(x.clone()), rows(h.clone()), rows(c));
    let (ho, co) = (rows(out.hidden), rows(out.cell));
    for n in 0..2 {
        let gx = ln_by_hand(
            &matvec(&p["weight_ih"], &xs[n]),
            &p["gamma_ih"],
            &p["beta_ih"],
        );
        let gh = ln_by_hand(
            &matvec(&p["weight_hh"], &hs[n]),
            &p["gamma_hh"],
            &p["beta_hh"],
        );
        let g: Vec<f64> = gx.iter().zip(&gh).map(|(a, b)| a + b).collect();
        let c_new: Vec<f64> = (0..4)
            .map(|j| sig(g[4 + j]) * cs[n][j] + sig(g[j]) * g[8 + j].tanh())
            .collect();
        let c_norm = ln_by_hand(&c_new, &p["gamma_c"], &p["beta_c"]);
        for j in 0..4 {
            let h_new = sig(g[12 + j]) * c_norm[j].tanh();
            assert!(
                (co[n][j] - c_new[j]).abs() < 1e-5,
                "LN-LSTM c' [{n}, {j}]: {} vs {}",
                co[n][j],
                c_new[j]
            );
            assert!(
                (ho[n][j] - h_new).abs() < 1e-5,
                "LN-LSTM h' [{n}, {j}]: {} vs {h_new}",
                ho[n][j]
            );
        }
    }

    let gru = LayerNormGruCellConfig::new(3, 4).init::<B>(&dev);
    let gru = gru
        .clone()
        .load_tensors(spread(gru.pytorch_tensors()), std::path::Path::new("x"))
        .unwrap();
    let p = get(gru.params());
    let out = rows(gru.forward(x, Some(RnnState::new(h))).hidden);
    for n in 0..2 {
        let gx = ln_by_hand(
            &matvec(&p["weight_ih"], &xs[n]),
            &p["gamma_ih"],
            &p["beta_ih"],
        );
        let gh = ln_by_hand(
            &matvec(&p["weight_hh"], &hs[n]),
            &p["gamma_hh"],
            &p["beta_hh"],
        );
        for j in 0..4 {
            let r = sig(gx[j] + gh[j]);
            let z = sig(gx[4 + j] + gh[4 + j]);
            let cand = (gx[8 + j] + r * gh[8 + j]).tanh();
            let h_new = (1.0 - z) * cand + z * hs[n][j];
            assert!(
                (out[n][j] - h_new).abs() < 1e-5,
                "LN-GRU h' [{n}, {j}]: {} vs {h_new}",
                out[n][j]
            );
        }
    }
}

/// A LayerNorm LSTM layer with lengths, both directions and two layers equals its cells
/// stepped by hand over each sequence alone (the reverse direction from its own last element).
#[test]
fn layer_norm_layers_run_lengths_and_directions_as_their_cells() {
    let dev = device();
    let layer = LayerNormLstmConfig::new(3, 4)
        .with_num_layers(2)
        .with_bidirectional(true)
        .init::<B>(&dev);
    let x = random([2, 5, 3]);
    let out = layer.forward_with(RecurrentInput::new(x.clone()).with_lengths(vec![5, 3]));
    assert_eq!(out.output.dims(), [2, 5, 8]);
    assert_eq!(out.state.cell.dims(), [4, 2, 4]);
    // The short sequence alone, cut to its length, gives the same outputs and states.
    let alone = layer.forward(x.clone().slice([1..2, 0..3]), None);
    assert_close(
        "short sequence",
        out.output.clone().slice([1..2, 0..3]).into_data(),
        alone.output.into_data(),
        1e-5,
    );
    let zeros = out.output.slice([1..2, 3..5]).abs().max().into_scalar();
    assert_eq!(zeros, 0.0, "outputs past a length are zero");
    assert_close(
        "final h of the short sequence",
        out.state.hidden.slice([0..4, 1..2]).into_data(),
        alone.state.hidden.into_data(),
        1e-5,
    );
    let gru = LayerNormGruConfig::new(3, 4)
        .with_bidirectional(true)
        .init::<B>(&dev);
    assert_eq!(gru.forward(x, None).output.dims(), [2, 5, 8]);
}

/// Initializes a layer's lazy parameters, so that clones share their values.
fn materialize<Bk: burn::tensor::backend::Backend, C>(layer: &Recurrent<Bk, C>)
where
    C: Cell<Bk> + burn_rnn::import::FusedParams<Bk>,
{
    use burn_rnn::import::ParamRef;
    for cell in layer.cells() {
        for (_, p) in cell.params() {
            match p {
                ParamRef::Matrix(p) => drop(p.val()),
                ParamRef::Vector(Some(p)) => drop(p.val()),
                ParamRef::Vector(None) => {}
            }
        }
    }
}

fn values<Bk: burn::tensor::backend::Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

/// Every regularizer on, at the given rates.
fn all_regularizers(zoneout: f64, drop: f64) -> Regularization {
    Regularization::new()
        .with_zoneout_hidden(zoneout)
        .with_zoneout_cell(zoneout)
        .with_weight_drop(drop)
        .with_input_dropout(drop)
        .with_output_dropout(drop)
}

/// Rates of 0 leave a training forward and backward bit for bit as without regularization
/// (the fused path included); without autodiff the dropout kinds leave the output bit for bit
/// as it was, run after run.
#[test]
fn regularizers_at_rate_zero_and_in_inference_change_nothing() {
    let dev = device();
    let lstm = LstmConfig::new(3, 6)
        .with_num_layers(2)
        .with_bidirectional(true)
        .init::<AD>(&dev);
    materialize(&lstm);
    let zero = lstm
        .clone()
        .with_regularization(all_regularizers(0.0, 0.0))
        .unwrap();
    let x = Tensor::<AD, 3>::random([2, 7, 3], Distribution::Default, &dev);
    let run = |layer: &Lstm<AD>| {
        let x = x.clone().detach().require_grad();
        let out = layer.forward_with(RecurrentInput::new(x.clone()).with_lengths(vec![7, 4]));
        let grads = (out.output.clone() * out.output.clone()).sum().backward();
        let w = layer.cell(0, 1).weight_hh().val();
        (
            values(out.output),
            values(x.grad(&grads).unwrap()),
            values(w.grad(&grads).unwrap()),
        )
    };
    assert_eq!(
        run(&lstm),
        run(&zero),
        "rate 0 is an exact no-op while training"
    );

    let plain = LstmConfig::new(3, 6).with_num_layers(2).init::<B>(&dev);
    materialize(&plain);
    let dropping = plain
        .clone()
        .with_regularization(all_regularizers(0.0, 0.5))
        .unwrap();
    let x = random([2, 7, 3]);
    let expected = values(plain.forward(x.clone(), None).output);
    for _ in 0..2 {
        assert_eq!(values(dropping.forward(x.clone(), None).output), expected);
    }
}

/// Zoneout on a GRU while training: every unit of every step is either the previous `h` or
/// the cell's step from it, both happen, and the pattern changes from step to step; with
/// the same `B::seed` a run repeats exactly. In inference `h_t = z h_(t-1) + (1 - z) h̃_t`.
#[test]
fn zoneout_keeps_units_at_random_while_training_and_averages_in_inference() {
    use burn::tensor::backend::Backend;
    let dev = device();
    let z = 0.4;
    let (batch, seq, hidden) = (3, 6, 8);
    let gru = GruConfig::new(2, hidden)
        .with_regularization(Regularization::new().with_zoneout_hidden(z))
        .init::<AD>(&dev);
    materialize(&gru);
    let x = Tensor::<AD, 3>::random([batch, seq, 2], Distribution::Default, &dev);
    AD::seed(&dev, 7);
    let out = values(gru.forward(x.clone(), None).output);
    AD::seed(&dev, 7);
    assert_eq!(
        values(gru.forward(x.clone(), None).output),
        out,
        "seeded masks repeat"
    );
    let cell = gru.cell(0, 0);
    let at = |v: &[f32], n: usize, t: usize, k: usize| v[(n * seq + t) * hidden + k];
    let (mut kept, mut stepped) = (0, 0);
    let mut patterns = Vec::new();
    for t in 0..seq {
        let prev: Vec<f32> = (0..batch)
            .flat_map(|n| (0..hidden).map(move |k| (n, k)))
            .map(|(n, k)| if t == 0 { 0.0 } else { at(&out, n, t - 1, k) })
            .collect();
        let h = Tensor::<AD, 2>::from_data(TensorData::new(prev.clone(), [batch, hidden]), &dev);
        let x_t = x.clone().slice([0..batch, t..t + 1]).squeeze_dim(1);
        let step = values(cell.forward(x_t, Some(RnnState::new(h))).hidden);
        let mut pattern = Vec::new();
        for n in 0..batch {
            for k in 0..hidden {
                let got = at(&out, n, t, k);
                let (p, s) = (prev[n * hidden + k], step[n * hidden + k]);
                let is_prev = (got - p).abs() < 1e-6;
                assert!(
                    is_prev || (got - s).abs() < 1e-6,
                    "step {t} [{n}, {k}]: {got} is neither the previous {p} nor the step {s}"
                );
                pattern.push(is_prev && (p - s).abs() > 1e-6);
                if (p - s).abs() > 1e-6 {
                    if is_prev {
                        kept += 1
                    } else {
                        stepped += 1
                    }
                }
            }
        }
        patterns.push(pattern);
    }
    assert!(kept > 10 && stepped > 10, "kept {kept}, stepped {stepped}");
    assert!(
        patterns.windows(2).any(|w| w[0] != w[1]),
        "a fresh mask each step"
    );

    // Inference: the expectation, stepped by hand.
    use burn::module::AutodiffModule;
    let gru = gru.valid();
    let x = x.inner();
    let out = gru.forward(x.clone(), None).output;
    assert_eq!(
        values(gru.forward(x.clone(), None).output),
        values(out.clone())
    );
    let cell = gru.cell(0, 0);
    let mut h = Tensor::<B, 2>::zeros([batch, hidden], &dev);
    let mut hs = Vec::new();
    for t in 0..seq {
        let x_t = x.clone().slice([0..batch, t..t + 1]).squeeze_dim(1);
        let step = cell.forward(x_t, Some(RnnState::new(h.clone()))).hidden;
        h = h * z + step * (1.0 - z);
        hs.push(h.clone());
    }
    assert_close(
        "inference output",
        out.into_data(),
        Tensor::stack::<3>(hs, 1).into_data(),
        1e-6,
    );
}

/// Zoneout on an LSTM's `c` alone: `c'` is `c` or the step's `c̃` unit by unit, while `h'` is
/// always `o * tanh(c̃)` from the step's own `c̃` (Krueger et al.).
#[test]
fn zoneout_on_the_cell_state_keeps_c_and_leaves_h_to_the_new_c() {
    let dev = device();
    let (batch, hidden) = (4, 8);
    let lstm = LstmConfig::new(3, hidden)
        .with_regularization(Regularization::new().with_zoneout_cell(0.5))
        .init::<AD>(&dev);
    let x = Tensor::<AD, 3>::random([batch, 1, 3], Distribution::Default, &dev);
    let h0 = Tensor::<AD, 3>::random([1, batch, hidden], Distribution::Default, &dev);
    let c0 = Tensor::<AD, 3>::random([1, batch, hidden], Distribution::Default, &dev);
    let state = LstmState::from_hidden_and_cell(h0.clone(), c0.clone());
    let out = lstm.forward(x.clone(), Some(state));
    let step = lstm.cell(0, 0).forward(
        x.squeeze_dim(1),
        Some(LstmState::from_hidden_and_cell(
            h0.squeeze_dim(0),
            c0.clone().squeeze_dim(0),
        )),
    );
    assert_close(
        "h'",
        out.state.hidden.squeeze_dim::<2>(0).inner().into_data(),
        step.hidden.inner().into_data(),
        1e-6,
    );
    let (c, c0, c_new) = (values(out.state.cell), values(c0), values(step.cell));
    let kept = (0..c.len())
        .filter(|&i| (c[i] - c0[i]).abs() < 1e-6)
        .count();
    let new = (0..c.len())
        .filter(|&i| (c[i] - c_new[i]).abs() < 1e-6)
        .count();
    assert_eq!(kept + new, c.len(), "every unit of c' is c or c̃");
    assert!(kept > 4 && new > 4, "kept {kept}, new {new}");
}

/// DropConnect: the units of `W_hh` that get no gradient are the dropped ones, about the
/// rate of them; the layer equals a plain layer with `W_hh ⊙ M / (1 - p)` for that one mask
/// `M` at every step, on the fused path and on the reference path.
#[test]
fn weight_drop_uses_one_mask_of_w_hh_for_the_whole_sequence() {
    let dev = device();
    let p = 0.5;
    for path in [ExecutionPath::Fused, ExecutionPath::Reference] {
        let lstm = LstmConfig::new(3, 6)
            .with_regularization(Regularization::new().with_weight_drop(p))
            .init::<AD>(&dev)
            .with_path(path);
        materialize(&lstm);
        let x = Tensor::<AD, 3>::random([2, 9, 3], Distribution::Default, &dev);
        let out = lstm.forward(x.clone(), None).output;
        let w = lstm.cell(0, 0).weight_hh().val();
        let grad = w.grad(&out.clone().sum().backward()).unwrap();
        let mask = Tensor::<AD, 2>::from_inner(grad.not_equal_elem(0.0).float());
        let dropped = 1.0 - values(mask.clone().mean())[0];
        assert!(
            (0.3..0.7).contains(&dropped),
            "{path:?}: {dropped} of W_hh dropped at p = {p}"
        );
        let cell = lstm.cells()[0]
            .map_recurrent_weight(&mut |w| w * mask.clone() / (1.0 - p))
            .unwrap();
        let dropout = burn::nn::DropoutConfig::new(0.0).init();
        let fixed = Recurrent::from_cells(vec![cell], dropout, 1, false, true);
        assert_close(
            &format!("{path:?}: output"),
            out.inner().into_data(),
            fixed.forward(x, None).output.inner().into_data(),
            1e-5,
        );
    }
}

/// Variational dropout: the output features a sequence loses are lost at every step, the
/// others are the plain layer's scaled by `1 / (1 - p)`; the input features it loses get no
/// gradient at any step.
#[test]
fn variational_dropout_masks_are_constant_over_time() {
    let dev = device();
    let p = 0.5;
    let (batch, seq, d_in, hidden) = (3, 5, 8, 8);
    let plain = RnnConfig::new(d_in, hidden).init::<AD>(&dev);
    materialize(&plain);
    let x = Tensor::<AD, 3>::random([batch, seq, d_in], Distribution::Default, &dev);
    let expected = values(plain.forward(x.clone(), None).output);
    let output = plain
        .clone()
        .with_regularization(Regularization::new().with_output_dropout(p))
        .unwrap();
    let got = values(output.forward(x.clone(), None).output);
    let mut dropped = 0;
    for n in 0..batch {
        for k in 0..hidden {
            let at = |v: &[f32], t: usize| v[(n * seq + t) * hidden + k];
            let zero = at(&got, 0) == 0.0;
            dropped += usize::from(zero);
            for t in 0..seq {
                let want = if zero {
                    0.0
                } else {
                    at(&expected, t) / (1.0 - p) as f32
                };
                assert!(
                    (at(&got, t) - want).abs() < 1e-6,
                    "output [{n}, {t}, {k}]: {} vs {want}",
                    at(&got, t)
                );
            }
        }
    }
    assert!(
        (3..21).contains(&dropped),
        "{dropped} of 24 output features dropped"
    );

    let input = plain
        .with_regularization(Regularization::new().with_input_dropout(p))
        .unwrap();
    let x = x.detach().require_grad();
    let grads = input.forward(x.clone(), None).output.sum().backward();
    let g = values(x.grad(&grads).unwrap());
    let mut dropped = 0;
    for n in 0..batch {
        for f in 0..d_in {
            let zero: Vec<bool> = (0..seq)
                .map(|t| g[(n * seq + t) * d_in + f] == 0.0)
                .collect();
            assert!(
                zero.iter().all(|&z| z == zero[0]),
                "input feature {f} of sequence {n}: dropped at some steps only: {zero:?}"
            );
            dropped += usize::from(zero[0]);
        }
    }
    assert!(
        (3..21).contains(&dropped),
        "{dropped} of 24 input features dropped"
    );
}

/// Zoneout keeps minGRU/minLSTM affine: in inference the parallel scan and step mode give the
/// same expectation.
#[test]
fn zoneout_on_min_cells_agrees_between_the_scan_and_step_mode() {
    let dev = device();
    let reg = Regularization::new().with_zoneout_hidden(0.3);
    let x = random([2, 9, 3]);
    let gru = MinGruConfig::new(3, 5)
        .with_bidirectional(true)
        .with_regularization(reg.clone())
        .init::<B>(&dev);
    materialize(&gru);
    let lstm = MinLstmConfig::new(3, 5)
        .with_regularization(reg)
        .init::<B>(&dev);
    materialize(&lstm);
    let lengths = vec![9, 4];
    let run = |out: RecurrentOutput<B, RnnState<B, 3>>| (out.output, out.state.hidden);
    for (name, fused, reference) in [
        (
            "minGRU",
            run(gru.forward_with(RecurrentInput::new(x.clone()).with_lengths(lengths.clone()))),
            run(gru
                .clone()
                .with_path(ExecutionPath::Reference)
                .forward_with(RecurrentInput::new(x.clone()).with_lengths(lengths.clone()))),
        ),
        (
            "minLSTM",
            run(lstm.forward(x.clone(), None)),
            run(lstm
                .clone()
                .with_path(ExecutionPath::Reference)
                .forward(x.clone(), None)),
        ),
    ] {
        assert_close(
            &format!("{name} output"),
            fused.0.into_data(),
            reference.0.into_data(),
            1e-5,
        );
        assert_close(
            &format!("{name} h_n"),
            fused.1.into_data(),
            reference.1.into_data(),
            1e-5,
        );
    }
}
