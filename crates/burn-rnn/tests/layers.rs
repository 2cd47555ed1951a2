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
