//! Reading a CERT release: rows per second through `cert::Merged` (CSV parsing, dates, the
//! merge by time) on a synthetic r5.2-layout set written first (`--rows` per file, five files,
//! ~100-byte content fields like the real ones' shorter rows). Prints the median of `--runs`.
//!
//! Usage: cargo bench --bench cert_read -- [--rows N] [--runs K] [--dir DIR]

use dante::cert::{Merged, time};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// The fields after `id,date,user` of row `i`.
type RowFn = Box<dyn Fn(usize) -> String>;

fn main() {
    let mut rows = 1_000_000usize;
    let mut runs = 5usize;
    let mut dir = std::env::temp_dir().join("dante-cert-bench");
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--rows" => rows = it.next().and_then(|v| v.parse().ok()).expect("a number"),
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).expect("a number"),
            "--dir" => dir = PathBuf::from(it.next().expect("a directory")),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    std::fs::create_dir_all(&dir).expect("bench dir");
    let start = time::parse_date("2010-01-04").expect("a date");
    let content = "ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore";
    let files: [(&str, &str, RowFn); 5] = [
        (
            "logon.csv",
            "id,date,user,pc,activity",
            Box::new(|i| {
                format!(
                    "PC-{},{}",
                    i % 3000,
                    if i % 2 == 0 { "Logon" } else { "Logoff" }
                )
            }),
        ),
        (
            "device.csv",
            "id,date,user,pc,file_tree,activity",
            Box::new(|i| {
                format!(
                    "PC-{},R:\\;R:\\Docs,{}",
                    i % 3000,
                    if i % 2 == 0 { "Connect" } else { "Disconnect" }
                )
            }),
        ),
        (
            "http.csv",
            "id,date,user,pc,url,content",
            Box::new(move |i| {
                format!(
                    "PC-{},http://site{}.com/a/b{}.html,{content}",
                    i % 3000,
                    i % 5000,
                    i % 77
                )
            }),
        ),
        (
            "email.csv",
            "id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content",
            Box::new(move |i| {
                format!(
                    "PC-{},a{}@dtaa.com;b@x.com,,,u{}@dtaa.com,Send,{},C:\\f.doc(123),{content}",
                    i % 3000,
                    i % 1000,
                    i % 1000,
                    1000 + i
                )
            }),
        ),
        (
            "file.csv",
            "id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content",
            Box::new(move |i| {
                format!(
                    "PC-{},C:\\docs\\f{}.doc,File Open,False,False,{content}",
                    i % 3000,
                    i % 999
                )
            }),
        ),
    ];
    let mut bytes = 0u64;
    for (name, header, row) in &files {
        let path = dir.join(name);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        writeln!(out, "{header}").expect("write");
        for i in 0..rows {
            let t = start + (i as i64) * 7;
            writeln!(
                out,
                "{{ID-{i}}},{},U{:04},{}",
                time::format(t),
                i % 1000,
                row(i)
            )
            .expect("write");
        }
        out.flush().expect("flush");
        bytes += std::fs::metadata(&path).expect("size").len();
    }
    let mut rates = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let mut m = Merged::open(&dir).expect("open");
        let n = m.by_ref().count();
        assert_eq!((n, m.bad_rows), (rows * 5, 0), "{:?}", m.bad);
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "cert read: {} rows ({:.0} MiB, r5.2 layout), median of {runs}: {median:.0} rows/s ({:.0} MiB/s); runs: {}",
        rows * 5,
        bytes as f64 / 1048576.0,
        median * bytes as f64 / (rows * 5) as f64 / 1048576.0,
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
}
