//! Ingest stage: turns the paths on the command line into sources, opens them (decompressing
//! gzip and zstd, recognised by their magic bytes, not their names) and plans the work: big
//! plain files are split into newline-aligned ranges so that one file keeps every core busy.

pub mod lines;
pub mod walk;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

pub use walk::{FileId, Found, file_id};

/// Where lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Stdin,
    File(PathBuf),
    /// A path that could not even be listed: reported, never read.
    Unreadable(String),
}

/// One input, named as the user will see it in reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The path as given (joined with the names found below a directory), or `-` for stdin.
    pub name: String,
    pub origin: Origin,
}

/// The inputs of a run, and notes on what was skipped or merged on the way.
#[derive(Debug, Default)]
pub struct Discovered {
    pub sources: Vec<Source>,
    /// For stderr (unless `--quiet`): files reached by several paths, read once; symlink loops
    /// and directories walked once; named pipes, sockets and devices in directories, not read.
    pub notes: Vec<String>,
}

/// Expands the command line: files as given, directories walked recursively (entries in
/// sorted order, hidden entries and `*.md` files skipped, see [`walk::Walker`]), `-` for
/// stdin. Any file (a named pipe, `/dev/stdin`, a device) is read when named; in a directory,
/// only regular files are. A file reached by several paths is read once, under the first of
/// its names in sorted order. The result is sorted by name, so the order of the arguments never
/// changes the output. Standard input is named `stdin_name` (`--stdin-name`), else `-`.
pub fn discover(paths: &[PathBuf], stdin_name: Option<&str>) -> Discovered {
    // Sorted first: which path walks a directory reached by two does not depend on the order
    // of the arguments.
    let mut paths: Vec<&PathBuf> = paths.iter().collect();
    paths.sort_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    paths.dedup_by(|a, b| a.as_os_str() == b.as_os_str());
    let mut found: Vec<(Source, Option<FileId>)> = Vec::new();
    let mut notes = Vec::new();
    let mut walker = walk::Walker::default();
    for p in paths {
        if p.as_os_str() == "-" {
            let source = Source {
                name: stdin_name.unwrap_or("-").into(),
                origin: Origin::Stdin,
            };
            found.push((source, stdin_id()));
            continue;
        }
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walker.walk(p, skip_log, |f| match f {
                Found::File(p, id) => found.push((file(&p), id)),
                Found::Skipped(p, why) => notes.push(format!("{}: {why}", display(&p))),
                Found::Error(p, e) => found.push((unreadable(&p, &e), None)),
            }),
            Ok(m) => found.push((file(p), file_id(&m))),
            Err(e) => found.push((unreadable(p, &e), None)),
        }
    }
    found.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    found.dedup_by(|a, b| a.0.name == b.0.name);
    let mut first: HashMap<FileId, usize> = HashMap::new();
    let mut sources: Vec<Source> = Vec::with_capacity(found.len());
    for (s, id) in found {
        if let Some(id) = id {
            if let Some(&k) = first.get(&id) {
                notes.push(format!(
                    "{}: the same file as {}: read once",
                    s.name, sources[k].name
                ));
                continue;
            }
            first.insert(id, sources.len());
        }
        sources.push(s);
    }
    Discovered { sources, notes }
}

/// Log walks pass over hidden entries and `*.md` files (the READMEs of log folders).
fn skip_log(name: &str, _dir: bool) -> bool {
    name.starts_with('.') || name.ends_with(".md")
}

/// The identity of standard input, to read it once when also named (`/dev/stdin`).
fn stdin_id() -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
        file_id(&File::from(fd).metadata().ok()?)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

fn display(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn file(p: &Path) -> Source {
    Source {
        name: display(p),
        origin: Origin::File(p.to_path_buf()),
    }
}

fn unreadable(p: &Path, e: &io::Error) -> Source {
    Source {
        name: display(p),
        origin: Origin::Unreadable(io_reason(e)),
    }
}

/// An I/O error in words, without the OS error number.
pub fn io_reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// How a source's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Plain,
    Gzip,
    Zstd,
}

fn sniff_encoding(head: &[u8]) -> Encoding {
    match head {
        [0x1f, 0x8b, ..] => Encoding::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Encoding::Zstd,
        _ => Encoding::Plain,
    }
}

/// Wraps a reader in the decoder its first bytes call for.
pub fn decode<'a, R: Read + Send + 'a>(r: R) -> io::Result<(Encoding, Box<dyn Read + Send + 'a>)> {
    let mut r = BufReader::with_capacity(256 * 1024, r);
    let head = io::BufRead::fill_buf(&mut r)?;
    let head = if head.len() < 4 && !head.is_empty() {
        // A short first read: make sure four bytes, if the source has them, are looked at.
        let mut h = head.to_vec();
        io::BufRead::consume(&mut r, h.len());
        let mut more = Vec::new();
        r.by_ref().take(4 - h.len() as u64).read_to_end(&mut more)?;
        h.extend_from_slice(&more);
        let enc = sniff_encoding(&h);
        let chained: Box<dyn Read + Send + 'a> = Box::new(io::Cursor::new(h).chain(r));
        return Ok((enc, wrap(enc, chained)?));
    } else {
        head
    };
    let enc = sniff_encoding(head);
    if enc == Encoding::Plain {
        // The line reader has a buffer of its own: hand over what was read to sniff, then the
        // source itself, so plain data is not copied through this buffer too.
        let head = head.to_vec();
        return Ok((enc, Box::new(io::Cursor::new(head).chain(r.into_inner()))));
    }
    Ok((enc, wrap(enc, Box::new(r))?))
}

fn wrap<'a>(enc: Encoding, r: Box<dyn Read + Send + 'a>) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match enc {
        Encoding::Plain => r,
        // Rotated logs are often several gzip members back to back.
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            256 * 1024,
            r,
        ))),
        Encoding::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
    })
}

/// Counts the bytes read through it (before decompression) into a shared counter, for the
/// progress display. One relaxed atomic add per read call, and reads are large.
pub struct Counted<'c, R> {
    pub inner: R,
    pub counter: &'c AtomicU64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads a decoder on a thread of its own and hands the decoded bytes over in blocks, so that
/// decompression and parsing overlap: a gzip or zstd file is then read at the speed of its
/// decoder. Blocks are recycled; at most `DEPTH` are in flight.
pub fn pipelined<R: Read + Send, T>(decoder: R, consume: impl FnOnce(&mut dyn Read) -> T) -> T {
    const BLOCK: usize = 1 << 20;
    const DEPTH: usize = 4;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(DEPTH);
        let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
        scope.spawn(move || {
            let mut decoder = decoder;
            loop {
                let mut buf = back_rx.try_recv().unwrap_or_default();
                buf.resize(BLOCK, 0);
                let n = loop {
                    match decoder.read(&mut buf) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        other => break other,
                    }
                };
                let msg = match n {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(buf)
                    }
                    Err(e) => Err(e),
                };
                let stop = msg.is_err();
                if tx.send(msg).is_err() || stop {
                    return;
                }
            }
        });
        let mut pipe = Pipe {
            rx,
            back: back_tx,
            cur: Vec::new(),
            pos: 0,
        };
        consume(&mut pipe)
    })
}

struct Pipe {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    back: mpsc::Sender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(buf)) => {
                    let old = std::mem::replace(&mut self.cur, buf);
                    let _ = self.back.send(old);
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Plain files at least this large are split into ranges read in parallel.
pub const SPLIT_BYTES: u64 = 32 * 1024 * 1024;

/// What the plan fixed about a regular file: its size and identity then. The file is read up
/// to that size (a live log may grow meanwhile), and must still be the same file, no shorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub size: u64,
    pub id: Option<FileId>,
}

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// The whole source, as one stream (compressed and small files; `file` is `None` for
    /// standard input and the named pipes and devices named on the command line, opened once
    /// and never seeked).
    Whole { source: u32, file: Option<Planned> },
    /// Lines of a plain file that start in `start..end`.
    Range {
        source: u32,
        split: u32,
        start: u64,
        end: u64,
        file: Planned,
    },
    /// A source that cannot be read, with the reason.
    Failed { source: u32, reason: String },
}

/// Plans the tasks for the sources, in the order workers take them: the streams that cannot
/// be split (standard input, pipes, compressed and smaller files) first, the largest first, so
/// that a long one never starts last and leaves the other workers idle; then the ranges, in
/// source order.
///
/// Plain files of at least twice `split_bytes` are split into ranges of at most `split_bytes`,
/// shrinking towards the end of each file (each range about an eighth of the file's bytes
/// left, down to `split_bytes / 32`): workers then finish together, on short last tasks,
/// instead of one waiting on another's full-size range. How a file is split depends on its
/// size alone: never on the thread count or the other inputs, so a file reads the same alone,
/// with others, or in a partial result.
///
/// Only regular files are opened here (to see whether they are compressed); anything else is a
/// stream, opened once, by the worker that reads it.
pub fn plan(sources: &[Source], split_bytes: u64) -> Vec<Task> {
    let split_bytes = split_bytes.max(1);
    let min_split = (split_bytes / 32).max(1);
    // Whole streams with their size on disk (streams count as the largest).
    let mut whole: Vec<(u64, Task)> = Vec::new();
    let mut tasks = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let source = i as u32;
        let file = match &s.origin {
            Origin::Stdin => {
                whole.push((u64::MAX, Task::Whole { source, file: None }));
                continue;
            }
            Origin::Unreadable(reason) => {
                tasks.push(Task::Failed {
                    source,
                    reason: reason.clone(),
                });
                continue;
            }
            Origin::File(p) => look_at(p),
        };
        match file {
            Ok(None) => whole.push((u64::MAX, Task::Whole { source, file: None })),
            Ok(Some((file, true))) if file.size >= split_bytes.saturating_mul(2) => {
                let size = file.size;
                let mut start = 0u64;
                let mut split = 0u32;
                while start < size {
                    let len = ((size - start) / 8).clamp(min_split, split_bytes);
                    let mut end = start.saturating_add(len).min(size);
                    // No sliver of a range at the end of the file.
                    if size - end < min_split {
                        end = size;
                    }
                    tasks.push(Task::Range {
                        source,
                        split,
                        start,
                        end,
                        file,
                    });
                    split += 1;
                    start = end;
                }
            }
            Ok(Some((file, _))) => whole.push((
                file.size,
                Task::Whole {
                    source,
                    file: Some(file),
                },
            )),
            Err(e) => tasks.push(Task::Failed {
                source,
                reason: io_reason(&e),
            }),
        }
    }
    whole.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
    whole.into_iter().map(|(_, t)| t).chain(tasks).collect()
}

/// The bytes the sources hold on disk (compressed sizes for compressed files), or `None` when
/// one of them is a stream (standard input, a pipe). For the progress display.
pub fn total_bytes(sources: &[Source]) -> Option<u64> {
    let mut total = 0;
    for s in sources {
        match &s.origin {
            Origin::Stdin => return None,
            Origin::File(p) => match std::fs::metadata(p) {
                Ok(m) if m.is_file() => total += m.len(),
                Ok(_) => return None,
                Err(_) => {}
            },
            Origin::Unreadable(_) => {}
        }
    }
    Some(total)
}

/// A regular file's size and identity, and whether it can be split (plain, not compressed,
/// and lines rather than one JSON document); `None` for
/// anything else (a named pipe, a device), which is not opened here: a pipe opened to look at
/// its first bytes would lose them, or, closed, leave its writer gone.
fn look_at(p: &Path) -> io::Result<Option<(Planned, bool)>> {
    if !std::fs::metadata(p)?.is_file() {
        return Ok(None);
    }
    let mut f = File::open(p)?;
    let m = f.metadata()?;
    let planned = Planned {
        size: m.len(),
        id: file_id(&m),
    };
    // Enough to tell a JSON document (never split: see `envelope::batch`) from lines.
    let mut head = [0u8; 256];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some((
        planned,
        sniff_encoding(&head[..n]) == Encoding::Plain
            && !crate::envelope::batch::is_document(&head[..n]),
    )))
}

/// Why a file planned for reading was not read consistently.
fn inconsistent(why: String) -> io::Error {
    io::Error::other(format!("not read consistently: {why}"))
}

/// Opens a regular file as planned, positioned at `at`: it must still be the same file (a log
/// rotated by rename and create is not) and no shorter (one truncated, as copytruncate does,
/// is not).
pub fn open_planned(p: &Path, planned: &Planned, at: u64) -> io::Result<File> {
    let mut f = File::open(p).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            inconsistent("removed or renamed after the run began (rotated?)".into())
        }
        _ => e,
    })?;
    let m = f.metadata()?;
    if planned.id.is_some() && file_id(&m) != planned.id {
        return Err(inconsistent(
            "replaced by another file after the run began (rotated?)".into(),
        ));
    }
    if m.len() < planned.size {
        return Err(inconsistent(format!(
            "shrank from {} to {} bytes after the run began (truncated?)",
            planned.size,
            m.len()
        )));
    }
    if at > 0 {
        f.seek(SeekFrom::Start(at))?;
    }
    Ok(f)
}

/// Opens the range of a plain file whose lines start at `start..`, positioned one byte before
/// `start` (so the reader can tell whether `start` begins a line), or at 0. See
/// [`open_planned`].
pub fn open_range(p: &Path, planned: &Planned, start: u64) -> io::Result<File> {
    open_planned(p, planned, start.saturating_sub(1))
}

/// Reads a regular file from `at` and fails when it ends before its planned size: it was
/// truncated while read. One comparison per read call, and reads are large.
pub struct UpToPlanned<R> {
    pub inner: R,
    pub at: u64,
    pub size: u64,
}

impl<R: Read> Read for UpToPlanned<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && self.at < self.size {
            return Err(inconsistent(format!(
                "ended at byte {} of the {} planned (truncated while read?)",
                self.at, self.size
            )));
        }
        self.at += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn decodes_by_magic_bytes() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"hello\n").unwrap();
        let gz = gz.finish().unwrap();
        let (enc, mut r) = decode(&gz[..]).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!((enc, s.as_str()), (Encoding::Gzip, "hello\n"));

        let z = zstd::encode_all(&b"zz\n"[..], 1).unwrap();
        let (enc, mut r) = decode(&z[..]).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!((enc, s.as_str()), (Encoding::Zstd, "zz\n"));

        for plain in [&b""[..], b"a", b"ab\n", b"\x1f"] {
            let (enc, mut r) = decode(plain).unwrap();
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            assert_eq!((enc, &v[..]), (Encoding::Plain, plain));
        }
    }

    /// A JSON document (gcloud's array, the AWS CLI's pages) is read whole: a range of it
    /// would start inside a record.
    #[test]
    fn plan_never_splits_json_documents() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gcloud.json");
        let mut doc = b"[\n".to_vec();
        for _ in 0..100 {
            doc.extend_from_slice(b"  {\n    \"textPayload\": \"x\"\n  },\n");
        }
        doc.extend_from_slice(b"  {}\n]\n");
        std::fs::write(&p, &doc).unwrap();
        let sources = vec![Source {
            name: "gcloud.json".into(),
            origin: Origin::File(p),
        }];
        let tasks = plan(&sources, 64);
        assert!(
            matches!(tasks[..], [Task::Whole { source: 0, .. }]),
            "{tasks:?}"
        );
    }

    #[test]
    fn plan_splits_plain_files_finer_towards_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: Vec<u8>| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            Source {
                name: name.into(),
                origin: Origin::File(p),
            }
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&[b'x'; 5000]).unwrap();
        let sources = vec![
            file("a.log", vec![b'a'; 10_000]),
            file("b.log.gz", gz.finish().unwrap()),
            file("c.log", vec![b'c'; 3_000]),
            file("d.log", vec![b'd'; 15]),
            Source {
                name: "-".into(),
                origin: Origin::Stdin,
            },
        ];
        let tasks = plan(&sources, 320);
        // Each plain file is covered by contiguous ranges, numbered in order, of at most 320
        // and at least 10 bytes, not growing towards the end of the file (but for a last range
        // that takes in what would be a sliver).
        let mut last_len = u64::MAX;
        for (source, size) in [(0u32, 10_000u64), (2, 3_000)] {
            last_len = u64::MAX;
            let ranges: Vec<(u32, u64, u64)> = tasks
                .iter()
                .filter_map(|t| match t {
                    Task::Range {
                        source: s,
                        split,
                        start,
                        end,
                        ..
                    } if *s == source => Some((*split, *start, *end)),
                    _ => None,
                })
                .collect();
            assert_eq!(ranges.first().map(|r| r.1), Some(0));
            assert_eq!(ranges.last().map(|r| r.2), Some(size));
            for (k, w) in ranges.windows(2).enumerate() {
                assert_eq!((w[0].0, w[1].0), (k as u32, k as u32 + 1));
                assert_eq!(w[0].2, w[1].1);
            }
            for &(_, start, end) in &ranges {
                assert!((10..=320).contains(&(end - start)), "{start}..{end}");
                assert!(end - start < last_len.saturating_add(10), "{start}..{end}");
                last_len = end - start;
            }
        }
        let whole = |t: &Task| match t {
            Task::Whole { source, .. } => *source,
            other => panic!("{other:?}"),
        };
        // A file is split the same whatever else is read with it.
        let alone = plan(&sources[2..3], 320);
        let with_others: Vec<Task> = tasks
            .iter()
            .filter_map(|t| match t {
                Task::Range {
                    source: 2,
                    split,
                    start,
                    end,
                    file,
                } => Some(Task::Range {
                    source: 0,
                    split: *split,
                    start: *start,
                    end: *end,
                    file: *file,
                }),
                _ => None,
            })
            .collect();
        assert_eq!(alone, with_others);
        // The last range of a file is short: the workers finish together.
        assert!(last_len < 40, "{last_len}");

        // Streams that cannot be split go first, largest first (stdin counts as the largest),
        // then the ranges in source order.
        assert_eq!(tasks[..3].iter().map(whole).collect::<Vec<_>>(), [4, 1, 3]);
        assert_eq!(
            tasks[0],
            Task::Whole {
                source: 4,
                file: None
            }
        );
        let ranges: Vec<(u32, u32)> = tasks[3..]
            .iter()
            .map(|t| match t {
                Task::Range { source, split, .. } => (*source, *split),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(ranges.windows(2).all(|w| w[0] < w[1]));
    }

    /// A file is read as planned: grown is fine, but replaced, removed or shrunk (before or
    /// while a range is read) is an error naming why.
    #[test]
    fn files_changed_since_the_plan_are_not_read_consistently() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        let text: Vec<u8> = (0..1000)
            .flat_map(|i| format!("line {i:04}\n").into_bytes())
            .collect();
        std::fs::write(&p, &text).unwrap();
        let sources = vec![Source {
            name: "app.log".into(),
            origin: Origin::File(p.clone()),
        }];
        let tasks = plan(&sources, 1000);
        let (start, end, file) = tasks
            .iter()
            .filter_map(|t| match t {
                Task::Range {
                    start, end, file, ..
                } => Some((*start, *end, *file)),
                _ => None,
            })
            .nth(3)
            .expect("ranges");
        assert_eq!(file.size, text.len() as u64);
        let read = |f: File| {
            let mut r = UpToPlanned {
                inner: f,
                at: start - 1,
                size: file.size,
            };
            let mut lines = 0;
            let (_, res) = lines::LineReader::new(100).read(&mut r, start - 1, true, end, |_| {
                lines += 1;
                true
            });
            res.map(|()| lines).map_err(|e| e.to_string())
        };
        let reason = |r: io::Result<File>| r.map(|_| ()).unwrap_err().to_string();

        // Grown: read as planned.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"appended\n")
            .unwrap();
        let lines = read(open_range(&p, &file, start).unwrap()).unwrap();
        assert!(lines > 0);

        // Truncated while a range is read (copytruncate): the range ends before the plan did.
        let f = open_range(&p, &file, start).unwrap();
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(100)
            .unwrap();
        let err = read(f).unwrap_err();
        assert!(
            err.contains("not read consistently") && err.contains("ended at byte"),
            "{err}"
        );
        // Truncated before: seen when the range is opened, even once it has grown again.
        let why = reason(open_range(&p, &file, start));
        assert!(why.contains("shrank from 10000 to 100 bytes"), "{why}");

        // Rotated by rename and create, even with the same size: another file.
        std::fs::rename(&p, dir.path().join("app.log.1")).unwrap();
        let why = reason(open_range(&p, &file, start));
        assert!(why.contains("removed or renamed"), "{why}");
        std::fs::write(&p, &text).unwrap();
        let why = reason(open_range(&p, &file, start));
        assert!(why.contains("replaced by another file"), "{why}");
        let why = reason(open_planned(&p, &file, 0));
        assert!(why.starts_with("not read consistently: "), "{why}");
    }
}
