//! The `http` source: NDJSON over HTTP POST, one JSON object per line with a `message` and
//! optionally `timestamp` (RFC 3339), `host` and `user`, which is what Vector's `http` sink
//! (`encoding.codec = "json"`, `framing.method = "newline_delimited"`) and Fluent Bit's `http`
//! output (`format json_lines`) send. A line that is not such an object is counted and skipped;
//! the others of the body are kept. The reply is 200 once the events are queued.
//!
//! Also accepted, for the same senders' other settings: a body that is a JSON array of objects
//! (Vector's default `json` framing, Fluent Bit's `format json`), `log` in place of `message`
//! (Fluent Bit's usual key), `date` in place of `timestamp` (Fluent Bit's `json_date_key`), and
//! for either time a number of seconds since the epoch (fractions kept) as well as an RFC 3339
//! string (or one without an offset, read as UTC). Every POST is taken, whatever its path.
//!
//! Replies, all JSON:
//!
//! - 200 `{"accepted":N,"rejected":M}` once the accepted events were handed to the pipeline (a
//!   full pipeline delays the reply, which is the backpressure a sender sees);
//! - 400 `{"error":"line 3: …","accepted":0,"rejected":M}` when nothing was accepted and
//!   something was rejected, naming the first bad line and why;
//! - 413 when the body is over `max_body_bytes`, 405 for a method other than POST, 503 when the
//!   agent is stopping.
//!
//! Rejected lines are counted under `dante_source_rejected_total{source}`. Messages are kept
//! whole: `max_body_bytes` is what bounds them. On shutdown the listener stops accepting and
//! the requests in flight are answered before [`Bound::run`] returns. At most `connection_limit`
//! connections are served at once (more wait in the backlog), and one that moves no byte for
//! `idle_timeout_secs` is closed, so that stalled senders cannot hold every place.

use super::Context;
use super::listeners::Listeners;
use super::syslog::os_reason;
use crate::event::Event;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// `[sources.<id>] type = "http"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `IP:port` to listen on.
    pub address: String,
    /// The largest request body accepted, in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// The most connections served at once; more wait in the listen backlog.
    #[serde(default = "default_connection_limit")]
    pub connection_limit: usize,
    /// A connection that neither sends nor receives a byte for this many seconds is closed
    /// (idle keep-alives, stalled or deliberately slow senders), freeing its place.
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: u64,
}

fn default_max_body_bytes() -> usize {
    10 << 20
}

fn default_connection_limit() -> usize {
    256
}

fn default_idle_timeout_secs() -> u64 {
    60
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
        if self.connection_limit == 0 {
            return Err(("connection_limit", "expected at least 1".into()));
        }
        if self.idle_timeout_secs == 0 {
            return Err(("idle_timeout_secs", "expected at least 1".into()));
        }
        Ok(())
    }
}

/// What can go wrong with the HTTP source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The address could not be bound (or is not an address).
    #[error("cannot bind {address} (http): {}", os_reason(.reason))]
    Bind {
        /// The configured address.
        address: String,
        /// Why. In the message rather than a `source`, so that `{:#}` does not say it twice.
        reason: io::Error,
    },
    /// The server stopped on an error.
    #[error("http server failed: {0}")]
    Serve(#[source] io::Error),
}

/// An HTTP source whose listener is bound, ready to [`run`](Bound::run).
#[derive(Debug)]
pub struct Bound {
    listener: TcpListener,
    local: SocketAddr,
    max_body_bytes: usize,
    connection_limit: usize,
    idle: Duration,
}

/// Binds the listener `cfg` asks for: the error names the address and the reason.
pub async fn bind(cfg: &HttpConfig) -> Result<Bound, HttpError> {
    bind_kept(cfg, &Listeners::default()).await
}

/// [`bind`], taking up the listener `kept` holds for the address from the last run.
pub async fn bind_kept(cfg: &HttpConfig, kept: &Listeners) -> Result<Bound, HttpError> {
    let fail = |reason| HttpError::Bind {
        address: cfg.address.clone(),
        reason,
    };
    let addr = cfg.address.parse::<SocketAddr>().map_err(|e| {
        fail(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("expected IP:port: {e}"),
        ))
    })?;
    let listener = kept.tcp(addr).await.map_err(fail)?;
    let local = listener.local_addr().map_err(fail)?;
    Ok(Bound {
        listener,
        local,
        max_body_bytes: cfg.max_body_bytes.max(1),
        connection_limit: cfg.connection_limit.max(1),
        idle: Duration::from_secs(cfg.idle_timeout_secs.max(1)),
    })
}

/// What the request handler shares.
struct Shared {
    cx: Context,
    max_body_bytes: usize,
}

impl Bound {
    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves until `cx.shutdown` is cancelled (or the pipeline is gone), then answers the
    /// requests in flight and returns.
    pub async fn run(self, cx: Context) -> Result<(), HttpError> {
        // A token of the source's own, so that a handler that finds the pipeline gone can stop
        // the server without cancelling the whole agent.
        let mut cx = cx;
        cx.shutdown = cx.shutdown.child_token();
        let stop = cx.shutdown.clone();
        let app = Router::new()
            .fallback(ingest)
            .layer(DefaultBodyLimit::max(self.max_body_bytes))
            .with_state(Arc::new(Shared {
                cx,
                max_body_bytes: self.max_body_bytes,
            }));
        let listener = Limited {
            inner: self.listener,
            permits: Arc::new(Semaphore::new(self.connection_limit)),
            idle: self.idle,
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
            .map_err(HttpError::Serve)
    }
}

/// The listener with a bound on connections served at once: a connection is accepted only once
/// a place is free, and gives its place back when it closes.
struct Limited {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    idle: Duration,
}

impl axum::serve::Listener for Limited {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // Never closed, so acquiring cannot fail; were it to, serving without a bound beats
        // stopping the source.
        let permit = self.permits.clone().acquire_owned().await.ok();
        // Retries accept errors itself (after a pause), as axum does for a bare listener.
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        let conn = Connection {
            io,
            idle: self.idle,
            deadline: Box::pin(tokio::time::sleep(self.idle)),
            _permit: permit,
        };
        (conn, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A served connection: holds its place under the limit, and fails once idle for too long.
struct Connection {
    io: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Connection {
    /// Progress was made: the idle clock starts again.
    fn touch(&mut self) {
        let next = tokio::time::Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    /// `Pending` from the socket becomes an error once the connection has been idle too long.
    fn idle_check<T>(
        &mut self,
        cx: &mut TaskContext<'_>,
        r: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match r {
            Poll::Ready(r) => {
                self.touch();
                Poll::Ready(r)
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle for too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        self.idle_check(cx, r)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.idle_check(cx, r)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Bodies larger than this are parsed on a blocking thread, so that the runtime's workers (few
/// on an edge box) keep serving the other sources meanwhile.
const PARSE_INLINE_BYTES: usize = 256 * 1024;

/// Any request: a POST's body becomes events.
async fn ingest(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let cx = &shared.cx;
    if req.method() != Method::POST {
        let mut r = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "error": "method not allowed: send NDJSON with POST" }),
        );
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return r;
    }
    let body = match Bytes::from_request(req, &()).await {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({ "error": format!("body larger than {} bytes", shared.max_body_bytes) }),
            );
        }
        Err(rejection) => {
            tracing::warn!(source = %cx.id, error = %rejection.body_text(), "cannot read http body");
            metrics::counter!("dante_source_errors_total", "source" => cx.id.clone()).increment(1);
            return reply(
                rejection.status(),
                json!({ "error": format!("cannot read the body: {}", rejection.body_text()) }),
            );
        }
    };
    let parsed = if body.len() > PARSE_INLINE_BYTES {
        match tokio::task::spawn_blocking(move || parse_body(&body)).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(source = %cx.id, error = %e, "http body parser failed");
                return reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "error": "internal error" }),
                );
            }
        }
    } else {
        parse_body(&body)
    };
    let Parsed {
        events,
        rejected,
        first_error,
    } = parsed;
    if rejected > 0 {
        metrics::counter!("dante_source_rejected_total", "source" => cx.id.clone())
            .increment(rejected as u64);
        if let Some(e) = &first_error {
            tracing::debug!(source = %cx.id, rejected, first = %e, "http lines rejected");
        }
    }
    let accepted = events.len();
    if accepted == 0 {
        if let Some(e) = first_error {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({ "error": e.to_string(), "accepted": 0, "rejected": rejected }),
            );
        }
    }
    if !cx.send_all(events).await {
        cx.shutdown.cancel();
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": "the agent is stopping" }),
        );
    }
    reply(
        StatusCode::OK,
        json!({ "accepted": accepted, "rejected": rejected }),
    )
}

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// What a body gave: the events of its good lines, and how many were bad.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The events, in the body's order.
    pub events: Vec<Event>,
    /// How many lines (or array elements) were not records.
    pub rejected: usize,
    /// The first of them, and why.
    pub first_error: Option<Rejection>,
}

/// A line (or array element) that was not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The line, from 1 (`None` for an element of a body that is one JSON array).
    pub line: Option<usize>,
    /// The element of an array, from 1.
    pub element: Option<usize>,
    /// Why.
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.element) {
            (Some(l), Some(e)) => write!(f, "line {l}, element {e}: {}", self.reason),
            (Some(l), None) => write!(f, "line {l}: {}", self.reason),
            (None, Some(e)) => write!(f, "element {e}: {}", self.reason),
            (None, None) => f.write_str(&self.reason),
        }
    }
}

impl Parsed {
    fn take(&mut self, line: Option<usize>, element: Option<usize>, v: Value) {
        match record(v) {
            Ok(e) => self.events.push(e),
            Err(reason) => self.reject(line, element, reason),
        }
    }

    fn reject(&mut self, line: Option<usize>, element: Option<usize>, reason: String) {
        self.rejected += 1;
        if self.first_error.is_none() {
            self.first_error = Some(Rejection {
                line,
                element,
                reason,
            });
        }
    }

    fn take_all(&mut self, line: Option<usize>, v: Value) {
        match v {
            Value::Array(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    self.take(line, Some(i + 1), item);
                }
            }
            v => self.take(line, None, v),
        }
    }
}

/// Reads a body: NDJSON (blank lines skipped), or one JSON array of records, which may span
/// lines; a line that is an array gives one record per element too.
pub fn parse_body(body: &[u8]) -> Parsed {
    let mut parsed = Parsed::default();
    if body.trim_ascii_start().starts_with(b"[") {
        if let Ok(v @ Value::Array(_)) = serde_json::from_slice::<Value>(body) {
            parsed.take_all(None, v);
            return parsed;
        }
    }
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => parsed.take_all(Some(i + 1), v),
            Err(e) => parsed.reject(Some(i + 1), None, format!("not JSON: {e}")),
        }
    }
    parsed
}

/// One record as an event.
fn record(v: Value) -> Result<Event, String> {
    let mut m = match v {
        Value::Object(m) => m,
        other => return Err(format!("expected a JSON object, got {}", kind(&other))),
    };
    let message = match take_non_null(&mut m, "message").map(|v| ("message", v)) {
        Some(found) => Some(found),
        None => take_non_null(&mut m, "log").map(|v| ("log", v)),
    };
    let message = match message {
        Some((_, Value::String(s))) => s,
        Some((key, other)) => {
            return Err(format!("`{key}` must be a string, got {}", kind(&other)));
        }
        None => return Err("no `message` (or `log`) field".into()),
    };
    let timestamp = match take_non_null(&mut m, "timestamp").map(|v| ("timestamp", v)) {
        Some(found) => Some(found),
        None => take_non_null(&mut m, "date").map(|v| ("date", v)),
    };
    let timestamp = match timestamp {
        Some((key, v)) => Some(time(&v).map_err(|e| format!("`{key}`: {e}"))?),
        None => None,
    };
    Ok(Event {
        message,
        timestamp,
        host: optional_string(&mut m, "host")?,
        user: optional_string(&mut m, "user")?,
        header_pending: false,
        ..Event::default()
    })
}

/// The field, unless it is missing or `null` (which some senders write for "none").
fn take_non_null(m: &mut Map<String, Value>, key: &str) -> Option<Value> {
    m.remove(key).filter(|v| !v.is_null())
}

fn optional_string(m: &mut Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match take_non_null(m, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`{key}` must be a string, got {}", kind(&other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A time: an RFC 3339 string (or one without an offset, read as UTC), or seconds since the
/// epoch.
fn time(v: &Value) -> Result<DateTime<FixedOffset>, String> {
    match v {
        Value::String(s) => {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Ok(t);
            }
            for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
                if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                    return Ok(t.and_utc().fixed_offset());
                }
            }
            let shown: String = s.chars().take(64).collect();
            Err(format!("expected an RFC 3339 time, got {shown:?}"))
        }
        Value::Number(n) => epoch(n).ok_or_else(|| format!("{n} seconds is out of range")),
        other => Err(format!(
            "expected an RFC 3339 string or epoch seconds, got {}",
            kind(other)
        )),
    }
}

/// Seconds since the epoch, fractions kept to the nanosecond.
fn epoch(n: &serde_json::Number) -> Option<DateTime<FixedOffset>> {
    if let Some(secs) = n.as_i64() {
        return DateTime::from_timestamp(secs, 0).map(|t| t.fixed_offset());
    }
    // From the decimal text rather than the f64: at today's epoch an f64 is only good to a
    // quarter of a microsecond, and senders write microseconds.
    let text = n.to_string();
    if let Some((int, frac)) = text.split_once('.') {
        if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) {
            let secs: i64 = int.parse().ok()?;
            let nanos = frac
                .bytes()
                .chain(std::iter::repeat(b'0'))
                .take(9)
                .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
            // -1.25 is -2 seconds plus 0.75.
            let (secs, nanos) = if int.starts_with('-') && nanos > 0 {
                (secs.checked_sub(1)?, 1_000_000_000 - nanos)
            } else {
                (secs, nanos)
            };
            return DateTime::from_timestamp(secs, nanos).map(|t| t.fixed_offset());
        }
    }
    // Exponent forms (`1.7e9`).
    let f = n.as_f64()?;
    if !f.is_finite() {
        return None;
    }
    let secs = f.floor();
    // Outside i64 the cast would saturate to a wrong time; chrono's range is far smaller.
    if secs < i64::MIN as f64 || secs >= i64::MAX as f64 {
        return None;
    }
    let nanos = (((f - secs) * 1e9).round() as u32).min(999_999_999);
    DateTime::from_timestamp(secs as i64, nanos).map(|t| t.fixed_offset())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Batch;
    use proptest::prelude::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::mpsc;
    use tokio::time::timeout;

    /// Long enough for a loaded machine; tests wait for replies, never for a time.
    const DEADLINE: Duration = Duration::from_secs(20);

    type Task = tokio::task::JoinHandle<Result<(), HttpError>>;

    fn config(max_body_bytes: usize) -> HttpConfig {
        HttpConfig {
            address: "127.0.0.1:0".into(),
            max_body_bytes,
            connection_limit: 8,
            idle_timeout_secs: 60,
        }
    }

    async fn start(max_body_bytes: usize) -> (SocketAddr, Context, mpsc::Receiver<Batch>, Task) {
        start_with(config(max_body_bytes)).await
    }

    async fn start_with(cfg: HttpConfig) -> (SocketAddr, Context, mpsc::Receiver<Batch>, Task) {
        let bound = bind(&cfg).await.unwrap();
        let addr = bound.local_addr();
        let (cx, rx) = crate::source::test_context("web", 1);
        let task = tokio::spawn(bound.run(cx.clone()));
        (addr, cx, rx, task)
    }

    /// A raw HTTP/1.1 request; the status and the body (JSON) of the reply.
    async fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: dante\r\nContent-Type: application/x-ndjson\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(body).await.unwrap();
        // Read until the server closes; a reset after the reply (a body it did not read) still
        // leaves the reply in hand.
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match timeout(DEADLINE, s.read(&mut buf))
                .await
                .expect("reply in time")
            {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8(reply).unwrap();
        let status = text[9..12].parse().unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        (status, serde_json::from_str(body).unwrap())
    }

    async fn events(rx: &mut mpsc::Receiver<Batch>, n: usize) -> Vec<Event> {
        let mut got = Vec::new();
        while got.len() < n {
            let batch = timeout(DEADLINE, rx.recv()).await.unwrap().unwrap();
            assert_eq!(batch.source, 1);
            got.extend(batch.events);
            if let Some(ack) = batch.ack {
                ack.done();
            }
        }
        got
    }

    async fn stop(cx: &Context, task: Task) {
        cx.shutdown.cancel();
        timeout(DEADLINE, task).await.unwrap().unwrap().unwrap();
    }

    #[tokio::test]
    async fn ndjson_with_a_bad_line_keeps_the_others() {
        let (addr, cx, mut rx, task) = start(1 << 20).await;
        let body = b"{\"message\":\"one\",\"host\":\"web-1\",\"user\":\"alice\"}\n\
                     not json\n\
                     \r\n\
                     {\"log\":\"two\",\"timestamp\":\"2024-05-01T12:00:00+02:00\"}\r\n";
        let (status, reply) = request(addr, "POST", "/anything", body).await;
        assert_eq!(status, 200);
        assert_eq!(reply, json!({"accepted": 2, "rejected": 1}));
        let got = events(&mut rx, 2).await;
        assert_eq!(got[0].message, "one");
        assert_eq!(got[0].host.as_deref(), Some("web-1"));
        assert_eq!(got[0].user.as_deref(), Some("alice"));
        assert!(!got[0].header_pending);
        assert_eq!(got[1].message, "two");
        assert_eq!(
            got[1].timestamp.unwrap().to_rfc3339(),
            "2024-05-01T12:00:00+02:00"
        );
        stop(&cx, task).await;
    }

    #[tokio::test]
    async fn all_bad_is_400_naming_the_first_bad_line() {
        let (addr, cx, mut rx, task) = start(1 << 20).await;
        let body = b"\n{\"msg\":\"x\"}\n[1]\n";
        let (status, reply) = request(addr, "POST", "/", body).await;
        assert_eq!(status, 400);
        assert_eq!(reply["accepted"], 0);
        assert_eq!(reply["rejected"], 2);
        assert_eq!(reply["error"], "line 2: no `message` (or `log`) field");
        // Nothing reached the pipeline.
        assert!(rx.try_recv().is_err());
        stop(&cx, task).await;
    }

    #[tokio::test]
    async fn array_body_as_fluent_bit_sends_it() {
        let (addr, cx, mut rx, task) = start(1 << 20).await;
        let body = br#"[
            {"date": 1714564800.25, "log": "fluent one"},
            {"date": 1714564801, "log": "fluent two", "host": "h"}
        ]"#;
        let (status, reply) = request(addr, "POST", "/fluent", body).await;
        assert_eq!(
            (status, reply),
            (200, json!({"accepted": 2, "rejected": 0}))
        );
        let got = events(&mut rx, 2).await;
        assert_eq!(got[0].message, "fluent one");
        assert_eq!(
            got[0].timestamp.unwrap().to_rfc3339(),
            "2024-05-01T12:00:00.250+00:00"
        );
        assert_eq!(got[1].host.as_deref(), Some("h"));
        stop(&cx, task).await;
    }

    #[tokio::test]
    async fn oversize_body_is_413_and_other_methods_405() {
        let (addr, cx, _rx, task) = start(64).await;
        let line = format!("{{\"message\":\"{}\"}}\n", "x".repeat(200));
        let (status, reply) = request(addr, "POST", "/", line.as_bytes()).await;
        assert_eq!(status, 413);
        assert_eq!(reply["error"], "body larger than 64 bytes");
        let (status, _) = request(addr, "GET", "/", b"").await;
        assert_eq!(status, 405);
        // An empty body is fine: nothing to do.
        let (status, reply) = request(addr, "POST", "/", b"").await;
        assert_eq!(
            (status, reply),
            (200, json!({"accepted": 0, "rejected": 0}))
        );
        stop(&cx, task).await;
    }

    #[tokio::test]
    async fn connections_past_the_limit_wait_and_idle_ones_are_closed() {
        let (addr, cx, mut rx, task) = start_with(HttpConfig {
            connection_limit: 1,
            idle_timeout_secs: 1,
            ..config(1 << 20)
        })
        .await;
        // The one place is taken by a connection that says nothing.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // This request waits for the place: the silent one is closed after a second idle.
        let started = std::time::Instant::now();
        let (status, _) = request(addr, "POST", "/", b"{\"message\":\"after\"}\n").await;
        assert_eq!(status, 200);
        assert!(
            started.elapsed() >= Duration::from_millis(700),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(events(&mut rx, 1).await[0].message, "after");
        let mut buf = [0u8; 16];
        let closed = timeout(DEADLINE, silent.read(&mut buf)).await.unwrap();
        assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
        let mut bad = config(1);
        bad.connection_limit = 0;
        assert_eq!(bad.validate().unwrap_err().0, "connection_limit");
        bad = config(1);
        bad.idle_timeout_secs = 0;
        assert_eq!(bad.validate().unwrap_err().0, "idle_timeout_secs");
        stop(&cx, task).await;
    }

    #[tokio::test]
    async fn bind_errors_name_the_address_and_the_reason() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = taken.local_addr().unwrap().to_string();
        let err = bind(&HttpConfig {
            address: address.clone(),
            ..config(10)
        })
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot bind {address} (http): address already in use")
        );
    }

    fn one(line: &str) -> Result<Event, String> {
        let p = parse_body(line.as_bytes());
        match p.first_error {
            Some(e) => Err(e.to_string()),
            None => Ok(p.events.into_iter().next().unwrap()),
        }
    }

    fn when(line: &str) -> Result<String, String> {
        one(line).map(|e| e.timestamp.unwrap().to_rfc3339())
    }

    #[test]
    fn timestamp_forms() {
        assert_eq!(
            when(r#"{"message":"m","timestamp":"2024-05-01T12:00:00.5Z"}"#).unwrap(),
            "2024-05-01T12:00:00.500+00:00"
        );
        assert_eq!(
            when(r#"{"message":"m","timestamp":1714564800}"#).unwrap(),
            "2024-05-01T12:00:00+00:00"
        );
        assert_eq!(
            when(r#"{"message":"m","timestamp":1714564800.000001}"#).unwrap(),
            "2024-05-01T12:00:00.000001+00:00"
        );
        assert_eq!(
            when(r#"{"log":"m","date":1714564800.5}"#).unwrap(),
            "2024-05-01T12:00:00.500+00:00"
        );
        assert_eq!(
            when(r#"{"log":"m","date":"2024-05-01 12:00:00.123"}"#).unwrap(),
            "2024-05-01T12:00:00.123+00:00"
        );
        // `timestamp` wins over `date`.
        assert_eq!(
            when(r#"{"message":"m","timestamp":0,"date":1714564800}"#).unwrap(),
            "1970-01-01T00:00:00+00:00"
        );
        assert_eq!(
            one(r#"{"message":"m","timestamp":null}"#)
                .unwrap()
                .timestamp,
            None
        );
        assert_eq!(
            when(r#"{"message":"m","timestamp":"yesterday"}"#).unwrap_err(),
            r#"line 1: `timestamp`: expected an RFC 3339 time, got "yesterday""#
        );
        assert_eq!(
            when(r#"{"message":"m","timestamp":-1.25}"#).unwrap(),
            "1969-12-31T23:59:58.750+00:00"
        );
        assert_eq!(
            when(r#"{"message":"m","timestamp":1.7145648e9}"#).unwrap(),
            "2024-05-01T12:00:00+00:00"
        );
        assert!(when(r#"{"message":"m","timestamp":1e300}"#).is_err());
        assert!(when(r#"{"message":"m","timestamp":99999999999999999999.5}"#).is_err());
        assert!(when(r#"{"message":"m","timestamp":-1e300}"#).is_err());
        assert!(when(r#"{"message":"m","date":true}"#).is_err());
    }

    #[test]
    fn fields_must_have_their_types() {
        assert_eq!(
            one(r#"{"message":5}"#).unwrap_err(),
            "line 1: `message` must be a string, got a number"
        );
        assert_eq!(
            one(r#"{"message":"m","host":["a"]}"#).unwrap_err(),
            "line 1: `host` must be a string, got an array"
        );
        assert_eq!(
            one(r#"[{"message":"a"},7]"#).unwrap_err(),
            "element 2: expected a JSON object, got a number"
        );
        assert_eq!(
            one("{\"message\":\"a\"}\n[{\"message\":\"b\"},\"c\"]").unwrap_err(),
            "line 2, element 2: expected a JSON object, got a string"
        );
        // `message` wins over `log`; a null `message` falls back to `log`.
        assert_eq!(one(r#"{"message":"a","log":"b"}"#).unwrap().message, "a");
        assert_eq!(one(r#"{"message":null,"log":"b"}"#).unwrap().message, "b");
        // Messages are kept whole, line ends and all.
        assert_eq!(one(r#"{"message":"a\nb"}"#).unwrap().message, "a\nb");
    }

    proptest! {
        #[test]
        fn the_body_parser_never_panics(body in prop::collection::vec(any::<u8>(), 0..512)) {
            let p = parse_body(&body);
            prop_assert!(p.rejected > 0 || p.first_error.is_none());
        }

        #[test]
        fn the_body_parser_never_panics_on_json_like_input(
            body in r#"[\[\]{}",:0-9.eE+\- \n\rmessagelogtimestampdatehostuser\\]{0,200}"#,
        ) {
            let p = parse_body(body.as_bytes());
            prop_assert_eq!(p.rejected > 0, p.first_error.is_some());
        }
    }
}
