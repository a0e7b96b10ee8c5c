//! Output files named by flags (`--csv`, `--html`, `--junit`, `--partial`, `-o`, ...).
//!
//! Each is prepared before any input is read, so a path that cannot be written fails the run
//! at once rather than after minutes of reading. A regular file is written to a temporary file
//! beside it and renamed into place once complete: an interrupted run leaves the old file
//! whole. Device nodes and pipes (`/dev/null`, a FIFO) are written directly, never replaced.
//! `-` is standard output.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::Error;

/// An output prepared for writing.
#[derive(Debug)]
pub struct OutFile {
    path: PathBuf,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Stdout,
    /// Not a regular file: opened when written, never replaced.
    Direct,
    /// Written to `tmp`, renamed to the path when complete.
    Atomic {
        tmp: PathBuf,
        file: Option<File>,
    },
}

impl OutFile {
    /// Checks that `path` can be written: `-` is standard output; an existing device or pipe is
    /// written as it is; anything else gets a temporary file in its directory now.
    pub fn prepare(flag: &str, path: &Path) -> Result<OutFile, Error> {
        if path.as_os_str() == "-" {
            return Ok(OutFile {
                path: path.to_path_buf(),
                kind: Kind::Stdout,
            });
        }
        let cannot =
            |e: io::Error| Error::Io(format!("{flag} {}: cannot write", path.display()), e);
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                return Err(Error::Usage(format!(
                    "{flag} {}: is a directory",
                    path.display()
                )));
            }
            Ok(m) if !m.is_file() => {
                return Ok(OutFile {
                    path: path.to_path_buf(),
                    kind: Kind::Direct,
                });
            }
            _ => {}
        }
        // A link to a file is followed: the file it names is replaced, not the link.
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let mut n = 0u32;
        loop {
            let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(file) => {
                    return Ok(OutFile {
                        path: target,
                        kind: Kind::Atomic {
                            tmp,
                            file: Some(file),
                        },
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(e) => return Err(cannot(e)),
            }
        }
    }

    /// Whether this output is standard output.
    pub fn is_stdout(&self) -> bool {
        matches!(self.kind, Kind::Stdout)
    }

    /// Writes the output with `f` and puts it in place.
    pub fn write(mut self, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), Error> {
        let what = format!("writing {}", self.path.display());
        let err = |e: io::Error| Error::Io(what.clone(), e);
        match &mut self.kind {
            Kind::Stdout => {
                let mut w = BufWriter::new(io::stdout().lock());
                f(&mut w).and_then(|()| w.flush()).map_err(err)
            }
            Kind::Direct => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&self.path)
                    .map_err(err)?;
                let mut w = BufWriter::new(file);
                f(&mut w).and_then(|()| w.flush()).map_err(err)
            }
            Kind::Atomic { tmp, file } => {
                let file = file.take().expect("written once");
                let mut w = BufWriter::new(file);
                f(&mut w).and_then(|()| w.flush()).map_err(err)?;
                let file = w.into_inner().map_err(|e| err(e.into_error()))?;
                file.sync_all().map_err(err)?;
                drop(file);
                std::fs::rename(&*tmp, &self.path).map_err(err)?;
                // Renamed: nothing left to clean up.
                self.kind = Kind::Direct;
                Ok(())
            }
        }
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if let Kind::Atomic { tmp, .. } = &self.kind {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Prepares every output a command names; `main_on_stdout` says whether the command's own
/// output goes to standard output, in which case no flag may name `-` as well.
pub fn prepare_all<'a>(
    outputs: &[(&'a str, Option<&'a Path>)],
    main_on_stdout: bool,
) -> Result<Vec<Option<OutFile>>, Error> {
    let dashes: Vec<&str> = outputs
        .iter()
        .filter(|(_, p)| p.is_some_and(|p| p.as_os_str() == "-"))
        .map(|(f, _)| *f)
        .collect();
    if dashes.len() > 1 || (main_on_stdout && !dashes.is_empty()) {
        let mut who: Vec<String> = dashes.iter().map(|f| format!("{f} -")).collect();
        if main_on_stdout {
            who.push("the command's own output".into());
        }
        return Err(Error::Usage(format!(
            "{} would all write to standard output: give files",
            who.join(" and ")
        )));
    }
    outputs
        .iter()
        .map(|(flag, p)| p.map(|p| OutFile::prepare(flag, p)).transpose())
        .collect()
}
