//! One module per subcommand. Each takes its parsed arguments and returns an [`Exit`].

pub mod analyze;
pub mod check;
pub mod explain;
pub mod gitops;
pub mod migrate;
pub mod out;
pub mod recommend;
pub mod telemetry;
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
    /// An input or output could not be read or written, or the run could not finish.
    Unreadable(String),
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
                Exit::Unreadable
            }
            Error::Unreadable(m) => {
                note(&m);
                Exit::Unreadable
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
    let found = crate::ingest::discover(&a.paths, None);
    for n in found.notes {
        note(&n);
    }
    for s in found.sources {
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
    Ok(if failed { Exit::Unreadable } else { Exit::Ok })
}

/// `completions SHELL`: the completion script for SHELL, generated from the clap definition.
pub fn completions(a: &crate::cli::CompletionsArgs) -> Result<Exit, Error> {
    use clap::CommandFactory;
    let mut out = output(None)?;
    let mut command = crate::cli::Cli::command();
    clap_complete::generate(a.shell, &mut command, "egress-advisor", &mut out);
    out.flush().map_err(io_err("writing the completions"))?;
    Ok(Exit::Ok)
}

/// `man`: the manual page, in roff, generated from the clap definition: the top-level page,
/// then one section per subcommand with its options; with `--dir`, one page per command there.
pub fn man(a: &crate::cli::ManArgs) -> Result<Exit, Error> {
    use clap::CommandFactory;
    let command = crate::cli::Cli::command();
    if let Some(dir) = &a.dir {
        std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(command, dir))
            .map_err(|e| {
                Error::Io(
                    format!("cannot write the manual pages to {}", dir.display()),
                    e,
                )
            })?;
        return Ok(Exit::Ok);
    }
    let mut out = output(None)?;
    let page = clap_mangen::Man::new(command.clone());
    page.render(&mut out)
        .map_err(io_err("writing the manual page"))?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("egress-advisor {}", sub.get_name());
        let sub = sub
            .clone()
            .display_name(name.clone())
            .bin_name(name.clone());
        let page = clap_mangen::Man::new(sub);
        writeln!(out, ".SH \"{}\"", name.to_uppercase())
            .map_err(io_err("writing the manual page"))?;
        page.render_description_section(&mut out)
            .and_then(|()| page.render_synopsis_section(&mut out))
            .and_then(|()| page.render_options_section(&mut out))
            .map_err(io_err("writing the manual page"))?;
    }
    out.flush().map_err(io_err("writing the manual page"))?;
    Ok(Exit::Ok)
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
            Error::Unreadable(e)
        }
    }
}

/// Writes the HTML report to `out`.
pub fn write_html(
    out: out::OutFile,
    run: &Run,
    sel: &crate::config::Selection,
    extras: &crate::render::html::Extras<'_>,
) -> Result<(), Error> {
    let report = crate::render::report::Report::build(run, sel);
    out.write(|w| crate::render::html::write(w, &report, &run.summary, sel, extras))
}

/// Standard input has one reader: logs read from it leave nothing for `--existing -`.
pub fn one_stdin_reader(settings: &Settings, existing: &[std::path::PathBuf]) -> Result<(), Error> {
    let logs = !settings.partials && settings.paths.iter().any(|p| p.as_os_str() == "-");
    let partials = settings.partials && settings.paths.iter().any(|p| p.as_os_str() == "-");
    if (logs || partials) && existing.iter().any(|p| p.as_os_str() == "-") {
        return Err(Error::Usage(
            "standard input has one reader: the logs (`-`, or no path) and --existing - cannot both read it; give --existing a file"
                .into(),
        ));
    }
    Ok(())
}

/// Writes a gate's verdict (`check`, `migrate`) to standard output. A reader that stops early
/// (`check | head -1`) does not change the verdict: the exit code still says it.
pub fn write_verdict(
    what: &str,
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Error> {
    let mut out = output(None)?;
    let written = f(&mut out).and_then(|()| out.flush());
    drop(out);
    tolerate_closed_stdout(written).map_err(io_err(what))
}

/// A write to standard output whose reader went away (`| head`) is not an error for a command
/// whose exit code carries the verdict: the code still says it.
pub fn tolerate_closed_stdout(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
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
    warn_unrecognised(s);
    warn_applications(s, settings);
    {
        // Traffic to a cloud metadata service is named whatever the command.
        for (k, st) in s.sorted_destinations() {
            if st.undeclared() > 0 && crate::gate::reaches_metadata(k, st) {
                let title = crate::gate::Dest::of(k, st).title();
                let callers = crate::recommend::counted(
                    crate::render::report::sources_of(s, st)
                        .iter()
                        .map(|u| (u.label(), u.requests)),
                );
                note(&format!(
                    "warning: {}",
                    crate::gate::metadata_warning(&title, &callers)
                ));
            }
        }
    }
    let failed = s.ambient.get(crate::ambient::Flow::Failed);
    if failed > 0 {
        note(&format!(
            "note: {} refused by ztunnel before any metadata (`connection failed`; the first: {}): counted as unknown, never as a destination",
            crate::render::count(failed, "connection was", "connections were"),
            s.ambient
                .failed_example
                .map_or_else(|| "?".to_owned(), |l| run.locate(l))
        ));
    }
    if s.unknown_prefix > 0 {
        note(&format!(
            "note: {} found after a prefix no known log wrapper explains: read, with the writer unknown (docs/inputs.md, \"Log envelopes\", lists the wrappers that name it)",
            crate::render::count(s.unknown_prefix, "entry was", "entries were")
        ));
    }
    if s.invalid_sources > 0 {
        note(&format!(
            "warning: {} named a namespace or workload Kubernetes would refuse (the first: {}); their writer is taken as unknown",
            crate::render::count(s.invalid_sources, "line", "lines"),
            s.invalid_source_example
                .map_or_else(|| "?".to_owned(), |l| run.locate(l))
        ));
    }
    let exit = if !s.read_errors.is_empty() || (settings.strict && malformed > 0) {
        if settings.strict && malformed > 0 && !quiet_errors {
            eprintln!("egress-advisor: {malformed} malformed lines (--strict)");
        }
        Exit::Unreadable
    } else {
        Exit::Ok
    };
    release(run);
    exit
}

/// Access-log entries recognised: every line but noise, malformed and CRI partial lines.
pub fn entries(s: &crate::aggregate::Summary) -> u64 {
    crate::gate::entries(s)
}

/// Warns on stderr when most lines were not access-log entries: the logs may be in a format or
/// envelope this run does not read, and what was not read was not checked.
fn warn_unrecognised(s: &crate::aggregate::Summary) {
    let lines = s.lines();
    let noise = s.classes[Class::Noise.index()];
    let malformed = s.classes[Class::Malformed.index()];
    let unread = noise.saturating_add(malformed);
    if lines == 0 {
        eprintln!("egress-advisor: warning: the input holds no lines");
    } else if unread.saturating_mul(2) > lines {
        eprintln!(
            "egress-advisor: warning: {} of {} {} not access-log entries this run reads ({} noise, {} malformed): `egress-advisor explain FILE` shows how each line was read; a custom format needs --log-format, --log-format-json or --mesh-config; docs/inputs.md, \"Log envelopes\", lists the wrappers that are unwrapped",
            crate::render::thousands(unread),
            crate::render::count(lines, "line", "lines"),
            if unread == 1 { "is" } else { "are" },
            crate::render::thousands(noise),
            crate::render::thousands(malformed),
        );
    }
}

/// Warns on stderr about entry-like lines that application containers printed: they were not
/// read as traffic, and a workload that prints them may be trying to get its own host allowed.
fn warn_applications(s: &crate::aggregate::Summary, settings: &Settings) {
    let n = s.classes[Class::Application.index()];
    if n == 0 {
        return;
    }
    let names = crate::recommend::counted(
        s.app_containers
            .iter()
            .map(|(c, n)| (crate::render::clean(c).into_owned(), *n)),
    );
    eprintln!(
        "egress-advisor: warning: {} entry-like {} from application containers ({names}) {} not read as traffic: only the proxy containers' lines are (--containers {})",
        crate::render::thousands(n),
        if n == 1 { "line" } else { "lines" },
        if n == 1 { "was" } else { "were" },
        settings.containers.join(","),
    );
}

/// The exit code of a gate (`check`, `migrate`) over a finished run: no access-log entry
/// recognised is not a pass (unless `--allow-empty`).
pub fn gate_exit(findings: bool, read: Exit, entries: u64, allow_empty: bool) -> Exit {
    if entries == 0 && !allow_empty && !findings {
        eprintln!(
            "egress-advisor: no access-log entry was recognised in the input, so nothing was checked (exit 4; --allow-empty accepts an empty input)"
        );
        // An input that could not be read is the likelier cause: say that.
        return if read == Exit::Ok {
            Exit::NoEntries
        } else {
            read
        };
    }
    Exit::with_findings(findings, read)
}
