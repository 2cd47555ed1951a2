//! PyTorch names of the convolutional layers' parameters: [`PytorchParams`] for
//! [`ConvLstm`](super::ConvLstm) and [`ConvGru`](super::ConvGru).

use std::collections::HashMap;

use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::{ConvCell, ConvGruCell, ConvLstmCell, ConvRecurrent};
use crate::conv::Conv2d;
use crate::import::{replace_param, PytorchParams};
use crate::RnnBackend;

/// A cell's convolutions by their PyTorch names (`"conv"`, or `"conv_gates"` and
/// `"conv_can"`), and its other parameters (a ConvLSTM's peepholes `"Wci"`, `"Wcf"`, `"Wco"`).
pub(crate) trait NamedConvs<B: Backend> {
    fn convs(&self) -> Vec<(&'static str, &Conv2d<B>)>;
    fn convs_mut(&mut self) -> Vec<(&'static str, &mut Conv2d<B>)>;

    fn others(&self) -> Vec<(&'static str, &Param<Tensor<B, 4>>)> {
        Vec::new()
    }

    fn others_mut(&mut self) -> Vec<(&'static str, &mut Param<Tensor<B, 4>>)> {
        Vec::new()
    }
}

/// The PyTorch names of the peephole weights, in the order of [`ConvLstmCell::peephole`].
const PEEPHOLES: [&str; 3] = ["Wci", "Wcf", "Wco"];

impl<B: RnnBackend> NamedConvs<B> for ConvLstmCell<B> {
    fn convs(&self) -> Vec<(&'static str, &Conv2d<B>)> {
        vec![("conv", self.conv())]
    }

    fn convs_mut(&mut self) -> Vec<(&'static str, &mut Conv2d<B>)> {
        vec![("conv", self.conv_mut())]
    }

    fn others(&self) -> Vec<(&'static str, &Param<Tensor<B, 4>>)> {
        self.peephole()
            .map(|ws| PEEPHOLES.into_iter().zip(ws.iter()).collect())
            .unwrap_or_default()
    }

    fn others_mut(&mut self) -> Vec<(&'static str, &mut Param<Tensor<B, 4>>)> {
        self.peephole_mut()
            .map(|ws| PEEPHOLES.into_iter().zip(ws.iter_mut()).collect())
            .unwrap_or_default()
    }
}

impl<B: RnnBackend> NamedConvs<B> for ConvGruCell<B> {
    fn convs(&self) -> Vec<(&'static str, &Conv2d<B>)> {
        vec![
            ("conv_gates", self.conv_gates()),
            ("conv_can", self.conv_can()),
        ]
    }

    fn convs_mut(&mut self) -> Vec<(&'static str, &mut Conv2d<B>)> {
        self.named_convs_mut().into()
    }
}

/// `cell_list.{layer}.` or, for the reverse direction, `cell_list_reverse.{layer}.`.
fn cell_prefix(index: usize, dirs: usize) -> String {
    let (layer, dir) = (index / dirs, index % dirs);
    match dir {
        0 => format!("cell_list.{layer}."),
        _ => format!("cell_list_reverse.{layer}."),
    }
}

fn shapes<B: RnnBackend, C: ConvCell<B> + NamedConvs<B>>(
    layer: &ConvRecurrent<B, C>,
) -> Vec<(String, Vec<usize>)> {
    let dirs = layer.num_directions();
    let mut out = Vec::new();
    for (i, cell) in layer.cells().iter().enumerate() {
        for (name, conv) in cell.convs() {
            let key = format!("{}{name}.", cell_prefix(i, dirs));
            out.push((format!("{key}weight"), conv.weight().lazy_shape().to_vec()));
            if let Some(b) = conv.bias() {
                out.push((format!("{key}bias"), b.lazy_shape().to_vec()));
            }
        }
        for (name, p) in cell.others() {
            let key = format!("{}{name}", cell_prefix(i, dirs));
            out.push((key, p.lazy_shape().to_vec()));
        }
    }
    out
}

fn tensors<B: RnnBackend, C: ConvCell<B> + NamedConvs<B>>(
    layer: &ConvRecurrent<B, C>,
) -> Vec<(String, TensorData)> {
    let dirs = layer.num_directions();
    let mut out = Vec::new();
    for (i, cell) in layer.cells().iter().enumerate() {
        for (name, conv) in cell.convs() {
            let key = format!("{}{name}.", cell_prefix(i, dirs));
            let w = conv.weight().val().into_data().convert::<f32>();
            out.push((format!("{key}weight"), w));
            if let Some(b) = conv.bias() {
                out.push((format!("{key}bias"), b.val().into_data().convert::<f32>()));
            }
        }
        for (name, p) in cell.others() {
            let key = format!("{}{name}", cell_prefix(i, dirs));
            out.push((key, p.val().into_data().convert::<f32>()));
        }
    }
    out
}

fn replace_from<B: RnnBackend, C: ConvCell<B> + NamedConvs<B>>(
    mut layer: ConvRecurrent<B, C>,
    tensors: &mut HashMap<String, TensorData>,
) -> ConvRecurrent<B, C> {
    let dirs = layer.num_directions();
    let mut take = |key: String| tensors.remove(&key).expect("checked by check_tensors");
    for (i, cell) in layer.cells_mut().iter_mut().enumerate() {
        for (name, conv) in cell.convs_mut() {
            let key = format!("{}{name}.", cell_prefix(i, dirs));
            let (weight, bias) = conv.params_mut();
            replace_param(weight, take(format!("{key}weight")));
            if let Some(bias) = bias {
                replace_param(bias, take(format!("{key}bias")));
            }
        }
        for (name, p) in cell.others_mut() {
            replace_param(p, take(format!("{}{name}", cell_prefix(i, dirs))));
        }
    }
    layer
}

macro_rules! pytorch_params {
    ($($cell:ident),*) => {$(
        impl<B: RnnBackend> PytorchParams<B> for ConvRecurrent<B, $cell<B>> {
            fn pytorch_shapes(&self) -> Vec<(String, Vec<usize>)> {
                shapes(self)
            }

            fn pytorch_tensors(&self) -> Vec<(String, TensorData)> {
                tensors(self)
            }

            fn replace_from(self, tensors: &mut HashMap<String, TensorData>) -> Self {
                replace_from(self, tensors)
            }
        }
    )*};
}

pytorch_params!(ConvLstmCell, ConvGruCell);
