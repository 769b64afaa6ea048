//! Session files: one session per line, its keys as space-separated integers in time order,
//! optionally prefixed by an id and a comma (`blk_123,5 5 22 11`), as DeepLog's HDFS data.
//!
//! A malformed line is an error that names the file and the line; an empty line is an empty
//! session (it still gets a row when scored).

use crate::keys::KeyId;
use std::fs;
use std::path::{Path, PathBuf};

/// A session file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line holds something other than integer keys.
    #[error("{path}:{line}: {token:?} is not a key (sessions are space-separated integers)")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending text.
        token: String,
    },
}

/// One session: its id (when the file gives one) and its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The id before the comma, if any.
    pub id: Option<String>,
    /// The keys, in order.
    pub keys: Vec<KeyId>,
}

/// Reads every session of `path`.
pub fn read(path: &Path) -> Result<Vec<Session>, SessionError> {
    let bytes = fs::read(path).map_err(|source| SessionError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    parse(&text, path)
}

/// Parses session lines; `path` only names the source in errors.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Session>, SessionError> {
    let mut out = Vec::new();
    let mut lines = text.split('\n').peekable();
    let mut n = 0;
    while let Some(line) = lines.next() {
        n += 1;
        // A final newline does not open one more session.
        if line.is_empty() && lines.peek().is_none() {
            break;
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (id, keys) = match line.split_once(',') {
            Some((id, rest)) => (Some(id.trim().to_string()), rest),
            None => (None, line),
        };
        let keys = keys
            .split_ascii_whitespace()
            .map(|t| {
                t.parse::<KeyId>().map_err(|_| SessionError::BadKey {
                    path: path.to_path_buf(),
                    line: n,
                    token: t.chars().take(40).collect(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Session { id, keys });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_id_prefixed_sessions() {
        let s = parse("5 5 22\nblk_1,11 9\r\n\n", Path::new("f")).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].keys, [5, 5, 22]);
        assert_eq!(s[1].id.as_deref(), Some("blk_1"));
        assert_eq!(s[1].keys, [11, 9]);
        assert!(s[2].keys.is_empty());
    }

    #[test]
    fn a_bad_key_names_file_and_line() {
        let err = parse("1 2\n3 x4 5\n", Path::new("sessions.txt")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sessions.txt:2: \"x4\" is not a key (sessions are space-separated integers)"
        );
        assert!(parse("-1", Path::new("f")).is_err());
    }
}
