//! `Autodiff<B>`: the whole-sequence primitive as ONE autodiff node with a custom backward.
//!
//! The forward runs `B`'s primitive, asking it to save what its backward needs only when a
//! gradient is wanted; the node's backward hands the gradient of the packed result to
//! `B::recurrent_backward` and registers the gradients of the five inputs. Backpropagation
//! through the node itself (second derivatives) is not supported: the gradients it returns are
//! untracked.

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ops::{ConvOptions, FloatTensor};
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::CheckpointStrategy;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_autodiff::Autodiff;

use super::{
    BatchNormForward, BatchNormGrads, Conv2dGrads, ConvLstmGatesForward, ConvLstmGatesGrads,
    ConvNeeds, LinearGrads, LinearScanGrads, MinKind, PoolOptions, RecurrentForward,
    RecurrentGrads, RecurrentSaved, RecurrentTensors, RnnBackend, Spec,
};

/// The backward step of the whole-sequence node.
#[derive(Debug)]
struct RecurrentBackward;

impl<B: RnnBackend> Backward<B, 5> for RecurrentBackward {
    /// The spec and what `B`'s forward saved.
    type State = (Spec, RecurrentSaved<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 5>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (spec, saved) = ops.state;
        let grad_packed = grads.consume::<B>(&ops.node);
        let g = B::recurrent_backward(&spec, saved, grad_packed);
        let per_input = [g.gates_x, g.weight_hh, g.bias_hh, g.h0, g.c0];
        for (parent, grad) in ops.parents.into_iter().zip(per_input) {
            if let Some(parent) = parent {
                grads.register::<B>(parent.id, grad);
            }
        }
    }
}

/// The backward step of the input projection node.
#[derive(Debug)]
struct LinearBackward;

impl<B: RnnBackend> Backward<B, 3> for LinearBackward {
    /// `x` and `weight`.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (x, weight) = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let [x_parent, weight_parent, bias_parent] = ops.parents;
        let g = B::linear_backward(x, weight, grad, x_parent.is_some());
        if let (Some(parent), Some(dx)) = (x_parent, g.x) {
            grads.register::<B>(parent.id, dx);
        }
        for (parent, grad) in [(weight_parent, g.weight), (bias_parent, g.bias)] {
            if let Some(parent) = parent {
                grads.register::<B>(parent.id, grad);
            }
        }
    }
}

/// The backward step of the convolution node.
#[derive(Debug)]
struct Conv2dBackward;

impl<B: RnnBackend> Backward<B, 3> for Conv2dBackward {
    /// `x`, `weight` and the options.
    type State = (FloatTensor<B>, FloatTensor<B>, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (x, weight, options) = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let [x_parent, weight_parent, bias_parent] = ops.parents;
        let needs = ConvNeeds {
            x: x_parent.is_some(),
            weight: weight_parent.is_some(),
            bias: bias_parent.is_some(),
        };
        let g = B::conv2d_backward(x, weight, grad, options, needs);
        for (parent, grad) in [
            (x_parent, g.x),
            (weight_parent, g.weight),
            (bias_parent, g.bias),
        ] {
            if let (Some(parent), Some(grad)) = (parent, grad) {
                grads.register::<B>(parent.id, grad);
            }
        }
    }
}

/// The backward step of the batch normalization node.
#[derive(Debug)]
struct BatchNormBackward;

impl<B: RnnBackend> Backward<B, 3> for BatchNormBackward {
    /// `x`, `gamma`, `mean`, `invstd`.
    type State = [FloatTensor<B>; 4];

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [x, gamma, mean, invstd] = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let [x_parent, gamma_parent, beta_parent] = ops.parents;
        let g = B::batch_norm2d_backward(x, gamma, mean, invstd, grad, x_parent.is_some());
        let per_input = [
            (x_parent, g.x),
            (gamma_parent, Some(g.gamma)),
            (beta_parent, Some(g.beta)),
        ];
        for (parent, grad) in per_input {
            if let (Some(parent), Some(grad)) = (parent, grad) {
                grads.register::<B>(parent.id, grad);
            }
        }
    }
}

/// The backward step of the max pooling node.
#[derive(Debug)]
struct MaxPoolBackward;

impl<B: RnnBackend> Backward<B, 1> for MaxPoolBackward {
    /// `x` and the options.
    type State = (FloatTensor<B>, PoolOptions);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (x, options) = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        if let [Some(parent)] = ops.parents {
            grads.register::<B>(parent.id, B::max_pool2d_backward(x, grad, options));
        }
    }
}

/// The backward step of the ConvLSTM gate node.
#[derive(Debug)]
struct ConvLstmGatesBackward;

impl<B: RnnBackend> Backward<B, 2> for ConvLstmGatesBackward {
    /// What the forward saved, and `c_prev`.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (saved, c_prev) = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let g = B::conv_lstm_gates_backward(saved, c_prev, grad);
        let [gates_parent, c_parent] = ops.parents;
        for (parent, grad) in [(gates_parent, g.gates), (c_parent, g.c_prev)] {
            if let Some(parent) = parent {
                grads.register::<B>(parent.id, grad);
            }
        }
    }
}

/// The backward step of [`RnnBackend::linear_scan_forward`].
#[derive(Debug)]
struct LinearScanBackward;

impl<B: RnnBackend> Backward<B, 3> for LinearScanBackward {
    /// `a`, `h0` and the forward's output `h`.
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (a, h0, h) = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let g = B::linear_scan_backward(a, h0, h, grad);
        let [a_parent, b_parent, h0_parent] = ops.parents;
        for (parent, grad) in [(a_parent, g.a), (b_parent, g.b), (h0_parent, g.h0)] {
            if let Some(parent) = parent {
                grads.register::<B>(parent.id, grad);
            }
        }
    }
}

/// The backward step of [`RnnBackend::min_coefficients_forward`].
#[derive(Debug)]
struct MinCoefficientsBackward;

impl<B: RnnBackend> Backward<B, 1> for MinCoefficientsBackward {
    /// The kind and the projected input.
    type State = (MinKind, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (kind, gates) = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        if let [Some(parent)] = ops.parents {
            grads.register::<B>(parent.id, B::min_coefficients_backward(kind, gates, grad));
        }
    }
}

impl<B: RnnBackend, C: CheckpointStrategy> RnnBackend for Autodiff<B, C> {
    fn min_coefficients_forward(kind: MinKind, gates: FloatTensor<Self>) -> FloatTensor<Self> {
        match MinCoefficientsBackward
            .prepare::<C>([gates.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::min_coefficients_forward(kind, gates.primitive.clone());
                prep.finish((kind, gates.primitive), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::min_coefficients_forward(kind, gates.primitive))
            }
        }
    }

    fn min_coefficients_backward(
        kind: MinKind,
        gates: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        // Only reached when called directly on autodiff primitives: untracked gradients.
        Self::from_inner(B::min_coefficients_backward(
            kind,
            gates.primitive,
            grad.primitive,
        ))
    }

    fn linear_scan_forward(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        h0: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let nodes = [a.node.clone(), b.node.clone(), h0.node.clone()];
        match LinearScanBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let h =
                    B::linear_scan_forward(a.primitive.clone(), b.primitive, h0.primitive.clone());
                prep.finish((a.primitive, h0.primitive, h.clone()), h)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::linear_scan_forward(
                a.primitive,
                b.primitive,
                h0.primitive,
            )),
        }
    }

    fn linear_scan_backward(
        a: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        h: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> LinearScanGrads<Self> {
        // Only reached when called directly on autodiff primitives: untracked gradients.
        let g = B::linear_scan_backward(a.primitive, h0.primitive, h.primitive, grad.primitive);
        LinearScanGrads {
            a: Self::from_inner(g.a),
            b: Self::from_inner(g.b),
            h0: Self::from_inner(g.h0),
        }
    }

    fn conv_lstm_gates_forward(
        gates: FloatTensor<Self>,
        c_prev: FloatTensor<Self>,
        _save: bool,
    ) -> ConvLstmGatesForward<Self> {
        let nodes = [gates.node.clone(), c_prev.node.clone()];
        let packed = match ConvLstmGatesBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out =
                    B::conv_lstm_gates_forward(gates.primitive, c_prev.primitive.clone(), true);
                let saved = out
                    .saved
                    .expect("a forward asked to save returns what it saved");
                prep.finish((saved, c_prev.primitive), out.packed)
            }
            OpsKind::UnTracked(prep) => prep.finish(
                B::conv_lstm_gates_forward(gates.primitive, c_prev.primitive, false).packed,
            ),
        };
        // What the inner backend saved stays inside the node.
        ConvLstmGatesForward {
            packed,
            saved: None,
        }
    }

    fn conv_lstm_gates_backward(
        saved: FloatTensor<Self>,
        c_prev: FloatTensor<Self>,
        grad_packed: FloatTensor<Self>,
    ) -> ConvLstmGatesGrads<Self> {
        // Only reached when called directly on autodiff primitives: untracked gradients.
        let g =
            B::conv_lstm_gates_backward(saved.primitive, c_prev.primitive, grad_packed.primitive);
        ConvLstmGatesGrads {
            gates: Self::from_inner(g.gates),
            c_prev: Self::from_inner(g.c_prev),
        }
    }

    fn batch_norm2d_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> BatchNormForward<Self> {
        let nodes = [x.node.clone(), gamma.node.clone(), beta.node.clone()];
        let out = B::batch_norm2d_forward(
            x.primitive.clone(),
            gamma.primitive.clone(),
            beta.primitive,
            eps,
        );
        let (mean, invstd) = (out.mean.clone(), out.invstd.clone());
        let y = match BatchNormBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                prep.finish([x.primitive, gamma.primitive, out.mean, out.invstd], out.y)
            }
            OpsKind::UnTracked(prep) => prep.finish(out.y),
        };
        BatchNormForward {
            y,
            mean: Self::from_inner(mean),
            invstd: Self::from_inner(invstd),
        }
    }

    fn batch_norm2d_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        invstd: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        needs_x: bool,
    ) -> BatchNormGrads<Self> {
        // Only reached when called directly on autodiff primitives: untracked gradients.
        let g = B::batch_norm2d_backward(
            x.primitive,
            gamma.primitive,
            mean.primitive,
            invstd.primitive,
            grad.primitive,
            needs_x,
        );
        BatchNormGrads {
            x: g.x.map(Self::from_inner),
            gamma: Self::from_inner(g.gamma),
            beta: Self::from_inner(g.beta),
        }
    }

    fn max_pool2d_forward(x: FloatTensor<Self>, options: PoolOptions) -> FloatTensor<Self> {
        match MaxPoolBackward
            .prepare::<C>([x.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::max_pool2d_forward(x.primitive.clone(), options);
                prep.finish((x.primitive, options), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::max_pool2d_forward(x.primitive, options)),
        }
    }

    fn max_pool2d_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        options: PoolOptions,
    ) -> FloatTensor<Self> {
        // Only reached when called directly on autodiff primitives: an untracked gradient.
        Self::from_inner(B::max_pool2d_backward(x.primitive, grad.primitive, options))
    }

    fn conv2d_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let nodes = [x.node.clone(), weight.node.clone(), bias.node.clone()];
        match Conv2dBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::conv2d_forward(
                    x.primitive.clone(),
                    weight.primitive.clone(),
                    bias.primitive,
                    options.clone(),
                );
                prep.finish((x.primitive, weight.primitive, options), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d_forward(
                x.primitive,
                weight.primitive,
                bias.primitive,
                options,
            )),
        }
    }

    fn conv2d_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        options: ConvOptions<2>,
        needs: ConvNeeds,
    ) -> Conv2dGrads<Self> {
        // Only reached when called directly on autodiff primitives: untracked gradients.
        let g = B::conv2d_backward(
            x.primitive,
            weight.primitive,
            grad.primitive,
            options,
            needs,
        );
        Conv2dGrads {
            x: g.x.map(Self::from_inner),
            weight: g.weight.map(Self::from_inner),
            bias: g.bias.map(Self::from_inner),
        }
    }

    fn linear_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let nodes = [x.node.clone(), weight.node.clone(), bias.node.clone()];
        match LinearBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::linear_forward(
                    x.primitive.clone(),
                    weight.primitive.clone(),
                    bias.primitive,
                );
                prep.finish((x.primitive, weight.primitive), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::linear_forward(
                x.primitive,
                weight.primitive,
                bias.primitive,
            )),
        }
    }

    fn linear_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        needs_x: bool,
    ) -> LinearGrads<Self> {
        // Only reached when called directly on autodiff primitives: untracked gradients.
        let g = B::linear_backward(x.primitive, weight.primitive, grad.primitive, needs_x);
        LinearGrads {
            x: g.x.map(Self::from_inner),
            weight: Self::from_inner(g.weight),
            bias: Self::from_inner(g.bias),
        }
    }

    fn recurrent_forward(
        spec: &Spec,
        tensors: RecurrentTensors<Self>,
        _save: bool,
    ) -> RecurrentForward<Self> {
        let nodes = [
            tensors.gates_x.node.clone(),
            tensors.weight_hh.node.clone(),
            tensors.bias_hh.node.clone(),
            tensors.h0.node.clone(),
            tensors.c0.node.clone(),
        ];
        let inner = RecurrentTensors::<B> {
            gates_x: tensors.gates_x.primitive,
            weight_hh: tensors.weight_hh.primitive,
            bias_hh: tensors.bias_hh.primitive,
            h0: tensors.h0.primitive,
            c0: tensors.c0.primitive,
        };
        let packed = match RecurrentBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::recurrent_forward(spec, inner, true);
                let saved = out
                    .saved
                    .expect("a recurrent forward asked to save returns what it saved");
                prep.finish((spec.clone(), saved), out.packed)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::recurrent_forward(spec, inner, false).packed)
            }
        };
        RecurrentForward {
            packed,
            saved: None,
        }
    }

    fn recurrent_backward(
        spec: &Spec,
        saved: RecurrentSaved<Self>,
        grad_packed: FloatTensor<Self>,
    ) -> RecurrentGrads<Self> {
        // Only reached when someone calls it directly on autodiff primitives: run the inner
        // backward and return untracked gradients.
        let inner = RecurrentSaved::<B> {
            weight_hh: saved.weight_hh.primitive,
            acts: saved.acts.primitive,
            h_prev: saved.h_prev.primitive,
            c_prev: saved.c_prev.map(|c| c.primitive),
        };
        let g = B::recurrent_backward(spec, inner, grad_packed.primitive);
        RecurrentGrads {
            gates_x: Self::from_inner(g.gates_x),
            weight_hh: Self::from_inner(g.weight_hh),
            bias_hh: Self::from_inner(g.bias_hh),
            h0: Self::from_inner(g.h0),
            c0: Self::from_inner(g.c0),
        }
    }
}
