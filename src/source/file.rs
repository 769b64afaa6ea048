//! The `file` source: tails files matched by globs.
//!
//! Polling is the source of truth (every `poll_interval_ms` the globs are expanded and every
//! watched file is read to its end); inotify (the `notify` crate) only wakes the poller early.
//! A file is known by its fingerprint (a checksum of its first bytes), not its name, so a file
//! renamed by rotation keeps its checkpoint and is read to its end, and the new file at the old
//! path starts from the beginning. A file that shrinks below its checkpoint was truncated in
//! place (copytruncate): it is read again from the start. A deleted file is released once read.
//! Checkpoints (fingerprint → offset) are written atomically to `data_dir/checkpoints/<id>.json`
//! and advance only when the pipeline acknowledged the lines. Only complete lines are sent: a
//! last line without its newline waits until the newline arrives or the file is rotated away.

use serde::Deserialize;

/// Where to start in a file that has no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadFrom {
    /// From its first line.
    Beginning,
    /// From its current end: only lines written from now on.
    #[default]
    End,
}

/// `[sources.<id>] type = "file"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Glob patterns of the files to tail (`/var/log/auth.log`, `/var/log/*.log`).
    pub include: Vec<String>,
    /// Glob patterns of files not to tail, even when `include` matches them.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Where to start in a file without a checkpoint.
    #[serde(default)]
    pub read_from: ReadFrom,
    /// Lines longer than this are cut (and flagged).
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// The header format of the lines (as `dante parse --format`).
    #[serde(default = "default_format")]
    pub format: String,
    /// How often the globs are expanded and the files read, in milliseconds.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
}

fn default_max_line_bytes() -> usize {
    super::lines::DEFAULT_MAX_LINE_BYTES
}

pub(crate) fn default_format() -> String {
    "auto".to_string()
}

fn default_poll_interval_ms() -> u64 {
    1000
}

impl FileConfig {
    /// Checks the globs.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.include.is_empty() {
            return Err(("include", "expected at least one glob".into()));
        }
        for g in &self.include {
            glob::Pattern::new(g).map_err(|e| ("include", format!("bad glob {g:?}: {e}")))?;
        }
        for g in &self.exclude {
            glob::Pattern::new(g).map_err(|e| ("exclude", format!("bad glob {g:?}: {e}")))?;
        }
        if self.max_line_bytes == 0 {
            return Err(("max_line_bytes", "expected at least 1".into()));
        }
        if self.poll_interval_ms == 0 {
            return Err(("poll_interval_ms", "expected at least 1".into()));
        }
        Ok(())
    }
}
