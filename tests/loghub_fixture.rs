//! Template mining on committed excerpts of Loghub-2k (OpenSSH and Linux, 300 lines each, with
//! their corrected ground truth; see `tests/fixtures/loghub/README.md`). The full benchmark is
//! `dante eval loghub`; this keeps a floor under its accuracy in every `cargo test`.

use dante::eval::loghub::{self, Report, SystemReport};
use dante::keys::Format;
use std::path::{Path, PathBuf};
use std::process::Command;

const LINES: usize = 300;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/loghub")
}

fn settings() -> PathBuf {
    fixtures().join("settings.json")
}

fn system<'a>(report: &'a Report, name: &str) -> &'a SystemReport {
    report
        .systems
        .iter()
        .find(|s| s.system == name)
        .unwrap_or_else(|| panic!("no {name} in the report: {report:#?}"))
}

/// (system, log file, header format, true templates in the excerpt)
const SYSTEMS: [(&str, &str, &str, usize); 2] = [
    (
        "OpenSSH",
        "OpenSSH_300.log",
        r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
        20,
    ),
    (
        "Linux",
        "Linux_300.log",
        r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
        12,
    ),
];

/// Measured when the fixtures were added: GA 1.000 on both excerpts (all 300 lines grouped
/// exactly). The floor sits a little below, so that a small change of the miner is allowed but a
/// real regression (more than 6 lines of 300 misgrouped) fails.
const MIN_GA: f64 = 0.98;

#[test]
fn grouping_accuracy_on_the_excerpts() {
    let report = loghub::run(&fixtures(), &settings()).expect("eval runs on the fixtures");
    assert_eq!(report.systems.len(), SYSTEMS.len());
    for (name, _, _, true_templates) in SYSTEMS {
        let s = system(&report, name);
        assert_eq!(s.lines, LINES, "{name}");
        assert_eq!(s.true_templates, true_templates, "{name}");
        assert_eq!(
            s.unmatched, 0,
            "{name}: every line matches its header format"
        );
        let a = s.accuracy;
        assert!(
            a.ga >= MIN_GA,
            "{name}: GA {:.3} < {MIN_GA}\n{}",
            a.ga,
            report.table()
        );
        for m in [a.ga, a.fga, a.pa, a.fta] {
            assert!((0.0..=1.0).contains(&m), "{name}: {a:?}");
        }
    }
    assert!(report.average.ga >= MIN_GA, "{}", report.table());
    // The table names every system and the average.
    let table = report.table();
    for name in ["OpenSSH", "Linux", "average"] {
        assert!(table.contains(name), "{table}");
    }
}

/// `Report::systems` keeps the settings' order (serde_json's `preserve_order`), not name order.
#[test]
fn systems_are_reported_in_the_settings_order() {
    let report = loghub::run(&fixtures(), &settings()).unwrap();
    let names: Vec<&str> = report.systems.iter().map(|s| s.system.as_str()).collect();
    assert_eq!(names, ["OpenSSH", "Linux"]);
}

#[test]
fn eval_loghub_binary_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let run = Command::new(env!("CARGO_BIN_EXE_dante"))
        .arg("eval")
        .arg("loghub")
        .arg("--data")
        .arg(fixtures())
        .arg("--settings")
        .arg(settings())
        .arg("--json")
        .arg(&out)
        .output()
        .expect("run dante");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for name in ["GA", "OpenSSH", "Linux", "average"] {
        assert!(stdout.contains(name), "the table names {name}:\n{stdout}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("--json file written")).unwrap();
    let ga = json["average"]["ga"]
        .as_f64()
        .expect("average.ga is a number");
    assert!(ga >= MIN_GA, "{json:#}");
    let systems = json["systems"].as_array().expect("systems is an array");
    assert_eq!(systems.len(), 2);
    for s in systems {
        assert_eq!(s["lines"], LINES as u64, "{s}");
        assert!(s["ga"].as_f64().is_some_and(|ga| ga >= MIN_GA), "{s}");
        for field in ["fga", "pa", "fta", "lines_per_s"] {
            assert!(s[field].is_number(), "{field} in {s}");
        }
    }
}

#[test]
fn eval_loghub_reports_a_missing_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_dante"))
        .arg("eval")
        .arg("loghub")
        .arg("--data")
        .arg(dir.path())
        .arg("--settings")
        .arg(settings())
        .output()
        .expect("run dante");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("_300.log"),
        "names the file it could not read: {stderr}"
    );
}

/// The excerpts are intact: 300 LF-terminated lines (no CR added by a checkout), 300 truth rows
/// numbered 1..=300, and each line's header decodes to exactly the `Content` the truth gives.
#[test]
fn fixtures_are_intact_and_headers_decode_to_the_truth_content() {
    for (name, log, format, _) in SYSTEMS {
        let bytes = std::fs::read(fixtures().join(log)).unwrap();
        assert!(
            !bytes.contains(&b'\r'),
            "{log}: CR in the fixture (line endings changed?)"
        );
        assert!(bytes.ends_with(b"\n"), "{log}");
        let text = String::from_utf8(bytes).expect("the excerpts are ASCII");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), LINES, "{log}");

        let truth_path = fixtures().join(format!("{log}_structured_corrected.csv"));
        let mut rdr = csv::Reader::from_path(&truth_path).unwrap();
        let headers = rdr.headers().unwrap().clone();
        let col = |h: &str| headers.iter().position(|x| x == h).unwrap();
        let (id_col, content_col) = (col("LineId"), col("Content"));
        assert!(headers.iter().any(|h| h == "EventTemplate"), "{name}");
        let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), LINES, "{name}");

        let format = Format::loghub(format).unwrap();
        for (i, (line, row)) in lines.iter().zip(&rows).enumerate() {
            assert_eq!(row[id_col], (i + 1).to_string(), "{name}");
            let d = format.decode(line);
            assert!(d.matched, "{name} line {}: {line:?}", i + 1);
            // Loghub's own reader strips the line, so a trailing space is not in the truth.
            assert_eq!(
                d.message.trim_end(),
                &row[content_col],
                "{name} line {}",
                i + 1
            );
        }
    }
}
