//! Sources: where lines come from.
//!
//! Gives [`Batch`]es of [`Event`]s whose `message` is still the whole line (`header_pending`,
//! the keys stage decodes the header) or, for the HTTP source, an already split message with its
//! host, time and user. The agent's sources, each a `type` in `[sources.<id>]`:
//!
//! - [`mod@file`]: tails files matched by globs, survives rotation (rename and copytruncate), keeps
//!   checkpoints that advance only when the pipeline acknowledged the lines;
//! - [`syslog`]: RFC 3164 / 5424 over UDP, TCP (octet counting or newline framing) or a unix
//!   socket;
//! - [`http`]: NDJSON over HTTP POST, as Vector's and Fluent Bit's `http` outputs send it;
//! - [`stdin`]: standard input.
//!
//! Bad input never stops a source: invalid UTF-8 is replaced (and counted), a line longer than
//! the limit is cut and flagged, an unreadable file or a broken connection is logged, counted and
//! skipped. Also here: [`lines`] (capped line reading), [`framing`] (syslog over a stream),
//! [`checkpoint`] (the file source's durable positions) and [`sessions`] (files of integer keys
//! for training and scoring the model).

pub mod checkpoint;
pub mod file;
pub mod framing;
pub mod http;
pub mod lines;
pub mod listeners;
pub mod sessions;
pub mod stdin;
pub mod syslog;
pub mod tls;

use crate::event::Event;
use serde::Deserialize;
use std::path::PathBuf;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One source's configuration: `[sources.<id>]` with a `type`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SourceConfig {
    /// Tail files.
    File(file::FileConfig),
    /// Receive syslog.
    Syslog(syslog::SyslogConfig),
    /// Receive NDJSON over HTTP.
    Http(http::HttpConfig),
    /// Read standard input.
    Stdin(stdin::StdinConfig),
}

impl SourceConfig {
    /// Checks what serde cannot (addresses, globs, formats): the key at fault and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match self {
            Self::File(c) => c.validate(),
            Self::Syslog(c) => c.validate(),
            Self::Http(c) => c.validate(),
            Self::Stdin(c) => c.validate(),
        }
    }

    /// The header format of the lines this source gives (`auto` unless configured).
    pub fn format(&self) -> &str {
        match self {
            Self::File(c) => &c.format,
            Self::Stdin(c) => &c.format,
            Self::Syslog(_) | Self::Http(_) => "auto",
        }
    }
}

/// Events a source read, in order, and what to do once they are through the pipeline.
#[derive(Debug)]
pub struct Batch {
    /// The index of the source (its position among the configured sources).
    pub source: usize,
    /// The events.
    pub events: Vec<Event>,
    /// Called once every event was scored and any alert handed to the sinks (file checkpoints
    /// advance here).
    pub ack: Option<Ack>,
}

/// A callback run when a batch is done.
pub struct Ack(Box<dyn FnOnce() + Send>);

impl Ack {
    /// An acknowledgement running `f`.
    pub fn new(f: impl FnOnce() + Send + 'static) -> Self {
        Self(Box::new(f))
    }

    /// The batch is done.
    pub fn done(self) {
        (self.0)()
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ack")
    }
}

/// What every running source gets.
#[derive(Debug, Clone)]
pub struct Context {
    /// The source's id (`[sources.<id>]`), for logs and metrics.
    pub id: String,
    /// Its index, put in every [`Batch`].
    pub index: usize,
    /// Where batches go (bounded: a full pipeline slows the source down).
    pub out: mpsc::Sender<Batch>,
    /// Cancelled when the agent stops: read no more, flush what was read, return.
    pub shutdown: CancellationToken,
    /// The agent's state directory (checkpoints live under it).
    pub data_dir: PathBuf,
}

impl Context {
    /// Sends a batch; false when the pipeline is gone (the agent is stopping).
    pub async fn send(&self, events: Vec<Event>, ack: Option<Ack>) -> bool {
        if events.is_empty() {
            if let Some(a) = ack {
                a.done();
            }
            return true;
        }
        metrics::counter!("dante_source_lines_total", "source" => self.id.clone())
            .increment(events.len() as u64);
        self.out
            .send(Batch {
                source: self.index,
                events,
                ack,
            })
            .await
            .is_ok()
    }
}

impl Context {
    /// Sends `events` in batches of at most [`BATCH_LINES`], without an ack; false when the
    /// pipeline is gone.
    pub async fn send_all(&self, events: Vec<Event>) -> bool {
        let mut rest = events.into_iter();
        loop {
            let batch: Vec<Event> = rest.by_ref().take(BATCH_LINES).collect();
            if batch.is_empty() {
                return true;
            }
            if !self.send(batch, None).await {
                return false;
            }
        }
    }
}

/// The event for one line as read: the message is the whole line, header still to decode.
/// Invalid UTF-8 is replaced (and counted under the source); NUL bytes stay, the keys stage
/// reads them as spaces.
pub fn line_event(id: &str, bytes: &[u8], truncated: bool) -> Event {
    let message = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            metrics::counter!("dante_source_invalid_utf8_total", "source" => id.to_string())
                .increment(1);
            String::from_utf8_lossy(bytes).into_owned()
        }
    };
    if truncated {
        metrics::counter!("dante_source_truncated_total", "source" => id.to_string()).increment(1);
    }
    Event {
        message,
        header_pending: true,
        truncated,
        ..Event::default()
    }
}

/// Lines at most this many per batch.
pub const BATCH_LINES: usize = 1024;

/// A context for a source under test: its batches come out of the receiver.
#[cfg(test)]
pub(crate) fn test_context(id: &str, index: usize) -> (Context, mpsc::Receiver<Batch>) {
    let (out, rx) = mpsc::channel(64);
    let cx = Context {
        id: id.into(),
        index,
        out,
        shutdown: CancellationToken::new(),
        data_dir: PathBuf::new(),
    };
    (cx, rx)
}
