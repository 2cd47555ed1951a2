//! A run's output folder: its lock, its checkpoint folder swapped in atomically, and the JSON
//! files beside it.

use std::path::{Path, PathBuf};

use rnn_io::atomic::RunLock;
use serde::de::DeserializeOwned;

use crate::{input, Error};

/// The paths of a run's output folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The output folder.
    pub root: PathBuf,
}

impl RunDir {
    /// The run folder `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// The current checkpoint folder.
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    /// A previous checkpoint that an interrupted save left beside the folder
    /// (`.checkpoint.old-*`), if any.
    pub fn set_aside(&self) -> Option<PathBuf> {
        std::fs::read_dir(&self.root)
            .ok()?
            .filter_map(|e| e.ok())
            .find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".checkpoint.old-")
            })
            .map(|e| e.path())
    }

    /// Whether a checkpoint is there.
    pub fn has_checkpoint(&self) -> bool {
        self.checkpoint().join("config.json").exists()
    }

    /// Locks the run folder for this process (creating it), and repairs what a crash during a
    /// save left behind ([`RunLock::recover`]): a checkpoint moved aside but not replaced is
    /// moved back, with a line on stderr saying so.
    ///
    /// # Errors
    /// Another run holds the folder (bad input: exit 2), or the repair fails.
    pub fn lock(&self) -> Result<RunLock, Error> {
        let lock = RunLock::acquire(&self.root).map_err(|e| match e {
            rnn_io::atomic::LockError::Held { .. } => input(e.to_string()),
            rnn_io::atomic::LockError::Io(e) => Error::from(e),
        })?;
        let recovery = lock.recover(&self.checkpoint())?;
        if let Some(from) = &recovery.restored {
            eprintln!(
                "note: recovered the previous checkpoint of an interrupted save (from {})",
                from.display()
            );
        }
        Ok(lock)
    }

    /// Locks the folder ([`RunDir::lock`]) and checks it fits the command line: `resume`
    /// needs a checkpoint there, a new run (neither flag) needs none, `force` takes either.
    ///
    /// # Errors
    /// Bad input naming the folder and the flag to pass.
    pub fn open(&self, resume: bool, force: bool) -> Result<RunLock, Error> {
        if resume && !self.root.is_dir() {
            return Err(input(format!(
                "--resume: {} does not exist",
                self.root.display()
            )));
        }
        let lock = self.lock()?;
        if resume && !self.has_checkpoint() {
            return Err(input(format!(
                "--resume: {} holds no checkpoint",
                self.root.display()
            )));
        }
        if !resume && !force && self.has_checkpoint() {
            return Err(input(format!(
                "{} already holds a checkpoint; pass --resume to continue it, --force to \
                 replace it, or choose another --out",
                self.root.display()
            )));
        }
        Ok(lock)
    }

    /// Replaces the checkpoint by what `write` puts into a fresh temporary folder
    /// ([`rnn_io::atomic::write_dir`]): the old one stays whole until the new one is
    /// complete.
    pub fn save(&self, write: impl FnOnce(&Path) -> Result<(), Error>) -> Result<(), Error> {
        rnn_io::atomic::write_dir(&self.checkpoint(), write)
    }
}

/// Reads JSON written by [`write_json`](crate::write_json), naming the file in errors:
/// `program` is the example that writes it (`"char-rnn"`).
///
/// # Errors
/// Bad input naming the file: it cannot be read or does not parse as `T`.
pub fn read_json<T: DeserializeOwned>(path: &Path, program: &str) -> Result<T, Error> {
    let text = rnn_io::atomic::read_regular_text(path)
        .map_err(|e| input(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        input(format!(
            "{} is not what {program} wrote: {e}",
            path.display()
        ))
    })
}
