//! End-to-end tests of the `dante` binary: fixtures are written into a temporary directory, the
//! real binary is run on them and its stdout, stderr and exit status are checked.

use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use tempfile::TempDir;

/// A scratch directory to write inputs into and run `dante` from.
struct Env {
    dir: TempDir,
}

/// What one run of `dante` did.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Env {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `content` into `name` and returns the name, for use as an argument.
    fn write<'a>(&self, name: &'a str, content: impl AsRef<[u8]>) -> &'a str {
        std::fs::write(self.path(name), content).expect("write fixture");
        name
    }

    /// Runs `dante ARGS` in the scratch directory with empty standard input.
    fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, b"")
    }

    /// Runs `dante ARGS` in the scratch directory with `input` on standard input.
    fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dante"))
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dante");
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = input.to_vec();
        // Feed stdin from a thread so that a large input cannot deadlock against a full stdout.
        let feeder = std::thread::spawn(move || {
            // dante may exit before reading everything (a bad flag): a broken pipe is fine.
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait for dante");
        feeder.join().expect("stdin feeder");
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !run.stderr.contains("panicked"),
            "dante panicked on {args:?}:\n{}",
            run.stderr
        );
        run
    }
}

impl Run {
    #[track_caller]
    fn success(self) -> Self {
        assert_eq!(self.code, Some(0), "expected success:\n{self:#?}");
        self
    }

    /// The TSV rows: (line number, key id, template).
    fn rows(&self) -> Vec<(u64, u32, String)> {
        self.stdout
            .lines()
            .map(|l| {
                let mut f = l.splitn(3, '\t');
                let n = f.next().unwrap().parse().expect("line number");
                let k = f.next().expect("key column").parse().expect("key id");
                let t = f.next().expect("template column").to_string();
                (n, k, t)
            })
            .collect()
    }

    /// The JSON rows, one object per line.
    fn json(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
            .collect()
    }
}

/// Checks the numbering of `rows` is 1..=n, in order.
#[track_caller]
fn assert_numbered(rows: &[(u64, u32, String)], n: usize) {
    let numbers: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(numbers, (1..=n as u64).collect::<Vec<_>>());
}

const ACCEPTED: &str = "Accepted password for <*> from <*> port <*> ssh2";
const FAILED: &str = "Failed password for <*> from <*> port <*> ssh2";
const INVALID: &str = "Invalid user <*> from <*>";

/// sshd lines as in /var/log/auth.log, with at least three users per message so that the user
/// position becomes a variable.
const AUTH_LOG: &str = "\
Dec 10 06:55:46 web-3 sshd[24200]: Accepted password for alice from 10.0.0.1 port 22 ssh2
Dec 10 06:55:47 web-3 sshd[24201]: Failed password for bob from 10.0.0.2 port 2222 ssh2
Dec 10 06:55:48 web-3 sshd[24202]: Invalid user webmaster from 10.0.0.7
Dec 10 06:55:49 web-3 sshd[24203]: Accepted password for carol from 10.0.0.3 port 22 ssh2
Dec 10 06:55:50 web-3 sshd[24204]: Invalid user test from 10.0.0.8
Dec 10 06:55:51 web-3 sshd[24205]: Accepted password for dave from 192.168.1.4 port 51515 ssh2
Dec 10 06:55:52 web-3 sshd[24206]: Invalid user oracle from 10.0.0.9
Dec 10 06:55:53 web-3 sshd[24207]: Failed password for erin from 10.0.0.5 port 2223 ssh2
Dec 10 06:55:54 web-3 sshd[24208]: Failed password for frank from 10.0.0.6 port 2224 ssh2
";

const AUTH_TEMPLATES: [&str; 9] = [
    ACCEPTED, FAILED, INVALID, ACCEPTED, INVALID, ACCEPTED, INVALID, FAILED, FAILED,
];

/// Checks the rows of AUTH_LOG: the right template per line, one key per template.
#[track_caller]
fn assert_auth_rows(rows: &[(u64, u32, String)], first_line: u64) {
    assert_eq!(rows.len(), AUTH_TEMPLATES.len());
    for (i, ((n, _, t), want)) in rows.iter().zip(AUTH_TEMPLATES).enumerate() {
        assert_eq!(*n, first_line + i as u64);
        assert_eq!(t, want, "line {n}");
    }
    for a in rows {
        for b in rows {
            assert_eq!(
                a.1 == b.1,
                a.2 == b.2,
                "same key iff same template: {a:?} {b:?}"
            );
        }
    }
}

#[test]
fn syslog_auth_lines_get_sshd_templates() {
    let env = Env::new();
    let log = env.write("auth.log", AUTH_LOG);
    let run = env.run(&["parse", log]).success();
    let rows = run.rows();
    assert_auth_rows(&rows, 1);
    // Three templates, numbered from 1 in order of first appearance.
    assert_eq!((rows[0].1, rows[1].1, rows[2].1), (1, 2, 3));
    assert!(run.stderr.contains("9 lines"), "{}", run.stderr);
}

#[test]
fn stdin_is_read_when_no_file_is_given() {
    let env = Env::new();
    let run = env
        .run_with_stdin(&["parse"], AUTH_LOG.as_bytes())
        .success();
    assert_auth_rows(&run.rows(), 1);
}

#[test]
fn empty_stdin_gives_no_rows() {
    let env = Env::new();
    let run = env.run(&["parse"]).success();
    assert_eq!(run.stdout, "");
}

#[test]
fn line_numbers_run_on_across_files() {
    let env = Env::new();
    let a = env.write(
        "a.log",
        "Dec 10 06:55:40 h sshd[1]: Server listening on 0.0.0.0 port 22.\n",
    );
    let b = env.write("b.log", AUTH_LOG);
    // No final newline: the last line still counts.
    let c = env.write(
        "c.log",
        "Dec 10 06:55:59 h sshd[9]: Received disconnect from 10.0.0.1",
    );
    let run = env.run(&["parse", a, b, c]).success();
    let rows = run.rows();
    assert_numbered(&rows, 11);
    assert_eq!(rows[0].2, "Server listening on <*> port <*>.");
    assert_auth_rows(&rows[1..10], 2);
    assert_eq!(rows[10].2, "Received disconnect from <*>");
}

#[test]
fn state_keeps_ids_across_runs_and_new_ids_continue() {
    let env = Env::new();
    let log = env.write("auth.log", AUTH_LOG);
    let first = env
        .run(&["parse", "--state", "state", log])
        .success()
        .rows();
    let vocab = env.path("state/vocab.json");
    assert!(vocab.is_file(), "vocab.json is written");
    assert!(
        !env.path("state/.vocab.json.tmp").exists(),
        "no temporary file is left behind"
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&vocab).unwrap()).unwrap();
    assert!(saved["next_id"].as_u64().is_some(), "{saved}");

    let new = env.write(
        "new.log",
        "Dec 10 07:00:00 web-3 sshd[24300]: Connection closed by 10.0.0.1 port 22 [preauth]\n",
    );
    let second = env
        .run(&["parse", "--state", "state", new, log])
        .success()
        .rows();
    assert_eq!(second.len(), 1 + first.len());
    // The same lines keep their ids and templates.
    assert_eq!(
        &second[1..].iter().map(|r| (r.1, &r.2)).collect::<Vec<_>>(),
        &first.iter().map(|r| (r.1, &r.2)).collect::<Vec<_>>()
    );
    // The new shape gets an id after every id handed out before (retired ones included).
    let old_max = first.iter().map(|r| r.1).max().unwrap();
    let next_before = saved["next_id"].as_u64().unwrap() as u32;
    assert!(
        second[0].1 > old_max && second[0].1 >= next_before,
        "{second:?}"
    );
    assert_eq!(second[0].2, "Connection closed by <*> port <*> [preauth]");

    // A third run over everything still agrees.
    let third = env
        .run(&["parse", "--state", "state", log, new])
        .success()
        .rows();
    assert_eq!(third[9].1, second[0].1);
    assert_eq!(third[0].1, first[0].1);
}

#[test]
fn state_directory_is_created_when_missing() {
    let env = Env::new();
    let log = env.write("auth.log", AUTH_LOG);
    env.run(&["parse", "--state", "deep/er/state", log])
        .success();
    assert!(env.path("deep/er/state/vocab.json").is_file());
}

#[test]
fn corrupt_vocabulary_is_a_clear_error() {
    let env = Env::new();
    std::fs::create_dir(env.path("state")).unwrap();
    env.write("state/vocab.json", "{\"format\":1,\"next_");
    let log = env.write("auth.log", AUTH_LOG);
    let run = env.run(&["parse", "--state", "state", log]);
    assert_ne!(run.code, Some(0), "{run:#?}");
    assert!(run.stderr.contains("vocab.json"), "{}", run.stderr);
    assert_eq!(run.stdout, "", "nothing is parsed with a broken vocabulary");
    // The broken file is left for a human to look at, not overwritten.
    assert_eq!(
        std::fs::read_to_string(env.path("state/vocab.json")).unwrap(),
        "{\"format\":1,\"next_"
    );
}

#[test]
fn vocabulary_with_impossible_ids_is_refused() {
    let env = Env::new();
    std::fs::create_dir(env.path("state")).unwrap();
    env.write(
        "state/vocab.json",
        r#"{"format":1,"next_id":2,"templates":[{"id":5,"template":"x","count":1}]}"#,
    );
    let log = env.write("auth.log", AUTH_LOG);
    let run = env.run(&["parse", "--state", "state", log]);
    assert_ne!(run.code, Some(0), "{run:#?}");
    assert!(run.stderr.contains("vocab.json"), "{}", run.stderr);
}

#[test]
fn missing_file_is_named_and_the_others_are_still_parsed() {
    let env = Env::new();
    let log = env.write("auth.log", AUTH_LOG);
    let run = env.run(&["parse", "no-such-file.log", log]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stderr.contains("no-such-file.log"), "{}", run.stderr);
    assert_auth_rows(&run.rows(), 1);
}

#[test]
fn a_directory_as_input_is_reported_and_skipped() {
    let env = Env::new();
    std::fs::create_dir(env.path("adir")).unwrap();
    let log = env.write("auth.log", AUTH_LOG);
    let run = env.run(&["parse", log, "adir"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stderr.contains("adir"), "{}", run.stderr);
    assert_auth_rows(&run.rows(), 1);
}

#[test]
fn bad_format_is_refused_naming_the_flag() {
    let env = Env::new();
    let log = env.write("auth.log", AUTH_LOG);
    for format in ["regex:(", "regex:^(?P<host>\\S+) .*$", "<Date> <Time>"] {
        let run = env.run(&["parse", "--format", format, log]);
        assert_eq!(run.code, Some(2), "{format}: {run:#?}");
        assert!(run.stderr.contains("--format"), "{format}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}

#[test]
fn loghub_format_extracts_the_content() {
    let env = Env::new();
    let log = env.write(
        "spark.log",
        "\
17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]
17/06/09 20:10:41 INFO spark.SecurityManager: Changing view acls to: yarn,curi
17/06/09 20:10:42 INFO executor.Executor: Got assigned task 42
this line does not match
",
    );
    let fmt = "<Date> <Time> <Level> <Component>: <Content>";
    let rows = env.run(&["parse", "--format", fmt, log]).success().rows();
    assert_numbered(&rows, 4);
    assert_eq!(rows[0].2, "Registered signal handlers for [TERM, HUP, INT]");
    assert_eq!(rows[1].2, "Changing view acls to: yarn,curi");
    assert_eq!(rows[2].2, "Got assigned task <*>");
    // Mined whole, never dropped.
    assert_eq!(rows[3].2, "this line does not match");

    let json = env
        .run(&["parse", "--format", fmt, "--output", "json", log])
        .success()
        .json();
    assert_eq!(
        json[0]["message"],
        "Registered signal handlers for [TERM, HUP, INT]"
    );
    assert_eq!(json[0]["app"], "executor.CoarseGrainedExecutorBackend");
    assert_eq!(json[0]["unmatched"], false);
    assert_eq!(json[3]["message"], "this line does not match");
    assert_eq!(json[3]["unmatched"], true);
}

#[test]
fn json_rows_carry_params_with_kinds_and_header_fields() {
    let env = Env::new();
    let log = env.write("auth.log", AUTH_LOG);
    let run = env.run(&["parse", "--output", "json", log]).success();
    let rows = run.json();
    assert_eq!(rows.len(), 9);
    let tsv = env.run(&["parse", log]).success().rows();
    for (i, (row, t)) in rows.iter().zip(&tsv).enumerate() {
        assert_eq!(row["line"], i as u64 + 1);
        assert_eq!(row["key"], t.1, "JSON and TSV agree on keys");
        assert_eq!(row["template"], t.2.as_str());
        assert_eq!(row["truncated"], false);
        assert_eq!(row["unmatched"], false);
        assert_eq!(row["host"], "web-3");
        assert_eq!(row["app"], "sshd");
        assert_eq!(row["pid"], format!("{}", 24200 + i));
        let ts = row["timestamp"].as_str().expect("timestamp is known");
        assert!(ts.contains(&format!("-12-10T06:55:{}", 46 + i)), "{ts}");
    }
    let first = &rows[0];
    assert_eq!(
        first["message"],
        "Accepted password for alice from 10.0.0.1 port 22 ssh2"
    );
    assert_eq!(
        first["params"],
        serde_json::json!([
            {"value": "alice", "kind": "user"},
            {"value": "10.0.0.1", "kind": "ip"},
            {"value": "22", "kind": "number"},
        ])
    );
    // The user of an earlier line is taken against the final, merged template.
    assert_eq!(
        rows[2]["params"],
        serde_json::json!([
            {"value": "webmaster", "kind": "user"},
            {"value": "10.0.0.7", "kind": "ip"},
        ])
    );
}

#[test]
fn bad_bytes_give_one_row_per_line_and_no_panic() {
    let env = Env::new();
    let mut input: Vec<u8> = Vec::new();
    input.extend_from_slice(b"plain line one\n");
    input.extend_from_slice(b"\xff\xfe bad \xc3 utf8 \xed\xa0\x80 here\n"); // invalid UTF-8
    input.extend_from_slice(b"nul\x00separated\x00\x00words\n"); // NUL bytes
    input.extend_from_slice(b"windows line 7\r\n"); // CRLF
    input.extend_from_slice(b"\n"); // empty
    input.extend_from_slice(b"\r\n"); // empty, CRLF
    input.extend_from_slice(b"\x00\x00\x00\n"); // only NULs
    input.extend_from_slice(b"last line without newline");
    let log = env.write("weird.log", &input);
    let run = env.run(&["parse", log]).success();
    let rows = run.rows();
    assert_numbered(&rows, 8);
    assert_eq!(rows[0].2, "plain line one");
    assert!(rows[1].2.contains('\u{FFFD}'), "lossy: {:?}", rows[1].2);
    assert!(rows[1].2.contains("bad") && rows[1].2.contains("here"));
    assert_eq!(rows[2].2, "nul separated words");
    assert_eq!(rows[3].2, "windows line <*>", "CR is stripped");
    assert_eq!(rows[4].2, "");
    assert_eq!(rows[5].2, "");
    assert_eq!(rows[6].2, "");
    assert_eq!(rows[7].2, "last line without newline");
    assert!(run.stderr.contains("1 invalid UTF-8"), "{}", run.stderr);

    let json = env
        .run(&["parse", "--output", "json", log])
        .success()
        .json();
    assert_eq!(json.len(), 8);
    assert_eq!(json[3]["message"], "windows line 7");
    assert_eq!(
        json[3]["params"],
        serde_json::json!([{"value": "7", "kind": "number"}])
    );
    assert!(json.iter().all(|r| r["truncated"] == false));

    // The same bytes through standard input.
    let stdin = env.run_with_stdin(&["parse"], &input).success();
    assert_eq!(stdin.rows(), rows);
}

#[test]
fn a_huge_line_is_cut_and_flagged_and_the_next_line_survives() {
    let env = Env::new();
    let mut input = b"before the long line\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 1 << 20));
    input.extend_from_slice(b"\nafter the long line 42\n");
    // A long line of two-byte characters, cut at an odd cap: the cut must not split one.
    input.extend("é".repeat(1 << 19).bytes());
    input.extend_from_slice(b"\nthe end\n");
    let log = env.write("long.log", &input);

    let run = env
        .run(&["parse", "--max-line-bytes", "4095", log])
        .success();
    let rows = run.rows();
    assert_numbered(&rows, 5);
    assert_eq!(rows[0].2, "before the long line");
    assert_eq!(rows[1].2.len(), 4095);
    assert_eq!(rows[2].2, "after the long line <*>");
    assert_eq!(rows[3].2, "é".repeat(2047));
    assert_eq!(rows[4].2, "the end");
    assert!(run.stderr.contains("2 truncated"), "{}", run.stderr);
    assert!(run.stderr.contains("0 invalid UTF-8"), "{}", run.stderr);

    let json = env
        .run(&["parse", "--max-line-bytes", "4096", "--output", "json", log])
        .success()
        .json();
    let truncated: Vec<bool> = json.iter().map(|r| r["truncated"] == true).collect();
    assert_eq!(truncated, [false, true, false, true, false]);
    assert_eq!(json[1]["message"].as_str().unwrap().len(), 4096);
    assert_eq!(json[2]["message"], "after the long line 42");
    assert_eq!(json[3]["message"].as_str().unwrap(), "é".repeat(2048));
}

#[test]
fn evicted_keys_still_give_one_row_per_line() {
    let env = Env::new();
    let log = env.write(
        "shapes.log",
        "alpha one two\nbeta three four five\ngamma six seven eight nine\nalpha one two\n",
    );
    let run = env
        .run(&["parse", "--format", "raw", "--max-templates", "1", log])
        .success();
    let rows = run.rows();
    assert_numbered(&rows, 4);
    assert!(rows.iter().all(|r| r.1 >= 1));
    // Ids are never reused: the evicted shape comes back with a new id.
    assert_ne!(rows[0].1, rows[3].1);
    assert_eq!(rows[3].2, "alpha one two");
    assert!(run.stderr.contains("evicted"), "{}", run.stderr);
}

/// Regression: the tokenizer splits only on ASCII whitespace and NUL, so a saved template must
/// reload without being split on Unicode whitespace (U+00A0 and others), or the same line would
/// get a new id after a restart.
#[test]
fn state_keeps_ids_for_lines_with_unicode_spaces() {
    let env = Env::new();
    let log = env.write("nbsp.log", "user\u{a0}alice logged in\n");
    let first = env
        .run(&["parse", "--state", "state", log])
        .success()
        .rows();
    let second = env
        .run(&["parse", "--state", "state", log])
        .success()
        .rows();
    assert_eq!(first, second);
}

/// Regression: once a line of two values has made `<*> <*>`, a new user's line must still join
/// `user <*>` (the more specific template), not the all-values one.
#[test]
fn lines_of_one_template_share_one_key_next_to_an_all_values_template() {
    let env = Env::new();
    let log = env.write(
        "users.log",
        "user alice\nuser bob\nuser carol\n12:00:01 2048\nuser dave\nuser alice\n",
    );
    let rows = env.run(&["parse", "--format", "raw", log]).success().rows();
    assert_numbered(&rows, 6);
    let templates: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(
        templates,
        [
            "user <*>", "user <*>", "user <*>", "<*> <*>", "user <*>", "user <*>"
        ]
    );
    assert_eq!(rows[4].1, rows[0].1);
}

#[test]
fn clap_rejects_unknown_output() {
    let env = Env::new();
    let run = env.run(&["parse", "--output", "xml"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("--output"), "{}", run.stderr);
}

#[test]
fn simulate_cert_writes_a_set_and_names_bad_flags() {
    let env = Env::new();
    let run = env.run(&["simulate", "cert", "--out", "set", "--scenarios", "1,7"]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("--scenarios"), "{}", run.stderr);
    assert!(
        run.stderr.contains("\"7\" is not a CERT scenario"),
        "{}",
        run.stderr
    );
    let run = env.run(&["simulate", "cert", "--out", "set", "--start", "2010-02-30"]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("--start"), "{}", run.stderr);
    let run = env.run(&["simulate", "cert", "--out", "set", "--users", "12"]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("--users 12"), "{}", run.stderr);
    assert!(
        !env.path("set").exists(),
        "nothing is written on a refused argument"
    );

    let args = [
        "simulate",
        "cert",
        "--out",
        "set",
        "--users",
        "30",
        "--days",
        "35",
        "--seed",
        "9",
        "--scenarios",
        "2,4",
    ];
    let run = env.run(&args).success();
    assert!(run.stderr.contains("2 insider(s)"), "{}", run.stderr);
    let answers = std::fs::read_to_string(env.path("set/answers/insiders.csv")).unwrap();
    assert_eq!(answers.lines().count(), 3, "{answers}");
    assert!(answers.contains("\n5.2,2,r5.2-2-") && answers.contains("\n5.2,4,r5.2-4-"));
    for f in ["logon", "device", "http", "email", "file", "psychometric"] {
        assert!(env.path(&format!("set/{f}.csv")).exists(), "{f}");
    }
    // The same directory again is refused, not overwritten.
    let run = env.run(&args);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(
        run.stderr.contains("--out set: exists and is not empty"),
        "{}",
        run.stderr
    );
}
