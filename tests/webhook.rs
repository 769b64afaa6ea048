//! The webhook sink end to end: `dante run` with a file source and webhook sinks posting to a
//! receiver in this test (axum on loopback) that fails on demand — down, 500s, 429 with
//! `Retry-After`, a permanent 400 — and `kill -9` in the middle of a backlog. Plus the golden
//! bodies of every format.
//!
//! Every test line is a `sudo` refusal (a key the bundled model never saw), so every line is an
//! alert; a user per line makes every alert its own incident.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::{Agent, free_port, syslog_line, wait_for};

const SECRET: &str = "whsec_test";

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    status: u16,
    at: Instant,
}

#[derive(Default)]
struct Inbox {
    got: Vec<Got>,
    /// The next answers (status, Retry-After), then 200s.
    script: VecDeque<(u16, Option<&'static str>)>,
    /// How long each answer takes.
    delay: Duration,
}

type Shared = Arc<Mutex<Inbox>>;

async fn receive(
    State(inbox): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let delay = inbox.lock().map(|i| i.delay).unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut i = inbox.lock().expect("inbox");
    // Mallory's alerts are refused for good: they must end in the dead-letter file.
    let (status, after) = if body.windows(7).any(|w| w == b"mallory") {
        (400, None)
    } else {
        i.script.pop_front().unwrap_or((200, None))
    };
    i.got.push(Got {
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
        status,
        at: Instant::now(),
    });
    let code = StatusCode::from_u16(status).expect("status");
    match after {
        Some(a) => (code, [("retry-after", a)], "slow down").into_response(),
        None if status == 400 => (code, "no such project: DANTE").into_response(),
        None => code.into_response(),
    }
}

/// Serves the receiver on `port` from a thread of its own.
fn serve(port: u16, inbox: Shared) {
    listen(port, |l| async move {
        let app = axum::Router::new()
            .fallback(axum::routing::post(receive))
            .with_state(inbox);
        let _ = axum::serve(l, app).await;
    });
}

/// Binds `port` now (so that the agent finds it), then runs `server` on the listener on a
/// thread with a runtime of its own.
fn listen<F: Future<Output = ()>>(
    port: u16,
    server: impl FnOnce(tokio::net::TcpListener) -> F + Send + 'static,
) {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).expect("listener");
            server(l).await;
        });
    });
}

/// `dante run` on `lines` (a file read from its beginning) with `sinks` (TOML tables).
fn start(lines: &[String], sinks: &str) -> Agent {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("auth.log");
    std::fs::write(
        &log,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .expect("write log");
    let source = format!(
        "[sources.auth]\ntype = \"file\"\ninclude = [{:?}]\nread_from = \"beginning\"\npoll_interval_ms = 50\n",
        log.display().to_string()
    );
    Agent::start_in(dir, &format!("{source}{sinks}"))
}

/// The accepted (2xx) posts to `path`, by incident.
fn accepted(inbox: &Shared, path: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for g in inbox.lock().expect("inbox").got.iter() {
        if g.path == path && (200..300).contains(&g.status) {
            let k = g
                .headers
                .get("x-dante-incident")
                .cloned()
                .unwrap_or_default();
            *m.entry(k).or_insert(0) += 1;
        }
    }
    m
}

/// Checks `X-Dante-Signature: t=<unix>,v1=<hex>` the way a receiver would.
fn verify(header: &str, body: &[u8]) -> bool {
    use hmac::{KeyInit, Mac};
    let Some((t, v1)) = header
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
    else {
        return false;
    };
    let Ok(ts) = t.parse::<i64>() else {
        return false;
    };
    // Not older than five minutes: replays are refused.
    if (chrono::Utc::now().timestamp() - ts).abs() > 300 {
        return false;
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let Ok(sig) = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(v1.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    mac.verify_slice(&sig).is_ok()
}

#[test]
fn every_incident_arrives_once_through_an_outage_500s_429s_and_a_400() {
    let port = free_port();
    let mut lines: Vec<String> = (0..20)
        .map(|n| syslog_line(&format!("user{n:02}"), n))
        .collect();
    // Five more of user00's within the same hour: the same incident.
    lines.extend((20..25).map(|n| syslog_line("user00", n)));
    lines.push(syslog_line("mallory", 99));
    let sinks = format!(
        "[sinks.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/generic\"\n\
         auth = {{ bearer = {{ env = \"DANTE_TEST_TOKEN\" }} }}\n\
         signing = {{ secret = \"{SECRET}\" }}\nheaders = {{ \"X-Team\" = \"secops\" }}\n\
         retry_initial_ms = 20\nretry_max_ms = 200\nrate_limit_per_minute = 0\n\
         [sinks.pd]\ntype = \"webhook\"\nformat = \"pagerduty\"\nurl = \"http://127.0.0.1:{port}/pd\"\n\
         routing_key = \"R0UTING\"\nretry_initial_ms = 20\nretry_max_ms = 200\nrate_limit_per_minute = 0\n"
    );
    let agent = start(&lines, &sinks);
    // The receiver is down: the alerts wait on disk, retried.
    wait_for("retries while the receiver is down", || {
        agent.metric("dante_webhook_retries_total") >= 4.0
    });
    assert!(agent.path("state/queue/hook").is_dir());
    let inbox: Shared = Arc::default();
    inbox.lock().expect("inbox").script = VecDeque::from([
        (500, None),
        (503, None),
        (429, Some("1")),
        (500, None),
        (408, None),
    ]);
    serve(port, inbox.clone());
    let users: Vec<String> = (0..20).map(|n| format!("user{n:02}")).collect();
    wait_for("every incident on both sinks", || {
        accepted(&inbox, "/generic").len() == 20 && accepted(&inbox, "/pd").len() == 20
    });
    // Let late duplicates, if any, arrive before counting.
    std::thread::sleep(Duration::from_millis(500));

    let generic = accepted(&inbox, "/generic");
    assert!(generic.values().all(|n| *n == 1), "{generic:?}");
    let got = inbox.lock().expect("inbox").got.clone();
    let mut seen_users: Vec<String> = got
        .iter()
        .filter(|g| g.path == "/generic" && g.status == 200)
        .map(|g| {
            assert_eq!(
                g.headers.get("authorization").map(String::as_str),
                Some("Bearer t0ken")
            );
            assert_eq!(g.headers.get("x-team").map(String::as_str), Some("secops"));
            let sig = g.headers.get("x-dante-signature").expect("signed");
            assert!(verify(sig, &g.body), "bad signature {sig}");
            assert!(!verify(sig, b"{\"tampered\":1}"));
            let a: Value = serde_json::from_slice(&g.body).expect("json");
            assert_eq!(a["schema"], "dante.anomaly/1");
            a["user"].as_str().unwrap_or("").to_string()
        })
        .collect();
    seen_users.sort();
    assert_eq!(seen_users, users);
    // PagerDuty gets the repeats too, under the incident's dedup_key: they update it.
    let pd = accepted(&inbox, "/pd");
    assert_eq!(pd.values().sum::<usize>(), 25, "{pd:?}");
    let repeated: Vec<&usize> = pd.values().filter(|n| **n > 1).collect();
    assert_eq!(repeated, [&6]);
    for g in got.iter().filter(|g| g.path == "/pd" && g.status == 200) {
        let b: Value = serde_json::from_slice(&g.body).expect("json");
        assert_eq!(b["routing_key"], "R0UTING");
        assert_eq!(b["event_action"], "trigger");
        assert_eq!(
            b["dedup_key"].as_str(),
            g.headers.get("x-dante-incident").map(String::as_str)
        );
        assert!(
            b["payload"]["summary"]
                .as_str()
                .unwrap_or("")
                .contains("@ws-1: ")
        );
    }
    // The 429's Retry-After (1 s) was honoured: that post came again a second later, not
    // after the 20–200 ms backoff.
    let refused = got.iter().find(|g| g.status == 429).expect("a 429");
    let again = got
        .iter()
        .find(|g| {
            g.at > refused.at
                && g.path == refused.path
                && g.headers.get("x-dante-incident") == refused.headers.get("x-dante-incident")
        })
        .expect("the 429'd post again");
    let waited = again.at - refused.at;
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
    // Mallory's alert was refused with a 400, once per sink, and dead-lettered.
    wait_for("dead letters", || {
        agent.metric("dante_webhook_dead_letter_total") >= 2.0
    });
    for id in ["hook", "pd"] {
        let text = std::fs::read_to_string(agent.path(&format!("state/dead_letter/{id}.jsonl")))
            .expect("dead-letter file");
        let rows: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(rows.len(), 1, "{text}");
        assert_eq!(rows[0]["status"], 400);
        assert_eq!(rows[0]["response"], "no such project: DANTE");
        assert_eq!(rows[0]["alert"]["user"], "mallory");
    }
    assert_eq!(agent.metric("dante_webhook_deduplicated_total"), 5.0);
    assert!(agent.metric("dante_webhook_sent_total") >= 45.0);
    wait_for("an empty queue", || {
        agent.metric("dante_webhook_queue_records") == 0.0
    });
    // No secret in the metrics or the logs, which did speak of the failures.
    let m = agent.get("/metrics").unwrap_or_default();
    assert!(!m.contains("t0ken") && !m.contains(SECRET) && !m.contains("R0UTING"));
    let log = std::fs::read_to_string(agent.path("dante.log")).expect("dante's log");
    assert!(
        log.contains("webhook post failed") && log.contains("dead-lettered"),
        "{log}"
    );
    assert!(!log.contains("t0ken") && !log.contains(SECRET) && !log.contains("R0UTING"));
}

#[test]
fn a_kill_9_in_the_middle_of_a_backlog_loses_nothing() {
    let port = free_port();
    let total = 300;
    let lines: Vec<String> = (0..total)
        .map(|n| syslog_line(&format!("u{n:03}"), n))
        .collect();
    let sinks = format!(
        "[sinks.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/\"\n\
         retry_initial_ms = 20\nretry_max_ms = 100\nrate_limit_per_minute = 0\nconcurrency = 2\n"
    );
    let mut agent = start(&lines, &sinks);
    // The backlog builds up on disk while the receiver is down, and the file source's
    // checkpoint passes every line: from now on the queue is the only copy of the alerts.
    wait_for("the whole backlog queued", || {
        agent.metric("dante_webhook_queue_records") >= total as f64
    });
    let size = std::fs::metadata(agent.path("auth.log"))
        .expect("log")
        .len();
    wait_for("the checkpoint at the end of the log", || {
        std::fs::read_to_string(agent.path("state/checkpoints/auth.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|c| c["files"].as_object()?.values().next()?["offset"].as_u64())
            == Some(size)
    });
    let inbox: Shared = Arc::default();
    inbox.lock().expect("inbox").delay = Duration::from_millis(10);
    serve(port, inbox.clone());
    wait_for("a part delivered", || {
        accepted(&inbox, "/").len() >= total / 3
    });
    agent.kill9();
    let before = accepted(&inbox, "/").len();
    assert!(before < total, "the backlog was gone before the kill");
    inbox.lock().expect("inbox").delay = Duration::ZERO;
    agent.spawn();
    wait_for("every incident after the restart", || {
        accepted(&inbox, "/").len() == total
    });
    let got = accepted(&inbox, "/");
    let posts: usize = got.values().sum();
    // Repeats only of what was in flight or not yet acknowledged at the kill: the position is
    // saved every 250 ms, in which two posts at a time of 10 ms each deliver at most 50.
    let bound = 2 * (250 / 10) + 2;
    assert!(
        posts - total <= bound,
        "{} repeats, more than the {bound} one unsaved position allows",
        posts - total
    );
}

#[test]
fn an_unset_secret_fails_the_start_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[sources.in]\ntype = \"stdin\"\n[sinks.hook]\ntype = \"webhook\"\n\
             url = \"https://127.0.0.1:1/\"\nauth = {{ bearer = {{ env = \"DANTE_SURELY_UNSET\" }} }}\n\
             [api]\nenabled = false\n",
            dir.path().join("state")
        ),
    )
    .expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_dante"))
        .args(["run", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sinks.hook: auth.bearer: environment variable DANTE_SURELY_UNSET"),
        "{err}"
    );
    // `validate` names the field of a webhook table.
    std::fs::write(
        &config,
        "[sources.in]\ntype = \"stdin\"\n[sinks.hook]\ntype = \"webhook\"\nurl = \"https://x/\"\ntimeout_ms = \"soon\"\n",
    )
    .expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_dante"))
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .expect("validate");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sinks.hook.timeout_ms"), "{err}");
}

/// Each format's body for `tests/fixtures/webhook/alert.json` against its golden file
/// (`UPDATE_GOLDEN=1` rewrites them).
#[test]
fn each_format_matches_its_golden_file() {
    use dante::sink::format::{self, Format, Settings};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webhook");
    let alert: Value =
        serde_json::from_slice(&std::fs::read(dir.join("alert.json")).expect("alert.json"))
            .expect("json");
    let incident = format::incident_key(&alert, 3600);
    for (name, f) in [
        ("generic", Format::Generic),
        ("alertmanager", Format::Alertmanager),
        ("pagerduty", Format::Pagerduty),
        ("jira", Format::Jira),
        ("slack", Format::Slack),
    ] {
        let s = Settings {
            format: f,
            receiver: "tickets".into(),
            routing_key: "R0UTING".into(),
            project: "SEC".into(),
            issue_type: "Task".into(),
            severity: "warning".into(),
            redact: vec![],
        };
        let body: Value =
            serde_json::from_slice(&format::render(&s, &alert, &incident)).expect("json");
        let path = dir.join(format!("{name}.json"));
        let pretty = serde_json::to_string_pretty(&body).expect("json") + "\n";
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &pretty).expect("write golden");
        }
        let golden =
            std::fs::read_to_string(&path).expect("golden file (UPDATE_GOLDEN=1 writes it)");
        assert_eq!(pretty, golden, "{name} differs from {}", path.display());
    }
}

/// An HTTPS receiver with a certificate from `tests/fixtures/webhook/tls/` (a test CA's, for
/// 127.0.0.1): it answers every request it can read with a 200 and records its path.
fn serve_tls(port: u16, paths: Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::{self, ServerConfig};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webhook/tls");
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(dir.join("cert.pem"))
        .expect("cert.pem")
        .collect::<Result<_, _>>()
        .expect("cert");
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).expect("key.pem");
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    listen(port, |l| async move {
        while let Ok((tcp, _)) = l.accept().await {
            let (acceptor, paths) = (acceptor.clone(), paths.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Up to the end of the headers; the body does not matter.
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf);
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                paths.lock().expect("paths").push(path);
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
}

#[test]
fn tls_is_verified_unless_the_ca_is_given() {
    let port = free_port();
    let paths: Arc<Mutex<Vec<String>>> = Arc::default();
    serve_tls(port, paths.clone());
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webhook/tls/ca.pem");
    let sinks = format!(
        "[sinks.strict]\ntype = \"webhook\"\nurl = \"https://127.0.0.1:{port}/strict\"\n\
         retry_initial_ms = 20\nretry_max_ms = 100\nrate_limit_per_minute = 0\n\
         [sinks.trusted]\ntype = \"webhook\"\nurl = \"https://127.0.0.1:{port}/trusted\"\n\
         tls = {{ ca_file = {:?} }}\nrate_limit_per_minute = 0\n",
        ca.display().to_string()
    );
    let agent = start(&[syslog_line("trent", 0)], &sinks);
    wait_for("the post through the trusted CA", || {
        paths.lock().expect("paths").iter().any(|p| p == "/trusted")
    });
    // The sink without the CA refuses the certificate, and keeps retrying.
    wait_for("retries of the strict sink", || {
        agent.metric("dante_webhook_retries_total{sink=\"strict\"}") >= 3.0
    });
    assert_eq!(*paths.lock().expect("paths"), ["/trusted"]);
    assert_eq!(
        agent.metric("dante_webhook_sent_total{sink=\"trusted\"}"),
        1.0
    );
}
