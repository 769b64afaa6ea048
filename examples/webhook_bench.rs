//! The webhook sink's numbers (BENCHMARKS.md, issue 5):
//!
//! 1. queue throughput: alerts appended to a disk queue, flushed and fsynced every batch;
//! 2. delivery: a backlog queued while the receiver is down, then posted to a local receiver;
//! 3. memory while the receiver is down and alerts keep coming.
//!
//! `cargo run --release --example webhook_bench -- [ALERTS] [OUTAGE_SECS] [BATCH]` (defaults
//! 100000, 60, 256: alerts per pipeline batch, one flush and fsync each).

use axum::body::Bytes;
use dante::sink::queue::{self, Fsync, QueueConfig, WhenFull};
use dante::sink::webhook::{self, WebhookConfig};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn alerts(n: usize) -> Vec<Vec<u8>> {
    let text = include_str!("../tests/fixtures/webhook/alert.json");
    let base: Value = serde_json::from_str(text).expect("fixture");
    (0..n)
        .map(|i| {
            let mut a = base.clone();
            // A user per alert: each its own incident, nothing held back.
            a["user"] = format!("user{i}").into();
            serde_json::to_vec(&a).expect("json")
        })
        .collect()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn config(port: u16, when_full: &str) -> WebhookConfig {
    toml::from_str(&format!(
        "url = \"http://127.0.0.1:{port}/\"\nrate_limit_per_minute = 0\nretry_initial_ms = 50\nretry_max_ms = 1000\nqueue = {{ when_full = \"{when_full}\" }}\n"
    ))
    .expect("config")
}

/// Part 3: the receiver is down for `outage` s while 500 alerts/s keep coming. It runs first,
/// before the other parts' alerts take memory.
fn outage(rt: &tokio::runtime::Runtime, outage: u64) {
    let template = alerts(1).remove(0);
    rt.block_on(async move {
        // 3. The receiver is down for `outage` s while 500 alerts/s keep coming.
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut w, delivery) =
            webhook::open("down", &config(dead, "drop_newest"), dir.path()).expect("open");
        let stop = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(delivery.run(stop.clone()));
        let start_rss = rss_kib();
        let t = Instant::now();
        let mut sent = 0usize;
        let mut dropped = 0usize;
        let mut peak = start_rss;
        let mut next_report = 10;
        while t.elapsed() < Duration::from_secs(outage) {
            for _ in 0..50 {
                match w.append(&template) {
                    Ok(()) => sent += 1,
                    // The default 256 MiB bound reached: counted, not queued.
                    Err(queue::AppendError::Dropped) => dropped += 1,
                    Err(e) => panic!("append: {e}"),
                }
            }
            w.flush().expect("flush");
            tokio::time::sleep(Duration::from_millis(100)).await;
            peak = peak.max(rss_kib());
            if t.elapsed() >= Duration::from_secs(next_report) {
                println!(
                    "  outage {:>4} s: {sent} alerts queued, {dropped} dropped (queue full), RSS {} KiB",
                    next_report,
                    rss_kib()
                );
                next_report += 10;
            }
        }
        println!(
            "outage of {outage} s, {sent} alerts queued, {dropped} dropped: RSS {start_rss} KiB at its start, peak {peak} KiB"
        );
        stop.cancel();
        let _ = task.await;
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let outage_secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(60);
    let batch: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(256)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    outage(&rt, outage_secs);
    let bodies = alerts(n);
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    println!("{n} alerts, {} bytes each on average", bytes / n);

    // 1. Queue throughput, both fsync policies.
    for fsync in [Fsync::Batch, Fsync::Never] {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = QueueConfig {
            max_bytes: 1 << 40,
            when_full: WhenFull::Block,
            fsync,
        };
        let (mut w, _r, _s) = queue::open(&dir.path().join("q"), "bench", &cfg).expect("queue");
        let t = Instant::now();
        for chunk in bodies.chunks(batch) {
            for b in chunk {
                w.append(b).expect("append");
            }
            w.flush().expect("flush");
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "queue fsync={fsync:?}: {:.2} s, {:.0} alerts/s, {:.1} MB/s (batches of {batch})",
            secs,
            n as f64 / secs,
            bytes as f64 / secs / 1e6
        );
    }

    rt.block_on(async move {
        // 2. A backlog of n queued while the receiver is down, then delivered.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut w, delivery) =
            webhook::open("bench", &config(port, "block"), dir.path()).expect("open");
        for chunk in bodies.chunks(batch) {
            for b in chunk {
                w.append(b).expect("append");
            }
            w.flush().expect("flush");
        }
        let got = Arc::new(AtomicU64::new(0));
        let counter = got.clone();
        let app = axum::Router::new().fallback(axum::routing::post(move |_b: Bytes| {
            let c = counter.clone();
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let stop = tokio_util::sync::CancellationToken::new();
        let t = Instant::now();
        let task = tokio::spawn(delivery.run(stop.clone()));
        while got.load(Ordering::Relaxed) < n as u64 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "delivery of a {n} backlog: {secs:.2} s, {:.0} alerts/s (concurrency 4, keep-alive HTTP/1.1)",
            n as f64 / secs
        );
        stop.cancel();
        let _ = task.await;
        drop(w);
    });
}
