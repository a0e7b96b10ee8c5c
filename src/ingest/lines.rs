//! Splits a byte stream into lines with one reusable buffer: no allocation per line, memory
//! bounded by `--max-line-bytes` whatever the input's size. A line longer than the limit is
//! reported once and skipped to its end, unread.

use std::io::{self, Read};

use memchr::memchr;

/// What the reader hands to its caller.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A complete line, without its `\n`.
    Line(&'a [u8]),
    /// A line longer than the limit; its bytes were skipped.
    TooLong,
    /// The last line before a read error (a truncated gzip member, say): probably cut short.
    Truncated(&'a [u8]),
    /// A record of a log store's export that holds no log line (never from this reader: from
    /// `envelope::batch`, for callers that read exports record by record).
    NoLogLine,
}

/// How much is read from the source at a time: small enough that the bytes the kernel just
/// copied are still in the CPU cache when they are parsed (1 MiB reads spent a quarter of the
/// time in that copy; 128 KiB, a tenth).
const READ_BYTES: usize = 128 * 1024;

pub struct LineReader {
    buf: Vec<u8>,
    max_line: usize,
}

/// Where a read stopped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Consumed {
    /// Bytes of the lines this reader was responsible for.
    pub bytes: u64,
}

impl LineReader {
    pub fn new(max_line: usize) -> Self {
        let max_line = max_line.max(1);
        LineReader {
            buf: vec![0; max_line.saturating_add(READ_BYTES)],
            max_line,
        }
    }

    /// Reads `r`, which is positioned at absolute offset `offset`, and calls `f` for each line
    /// that starts before `end`. With `skip_first`, the bytes up to the first `\n` belong to an
    /// earlier range and are skipped. On a read error the lines before it are still delivered,
    /// the partial last line as [`Event::Truncated`], and the error is returned with what was
    /// consumed. `f` returns false to stop reading.
    pub fn read<R: Read>(
        &mut self,
        mut r: R,
        offset: u64,
        skip_first: bool,
        end: u64,
        mut f: impl FnMut(Event<'_>) -> bool,
    ) -> (Consumed, io::Result<()>) {
        let buf = &mut self.buf[..];
        let (mut lo, mut hi) = (0usize, 0usize);
        // Absolute offset of buf[lo].
        let mut at = offset;
        // Skipping the bytes of a line that is not ours (or too long) up to its `\n`.
        let mut skipping = skip_first;
        let mut first: Option<u64> = (!skip_first).then_some(offset);
        loop {
            while let Some(nl) = memchr(b'\n', &buf[lo..hi]) {
                if skipping {
                    skipping = false;
                } else {
                    if at >= end {
                        return (consumed(first, at), Ok(()));
                    }
                    let ev = if nl > self.max_line {
                        Event::TooLong
                    } else {
                        Event::Line(&buf[lo..lo + nl])
                    };
                    if !f(ev) {
                        return (consumed(first, at + nl as u64 + 1), Ok(()));
                    }
                }
                lo += nl + 1;
                at += nl as u64 + 1;
                first.get_or_insert(at);
            }
            if !skipping && at >= end {
                return (consumed(first, at), Ok(()));
            }
            if !skipping && hi - lo > self.max_line {
                if !f(Event::TooLong) {
                    return (consumed(first, at), Ok(()));
                }
                skipping = true;
            }
            if skipping {
                at += (hi - lo) as u64;
                lo = hi;
            }
            buf.copy_within(lo..hi, 0);
            hi -= lo;
            lo = 0;
            let n = loop {
                let want = (hi + READ_BYTES).min(buf.len());
                match r.read(&mut buf[hi..want]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        if !skipping && hi > 0 {
                            let _ = f(Event::Truncated(&buf[..hi]));
                            at += hi as u64;
                        }
                        return (consumed(first, at), Err(e));
                    }
                }
            };
            if n == 0 {
                if !skipping && hi > 0 {
                    let _ = f(Event::Line(&buf[..hi]));
                    at += hi as u64;
                }
                return (consumed(first, at), Ok(()));
            }
            hi += n;
        }
    }
}

fn consumed(first: Option<u64>, at: u64) -> Consumed {
    Consumed {
        bytes: first.map_or(0, |f| at.saturating_sub(f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], max: usize, offset: u64, skip: bool, end: u64) -> (Vec<String>, u64) {
        let mut out = Vec::new();
        let (c, res) = LineReader::new(max).read(input, offset, skip, end, |e| {
            out.push(match e {
                Event::Line(l) => String::from_utf8_lossy(l).into_owned(),
                Event::TooLong => "<too long>".into(),
                Event::Truncated(l) => format!("<truncated {}>", String::from_utf8_lossy(l)),
                Event::NoLogLine => "<no log line>".into(),
            });
            true
        });
        res.unwrap();
        (out, c.bytes)
    }

    #[test]
    fn lines_and_last_line_without_newline() {
        assert_eq!(
            collect(b"a\nbb\n\nccc", 10, 0, false, u64::MAX),
            (vec!["a".into(), "bb".into(), "".into(), "ccc".into()], 9)
        );
        assert_eq!(collect(b"", 10, 0, false, u64::MAX), (vec![], 0));
    }

    #[test]
    fn too_long_lines_are_skipped_once() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5000));
        input.extend(b"\nafter\n");
        let (lines, bytes) = collect(&input, 100, 0, false, u64::MAX);
        assert_eq!(lines, vec!["ok", "<too long>", "after"]);
        assert_eq!(bytes, input.len() as u64);
    }

    #[test]
    fn ranges_partition_the_lines() {
        let text = b"one\ntwo\nthree\nfour\nfive\n";
        for cut in 0..=text.len() {
            let (a, ba) = collect(text, 100, 0, false, cut as u64);
            let (b, bb) = if cut == 0 {
                collect(text, 100, 0, false, u64::MAX)
            } else {
                collect(&text[cut - 1..], 100, cut as u64 - 1, true, u64::MAX)
            };
            let mut all = if cut == 0 { vec![] } else { a.clone() };
            all.extend(b.clone());
            assert_eq!(
                all,
                vec!["one", "two", "three", "four", "five"],
                "cut at {cut}"
            );
            if cut > 0 {
                assert_eq!(ba + bb, text.len() as u64, "cut at {cut}");
            }
        }
    }
}
