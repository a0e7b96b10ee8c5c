//! One module per subcommand. Each takes its parsed arguments and returns an [`Exit`].

pub mod analyze;
pub mod check;
pub mod explain;
pub mod migrate;
pub mod recommend;
pub mod validate;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::classify::Class;
use crate::config::{Settings, UsageError};
use crate::exit::Exit;
use crate::pipeline::Run;

/// Why a command stopped early.
#[derive(Debug)]
pub enum Error {
    Usage(String),
    Io(String, io::Error),
    Other(String),
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e.0)
    }
}

/// Prints `egress-advisor: {message}` on stderr. Messages name files and quote the logs, so
/// they are escaped for the terminal ([`crate::render::clean`]).
pub fn note(message: &str) {
    eprintln!("egress-advisor: {}", crate::render::clean(message));
}

impl Error {
    /// Prints the error (nothing for a closed pipe) and gives the exit code.
    pub fn report(self) -> Exit {
        match self {
            Error::Io(_, e) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Ok,
            Error::Usage(m) => {
                note(&m);
                Exit::Usage
            }
            Error::Io(what, e) => {
                note(&format!("{what}: {}", crate::ingest::io_reason(&e)));
                Exit::Failure
            }
            Error::Other(m) => {
                note(&m);
                Exit::Failure
            }
        }
    }
}

/// The reading settings from the command line. The global thread pool is set up with the
/// thread count asked for: reading and rendering both run on it.
pub fn settings(input: &crate::cli::InputArgs) -> Result<Settings, Error> {
    let settings = Settings::from_args(input)?;
    crate::pipeline::use_global_pool(settings.threads);
    Ok(settings)
}

/// Set by the binary: the process ends right after the command, so a run's memory is left to
/// the OS instead of being freed piece by piece. Library callers keep normal drops.
pub static EXIT_AFTER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Drops `t`, or, when the process is about to end ([`EXIT_AFTER`]), leaves its memory to the
/// OS: faster than freeing a run's hundreds of thousands of allocations one by one.
pub fn release<T>(t: T) {
    if EXIT_AFTER.load(std::sync::atomic::Ordering::Relaxed) {
        std::mem::forget(t);
    } else {
        drop(t);
    }
}

/// Standard output, or a file created at `path` (`-` is standard output too).
pub fn output(path: Option<&Path>) -> Result<Box<dyn Write>, Error> {
    match path {
        None => Ok(Box::new(BufWriter::new(io::stdout().lock()))),
        Some(p) if p.as_os_str() == "-" => Ok(Box::new(BufWriter::new(io::stdout().lock()))),
        Some(p) => File::create(p)
            .map(|f| Box::new(BufWriter::new(f)) as Box<dyn Write>)
            .map_err(|e| Error::Io(format!("cannot write {}", p.display()), e)),
    }
}

/// `list-inputs`: the files a run would read; unreadable paths go to stderr and exit 1.
pub fn list_inputs(a: &crate::cli::ListInputsArgs) -> Result<Exit, Error> {
    let mut out = output(None)?;
    let mut failed = false;
    for s in crate::ingest::discover(&a.paths, None) {
        match &s.origin {
            crate::ingest::Origin::Unreadable(why) => {
                note(&format!("{}: {why}", s.name));
                failed = true;
            }
            _ => writeln!(out, "{}", crate::render::clean(&s.name))
                .map_err(io_err("writing the list"))?,
        }
    }
    out.flush().map_err(io_err("writing the list"))?;
    Ok(if failed { Exit::Failure } else { Exit::Ok })
}

/// Runs the pipeline: reads the logs, or merges the partial results (whose problems are
/// usage errors, like other files the user names).
pub fn load(settings: &Settings) -> Result<Run, Error> {
    crate::pipeline::run(settings).map_err(run_error(settings))
}

/// [`load`] before address attribution, for writing a partial result.
pub fn load_raw(settings: &Settings) -> Result<Run, Error> {
    crate::pipeline::run_raw(settings).map_err(run_error(settings))
}

fn run_error(settings: &Settings) -> impl FnOnce(String) -> Error {
    let partials = settings.partials;
    move |e| {
        if partials {
            Error::Usage(e)
        } else {
            Error::Other(e)
        }
    }
}

/// Writes the HTML report to `path`.
pub fn write_html(
    path: &Path,
    run: &Run,
    sel: &crate::config::Selection,
    extras: &crate::render::html::Extras<'_>,
) -> Result<(), Error> {
    let report = crate::render::report::Report::build(run, sel);
    let what = format!("writing {}", path.display());
    let mut w = output(Some(path))?;
    crate::render::html::write(&mut w, &report, &run.summary, sel, extras)
        .map_err(|e| Error::Io(what.clone(), e))?;
    w.flush().map_err(|e| Error::Io(what, e))
}

pub fn io_err(what: &str) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::Io(what.to_owned(), e)
}

/// Reports what could not be read on stderr and decides the exit code of a finished run.
pub fn finish(run: Run, settings: &Settings, quiet_errors: bool) -> Exit {
    let s = &run.summary;
    if !quiet_errors {
        for (i, reason) in &s.read_errors {
            note(&format!("{}: {reason}", run.source_name(*i)));
        }
    }
    let malformed = s.classes[Class::Malformed.index()];
    let exit = if !s.read_errors.is_empty() || (settings.strict && malformed > 0) {
        if settings.strict && malformed > 0 && !quiet_errors {
            eprintln!("egress-advisor: {malformed} malformed lines (--strict)");
        }
        Exit::Failure
    } else {
        Exit::Ok
    };
    release(run);
    exit
}
