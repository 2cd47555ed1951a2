//! `Fusion<B>` (what `burn::backend::Wgpu` is with Burn's default features): each
//! whole-sequence primitive is ONE custom operation in the fusion stream, whose execution runs
//! `B`'s own primitive (the fused CubeCL kernels for `CubeBackend`).
//!
//! The operation is queued lazily like any other: it ends the current fused block, but does
//! not block the caller. A lazy operation declares its outputs before it runs; the saved
//! tensors' shapes come from the shared layout ([`SavedShapes`]), and execution checks them.

use std::marker::PhantomData;

use burn::tensor::ops::FloatTensor;
use burn::tensor::Shape;
use burn_fusion::stream::{Operation, OperationStreams};
use burn_fusion::{Fusion, FusionBackend, FusionRuntime};
use burn_ir::{CustomOpIr, HandleContainer, OperationIr, TensorIr};

use super::{
    RecurrentForward, RecurrentGrads, RecurrentSaved, RecurrentTensors, RnnBackend, SavedShapes,
    Spec,
};

type Handles<B> =
    HandleContainer<<<B as FusionBackend>::FusionRuntime as FusionRuntime>::FusionHandle>;

/// Registers `tensor` as output `ir`, checking the shape the operation declared.
fn register<B: FusionBackend>(
    handles: &mut Handles<B>,
    ir: &TensorIr,
    tensor: FloatTensor<B>,
    what: &str,
) {
    use burn::tensor::TensorMetadata;
    assert_eq!(
        tensor.shape(),
        ir.shape,
        "burn-rnn fusion op: {what} has shape {:?}, the operation declared {:?}",
        tensor.shape(),
        ir.shape
    );
    handles.register_float_tensor::<B>(&ir.id, tensor);
}

/// The queued forward: inputs `[gates_x, weight_hh, bias_hh, h0, c0]`, outputs
/// `[packed, saved...]`.
#[derive(Debug)]
struct ForwardOp<B: FusionBackend> {
    desc: CustomOpIr,
    spec: Spec,
    save: bool,
    _backend: PhantomData<B>,
}

impl<B: FusionBackend + RnnBackend> Operation<B::FusionRuntime> for ForwardOp<B> {
    fn execute(&self, handles: &mut Handles<B>) {
        let ([gates_x, weight_hh, bias_hh, h0, c0], outputs) = (
            {
                let mut inputs = self
                    .desc
                    .inputs
                    .iter()
                    .map(|ir| handles.get_float_tensor::<B>(ir));
                let mut next = || inputs.next().expect("five inputs");
                [next(), next(), next(), next(), next()]
            },
            &self.desc.outputs,
        );
        let tensors = RecurrentTensors {
            gates_x,
            weight_hh,
            bias_hh,
            h0,
            c0,
        };
        let out = B::recurrent_forward(&self.spec, tensors, self.save);
        let saved = out.saved.map(RecurrentSaved::into_vec).unwrap_or_default();
        assert_eq!(
            saved.len() + 1,
            outputs.len(),
            "burn-rnn fusion op: the backend saved {} tensors, the layout has {}",
            saved.len(),
            outputs.len() - 1
        );
        register::<B>(handles, &outputs[0], out.packed, "the packed result");
        for (ir, tensor) in outputs[1..].iter().zip(saved) {
            register::<B>(handles, ir, tensor, "a saved tensor");
        }
    }
}

/// The queued backward: inputs `[saved..., grad_packed]`, outputs the five gradients.
#[derive(Debug)]
struct BackwardOp<B: FusionBackend> {
    desc: CustomOpIr,
    spec: Spec,
    _backend: PhantomData<B>,
}

impl<B: FusionBackend + RnnBackend> Operation<B::FusionRuntime> for BackwardOp<B> {
    fn execute(&self, handles: &mut Handles<B>) {
        let mut inputs: Vec<FloatTensor<B>> = self
            .desc
            .inputs
            .iter()
            .map(|ir| handles.get_float_tensor::<B>(ir))
            .collect();
        let grad = inputs.pop().expect("the gradient is the last input");
        let saved = RecurrentSaved::from_vec(self.spec.kind, inputs);
        let g = B::recurrent_backward(&self.spec, saved, grad);
        let grads = [g.gates_x, g.weight_hh, g.bias_hh, g.h0, g.c0];
        for (ir, tensor) in self.desc.outputs.iter().zip(grads) {
            register::<B>(handles, ir, tensor, "a gradient");
        }
    }
}

impl<B: FusionBackend + RnnBackend> RnnBackend for Fusion<B> {
    fn recurrent_forward(
        spec: &Spec,
        tensors: RecurrentTensors<Self>,
        save: bool,
    ) -> RecurrentForward<Self> {
        let client = tensors.gates_x.client.clone();
        let dtype = tensors.gates_x.dtype;
        let [seq, batch] = [tensors.gates_x.shape[0], tensors.gates_x.shape[1]];
        let hidden = tensors.weight_hh.shape[1];
        let inputs = [
            tensors.gates_x,
            tensors.weight_hh,
            tensors.bias_hh,
            tensors.h0,
            tensors.c0,
        ];
        let streams = OperationStreams::with_inputs(inputs.iter());
        let mut shapes = vec![vec![seq + 2, batch, hidden]];
        if save {
            shapes.extend(SavedShapes::new(spec.kind, seq, batch, hidden).to_vec());
        }
        let outputs: Vec<TensorIr> = shapes
            .into_iter()
            .map(|s| TensorIr::uninit(client.create_empty_handle(), Shape::from(s), dtype))
            .collect();
        let inputs: Vec<TensorIr> = inputs.into_iter().map(|t| t.into_ir()).collect();
        let desc = CustomOpIr::new("burn_rnn_recurrent_forward", &inputs, &outputs);
        let op = ForwardOp::<B> {
            desc: desc.clone(),
            spec: spec.clone(),
            save,
            _backend: PhantomData,
        };
        let mut outputs = client.register(streams, OperationIr::Custom(desc), op);
        let packed = outputs.remove(0);
        RecurrentForward {
            packed,
            saved: save.then(|| RecurrentSaved::from_vec(spec.kind, outputs)),
        }
    }

    fn recurrent_backward(
        spec: &Spec,
        saved: RecurrentSaved<Self>,
        grad_packed: FloatTensor<Self>,
    ) -> RecurrentGrads<Self> {
        let client = grad_packed.client.clone();
        let dtype = grad_packed.dtype;
        let [rows, batch, hidden] = [
            grad_packed.shape[0],
            grad_packed.shape[1],
            grad_packed.shape[2],
        ];
        let (seq, gh) = (rows - 2, spec.kind.gates() * hidden);
        let mut inputs = saved.into_vec();
        inputs.push(grad_packed);
        let streams = OperationStreams::with_inputs(inputs.iter());
        let outputs: Vec<TensorIr> = [
            vec![seq, batch, gh],
            vec![gh, hidden],
            vec![gh],
            vec![batch, hidden],
            vec![batch, hidden],
        ]
        .into_iter()
        .map(|s| TensorIr::uninit(client.create_empty_handle(), Shape::from(s), dtype))
        .collect();
        let inputs: Vec<TensorIr> = inputs.into_iter().map(|t| t.into_ir()).collect();
        let desc = CustomOpIr::new("burn_rnn_recurrent_backward", &inputs, &outputs);
        let op = BackwardOp::<B> {
            desc: desc.clone(),
            spec: spec.clone(),
            _backend: PhantomData,
        };
        let [gates_x, weight_hh, bias_hh, h0, c0]: [FloatTensor<Self>; 5] = client
            .register(streams, OperationIr::Custom(desc), op)
            .try_into()
            .expect("five gradients");
        RecurrentGrads {
            gates_x,
            weight_hh,
            bias_hh,
            h0,
            c0,
        }
    }
}
