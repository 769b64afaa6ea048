//! Syslog TCP intake: how many messages per second the `syslog` source takes in over TCP —
//! reading, framing (newline and octet counting), events, batches into the pipeline channel.
//!
//! The source and a consumer that counts and acknowledges the batches run on one tokio thread
//! (a current-thread runtime), the senders on threads of their own, so that on a 2-core machine
//! the source has one core. Prints the median of `--runs`.
//!
//! Usage: cargo bench --bench syslog_intake -- [--messages N] [--connections C] [--runs K]
//!        [--octet-counting]

use dante::source::syslog::{Mode, SyslogConfig, bind};
use dante::source::{Batch, Context};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

struct Args {
    messages: usize,
    connections: usize,
    runs: usize,
    octet_counting: bool,
}

fn args() -> Args {
    let mut a = Args {
        messages: 2_000_000,
        connections: 4,
        runs: 5,
        octet_counting: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut num = || it.next().and_then(|v| v.parse().ok()).expect("a number");
        match k.as_str() {
            "--messages" => a.messages = num(),
            "--connections" => a.connections = num(),
            "--runs" => a.runs = num(),
            "--octet-counting" => a.octet_counting = true,
            // `cargo bench` passes --bench.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// One connection's bytes: realistic sshd/sudo lines, about 110 bytes each.
fn payload(conn: usize, n: usize, octets: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 120);
    for i in 0..n {
        let msg = if i % 3 == 0 {
            format!(
                "<86>Nov 25 10:{:02}:{:02} ws-{conn} sshd[{}]: Accepted publickey for user{} from 10.0.{}.{} port {} ssh2",
                i / 60 % 60,
                i % 60,
                1000 + i % 5000,
                i % 997,
                i % 250,
                i % 251,
                20_000 + i % 40_000
            )
        } else {
            format!(
                "<85>Nov 25 10:{:02}:{:02} ws-{conn} sudo[{}]: user{} : TTY=pts/{} ; PWD=/home/user{} ; USER=root ; COMMAND=/usr/bin/systemctl status nginx",
                i / 60 % 60,
                i % 60,
                2000 + i % 5000,
                i % 997,
                i % 8,
                i % 997
            )
        };
        if octets {
            write!(out, "{} {msg}", msg.len()).expect("write to a Vec");
        } else {
            writeln!(out, "{msg}").expect("write to a Vec");
        }
    }
    out
}

fn run_once(a: &Args, payloads: &[Vec<u8>]) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let cfg = SyslogConfig {
            mode: Mode::Tcp,
            address: "127.0.0.1:0".into(),
            max_length: 65_536,
            connection_limit: 64,
            tls: None,
            socket_mode: None,
        };
        let bound = bind(&cfg).await.expect("bind");
        let addr: SocketAddr = bound.local_addr().inet().expect("an inet address");
        let (tx, mut rx) = mpsc::channel::<Batch>(64);
        let shutdown = CancellationToken::new();
        let cx = Context {
            id: "bench".into(),
            index: 0,
            out: tx,
            shutdown: shutdown.clone(),
            data_dir: std::env::temp_dir(),
        };
        let source = tokio::spawn(bound.run(cx));
        let total = a.messages;
        let started = Instant::now();
        let senders: Vec<_> = payloads
            .iter()
            .cloned()
            .map(|p| {
                std::thread::spawn(move || {
                    let mut s = TcpStream::connect(addr).expect("connect");
                    s.write_all(&p).expect("send");
                })
            })
            .collect();
        let mut got = 0usize;
        while got < total {
            let Some(b) = rx.recv().await else { break };
            got += b.events.len();
            if let Some(ack) = b.ack {
                ack.done();
            }
        }
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(got, total, "messages lost");
        for s in senders {
            s.join().expect("sender");
        }
        shutdown.cancel();
        let _ = source.await;
        total as f64 / secs
    })
}

fn main() {
    let a = args();
    let per = a.messages / a.connections;
    let a = Args {
        messages: per * a.connections,
        ..a
    };
    let payloads: Vec<Vec<u8>> = (0..a.connections)
        .map(|c| payload(c, per, a.octet_counting))
        .collect();
    let bytes: usize = payloads.iter().map(Vec::len).sum();
    let mut rates: Vec<f64> = (0..a.runs).map(|_| run_once(&a, &payloads)).collect();
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "syslog tcp intake ({} framing): {} messages ({:.0} MiB) over {} connections, median of {}: {:.0} messages/s ({:.0} MiB/s); runs: {}",
        if a.octet_counting {
            "octet-counting"
        } else {
            "newline"
        },
        a.messages,
        bytes as f64 / 1048576.0,
        a.connections,
        a.runs,
        median,
        median * bytes as f64 / a.messages as f64 / 1048576.0,
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
}
