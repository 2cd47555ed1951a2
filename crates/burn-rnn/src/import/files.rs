//! Reading and writing tensor files: safetensors and `torch.save` archives, through
//! [`rnn_io::TensorFile`] (headers first, values only for the tensors asked for).

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::TensorData;
use rnn_io::TensorFile;
use safetensors::Dtype;

use super::ImportError;

fn format(path: &Path, key: Option<&str>, message: impl Into<String>) -> ImportError {
    ImportError::Format {
        path: path.to_path_buf(),
        key: key.map(str::to_string),
        message: message.into(),
    }
}

/// The bytes of a tensor file: the whole file (memory is the file's size).
pub(super) fn read_bytes(path: &Path) -> Result<Vec<u8>, ImportError> {
    rnn_io::atomic::read_regular(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The index of a `.safetensors` file, or of a `torch.save` file (other extensions).
pub(super) fn index<'a>(path: &Path, bytes: &'a [u8]) -> Result<TensorFile<'a>, ImportError> {
    let is_safetensors = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
    let file = match is_safetensors {
        true => TensorFile::safetensors(bytes),
        false => TensorFile::torch(bytes),
    };
    file.map_err(|e| from_io(path, e))
}

/// An [`rnn_io::Error`] as an [`ImportError::Format`] naming `path`.
pub(super) fn from_io(path: &Path, e: rnn_io::Error) -> ImportError {
    format(path, e.key.as_deref(), e.message)
}

/// The tensor `name` of `file` as f32 [`TensorData`].
pub(super) fn read(path: &Path, file: &TensorFile, name: &str) -> Result<TensorData, ImportError> {
    let info = file
        .get(name)
        .ok_or_else(|| format(path, Some(name), "no such tensor"))?;
    let values = file.read_f32(name).map_err(|e| from_io(path, e))?;
    Ok(TensorData::new(values, info.shape.clone()))
}

/// Reads every float tensor of a file, by name (tensors of other element types are skipped).
/// A view with more elements than eight per byte of the file (a hugely expanded tensor) is
/// refused: load such a file into a module, whose shapes bound what is read.
pub(super) fn read_all(path: &Path) -> Result<HashMap<String, TensorData>, ImportError> {
    let bytes = read_bytes(path)?;
    let file = index(path, &bytes)?;
    let limit = bytes.len().saturating_mul(8).max(1 << 16);
    let mut out = HashMap::new();
    for t in file.tensors().iter().filter(|t| t.dtype.is_float()) {
        let numel = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if numel.is_none_or(|n| n > limit) {
            return Err(format(
                path,
                Some(&t.name),
                format!(
                    "shape {:?} is too large for a file of {} bytes",
                    t.shape,
                    bytes.len()
                ),
            ));
        }
        out.insert(t.name.clone(), read(path, &file, &t.name)?);
    }
    Ok(out)
}

/// Writes f32 tensors to a `.safetensors` file atomically ([`rnn_io::atomic::write_file`]), so
/// that a crash never leaves a half-written file under `path`.
pub(super) fn write_safetensors(
    path: &Path,
    tensors: Vec<(String, TensorData)>,
) -> Result<(), ImportError> {
    let views = tensors
        .iter()
        .map(|(key, data)| {
            let view = safetensors::tensor::TensorView::new(
                Dtype::F32,
                data.shape.to_vec(),
                data.as_bytes(),
            )
            .map_err(|e| format(path, Some(key), e.to_string()))?;
            Ok((key.clone(), view))
        })
        .collect::<Result<Vec<_>, ImportError>>()?;
    let bytes = safetensors::serialize(views, None)
        .map_err(|e| format(path, None, format!("cannot serialize: {e}")))?;
    rnn_io::atomic::write_file(path, &bytes).map_err(|e| ImportError::Io {
        path: e.path,
        source: e.source,
    })
}
