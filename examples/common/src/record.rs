//! Burn records you can trust: written durably, and checked before Burn decodes them.
//!
//! - [`CheckedRecorder`]: a [`FileRecorder`] in Burn's named MessagePack format (`.mpk`, the
//!   files of `NamedMpkFileRecorder`, which it reads and writes interchangeably). A save
//!   serializes in memory and writes through [`rnn_io::atomic::write_file`] (a temporary file,
//!   `sync_all`, a rename, the folder synced): a full disk or any other write error is
//!   returned, and the previous file stays whole. A load checks every tensor's byte length
//!   against its shape and element type ([`rnn_io::check_record`]) before Burn builds arrays
//!   from those bytes (which it does without checking).
//!   A module's record is loaded after [`check_shapes`] has compared it with the module.
//! - [`inspect`]: the tensors of a record file, checked, without decoding them.
//! - [`check_shapes`]: a module's parameter shapes (read lazily, so nothing is allocated for
//!   them) against a record's, to run before a record is loaded into a module built from a
//!   config file: a config that claims sizes the record does not hold is refused before it
//!   allocates anything.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::record::{
    BurnRecord, FileRecorder, FullPrecisionSettings, PrecisionSettings, Record, Recorder,
    RecorderError,
};
use burn::tensor::{backend::Backend, Tensor};
use serde::{de::DeserializeOwned, Serialize};

pub use rnn_io::RecordTensor;

/// Burn's named MessagePack file recorder, written durably and read with checks (see the
/// module docs). `S` is the precision (full by default, as `NamedMpkFileRecorder<S>`).
#[derive(Debug, Clone, Default)]
pub struct CheckedRecorder<S: PrecisionSettings = FullPrecisionSettings> {
    _settings: core::marker::PhantomData<S>,
}

impl<S: PrecisionSettings> CheckedRecorder<S> {
    /// The recorder.
    pub fn new() -> Self {
        Self {
            _settings: core::marker::PhantomData,
        }
    }
}

fn with_mpk(path: &Path) -> PathBuf {
    path.with_extension("mpk")
}

/// Reads a record file whole, checking it, and returns its bytes and tensors.
fn read_checked(path: &Path) -> Result<(Vec<u8>, Vec<RecordTensor>), RecorderError> {
    let bytes = rnn_io::atomic::read_regular(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            RecorderError::FileNotFound(format!("{}: {e}", path.display()))
        }
        _ => RecorderError::Unknown(format!("{}: {e}", path.display())),
    })?;
    let tensors = rnn_io::check_record(&bytes)
        .map_err(|e| RecorderError::Unknown(format!("{}: {e}", path.display())))?;
    Ok((bytes, tensors))
}

impl<S: PrecisionSettings, B: Backend> Recorder<B> for CheckedRecorder<S> {
    type Settings = S;
    type RecordArgs = PathBuf;
    type RecordOutput = ();
    type LoadArgs = PathBuf;

    fn save_item<I: Serialize>(&self, item: I, file: PathBuf) -> Result<(), RecorderError> {
        let path = with_mpk(&file);
        let bytes = rmp_serde::to_vec_named(&item)
            .map_err(|e| RecorderError::Unknown(format!("{}: {e}", path.display())))?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| RecorderError::Unknown(format!("{}: {e}", parent.display())))?;
        }
        rnn_io::atomic::write_file(&path, &bytes).map_err(|e| RecorderError::Unknown(e.to_string()))
    }

    /// Loads a record: [`Recorder::load_item`] (read, checked, decoded), then Burn's
    /// `from_item`, which builds the tensors.
    ///
    /// The reader has checked every tensor's bytes against its shape and every parameter id
    /// ([`rnn_io::check_record`]). What it cannot know is the rank each field of `R` expects:
    /// Burn's `from_item` panics on a tensor of another rank. Loads of a module's record go
    /// through [`check_shapes`] first (the module's own shapes against the record's), which
    /// refuses such a record as an error before this runs.
    fn load<R: Record<B>>(
        &self,
        mut file: PathBuf,
        device: &B::Device,
    ) -> Result<R, RecorderError> {
        let item: BurnRecord<R::Item<S>, B> = Recorder::<B>::load_item(self, &mut file)?;
        Ok(R::from_item(item.item, device))
    }

    fn load_item<I: DeserializeOwned>(&self, file: &mut PathBuf) -> Result<I, RecorderError> {
        let path = with_mpk(file);
        let (bytes, _) = read_checked(&path)?;
        rmp_serde::from_slice(&bytes)
            .map_err(|e| RecorderError::Unknown(format!("{}: {e}", path.display())))
    }
}

impl<S: PrecisionSettings, B: Backend> FileRecorder<B> for CheckedRecorder<S> {
    fn file_extension() -> &'static str {
        "mpk"
    }
}

/// The tensors of the record file `path` (`.mpk` is added if missing), each checked.
///
/// # Errors
/// The file cannot be read, is not a record, or holds a tensor whose bytes do not match its
/// shape (the message names the file and the tensor's path in the record).
pub fn inspect(path: &Path) -> Result<Vec<RecordTensor>, RecorderError> {
    read_checked(&with_mpk(path)).map(|(_, t)| t)
}

/// Checks `module`'s float parameters against the float tensors of a model record, in order:
/// same count, same shapes. Parameters are read with `lazy_shape`, so a module fresh from
/// `config.init` allocates nothing here. Returns a message naming the first difference.
///
/// # Errors
/// The first parameter whose shape differs, or a count mismatch.
pub fn check_shapes<B: Backend, M: Module<B>>(
    module: &M,
    record: &[RecordTensor],
) -> Result<(), String> {
    struct Shapes(Vec<Vec<usize>>);
    impl<B: Backend> ModuleVisitor<B> for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(param.lazy_shape().to_vec());
        }
    }
    let mut shapes = Shapes(Vec::new());
    module.visit(&mut shapes);
    let stored: Vec<&RecordTensor> = record
        .iter()
        .filter(|t| matches!(t.dtype.as_str(), "F32" | "F64" | "F16" | "BF16" | "Flex32"))
        .collect();
    for (i, (want, have)) in shapes.0.iter().zip(&stored).enumerate() {
        if *want != have.shape {
            return Err(format!(
                "parameter {i} (`{}`) has shape {:?} in the record, the config gives {want:?}",
                have.path, have.shape
            ));
        }
    }
    if shapes.0.len() != stored.len() {
        return Err(format!(
            "the record holds {} float tensors, the config gives {} parameters",
            stored.len(),
            shapes.0.len()
        ));
    }
    Ok(())
}

/// The message of a [`RecorderError`] without its variant's name (Burn's `Display` prints
/// `Unknown("...")`).
pub fn message(e: &RecorderError) -> &str {
    match e {
        RecorderError::FileNotFound(m) | RecorderError::DeserializeError(m) => m,
        RecorderError::Unknown(m) => m,
    }
}

/// Checks an optimizer record against `module`: every tensor stored under a parameter's id
/// (Adam's moments, say) must have that parameter's shape. Run it before loading the record,
/// so that a record made for another model cannot fail later, inside an optimizer step.
///
/// # Errors
/// The first tensor whose shape differs from its parameter's, named by its record path.
pub fn check_optimizer<B: Backend, M: Module<B>>(
    module: &M,
    record: &[RecordTensor],
) -> Result<(), String> {
    struct Ids(std::collections::HashMap<String, Vec<usize>>);
    impl<B: Backend> ModuleVisitor<B> for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0
                .insert(param.id.serialize(), param.lazy_shape().to_vec());
        }
    }
    let mut ids = Ids(Default::default());
    module.visit(&mut ids);
    for t in record {
        let Some(shape) = t.path.split('.').find_map(|segment| ids.0.get(segment)) else {
            continue;
        };
        if *shape != t.shape {
            return Err(format!(
                "`{}` has shape {:?}, its parameter {shape:?}",
                t.path, t.shape
            ));
        }
    }
    Ok(())
}
