//! The error type of PyTorch interchange.

use std::fmt;
use std::path::PathBuf;

/// A tensor whose shape in the file differs from the module's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The PyTorch parameter name, e.g. `weight_ih_l0`.
    pub key: String,
    /// The module's shape.
    pub expected: Vec<usize>,
    /// The file's shape.
    pub actual: Vec<usize>,
}

/// Why loading or saving PyTorch weights failed. Every variant names the file.
#[derive(Debug)]
pub enum ImportError {
    /// The file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a readable safetensors or `torch.save` file, or holds a tensor of an
    /// unsupported dtype.
    Format {
        /// The file.
        path: PathBuf,
        /// The tensor concerned, when there is one.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The file's tensors do not match the module's parameters; nothing was loaded.
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The prefix the keys were looked up under (`""` for a whole file).
        prefix: String,
        /// Every key the file holds under the prefix (with the prefix removed), sorted.
        found: Vec<String>,
        /// Parameters of the module that the file lacks.
        missing: Vec<String>,
        /// Tensors of the file that the module has no parameter for.
        unexpected: Vec<String>,
        /// Tensors present on both sides with different shapes.
        shapes: Vec<ShapeMismatch>,
    },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Format { path, key, message } => match key {
                Some(key) => write!(f, "{}: tensor `{key}`: {message}", path.display()),
                None => write!(f, "{}: {message}", path.display()),
            },
            Self::Mismatch {
                path,
                prefix,
                found,
                missing,
                unexpected,
                shapes,
            } => {
                write!(
                    f,
                    "{}: the tensors do not match the module's parameters, nothing was loaded",
                    path.display()
                )?;
                if !missing.is_empty() {
                    write!(f, "; missing keys: {}", missing.join(", "))?;
                    match (prefix.is_empty(), found.is_empty()) {
                        (false, true) => write!(f, "; the file has no key under `{prefix}`")?,
                        (false, false) => {
                            write!(f, "; under `{prefix}` it holds: {}", found.join(", "))?
                        }
                        _ => {}
                    }
                }
                if !unexpected.is_empty() {
                    write!(f, "; unexpected keys: {}", unexpected.join(", "))?;
                }
                for s in shapes {
                    write!(
                        f,
                        "; shape mismatch for `{}`: expected {:?}, got {:?}",
                        s.key, s.expected, s.actual
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ImportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
