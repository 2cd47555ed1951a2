//! Strict, bounded readers for the files burn-rnn loads, with no Burn dependency.
//!
//! ## Contents
//! - [`TensorFile`]: the tensors of a `torch.save` archive ([`TensorFile::torch`]) or a
//!   safetensors file ([`TensorFile::safetensors`]), listed by name, shape and element type
//!   from the headers, and decoded one at a time ([`TensorFile::read_f32`]) only when asked.
//! - [`check_record`]: the tensors of a Burn MessagePack record, each checked (byte length
//!   against shape and element type) before Burn decodes it.
//! - [`atomic`]: files and folders written atomically (a temporary sibling, `sync_all`, a
//!   rename), regular files read with a bound, and a lock on a run folder with crash recovery.
//! - [`Error`]: what is wrong, with the tensor's name or the record's path when there is one.
//!
//! ## Trust model
//! A file is data, never code. A `torch.save` archive's pickle is run by a small reader of the
//! opcodes `torch.save` writes (protocols 2 to 5): `GLOBAL` references are names, never
//! imported; `_rebuild_tensor_v2` and `_rebuild_parameter` are recognized by name; any other
//! callable becomes an opaque value that is skipped. This accepts what
//! `torch.load(path, weights_only=True)` accepts for a `state_dict`, and more (unknown objects
//! beside the tensors are ignored, where `weights_only` would refuse them), and it can never
//! run anything.
//!
//! Every reader is bounded: memory is linear in the input (no allocation from a declared size,
//! memo references shared rather than copied), nothing recurses on the input's nesting beyond
//! a fixed depth, and every offset, size and stride is checked with overflow-checked
//! arithmetic before it is used. A malformed file is an [`Error`], never a panic or an abort.
//! `fuzz/` in the repository holds the fuzz targets that check this.
//!
//! ```
//! let file = rnn_io::TensorFile::safetensors(&[8, 0, 0, 0, 0, 0, 0, 0, b'{', b'}', b' ', b' ',
//!     b' ', b' ', b' ', b' '])?;
//! assert!(file.tensors().is_empty());
//! # Ok::<(), rnn_io::Error>(())
//! ```

pub mod atomic;
mod pickle;
mod record;
mod torch;
mod zip;

use std::collections::HashMap;
use std::fmt;

pub use record::{check_record, RecordTensor, MAX_DEPTH as MAX_RECORD_DEPTH};

/// Why a file could not be read: a message, and the tensor (or record path) it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The tensor's name in the file, or the path of a record's field, when there is one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Error {
    pub(crate) fn new(key: Option<String>, message: impl Into<String>) -> Self {
        Self {
            key,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "tensor `{key}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

/// The element type of a tensor in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// 64-bit float.
    F64,
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// 64-bit integer.
    I64,
    /// 32-bit integer.
    I32,
    /// 16-bit integer.
    I16,
    /// 8-bit integer.
    I8,
    /// 8-bit unsigned integer.
    U8,
    /// Boolean.
    Bool,
    /// Any other element type (complex, float8, unsigned wider than 8 bits, ...): listed, never
    /// decoded.
    Other,
}

impl Dtype {
    /// The size of one element in bytes (`Other`: 1, only used for bounds).
    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 | Dtype::BF16 | Dtype::I16 => 2,
            Dtype::I8 | Dtype::U8 | Dtype::Bool | Dtype::Other => 1,
        }
    }

    /// Whether [`TensorFile::read_f32`] can read values of this type.
    pub fn is_float(self) -> bool {
        matches!(self, Dtype::F64 | Dtype::F32 | Dtype::F16 | Dtype::BF16)
    }
}

/// A tensor as a file's headers describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Its name: the `state_dict` key (nested dictionaries joined with `.`).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its element type.
    pub dtype: Dtype,
}

enum Inner<'a> {
    Torch(torch::Archive<'a>),
    Safetensors(safetensors::SafeTensors<'a>),
}

/// The tensors of a file held in memory, described from its headers; values are decoded only
/// by [`TensorFile::read_f32`].
pub struct TensorFile<'a> {
    infos: Vec<TensorInfo>,
    index: HashMap<String, usize>,
    inner: Inner<'a>,
}

impl<'a> TensorFile<'a> {
    /// Reads the index of a `torch.save` archive (the zip format of PyTorch 1.6 and later)
    /// whose pickle is a `state_dict`: a dictionary of tensors, possibly nested.
    ///
    /// # Errors
    /// A malformed zip or pickle, an opcode `torch.save` does not write, no dictionary at the
    /// root, or two tensors with one name.
    pub fn torch(bytes: &'a [u8]) -> Result<Self, Error> {
        let archive = torch::parse(bytes)?;
        let infos = archive
            .tensors
            .iter()
            .map(|(name, t)| t.info(name))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(infos, Inner::Torch(archive)))
    }

    /// Reads the index of a safetensors file (its header, checked by the `safetensors` crate:
    /// offsets, sizes and the buffer's length).
    ///
    /// # Errors
    /// A malformed header or a buffer that does not match it.
    pub fn safetensors(bytes: &'a [u8]) -> Result<Self, Error> {
        let file = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| Error::new(None, format!("not a safetensors file: {e}")))?;
        let mut infos: Vec<TensorInfo> = file
            .iter()
            .map(|(name, view)| TensorInfo {
                name: name.to_string(),
                shape: view.shape().to_vec(),
                dtype: match view.dtype() {
                    safetensors::Dtype::F64 => Dtype::F64,
                    safetensors::Dtype::F32 => Dtype::F32,
                    safetensors::Dtype::F16 => Dtype::F16,
                    safetensors::Dtype::BF16 => Dtype::BF16,
                    safetensors::Dtype::I64 => Dtype::I64,
                    safetensors::Dtype::I32 => Dtype::I32,
                    safetensors::Dtype::I16 => Dtype::I16,
                    safetensors::Dtype::I8 => Dtype::I8,
                    safetensors::Dtype::U8 => Dtype::U8,
                    safetensors::Dtype::BOOL => Dtype::Bool,
                    _ => Dtype::Other,
                },
            })
            .collect();
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self::new(infos, Inner::Safetensors(file)))
    }

    fn new(infos: Vec<TensorInfo>, inner: Inner<'a>) -> Self {
        let index = infos
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Self {
            infos,
            index,
            inner,
        }
    }

    /// Every tensor of the file: file order for `torch.save`, sorted by name for safetensors.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.infos
    }

    /// The tensor named `name`, if the file has one.
    pub fn get(&self, name: &str) -> Option<&TensorInfo> {
        self.index.get(name).map(|&i| &self.infos[i])
    }

    /// The values of the tensor `name` in row-major order, converted to `f32`. A `torch.save`
    /// tensor is read through its view (storage offset, strides, including 0 for an expanded
    /// tensor), with every index checked against its storage record.
    ///
    /// The output has as many elements as the tensor's shape: check the shape
    /// ([`TensorFile::get`]) before reading a tensor from an untrusted file, since an expanded
    /// view can describe far more elements than the file holds.
    ///
    /// # Errors
    /// No such tensor, a non-float element type, or (`torch.save`) a missing or short storage
    /// record or a view that reads past its storage.
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>, Error> {
        let missing = || Error::new(Some(name.to_string()), "no such tensor in the file");
        let i = *self.index.get(name).ok_or_else(missing)?;
        match &self.inner {
            Inner::Torch(a) => {
                let t = &a.tensors[i].1;
                t.read_f32(name, a.storages.get(&t.storage.key).copied())
            }
            Inner::Safetensors(f) => {
                let view = f.tensor(name).map_err(|_| missing())?;
                let dtype = self.infos[i].dtype;
                let b = view.data();
                let out = match dtype {
                    Dtype::F32 => b
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                    Dtype::F64 => b
                        .chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                        .collect(),
                    Dtype::F16 => b
                        .chunks_exact(2)
                        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                        .collect(),
                    Dtype::BF16 => b
                        .chunks_exact(2)
                        .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                        .collect(),
                    other => {
                        return Err(Error::new(
                            Some(name.to_string()),
                            format!("dtype {other:?} is not a float type"),
                        ))
                    }
                };
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests;
