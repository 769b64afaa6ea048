//! The `syslog` source: RFC 3164 and RFC 5424 messages over UDP (one per datagram), TCP (octet
//! counting, `123 <34>1 …`, or newline framing, told apart per message by the first byte) or a
//! unix socket (datagram). The message is passed on whole: the keys stage decodes its header.

use serde::Deserialize;

/// The transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Datagrams on a UDP socket.
    Udp,
    /// A TCP listener.
    Tcp,
    /// A unix datagram socket (the path in `address`).
    Unix,
}

/// `[sources.<id>] type = "syslog"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// The transport.
    pub mode: Mode,
    /// `IP:port` for UDP and TCP, a socket path for unix.
    pub address: String,
    /// Messages longer than this are cut (and flagged).
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    /// TCP: the most connections served at once; more wait.
    #[serde(default = "default_connection_limit")]
    pub connection_limit: usize,
}

fn default_max_length() -> usize {
    super::lines::DEFAULT_MAX_LINE_BYTES
}

fn default_connection_limit() -> usize {
    256
}

impl SyslogConfig {
    /// Checks the address against the mode.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match self.mode {
            Mode::Udp | Mode::Tcp => {
                self.address.parse::<std::net::SocketAddr>().map_err(|e| {
                    (
                        "address",
                        format!("expected IP:port, got {:?}: {e}", self.address),
                    )
                })?;
            }
            Mode::Unix => {
                if self.address.is_empty() {
                    return Err(("address", "expected a socket path".into()));
                }
            }
        }
        if self.max_length == 0 {
            return Err(("max_length", "expected at least 1".into()));
        }
        if self.connection_limit == 0 {
            return Err(("connection_limit", "expected at least 1".into()));
        }
        Ok(())
    }
}
