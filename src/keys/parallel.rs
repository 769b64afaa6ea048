//! Keying a stream of lines on several cores.
//!
//! Checking UTF-8, decoding headers and tokenising (most of the work) are pure, so worker threads
//! do them batch by batch and hand back each line's shape (the signature of its token sequence).
//! The miner must see lines in order, so it stays on the caller's thread: for a line of a shape
//! it has seen, it only counts it; only lines of new shapes are decoded and mined again there. The
//! caller's thread reads lines straight into the batch buffer. Results are the same as keying the
//! lines one by one, in order.
//!
//! Memory is bounded: at most `2 × workers` batches of [`BATCH_LINES`] lines are in flight.

use super::token::{Tokens, tokenize};
use super::{Format, KeyExtractor, KeyId};
use crate::source::lines::{LineInfo, LineReader};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, BufRead};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

/// Lines per batch handed to a worker.
pub const BATCH_LINES: usize = 4096;

/// What a worker learns about one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The signature of the message's normalised token sequence.
    pub sig: u64,
    /// The line matched its header format.
    pub matched: bool,
}

/// Decodes `line` and computes its shape, using `toks` as scratch.
pub fn shape(format: &Format, line: &str, toks: &mut Tokens) -> Shape {
    let (message, matched) = format.message(line);
    tokenize(message, toks);
    Shape {
        sig: toks.signature(),
        matched,
    }
}

/// Counts kept while keying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Lines keyed.
    pub lines: u64,
    /// Lines that were not valid UTF-8 (keyed with U+FFFD in place of the bad bytes).
    pub invalid_utf8: u64,
}

#[derive(Default)]
struct Batch {
    seq: u64,
    text: Vec<u8>,
    ends: Vec<u32>,
    shapes: Vec<Shape>,
    invalid_utf8: u64,
}

impl Batch {
    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let line = &self.text[start..end as usize];
            start = end as usize;
            line
        })
    }
}

/// Keys lines pushed one at a time, using worker threads when there are more than one.
pub struct ParallelKeyer {
    stage: KeyExtractor,
    keys: Vec<KeyId>,
    counts: Counts,
    keep_lines: bool,
    kept: Vec<String>,
    workers: Vec<JoinHandle<()>>,
    to_workers: Option<mpsc::SyncSender<Batch>>,
    from_workers: Option<mpsc::Receiver<Batch>>,
    current: Batch,
    spare: Vec<Batch>,
    sent: u64,
    mined: u64,
    pending: BTreeMap<u64, Batch>,
}

impl ParallelKeyer {
    /// A keyer over `stage` with `threads` workers; 0 or 1 keys every line on the caller's
    /// thread. With `keep_lines`, [`ParallelKeyer::finish`] also returns every line (as keyed).
    pub fn new(stage: KeyExtractor, threads: usize, keep_lines: bool) -> Self {
        let mut keyer = Self {
            stage,
            keys: Vec::new(),
            counts: Counts::default(),
            keep_lines,
            kept: Vec::new(),
            workers: Vec::new(),
            to_workers: None,
            from_workers: None,
            current: Batch::default(),
            spare: Vec::new(),
            sent: 0,
            mined: 0,
            pending: BTreeMap::new(),
        };
        if threads > 1 {
            let (to_workers, work) = mpsc::sync_channel::<Batch>(threads * 2);
            let (done, from_workers) = mpsc::channel::<Batch>();
            let work = Arc::new(Mutex::new(work));
            let format = Arc::new(keyer.stage.format().clone());
            for _ in 0..threads {
                let (work, done, format) = (Arc::clone(&work), done.clone(), Arc::clone(&format));
                keyer
                    .workers
                    .push(std::thread::spawn(move || work_loop(&work, &done, &format)));
            }
            keyer.to_workers = Some(to_workers);
            keyer.from_workers = Some(from_workers);
        }
        keyer
    }

    /// Keys one line. Its key is final only after [`ParallelKeyer::finish`].
    pub fn push(&mut self, line: &[u8]) {
        if self.to_workers.is_none() {
            self.key_here(line);
            return;
        }
        self.current.text.extend_from_slice(line);
        self.end_line();
    }

    /// Reads the next line from `reader` and keys it; `None` at the end of the input.
    pub fn push_from<R: BufRead>(
        &mut self,
        reader: &mut LineReader<R>,
    ) -> io::Result<Option<LineInfo>> {
        if self.to_workers.is_none() {
            let mut line = std::mem::take(&mut self.current.text);
            let info = reader.read_line(&mut line)?;
            if info.is_some() {
                self.key_here(&line);
            }
            self.current.text = line;
            return Ok(info);
        }
        // Straight into the batch: one copy from the reader's buffer, no per-line allocation.
        let info = reader.append_line(&mut self.current.text)?;
        if info.is_some() {
            self.end_line();
        }
        Ok(info)
    }

    fn key_here(&mut self, line: &[u8]) {
        let text = utf8(line);
        self.counts.invalid_utf8 += u64::from(matches!(text, Cow::Owned(_)));
        self.counts.lines += 1;
        let key = self.stage.key(&text);
        self.keys.push(key);
        if self.keep_lines {
            self.kept.push(text.into_owned());
        }
    }

    fn end_line(&mut self) {
        self.current.ends.push(self.current.text.len() as u32);
        // Offsets are u32: send a batch before its text could pass 4 GiB.
        if self.current.ends.len() >= BATCH_LINES || self.current.text.len() > (1 << 30) {
            self.dispatch();
        }
    }

    fn dispatch(&mut self) {
        let mut batch = self.spare.pop().unwrap_or_default();
        std::mem::swap(&mut batch, &mut self.current);
        batch.seq = self.sent;
        self.sent += 1;
        if let Some(tx) = &self.to_workers
            && let Err(mpsc::SendError(batch)) = tx.send(batch)
        {
            // Every worker is gone (it can only have panicked): key here rather than lose lines.
            for line in batch.lines() {
                self.key_here(line);
            }
            self.mined += 1;
        }
        // Keep a bounded number of batches in flight; mine whatever is back.
        while self.sent - self.mined > 2 * self.workers.len() as u64 {
            if !self.receive(true) {
                break;
            }
        }
        while self.receive(false) {}
    }

    /// Takes one finished batch from the workers and mines what is in order. False when none
    /// came (or, blocking, when the workers are gone).
    fn receive(&mut self, block: bool) -> bool {
        let Some(rx) = &self.from_workers else {
            return false;
        };
        let got = if block {
            rx.recv().ok()
        } else {
            rx.try_recv().ok()
        };
        let Some(batch) = got else { return false };
        self.pending.insert(batch.seq, batch);
        while let Some(mut batch) = self.pending.remove(&self.mined) {
            self.mine(&batch);
            self.mined += 1;
            batch.text.clear();
            batch.ends.clear();
            self.spare.push(batch);
        }
        true
    }

    fn mine(&mut self, batch: &Batch) {
        self.counts.lines += batch.ends.len() as u64;
        self.counts.invalid_utf8 += batch.invalid_utf8;
        for (line, shape) in batch.lines().zip(&batch.shapes) {
            let key = self.stage.key_known_shape(*shape).unwrap_or_else(|| {
                // A new shape: decode and mine it here, in order.
                self.stage.key(&utf8(line))
            });
            self.keys.push(key);
            if self.keep_lines {
                self.kept.push(utf8(line).into_owned());
            }
        }
    }

    /// Waits for every line to be keyed; returns the stage, one key per line in order, the
    /// counts, and the lines when they were kept.
    pub fn finish(mut self) -> (KeyExtractor, Vec<KeyId>, Counts, Vec<String>) {
        if !self.current.ends.is_empty() {
            self.dispatch();
        }
        self.to_workers = None; // closes the work channel: workers end when it is empty
        while self.mined < self.sent {
            if !self.receive(true) {
                break;
            }
        }
        for w in self.workers.drain(..) {
            if let Err(panic) = w.join() {
                std::panic::resume_unwind(panic);
            }
        }
        assert_eq!(
            self.mined, self.sent,
            "a key worker stopped without panicking"
        );
        (self.stage, self.keys, self.counts, self.kept)
    }
}

/// The line as text: borrowed when it is valid UTF-8 (the fast, common check), otherwise with
/// U+FFFD in place of the bad bytes.
fn utf8(line: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(line) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(line),
    }
}

fn work_loop(work: &Mutex<mpsc::Receiver<Batch>>, done: &mpsc::Sender<Batch>, format: &Format) {
    let mut toks = Tokens::default();
    loop {
        // The lock is held only while waiting for the next batch.
        let next = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(mut batch) = next else { return };
        let mut shapes = std::mem::take(&mut batch.shapes);
        shapes.clear();
        let mut invalid = 0;
        for line in batch.lines() {
            let text = utf8(line);
            invalid += u64::from(matches!(text, Cow::Owned(_)));
            shapes.push(shape(format, &text, &mut toks));
        }
        batch.shapes = shapes;
        batch.invalid_utf8 = invalid;
        if done.send(batch).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Miner;

    fn sample() -> Vec<Vec<u8>> {
        (0..20_000)
            .map(|i| {
                let line = match i % 6 {
                    0 => format!(
                        "Accepted password for user{} from 10.0.{}.{} port {i} ssh2",
                        i % 7,
                        i % 9,
                        i % 13
                    ),
                    1 => format!(
                        "session opened for user {} by (uid=0)",
                        ["alice", "bob", "carol", "dave"][i % 4]
                    ),
                    2 => format!(
                        "Dec 10 06:55:{:02} host sshd[{i}]: Invalid user u{} from 1.2.3.4",
                        i % 60,
                        i % 3
                    ),
                    3 => format!("disk {} full at {}%", ["sda", "sdb"][i % 2], i % 100),
                    4 => format!("job {i} finished in {}ms", i * 3),
                    _ => String::new(),
                };
                let mut bytes = line.into_bytes();
                if i % 6 == 5 {
                    bytes.extend_from_slice(b"bad \xff\xfe utf8 ");
                }
                bytes
            })
            .collect()
    }

    #[test]
    fn parallel_keys_equal_sequential_keys() {
        let lines = sample();
        let mut one = KeyExtractor::new(Format::Auto, Miner::default());
        let expected: Vec<KeyId> = lines
            .iter()
            .map(|l| one.key(&String::from_utf8_lossy(l)))
            .collect();
        for threads in [1, 2, 3] {
            let stage = KeyExtractor::new(Format::Auto, Miner::default());
            let mut keyer = ParallelKeyer::new(stage, threads, true);
            for l in &lines {
                keyer.push(l);
            }
            let (stage, keys, counts, kept) = keyer.finish();
            assert_eq!(keys, expected, "{threads} threads");
            assert_eq!(stage.miner().len(), one.miner().len());
            assert_eq!(stage.unmatched(), one.unmatched());
            assert_eq!(counts.lines, lines.len() as u64);
            assert_eq!(counts.invalid_utf8, lines.len() as u64 / 6);
            assert_eq!(kept.len(), lines.len());
            assert_eq!(kept[2], String::from_utf8_lossy(&lines[2]));
        }
    }

    #[test]
    fn reading_into_batches_equals_pushing_lines() {
        let lines = sample();
        let mut input = Vec::new();
        for l in &lines {
            input.extend_from_slice(l);
            input.extend_from_slice(b"\r\n");
        }
        let mut pushed =
            ParallelKeyer::new(KeyExtractor::new(Format::Auto, Miner::default()), 1, false);
        for l in &lines {
            pushed.push(l);
        }
        let (_, expected, _, _) = pushed.finish();
        for threads in [1, 2] {
            let stage = KeyExtractor::new(Format::Auto, Miner::default());
            let mut keyer = ParallelKeyer::new(stage, threads, false);
            let mut reader =
                LineReader::new(io::BufReader::with_capacity(100, &input[..]), 1 << 16);
            while keyer.push_from(&mut reader).unwrap().is_some() {}
            let (_, keys, counts, _) = keyer.finish();
            assert_eq!(keys, expected, "{threads} threads");
            assert_eq!(counts.lines, lines.len() as u64);
        }
    }

    #[test]
    fn no_lines_no_keys() {
        let keyer = ParallelKeyer::new(KeyExtractor::new(Format::Raw, Miner::default()), 2, false);
        let (_, keys, counts, _) = keyer.finish();
        assert!(keys.is_empty());
        assert_eq!(counts, Counts::default());
    }
}
