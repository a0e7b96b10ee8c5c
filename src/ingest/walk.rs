//! The one directory walker, for log inputs and `--existing` folders alike: entries in sorted
//! order, symbolic links followed, and every directory walked once, by its identity (device
//! and inode). A link back to a directory being walked (a symlink loop) or a second link to a
//! directory walked already is skipped, so the walk is bounded and finds each file once.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

/// A file's identity: device and inode. Two paths with the same identity name one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// The identity of the file `m` describes (`None` where the platform has none).
pub fn file_id(m: &Metadata) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        None
    }
}

/// What kind of file a non-regular, non-directory entry is, in words.
pub fn kind(m: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if m.is_fifo() {
            return "a named pipe";
        }
        if m.is_socket() {
            return "a socket";
        }
        if m.is_char_device() || m.is_block_device() {
            return "a device";
        }
    }
    let _ = m;
    "not a regular file"
}

/// What a walk finds.
#[derive(Debug)]
pub enum Found {
    /// A regular file (through any links), with its identity.
    File(PathBuf, Option<FileId>),
    /// Not walked or not read, and why: a symlink loop, a directory walked already, or a named
    /// pipe, socket or device (a stream that may never end: only read when named).
    Skipped(PathBuf, String),
    /// Could not be listed or looked at.
    Error(PathBuf, io::Error),
}

/// Walks directories, remembering those walked so that none is walked twice, even from
/// different roots.
#[derive(Debug, Default)]
pub struct Walker {
    dirs: HashMap<FileId, PathBuf>,
}

impl Walker {
    /// Walks `root` and hands what it finds to `found`, in sorted order. Entries below the root
    /// for which `skip(file name, is a directory)` holds are passed over (a directory with all
    /// it holds).
    pub fn walk(
        &mut self,
        root: &Path,
        skip: impl Fn(&str, bool) -> bool,
        mut found: impl FnMut(Found),
    ) {
        let mut it = WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0 || !skip(&e.file_name().to_string_lossy(), e.file_type().is_dir())
            });
        while let Some(next) = it.next() {
            let entry = match next {
                Ok(e) => e,
                Err(e) => {
                    let path = e.path().unwrap_or(root).to_path_buf();
                    // An entry that cannot be looked at (a dangling link) is passed over like
                    // the files of its name.
                    let name = path.file_name().map(|n| n.to_string_lossy());
                    if e.depth() > 0 && name.is_some_and(|n| skip(&n, false)) {
                        continue;
                    }
                    if let Some(to) = e.loop_ancestor() {
                        let why = format!(
                            "a symbolic link back to {} (a loop): walked once",
                            to.display()
                        );
                        found(Found::Skipped(path, why));
                    } else {
                        let msg = e.to_string();
                        let err = e.into_io_error().unwrap_or_else(|| io::Error::other(msg));
                        found(Found::Error(path, err));
                    }
                    continue;
                }
            };
            let ft = entry.file_type();
            let id = || entry.metadata().ok().and_then(|m| file_id(&m));
            if ft.is_dir() {
                let Some(id) = id() else { continue };
                match self.dirs.entry(id) {
                    Entry::Occupied(first) => {
                        // `logs/` after `logs`, or `logs/a` after `logs`: no news.
                        if first.get() != entry.path() {
                            let why = format!(
                                "the same directory as {}: walked once",
                                first.get().display()
                            );
                            found(Found::Skipped(entry.into_path(), why));
                        }
                        it.skip_current_dir();
                    }
                    Entry::Vacant(v) => {
                        v.insert(entry.path().to_path_buf());
                    }
                }
            } else if ft.is_file() {
                let id = id();
                found(Found::File(entry.into_path(), id));
            } else {
                let why = format!(
                    "{} in a directory is not read (name it to read it)",
                    kind(&ft)
                );
                found(Found::Skipped(entry.into_path(), why));
            }
        }
    }
}
