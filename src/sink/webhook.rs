//! `[sinks.<id>] type = "webhook"`: alerts posted to an HTTP endpoint, at least once.
//!
//! The pipeline appends each alert to the sink's disk queue ([`super::queue`]) and the batch is
//! acknowledged once the queue flushed (and, by default, fsynced). A [`Delivery`] task reads the
//! queue in order, formats each alert ([`super::format`]), and posts up to `concurrency` at a
//! time. A record leaves the queue (its position is acknowledged) only after a 2xx, or after a
//! permanent refusal (a 4xx other than 408 and 429, a 3xx) wrote it to the dead-letter file.
//! 408, 429, 5xx and transport errors are retried forever with exponential backoff and full
//! jitter, or after the `Retry-After` the receiver asked for.
//!
//! Repeats of an incident (see [`super::format::incident_key`]) within `dedup_period_secs` are
//! held back, except for PagerDuty, whose `dedup_key` updates the open incident; a token bucket
//! caps the posts per minute, and waits rather than drops.

use super::format::{self, Format, Settings};
use super::queue::{self, Acker, QueueConfig, Reader, Record, Shared};
use crate::secret::Secret;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The signature header's default name.
pub const SIGNATURE_HEADER: &str = "X-Dante-Signature";
/// The incident key, on every post.
pub const INCIDENT_HEADER: &str = "X-Dante-Incident";
/// How much of a refusing response the dead-letter file keeps.
const DEAD_LETTER_BODY: usize = 4096;
/// The longest `Retry-After` honoured.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);
/// How often the acknowledged position is written while deliveries go on.
const ACK_EVERY: Duration = Duration::from_millis(250);
/// The most incidents remembered for deduplication.
const DEDUP_MAX: usize = 100_000;

/// `[sinks.<id>] type = "webhook"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The endpoint, `http://` or `https://`; a secret, since some (Slack's) carry a token.
    pub url: Secret,
    /// The body: `generic`, `alertmanager`, `pagerduty`, `jira` or `slack`.
    #[serde(default)]
    pub format: Format,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `{ bearer = SECRET }` or `{ basic = { user = "..", password = SECRET } }`.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// HMAC-SHA256 signing of `timestamp.body`.
    #[serde(default)]
    pub signing: Option<Signing>,
    /// Per request, connecting included.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The first retry's backoff bound.
    #[serde(default = "default_retry_initial_ms")]
    pub retry_initial_ms: u64,
    /// The largest backoff bound.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
    /// Posts in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// The most posts per minute (bursts up to it); 0 for no limit.
    #[serde(default = "default_rate_limit")]
    pub rate_limit_per_minute: u32,
    /// The incident window, and how long a sent incident holds back its repeats.
    #[serde(default = "default_dedup_period_secs")]
    pub dedup_period_secs: u64,
    /// Alert fields (dotted paths) replaced before sending.
    #[serde(default)]
    pub redact: Vec<String>,
    /// TLS settings.
    #[serde(default)]
    pub tls: TlsConfig,
    /// The disk queue.
    #[serde(default)]
    pub queue: QueueConfig,
    /// `pagerduty`: the integration's routing key (required).
    #[serde(default)]
    pub routing_key: Option<Secret>,
    /// `jira`: the project key (required).
    #[serde(default)]
    pub project: Option<String>,
    /// `jira`: the issue type.
    #[serde(default = "default_issue_type")]
    pub issue_type: String,
    /// `pagerduty`, `alertmanager`: `critical`, `error`, `warning` or `info`.
    #[serde(default = "default_severity")]
    pub severity: String,
}

/// Request authentication.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// `Authorization: Basic ...`.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: Secret,
    },
}

/// `signing = { secret = SECRET, header = "X-Dante-Signature" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// The HMAC key.
    pub secret: Secret,
    /// The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
    #[serde(default = "default_signature_header")]
    pub header: String,
}

/// `tls = { ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Extra trusted CA certificates (PEM), besides the built-in roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Verify the server's certificate and name. Turning it off is for tests only.
    #[serde(default = "default_true")]
    pub verify: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            ca_file: None,
            verify: true,
        }
    }
}

fn default_timeout_ms() -> u64 {
    10_000
}
fn default_retry_initial_ms() -> u64 {
    500
}
fn default_retry_max_ms() -> u64 {
    60_000
}
fn default_concurrency() -> usize {
    4
}
fn default_rate_limit() -> u32 {
    120
}
fn default_dedup_period_secs() -> u64 {
    3600
}
fn default_issue_type() -> String {
    "Task".into()
}
fn default_severity() -> String {
    "warning".into()
}
fn default_signature_header() -> String {
    SIGNATURE_HEADER.into()
}
fn default_true() -> bool {
    true
}

/// Checks a URL: http or https with a host.
fn check_url(url: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err("expected an http:// or https:// URL with a host".into());
    }
    Ok(u)
}

impl WebhookConfig {
    /// Checks what serde cannot: the key at fault and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Secret::Inline(u) = &self.url {
            check_url(u).map_err(|m| ("url", m))?;
        }
        for (k, v) in &self.headers {
            HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| ("headers", format!("{k:?} is not a header name")))?;
            HeaderValue::from_str(v).map_err(|_| {
                (
                    "headers",
                    format!("the value of {k:?} is not a header value"),
                )
            })?;
        }
        if let Some(s) = &self.signing {
            HeaderName::from_bytes(s.header.as_bytes()).map_err(|_| {
                (
                    "signing.header",
                    format!("{:?} is not a header name", s.header),
                )
            })?;
        }
        let positive = [
            ("timeout_ms", self.timeout_ms),
            ("retry_initial_ms", self.retry_initial_ms),
            ("dedup_period_secs", self.dedup_period_secs),
        ];
        for (k, v) in positive {
            if v == 0 {
                return Err((k, "expected more than 0".into()));
            }
        }
        if self.retry_max_ms < self.retry_initial_ms {
            return Err(("retry_max_ms", "expected at least retry_initial_ms".into()));
        }
        if !(1..=64).contains(&self.concurrency) {
            return Err(("concurrency", "expected 1 to 64".into()));
        }
        if self.queue.max_bytes < QueueConfig::MIN_BYTES {
            return Err((
                "queue.max_bytes",
                format!("expected at least {}", QueueConfig::MIN_BYTES),
            ));
        }
        if !matches!(
            self.severity.as_str(),
            "critical" | "error" | "warning" | "info"
        ) {
            return Err((
                "severity",
                "expected \"critical\", \"error\", \"warning\" or \"info\"".into(),
            ));
        }
        match self.format {
            Format::Pagerduty if self.routing_key.is_none() => {
                Err(("routing_key", "required with format = \"pagerduty\"".into()))
            }
            Format::Jira if self.project.as_deref().is_none_or(str::is_empty) => {
                Err(("project", "required with format = \"jira\"".into()))
            }
            _ => Ok(()),
        }
    }
}

/// A webhook sink could not be set up: the key (under `sinks.<id>`) and why.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SetupError {
    /// `auth.bearer`, `tls.ca_file`…
    pub key: &'static str,
    /// Why.
    pub message: String,
}

fn fail(key: &'static str) -> impl FnOnce(String) -> SetupError {
    move |message| SetupError { key, message }
}

/// What every post of a sink shares.
struct Ctx {
    id: String,
    client: reqwest::Client,
    url: reqwest::Url,
    /// Scheme, host and port: what logs say instead of the URL.
    target: String,
    headers: HeaderMap,
    signing: Option<(Vec<u8>, HeaderName)>,
    retry_initial: Duration,
    retry_max: Duration,
    dead_letter: PathBuf,
    dead_letter_file: Mutex<Option<std::fs::File>>,
}

/// The delivery side of a webhook sink; [`Delivery::run`] until shutdown.
pub struct Delivery {
    ctx: Arc<Ctx>,
    reader: Reader,
    acker: Acker,
    shared: Arc<Shared>,
    settings: Settings,
    concurrency: usize,
    rate: Option<Bucket>,
    dedup_period: Duration,
    seen: HashMap<String, Instant>,
}

/// Opens sink `id`'s queue under `data_dir` and prepares its delivery: secrets resolved, the
/// CA file read, the client built. Errors name the key.
pub fn open(
    id: &str,
    cfg: &WebhookConfig,
    data_dir: &Path,
) -> Result<(queue::Writer, Delivery), SetupError> {
    let url = cfg.url.resolve().map_err(|e| fail("url")(e.to_string()))?;
    let url = check_url(&url).map_err(fail("url"))?;
    let target = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    );
    let mut headers = HeaderMap::new();
    for (k, v) in &cfg.headers {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| fail("headers")(e.to_string()))?;
        let value = HeaderValue::from_str(v).map_err(|e| fail("headers")(e.to_string()))?;
        headers.insert(name, value);
    }
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let auth = match &cfg.auth {
        None => None,
        Some(Auth::Bearer(s)) => {
            let token = s
                .resolve()
                .map_err(|e| fail("auth.bearer")(e.to_string()))?;
            Some(("auth.bearer", format!("Bearer {token}")))
        }
        Some(Auth::Basic { user, password }) => {
            let p = password
                .resolve()
                .map_err(|e| fail("auth.basic.password")(e.to_string()))?;
            Some((
                "auth.basic",
                format!("Basic {}", base64(format!("{user}:{p}").as_bytes())),
            ))
        }
    };
    if let Some((key, value)) = auth {
        let mut v = HeaderValue::from_str(&value)
            .map_err(|_| fail(key)("not usable in a header".into()))?;
        // Kept out of any debug output of the request.
        v.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, v);
    }
    let signing = match &cfg.signing {
        None => None,
        Some(s) => {
            let key = s
                .secret
                .resolve()
                .map_err(|e| fail("signing.secret")(e.to_string()))?;
            let name = HeaderName::from_bytes(s.header.as_bytes())
                .map_err(|e| fail("signing.header")(e.to_string()))?;
            Some((key.into_bytes(), name))
        }
    };
    let routing_key = match &cfg.routing_key {
        Some(k) => k
            .resolve()
            .map_err(|e| fail("routing_key")(e.to_string()))?,
        None => String::new(),
    };
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_millis(cfg.timeout_ms))
        .connect_timeout(Duration::from_millis(cfg.timeout_ms))
        // A redirect would carry the credentials elsewhere: it is a refusal.
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(cfg.concurrency)
        .user_agent(concat!("dante/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &cfg.tls.ca_file {
        let pem =
            std::fs::read(ca).map_err(|e| fail("tls.ca_file")(format!("{}: {e}", ca.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| fail("tls.ca_file")(format!("{}: {e}", ca.display())))?;
        if certs.is_empty() {
            return Err(fail("tls.ca_file")(format!(
                "{}: no PEM certificate",
                ca.display()
            )));
        }
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    if !cfg.tls.verify {
        tracing::warn!(
            sink = id,
            "tls.verify = false: the webhook's certificate is not checked"
        );
        builder = builder.danger_accept_invalid_certs(true);
    }
    let client = builder
        .build()
        .map_err(|e| fail("tls")(e.without_url().to_string()))?;
    let dir = data_dir.join("queue").join(id);
    let (writer, reader, shared) =
        queue::open(&dir, id, &cfg.queue).map_err(|e| fail("queue")(e.to_string()))?;
    let acker = Acker::new(shared.clone(), reader.position());
    let ctx = Arc::new(Ctx {
        id: id.to_string(),
        client,
        url,
        target,
        headers,
        signing,
        retry_initial: Duration::from_millis(cfg.retry_initial_ms),
        retry_max: Duration::from_millis(cfg.retry_max_ms),
        dead_letter: data_dir.join("dead_letter").join(format!("{id}.jsonl")),
        dead_letter_file: Mutex::new(None),
    });
    let settings = Settings {
        format: cfg.format,
        receiver: id.to_string(),
        routing_key,
        project: cfg.project.clone().unwrap_or_default(),
        issue_type: cfg.issue_type.clone(),
        severity: cfg.severity.clone(),
        redact: cfg.redact.clone(),
    };
    let delivery = Delivery {
        ctx,
        reader,
        acker,
        shared,
        settings,
        concurrency: cfg.concurrency,
        rate: (cfg.rate_limit_per_minute > 0).then(|| Bucket::new(cfg.rate_limit_per_minute)),
        dedup_period: Duration::from_secs(cfg.dedup_period_secs),
        seen: HashMap::new(),
    };
    Ok((writer, delivery))
}

/// Standard base64 with padding, for basic auth.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(char::from(A[(n >> shift) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `t=<unix>,v1=<hex HMAC-SHA256(key, "<unix>." + body)>`.
pub fn signature(key: &[u8], unix: i64, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(format!("{unix}.").as_bytes());
    mac.update(body);
    let mut s = format!("t={unix},v1=");
    for b in mac.finalize().into_bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A token bucket: up to `per_minute` at once, refilled evenly.
struct Bucket {
    per_minute: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(per_minute: u32) -> Self {
        Self {
            per_minute: f64::from(per_minute),
            tokens: f64::from(per_minute),
            at: Instant::now(),
        }
    }

    /// Takes a token, or says how long until one is there.
    fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * self.per_minute / 60.0;
        self.tokens = (self.tokens + refill).min(self.per_minute);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) * 60.0 / self.per_minute,
            ))
        }
    }
}

/// One record on its way.
struct Job {
    end: queue::Position,
    alert: Vec<u8>,
    body: Vec<u8>,
    incident: String,
}

/// A record read, in queue order: delivered (or held back) or being sent.
enum Slot {
    Done(queue::Position),
    Sending(queue::Position, JoinHandle<()>),
}

fn metric(name: &'static str, sink: &str) -> metrics::Counter {
    metrics::counter!(name, "sink" => sink.to_string())
}

impl Delivery {
    /// Delivers until `stop` is cancelled; then in-flight posts are abandoned (they come again
    /// at the next start) and the position is saved.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut slots: VecDeque<Slot> = VecDeque::new();
        let mut held: Option<Job> = None;
        let mut unsaved = false;
        let mut saved_at = Instant::now();
        loop {
            while let Some(Slot::Done(end)) = slots.front() {
                self.acker.advance(*end, 1);
                slots.pop_front();
                unsaved = true;
            }
            if unsaved && (slots.is_empty() || saved_at.elapsed() >= ACK_EVERY) {
                self.save();
                unsaved = false;
                saved_at = Instant::now();
            }
            // Fill the window, in order.
            let mut wait = if unsaved {
                ACK_EVERY
            } else {
                Duration::from_secs(1)
            };
            let mut idle = false;
            while slots.len() < self.concurrency {
                let job = match held.take() {
                    Some(j) => j,
                    None => match self.reader.next_record() {
                        Some(r) => match self.prepare(r) {
                            Ok(job) => job,
                            Err(end) => {
                                slots.push_back(Slot::Done(end));
                                continue;
                            }
                        },
                        None => {
                            idle = true;
                            break;
                        }
                    },
                };
                if let Some(b) = self.rate.as_mut() {
                    if let Err(w) = b.take() {
                        held = Some(job);
                        wait = wait.min(w);
                        break;
                    }
                }
                let ctx = self.ctx.clone();
                let end = job.end;
                slots.push_back(Slot::Sending(end, tokio::spawn(deliver(ctx, job))));
            }
            if matches!(slots.front(), Some(Slot::Done(_))) {
                continue;
            }
            let front = async {
                match slots.front_mut() {
                    Some(Slot::Sending(end, h)) => (*end, h.await),
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                (end, done) = front => {
                    if let Err(e) = done {
                        tracing::error!(sink = %self.ctx.id, error = %e, "a delivery task failed; its alert is skipped");
                    }
                    slots[0] = Slot::Done(end);
                }
                () = self.shared.notify.notified(), if idle => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        // What was posted but not answered comes again after a restart.
        for s in slots {
            if let Slot::Sending(_, h) = s {
                h.abort();
            }
        }
        self.shared.stop();
        self.save();
    }

    fn save(&mut self) {
        if let Err(e) = self.acker.persist() {
            tracing::error!(sink = %self.ctx.id, error = %e, "cannot save the webhook queue's position");
        }
    }

    /// The post for a record, or its end when it is not to be sent (a held-back repeat, a
    /// record that is not an alert).
    fn prepare(&mut self, r: Record) -> Result<Job, queue::Position> {
        let id = &self.ctx.id;
        let mut alert: serde_json::Value = match serde_json::from_slice(&r.payload) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(sink = %id, offset = r.end.offset, segment = r.end.segment, error = %e, "webhook queue: a record that is not an alert, skipped");
                metric("dante_webhook_corrupt_total", id).increment(1);
                return Err(r.end);
            }
        };
        let incident = format::incident_key(&alert, self.dedup_period.as_secs());
        let now = Instant::now();
        let repeat = self
            .seen
            .get(&incident)
            .is_some_and(|t| now.duration_since(*t) < self.dedup_period);
        if repeat && !self.settings.format.sends_repeats() {
            metric("dante_webhook_deduplicated_total", id).increment(1);
            return Err(r.end);
        }
        if !repeat {
            if self.seen.len() >= DEDUP_MAX {
                let period = self.dedup_period;
                self.seen.retain(|_, t| now.duration_since(*t) < period);
                if self.seen.len() >= DEDUP_MAX {
                    self.seen.clear();
                }
            }
            self.seen.insert(incident.clone(), now);
        }
        format::redact(&mut alert, &self.settings.redact);
        let body = format::render(&self.settings, &alert, &incident);
        Ok(Job {
            end: r.end,
            alert: r.payload,
            body,
            incident,
        })
    }
}

/// How a post went.
enum Outcome {
    Delivered,
    Retry(Option<Duration>, String),
    Refused(u16, String),
}

/// Posts `job` until it is delivered or refused.
async fn deliver(ctx: Arc<Ctx>, job: Job) {
    let mut attempt: u32 = 0;
    loop {
        let (after, why) = match post(&ctx, &job).await {
            Outcome::Delivered => {
                metric("dante_webhook_sent_total", &ctx.id).increment(1);
                return;
            }
            Outcome::Refused(status, body) => {
                dead_letter(&ctx, &job, status, &body);
                return;
            }
            Outcome::Retry(after, why) => (after, why),
        };
        let delay = after.unwrap_or_else(|| backoff(ctx.retry_initial, ctx.retry_max, attempt));
        tracing::warn!(sink = %ctx.id, target = %ctx.target, attempt, retry_in_ms = delay.as_millis() as u64, "webhook post failed: {why}");
        metric("dante_webhook_retries_total", &ctx.id).increment(1);
        attempt = attempt.saturating_add(1);
        tokio::time::sleep(delay).await;
    }
}

/// Full jitter: uniform in [0, min(max, initial · 2^attempt)].
fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    use rand::Rng;
    let bound = initial
        .saturating_mul(2u32.saturating_pow(attempt.min(30)))
        .min(max);
    let ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=ms))
}

/// `Retry-After`: seconds or an HTTP date.
pub fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = value.trim();
    let d = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
            (at.with_timezone(&chrono::Utc) - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(d.min(RETRY_AFTER_MAX))
}

async fn post(ctx: &Ctx, job: &Job) -> Outcome {
    let mut req = ctx
        .client
        .post(ctx.url.clone())
        .headers(ctx.headers.clone())
        .header(INCIDENT_HEADER, job.incident.as_str())
        .body(job.body.clone());
    if let Some((key, name)) = &ctx.signing {
        let now = chrono::Utc::now().timestamp();
        req = req.header(name.clone(), signature(key, now, &job.body));
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        // Never the URL: it may carry a token.
        Err(e) => return Outcome::Retry(None, e.without_url().to_string()),
    };
    let status = resp.status();
    if status.is_success() {
        return Outcome::Delivered;
    }
    let after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after(v, chrono::Utc::now()));
    let mut body = Vec::new();
    while body.len() < DEAD_LETTER_BODY {
        match resp.chunk().await {
            Ok(Some(c)) => body.extend_from_slice(&c),
            _ => break,
        }
    }
    body.truncate(DEAD_LETTER_BODY);
    let text = String::from_utf8_lossy(&body).into_owned();
    let code = status.as_u16();
    if code == 408 || code == 429 || status.is_server_error() {
        Outcome::Retry(after, format!("HTTP {code}"))
    } else {
        Outcome::Refused(code, text)
    }
}

/// Appends a refused alert to `data_dir/dead_letter/<id>.jsonl`, with the status and the
/// response (cut), and syncs it: the queue forgets it next.
fn dead_letter(ctx: &Ctx, job: &Job, status: u16, response: &str) {
    metric("dante_webhook_dead_letter_total", &ctx.id).increment(1);
    tracing::error!(sink = %ctx.id, target = %ctx.target, status, incident = %job.incident, file = %ctx.dead_letter.display(), "webhook refused an alert: dead-lettered");
    let alert: serde_json::Value =
        serde_json::from_slice(&job.alert).unwrap_or(serde_json::Value::Null);
    let line = serde_json::json!({
        "time": chrono::Utc::now().to_rfc3339(),
        "sink": ctx.id,
        "status": status,
        "response": response,
        "incident": job.incident,
        "alert": alert,
    });
    let mut text = line.to_string();
    text.push('\n');
    let Ok(mut guard) = ctx.dead_letter_file.lock() else {
        return;
    };
    if guard.is_none() {
        let opened = ctx
            .dead_letter
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&ctx.dead_letter)
            });
        match opened {
            Ok(f) => *guard = Some(f),
            Err(e) => {
                tracing::error!(sink = %ctx.id, file = %ctx.dead_letter.display(), error = %e, "cannot open the dead-letter file");
                return;
            }
        }
    }
    if let Some(f) = guard.as_mut() {
        if let Err(e) = f.write_all(text.as_bytes()).and_then(|()| f.sync_data()) {
            tracing::error!(sink = %ctx.id, file = %ctx.dead_letter.display(), error = %e, "cannot write the dead-letter file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_encodes_like_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn signatures_match_openssl() {
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature(b"whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_ne!(signature(b"k", 1, b"x"), signature(b"k", 2, b"x"));
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Wed, 25 Nov 2026 10:00:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after("Wed, 25 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("99999999", now), Some(RETRY_AFTER_MAX));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn backoff_stays_within_its_bounds_and_the_bucket_refills() {
        let (i, m) = (Duration::from_millis(100), Duration::from_millis(1000));
        for attempt in [0, 1, 3, 10, 1000] {
            let b = backoff(i, m, attempt);
            let bound = (i * 2u32.pow(attempt.min(10))).min(m);
            assert!(b <= bound, "{attempt}: {b:?} > {bound:?}");
        }
        let mut bucket = Bucket::new(2);
        assert!(bucket.take().is_ok() && bucket.take().is_ok());
        let wait = bucket.take().unwrap_err();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn unusable_tls_and_secrets_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("ca.pem");
        std::fs::write(&pem, "not a certificate\n").unwrap();
        for (extra, key) in [
            (
                "tls = { ca_file = \"/surely/not/here.pem\" }",
                "tls.ca_file",
            ),
            (
                format!("tls = {{ ca_file = {pem:?} }}").as_str(),
                "tls.ca_file",
            ),
            (
                "signing = { secret = { env = \"DANTE_SURELY_UNSET\" } }",
                "signing.secret",
            ),
            ("url = { file = \"/surely/not/here\" }", "url"),
        ] {
            let text = if extra.starts_with("url") {
                extra.to_string()
            } else {
                format!("url = \"https://127.0.0.1:1/\"\n{extra}")
            };
            let c: WebhookConfig = toml::from_str(&text).unwrap();
            let e = open("t", &c, dir.path()).err().unwrap();
            assert_eq!(e.key, key, "{e}");
        }
    }

    fn config(extra: &str) -> Result<(), (&'static str, String)> {
        let c: WebhookConfig =
            toml::from_str(&format!("url = \"http://127.0.0.1:1/\"\n{extra}")).unwrap();
        c.validate()
    }

    #[test]
    fn validation_names_the_key() {
        assert_eq!(config("").map_err(|e| e.0), Ok(()));
        assert_eq!(
            config("format = \"pagerduty\"").unwrap_err().0,
            "routing_key"
        );
        assert_eq!(config("format = \"jira\"").unwrap_err().0, "project");
        assert_eq!(config("retry_max_ms = 1").unwrap_err().0, "retry_max_ms");
        assert_eq!(config("concurrency = 0").unwrap_err().0, "concurrency");
        assert_eq!(config("severity = \"meh\"").unwrap_err().0, "severity");
        assert_eq!(
            config("headers = { \"bad name\" = \"x\" }").unwrap_err().0,
            "headers"
        );
        assert_eq!(
            config("queue = { max_bytes = 10 }").unwrap_err().0,
            "queue.max_bytes"
        );
        let c: WebhookConfig = toml::from_str("url = \"ftp://x/\"").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "url");
        let c: WebhookConfig = toml::from_str(
            "url = \"https://x/\"\nauth = { basic = { user = \"u\", password = { env = \"P\" } } }",
        )
        .unwrap();
        assert!(matches!(c.auth, Some(Auth::Basic { .. })));
    }
}
