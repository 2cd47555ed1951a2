//! PyTorch interchange: load a `state_dict` of `nn.RNN/LSTM/GRU` or `nn.RNNCell/LSTMCell/GRUCell`
//! by PyTorch's parameter names, from `.safetensors` or `torch.save` (`.pt`, `.pth`) files, and
//! save back to safetensors with the same names.
//!
//! Names, as PyTorch has them:
//! - cells: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`
//! - layers: `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`, an LSTM with
//!   a projection's `weight_hr_l{k}`, and the same with `_reverse` for the reverse direction
//!   of a bidirectional layer.
//!
//! The shapes and the gate order are PyTorch's own (see the crate docs), so no tensor is
//! reordered. Every key is checked before anything is replaced: a missing key, an extra key or
//! a shape mismatch is an [`ImportError::Mismatch`] listing each one, and the module is left
//! as it was.
//!
//! ```no_run
//! use burn_rnn::{LstmConfig, PytorchParams, backend::DefaultBackend as B};
//!
//! let device = Default::default();
//! // torch.nn.LSTM(10, 20, num_layers=2, batch_first=True)
//! let lstm = LstmConfig::new(10, 20).with_num_layers(2).init::<B>(&device);
//! let lstm = lstm.load_pytorch("lstm.safetensors")?; // or "lstm.pt"
//! lstm.save_safetensors("lstm-copy.safetensors")?;
//! # Ok::<(), burn_rnn::ImportError>(())
//! ```

// `ImportError::Mismatch` lists every missing, unexpected and misshaped key: 144 bytes. It is
// returned only by file loads, where its size is nothing next to the I/O, and boxing it would
// make its fields clumsier to match for callers.
#![allow(clippy::result_large_err)]

mod error;
mod files;

pub use error::{ImportError, ShapeMismatch};

use std::collections::HashMap;
use std::path::Path;

use burn::module::Param;
use burn::tensor::{backend::Backend, Tensor, TensorData};

use crate::cell::{
    Cell, GruCell, LayerNormGruCell, LayerNormLstmCell, LstmCell, MinGruCell, MinLstmCell, RnnCell,
};
use crate::layer::Recurrent;

/// A module whose parameters have PyTorch names: load them from and save them to PyTorch files.
pub trait PytorchParams<B: Backend>: Sized {
    /// Every parameter's PyTorch name and shape, in PyTorch's `state_dict` order.
    fn pytorch_shapes(&self) -> Vec<(String, Vec<usize>)>;

    /// Every parameter's PyTorch name and value, in PyTorch's `state_dict` order.
    fn pytorch_tensors(&self) -> Vec<(String, TensorData)>;

    /// Replaces every parameter by the tensor of the same name in `tensors` (which must hold
    /// all of them with the right shapes: check with [`check_tensors`] first).
    #[doc(hidden)]
    fn replace_from(self, tensors: &mut HashMap<String, TensorData>) -> Self;

    /// Loads the parameters from a map of PyTorch names to tensors, checked first.
    ///
    /// `source` only names where the tensors came from, in errors.
    fn load_tensors(
        self,
        mut tensors: HashMap<String, TensorData>,
        source: &Path,
    ) -> Result<Self, ImportError> {
        check_tensors(&self.pytorch_shapes(), &tensors, source)?;
        Ok(self.replace_from(&mut tensors))
    }

    /// Loads a PyTorch `state_dict` from a `.safetensors` file, or from a `torch.save` file
    /// (any other extension: `.pt`, `.pth`, `.bin`).
    fn load_pytorch(self, path: impl AsRef<Path>) -> Result<Self, ImportError> {
        self.load_pytorch_prefixed(path, "")
    }

    /// As [`PytorchParams::load_pytorch`], for a module inside a larger model: only the keys
    /// that start with `prefix` (e.g. `"encoder.rnn."`) are considered, with the prefix removed.
    ///
    /// Only the headers of the file are read for the other tensors: any element type and any
    /// other value (a BatchNorm's `num_batches_tracked`, an optimizer's step count, metadata)
    /// is ignored. The shapes and element types of the module's tensors are checked before any
    /// value is decoded, and memory stays within the file's size plus the module's parameters.
    fn load_pytorch_prefixed(
        self,
        path: impl AsRef<Path>,
        prefix: &str,
    ) -> Result<Self, ImportError> {
        let path = path.as_ref();
        let bytes = files::read_bytes(path)?;
        let file = files::index(path, &bytes)?;
        let found: Vec<(String, Vec<usize>)> = file
            .tensors()
            .iter()
            .filter_map(|t| {
                let key = t.name.strip_prefix(prefix)?;
                Some((key.to_string(), t.shape.clone()))
            })
            .collect();
        let expected = self.pytorch_shapes();
        check_shapes(&expected, &found, path, prefix)?;
        let mut tensors = HashMap::new();
        for (key, _) in &expected {
            let name = format!("{prefix}{key}");
            let info = file.get(&name).expect("checked by check_shapes");
            if !info.dtype.is_float() {
                return Err(ImportError::Format {
                    path: path.to_path_buf(),
                    key: Some(name),
                    message: format!("dtype {:?} is not a float type", info.dtype),
                });
            }
            tensors.insert(key.clone(), files::read(path, &file, &name)?);
        }
        Ok(self.replace_from(&mut tensors))
    }

    /// Saves the parameters to a `.safetensors` file under PyTorch's names, atomically (a
    /// temporary file renamed into place), so that `torch` and [`PytorchParams::load_pytorch`]
    /// read it back.
    fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), ImportError> {
        files::write_safetensors(path.as_ref(), self.pytorch_tensors())
    }
}

/// Reads every float tensor of a `.safetensors` file, or of a `torch.save` file (any other
/// extension), converted to f32, by name. Tensors of other element types are skipped.
///
/// # Errors
/// An unreadable or malformed file, or a tensor view larger than eight elements per byte of
/// the file (load such files into a module instead: its shapes bound what is read).
pub fn read_tensors(path: impl AsRef<Path>) -> Result<HashMap<String, TensorData>, ImportError> {
    files::read_all(path.as_ref())
}

/// Checks that `tensors` holds exactly the names of `expected`, each with its shape.
pub fn check_tensors(
    expected: &[(String, Vec<usize>)],
    tensors: &HashMap<String, TensorData>,
    source: &Path,
) -> Result<(), ImportError> {
    let found: Vec<(String, Vec<usize>)> = tensors
        .iter()
        .map(|(k, t)| (k.clone(), t.shape.to_vec()))
        .collect();
    check_shapes(expected, &found, source, "")
}

/// Checks that `found` (names with `prefix` removed, and shapes) holds exactly the names of
/// `expected`, each with its shape.
fn check_shapes(
    expected: &[(String, Vec<usize>)],
    found: &[(String, Vec<usize>)],
    source: &Path,
    prefix: &str,
) -> Result<(), ImportError> {
    let by_name: HashMap<&str, &Vec<usize>> = found.iter().map(|(k, s)| (k.as_str(), s)).collect();
    let mut missing = Vec::new();
    let mut shapes = Vec::new();
    for (key, shape) in expected {
        match by_name.get(key.as_str()) {
            None => missing.push(key.clone()),
            Some(s) if s.as_slice() != shape.as_slice() => shapes.push(ShapeMismatch {
                key: key.clone(),
                expected: shape.clone(),
                actual: s.to_vec(),
            }),
            Some(_) => {}
        }
    }
    let mut unexpected: Vec<String> = found
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !expected.iter().any(|(e, _)| e == *k))
        .cloned()
        .collect();
    unexpected.sort();
    if missing.is_empty() && unexpected.is_empty() && shapes.is_empty() {
        return Ok(());
    }
    let mut found: Vec<String> = found.iter().map(|(k, _)| k.clone()).collect();
    found.sort();
    Err(ImportError::Mismatch {
        path: source.to_path_buf(),
        prefix: prefix.to_string(),
        found,
        missing,
        unexpected,
        shapes,
    })
}

/// The fused parameters of a cell by their PyTorch names (without the layer suffix):
/// `weight_ih: [G*H, H_in]`, `weight_hh: [G*H, P]`, `bias_ih: [G*H]`, `bias_hh: [G*H]`, and
/// an LSTM's projection `weight_hr: [P, H]` when it has one (`P = H` without) and its peephole
/// weights `weight_ch: [3, H]` (rows `i, f, o`) when it has them.
///
/// Implemented by the three cells; it is what lets [`Recurrent`] name its parameters.
pub trait FusedParams<B: Backend> {
    /// The parameters, in PyTorch's `state_dict` order (an absent bias as
    /// `ParamRef::Vector(None)`; an absent projection not at all).
    fn params(&self) -> Vec<(&'static str, ParamRef<'_, B>)>;
    /// The parameters, mutably, in the same order.
    fn params_mut(&mut self) -> Vec<(&'static str, ParamMut<'_, B>)>;
}

/// A borrowed fused parameter: a weight matrix, or an optional bias vector.
pub enum ParamRef<'a, B: Backend> {
    /// A weight `[G*H, F]`.
    Matrix(&'a Param<Tensor<B, 2>>),
    /// A bias `[G*H]`, absent when the cell has no biases.
    Vector(Option<&'a Param<Tensor<B, 1>>>),
}

/// A mutably borrowed fused parameter: a weight matrix, or an optional bias vector.
pub enum ParamMut<'a, B: Backend> {
    /// A weight `[G*H, F]`.
    Matrix(&'a mut Param<Tensor<B, 2>>),
    /// A bias `[G*H]`, absent when the cell has no biases.
    Vector(&'a mut Option<Param<Tensor<B, 1>>>),
    /// A vector the cell always has (a layer norm's gain or bias).
    Present(&'a mut Param<Tensor<B, 1>>),
}

macro_rules! fused_params {
    ($($cell:ident $(+ $extra:ident)*),*) => {$(
        impl<B: Backend> FusedParams<B> for $cell<B> {
            fn params(&self) -> Vec<(&'static str, ParamRef<'_, B>)> {
                #[allow(unused_mut)]
                let mut params = vec![
                    ("weight_ih", ParamRef::Matrix(&self.weight_ih)),
                    ("weight_hh", ParamRef::Matrix(&self.weight_hh)),
                    ("bias_ih", ParamRef::Vector(self.bias_ih.as_ref())),
                    ("bias_hh", ParamRef::Vector(self.bias_hh.as_ref())),
                ];
                $(
                    if let Some(p) = &self.$extra {
                        params.push((stringify!($extra), ParamRef::Matrix(p)));
                    }
                )*
                params
            }

            fn params_mut(&mut self) -> Vec<(&'static str, ParamMut<'_, B>)> {
                #[allow(unused_mut)]
                let mut params = vec![
                    ("weight_ih", ParamMut::Matrix(&mut self.weight_ih)),
                    ("weight_hh", ParamMut::Matrix(&mut self.weight_hh)),
                    ("bias_ih", ParamMut::Vector(&mut self.bias_ih)),
                    ("bias_hh", ParamMut::Vector(&mut self.bias_hh)),
                ];
                $(
                    if let Some(p) = &mut self.$extra {
                        params.push((stringify!($extra), ParamMut::Matrix(p)));
                    }
                )*
                params
            }
        }

    )*};
}

/// [`PytorchParams`] of cells, from their [`FusedParams`] names.
macro_rules! cell_pytorch_params {
    ($($cell:ident),*) => {$(
        impl<B: Backend> PytorchParams<B> for $cell<B> {
            fn pytorch_shapes(&self) -> Vec<(String, Vec<usize>)> {
                shapes_of(self, "")
            }

            fn pytorch_tensors(&self) -> Vec<(String, TensorData)> {
                tensors_of(self, "")
            }

            fn replace_from(mut self, tensors: &mut HashMap<String, TensorData>) -> Self {
                replace_in(&mut self, "", tensors);
                self
            }
        }
    )*};
}

fused_params!(RnnCell, LstmCell + weight_hr + weight_ch, GruCell);
cell_pytorch_params!(
    RnnCell,
    LstmCell,
    GruCell,
    MinGruCell,
    MinLstmCell,
    LayerNormLstmCell,
    LayerNormGruCell
);

fn shapes_of<B: Backend>(cell: &impl FusedParams<B>, suffix: &str) -> Vec<(String, Vec<usize>)> {
    cell.params()
        .into_iter()
        .filter_map(|(name, p)| {
            let shape = match p {
                ParamRef::Matrix(p) => p.shape().to_vec(),
                ParamRef::Vector(Some(p)) => p.shape().to_vec(),
                ParamRef::Vector(None) => return None,
            };
            Some((format!("{name}{suffix}"), shape))
        })
        .collect()
}

fn tensors_of<B: Backend>(cell: &impl FusedParams<B>, suffix: &str) -> Vec<(String, TensorData)> {
    cell.params()
        .into_iter()
        .filter_map(|(name, p)| {
            let data = match p {
                ParamRef::Matrix(p) => p.val().into_data(),
                ParamRef::Vector(Some(p)) => p.val().into_data(),
                ParamRef::Vector(None) => return None,
            };
            Some((format!("{name}{suffix}"), data.convert::<f32>()))
        })
        .collect()
}

fn replace_in<B: Backend>(
    cell: &mut impl FusedParams<B>,
    suffix: &str,
    tensors: &mut HashMap<String, TensorData>,
) {
    for (name, p) in cell.params_mut() {
        let key = format!("{name}{suffix}");
        match p {
            ParamMut::Matrix(p) => {
                let data = tensors.remove(&key).expect("checked by check_tensors");
                replace_param(p, data);
            }
            ParamMut::Vector(Some(p)) | ParamMut::Present(p) => {
                let data = tensors.remove(&key).expect("checked by check_tensors");
                replace_param(p, data);
            }
            ParamMut::Vector(None) => {}
        }
    }
}

/// Swaps a parameter's value for `data`, keeping its id, device and gradient requirement.
pub(crate) fn replace_param<B: Backend, const D: usize>(
    param: &mut Param<Tensor<B, D>>,
    data: TensorData,
) {
    let placeholder = Param::initialized(param.id, Tensor::empty([0; D], &param.lazy_device()));
    let (id, old, mapper) = core::mem::replace(param, placeholder).consume();
    let mut value = Tensor::from_data(data.convert::<B::FloatElem>(), &old.device());
    if old.is_require_grad() {
        value = value.require_grad();
    }
    *param = Param::from_mapped_value(id, value, mapper);
}

/// PyTorch's suffix for a layer and direction: `_l{k}` or `_l{k}_reverse`.
fn layer_suffix(layer: usize, direction: usize) -> String {
    if direction == 1 {
        format!("_l{layer}_reverse")
    } else {
        format!("_l{layer}")
    }
}

impl<B: Backend, C: Cell<B> + FusedParams<B>> PytorchParams<B> for Recurrent<B, C> {
    fn pytorch_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let dirs = self.num_directions();
        self.cells
            .iter()
            .enumerate()
            .flat_map(|(i, c)| shapes_of(c, &layer_suffix(i / dirs, i % dirs)))
            .collect()
    }

    fn pytorch_tensors(&self) -> Vec<(String, TensorData)> {
        let dirs = self.num_directions();
        self.cells
            .iter()
            .enumerate()
            .flat_map(|(i, c)| tensors_of(c, &layer_suffix(i / dirs, i % dirs)))
            .collect()
    }

    fn replace_from(mut self, tensors: &mut HashMap<String, TensorData>) -> Self {
        let dirs = self.num_directions();
        for (i, cell) in self.cells.iter_mut().enumerate() {
            replace_in(cell, &layer_suffix(i / dirs, i % dirs), tensors);
        }
        self
    }
}
