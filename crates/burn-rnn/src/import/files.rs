//! Reading and writing tensor files: safetensors and `torch.save` archives.

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::{DType, TensorData};
use safetensors::{Dtype, SafeTensors};

use super::ImportError;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format(path: &Path, key: Option<&str>, message: impl Into<String>) -> ImportError {
    ImportError::Format {
        path: path.to_path_buf(),
        key: key.map(str::to_string),
        message: message.into(),
    }
}

/// Reads every tensor of a `.safetensors` file, or of a `torch.save` file (other extensions).
pub(super) fn read_any(path: &Path) -> Result<HashMap<String, TensorData>, ImportError> {
    let is_safetensors = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
    if is_safetensors {
        read_safetensors(path)
    } else {
        read_torch(path)
    }
}

/// Reads every tensor of a `.safetensors` file as float data.
pub(super) fn read_safetensors(path: &Path) -> Result<HashMap<String, TensorData>, ImportError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| format(path, None, format!("not a safetensors file: {e}")))?;
    file.tensors()
        .into_iter()
        .map(|(key, view)| {
            let dtype = match view.dtype() {
                Dtype::F32 => DType::F32,
                Dtype::F64 => DType::F64,
                Dtype::F16 => DType::F16,
                Dtype::BF16 => DType::BF16,
                other => {
                    return Err(format(
                        path,
                        Some(&key),
                        format!(
                            "dtype {other:?} is not a float type (expected F32, F64, F16 or BF16)"
                        ),
                    ))
                }
            };
            let data =
                TensorData::from_bytes_vec(view.data().to_vec(), view.shape().to_vec(), dtype);
            Ok((key, data.convert::<f32>()))
        })
        .collect()
}

/// Reads every tensor of a `torch.save` file (a `state_dict`), through burn-store's reader.
pub(super) fn read_torch(path: &Path) -> Result<HashMap<String, TensorData>, ImportError> {
    if !path.exists() {
        return Err(ImportError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let reader = burn_store::pytorch::PytorchReader::new(path)
        .map_err(|e| format(path, None, format!("not a readable torch.save file: {e}")))?;
    reader
        .into_tensors()
        .into_iter()
        .map(|(key, snapshot)| {
            let data = snapshot
                .to_data()
                .map_err(|e| format(path, Some(&key), e.to_string()))?;
            if !matches!(
                data.dtype,
                DType::F32 | DType::F64 | DType::F16 | DType::BF16
            ) {
                return Err(format(
                    path,
                    Some(&key),
                    format!("dtype {:?} is not a float type", data.dtype),
                ));
            }
            Ok((key, data.convert::<f32>()))
        })
        .collect()
}

/// Writes f32 tensors to a `.safetensors` file atomically ([`crate::atomic::write_file`]), so
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
    crate::atomic::write_file(path, &bytes).map_err(|e| ImportError::Io {
        path: e.path,
        source: e.source,
    })
}
