//! Sinks: where anomaly events go.
//!
//! Takes [`crate::score::alert::Alert`]s serialized once as JSON. `stdout` and `file` write one
//! per line (JSONL, appended, flushed after every batch so that a file checkpoint never runs
//! ahead of the alerts it covers). `webhook` appends them to a disk queue ([`queue`]), flushed
//! (and fsynced) at the same point, and a [`webhook::Delivery`] task posts them
//! ([`format`]) at least once. A sink that fails is logged and counted; the others still get
//! the alert.

pub mod format;
pub mod queue;
pub mod webhook;

use serde::Deserialize;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// One sink's configuration: `[sinks.<id>]` with a `type`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SinkConfig {
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines appended to a file.
    File(FileSinkConfig),
    /// HTTP posts through a disk queue.
    Webhook(Box<webhook::WebhookConfig>),
}

/// `[sinks.<id>] type = "file"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// The file alerts are appended to (created with its directory when missing).
    pub path: PathBuf,
}

impl SinkConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match self {
            Self::Stdout => Ok(()),
            Self::File(c) if c.path.as_os_str().is_empty() => {
                Err(("path", "expected a file path".into()))
            }
            Self::File(_) => Ok(()),
            Self::Webhook(c) => c.validate(),
        }
    }
}

/// A sink could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Writing failed.
    #[error("sink {id}: {path}: {source}")]
    Io {
        /// The sink's id.
        id: String,
        /// What it writes to.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// A webhook sink's setting is unusable at run time (a secret unset, a CA file unreadable).
    #[error(transparent)]
    Setup(#[from] webhook::SetupError),
}

enum Output {
    Stdout(BufWriter<io::Stdout>),
    File(BufWriter<File>),
    Queue(queue::Writer),
}

/// An open sink.
pub struct Sink {
    id: String,
    target: String,
    out: Output,
}

impl Sink {
    /// Opens the sink `id` (a webhook's queue under `data_dir`); for a webhook, also its
    /// delivery task, to be run.
    pub fn open(
        id: &str,
        cfg: &SinkConfig,
        data_dir: &Path,
    ) -> Result<(Self, Option<webhook::Delivery>), SinkError> {
        let mut delivery = None;
        let (target, out) = match cfg {
            SinkConfig::Stdout => (
                "stdout".to_string(),
                Output::Stdout(BufWriter::new(io::stdout())),
            ),
            SinkConfig::File(c) => {
                let err = |source| SinkError::Io {
                    id: id.to_string(),
                    path: c.path.display().to_string(),
                    source,
                };
                if let Some(dir) = c.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(err)?;
                }
                let f = open_append(&c.path).map_err(err)?;
                (
                    c.path.display().to_string(),
                    Output::File(BufWriter::new(f)),
                )
            }
            SinkConfig::Webhook(c) => {
                let (writer, d) = webhook::open(id, c, data_dir)?;
                delivery = Some(d);
                (
                    data_dir.join("queue").join(id).display().to_string(),
                    Output::Queue(writer),
                )
            }
        };
        let sink = Self {
            id: id.to_string(),
            target,
            out,
        };
        Ok((sink, delivery))
    }

    /// Writes one JSON document and a newline (a webhook: queues it; a full queue blocks or
    /// drops, as configured — a drop is counted, not an error).
    pub fn write(&mut self, json: &[u8]) -> Result<(), SinkError> {
        let r = match &mut self.out {
            Output::Stdout(w) => w.write_all(json).and_then(|()| w.write_all(b"\n")),
            Output::File(w) => w.write_all(json).and_then(|()| w.write_all(b"\n")),
            Output::Queue(q) => match q.append(json) {
                Ok(()) | Err(queue::AppendError::Dropped) => Ok(()),
                Err(e) => Err(io::Error::other(e.to_string())),
            },
        };
        r.map_err(|source| self.error(source))
    }

    /// Hands everything written so far to the operating system (a webhook's queue: to the
    /// disk, under `fsync = "batch"`).
    pub fn flush(&mut self) -> Result<(), SinkError> {
        let r = match &mut self.out {
            Output::Stdout(w) => w.flush(),
            Output::File(w) => w.flush(),
            Output::Queue(q) => q.flush().map_err(|e| io::Error::other(e.to_string())),
        };
        r.map_err(|source| self.error(source))
    }

    fn error(&self, source: io::Error) -> SinkError {
        SinkError::Io {
            id: self.id.clone(),
            path: self.target.clone(),
            source,
        }
    }

    /// The sink's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sink_appends_lines_and_reports_bad_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/alerts.jsonl");
        let cfg = SinkConfig::File(FileSinkConfig { path: path.clone() });
        let mut s = Sink::open("a", &cfg, dir.path()).unwrap().0;
        s.write(br#"{"x":1}"#).unwrap();
        s.flush().unwrap();
        let mut s = Sink::open("a", &cfg, dir.path()).unwrap().0;
        s.write(br#"{"x":2}"#).unwrap();
        s.flush().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"x\":1}\n{\"x\":2}\n"
        );
        let bad = SinkConfig::File(FileSinkConfig {
            path: path.join("under-a-file"),
        });
        let e = Sink::open("b", &bad, dir.path()).err().unwrap().to_string();
        assert!(
            e.starts_with("sink b: ") && e.contains("under-a-file"),
            "{e}"
        );
    }
}
