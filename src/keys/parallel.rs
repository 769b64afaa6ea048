//! Keying a stream of lines on several cores.
//!
//! Decoding headers and tokenising (most of the work) is pure, so worker threads do it batch by
//! batch and hand back each line's shape (the signature of its token sequence). The miner must see
//! lines in order, so it stays on the caller's thread: for a line of a shape it has seen, it only
//! counts it; only lines of new shapes are decoded and mined again there. Results are the same as
//! keying the lines one by one, in order.
//!
//! Memory is bounded: at most `2 × workers` batches of [`BATCH_LINES`] lines are in flight.

use super::token::{Tokens, tokenize};
use super::{Format, KeyExtractor, KeyId};
use std::collections::BTreeMap;
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

#[derive(Default)]
struct Batch {
    seq: u64,
    text: String,
    ends: Vec<u32>,
    shapes: Vec<Shape>,
}

impl Batch {
    fn lines(&self) -> impl Iterator<Item = &str> {
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
    /// thread.
    pub fn new(stage: KeyExtractor, threads: usize) -> Self {
        let mut keyer = Self {
            stage,
            keys: Vec::new(),
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
                keyer.workers.push(std::thread::spawn(move || {
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
                        shapes.extend(batch.lines().map(|l| shape(&format, l, &mut toks)));
                        batch.shapes = shapes;
                        if done.send(batch).is_err() {
                            return;
                        }
                    }
                }));
            }
            keyer.to_workers = Some(to_workers);
            keyer.from_workers = Some(from_workers);
        }
        keyer
    }

    /// Keys one line. Its key is final only after [`ParallelKeyer::finish`].
    pub fn push(&mut self, line: &str) {
        if self.to_workers.is_none() {
            let key = self.stage.key(line);
            self.keys.push(key);
            return;
        }
        self.current.text.push_str(line);
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
            self.mine_here(batch);
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
        while let Some(batch) = self.pending.remove(&self.mined) {
            for (line, shape) in batch.lines().zip(&batch.shapes) {
                let key = self.stage.key_shaped(line, *shape);
                self.keys.push(key);
            }
            self.mined += 1;
            self.recycle(batch);
        }
        true
    }

    fn mine_here(&mut self, batch: Batch) {
        for line in batch.lines() {
            let key = self.stage.key(line);
            self.keys.push(key);
        }
        self.mined += 1;
    }

    fn recycle(&mut self, mut batch: Batch) {
        batch.text.clear();
        batch.ends.clear();
        self.spare.push(batch);
    }

    /// Waits for every line to be keyed; returns the stage and one key per pushed line, in order.
    pub fn finish(mut self) -> (KeyExtractor, Vec<KeyId>) {
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
        // Batches a dead worker never returned: key them here, in order.
        assert_eq!(
            self.mined, self.sent,
            "a key worker stopped without panicking"
        );
        (self.stage, self.keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Miner;

    #[test]
    fn parallel_keys_equal_sequential_keys() {
        let lines: Vec<String> = (0..20_000)
            .map(|i| match i % 5 {
                0 => format!(
                    "Accepted password for user{} from 10.0.{}.{} port {} ssh2",
                    i % 7,
                    i % 9,
                    i % 13,
                    i
                ),
                1 => format!(
                    "session opened for user {} by (uid=0)",
                    ["alice", "bob", "carol", "dave"][i % 4]
                ),
                2 => format!(
                    "Dec 10 06:55:{:02} host sshd[{}]: Invalid user u{} from 1.2.3.4",
                    i % 60,
                    i,
                    i % 3
                ),
                3 => format!("disk {} full at {}%", ["sda", "sdb"][i % 2], i % 100),
                _ => format!("job {} finished in {}ms", i, i * 3),
            })
            .collect();
        let mut one = KeyExtractor::new(Format::Auto, Miner::default());
        let expected: Vec<KeyId> = lines.iter().map(|l| one.key(l)).collect();
        for threads in [1, 2, 3] {
            let mut keyer =
                ParallelKeyer::new(KeyExtractor::new(Format::Auto, Miner::default()), threads);
            for l in &lines {
                keyer.push(l);
            }
            let (stage, keys) = keyer.finish();
            assert_eq!(keys, expected, "{threads} threads");
            assert_eq!(stage.miner().len(), one.miner().len());
            assert_eq!(stage.unmatched(), one.unmatched());
        }
    }

    #[test]
    fn no_lines_no_keys() {
        let keyer = ParallelKeyer::new(KeyExtractor::new(Format::Raw, Miner::default()), 2);
        let (_, keys) = keyer.finish();
        assert!(keys.is_empty());
    }
}
