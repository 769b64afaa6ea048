//! The `http` source: NDJSON over HTTP POST, one JSON object per line with a `message` and
//! optionally `timestamp` (RFC 3339), `host` and `user`, which is what Vector's `http` sink
//! (`encoding.codec = "json"`, `framing.method = "newline_delimited"`) and Fluent Bit's `http`
//! output (`format json_lines`) send. A line that is not such an object is counted and skipped;
//! the others of the body are kept. The reply is 200 once the events are queued.

use serde::Deserialize;

/// `[sources.<id>] type = "http"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `IP:port` to listen on.
    pub address: String,
    /// The largest request body accepted, in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
}

fn default_max_body_bytes() -> usize {
    10 << 20
}

impl HttpConfig {
    /// Checks the address.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        self.address.parse::<std::net::SocketAddr>().map_err(|e| {
            (
                "address",
                format!("expected IP:port, got {:?}: {e}", self.address),
            )
        })?;
        if self.max_body_bytes == 0 {
            return Err(("max_body_bytes", "expected at least 1".into()));
        }
        Ok(())
    }
}
