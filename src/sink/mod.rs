//! Sinks: where anomaly events go.
//!
//! Takes [`crate::score::alert::Alert`]s serialized once as JSON, writes one per line. For now:
//! `stdout` and `file` (JSONL, appended, flushed after every batch so that a file checkpoint
//! never runs ahead of the alerts it covers). A sink that fails is logged and counted; the
//! others still get the alert.

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
        }
    }
}

/// A sink could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[error("sink {id}: {path}: {source}")]
pub struct SinkError {
    /// The sink's id.
    pub id: String,
    /// What it writes to.
    pub path: String,
    /// Why.
    pub source: io::Error,
}

enum Output {
    Stdout(BufWriter<io::Stdout>),
    File(BufWriter<File>),
}

/// An open sink.
pub struct Sink {
    id: String,
    target: String,
    out: Output,
}

impl Sink {
    /// Opens the sink `id`.
    pub fn open(id: &str, cfg: &SinkConfig) -> Result<Self, SinkError> {
        let (target, out) = match cfg {
            SinkConfig::Stdout => (
                "stdout".to_string(),
                Output::Stdout(BufWriter::new(io::stdout())),
            ),
            SinkConfig::File(c) => {
                let err = |source| SinkError {
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
        };
        Ok(Self {
            id: id.to_string(),
            target,
            out,
        })
    }

    /// Writes one JSON document and a newline.
    pub fn write(&mut self, json: &[u8]) -> Result<(), SinkError> {
        let r = match &mut self.out {
            Output::Stdout(w) => w.write_all(json).and_then(|()| w.write_all(b"\n")),
            Output::File(w) => w.write_all(json).and_then(|()| w.write_all(b"\n")),
        };
        r.map_err(|source| self.error(source))
    }

    /// Hands everything written so far to the operating system.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        let r = match &mut self.out {
            Output::Stdout(w) => w.flush(),
            Output::File(w) => w.flush(),
        };
        r.map_err(|source| self.error(source))
    }

    fn error(&self, source: io::Error) -> SinkError {
        SinkError {
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
        let mut s = Sink::open("a", &cfg).unwrap();
        s.write(br#"{"x":1}"#).unwrap();
        s.flush().unwrap();
        let mut s = Sink::open("a", &cfg).unwrap();
        s.write(br#"{"x":2}"#).unwrap();
        s.flush().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"x\":1}\n{\"x\":2}\n"
        );
        let bad = SinkConfig::File(FileSinkConfig {
            path: path.join("under-a-file"),
        });
        let e = Sink::open("b", &bad).err().unwrap().to_string();
        assert!(
            e.starts_with("sink b: ") && e.contains("under-a-file"),
            "{e}"
        );
    }
}
