//! The worker pool: one [`Worker`] per thread, taking tasks from a shared counter.

use std::io::{self, Read};

use crate::aggregate::{Location, Summary};
use crate::config::Settings;
use crate::envelope::{Meta, batch};
use crate::ingest::lines::{Event, LineReader};
use crate::ingest::{self, Counted, Encoding, Origin, Source, Task, UpToPlanned};
use crate::parse::Malformed;
use crate::progress::Progress;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::{GLOBAL_THREADS, Run, SplitState, account, base_meta};

pub(super) struct Worker<'s> {
    settings: &'s Settings,
    summary: Summary,
    reader: LineReader,
    /// Bytes read so far by every worker, before decompression (for the progress display).
    done: &'s AtomicU64,
    /// Who wrote the current source's lines when no envelope says.
    base: Meta<'static>,
}

impl<'s> Worker<'s> {
    fn new(settings: &'s Settings, done: &'s AtomicU64) -> Self {
        Worker {
            settings,
            summary: Summary::default(),
            reader: LineReader::new(settings.max_line_bytes),
            done,
            base: Meta::default(),
        }
    }

    fn run(&mut self, task: &Task, sources: &[Source]) {
        let (source, split) = match task {
            Task::Failed { source, reason } => {
                self.summary.read_errors.insert(*source, reason.clone());
                return;
            }
            Task::Whole { source, .. } => (*source, 0),
            Task::Range { source, split, .. } => (*source, *split),
        };
        let origin = &sources[source as usize].origin;
        self.base = base_meta(origin, self.settings);
        let result = match (task, origin) {
            (
                Task::Range {
                    start, end, file, ..
                },
                Origin::File(p),
            ) => match ingest::open_range(p, file, *start) {
                Ok(f) => {
                    let at = start.saturating_sub(1);
                    let inner = UpToPlanned {
                        inner: f,
                        at,
                        size: file.size,
                    };
                    let r = Counted {
                        inner,
                        counter: self.done,
                    };
                    self.read(r, source, split, at, *start > 0, *end, None)
                }
                Err(e) => Err(e),
            },
            (_, Origin::Stdin) => self.read_stream(io::stdin(), source, None),
            (
                Task::Whole {
                    file: Some(file), ..
                },
                Origin::File(p),
            ) => match ingest::open_planned(p, file, 0) {
                Ok(f) => {
                    let inner = UpToPlanned {
                        inner: f,
                        at: 0,
                        size: file.size,
                    };
                    self.read_stream(inner, source, Some(file.size))
                }
                Err(e) => Err(e),
            },
            // A named pipe or a device: opened once, its first bytes sniffed from that handle.
            (_, Origin::File(p)) => match std::fs::File::open(p) {
                Ok(f) => self.read_stream(f, source, None),
                Err(e) => Err(e),
            },
            (_, Origin::Unreadable(reason)) => Err(io::Error::other(reason.clone())),
        };
        if let Err(e) = result {
            self.summary
                .read_errors
                .insert(source, ingest::io_reason(&e));
        }
    }

    /// Reads a whole source as one stream: a regular file of `size` bytes as planned (a plain
    /// one up to that size, so that lines appended since are not read), or, for `None`, a
    /// stream (standard input, a pipe) to its end. Compressed data and streams are read and
    /// decoded on a thread of their own, so that decoding overlaps parsing.
    fn read_stream<R: io::Read + Send>(
        &mut self,
        r: R,
        source: u32,
        size: Option<u64>,
    ) -> io::Result<()> {
        let (enc, r) = ingest::decode(Counted {
            inner: r,
            counter: self.done,
        })?;
        let enc = (enc != Encoding::Plain).then_some(enc);
        match (enc, size) {
            (None, Some(size)) => self.read(r, source, 0, 0, false, size, enc),
            _ => ingest::pipelined(r, |pipe| {
                self.read(pipe, source, 0, 0, false, u64::MAX, enc)
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn read<R: io::Read>(
        &mut self,
        r: R,
        source: u32,
        split: u32,
        offset: u64,
        skip_first: bool,
        end: u64,
        encoding: Option<Encoding>,
    ) -> io::Result<()> {
        let Worker {
            settings,
            summary,
            reader,
            base,
            ..
        } = self;
        let mut r = r;
        let mut head = Vec::new();
        if offset == 0 && !skip_first {
            // A pretty-printed JSON export (gcloud's array, the AWS CLI's pages) is one
            // document, not lines.
            (&mut r).take(DOCUMENT_HEAD).read_to_end(&mut head)?;
            if batch::is_document(&head) {
                let r = io::Cursor::new(head).chain(r);
                return read_document(r, source, encoding, settings, summary, base);
            }
        }
        let r = io::Cursor::new(head).chain(r);
        let mut line = 0u64;
        let mut state = SplitState::new(base.clone());
        let mut records = Vec::new();
        let (consumed, result) = reader.read(r, offset, skip_first, end, |ev| {
            line += 1;
            let loc = Location {
                source,
                split,
                line,
            };
            match ev {
                // A one-line export object (an OTLP batch, a page of events or hits): each of
                // its records counts as a line.
                Event::Line(l) if l.first() == Some(&b'{') && batch::shape(l) => {
                    let mut first = true;
                    let read = batch::each_in_line(l, &mut records, &mut |rec| {
                        if !first {
                            line += 1;
                        }
                        first = false;
                        let loc = Location {
                            source,
                            split,
                            line,
                        };
                        match rec {
                            Some(rec) => account(summary, settings, rec, loc, &mut state),
                            None => summary.malformed(Malformed::NoLogLine, loc),
                        }
                    });
                    if read.is_none() {
                        account(summary, settings, l, loc, &mut state)
                    }
                }
                Event::Line(l) => account(summary, settings, l, loc, &mut state),
                Event::TooLong => summary.malformed(Malformed::LineTooLong, loc),
                Event::Truncated(_) => summary.malformed(Malformed::Truncated, loc),
                Event::NoLogLine => summary.malformed(Malformed::NoLogLine, loc),
            }
            true
        });
        summary.bytes += consumed.bytes;
        summary.split_lines.insert((source, split), line);
        result.map_err(|e| corrupt(e, encoding, line))
    }
}

/// How many bytes of a source are looked at to tell a JSON document from lines.
const DOCUMENT_HEAD: u64 = 256;

fn corrupt(e: io::Error, encoding: Option<Encoding>, line: u64) -> io::Error {
    match encoding {
        Some(enc) => io::Error::other(format!(
            "{} stream ended early or is corrupt after {} lines ({}); the lines before were read",
            match enc {
                Encoding::Gzip => "gzip",
                Encoding::Zstd => "zstd",
                Encoding::Plain => "plain",
            },
            line,
            ingest::io_reason(&e)
        )),
        None => e,
    }
}

/// Reads a whole source that is one JSON document (or several back to back): each record of
/// it counts as a line, numbered in order. Invalid JSON stops the reading there, and the source
/// is reported unreadable past the record it follows.
fn read_document<R: io::Read>(
    r: R,
    source: u32,
    encoding: Option<Encoding>,
    settings: &Settings,
    summary: &mut Summary,
    base: &Meta<'static>,
) -> io::Result<()> {
    let mut line = 0u64;
    let mut state = SplitState::new(base.clone());
    let mut buf = Vec::new();
    let mut counted = ByteCount { inner: r, bytes: 0 };
    let result = batch::each_in_document(
        io::BufReader::with_capacity(256 * 1024, &mut counted),
        &mut buf,
        &mut |rec| {
            line += 1;
            let loc = Location {
                source,
                split: 0,
                line,
            };
            match rec {
                Some(rec) => account(summary, settings, rec, loc, &mut state),
                None => summary.malformed(Malformed::NoLogLine, loc),
            }
        },
    );
    summary.bytes += counted.bytes;
    summary.split_lines.insert((source, 0), line);
    result.map_err(|e| corrupt(e, encoding, line))
}

/// Counts the bytes read through it.
struct ByteCount<R> {
    inner: R,
    bytes: u64,
}

impl<R: io::Read> io::Read for ByteCount<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

pub(super) fn read_all(s: &Settings, split_bytes: u64) -> Result<Run, String> {
    let ingest::Discovered { sources, notes } = ingest::discover(&s.paths, s.stdin_name.as_deref());
    if !s.quiet {
        for n in notes {
            eprintln!("egress-advisor: {}", crate::fmt::clean(&n));
        }
    }
    let tasks = ingest::plan(&sources, split_bytes.max(1));
    // The global pool when it was set up with the size asked for (the command line does so,
    // and rendering uses it too); else one of that size for this run.
    let own = if GLOBAL_THREADS.get() == Some(&s.threads) {
        None
    } else {
        Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(s.threads)
                .build()
                .map_err(|e| format!("cannot start {} worker threads: {e}", s.threads))?,
        )
    };
    let done = Arc::new(AtomicU64::new(0));
    let progress = Progress::start(s.progress, ingest::total_bytes(&sources), Arc::clone(&done));
    // One worker per thread, each with one summary and one line buffer, taking tasks from a
    // shared counter: memory is bounded by the thread count, not by the number of tasks, and
    // only one summary per thread is merged at the end.
    let next = AtomicUsize::new(0);
    let work = |_: rayon::BroadcastContext<'_>| {
        let mut w = Worker::new(s, &done);
        while let Some(t) = tasks.get(next.fetch_add(1, Ordering::Relaxed)) {
            w.run(t, &sources);
        }
        w.summary
    };
    let summaries = match &own {
        Some(pool) => pool.broadcast(work),
        None => rayon::broadcast(work),
    };
    let summary = summaries
        .into_iter()
        .reduce(|mut a, b| {
            a.merge(b);
            a
        })
        .unwrap_or_default();
    progress.finish();
    Ok(Run { sources, summary })
}
