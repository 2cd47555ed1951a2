//! A cell of the user's own (a type implementing `Cell` that is none of the built-in kinds)
//! runs in the layers by unrolling its `step`: outputs and gradients against a hand-written
//! loop, with stacking, both directions and lengths.

mod common;

use burn::module::{Module, Param};
use burn::nn::{DropoutConfig, Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use burn_rnn::{Cell, ExecutionPath, Recurrent, RecurrentInput, RnnState};
use common::{assert_close, device, AD};

/// A leaky tanh cell built from two `burn::nn::Linear`s:
/// `h' = 0.5 * h + 0.5 * tanh(input(x) + recurrent(h))`.
#[derive(Module, Debug)]
struct LeakyCell<B: Backend> {
    input: Linear<B>,
    recurrent: Linear<B>,
}

impl<B: Backend> LeakyCell<B> {
    fn new(d_input: usize, d_hidden: usize, device: &B::Device) -> Self {
        // Burn initializes parameters lazily, and each clone of a parameter not yet
        // initialized draws its own values; the test clones the cells, so it takes them now.
        let eager = |l: Linear<B>| Linear {
            weight: Param::from_tensor(l.weight.val()),
            bias: l.bias.map(|b| Param::from_tensor(b.val())),
        };
        Self {
            input: eager(LinearConfig::new(d_input, d_hidden).init(device)),
            recurrent: eager(
                LinearConfig::new(d_hidden, d_hidden)
                    .with_bias(false)
                    .init(device),
            ),
        }
    }

    /// The hand-written step the test compares against.
    fn manual_step(&self, x: Tensor<B, 2>, h: Tensor<B, 2>) -> Tensor<B, 2> {
        let pre = self.input.forward(x) + self.recurrent.forward(h.clone());
        h.mul_scalar(0.5) + pre.tanh().mul_scalar(0.5)
    }
}

impl<B: Backend> Cell<B> for LeakyCell<B> {
    type State = RnnState<B, 2>;
    const NAME: &'static str = "LeakyCell";
    const LAYER_NAME: &'static str = "Leaky";

    fn d_input(&self) -> usize {
        self.input.weight.dims()[0]
    }

    fn d_hidden(&self) -> usize {
        self.recurrent.weight.dims()[1]
    }

    fn project_input(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.input.forward(x)
    }

    fn step(&self, x_t: Tensor<B, 2>, state: Self::State) -> Self::State {
        let h = state.hidden;
        let pre = x_t + self.recurrent.forward(h.clone());
        RnnState::new(h.mul_scalar(0.5) + pre.tanh().mul_scalar(0.5))
    }
}

/// The whole stack by hand: per layer and direction, a loop over time that freezes the state
/// and zeroes the output past each length. `x: [N, L, H_in]`; returns `[N, L, D*H]` and
/// `h_n: [layers*D, N, H]`.
fn manual<B: Backend>(
    cells: &[LeakyCell<B>],
    layers: usize,
    dirs: usize,
    x: Tensor<B, 3>,
    lengths: &[usize],
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let seq = x.dims()[1];
    let hidden = cells[0].d_hidden();
    let device = x.device();
    let mut input = x;
    let mut finals = Vec::new();
    for layer in 0..layers {
        let mut outs = Vec::new();
        for dir in 0..dirs {
            let cell = &cells[layer * dirs + dir];
            let mut rows: Vec<Vec<Tensor<B, 2>>> = Vec::new();
            let mut last = Vec::new();
            for (n, &len) in lengths.iter().enumerate() {
                let features = input.dims()[2];
                let seq_n = input.clone().slice([n..n + 1, 0..seq, 0..features]);
                let mut h = Tensor::<B, 2>::zeros([1, hidden], &device);
                let mut row = vec![Tensor::<B, 2>::zeros([1, hidden], &device); seq];
                let order: Vec<usize> = match dir {
                    0 => (0..len).collect(),
                    _ => (0..len).rev().collect(),
                };
                for t in order {
                    let x_t = seq_n
                        .clone()
                        .slice([0..1, t..t + 1, 0..features])
                        .reshape([1, features]);
                    h = cell.manual_step(x_t, h);
                    row[t] = h.clone();
                }
                rows.push(row);
                last.push(h);
            }
            let per_seq: Vec<Tensor<B, 3>> = rows
                .into_iter()
                .map(|row| Tensor::stack::<3>(row, 1))
                .collect();
            outs.push(Tensor::cat(per_seq, 0));
            finals.push(Tensor::cat(last, 0));
        }
        input = Tensor::cat(outs, 2);
    }
    (input, Tensor::stack(finals, 0))
}

#[test]
fn a_custom_cell_runs_in_the_layers_by_unrolling_its_step() {
    let device = device();
    let (layers, dirs, d_input, hidden) = (2, 2, 3, 4);
    let cells: Vec<LeakyCell<AD>> = (0..layers * dirs)
        .map(|i| {
            let input = if i < dirs { d_input } else { dirs * hidden };
            LeakyCell::new(input, hidden, &device)
        })
        .collect();
    let lengths = vec![5, 2, 4];
    let x = Tensor::<AD, 3>::random([3, 5, d_input], Distribution::Default, &device).require_grad();

    for path in [ExecutionPath::Fused, ExecutionPath::Reference] {
        let layer = Recurrent::from_cells(
            cells.clone(),
            DropoutConfig::new(0.0).init(),
            layers,
            true,
            true,
        )
        .with_path(path);
        let out = layer.forward_with(RecurrentInput::new(x.clone()).with_lengths(lengths.clone()));
        let (want_out, want_h) = manual(&cells, layers, dirs, x.clone(), &lengths);
        assert_close(
            &format!("{path:?} output"),
            out.output.clone().inner().into_data(),
            want_out.clone().inner().into_data(),
            1e-5,
        );
        assert_close(
            &format!("{path:?} h_n"),
            out.state.hidden.clone().inner().into_data(),
            want_h.clone().inner().into_data(),
            1e-5,
        );

        // Gradients of the same loss through both, for the input and every parameter.
        let loss =
            |o: Tensor<AD, 3>, h: Tensor<AD, 3>| o.powi_scalar(2).sum() + h.mul_scalar(0.3).sum();
        let g_layer = loss(out.output, out.state.hidden).backward();
        let g_manual = loss(want_out, want_h).backward();
        assert_close(
            &format!("{path:?} d x"),
            x.grad(&g_layer).expect("x is tracked").into_data(),
            x.grad(&g_manual).expect("x is tracked").into_data(),
            1e-5,
        );
        for (i, cell) in cells.iter().enumerate() {
            let bias = cell.input.bias.as_ref().expect("Linear has a bias").val();
            for (name, p) in [
                ("input.weight", cell.input.weight.val()),
                ("recurrent.weight", cell.recurrent.weight.val()),
            ] {
                assert_close(
                    &format!("{path:?} cell {i} d {name}"),
                    p.grad(&g_layer).expect("tracked").into_data(),
                    p.grad(&g_manual).expect("tracked").into_data(),
                    1e-5,
                );
            }
            assert_close(
                &format!("{path:?} cell {i} d input.bias"),
                bias.grad(&g_layer).expect("tracked").into_data(),
                bias.grad(&g_manual).expect("tracked").into_data(),
                1e-5,
            );
        }
    }
}

#[test]
#[should_panic(expected = "Leaky: expected num_layers * D = 4 cells, got 3")]
fn from_cells_names_a_wrong_cell_count() {
    let device = device();
    let cells: Vec<LeakyCell<AD>> = (0..3).map(|_| LeakyCell::new(3, 4, &device)).collect();
    let _ = Recurrent::from_cells(cells, DropoutConfig::new(0.0).init(), 2, true, true);
}
