//! The agent as a real process: `dante run` with a configuration in a temporary directory, driven
//! by real clients on loopback (`logger`, rsyslog's omfwd, a file written, rotated and
//! truncated, an HTTP POST), checked through its JSONL alerts and its `/metrics`.
//!
//! Every test line is a `sudo` refusal, a key the bundled model never saw: each one must become
//! exactly one alert, which makes lost and doubled lines visible.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{Agent, WAIT, free_port, refusal, syslog_line};

/// `dante run` with `sources` (TOML tables) plus a file sink writing `alerts.jsonl`.
fn start(sources: &str) -> Agent {
    let dir = tempfile::tempdir().expect("temp dir");
    let alerts = dir.path().join("alerts.jsonl");
    Agent::start_in(
        dir,
        &format!("{sources}\n[sinks.alerts]\ntype = \"file\"\npath = {alerts:?}\n"),
    )
}

/// The numbers `n` of the alerts' refusals (`/etc/shadowN`).
fn numbers(alerts: &[Value]) -> Vec<usize> {
    let mut n: Vec<usize> = alerts
        .iter()
        .filter_map(|a| {
            let m = a["event"]["message"].as_str()?;
            m.rsplit("/etc/shadow").next()?.parse().ok()
        })
        .collect();
    n.sort_unstable();
    n
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn alerts_follow_the_schema_and_explain_themselves() {
    let port = free_port();
    let agent = start(&format!(
        "[sources.net]\ntype = \"syslog\"\nmode = \"tcp\"\naddress = \"127.0.0.1:{port}\"\n"
    ));
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    writeln!(s, "<86>{}", syslog_line("mallory", 1)).expect("send");
    let a = agent.wait_alerts(1);
    assert_eq!(a.len(), 1, "{a:?}");
    let a = &a[0];
    assert_eq!(a["schema"], "dante.anomaly/1");
    assert_eq!(a["user"], "mallory");
    assert_eq!(a["host"], "ws-1");
    assert_eq!(a["source"], "net");
    assert_eq!(a["reason"], "unknown_key");
    assert!(
        a["event"]["template"]
            .as_str()
            .unwrap_or("")
            .contains("NOT in sudoers"),
        "{a}"
    );
    assert!(
        a["expected"].as_array().is_some_and(|e| !e.is_empty()),
        "{a}"
    );
    assert!(
        a["model"]["hash"].as_str().is_some_and(|h| !h.is_empty()),
        "{a}"
    );
    assert!(
        a["dedup_key"].as_str().is_some_and(|h| !h.is_empty()),
        "{a}"
    );
    assert!(agent.metric("dante_anomalies_total") >= 1.0);
    assert!(agent.metric("dante_source_lines_total") >= 1.0);
}

#[test]
fn logger_over_udp_and_tcp() {
    if !have("logger") {
        panic!("`logger` is needed (bsdutils); .ci/run installs it");
    }
    let (udp, tcp) = (free_port(), free_port());
    let agent = start(&format!(
        "[sources.udp]\ntype = \"syslog\"\nmode = \"udp\"\naddress = \"127.0.0.1:{udp}\"\n\
         [sources.tcp]\ntype = \"syslog\"\nmode = \"tcp\"\naddress = \"127.0.0.1:{tcp}\"\n"
    ));
    for (n, (proto, port)) in [("--udp", udp), ("--tcp", tcp)].into_iter().enumerate() {
        let ok = Command::new("logger")
            .args([proto, "--server", "127.0.0.1", "--port", &port.to_string()])
            .args(["--rfc3164", "-t", "sudo", &refusal("trudy", n)])
            .status()
            .expect("run logger");
        assert!(ok.success());
    }
    let a = agent.wait_alerts(2);
    assert_eq!(numbers(&a), [0, 1], "{a:?}");
    assert!(a.iter().all(|x| x["user"] == "trudy"), "{a:?}");
}

#[test]
fn rsyslog_forwards_with_omfwd() {
    let Some(rsyslogd) = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        panic!("rsyslogd is needed (apt install rsyslog); .ci/run installs it");
    };
    let tcp = free_port();
    let agent = start(&format!(
        "[sources.tcp]\ntype = \"syslog\"\nmode = \"tcp\"\naddress = \"127.0.0.1:{tcp}\"\n"
    ));
    // rsyslog tails a file with imfile and forwards every line over TCP with omfwd.
    let input = agent.path("app.log");
    std::fs::write(&input, "").expect("create input");
    let conf = agent.path("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            "global(workDirectory=\"{work}\")\n\
             module(load=\"imfile\" PollingInterval=\"1\")\n\
             input(type=\"imfile\" File=\"{input}\" Tag=\"sudo\" Facility=\"authpriv\")\n\
             action(type=\"omfwd\" target=\"127.0.0.1\" port=\"{tcp}\" protocol=\"tcp\" template=\"RSYSLOG_SyslogProtocol23Format\")\n",
            work = agent.dir.path().display(),
            input = input.display(),
        ),
    )
    .expect("write rsyslog.conf");
    let mut rs = Command::new(rsyslogd)
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(agent.path("rsyslog.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rsyslogd");
    std::thread::sleep(Duration::from_millis(500));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .expect("open input");
    for n in 0..3 {
        writeln!(f, "{}", refusal("oscar", n)).expect("append");
    }
    drop(f);
    let a = agent.wait_alerts(3);
    let _ = rs.kill();
    let _ = rs.wait();
    assert_eq!(numbers(&a), [0, 1, 2], "{a:?}");
    assert!(a.iter().all(|x| x["user"] == "oscar"), "{a:?}");
}

#[test]
fn a_file_appended_renamed_and_truncated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("auth.log");
    std::fs::write(&log, format!("{}\n", syslog_line("peggy", 0))).expect("write log");
    let agent = start(&format!(
        "[sources.auth]\ntype = \"file\"\ninclude = [{:?}]\nread_from = \"beginning\"\npoll_interval_ms = 50\n",
        log.display().to_string()
    ));
    let append = |n: usize| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open log");
        writeln!(f, "{}", syslog_line("peggy", n)).expect("append");
    };
    append(1);
    assert_eq!(numbers(&agent.wait_alerts(2)), [0, 1]);
    // Rotation by rename: the old file gets one more line, the new one starts.
    std::fs::rename(&log, dir.path().join("auth.log.1")).expect("rename");
    let mut old = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("auth.log.1"))
        .expect("open rotated");
    writeln!(old, "{}", syslog_line("peggy", 2)).expect("append rotated");
    drop(old);
    append(3);
    assert_eq!(numbers(&agent.wait_alerts(4)), [0, 1, 2, 3]);
    // copytruncate: the content is copied away and the file emptied in place.
    std::fs::copy(&log, dir.path().join("auth.log.2")).expect("copy");
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .expect("truncate");
    std::thread::sleep(Duration::from_millis(300));
    append(4);
    assert_eq!(numbers(&agent.wait_alerts(5)), [0, 1, 2, 3, 4]);
}

#[test]
fn ndjson_over_http() {
    let port = free_port();
    let agent = start(&format!(
        "[sources.vector]\ntype = \"http\"\naddress = \"127.0.0.1:{port}\"\n"
    ));
    let body = format!(
        "{}\nnot json\n{}\n",
        serde_json::json!({"message": refusal("victor", 0), "host": "ws-9", "timestamp": "2026-11-25T10:00:00Z"}),
        serde_json::json!({"message": refusal("ignored", 1), "user": "walter"}),
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("post");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("reply");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let a = agent.wait_alerts(2);
    assert_eq!(numbers(&a), [0, 1], "{a:?}");
    let users: Vec<&str> = a.iter().filter_map(|x| x["user"].as_str()).collect();
    assert!(
        users.contains(&"victor") && users.contains(&"walter"),
        "{users:?}"
    );
    assert!(a.iter().any(|x| x["host"] == "ws-9"), "{a:?}");
}

#[test]
fn a_kill_9_loses_nothing_and_repeats_only_past_the_checkpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("auth.log");
    let total = 3000;
    let text: String = (0..total)
        .map(|n| syslog_line("quentin", n) + "\n")
        .collect();
    std::fs::write(&log, text).expect("write log");
    let mut agent = start(&format!(
        "[sources.auth]\ntype = \"file\"\ninclude = [{:?}]\nread_from = \"beginning\"\npoll_interval_ms = 20\n",
        log.display().to_string()
    ));
    // Kill it mid-way (or after, if it is quick): whatever the checkpoint says was done must
    // not come again.
    let _ = agent.wait_alerts(total / 3);
    agent.kill9();
    let checkpointed = std::fs::read_to_string(agent.path("state/checkpoints/auth.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    let before = numbers(&agent.alerts());
    agent.spawn();
    // Until every line was alerted (or the deadline): repeats make a count meaningless.
    let deadline = Instant::now() + WAIT;
    while numbers(&agent.alerts())
        .windows(2)
        .filter(|w| w[0] != w[1])
        .count()
        + 1
        < total
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    agent.term();
    let after = agent.alerts();
    let all = numbers(&after);
    // None skipped.
    for n in 0..total {
        assert!(all.binary_search(&n).is_ok(), "line {n} never alerted");
    }
    // Repeats only of lines the first run had not checkpointed.
    let offset = checkpointed
        .as_ref()
        .and_then(|c| c["files"].as_object()?.values().next()?["offset"].as_u64())
        .unwrap_or(0) as usize;
    let mut done = 0;
    let mut pos = 0;
    for n in 0..total {
        pos += syslog_line("quentin", n).len() + 1;
        if pos > offset {
            break;
        }
        done += 1;
    }
    for n in 0..done {
        let times = all.iter().filter(|m| **m == n).count();
        assert_eq!(
            times, 1,
            "line {n}, before the checkpoint, alerted {times} times"
        );
    }
    assert!(
        all.len() - total <= before.len().saturating_sub(done),
        "{} repeats, {} alerts before the kill, {done} checkpointed",
        all.len() - total,
        before.len()
    );
}

#[test]
fn sigterm_drains_and_saves_state() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("auth.log");
    std::fs::write(&log, format!("{}\n", syslog_line("rupert", 0))).expect("write log");
    let mut agent = start(&format!(
        "[sources.auth]\ntype = \"file\"\ninclude = [{:?}]\nread_from = \"beginning\"\npoll_interval_ms = 50\n",
        log.display().to_string()
    ));
    assert_eq!(numbers(&agent.wait_alerts(1)), [0]);
    agent.term();
    for f in [
        "state/vocab.json",
        "state/users.bin",
        "state/checkpoints/auth.json",
    ] {
        assert!(agent.path(f).exists(), "{f} not saved");
    }
    // Restarted, it does not read the line again.
    agent.spawn();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| writeln!(f, "{}", syslog_line("rupert", 1)))
        .expect("append");
    assert_eq!(numbers(&agent.wait_alerts(2)), [0, 1]);
}

#[test]
fn validate_names_the_file_line_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[sources.in]\ntype = \"stdin\"\n\n[sinks.tickets]\ntype = \"file\"\npath = 5\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_dante"))
        .args(["validate", "--config"])
        .arg(&bad)
        .output()
        .expect("run validate");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:6:"), "{err}");
    assert!(err.contains("sinks.tickets"), "{err}");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("agent.toml.example");
    let ok = Command::new(env!("CARGO_BIN_EXE_dante"))
        .args(["validate", "--config"])
        .arg(&example)
        .output()
        .expect("run validate");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn stdin_source_ends_the_agent_at_its_end() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[sources.in]\ntype = \"stdin\"\n[sinks.out]\ntype = \"stdout\"\n[api]\nenabled = false\n",
            dir.path().join("state")
        ),
    )
    .expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dante"))
        .args(["run", "--config"])
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    let mut lines = String::new();
    for n in 0..5 {
        lines.push_str(&syslog_line("sybil", n));
        lines.push('\n');
    }
    // A NUL, invalid UTF-8 and an empty line on the way do not stop it.
    lines.push_str("garbage \0 line\n\n");
    input.write_all(lines.as_bytes()).expect("write");
    input.write_all(b"\xff\xfe bad utf8\n").expect("write");
    drop(input);
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let alerts: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(numbers(&alerts), [0, 1, 2, 3, 4]);
}

#[test]
fn sighup_reloads_and_keeps_running_on_a_bad_file() {
    let port = free_port();
    let mut agent = start(&format!(
        "[sources.net]\ntype = \"syslog\"\nmode = \"tcp\"\naddress = \"127.0.0.1:{port}\"\n"
    ));
    let pid = agent.child.as_ref().map(Child::id).expect("running");
    let hup = || {
        Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .expect("kill -HUP")
    };
    let send = |n: usize| {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                if writeln!(s, "<86>{}", syslog_line("uma", n)).is_ok() {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "syslog port not back");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // A valid reload: the pipeline restarts on the same ports and goes on alerting.
    assert!(hup().success());
    std::thread::sleep(Duration::from_millis(500));
    send(0);
    assert_eq!(numbers(&agent.wait_alerts(1)), [0]);
    // A broken file: reported, the running configuration kept.
    let good = std::fs::read_to_string(&agent.config).expect("read config");
    std::fs::write(&agent.config, "data_dir = [").expect("break config");
    assert!(hup().success());
    std::thread::sleep(Duration::from_millis(300));
    send(1);
    assert_eq!(numbers(&agent.wait_alerts(2)), [0, 1]);
    assert_eq!(agent.get("/health").as_deref(), Some("ok\n"));
    std::fs::write(&agent.config, good).expect("restore config");
    agent.term();
}

#[test]
fn nothing_sent_during_a_reload_is_lost() {
    let (udp, tcp) = (free_port(), free_port());
    let agent = start(&format!(
        "[sources.udp]\ntype = \"syslog\"\nmode = \"udp\"\naddress = \"127.0.0.1:{udp}\"\n\
         [sources.tcp]\ntype = \"syslog\"\nmode = \"tcp\"\naddress = \"127.0.0.1:{tcp}\"\n"
    ));
    let pid = agent
        .child
        .as_ref()
        .map(Child::id)
        .expect("running")
        .to_string();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp client");
    let n = 300;
    for i in 0..n {
        if i % 100 == 50 {
            assert!(
                Command::new("kill")
                    .args(["-HUP", &pid])
                    .status()
                    .expect("kill")
                    .success()
            );
        }
        client
            .send_to(
                format!("<86>{}", syslog_line("walter", i)).as_bytes(),
                ("127.0.0.1", udp),
            )
            .expect("send");
        // A TCP connection made mid-reload waits in the kept listener's backlog.
        if i % 100 == 51 {
            let mut s = TcpStream::connect(("127.0.0.1", tcp)).expect("connect during reload");
            writeln!(s, "<86>{}", syslog_line("walter", 1000 + i)).expect("send");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let a = agent.wait_alerts(n + 3);
    let mut want: Vec<usize> = (0..n).collect();
    want.extend([1051, 1151, 1251]);
    assert_eq!(numbers(&a), want);
}

#[test]
fn learn_mode_records_trains_in_the_background_and_then_scores_with_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("auth.log");
    // A benign baseline from the generator; the baseline fills up (max events) well before the
    // file ends, which starts training without waiting for the period.
    let ok = Command::new(env!("CARGO_BIN_EXE_dante"))
        .args([
            "generate", "--users", "20", "--days", "2", "--seed", "3", "--out",
        ])
        .arg(&log)
        .stderr(Stdio::null())
        .status()
        .expect("run dante generate");
    assert!(ok.success());
    let tcp = free_port();
    let mut agent = start(&format!(
        "[sources.auth]\ntype = \"file\"\ninclude = [{:?}]\nread_from = \"beginning\"\npoll_interval_ms = 50\n\
         [sources.tcp]\ntype = \"syslog\"\nmode = \"tcp\"\naddress = \"127.0.0.1:{tcp}\"\n\
         [model]\nmode = \"learn\"\nlearn_secs = 3600\nlearn_min_sessions = 10\nlearn_max_events = 300\nlearn_hidden = 8\n",
        log.display().to_string()
    ));
    let learned = agent.path("state/learn/model.safetensors");
    let deadline = Instant::now() + Duration::from_secs(120);
    while agent.metric("dante_model_learned") < 1.0 {
        assert!(Instant::now() < deadline, "no model learned");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(learned.exists());
    let baseline =
        std::fs::read_to_string(agent.path("state/learn/baseline.tsv")).expect("baseline");
    assert_eq!(baseline.lines().count(), 300);
    // Scoring goes on with the learned model, and names it.
    let send = |n: usize| {
        let mut s = TcpStream::connect(("127.0.0.1", tcp)).expect("connect");
        writeln!(s, "<86>{}", syslog_line("mallory", n)).expect("send");
    };
    send(1);
    let a = agent.wait_alerts(1);
    let last = a
        .iter()
        .rev()
        .find(|x| numbers(std::slice::from_ref(x)) == [1]);
    let id = last.and_then(|x| x["model"]["id"].as_str()).unwrap_or("");
    assert!(id.ends_with("learn/model.safetensors"), "{a:?}");
    // After a restart it starts with the learned model, and does not learn again.
    agent.term();
    agent.spawn();
    send(2);
    let deadline = Instant::now() + WAIT;
    let second = loop {
        let a = agent.alerts();
        if let Some(x) = a.iter().find(|x| numbers(std::slice::from_ref(x)) == [2]) {
            break x.clone();
        }
        assert!(Instant::now() < deadline, "no alert after the restart");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(second["model"]["id"].as_str(), Some(id));
    assert_eq!(
        std::fs::read_to_string(agent.path("state/learn/baseline.tsv"))
            .expect("baseline")
            .lines()
            .count(),
        300
    );
}

#[test]
fn syslog_over_tls_from_openssl_s_client() {
    if !have("openssl") {
        panic!("`openssl` is needed; .ci/run installs it");
    }
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let f = |n: &str| tls.join(n).display().to_string();
    let port = free_port();
    let agent = start(&format!(
        "[sources.tls]\ntype = \"syslog\"\nmode = \"tcp\"\naddress = \"127.0.0.1:{port}\"\n\
         tls = {{ cert_file = {:?}, key_file = {:?}, ca_file = {:?} }}\n",
        f("server.pem"),
        f("server.key"),
        f("ca.pem")
    ));
    let mut client = Command::new("openssl")
        .args(["s_client", "-quiet", "-verify_return_error", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-servername", "localhost", "-CAfile", &f("ca.pem")])
        .args(["-cert", &f("client.pem"), "-key", &f("client.key")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run openssl s_client");
    let mut stdin = client.stdin.take().expect("stdin");
    writeln!(stdin, "<86>{}", syslog_line("victor", 7)).expect("send");
    let a = agent.wait_alerts(1);
    drop(stdin);
    let _ = client.kill();
    let _ = client.wait();
    assert_eq!(numbers(&a), [7], "{a:?}");
    assert_eq!(a[0]["source"], "tls");
}
