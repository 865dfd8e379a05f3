//! The I/O seam: every file operation of the log goes through [`Storage`] and [`StorageFile`],
//! so tests can fail a chosen write or fsync and count the fsyncs. [`StdStorage`] is the real
//! implementation; [`FaultyStorage`] wraps it with injectable faults and counters.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// A directory tree of files, as the log needs it.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names of the entries of `dir` (names that are not UTF-8 are skipped).
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates a new, empty file for reading and writing; fails if it exists.
    fn create(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Opens an existing file for reading and writing.
    fn open(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Replaces the whole content of a small file (used for index files; not synced).
    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Reads the whole content of a small file.
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Renames a file, atomically replacing `to` if it exists (rename(2)). Made durable by
    /// [`Storage::sync_dir`].
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the directory's entries (created and removed names) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// One open file, shared between the log that writes it and the flusher that syncs it.
pub trait StorageFile: Send + Sync + fmt::Debug {
    /// Writes all of `bytes` at `position` (pwrite), or fails; a failure may leave part written.
    fn write_at(&self, bytes: &[u8], position: u64) -> io::Result<()>;
    /// Reads into `buf` from `position` (pread); returns the bytes read, 0 at end of file.
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize>;
    /// Current size in bytes.
    fn size(&self) -> io::Result<u64>;
    /// Cuts the file to `len` bytes.
    fn truncate(&self, len: u64) -> io::Result<()>;
    /// Makes the file's data durable (fdatasync).
    fn sync(&self) -> io::Result<()>;
}

/// The real file system, through `std::fs`.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdStorage;

#[derive(Debug)]
struct StdFile(File);

fn read_write() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    options
}

impl Storage for StdStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let file = read_write().create_new(true).open(path)?;
        Ok(Box::new(StdFile(file)))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        Ok(Box::new(StdFile(read_write().open(path)?)))
    }

    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        fs::write(path, bytes)
    }

    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

impl StorageFile for StdFile {
    fn write_at(&self, bytes: &[u8], position: u64) -> io::Result<()> {
        self.0.write_all_at(bytes, position)
    }

    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize> {
        FileExt::read_at(&self.0, buf, position)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn sync(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

/// [`StdStorage`] with faults on demand and counters, for tests of poisoning, torn writes,
/// group commit and power loss. Clones share their faults and counters.
///
/// Counted and failed are the writes and syncs of open files (segments and their rewrites),
/// not index files, renames or directory syncs. A failed write first writes half of its bytes,
/// like a torn write.
///
/// [`FaultyStorage::cut_power`] and [`FaultyStorage::restore_power`] model a power loss at
/// its worst: every open file is cut back to what its last fsync covered.
#[derive(Clone, Debug, Default)]
pub struct FaultyStorage {
    faults: Arc<Faults>,
}

#[derive(Debug, Default)]
struct Faults {
    writes: AtomicU64,
    syncs: AtomicU64,
    dir_syncs: AtomicU64,
    /// Number (1-based, counted over the storage's life) of the write that fails; 0 = none.
    failing_write: AtomicU64,
    /// Number of the sync that fails; 0 = none.
    failing_sync: AtomicU64,
    sync_delay_us: AtomicU64,
    /// The power is off: every change fails.
    off: AtomicBool,
    /// Each file's length as of its last fsync (as found, for files opened).
    synced: Mutex<HashMap<PathBuf, u64>>,
    /// `synced` when the power was cut.
    at_cut: Mutex<HashMap<PathBuf, u64>>,
}

impl Faults {
    fn synced(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, u64>> {
        self.synced.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An error if the power is off.
    fn powered(&self) -> io::Result<()> {
        if self.off.load(Ordering::SeqCst) {
            return Err(injected("power"));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct FaultyFile {
    file: StdFile,
    path: PathBuf,
    faults: Arc<Faults>,
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected {what} failure"))
}

impl FaultyStorage {
    /// A storage with no faults armed.
    pub fn new() -> FaultyStorage {
        FaultyStorage::default()
    }

    /// Makes the next file write fail (after writing half its bytes).
    pub fn fail_next_write(&self) {
        let next = self.faults.writes.load(Ordering::SeqCst) + 1;
        self.faults.failing_write.store(next, Ordering::SeqCst);
    }

    /// Makes the next file sync fail. Later syncs succeed again, as they may on a real disk
    /// after the kernel dropped the dirty pages, which is why the log must stay poisoned.
    pub fn fail_next_sync(&self) {
        let next = self.faults.syncs.load(Ordering::SeqCst) + 1;
        self.faults.failing_sync.store(next, Ordering::SeqCst);
    }

    /// Makes every file sync take at least `delay` (a slow disk), so that group commit has
    /// something to group.
    pub fn set_sync_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.faults.sync_delay_us.store(micros, Ordering::SeqCst);
    }

    /// File writes so far.
    pub fn writes(&self) -> u64 {
        self.faults.writes.load(Ordering::SeqCst)
    }

    /// File syncs (fdatasync) so far, failed ones included.
    pub fn syncs(&self) -> u64 {
        self.faults.syncs.load(Ordering::SeqCst)
    }

    /// Directory syncs so far.
    pub fn dir_syncs(&self) -> u64 {
        self.faults.dir_syncs.load(Ordering::SeqCst)
    }

    /// Cuts the power: from now on every write, sync, create, rename and removal fails, and
    /// the files keep only what their last fsync covered (see
    /// [`FaultyStorage::restore_power`]).
    pub fn cut_power(&self) {
        self.faults.off.store(true, Ordering::SeqCst);
        let synced = self.faults.synced().clone();
        *self
            .faults
            .at_cut
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = synced;
    }

    /// Turns the power back on, first cutting every file this storage opened back to its
    /// length as of its last fsync before [`FaultyStorage::cut_power`] (a file never synced
    /// is left empty). Call it once nothing uses the files any more.
    ///
    /// # Errors
    /// A file that cannot be cut back.
    pub fn restore_power(&self) -> io::Result<()> {
        let at_cut = std::mem::take(
            &mut *self
                .faults
                .at_cut
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for (path, len) in at_cut {
            match OpenOptions::new().write(true).open(&path) {
                Ok(file) => file.set_len(len)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        self.faults.off.store(false, Ordering::SeqCst);
        Ok(())
    }

    fn wrap(&self, file: StdFile, path: &Path, durable_len: u64) -> Box<dyn StorageFile> {
        self.faults.synced().insert(path.to_path_buf(), durable_len);
        Box::new(FaultyFile {
            file,
            path: path.to_path_buf(),
            faults: Arc::clone(&self.faults),
        })
    }
}

impl Storage for FaultyStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        StdStorage.create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        StdStorage.list(dir)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        self.faults.powered()?;
        let file = StdFile(read_write().create_new(true).open(path)?);
        Ok(self.wrap(file, path, 0))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let file = StdFile(read_write().open(path)?);
        let len = file.size()?;
        Ok(self.wrap(file, path, len))
    }

    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.faults.powered()?;
        StdStorage.write_file(path, bytes)
    }

    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        StdStorage.read_file(path)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.faults.powered()?;
        StdStorage.remove(path)?;
        self.faults.synced().remove(path);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.faults.powered()?;
        StdStorage.rename(from, to)?;
        let mut synced = self.faults.synced();
        match synced.remove(from) {
            Some(len) => synced.insert(to.to_path_buf(), len),
            None => synced.remove(to),
        };
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.faults.powered()?;
        self.faults.dir_syncs.fetch_add(1, Ordering::SeqCst);
        StdStorage.sync_dir(dir)
    }
}

impl StorageFile for FaultyFile {
    fn write_at(&self, bytes: &[u8], position: u64) -> io::Result<()> {
        self.faults.powered()?;
        let number = self.faults.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if number == self.faults.failing_write.load(Ordering::SeqCst) {
            let half = bytes.get(..bytes.len() / 2).unwrap_or_default();
            self.file.write_at(half, position)?;
            return Err(injected("write"));
        }
        self.file.write_at(bytes, position)
    }

    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize> {
        self.file.read_at(buf, position)
    }

    fn size(&self) -> io::Result<u64> {
        self.file.size()
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.faults.powered()?;
        self.file.truncate(len)
    }

    fn sync(&self) -> io::Result<()> {
        let number = self.faults.syncs.fetch_add(1, Ordering::SeqCst) + 1;
        let delay = self.faults.sync_delay_us.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_micros(delay));
        }
        if number == self.faults.failing_sync.load(Ordering::SeqCst) {
            return Err(injected("sync"));
        }
        // The length is read first: a write racing the sync is not counted as covered.
        let len = self.file.size()?;
        self.faults.powered()?;
        self.file.sync()?;
        self.faults.synced().insert(self.path.clone(), len);
        Ok(())
    }
}
