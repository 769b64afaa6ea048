//! The harness that the agent's end-to-end tests share: `dante run` as a real process on a
//! configuration in a temporary directory, its API on a free loopback port, and test lines that
//! each become an alert.
// Each test crate compiles this module on its own and uses a part of it.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long anything may take before a test gives up (CI machines are slow and shared).
pub const WAIT: Duration = Duration::from_secs(30);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A refused sudo by `user`, numbered so that its alert can be told apart: a key the bundled
/// model never saw, so every such line is an alert.
pub fn refusal(user: &str, n: usize) -> String {
    format!(
        "{user} : user NOT in sudoers ; TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND=/bin/cat /etc/shadow{n}"
    )
}

pub fn syslog_line(user: &str, n: usize) -> String {
    format!("Nov 25 10:00:00 ws-1 sudo[42]: {}", refusal(user, n))
}

/// Waits until `done`, failing the test after [`WAIT`].
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running `dante run`. Its standard error goes to `dante.log` in its directory, and is
/// printed when a test fails while the agent is up.
pub struct Agent {
    pub dir: TempDir,
    pub child: Option<Child>,
    pub api: u16,
    pub config: PathBuf,
}

impl Agent {
    /// Starts `dante run` in `dir` on a configuration of `tables` (TOML) plus a state directory
    /// and the API, and waits for `/health`.
    pub fn start_in(dir: TempDir, tables: &str) -> Self {
        let api = free_port();
        let config = dir.path().join("agent.toml");
        let text = format!(
            "data_dir = {:?}\n{tables}\n[api]\naddress = \"127.0.0.1:{api}\"\n",
            dir.path().join("state"),
        );
        std::fs::write(&config, text).expect("write config");
        let mut agent = Self {
            dir,
            child: None,
            api,
            config,
        };
        agent.spawn();
        agent
    }

    /// Starts (or restarts) the process and waits for `/health`.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("dante.log"))
            .expect("open dante.log");
        let child = Command::new(env!("CARGO_BIN_EXE_dante"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("DANTE_TEST_TOKEN", "t0ken")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn dante run");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while self.get("/health").as_deref() != Some("ok\n") {
            assert!(Instant::now() < deadline, "dante did not become healthy");
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait().ok().flatten()) {
                panic!("dante exited early: {status}\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// What the agent wrote to its standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("dante.log")).unwrap_or_default()
    }

    /// A plain HTTP/1.1 GET on the API; the body of a 200.
    pub fn get(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.api)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut r = String::new();
        s.read_to_string(&mut r).ok()?;
        let (head, body) = r.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200").then(|| body.to_string())
    }

    /// The sum of the metric lines starting with `name` (labels included).
    pub fn metric(&self, name: &str) -> f64 {
        self.get("/metrics")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// The alerts written so far by a file sink to `alerts.jsonl` in the agent's directory.
    pub fn alerts(&self) -> Vec<Value> {
        let Ok(f) = std::fs::File::open(self.path("alerts.jsonl")) else {
            return Vec::new();
        };
        std::io::BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect()
    }

    /// Waits until at least `n` alerts were written (or [`WAIT`] passed); returns them.
    pub fn wait_alerts(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let a = self.alerts();
            if a.len() >= n || Instant::now() > deadline {
                return a;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the agent with SIGTERM and waits for it to exit.
    pub fn term(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + WAIT;
            while c.try_wait().ok().flatten().is_none() {
                assert!(Instant::now() < deadline, "dante did not stop on SIGTERM");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // A failing test drops its agent while unwinding: show what the agent said.
        if std::thread::panicking() {
            eprintln!("dante.log:\n{}", self.log());
        }
        self.kill9();
    }
}
