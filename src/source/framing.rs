//! Cutting a byte stream or a datagram into syslog messages, with a cap on their length.
//!
//! [`Framer`] is the pure, sync core of the TCP syslog source: it is fed whatever bytes a read
//! returned and hands out whole messages, so it can be tested (and property-tested) without a
//! socket. RFC 6587 allows two framings on one stream and senders do mix them, so the choice is
//! made per message, by its first byte:
//!
//! - a digit from 1 to 9 starts an *octet count*: `MSG-LEN SP MSG`, e.g. `34 <13>1 2024-… msg`;
//! - anything else starts a *newline-framed* message, ended by LF (a `\r` before it is dropped)
//!   or NUL (some senders end messages with NUL instead of LF).
//!
//! A count that turns out not to be one (a non-digit before the space, more than
//! [`MAX_COUNT_DIGITS`] digits, or more than [`MAX_OCTET_COUNT`]) is read as the start of a
//! newline-framed message instead, so a sender that writes `2024 was a good year\n` loses
//! nothing and the connection goes on. Empty messages (blank lines, a LF after an octet-counted
//! frame) are skipped: there is nothing in them to score.
//!
//! A message longer than `max_len` is cut at `max_len` (and at a UTF-8 character boundary when
//! the cut would split one) and flagged; the rest of it is skipped as it arrives, never
//! buffered, so a sender cannot make the framer hold more than `max_len + 1` bytes.

/// Octet counts with more digits than this are not counts (10 digits already exceed
/// [`MAX_OCTET_COUNT`]; the cap keeps the arithmetic far from overflow).
pub const MAX_COUNT_DIGITS: usize = 10;

/// Octet counts above this (1 GiB) are not believed: skipping that many bytes on a mistaken
/// count would silently swallow the rest of the connection.
pub const MAX_OCTET_COUNT: usize = 1 << 30;

/// Splits a TCP syslog stream into messages (see the module doc).
#[derive(Debug)]
pub struct Framer {
    max_len: usize,
    state: State,
    /// The message so far: at most `max_len` bytes, plus one so that a `\r` before a LF at
    /// exactly `max_len` does not count as a cut.
    buf: Vec<u8>,
    /// Bytes of the current message were skipped.
    truncated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages.
    Start,
    /// Reading the digits of what may be an octet count; they are in `buf` too, in case it is
    /// not one.
    Count { value: u64 },
    /// Reading the `remaining` bytes of an octet-counted message.
    Octets { remaining: usize },
    /// Reading a newline-framed message.
    Line,
}

impl Framer {
    /// A framer that cuts messages at `max_len` bytes (at least 1).
    pub fn new(max_len: usize) -> Self {
        let max_len = max_len.max(1);
        Self {
            max_len,
            state: State::Start,
            buf: Vec::with_capacity(max_len.min(64 * 1024) + 1),
            truncated: false,
        }
    }

    /// Feeds the next bytes of the stream; `out` gets each message completed by them, with
    /// whether it was cut.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut impl FnMut(&[u8], bool)) {
        while !bytes.is_empty() {
            let used = match self.state {
                State::Start => {
                    match bytes[0] {
                        // A delimiter between messages: an empty message, skipped.
                        b'\n' | b'\0' => {}
                        b'1'..=b'9' => {
                            self.state = State::Count {
                                value: u64::from(bytes[0] - b'0'),
                            };
                            self.buf.push(bytes[0]);
                        }
                        // Not a digit: this byte is the first of a newline-framed message.
                        _ => {
                            self.state = State::Line;
                            continue;
                        }
                    }
                    1
                }
                State::Count { value } => self.count(bytes[0], value),
                State::Octets { remaining } => self.octets(bytes, remaining, out),
                State::Line => self.line(bytes, out),
            };
            bytes = &bytes[used..];
        }
    }

    /// The stream ended: a message in progress is still a message (an octet-counted one that
    /// ended early is flagged as cut).
    pub fn finish(&mut self, out: &mut impl FnMut(&[u8], bool)) {
        match self.state {
            State::Start => {}
            // The digits of a count that never got its space: a short newline-framed message.
            State::Count { .. } | State::Line => self.emit_line(out),
            State::Octets { .. } => {
                self.truncated = true;
                self.emit_octets(out);
            }
        }
    }

    /// One more byte while reading a count; uses exactly one byte.
    fn count(&mut self, b: u8, value: u64) -> usize {
        match b {
            b'0'..=b'9' if self.buf.len() < MAX_COUNT_DIGITS => {
                // At most 10 digits: no overflow in a u64.
                let value = value * 10 + u64::from(b - b'0');
                self.state = State::Count { value };
                self.buf.push(b);
            }
            b' ' if value <= MAX_OCTET_COUNT as u64 => {
                self.buf.clear();
                self.state = State::Octets {
                    // Fits: at most MAX_OCTET_COUNT.
                    remaining: value as usize,
                };
            }
            // Not a count: the digits begin a newline-framed message, and `b` is read as part
            // of it (it may well be the LF that ends it).
            _ => {
                self.state = State::Line;
                if self.buf.len() > self.max_len + 1 {
                    self.buf.truncate(self.max_len + 1);
                    self.truncated = true;
                }
                return 0;
            }
        }
        1
    }

    /// Reads part of an octet-counted message; returns how many bytes it used.
    fn octets(
        &mut self,
        bytes: &[u8],
        remaining: usize,
        out: &mut impl FnMut(&[u8], bool),
    ) -> usize {
        let take = remaining.min(bytes.len());
        let room = self.max_len - self.buf.len();
        if take > room {
            self.truncated = true;
        }
        self.buf.extend_from_slice(&bytes[..take.min(room)]);
        let remaining = remaining - take;
        self.state = State::Octets { remaining };
        if remaining == 0 {
            self.emit_octets(out);
        }
        take
    }

    /// Reads part of a newline-framed message; returns how many bytes it used.
    fn line(&mut self, bytes: &[u8], out: &mut impl FnMut(&[u8], bool)) -> usize {
        match memchr::memchr2(b'\n', b'\0', bytes) {
            Some(i) => {
                self.append(&bytes[..i]);
                self.emit_line(out);
                i + 1
            }
            None => {
                self.append(bytes);
                bytes.len()
            }
        }
    }

    /// Appends to a newline-framed message, keeping at most `max_len + 1` bytes.
    fn append(&mut self, bytes: &[u8]) {
        let room = (self.max_len + 1).saturating_sub(self.buf.len());
        if bytes.len() > room {
            self.truncated = true;
        }
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn emit_line(&mut self, out: &mut impl FnMut(&[u8], bool)) {
        if !self.truncated && self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if self.buf.len() > self.max_len {
            self.buf.truncate(self.max_len);
            self.truncated = true;
        }
        self.emit(out);
    }

    fn emit_octets(&mut self, out: &mut impl FnMut(&[u8], bool)) {
        // Many senders end a counted frame with the LF of newline framing anyway.
        let len = trim_end(&self.buf).len();
        self.buf.truncate(len);
        self.emit(out);
    }

    fn emit(&mut self, out: &mut impl FnMut(&[u8], bool)) {
        if self.truncated {
            let len = super::lines::char_boundary(&self.buf);
            self.buf.truncate(len);
        }
        if !self.buf.is_empty() || self.truncated {
            out(&self.buf, self.truncated);
        }
        self.buf.clear();
        self.truncated = false;
        self.state = State::Start;
    }
}

/// One datagram's message: without trailing `\n`, `\r\n` or NULs, cut at `max_len` (at least
/// 1, on a UTF-8 character boundary) and flagged when it was longer. `None` for an empty one.
pub fn datagram(bytes: &[u8], max_len: usize) -> Option<(&[u8], bool)> {
    let msg = trim_end(bytes);
    let max_len = max_len.max(1);
    if msg.len() > max_len {
        let cut = &msg[..max_len];
        Some((&cut[..super::lines::char_boundary(cut)], true))
    } else if msg.is_empty() {
        None
    } else {
        Some((msg, false))
    }
}

/// Without trailing line ends and NULs.
fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | b'\0'))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame_chunks(chunks: &[&[u8]], max: usize) -> Vec<(Vec<u8>, bool)> {
        let mut f = Framer::new(max);
        let mut got = Vec::new();
        for c in chunks {
            f.push(c, &mut |m, t| got.push((m.to_vec(), t)));
        }
        f.finish(&mut |m, t| got.push((m.to_vec(), t)));
        got
    }

    fn frame(input: &[u8], max: usize) -> Vec<(Vec<u8>, bool)> {
        frame_chunks(&[input], max)
    }

    fn msgs(got: &[(Vec<u8>, bool)]) -> Vec<String> {
        got.iter()
            .map(|(m, _)| String::from_utf8_lossy(m).into_owned())
            .collect()
    }

    #[test]
    fn newline_framing_with_lf_crlf_and_nul() {
        let got = frame(b"<13>a b\n<13>c\r\n\n<14>d\0<15>last", 100);
        assert_eq!(msgs(&got), ["<13>a b", "<13>c", "<14>d", "<15>last"]);
        assert!(got.iter().all(|(_, t)| !t));
    }

    #[test]
    fn octet_counting() {
        let got = frame(b"7 <13>a\nb5 <1>xy", 100);
        assert_eq!(msgs(&got), ["<13>a\nb", "<1>xy"]);
    }

    #[test]
    fn octet_counting_and_newline_framing_mixed() {
        let got = frame(b"<13>one\n6 <13>tw<13>three\n9 <13>four\n<13>five", 100);
        assert_eq!(
            msgs(&got),
            ["<13>one", "<13>tw", "<13>three", "<13>four", "<13>five"]
        );
    }

    #[test]
    fn a_bad_count_is_read_as_a_line() {
        let got = frame(b"2024 was good\n12a <13>x\n99999999999 big\n0 zero\n", 100);
        // "2024 was good" really is read as a count of 2024: the stream ends early and the
        // message is flagged; the lines after it are the message.
        assert_eq!(got.len(), 1);
        assert!(got[0].1);
        let got = frame(b"12a <13>x\n99999999999 big\n0 zero\n7\n", 100);
        assert_eq!(msgs(&got), ["12a <13>x", "99999999999 big", "0 zero", "7"]);
        assert!(got.iter().all(|(_, t)| !t));
        let got = frame(b"2000000000 x\nnext\n", 100);
        assert_eq!(msgs(&got), ["2000000000 x", "next"]);
    }

    #[test]
    fn long_messages_are_cut_and_the_next_survives() {
        let mut input = vec![b'<'; 10_000];
        input.extend_from_slice(b"\nnext\n20 0123456789abcdefghij5 short");
        let got = frame(&input, 8);
        assert_eq!(
            got,
            [
                (b"<<<<<<<<".to_vec(), true),
                (b"next".to_vec(), false),
                (b"01234567".to_vec(), true),
                (b"short".to_vec(), false),
            ]
        );
        // Exactly max_len before a CRLF is not a cut.
        assert_eq!(frame(b"abcd\r\n", 4), [(b"abcd".to_vec(), false)]);
        assert_eq!(frame(b"abcde\r\n", 4), [(b"abcd".to_vec(), true)]);
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        assert_eq!(frame("aé€\n".as_bytes(), 2), [(b"a".to_vec(), true)]);
        assert_eq!(
            frame("6 aé€".as_bytes(), 4),
            [("aé".as_bytes().to_vec(), true)]
        );
    }

    #[test]
    fn a_counted_message_cut_short_by_the_end_is_flagged() {
        assert_eq!(frame(b"10 abc", 100), [(b"abc".to_vec(), true)]);
    }

    #[test]
    fn datagrams_lose_their_line_end() {
        assert_eq!(datagram(b"<13>x\r\n\0", 10), Some((&b"<13>x"[..], false)));
        assert_eq!(datagram(b"\n\0", 10), None);
        assert_eq!(datagram(b"abcdef\n", 3), Some((&b"abc"[..], true)));
        assert_eq!(datagram("aé".as_bytes(), 2), Some((&b"a"[..], true)));
    }

    /// Bytes that exercise every state: digits, spaces, delimiters, CR, UTF-8 pieces.
    fn stream() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                Just(b'1'),
                Just(b'2'),
                Just(b'0'),
                Just(b'9'),
                Just(b' '),
                Just(b'\n'),
                Just(b'\r'),
                Just(b'\0'),
                Just(b'<'),
                Just(b'a'),
                Just(0xC3),
                Just(0xA9),
                any::<u8>(),
            ],
            0..300,
        )
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_messages(
            input in stream(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
            max in 1usize..40,
        ) {
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
            at.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for a in at {
                chunks.push(&input[from..a]);
                from = a;
            }
            chunks.push(&input[from..]);
            prop_assert_eq!(frame_chunks(&chunks, max), frame(&input, max));
        }

        #[test]
        fn never_longer_than_the_cap(input in prop::collection::vec(any::<u8>(), 0..2000), max in 1usize..64) {
            for (m, t) in frame(&input, max) {
                prop_assert!(m.len() <= max);
                prop_assert!(t || !m.is_empty());
            }
            if let Some((m, _)) = datagram(&input, max) {
                prop_assert!(m.len() <= max);
            }
        }

        #[test]
        fn structured_streams_never_longer_than_the_cap(input in stream(), max in 1usize..16) {
            for (m, _) in frame(&input, max) {
                prop_assert!(m.len() <= max);
            }
        }
    }
}
