//! Wires the stages together for a set of sources: ingest, parse, classify, aggregate.
//!
//! Work is parallel at the coarsest natural unit: a file, or a newline-aligned range of a big
//! plain file. Each rayon worker keeps one [`Summary`](crate::aggregate::Summary) and one line
//! buffer; summaries are merged at the end. Merging is commutative, so the result does not
//! depend on the thread count or on which worker read what.

use std::io;

use crate::config::Settings;
use crate::ingest::lines::{Event, LineReader};
use crate::ingest::{self, Origin, Source};

mod account;
mod drive;
mod line;

pub use crate::aggregate::Run;
pub use account::{LastSource, SplitState, account, base_meta};
pub use line::{LineView, Outcome, inspect, read_line};

use drive::read_all;

/// Reads every source (or, with `--partials`, merges the partial results given) and returns
/// the merged summary, with address-only entries attributed to the hosts seen on them.
pub fn run(s: &Settings) -> Result<Run, String> {
    let mut run = run_raw(s)?;
    run.summary.attribute_addresses();
    Ok(run)
}

/// [`run`] before address attribution: what a partial result holds.
pub fn run_raw(s: &Settings) -> Result<Run, String> {
    if s.partials {
        crate::partial::merge(&s.paths, s)
    } else {
        read_all(s, ingest::SPLIT_BYTES)
    }
}

/// Reads every source with ranges of at most `split_bytes`, then attributes addresses.
pub fn run_with_split(s: &Settings, split_bytes: u64) -> Result<Run, String> {
    let mut run = read_all(s, split_bytes)?;
    run.summary.attribute_addresses();
    Ok(run)
}

/// The thread count of rayon's global pool, once [`use_global_pool`] has set it up.
static GLOBAL_THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Sets up rayon's global pool with `threads` threads, for reading and rendering alike. Only
/// the first call in a process can; later ones, and a failure, change nothing (reading then
/// makes a pool of its own, and reports why when it cannot).
pub fn use_global_pool(threads: usize) {
    if GLOBAL_THREADS.get().is_none()
        && rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .is_ok()
    {
        let _ = GLOBAL_THREADS.set(threads);
    }
}

/// Reads every source in order on this thread and calls `f` with the source index, the line
/// number and the event; `f` returns false to stop. Returns the sources that could not be read
/// (to the end). For `explain`, where order matters more than speed. Exports that hold many
/// records (`envelope::batch`) are handed on record by record, each one a line, as a run
/// counts them.
pub fn for_each_line(
    sources: &[Source],
    max_line_bytes: usize,
    mut f: impl FnMut(u32, u64, Event<'_>) -> bool,
) -> Vec<(u32, String)> {
    use crate::envelope::batch;
    use std::io::Read;
    let mut reader = LineReader::new(max_line_bytes);
    let mut errors = Vec::new();
    let mut records = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let i = i as u32;
        let mut line = 0u64;
        let go_on = std::cell::Cell::new(true);
        let mut emit = |ev: Event<'_>| {
            if go_on.get() {
                line += 1;
                go_on.set(f(i, line, ev));
            }
        };
        let mut read = |mut r: Box<dyn io::Read + '_>| -> io::Result<()> {
            let mut head = Vec::new();
            (&mut r).take(256).read_to_end(&mut head)?;
            let document = batch::is_document(&head);
            let r = io::Cursor::new(head).chain(r);
            if document {
                return batch::each_in_document(io::BufReader::new(r), &mut records, &mut |rec| {
                    emit(rec.map_or(Event::NoLogLine, Event::Line))
                });
            }
            reader
                .read(r, 0, false, u64::MAX, |ev| {
                    match ev {
                        Event::Line(l)
                            if l.first() == Some(&b'{')
                                && batch::shape(l)
                                && batch::each_in_line(l, &mut records, &mut |rec| {
                                    emit(rec.map_or(Event::NoLogLine, Event::Line))
                                })
                                .is_some() => {}
                        ev => emit(ev),
                    }
                    go_on.get()
                })
                .1
        };
        let result = match &src.origin {
            Origin::Unreadable(reason) => Err(io::Error::other(reason.clone())),
            Origin::Stdin => ingest::decode(io::stdin()).and_then(|(_, r)| read(r)),
            Origin::File(p) => std::fs::File::open(p)
                .and_then(ingest::decode)
                .and_then(|(_, r)| read(r)),
        };
        if let Err(e) = result {
            errors.push((i, ingest::io_reason(&e)));
        }
        if !go_on.get() {
            break;
        }
    }
    errors
}
