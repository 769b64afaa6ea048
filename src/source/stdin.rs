//! The `stdin` source: lines from standard input until it ends.
//!
//! Lines are read with the capped [`LineReader`] on a thread of their own and sent in batches
//! of up to [`BATCH_LINES`], a batch leaving as soon as no more lines are waiting. The end of
//! input ends the source.
//!
//! A blocking read cannot be cancelled: when the agent stops, the source sends the lines
//! already read and returns, but the thread stays blocked in its read until a line or the end
//! of input comes (then finds the source gone and ends) or the process exits. It is a plain
//! thread rather than tokio's `spawn_blocking` for that reason: the runtime waits for its
//! blocking tasks when it shuts down, and would hang on a terminal nobody types into.

use super::lines::LineReader;
use super::{BATCH_LINES, Context, line_event};
use crate::event::Event;
use serde::Deserialize;
use std::io::{self, BufRead};
use tokio::sync::mpsc;

/// `[sources.<id>] type = "stdin"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinConfig {
    /// Lines longer than this are cut (and flagged).
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// The header format of the lines (as `dante parse --format`).
    #[serde(default = "super::file::default_format")]
    pub format: String,
}

fn default_max_line_bytes() -> usize {
    super::lines::DEFAULT_MAX_LINE_BYTES
}

impl StdinConfig {
    /// Nothing to check beyond the types.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_line_bytes == 0 {
            return Err(("max_line_bytes", "expected at least 1".into()));
        }
        Ok(())
    }
}

/// What can go wrong with the stdin source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StdinError {
    /// The reading thread could not be started.
    #[error("cannot start the stdin reader thread: {0}")]
    Thread(#[source] io::Error),
    /// Standard input failed (the lines before the failure were sent).
    #[error("cannot read standard input: {0}")]
    Read(#[source] io::Error),
}

/// Sends the lines of standard input until it ends (`Ok`) or fails, or the agent stops.
pub async fn run(cfg: StdinConfig, cx: Context) -> Result<(), StdinError> {
    run_reader(|| io::stdin().lock(), cfg.max_line_bytes, cx).await
}

/// What the reading thread tells the source.
enum Read {
    Line(Event),
    Failed(io::Error),
}

/// Sends the lines of the reader `open` makes (on the reading thread: a locked stdin cannot
/// move between threads).
async fn run_reader<R, F>(open: F, max_line_bytes: usize, cx: Context) -> Result<(), StdinError>
where
    R: BufRead,
    F: FnOnce() -> R + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel(BATCH_LINES);
    let id = cx.id.clone();
    std::thread::Builder::new()
        .name(format!("dante-stdin-{id}"))
        .spawn(move || {
            let result = read_lines(open(), max_line_bytes, &id, |e| {
                tx.blocking_send(Read::Line(e)).is_ok()
            });
            if let Err(e) = result {
                // Nobody to tell if the source is gone: the error dies with it.
                let _ = tx.blocking_send(Read::Failed(e));
            }
        })
        .map_err(StdinError::Thread)?;
    let mut batch = Vec::new();
    loop {
        let first = tokio::select! {
            biased;
            () = cx.shutdown.cancelled() => {
                // Send what was read; the thread finds the channel closed on its next line.
                rx.close();
                while let Ok(Read::Line(e)) = rx.try_recv() {
                    batch.push(e);
                }
                cx.send(batch, None).await;
                return Ok(());
            }
            r = rx.recv() => r,
        };
        let mut failed = None;
        let mut ended = false;
        match first {
            Some(Read::Line(e)) => batch.push(e),
            Some(Read::Failed(e)) => failed = Some(e),
            None => ended = true,
        }
        // The lines already waiting go in the same batch; it leaves once none are.
        while failed.is_none() && !ended && batch.len() < BATCH_LINES {
            match rx.try_recv() {
                Ok(Read::Line(e)) => batch.push(e),
                Ok(Read::Failed(e)) => failed = Some(e),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => ended = true,
            }
        }
        if !cx.send(std::mem::take(&mut batch), None).await {
            return Ok(());
        }
        if let Some(e) = failed {
            metrics::counter!("dante_source_errors_total", "source" => cx.id.clone()).increment(1);
            return Err(StdinError::Read(e));
        }
        if ended {
            return Ok(());
        }
    }
}

/// Reads capped lines from `reader` until its end, handing each to `emit` as an event; stops
/// early (`Ok`) when `emit` says the source is gone.
pub fn read_lines<R: BufRead>(
    reader: R,
    max_line_bytes: usize,
    id: &str,
    mut emit: impl FnMut(Event) -> bool,
) -> io::Result<()> {
    let mut lines = LineReader::new(reader, max_line_bytes);
    let mut buf = Vec::new();
    while let Some(info) = lines.read_line(&mut buf)? {
        if !emit(line_event(id, &buf, info.truncated)) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Batch;
    use std::io::Cursor;
    use std::time::Duration;
    use tokio::time::timeout;

    const DEADLINE: Duration = Duration::from_secs(20);

    fn context() -> (Context, mpsc::Receiver<Batch>) {
        crate::source::test_context("in", 0)
    }

    #[test]
    fn lines_are_capped_and_decoded() {
        let mut got = Vec::new();
        read_lines(
            Cursor::new(b"<13>one\r\ntoo long a line\n\xffbad\nlast".to_vec()),
            8,
            "in",
            |e| {
                got.push(e);
                true
            },
        )
        .unwrap();
        let got: Vec<(&str, bool, bool)> = got
            .iter()
            .map(|e| (e.message.as_str(), e.truncated, e.header_pending))
            .collect();
        assert_eq!(
            got,
            [
                ("<13>one", false, true),
                ("too long", true, true),
                ("\u{FFFD}bad", false, true),
                ("last", false, true),
            ]
        );
    }

    #[tokio::test]
    async fn all_lines_arrive_in_batches_and_the_end_ends_the_source() {
        let (cx, mut rx) = context();
        let n = 3 * BATCH_LINES + 5;
        let input: String = (0..n).map(|i| format!("line {i}\n")).collect();
        let task = tokio::spawn(run_reader(move || Cursor::new(input.into_bytes()), 100, cx));
        let mut got = Vec::new();
        while let Some(batch) = timeout(DEADLINE, rx.recv()).await.unwrap() {
            assert!(!batch.events.is_empty() && batch.events.len() <= BATCH_LINES);
            got.extend(batch.events.into_iter().map(|e| e.message));
            if let Some(ack) = batch.ack {
                ack.done();
            }
        }
        assert_eq!(got.len(), n);
        assert_eq!(got[n - 1], format!("line {}", n - 1));
        timeout(DEADLINE, task).await.unwrap().unwrap().unwrap();
    }

    /// A reader that fails after its first line.
    struct Failing(bool);

    impl io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            unreachable!("read through BufRead")
        }
    }

    impl BufRead for Failing {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            if self.0 {
                Err(io::Error::other("disk on fire"))
            } else {
                Ok(b"first\n")
            }
        }
        fn consume(&mut self, _: usize) {
            self.0 = true;
        }
    }

    #[tokio::test]
    async fn a_read_error_ends_the_source_after_the_lines_before_it() {
        let (cx, mut rx) = context();
        let result = timeout(DEADLINE, run_reader(|| Failing(false), 100, cx))
            .await
            .unwrap();
        assert!(matches!(result, Err(StdinError::Read(_))));
        let batch = rx.recv().await.unwrap();
        assert_eq!(batch.events[0].message, "first");
    }

    /// A reader that gives one line, then blocks until told to end.
    struct Blocking {
        first: bool,
        release: std::sync::mpsc::Receiver<()>,
    }

    impl io::Read for Blocking {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            unreachable!("read through BufRead")
        }
    }

    impl BufRead for Blocking {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            if self.first {
                return Ok(b"before the stop\n");
            }
            // Blocks like a terminal nobody types into; the test's end releases it.
            let _ = self.release.recv();
            Ok(b"")
        }
        fn consume(&mut self, _: usize) {
            self.first = false;
        }
    }

    #[tokio::test]
    async fn stopping_returns_despite_a_blocked_read() {
        let (cx, mut rx) = context();
        let (release, blocked) = std::sync::mpsc::channel();
        let task = tokio::spawn(run_reader(
            move || Blocking {
                first: true,
                release: blocked,
            },
            100,
            cx.clone(),
        ));
        let batch = timeout(DEADLINE, rx.recv()).await.unwrap().unwrap();
        assert_eq!(batch.events[0].message, "before the stop");
        cx.shutdown.cancel();
        timeout(DEADLINE, task).await.unwrap().unwrap().unwrap();
        drop(release);
    }
}
