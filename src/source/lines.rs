//! Reading lines with a cap on their length.
//!
//! A line ends at `\n`; a `\r` before it is dropped. A line longer than `max_bytes` is cut at
//! `max_bytes` (on a UTF-8 boundary when it is valid UTF-8) and flagged; the rest of it is read
//! and thrown away without being buffered, so a 1 GiB line costs `max_bytes` of memory. A last
//! line without a final newline is still a line.

use std::io::{self, BufRead};

/// The default cap on a line's length: 64 KiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;

/// Reads capped lines from a buffered reader into a caller's buffer.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    max_bytes: usize,
}

/// What [`LineReader::read_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    /// The line was longer than the cap and was cut.
    pub truncated: bool,
}

impl<R: BufRead> LineReader<R> {
    /// A reader that cuts lines at `max_bytes` (at least 1).
    pub fn new(inner: R, max_bytes: usize) -> Self {
        Self {
            inner,
            max_bytes: max_bytes.max(1),
        }
    }

    /// Reads the next line into `buf` (cleared first), without its line ending. `None` at the end.
    pub fn read_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<LineInfo>> {
        buf.clear();
        self.append_line(buf)
    }

    /// Appends the next line to `buf`, without its line ending, so that many lines can share one
    /// buffer. `None` at the end (and `buf` is as it was).
    pub fn append_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<LineInfo>> {
        let start = buf.len();
        let mut truncated = false;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    buf.truncate(start);
                    return Err(e);
                }
            };
            if chunk.is_empty() {
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (take, used, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, i + 1, true),
                None => (chunk.len(), chunk.len(), false),
            };
            // One byte more than the cap, so that a `\r` before the newline fits.
            let room = (self.max_bytes + 1).saturating_sub(buf.len() - start);
            if take > room {
                truncated = true;
            }
            buf.extend_from_slice(&chunk[..take.min(room)]);
            self.inner.consume(used);
            if done {
                break;
            }
        }
        if buf.len() > start && buf.last() == Some(&b'\r') && !truncated {
            buf.pop();
        }
        if buf.len() - start > self.max_bytes {
            buf.truncate(start + self.max_bytes);
            truncated = true;
        }
        if truncated {
            cut_at_char_boundary(buf, start);
        }
        Ok(Some(LineInfo { truncated }))
    }
}

/// Drops a partial UTF-8 sequence left at the end of a cut line.
fn cut_at_char_boundary(buf: &mut Vec<u8>, start: usize) {
    let keep = start + char_boundary(&buf[start..]);
    buf.truncate(keep);
}

/// The length of `bytes` without a partial UTF-8 sequence left at its end by a cut (bytes that
/// are not UTF-8 at all are left for the lossy decoding to replace).
pub(crate) fn char_boundary(bytes: &[u8]) -> usize {
    let tail = bytes.len().saturating_sub(3);
    for i in (tail..bytes.len()).rev() {
        let b = bytes[i];
        if b & 0xC0 != 0x80 {
            // `b` starts a sequence (or is ASCII): keep it only if it is complete.
            let need = match b {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            return if bytes.len() - i < need {
                i
            } else {
                bytes.len()
            };
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], max: usize) -> Vec<(Vec<u8>, bool)> {
        let mut r = LineReader::new(io::BufReader::with_capacity(7, input), max);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(info) = r.read_line(&mut buf).unwrap() {
            out.push((buf.clone(), info.truncated));
        }
        out
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        let got = read_all(b"a\r\nbb\n\nlast", 100);
        let lines: Vec<&[u8]> = got.iter().map(|(l, _)| &l[..]).collect();
        assert_eq!(lines, [&b"a"[..], b"bb", b"", b"last"]);
        assert!(got.iter().all(|(_, t)| !t));
        assert!(read_all(b"", 10).is_empty());
        assert_eq!(read_all(b"\n", 10).len(), 1);
    }

    #[test]
    fn long_lines_are_cut_and_flagged_and_the_next_line_survives() {
        let mut input = vec![b'x'; 1 << 20];
        input.extend_from_slice(b"\nnext\n");
        let got = read_all(&input, 1000);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.len(), 1000);
        assert!(got[0].1);
        assert_eq!(got[1], (b"next".to_vec(), false));
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let got = read_all("aé€😀é".as_bytes(), 4);
        assert_eq!(got[0].0, "aé".as_bytes());
        let got = read_all("aé€😀é".as_bytes(), 6);
        assert_eq!(got[0].0, "aé€".as_bytes());
    }
}
