//! The `stdin` source: lines from standard input until it ends.

use serde::Deserialize;

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
