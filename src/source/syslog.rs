//! The `syslog` source: RFC 3164 and RFC 5424 messages over UDP (one per datagram), TCP (octet
//! counting, `123 <34>1 …`, or newline framing, told apart per message by the first byte) or a
//! unix socket (datagram). The message is passed on whole: the keys stage decodes its header.
//!
//! [`bind`] and [`Bound::run`] are apart so that the agent fails at startup, with the address
//! and the reason, before it reports ready. Datagrams lose trailing line ends and NULs; TCP
//! streams are cut into messages by [`Framer`]; either way a message longer than `max_length`
//! is cut and flagged, and an empty one is skipped. Messages are sent in batches of up to
//! [`BATCH_LINES`], as soon as the socket has nothing more ready, without an ack (there is
//! nothing to checkpoint: what a sender sent is not sent again).
//!
//! TCP may be wrapped in TLS (`tls = { cert_file, key_file, ca_file }`, RFC 5425's transport;
//! with `ca_file`, clients must present a certificate signed by it); the handshake runs in the
//! connection's own task, bounded by [`HANDSHAKE_TIMEOUT`], so a slow client holds up nobody.
//!
//! A broken connection or a failed read is logged and counted under
//! `dante_source_errors_total{source}`; the other connections go on. The gauge
//! `dante_syslog_connections{source}` is the number of TCP connections being served; once
//! `connection_limit` are, further connections wait in the listen backlog. When the agent
//! stops, the source stops accepting and reading, sends what it read (a message cut short by
//! the stop is sent flagged), removes its unix socket file and returns.

use super::framing::{self, Framer};
use super::listeners::Listeners;
use super::tls::{TlsConfig, TlsError};
use super::{BATCH_LINES, Context, line_event};
use crate::event::Event;
use serde::Deserialize;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

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
    /// TCP: serve TLS with this certificate (and require client certificates from `ca_file`).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// unix: the socket file's permissions, as an octal string (`"0660"`): who may send.
    /// Default: `"0666"`, like `/dev/log`.
    #[serde(default)]
    pub socket_mode: Option<String>,
}

/// The permissions `socket_mode` asks for.
fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o777 && !digits.is_empty() => Ok(m),
        _ => Err(format!(
            "expected octal permissions such as \"0660\", got {text:?}"
        )),
    }
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
        if self.tls.is_some() && self.mode != Mode::Tcp {
            return Err(("tls", "TLS is only for mode = \"tcp\"".into()));
        }
        if let Some(m) = &self.socket_mode {
            if self.mode != Mode::Unix {
                return Err(("socket_mode", "only for mode = \"unix\"".into()));
            }
            parse_mode(m).map_err(|e| ("socket_mode", e))?;
        }
        Ok(())
    }
}

/// What can go wrong with the syslog source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyslogError {
    /// The address could not be bound (or is not an address).
    #[error("cannot bind {address} ({transport}): {}", os_reason(.reason))]
    Bind {
        /// The configured address.
        address: String,
        /// `udp`, `tcp` or `unix`.
        transport: &'static str,
        /// Why. In the message rather than a `source`, so that `{:#}` does not say it twice.
        reason: io::Error,
    },
    /// The TLS files are unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl SyslogError {
    /// The configuration key at fault, under the source's table.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Bind { .. } => "address",
            Self::Tls(e) => e.key,
        }
    }
}

/// An I/O error as a short lowercase reason: `permission denied`, not
/// `Permission denied (os error 13)`.
pub(crate) fn os_reason(e: &io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error ") {
        Some(i) if s.ends_with(')') => &s[..i],
        _ => &s[..],
    };
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Where a bound source receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalAddr {
    /// UDP or TCP.
    Inet(SocketAddr),
    /// A unix socket's path.
    Unix(PathBuf),
}

impl LocalAddr {
    /// The IP address and port, for UDP and TCP.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            Self::Inet(a) => Some(*a),
            Self::Unix(_) => None,
        }
    }
}

impl fmt::Display for LocalAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inet(a) => a.fmt(f),
            Self::Unix(p) => p.display().fmt(f),
        }
    }
}

/// A syslog source whose socket is bound, ready to [`run`](Bound::run).
pub struct Bound {
    socket: Socket,
    local: LocalAddr,
    max_length: usize,
    connection_limit: usize,
    tls: Option<TlsAcceptor>,
}

impl fmt::Debug for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bound")
            .field("local", &self.local)
            .field("max_length", &self.max_length)
            .field("connection_limit", &self.connection_limit)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum Socket {
    Udp(UdpSocket),
    Tcp(TcpListener),
    /// The guard removes the socket file when the source is done (or never ran).
    Unix(UnixDatagram, SocketFile),
}

/// Binds the socket `cfg` asks for: the error names the address, the transport and the reason.
pub async fn bind(cfg: &SyslogConfig) -> Result<Bound, SyslogError> {
    bind_kept(cfg, &Listeners::default()).await
}

/// [`bind`], taking up the socket `kept` holds for the address from the last run.
pub async fn bind_kept(cfg: &SyslogConfig, kept: &Listeners) -> Result<Bound, SyslogError> {
    let transport = match cfg.mode {
        Mode::Udp => "udp",
        Mode::Tcp => "tcp",
        Mode::Unix => "unix",
    };
    let fail = |reason| SyslogError::Bind {
        address: cfg.address.clone(),
        transport,
        reason,
    };
    let inet = || {
        cfg.address.parse::<SocketAddr>().map_err(|e| {
            fail(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("expected IP:port: {e}"),
            ))
        })
    };
    // The files first: a bad certificate fails the start before a port is taken.
    let tls = match &cfg.tls {
        Some(t) if cfg.mode == Mode::Tcp => Some(t.acceptor()?),
        _ => None,
    };
    let (socket, local) = match cfg.mode {
        Mode::Udp => {
            let s = kept.udp(inet()?).await.map_err(fail)?;
            let local = s.local_addr().map_err(fail)?;
            (Socket::Udp(s), LocalAddr::Inet(local))
        }
        Mode::Tcp => {
            let s = kept.tcp(inet()?).await.map_err(fail)?;
            let local = s.local_addr().map_err(fail)?;
            (Socket::Tcp(s), LocalAddr::Inet(local))
        }
        Mode::Unix => {
            let path = PathBuf::from(&cfg.address);
            let mode = match &cfg.socket_mode {
                Some(m) => parse_mode(m)
                    .map_err(|e| fail(io::Error::new(io::ErrorKind::InvalidInput, e)))?,
                None => 0o666,
            };
            let (s, file) = bind_unix(&path, mode).map_err(fail)?;
            (Socket::Unix(s, file), LocalAddr::Unix(path))
        }
    };
    Ok(Bound {
        socket,
        local,
        max_length: cfg.max_length.max(1),
        connection_limit: cfg.connection_limit.max(1),
        tls,
    })
}

/// Binds a unix datagram socket at `path`, first removing a socket file nobody receives on (left
/// by a process that died). A live socket or a file that is not a socket is left alone.
fn bind_unix(path: &Path, mode: u32) -> io::Result<(UnixDatagram, SocketFile)> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            let probe = std::os::unix::net::UnixDatagram::unbound()?;
            match probe.connect(path) {
                Ok(()) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        "another process receives on this socket",
                    ));
                }
                // Refused: no process behind the file, it is stale.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    std::fs::remove_file(path)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let socket = UnixDatagram::bind(path)?;
    let file = SocketFile::new(path);
    // The process umask (0077 under the systemd unit) would leave the socket to dante alone.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok((socket, file))
}

/// Removes the socket file when dropped, if it is still the one this source made (another
/// process may have taken the path over since).
#[derive(Debug)]
struct SocketFile {
    path: PathBuf,
    id: Option<(u64, u64)>,
}

impl SocketFile {
    fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            id: file_id(path),
        }
    }
}

fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if self.id.is_some() && file_id(&self.path) == self.id {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove syslog socket");
            }
        }
    }
}

impl Bound {
    /// Where the source receives: the bound IP and port (the real port when 0 was asked for),
    /// or the unix socket's path.
    pub fn local_addr(&self) -> LocalAddr {
        self.local.clone()
    }

    /// Receives until `cx.shutdown` is cancelled or the pipeline is gone.
    pub async fn run(self, cx: Context) -> Result<(), SyslogError> {
        match self.socket {
            Socket::Udp(s) => datagrams(Datagrams::Udp(s), self.max_length, &cx).await,
            Socket::Unix(s, file) => {
                datagrams(Datagrams::Unix(s), self.max_length, &cx).await;
                drop(file);
            }
            Socket::Tcp(l) => {
                let limits = (self.max_length, self.connection_limit);
                tcp(l, limits, self.tls, cx).await;
            }
        }
        Ok(())
    }
}

/// A datagram socket: a closed set rather than a trait, so that the futures stay `Send`.
enum Datagrams {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

impl Datagrams {
    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Udp(s) => s.recv_from(buf).await.map(|(n, _)| n),
            Self::Unix(s) => s.recv(buf).await,
        }
    }

    fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Udp(s) => s.try_recv_from(buf).map(|(n, _)| n),
            Self::Unix(s) => s.try_recv(buf),
        }
    }
}

/// The most a datagram read takes: a larger datagram is cut by the kernel (and flagged).
/// UDP payloads are below 64 KiB; unix datagrams are bounded by the sender's socket buffer.
const MAX_DATAGRAM: usize = 1 << 20;

/// After an error that may repeat (no file descriptors left), wait this long before trying
/// again rather than spin.
const ERROR_PAUSE: Duration = Duration::from_millis(100);

/// One message per datagram.
async fn datagrams(socket: Datagrams, max_len: usize, cx: &Context) {
    let mut buf = vec![0u8; max_len.saturating_add(1).clamp(64 * 1024, MAX_DATAGRAM)];
    let mut events = Vec::new();
    loop {
        let first = tokio::select! {
            biased;
            () = cx.shutdown.cancelled() => return,
            r = socket.recv(&mut buf) => r,
        };
        match first {
            Ok(n) => push_datagram(&buf, n, max_len, cx, &mut events),
            Err(e) => {
                count_error(cx, "syslog receive failed", &e);
                pause(cx).await;
            }
        }
        // Whatever else is ready goes in the same batch; the batch leaves once nothing is.
        while events.len() < BATCH_LINES {
            match socket.try_recv(&mut buf) {
                Ok(n) => push_datagram(&buf, n, max_len, cx, &mut events),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    count_error(cx, "syslog receive failed", &e);
                    break;
                }
            }
        }
        if !cx.send(std::mem::take(&mut events), None).await {
            return;
        }
    }
}

fn push_datagram(buf: &[u8], n: usize, max_len: usize, cx: &Context, events: &mut Vec<Event>) {
    // A full buffer means the kernel may have cut the datagram.
    let cut = n == buf.len();
    if let Some((msg, truncated)) = framing::datagram(&buf[..n], max_len) {
        events.push(line_event(&cx.id, msg, truncated || cut));
    }
}

/// How long a client has to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections, at most `limit` served at once, until shutdown; then waits for the
/// connections to send what they read.
async fn tcp(
    listener: TcpListener,
    (max_len, limit): (usize, usize),
    tls: Option<TlsAcceptor>,
    cx: Context,
) {
    // A token of the source's own, so that a connection that finds the pipeline gone can stop
    // the others and the accept loop without cancelling the whole agent.
    let mut cx = cx;
    cx.shutdown = cx.shutdown.child_token();
    let permits = Arc::new(Semaphore::new(limit));
    let mut connections = JoinSet::new();
    loop {
        // The permit comes first: past the limit, connections wait unaccepted in the backlog.
        let permit = tokio::select! {
            biased;
            () = cx.shutdown.cancelled() => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                // Never closed.
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            () = cx.shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let cx = cx.clone();
                match &tls {
                    None => connections.spawn(connection(stream, peer, max_len, cx, permit)),
                    Some(tls) => connections.spawn(tls_connection(
                        tls.clone(),
                        stream,
                        peer,
                        max_len,
                        cx,
                        permit,
                    )),
                };
            }
            Err(e) => {
                count_error(&cx, "syslog accept failed", &e);
                pause(&cx).await;
            }
        }
        // Reap finished connections so the set does not grow with every one ever served.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// How much one TCP read takes.
const READ_BUF: usize = 16 * 1024;

/// Completes the TLS handshake, then serves the connection.
async fn tls_connection(
    tls: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    max_len: usize,
    cx: Context,
    permit: OwnedSemaphorePermit,
) {
    let handshake = tokio::select! {
        biased;
        () = cx.shutdown.cancelled() => return,
        r = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)) => r,
    };
    match handshake {
        Ok(Ok(stream)) => connection(stream, peer, max_len, cx, permit).await,
        Ok(Err(e)) => count_error(&cx, "syslog TLS handshake failed", &e),
        Err(_) => count_error(
            &cx,
            "syslog TLS handshake failed",
            &io::Error::new(io::ErrorKind::TimedOut, "timed out"),
        ),
    }
}

/// What the stream has ready now, without waiting: `None` when nothing is.
fn read_ready<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> Option<io::Result<usize>> {
    // A no-op waker: the next awaited read registers the real one.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut rb = ReadBuf::new(buf);
    match Pin::new(stream).poll_read(&mut cx, &mut rb) {
        Poll::Ready(Ok(())) => Some(Ok(rb.filled().len())),
        Poll::Ready(Err(e)) => Some(Err(e)),
        Poll::Pending => None,
    }
}

/// Serves one TCP (or TLS) connection until it ends, fails, or the source stops.
async fn connection<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    max_len: usize,
    cx: Context,
    _permit: OwnedSemaphorePermit,
) {
    let _gauge = ConnectionGauge::new(&cx.id);
    let mut framer = Framer::new(max_len);
    let mut buf = vec![0u8; READ_BUF];
    let mut events = Vec::new();
    let mut open = true;
    while open {
        let first = tokio::select! {
            biased;
            () = cx.shutdown.cancelled() => None,
            r = stream.read(&mut buf) => Some(r),
        };
        open = match first {
            Some(r) => take(r, &buf, &mut framer, &mut events, &cx, peer),
            None => {
                // Stopping: what was read of a message is still sent.
                framer.finish(&mut |m, t| events.push(line_event(&cx.id, m, t)));
                false
            }
        };
        // Whatever else is ready goes in the same batch; the batch leaves once nothing is.
        while open && events.len() < BATCH_LINES {
            match read_ready(&mut stream, &mut buf) {
                None => break,
                Some(r) => open = take(r, &buf, &mut framer, &mut events, &cx, peer),
            }
        }
        if !cx.send_all(std::mem::take(&mut events)).await {
            cx.shutdown.cancel();
            return;
        }
    }
}

/// Frames what a read returned; false once the connection is over (its end or an error).
fn take(
    read: io::Result<usize>,
    buf: &[u8],
    framer: &mut Framer,
    events: &mut Vec<Event>,
    cx: &Context,
    peer: SocketAddr,
) -> bool {
    let mut out = |m: &[u8], t: bool| events.push(line_event(&cx.id, m, t));
    match read {
        Ok(0) => {
            framer.finish(&mut out);
            false
        }
        Ok(n) => {
            framer.push(&buf[..n], &mut out);
            true
        }
        Err(e) => {
            tracing::warn!(source = %cx.id, %peer, error = %e, "syslog connection broken");
            metrics::counter!("dante_source_errors_total", "source" => cx.id.clone()).increment(1);
            framer.finish(&mut out);
            false
        }
    }
}

/// `dante_syslog_connections{source}`, one up while this lives.
struct ConnectionGauge(metrics::Gauge);

impl ConnectionGauge {
    fn new(id: &str) -> Self {
        let g = metrics::gauge!("dante_syslog_connections", "source" => id.to_string());
        g.increment(1.0);
        Self(g)
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

fn count_error(cx: &Context, what: &'static str, e: &io::Error) {
    tracing::warn!(source = %cx.id, error = %e, "{what}");
    metrics::counter!("dante_source_errors_total", "source" => cx.id.clone()).increment(1);
}

/// Waits [`ERROR_PAUSE`], or less if the source is stopping.
async fn pause(cx: &Context) {
    tokio::select! {
        () = cx.shutdown.cancelled() => {}
        () = tokio::time::sleep(ERROR_PAUSE) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Batch;
    use tokio::io::AsyncWriteExt;
    use tokio::sync::mpsc;
    use tokio::time::timeout;

    /// Long enough for a loaded machine; tests wait for events, never for a time.
    const DEADLINE: Duration = Duration::from_secs(20);

    fn context() -> (Context, mpsc::Receiver<Batch>) {
        crate::source::test_context("sys", 2)
    }

    fn config(mode: Mode, address: &str, max_length: usize) -> SyslogConfig {
        SyslogConfig {
            mode,
            address: address.into(),
            max_length,
            connection_limit: 8,
            tls: None,
            socket_mode: None,
        }
    }

    /// Binds and runs a source; its context (to stop it), its batches and its task.
    async fn start(
        cfg: SyslogConfig,
    ) -> (
        LocalAddr,
        Context,
        mpsc::Receiver<Batch>,
        tokio::task::JoinHandle<Result<(), SyslogError>>,
    ) {
        let bound = bind(&cfg).await.unwrap();
        let addr = bound.local_addr();
        let (cx, rx) = context();
        let task = tokio::spawn(bound.run(cx.clone()));
        (addr, cx, rx, task)
    }

    /// The next `n` events, acknowledging their batches.
    async fn events(rx: &mut mpsc::Receiver<Batch>, n: usize) -> Vec<Event> {
        let mut got = Vec::new();
        while got.len() < n {
            let batch = timeout(DEADLINE, rx.recv())
                .await
                .expect("events in time")
                .expect("source still running");
            assert_eq!(batch.source, 2);
            assert!(batch.events.len() <= BATCH_LINES);
            got.extend(batch.events);
            if let Some(ack) = batch.ack {
                ack.done();
            }
        }
        got
    }

    fn messages(events: &[Event]) -> Vec<(&str, bool)> {
        events
            .iter()
            .map(|e| {
                assert!(e.header_pending);
                (e.message.as_str(), e.truncated)
            })
            .collect()
    }

    async fn stop(cx: &Context, task: tokio::task::JoinHandle<Result<(), SyslogError>>) {
        cx.shutdown.cancel();
        timeout(DEADLINE, task)
            .await
            .expect("stops in time")
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn udp_one_message_per_datagram() {
        let (addr, cx, mut rx, task) = start(config(Mode::Udp, "127.0.0.1:0", 16)).await;
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = addr.inet().unwrap();
        for d in [
            &b"<13>one\n"[..],
            b"<13>two\r\n",
            b"<13>three\0",
            b"\n",
            b"<13>a very long message indeed",
            b"<13>bad \xff utf8",
        ] {
            client.send_to(d, to).await.unwrap();
        }
        let got = events(&mut rx, 5).await;
        assert_eq!(
            messages(&got),
            [
                ("<13>one", false),
                ("<13>two", false),
                ("<13>three", false),
                ("<13>a very long ", true),
                ("<13>bad \u{FFFD} utf8", false),
            ]
        );
        stop(&cx, task).await;
    }

    #[tokio::test]
    async fn udp_source_returns_when_the_pipeline_is_gone() {
        let (addr, _cx, rx, task) = start(config(Mode::Udp, "127.0.0.1:0", 100)).await;
        drop(rx);
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client
            .send_to(b"<13>x", addr.inet().unwrap())
            .await
            .unwrap();
        timeout(DEADLINE, task).await.unwrap().unwrap().unwrap();
    }

    #[tokio::test]
    async fn tls_with_client_certificates() {
        use crate::source::tls::tests::{connector, server};
        use tokio_rustls::rustls::pki_types::ServerName;
        let mut cfg = config(Mode::Tcp, "127.0.0.1:0", 100);
        cfg.tls = Some(server(true));
        let (addr, cx, mut rx, task) = start(cfg).await;
        let to = addr.inet().unwrap();
        let name = || ServerName::try_from("localhost").unwrap();
        // Refused: a plain TCP client, and a TLS client without a certificate.
        let mut plain = TcpStream::connect(to).await.unwrap();
        plain.write_all(b"<13>plain\n").await.unwrap();
        drop(plain);
        let anonymous = TcpStream::connect(to).await.unwrap();
        if let Ok(mut s) = connector(false).connect(name(), anonymous).await {
            // TLS 1.3 reports the refusal on the first read or write after the handshake.
            let _ = s.write_all(b"<13>anonymous\n").await;
            let _ = s.shutdown().await;
        }
        // Served: a client with a certificate the CA signed, a message split across writes.
        let tcp = TcpStream::connect(to).await.unwrap();
        let mut s = connector(true).connect(name(), tcp).await.unwrap();
        for w in [&b"<13>one\n<13>tw"[..], b"o\n19 <13>1 - h a - - - x"] {
            s.write_all(w).await.unwrap();
            s.flush().await.unwrap();
        }
        s.shutdown().await.unwrap();
        let got = events(&mut rx, 3).await;
        assert_eq!(
            messages(&got),
            [
                ("<13>one", false),
                ("<13>two", false),
                ("<13>1 - h a - - - x", false)
            ]
        );
        stop(&cx, task).await;
    }

    #[tokio::test]
    async fn tls_needs_tcp_and_usable_files() {
        use crate::source::tls::tests::server;
        let mut cfg = config(Mode::Udp, "127.0.0.1:0", 100);
        cfg.tls = Some(server(false));
        assert_eq!(cfg.validate().unwrap_err().0, "tls");
        let mut cfg = config(Mode::Tcp, "127.0.0.1:0", 100);
        let mut tls = server(false);
        tls.key_file = "/nonexistent/key.pem".into();
        cfg.tls = Some(tls);
        let e = bind(&cfg).await.unwrap_err();
        assert_eq!(e.key(), "tls.key_file");
        assert!(e.to_string().contains("/nonexistent/key.pem"), "{e}");
    }

    async fn tcp_send(addr: &LocalAddr, writes: &[&[u8]]) {
        let mut s = TcpStream::connect(addr.inet().unwrap()).await.unwrap();
        s.set_nodelay(true).unwrap();
        for w in writes {
            s.write_all(w).await.unwrap();
            s.flush().await.unwrap();
        }
        s.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn tcp_octet_counting_newline_framing_and_a_mix() {
        let (addr, cx, mut rx, task) = start(config(Mode::Tcp, "127.0.0.1:0", 1000)).await;
        tcp_send(&addr, &[b"8 <13>one\n7 <13>two\n"]).await;
        assert_eq!(
            messages(&events(&mut rx, 2).await),
            [("<13>one", false), ("<13>two", false)]
        );
        tcp_send(&addr, &[b"<13>three\n<13>four\r\n<13>five"]).await;
        assert_eq!(
            messages(&events(&mut rx, 3).await),
            [
                ("<13>three", false),
                ("<13>four", false),
                ("<13>five", false)
            ]
        );
        tcp_send(&addr, &[b"<13>six\n7 <13>sev<13>eight\n8 <13>nine"]).await;
        assert_eq!(
            messages(&events(&mut rx, 4).await),
            [
                ("<13>six", false),
                ("<13>sev", false),
                ("<13>eight", false),
                ("<13>nine", false)
            ]
        );
        stop(&cx, task).await;
    }

    #[tokio::test]
    async fn tcp_message_split_across_many_writes() {
        let (addr, cx, mut rx, task) = start(config(Mode::Tcp, "127.0.0.1:0", 1000)).await;
        let input = b"26 <13>1 2024-05-01T00:00:00Z<13>second\n";
        let writes: Vec<&[u8]> = input.chunks(1).collect();
        tcp_send(&addr, &writes).await;
        assert_eq!(
            messages(&events(&mut rx, 2).await),
            [("<13>1 2024-05-01T00:00:00Z", false), ("<13>second", false)]
        );
        stop(&cx, task).await;
    }

    #[tokio::test]
    async fn tcp_oversize_utf8_and_nul() {
        let (addr, cx, mut rx, task) = start(config(Mode::Tcp, "127.0.0.1:0", 10)).await;
        let mut long = b"<13>".to_vec();
        long.extend(std::iter::repeat_n(b'x', 100_000));
        long.push(b'\n');
        tcp_send(
            &addr,
            &[
                &long,
                b"<13>next\n<13>\xfe\xff\0<13>nul\0",
                b"50 <13>0123456789",
            ],
        )
        .await;
        assert_eq!(
            messages(&events(&mut rx, 5).await),
            [
                ("<13>xxxxxx", true),
                ("<13>next", false),
                ("<13>\u{FFFD}\u{FFFD}", false),
                ("<13>nul", false),
                // The stream ended inside a counted message: what came is sent, flagged.
                ("<13>012345", true),
            ]
        );
        stop(&cx, task).await;
    }

    #[tokio::test]
    async fn tcp_connections_past_the_limit_wait() {
        let mut cfg = config(Mode::Tcp, "127.0.0.1:0", 100);
        cfg.connection_limit = 1;
        let (addr, cx, mut rx, task) = start(cfg).await;
        let to = addr.inet().unwrap();
        let mut first = TcpStream::connect(to).await.unwrap();
        first.write_all(b"<13>first\n").await.unwrap();
        assert_eq!(messages(&events(&mut rx, 1).await), [("<13>first", false)]);
        let mut second = TcpStream::connect(to).await.unwrap();
        second.write_all(b"<13>second\n").await.unwrap();
        // Not served while the first is open (a negative check: a slow machine cannot fail it).
        assert!(
            timeout(Duration::from_millis(300), rx.recv())
                .await
                .is_err()
        );
        drop(first);
        assert_eq!(messages(&events(&mut rx, 1).await), [("<13>second", false)]);
        drop(second);
        stop(&cx, task).await;
    }

    #[tokio::test]
    async fn tcp_stop_sends_what_was_read() {
        let (addr, cx, mut rx, task) = start(config(Mode::Tcp, "127.0.0.1:0", 100)).await;
        let mut s = TcpStream::connect(addr.inet().unwrap()).await.unwrap();
        s.write_all(b"<13>whole\n<13>partial").await.unwrap();
        assert_eq!(messages(&events(&mut rx, 1).await), [("<13>whole", false)]);
        cx.shutdown.cancel();
        assert_eq!(
            messages(&events(&mut rx, 1).await),
            [("<13>partial", false)]
        );
        timeout(DEADLINE, task).await.unwrap().unwrap().unwrap();
    }

    #[tokio::test]
    async fn unix_datagrams_and_the_socket_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        // A stale socket file, as a crashed agent leaves it.
        drop(std::os::unix::net::UnixDatagram::bind(&path).unwrap());
        assert!(path.exists());
        let address = path.to_str().unwrap();
        let (addr, cx, mut rx, task) = start(config(Mode::Unix, address, 100)).await;
        assert_eq!(addr, LocalAddr::Unix(path.clone()));
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o666, "{mode:o}");
        }
        // A second source on the same live socket is refused.
        let err = bind(&config(Mode::Unix, address, 100)).await.unwrap_err();
        assert!(err.to_string().contains("(unix)"), "{err}");
        let client = std::os::unix::net::UnixDatagram::unbound().unwrap();
        client.send_to(b"<13>one\n", &path).unwrap();
        client.send_to(b"<13>two", &path).unwrap();
        assert_eq!(
            messages(&events(&mut rx, 2).await),
            [("<13>one", false), ("<13>two", false)]
        );
        stop(&cx, task).await;
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn unix_socket_mode_is_set_and_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let mut cfg = config(Mode::Unix, path.to_str().unwrap(), 100);
        cfg.socket_mode = Some("0620".into());
        cfg.validate().unwrap();
        let bound = bind(&cfg).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o620, "{mode:o}");
        drop(bound);
        for bad in ["rw", "0999", "", "01777"] {
            cfg.socket_mode = Some(bad.into());
            assert_eq!(cfg.validate().unwrap_err().0, "socket_mode", "{bad}");
        }
        let mut tcp = config(Mode::Tcp, "127.0.0.1:0", 100);
        tcp.socket_mode = Some("0600".into());
        assert_eq!(tcp.validate().unwrap_err().0, "socket_mode");
    }

    #[tokio::test]
    async fn unix_path_that_is_not_a_socket_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-socket");
        std::fs::write(&path, "keep me").unwrap();
        let err = bind(&config(Mode::Unix, path.to_str().unwrap(), 100))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("is not a socket"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    }

    #[tokio::test]
    async fn bind_errors_name_the_address_and_the_reason() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = taken.local_addr().unwrap().to_string();
        let err = bind(&config(Mode::Tcp, &address, 100)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot bind {address} (tcp): address already in use")
        );
        let err = bind(&config(Mode::Udp, "nowhere", 100)).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot bind nowhere (udp): expected IP:port")
        );
    }

    #[test]
    fn os_reasons_are_short() {
        let e = io::Error::from_raw_os_error(13);
        assert_eq!(os_reason(&e), "permission denied");
    }
}
