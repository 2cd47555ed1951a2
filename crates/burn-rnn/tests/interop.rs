//! `burn::nn` interop: each of `burn::nn`'s six recurrent layers, randomly initialised and
//! converted to burn-rnn's, gives the same outputs and final states (from a nonzero initial
//! state) within 1e-5; converted back, it gives the same weights and outputs exactly. Then
//! stacks, biases on, off and mixed, and every setting that must be refused.

mod common;

use burn::nn::{self as bnn, activation::ActivationConfig, GateController, Linear};
use burn::tensor::{backend::Backend, Distribution, Tensor, TensorData};
use burn_rnn::interop::InteropError;
use burn_rnn::{Gru, GruConfig, Lstm, LstmConfig, LstmState, PytorchParams, Rnn, RnnConfig};
use burn_rnn::{RecurrentOutput, RnnState};
use common::{assert_close, device, B, TOL};

/// Input features.
const H_IN: usize = 5;
/// Hidden size.
const H: usize = 7;
/// Batch size.
const N: usize = 3;
/// Sequence length.
const L: usize = 6;

fn random<const D: usize>(shape: [usize; D]) -> Tensor<B, D> {
    Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), &device())
}

/// A random input, `[N, L, H_in]` or `[L, N, H_in]`.
fn input(batch_first: bool, features: usize) -> Tensor<B, 3> {
    if batch_first {
        random([N, L, features])
    } else {
        random([L, N, features])
    }
}

fn seed(seed: u64) {
    B::seed(&device(), seed);
}

/// Asserts two tensors hold bitwise the same values, shapes included.
fn exact<const D: usize>(what: &str, a: Tensor<B, D>, b: Tensor<B, D>) {
    let (a, b) = (a.into_data(), b.into_data());
    assert_eq!(a.shape, b.shape, "{what}: shapes differ");
    assert_eq!(
        a.to_vec::<f32>().unwrap(),
        b.to_vec::<f32>().unwrap(),
        "{what}: values differ"
    );
}

/// Asserts ours is within [`TOL`] of burn's; prints the worst difference (`--nocapture`).
fn close<const D: usize>(what: &str, ours: Tensor<B, D>, theirs: Tensor<B, D>) {
    let worst = assert_close(what, ours.into_data(), theirs.into_data(), TOL);
    println!("{what}: worst |ours - burn::nn| = {worst:.1e}");
}

fn same_linear(what: &str, a: &Linear<B>, b: &Linear<B>) {
    exact(&format!("{what}.weight"), a.weight.val(), b.weight.val());
    match (&a.bias, &b.bias) {
        (None, None) => {}
        (Some(x), Some(y)) => exact(&format!("{what}.bias"), x.val(), y.val()),
        (x, y) => panic!(
            "{what}.bias: one is None ({} vs {})",
            x.is_some(),
            y.is_some()
        ),
    }
}

fn same_gate(what: &str, a: &GateController<B>, b: &GateController<B>) {
    same_linear(
        &format!("{what}.input_transform"),
        &a.input_transform,
        &b.input_transform,
    );
    same_linear(
        &format!("{what}.hidden_transform"),
        &a.hidden_transform,
        &b.hidden_transform,
    );
}

/// Asserts two burn-rnn layers have exactly the same parameters (by PyTorch name).
fn same_params<P: PytorchParams<B>>(a: &P, b: &P) {
    let (a, b) = (a.pytorch_tensors(), b.pytorch_tensors());
    let names = |v: &[(String, TensorData)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "parameter names differ");
    for ((name, x), (_, y)) in a.into_iter().zip(b) {
        assert_eq!(x.shape, y.shape, "{name}: shapes differ");
        assert_eq!(
            x.to_vec::<f32>().unwrap(),
            y.to_vec::<f32>().unwrap(),
            "{name}: values differ"
        );
    }
}

/// The `Unsupported` error's setting, or a panic naming what came instead.
fn unsupported_setting<T>(result: Result<T, InteropError>) -> (String, String) {
    match result {
        Err(InteropError::Unsupported { setting, found, .. }) => (setting, found),
        Err(other) => panic!("expected InteropError::Unsupported, got {other}"),
        Ok(_) => panic!("expected InteropError::Unsupported, got a layer"),
    }
}

// ---------------------------------------------------------------------------------------------
// The six layers, converted to ours and back.

#[test]
fn burn_rnn_converts_with_same_outputs_and_states_and_round_trips_exactly() {
    seed(1);
    for activation in [ActivationConfig::Tanh, ActivationConfig::Relu] {
        for bias in [true, false] {
            for batch_first in [true, false] {
                let case = format!("Rnn({activation:?}, bias {bias}, batch_first {batch_first})");
                let theirs = bnn::RnnConfig::new(H_IN, H, bias)
                    .with_batch_first(batch_first)
                    .with_hidden_activation(activation.clone())
                    .init::<B>(&device());
                let ours = Rnn::from_burn(&theirs).unwrap();
                assert_eq!(ours.batch_first(), batch_first, "{case}");
                assert_eq!(ours.cells()[0].bias_ih().is_some(), bias, "{case}");

                let x = input(batch_first, H_IN);
                let h0 = random([N, H]);
                let (want, want_state) =
                    theirs.forward(x.clone(), Some(bnn::RnnState::new(h0.clone())));
                let got = ours.forward(x.clone(), Some(RnnState::new(h0.clone().unsqueeze())));
                close(&format!("{case} output"), got.output, want.clone());
                close(
                    &format!("{case} h_n"),
                    got.state.hidden.squeeze_dim(0),
                    want_state.hidden.clone(),
                );

                let back = ours.to_burn().unwrap();
                same_gate(&format!("{case} gate"), &back.gate, &theirs.gate);
                assert_eq!(back.batch_first, batch_first);
                let (again, again_state) = back.forward(x, Some(bnn::RnnState::new(h0)));
                exact(&format!("{case} round-trip output"), again, want);
                exact(
                    &format!("{case} round-trip h_n"),
                    again_state.hidden,
                    want_state.hidden,
                );
                same_params(&ours, &Rnn::from_burn(&back).unwrap());
            }
        }
    }
}

#[test]
fn burn_bi_rnn_converts_with_same_outputs_and_states_and_round_trips_exactly() {
    seed(2);
    for activation in [ActivationConfig::Tanh, ActivationConfig::Relu] {
        for bias in [true, false] {
            for batch_first in [true, false] {
                let case = format!("BiRnn({activation:?}, bias {bias}, batch_first {batch_first})");
                let theirs = bnn::BiRnnConfig::new(H_IN, H, bias)
                    .with_batch_first(batch_first)
                    .with_hidden_activation(activation.clone())
                    .init::<B>(&device());
                let ours = Rnn::from_burn_bidirectional(&theirs).unwrap();
                assert!(ours.bidirectional() && ours.num_layers() == 1, "{case}");

                let x = input(batch_first, H_IN);
                let h0 = random([2, N, H]);
                let (want, want_state) =
                    theirs.forward(x.clone(), Some(bnn::RnnState::new(h0.clone())));
                let got = ours.forward(x.clone(), Some(RnnState::new(h0.clone())));
                close(&format!("{case} output"), got.output, want.clone());
                close(
                    &format!("{case} h_n"),
                    got.state.hidden,
                    want_state.hidden.clone(),
                );

                let back = ours.to_burn_bidirectional().unwrap();
                same_gate(
                    &format!("{case} forward"),
                    &back.forward.gate,
                    &theirs.forward.gate,
                );
                same_gate(
                    &format!("{case} reverse"),
                    &back.reverse.gate,
                    &theirs.reverse.gate,
                );
                let (again, again_state) = back.forward(x, Some(bnn::RnnState::new(h0)));
                exact(&format!("{case} round-trip output"), again, want);
                exact(
                    &format!("{case} round-trip h_n"),
                    again_state.hidden,
                    want_state.hidden,
                );
                same_params(&ours, &Rnn::from_burn_bidirectional(&back).unwrap());
            }
        }
    }
}

fn same_lstm_gates(case: &str, a: &bnn::Lstm<B>, b: &bnn::Lstm<B>) {
    same_gate(&format!("{case} input_gate"), &a.input_gate, &b.input_gate);
    same_gate(
        &format!("{case} forget_gate"),
        &a.forget_gate,
        &b.forget_gate,
    );
    same_gate(&format!("{case} cell_gate"), &a.cell_gate, &b.cell_gate);
    same_gate(
        &format!("{case} output_gate"),
        &a.output_gate,
        &b.output_gate,
    );
}

/// Our LSTM's output against burn's, from the initial state `(h0, c0)` (`[N, H]` for
/// unidirectional burn layers, which ours take as `[1, N, H]`).
fn check_lstm_state(
    case: &str,
    got: RecurrentOutput<B, LstmState<B, 3>>,
    want: (Tensor<B, 3>, Tensor<B, 3>, Tensor<B, 3>),
) {
    let (output, h_n, c_n) = want;
    close(&format!("{case} output"), got.output, output);
    close(&format!("{case} h_n"), got.state.hidden, h_n);
    close(&format!("{case} c_n"), got.state.cell, c_n);
}

#[test]
fn burn_lstm_converts_with_same_outputs_and_states_and_round_trips_exactly() {
    seed(3);
    for bias in [true, false] {
        for batch_first in [true, false] {
            let case = format!("Lstm(bias {bias}, batch_first {batch_first})");
            let theirs = bnn::LstmConfig::new(H_IN, H, bias)
                .with_batch_first(batch_first)
                .init::<B>(&device());
            let ours = Lstm::from_burn(&theirs).unwrap();
            assert_eq!(ours.cells()[0].bias_hh().is_some(), bias, "{case}");

            let x = input(batch_first, H_IN);
            let (h0, c0) = (random([N, H]), random([N, H]));
            let init = || bnn::LstmState::new(c0.clone(), h0.clone());
            let (want, want_state) = theirs.forward(x.clone(), Some(init()));
            let got = ours.forward(
                x.clone(),
                Some(LstmState::from_burn(init()).map_unsqueeze()),
            );
            check_lstm_state(
                &case,
                got,
                (
                    want.clone(),
                    want_state.hidden.clone().unsqueeze(),
                    want_state.cell.clone().unsqueeze(),
                ),
            );

            let back = ours.to_burn().unwrap();
            same_lstm_gates(&case, &back, &theirs);
            assert_eq!(back.batch_first, batch_first);
            let (again, again_state) = back.forward(x, Some(init()));
            exact(&format!("{case} round-trip output"), again, want);
            exact(
                &format!("{case} round-trip h_n"),
                again_state.hidden,
                want_state.hidden,
            );
            exact(
                &format!("{case} round-trip c_n"),
                again_state.cell,
                want_state.cell,
            );
            same_params(&ours, &Lstm::from_burn(&back).unwrap());
        }
    }
}

#[test]
fn burn_bi_lstm_converts_with_same_outputs_and_states_and_round_trips_exactly() {
    seed(4);
    for bias in [true, false] {
        for batch_first in [true, false] {
            let case = format!("BiLstm(bias {bias}, batch_first {batch_first})");
            let theirs = bnn::BiLstmConfig::new(H_IN, H, bias)
                .with_batch_first(batch_first)
                .init::<B>(&device());
            let ours = Lstm::try_from(&theirs).unwrap(); // = Lstm::from_burn_bidirectional

            let x = input(batch_first, H_IN);
            let (h0, c0) = (random([2, N, H]), random([2, N, H]));
            let init = || bnn::LstmState::new(c0.clone(), h0.clone());
            let (want, want_state) = theirs.forward(x.clone(), Some(init()));
            let got = ours.forward(x.clone(), Some(LstmState::from_burn(init())));
            check_lstm_state(
                &case,
                got,
                (
                    want.clone(),
                    want_state.hidden.clone(),
                    want_state.cell.clone(),
                ),
            );

            let back = ours.to_burn_bidirectional().unwrap();
            same_lstm_gates(&format!("{case} forward"), &back.forward, &theirs.forward);
            same_lstm_gates(&format!("{case} reverse"), &back.reverse, &theirs.reverse);
            let (again, again_state) = back.forward(x, Some(init()));
            exact(&format!("{case} round-trip output"), again, want);
            exact(
                &format!("{case} round-trip h_n"),
                again_state.hidden,
                want_state.hidden,
            );
            exact(
                &format!("{case} round-trip c_n"),
                again_state.cell,
                want_state.cell,
            );
            same_params(&ours, &Lstm::from_burn_bidirectional(&back).unwrap());
        }
    }
}

fn same_gru_gates(case: &str, a: &bnn::Gru<B>, b: &bnn::Gru<B>) {
    same_gate(&format!("{case} reset_gate"), &a.reset_gate, &b.reset_gate);
    same_gate(
        &format!("{case} update_gate"),
        &a.update_gate,
        &b.update_gate,
    );
    same_gate(&format!("{case} new_gate"), &a.new_gate, &b.new_gate);
}

#[test]
fn burn_gru_converts_with_same_outputs_and_states_and_round_trips_exactly() {
    seed(5);
    for bias in [true, false] {
        let case = format!("Gru(bias {bias})");
        // burn::nn::Gru has the reset gate after the hidden product by default (PyTorch's
        // form) and always takes [batch, seq, input].
        let theirs = bnn::GruConfig::new(H_IN, H, bias).init::<B>(&device());
        assert!(theirs.reset_after);
        let ours = Gru::try_from(&theirs).unwrap(); // = Gru::from_burn
        assert!(ours.batch_first());

        let x = input(true, H_IN);
        let h0 = random([N, H]);
        let want = theirs.forward(x.clone(), Some(h0.clone()));
        // burn::nn::Gru returns no state: its final state is the output's last step.
        let want_h_n = want.clone().narrow(1, L - 1, 1).swap_dims(0, 1);
        let got = ours.forward(x.clone(), Some(RnnState::new(h0.clone().unsqueeze())));
        close(&format!("{case} output"), got.output, want.clone());
        close(&format!("{case} h_n"), got.state.hidden, want_h_n);

        let back = ours.to_burn().unwrap();
        same_gru_gates(&case, &back, &theirs);
        assert!(back.reset_after && back.clip.is_none());
        exact(
            &format!("{case} round-trip output"),
            back.forward(x, Some(h0)),
            want,
        );
        same_params(&ours, &Gru::from_burn(&back).unwrap());
    }
}

#[test]
fn burn_bi_gru_converts_with_same_outputs_and_states_and_round_trips_exactly() {
    seed(6);
    for bias in [true, false] {
        for batch_first in [true, false] {
            let case = format!("BiGru(bias {bias}, batch_first {batch_first})");
            let theirs = bnn::BiGruConfig::new(H_IN, H, bias)
                .with_batch_first(batch_first)
                .init::<B>(&device());
            let ours = Gru::from_burn_bidirectional(&theirs).unwrap();

            let x = input(batch_first, H_IN);
            let h0 = random([2, N, H]);
            let (want, want_state) = theirs.forward(x.clone(), Some(h0.clone()));
            let got = ours.forward(x.clone(), Some(RnnState::new(h0.clone())));
            close(&format!("{case} output"), got.output, want.clone());
            close(&format!("{case} h_n"), got.state.hidden, want_state.clone());

            let back = ours.to_burn_bidirectional().unwrap();
            assert_eq!(back.batch_first, batch_first);
            same_gru_gates(&format!("{case} forward"), &back.forward, &theirs.forward);
            same_gru_gates(&format!("{case} reverse"), &back.reverse, &theirs.reverse);
            let (again, again_state) = back.forward(x, Some(h0));
            exact(&format!("{case} round-trip output"), again, want);
            exact(&format!("{case} round-trip h_n"), again_state, want_state);
            same_params(&ours, &Gru::from_burn_bidirectional(&back).unwrap());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Biases, coupled gates.

#[test]
fn burn_layers_with_some_biases_missing_convert_to_zeros_or_none() {
    seed(7);
    // Every hidden_transform without bias: bias_hh is None, bias_ih is kept; exact round trip.
    let mut theirs = bnn::LstmConfig::new(H_IN, H, true).init::<B>(&device());
    for gate in [
        &mut theirs.input_gate,
        &mut theirs.forget_gate,
        &mut theirs.cell_gate,
        &mut theirs.output_gate,
    ] {
        gate.hidden_transform.bias = None;
    }
    let ours = Lstm::from_burn(&theirs).unwrap();
    assert!(ours.cells()[0].bias_ih().is_some() && ours.cells()[0].bias_hh().is_none());
    let x = input(true, H_IN);
    let (h0, c0) = (random([N, H]), random([N, H]));
    let init = || bnn::LstmState::new(c0.clone(), h0.clone());
    let (want, want_state) = theirs.forward(x.clone(), Some(init()));
    let got = ours.forward(
        x.clone(),
        Some(LstmState::from_burn(init()).map_unsqueeze()),
    );
    check_lstm_state(
        "hidden biases off",
        got,
        (
            want.clone(),
            want_state.hidden.unsqueeze(),
            want_state.cell.unsqueeze(),
        ),
    );
    let back = ours.to_burn().unwrap();
    same_lstm_gates("hidden biases off", &back, &theirs);
    exact("round trip", back.forward(x.clone(), Some(init())).0, want);

    // One gate's input bias and another's hidden bias missing: zeros in their blocks.
    let mut theirs = bnn::GruConfig::new(H_IN, H, true).init::<B>(&device());
    theirs.update_gate.input_transform.bias = None;
    theirs.new_gate.hidden_transform.bias = None;
    let ours = Gru::from_burn(&theirs).unwrap();
    let b_ih = ours.cells()[0].bias_ih().unwrap().val();
    let b_hh = ours.cells()[0].bias_hh().unwrap().val();
    assert_eq!(b_ih.narrow(0, H, H).abs().max().into_scalar(), 0.0); // z block
    assert_eq!(b_hh.narrow(0, 2 * H, H).abs().max().into_scalar(), 0.0); // n block
    let h0 = random([N, H]);
    let want = theirs.forward(x.clone(), Some(h0.clone()));
    let got = ours.forward(x, Some(RnnState::new(h0.unsqueeze())));
    close("mixed GRU biases", got.output, want);
}

#[test]
fn burn_lstm_with_coupled_input_and_forget_gates_converts() {
    seed(8);
    for bidirectional in [false, true] {
        let case = format!("input_forget (bidirectional {bidirectional})");
        let x = input(true, H_IN);
        let (want, ours, back_out) = if bidirectional {
            let theirs = bnn::BiLstmConfig::new(H_IN, H, true)
                .with_input_forget(true)
                .init::<B>(&device());
            let ours = Lstm::from_burn_bidirectional(&theirs).unwrap();
            let back = ours.to_burn_bidirectional().unwrap();
            assert!(!back.forward.input_forget && !back.reverse.input_forget);
            (
                theirs.forward(x.clone(), None).0,
                ours,
                back.forward(x.clone(), None).0,
            )
        } else {
            let theirs = bnn::LstmConfig::new(H_IN, H, true)
                .with_input_forget(true)
                .init::<B>(&device());
            let ours = Lstm::from_burn(&theirs).unwrap();
            let back = ours.to_burn().unwrap();
            assert!(!back.input_forget);
            // The forget gate is the input gate negated: f = 1 - σ(a) = σ(-a).
            exact(
                "forget weights",
                back.forget_gate.input_transform.weight.val(),
                theirs.input_gate.input_transform.weight.val().neg(),
            );
            (
                theirs.forward(x.clone(), None).0,
                ours,
                back.forward(x.clone(), None).0,
            )
        };
        close(
            &format!("{case} output"),
            ours.forward(x, None).output,
            want.clone(),
        );
        close(&format!("{case} back in burn::nn"), back_out, want);
    }
}

// ---------------------------------------------------------------------------------------------
// Stacks.

#[test]
fn a_stack_of_burn_lstms_is_one_multi_layer_lstm() {
    seed(9);
    for batch_first in [true, false] {
        let layers = vec![
            bnn::LstmConfig::new(H_IN, H, true)
                .with_batch_first(batch_first)
                .init::<B>(&device()),
            bnn::LstmConfig::new(H, H, true)
                .with_batch_first(batch_first)
                .init::<B>(&device()),
            bnn::LstmConfig::new(H, H, false)
                .with_batch_first(batch_first)
                .init::<B>(&device()),
        ];
        let ours = Lstm::from_burn_stack(&layers).unwrap();
        assert_eq!(ours.num_layers(), 3);

        let x = input(batch_first, H_IN);
        let (h0, c0) = (random([3, N, H]), random([3, N, H]));
        let (mut y, mut h_n, mut c_n) = (x.clone(), Vec::new(), Vec::new());
        for (k, layer) in layers.iter().enumerate() {
            let state = bnn::LstmState::new(
                c0.clone().narrow(0, k, 1).squeeze_dim(0),
                h0.clone().narrow(0, k, 1).squeeze_dim(0),
            );
            let (out, last) = layer.forward(y, Some(state));
            y = out;
            h_n.push(last.hidden);
            c_n.push(last.cell);
        }
        let got = ours.forward(x, Some(LstmState::from_hidden_and_cell(h0, c0)));
        check_lstm_state(
            &format!("Lstm stack (batch_first {batch_first})"),
            got,
            (y, Tensor::stack(h_n, 0), Tensor::stack(c_n, 0)),
        );

        let back = ours.to_burn_stack().unwrap();
        assert_eq!(back.len(), 3);
        for (k, (a, b)) in back.iter().zip(&layers).enumerate() {
            same_lstm_gates(&format!("layers[{k}]"), a, b);
        }
        same_params(&ours, &Lstm::from_burn_stack(&back).unwrap());
    }
}

#[test]
fn a_stack_of_burn_bi_grus_is_one_multi_layer_bidirectional_gru() {
    seed(10);
    let layers = vec![
        bnn::BiGruConfig::new(H_IN, H, true)
            .with_batch_first(false)
            .init::<B>(&device()),
        bnn::BiGruConfig::new(2 * H, H, true)
            .with_batch_first(false)
            .init::<B>(&device()),
    ];
    let ours = Gru::from_burn_bidirectional_stack(&layers).unwrap();
    assert!(ours.bidirectional() && ours.num_layers() == 2 && !ours.batch_first());

    let x = input(false, H_IN);
    let h0 = random([4, N, H]);
    let (mut y, mut h_n) = (x.clone(), Vec::new());
    for (k, layer) in layers.iter().enumerate() {
        let (out, last) = layer.forward(y, Some(h0.clone().narrow(0, 2 * k, 2)));
        y = out;
        h_n.push(last);
    }
    let got = ours.forward(x, Some(RnnState::new(h0)));
    close("BiGru stack output", got.output, y);
    close("BiGru stack h_n", got.state.hidden, Tensor::cat(h_n, 0));

    let back = ours.to_burn_bidirectional_stack().unwrap();
    for (k, (a, b)) in back.iter().zip(&layers).enumerate() {
        same_gru_gates(&format!("layers[{k}].forward"), &a.forward, &b.forward);
        same_gru_gates(&format!("layers[{k}].reverse"), &a.reverse, &b.reverse);
    }
}

#[test]
fn a_multi_layer_stack_goes_to_burn_layers_run_one_after_the_other() {
    seed(11);
    // Bidirectional RNN, 2 layers -> 2 BiRnns.
    let ours = RnnConfig::new(H_IN, H)
        .with_num_layers(2)
        .with_bidirectional(true)
        .with_batch_first(false)
        .init::<B>(&device());
    let theirs = ours.to_burn_bidirectional_stack().unwrap();
    assert_eq!(theirs.len(), 2);
    let x = input(false, H_IN);
    let h0 = random([4, N, H]);
    let (mut y, mut h_n) = (x.clone(), Vec::new());
    for (k, layer) in theirs.iter().enumerate() {
        let state = bnn::RnnState::new(h0.clone().narrow(0, 2 * k, 2));
        let (out, last) = layer.forward(y, Some(state));
        y = out;
        h_n.push(last.hidden);
    }
    let got = ours.forward(x, Some(RnnState::new(h0)));
    close("Rnn stack output", got.output, y);
    close("Rnn stack h_n", got.state.hidden, Tensor::cat(h_n, 0));

    // Unidirectional GRU, 3 layers with dropout -> 3 Grus (dropout dropped).
    let ours = GruConfig::new(H_IN, H)
        .with_num_layers(3)
        .with_dropout(0.5)
        .init::<B>(&device());
    let theirs = ours.to_burn_stack().unwrap();
    let x = input(true, H_IN);
    let y = theirs
        .iter()
        .fold(x.clone(), |y, layer| layer.forward(y, None));
    close("Gru stack output", ours.forward(x, None).output, y);
}

// ---------------------------------------------------------------------------------------------
// What does not map.

#[test]
fn burn_settings_without_a_counterpart_are_refused_by_name() {
    let dev = device();
    let clipped = bnn::LstmConfig::new(H_IN, H, true)
        .with_clip(Some(3.0))
        .init::<B>(&dev);
    let err = Lstm::from_burn(&clipped).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot convert burn::nn::Lstm to burn_rnn::Lstm: `clip` is Some(3.0), expected None: \
         burn-rnn's layers do not clip the cell state"
    );

    let cases: Vec<(Result<(), InteropError>, &str, &str)> = vec![
        (
            Rnn::from_burn(
                &bnn::RnnConfig::new(H_IN, H, true)
                    .with_hidden_activation(ActivationConfig::Gelu)
                    .init::<B>(&dev),
            )
            .map(drop),
            "hidden_activation",
            "Gelu",
        ),
        (
            Rnn::from_burn(
                &bnn::RnnConfig::new(H_IN, H, true)
                    .with_reverse(true)
                    .init::<B>(&dev),
            )
            .map(drop),
            "reverse",
            "true",
        ),
        (
            Lstm::from_burn(
                &bnn::LstmConfig::new(H_IN, H, true)
                    .with_cell_activation(ActivationConfig::Relu)
                    .init::<B>(&dev),
            )
            .map(drop),
            "cell_activation",
            "Relu",
        ),
        (
            Gru::from_burn(
                &bnn::GruConfig::new(H_IN, H, true)
                    .with_reset_after(false)
                    .init::<B>(&dev),
            )
            .map(drop),
            "reset_after",
            "false",
        ),
        (
            Gru::from_burn_bidirectional(
                &bnn::BiGruConfig::new(H_IN, H, true)
                    .with_clip(Some(1.0))
                    .init::<B>(&dev),
            )
            .map(drop),
            "forward.clip",
            "Some(1.0)",
        ),
        (
            Lstm::from_burn_bidirectional(
                &bnn::BiLstmConfig::new(H_IN, H, true)
                    .with_gate_activation(ActivationConfig::HardSwish)
                    .init::<B>(&dev),
            )
            .map(drop),
            "forward.gate_activation",
            "HardSwish",
        ),
        (
            Lstm::from_burn_bidirectional(&{
                let mut bi = bnn::BiLstmConfig::new(H_IN, H, true).init::<B>(&dev);
                bi.forward.batch_first = false;
                bi
            })
            .map(drop),
            "forward.batch_first",
            "false",
        ),
        (
            Rnn::from_burn_stack(&[
                bnn::RnnConfig::new(H_IN, H, true).init::<B>(&dev),
                bnn::RnnConfig::new(H, H, true)
                    .with_batch_first(false)
                    .init::<B>(&dev),
            ])
            .map(drop),
            "layers[1].batch_first",
            "false",
        ),
        (
            Lstm::from_burn_bidirectional_stack(&[
                bnn::BiLstmConfig::new(H_IN, H, true).init::<B>(&dev),
                bnn::BiLstmConfig::new(2 * H, H, true)
                    .with_clip(Some(2.0))
                    .init::<B>(&dev),
            ])
            .map(drop),
            "layers[1].forward.clip",
            "Some(2.0)",
        ),
    ];
    for (result, setting, found) in cases {
        assert_eq!(
            unsupported_setting(result),
            (setting.to_string(), found.to_string())
        );
    }
}

#[test]
fn layers_burn_nn_cannot_hold_are_refused_by_name() {
    let dev = device();
    let two_layers = LstmConfig::new(H_IN, H).with_num_layers(2).init::<B>(&dev);
    let err = two_layers.to_burn().unwrap_err();
    assert_eq!(
        unsupported_setting::<()>(Err(err.clone())),
        ("num_layers".into(), "2".into())
    );
    assert!(err.to_string().contains("to_burn_stack"), "{err}");
    assert_eq!(
        unsupported_setting(two_layers.to_burn_bidirectional()),
        ("bidirectional".into(), "false".into())
    );
    let bi = LstmConfig::new(H_IN, H)
        .with_bidirectional(true)
        .init::<B>(&dev);
    assert_eq!(
        unsupported_setting(bi.to_burn()),
        ("bidirectional".into(), "true".into())
    );
    assert_eq!(
        unsupported_setting(bi.to_burn_stack()),
        ("bidirectional".into(), "true".into())
    );
    // burn::nn::Gru always takes [batch, seq, input]; BiGru has the flag.
    let seq_first = GruConfig::new(H_IN, H)
        .with_batch_first(false)
        .init::<B>(&dev);
    assert_eq!(
        unsupported_setting(seq_first.to_burn()),
        ("batch_first".into(), "false".into())
    );
    let bi_seq_first = GruConfig::new(H_IN, H)
        .with_batch_first(false)
        .with_bidirectional(true)
        .init::<B>(&dev);
    assert!(!bi_seq_first.to_burn_bidirectional().unwrap().batch_first);
    let projected = LstmConfig::new(H_IN, H).with_proj_size(1).init::<B>(&dev);
    assert_eq!(
        unsupported_setting(projected.to_burn()),
        ("proj_size".into(), "1".into())
    );
    let peephole = LstmConfig::new(H_IN, H).with_peephole(true).init::<B>(&dev);
    assert_eq!(
        unsupported_setting(peephole.to_burn()),
        ("peephole".into(), "true".into())
    );
    // Zoneout changes inference, so it is refused; the dropout kinds act only in training.
    let zoneout = LstmConfig::new(H_IN, H)
        .with_regularization(burn_rnn::Regularization::new().with_zoneout_cell(0.25))
        .init::<B>(&dev);
    assert_eq!(
        unsupported_setting(zoneout.to_burn()),
        ("regularization.zoneout_cell".into(), "0.25".into())
    );
    let dropping = GruConfig::new(H_IN, H)
        .with_regularization(burn_rnn::Regularization::new().with_weight_drop(0.5))
        .init::<B>(&dev);
    assert!(dropping.to_burn().is_ok());
}

#[test]
fn parameters_that_do_not_fit_are_refused_with_both_shapes() {
    let dev = device();
    let mut broken = bnn::LstmConfig::new(H_IN, H, true).init::<B>(&dev);
    broken.d_hidden = H + 1;
    assert_eq!(
        Lstm::from_burn(&broken).unwrap_err(),
        InteropError::Shape {
            from: "burn::nn::Lstm",
            to: "burn_rnn::Lstm",
            param: "input_gate.input_transform.weight".into(),
            expected: vec![H_IN, H + 1],
            got: vec![H_IN, H],
        }
    );

    // The second layer must take the first's H outputs, not H_in.
    let unchained = [
        bnn::GruConfig::new(H_IN, H, true).init::<B>(&dev),
        bnn::GruConfig::new(H_IN, H, true).init::<B>(&dev),
    ];
    let err = Gru::from_burn_stack(&unchained).unwrap_err();
    assert_eq!(
        err,
        InteropError::Shape {
            from: "[burn::nn::Gru]",
            to: "burn_rnn::Gru",
            param: "layers[1].reset_gate.input_transform.weight".into(),
            expected: vec![H, H],
            got: vec![H_IN, H],
        }
    );
    println!("{err}");

    let none: [bnn::BiRnn<B>; 0] = [];
    assert_eq!(
        Rnn::from_burn_bidirectional_stack(&none).unwrap_err(),
        InteropError::EmptyStack {
            from: "[burn::nn::BiRnn]",
            to: "burn_rnn::Rnn",
        }
    );
}

/// `LstmState<B, 2>` -> `LstmState<B, 3>` with a leading axis of 1, as a one-layer,
/// one-direction layer takes it.
trait Unsqueeze {
    fn map_unsqueeze(self) -> LstmState<B, 3>;
}

impl Unsqueeze for LstmState<B, 2> {
    fn map_unsqueeze(self) -> LstmState<B, 3> {
        LstmState::from_hidden_and_cell(self.hidden.unsqueeze(), self.cell.unsqueeze())
    }
}
