//! Writing files and folders atomically: a reader, or the next run after a crash, finds the old
//! version or the new one, never a half-written one.
//!
//! - [`write_file`]: one file, through a temporary sibling file and a rename.
//! - [`write_dir`]: a whole folder (a checkpoint), filled by a closure in a temporary sibling
//!   folder and then swapped into place. [`StagedDir`] is the same in two steps, for callers
//!   that keep their own error type.
//! - [`WriteError`]: what failed, naming the path, with the [`std::io::Error`] as its source.
//! - [`RunLock`]: an exclusive lock on a run folder (a `.lock` file held with the system's file
//!   lock, released when the process ends however it ends), so that two runs never write one
//!   folder; [`RunLock::recover`] then repairs what a crash during a folder swap left behind.
//!
//! Temporary siblings are hidden and unique to the process and the call:
//! `.{name}.tmp-{pid}-{n}`, and `.{name}.old-{pid}-{n}` for the folder being replaced. Every
//! file is flushed to disk before the rename, and the parent folder after it (on Unix), so
//! the new version survives a crash once the call has returned.
//!
//! # Crash windows
//! Renaming a file over another is atomic. A folder cannot be renamed over a non-empty one, so
//! a folder swap moves the old folder aside, renames the new one in, and then removes the old
//! one; a crash between the two renames leaves both versions complete beside the name, and a
//! crash while filling leaves the temporary folder. Writes leave such leftovers alone, since
//! their names may belong to another process that is still writing; the holder of the
//! folder's [`RunLock`] can clean them up and restore the previous version
//! ([`RunLock::recover`]).

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why an atomic write failed.
#[derive(Debug)]
pub struct WriteError {
    /// The path the failing operation touched: the target, or one of its temporary siblings
    /// (whose names contain the target's).
    pub path: PathBuf,
    /// The system's error.
    pub source: io::Error,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError {
        path: path.to_path_buf(),
        source,
    }
}

/// A hidden sibling of `path` unique to this process and call: `.{name}.{kind}-{pid}-{n}`.
fn sibling(path: &Path, kind: &str) -> Result<PathBuf, WriteError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| WriteError {
        path: path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::InvalidInput,
            "expected a path ending in a file or folder name",
        ),
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(path.with_file_name(format!(
        ".{}.{kind}-{}-{n}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// The folder holding `path` (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Flushes a folder's entries to disk. Only Unix can open a folder to sync it.
fn sync_dir(dir: &Path) -> Result<(), WriteError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(at(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Flushes every file under `dir` to disk, then the folders themselves.
fn sync_tree(dir: &Path) -> Result<(), WriteError> {
    for entry in fs::read_dir(dir).map_err(at(dir))? {
        let path = entry.map_err(at(dir))?.path();
        let kind = fs::symlink_metadata(&path).map_err(at(&path))?.file_type();
        if kind.is_dir() {
            sync_tree(&path)?;
        } else if kind.is_file() {
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(at(&path))?;
        }
    }
    sync_dir(dir)
}

/// Writes `bytes` to the file `path` atomically: into a temporary sibling
/// (`.{name}.tmp-{pid}-{n}`), flushed to disk, renamed over `path`, and the parent folder
/// flushed. The parent folder must exist.
///
/// # Errors
/// If the temporary file cannot be written or renamed (it is then removed), or `path` has no
/// file name.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let tmp = sibling(path, "tmp")?;
    let result = File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(at(&tmp))
        .and_then(|()| fs::rename(&tmp, path).map_err(at(path)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(parent(path))
}

/// Writes the folder `dir` atomically: `fill` writes the contents into a fresh temporary
/// sibling folder (the path it is given), then that folder replaces `dir` as
/// [`StagedDir::commit`] describes. If `fill` fails, the temporary folder is removed and `dir`
/// is left as it was.
///
/// # Errors
/// `fill`'s error, or a [`WriteError`] (converted to `E`) if the temporary folder cannot be
/// created, flushed or swapped in.
///
/// # Example
/// ```
/// use rnn_io::atomic::{write_dir, WriteError};
///
/// let dir = std::env::temp_dir().join(format!("atomic-doc-{}", std::process::id()));
/// write_dir(&dir, |tmp| {
///     rnn_io::atomic::write_file(&tmp.join("a.txt"), b"first")
/// })?;
/// write_dir(&dir, |tmp| std::fs::write(tmp.join("b.txt"), "second").map_err(|source| {
///     WriteError { path: tmp.join("b.txt"), source }
/// }))?;
/// assert!(!dir.join("a.txt").exists() && dir.join("b.txt").exists());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_dir<E: From<WriteError>>(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let staged = StagedDir::new(dir)?;
    fill(staged.path())?;
    staged.commit()?;
    Ok(())
}

/// A temporary sibling folder that replaces a target folder on [`commit`](Self::commit):
/// [`write_dir`] in two steps. Dropped without a commit, it removes itself.
#[derive(Debug)]
pub struct StagedDir {
    target: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Creates the empty temporary folder `.{name}.tmp-{pid}-{n}` beside `dir` (and `dir`'s
    /// parent folders if missing). Nothing is changed under `dir` itself.
    ///
    /// # Errors
    /// If the folder cannot be created, or `dir` has no folder name.
    pub fn new(dir: &Path) -> Result<Self, WriteError> {
        let tmp = sibling(dir, "tmp")?;
        fs::create_dir_all(&tmp).map_err(at(&tmp))?;
        Ok(Self {
            target: dir.to_path_buf(),
            tmp,
            committed: false,
        })
    }

    /// The temporary folder: write the new contents here.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Swaps the temporary folder into place: flushes every file in it to disk, renames the
    /// current `dir` (if any) aside to `.{name}.old-{pid}-{n}`, renames the temporary folder
    /// to `dir`, flushes the parent folder, and removes the old folder.
    ///
    /// # Errors
    /// If a file cannot be flushed or a rename fails: `dir` is then left as it was (the old
    /// folder is renamed back) and the temporary folder is removed. If only removing the old
    /// folder fails, the new `dir` is in place and the error names the old folder.
    pub fn commit(mut self) -> Result<(), WriteError> {
        sync_tree(&self.tmp)?;
        let old = match fs::symlink_metadata(&self.target) {
            Ok(_) => {
                let old = sibling(&self.target, "old")?;
                fs::rename(&self.target, &old).map_err(at(&self.target))?;
                Some(old)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(at(&self.target)(e)),
        };
        if let Err(e) = fs::rename(&self.tmp, &self.target) {
            if let Some(old) = &old {
                let _ = fs::rename(old, &self.target);
            }
            return Err(at(&self.target)(e));
        }
        self.committed = true;
        sync_dir(parent(&self.target))?;
        if let Some(old) = old {
            fs::remove_dir_all(&old).map_err(at(&old))?;
        }
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Reads a whole regular file: `/dev/zero`, a FIFO or a folder is refused
/// (`ErrorKind::InvalidInput`, "not a regular file") instead of being read without end, and
/// no more than the size the file had when opened is read. Memory is the file's size.
///
/// # Errors
/// If the file cannot be opened or read, or is not a regular file.
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(meta.len()).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// [`read_regular`] as UTF-8 text.
///
/// # Errors
/// As [`read_regular`], and `ErrorKind::InvalidData` if the bytes are not UTF-8.
pub fn read_regular_text(path: &Path) -> io::Result<String> {
    String::from_utf8(read_regular(path)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()))
}

/// Why a run folder could not be locked.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds the lock.
    Held {
        /// The folder.
        dir: PathBuf,
        /// The other process's id, as it wrote it in the lock file (if readable).
        pid: Option<u32>,
    },
    /// The lock file could not be created, read or written.
    Io(WriteError),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Held { dir, pid } => {
                write!(f, "{} is in use by another run", dir.display())?;
                if let Some(pid) = pid {
                    write!(f, " (process {pid})")?;
                }
                write!(f, "; wait for it to end, or choose another folder")
            }
            Self::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Held { .. } => None,
        }
    }
}

/// What [`RunLock::recover`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recovery {
    /// The previous version that was moved back into place (the target was missing: a crash
    /// between the two renames of a swap).
    pub restored: Option<PathBuf>,
    /// Leftover temporary and old siblings that were removed.
    pub removed: Vec<PathBuf>,
}

/// An exclusive lock on a run folder: the file `.lock` in it, locked with the system's file
/// lock (`flock` on Unix) and holding the owner's process id. The system releases the lock
/// when the process exits, including by `kill -9`, so a crashed run never leaves the folder
/// locked.
#[derive(Debug)]
pub struct RunLock {
    dir: PathBuf,
    _file: File,
}

impl RunLock {
    /// Locks `dir` (created if missing), or fails at once if another process holds it.
    ///
    /// # Errors
    /// [`LockError::Held`] naming the other process, or [`LockError::Io`].
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let path = dir.join(".lock");
        let io = |source| {
            LockError::Io(WriteError {
                path: path.clone(),
                source,
            })
        };
        fs::create_dir_all(dir).map_err(|source| {
            LockError::Io(WriteError {
                path: dir.to_path_buf(),
                source,
            })
        })?;
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let pid = fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    pid,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            _file: file,
        })
    }

    /// The locked folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Repairs the folder `target` (inside the locked folder) after a crash: if `target` is
    /// missing but a previous version was moved aside (`.{name}.old-*`, a crash between the
    /// two renames of [`StagedDir::commit`]), the newest one is moved back; then every
    /// leftover `.{name}.tmp-*` and `.{name}.old-*` is removed. Only the lock's holder may do
    /// this: no other process can be writing them.
    ///
    /// # Errors
    /// If the folder cannot be listed, or a rename or removal fails.
    pub fn recover(&self, target: &Path) -> Result<Recovery, WriteError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = parent(target);
        let (tmp, old) = (format!(".{name}.tmp-"), format!(".{name}.old-"));
        let mut olds = Vec::new();
        let mut removed = Vec::new();
        for entry in fs::read_dir(parent).map_err(at(parent))? {
            let entry = entry.map_err(at(parent))?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if file_name.starts_with(&old) {
                let modified = entry.metadata().and_then(|m| m.modified()).ok();
                olds.push((modified, entry.path()));
            } else if file_name.starts_with(&tmp) {
                removed.push(entry.path());
            }
        }
        olds.sort();
        let mut restored = None;
        if fs::symlink_metadata(target).is_err() {
            if let Some((_, newest)) = olds.pop() {
                fs::rename(&newest, target).map_err(at(target))?;
                sync_dir(parent)?;
                restored = Some(newest);
            }
        }
        removed.extend(olds.into_iter().map(|(_, p)| p));
        for path in &removed {
            let gone = match fs::symlink_metadata(path) {
                Ok(m) if m.is_dir() => fs::remove_dir_all(path),
                Ok(_) => fs::remove_file(path),
                Err(_) => Ok(()),
            };
            gone.map_err(at(path))?;
        }
        Ok(Recovery { restored, removed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("burn-rnn-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_file_replaces_the_file_and_leaves_no_temporary_file() {
        let root = scratch("file");
        let path = root.join("metrics.json");
        write_file(&path, b"one").unwrap();
        write_file(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(entries(&root), ["metrics.json"]);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn write_file_into_a_missing_folder_is_an_error_naming_the_path() {
        let root = scratch("missing");
        let err = write_file(&root.join("no/such/file.bin"), b"x").unwrap_err();
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("file.bin"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn write_dir_swaps_the_whole_folder_and_leaves_no_siblings() {
        let root = scratch("dir");
        let dir = root.join("checkpoint");
        let fill = |files: &'static [&'static str]| {
            move |tmp: &Path| -> Result<(), WriteError> {
                fs::create_dir(tmp.join("sub")).map_err(at(tmp))?;
                for f in files {
                    write_file(&tmp.join("sub").join(f), f.as_bytes())?;
                }
                Ok(())
            }
        };
        write_dir(&dir, fill(&["a", "b"])).unwrap();
        write_dir(&dir, fill(&["c"])).unwrap();
        assert_eq!(entries(&root), ["checkpoint"]);
        assert_eq!(entries(&dir.join("sub")), ["c"]);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_failing_fill_keeps_the_old_folder_and_removes_the_temporary_one() {
        let root = scratch("fail");
        let dir = root.join("checkpoint");
        write_dir(&dir, |tmp| write_file(&tmp.join("kept"), b"old")).unwrap();
        let err = write_dir(&dir, |tmp| {
            write_file(&tmp.join("new"), b"new")?;
            Err(WriteError {
                path: tmp.to_path_buf(),
                source: io::Error::other("the caller gave up"),
            })
        })
        .unwrap_err();
        assert!(err.to_string().contains("the caller gave up"), "{err}");
        assert_eq!(entries(&root), ["checkpoint"]);
        assert_eq!(entries(&dir), ["kept"]);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_second_lock_on_a_folder_names_the_holder_and_the_first_is_released_on_drop() {
        let root = scratch("lock");
        let first = RunLock::acquire(&root).unwrap();
        let err = RunLock::acquire(&root).unwrap_err();
        assert!(
            matches!(&err, LockError::Held { pid: Some(p), .. } if *p == std::process::id()),
            "{err}"
        );
        assert!(
            err.to_string().contains("is in use by another run"),
            "{err}"
        );
        drop(first);
        RunLock::acquire(&root).unwrap();
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn recovery_restores_the_previous_folder_after_a_crash_between_the_renames() {
        let root = scratch("recover");
        let dir = root.join("checkpoint");
        write_dir(&dir, |tmp| write_file(&tmp.join("step"), b"1")).unwrap();
        // A crash between the renames: the old folder aside, the new one still temporary.
        let old = sibling(&dir, "old").unwrap();
        fs::rename(&dir, &old).unwrap();
        let tmp = sibling(&dir, "tmp").unwrap();
        fs::create_dir(&tmp).unwrap();
        fs::write(tmp.join("step"), b"2").unwrap();
        let lock = RunLock::acquire(&root).unwrap();
        let r = lock.recover(&dir).unwrap();
        assert_eq!(r.restored, Some(old));
        assert_eq!(r.removed, [tmp]);
        assert_eq!(fs::read(dir.join("step")).unwrap(), b"1");
        assert_eq!(entries(&root), [".lock", "checkpoint"]);
        // Nothing to do the second time.
        assert_eq!(lock.recover(&dir).unwrap(), Recovery::default());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    #[cfg(unix)]
    fn endless_and_special_files_are_refused() {
        for path in ["/dev/zero", "/tmp"] {
            let e = read_regular(Path::new(path)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{path}");
        }
    }

    #[test]
    fn temporary_names_are_hidden_and_unique_per_call() {
        let a = sibling(Path::new("runs/checkpoint"), "tmp").unwrap();
        let b = sibling(Path::new("runs/checkpoint"), "tmp").unwrap();
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        let prefix = format!(".checkpoint.tmp-{}-", std::process::id());
        assert!(name.starts_with(&prefix), "{name}");
        assert_eq!(a.parent(), Some(Path::new("runs")));
        assert!(sibling(Path::new("/"), "tmp").is_err());
    }
}
