//! `dante train`, `dante score` and `dante eval sessions` as a user runs them: real processes on
//! files written into a temporary directory. The sessions follow a small grammar generated here.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn dante(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_dante"))
        .args(args)
        .output()
        .expect("run dante");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "dante panicked: {stderr}");
    out
}

/// Runs dante, expecting success; returns its standard error.
fn dante_ok(args: &[&str]) -> String {
    let out = dante(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// Sessions that open with 1, run 2 → 3 or 2 → 4 one to three times, and close with 5.
fn grammar(n: usize) -> String {
    let mut x: u64 = 12345;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut text = String::new();
    for i in 0..n {
        let mut keys = vec!["1".to_string()];
        for _ in 0..1 + next() % 3 {
            keys.push("2".into());
            keys.push(if next() % 2 == 0 { "3" } else { "4" }.into());
        }
        keys.push("5".into());
        text += &format!("s{i},{}\n", keys.join(" "));
    }
    text
}

/// Trains on the grammar with `extra` options; returns the model's path and the standard error.
fn train_with(dir: &Path, extra: &[&str]) -> (String, String) {
    let sessions = dir.join("train.txt");
    fs::write(&sessions, grammar(400)).unwrap();
    let model = dir.join(format!("model{}.safetensors", extra.join("")));
    let mut args = vec![
        "train",
        "--sessions",
        sessions.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--hidden",
        "16",
        "--layers",
        "1",
        "--epochs",
        "40",
    ];
    args.extend(extra);
    let stderr = dante_ok(&args);
    assert!(
        stderr.contains("dante train:") && stderr.contains("g = "),
        "{stderr}"
    );
    (model.to_str().unwrap().to_string(), stderr)
}

fn train(dir: &Path) -> String {
    train_with(dir, &[]).0
}

#[test]
fn trains_then_scores_normal_and_broken_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let model = train(dir.path());
    let test = dir.path().join("test.txt");
    fs::write(&test, "1 2 3 5\n1 2 4 2 3 5\n1 2 9 5\n1 5 2 3\n1 2 3\n\n").unwrap();
    let out = dante(&[
        "score",
        "--model",
        &model,
        "--sessions",
        test.to_str().unwrap(),
        "--output",
        "tsv",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(
        rows.len(),
        6,
        "one row per session, the empty one too: {stdout}"
    );
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], (i + 1).to_string());
        assert!(row[2].parse::<f64>().is_ok(), "score column: {row:?}");
    }
    let verdicts: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    assert_eq!(&verdicts[..5], ["0", "0", "1", "1", "1"], "{stdout}");
    // The unknown key 9 is named at position 3, with the keys the model expected instead.
    assert_eq!(rows[2][3], "3");
    assert_eq!(rows[2][4], "9");
    assert!(
        rows[2][5].contains("3:") || rows[2][5].contains("4:"),
        "{:?}",
        rows[2]
    );
    // A session cut short is flagged at its end.
    assert_eq!((rows[4][3], rows[4][4]), ("4", "end"));
}

#[test]
fn key_pairs_are_the_default_for_sessions_and_deeplogs_rule_alone_is_an_option() {
    let dir = tempfile::tempdir().unwrap();
    let (pairs, stderr) = train_with(dir.path(), &[]);
    assert!(stderr.contains("key pairs"), "{stderr}");
    let (plain, stderr) = train_with(dir.path(), &["--no-key-pairs"]);
    assert!(!stderr.contains("key pairs"), "{stderr}");
    // The unknown key, the misordered session and the one cut short are flagged either way.
    let test = dir.path().join("test.txt");
    fs::write(&test, "1 2 3 5\n1 2 4 2 3 5\n1 2 9 5\n1 5 2 3\n1 2 3\n").unwrap();
    for model in [&pairs, &plain] {
        let out = dante(&[
            "score",
            "--model",
            model,
            "--sessions",
            test.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let verdicts: Vec<&str> = stdout
            .lines()
            .map(|l| l.split('\t').nth(1).unwrap())
            .collect();
        assert_eq!(verdicts, ["0", "0", "1", "1", "1"], "{model}: {stdout}");
    }
    // A model trained on logs serves the agent, which cannot use pairs: asking is an error.
    let logs = dir.path().join("auth.log");
    fs::write(
        &logs,
        "Jun 14 15:16:01 combo sshd[19939]: session opened for user alice\n",
    )
    .unwrap();
    let out = dante(&[
        "train",
        "--logs",
        logs.to_str().unwrap(),
        "--out",
        dir.path().join("logs.safetensors").to_str().unwrap(),
        "--key-pairs",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--key-pairs") && stderr.contains("whole sessions"),
        "{stderr}"
    );
}

#[test]
fn eval_sessions_reports_detection() {
    let dir = tempfile::tempdir().unwrap();
    let train_file = dir.path().join("train.txt");
    fs::write(&train_file, grammar(400)).unwrap();
    let abnormal = dir.path().join("abnormal.txt");
    fs::write(&abnormal, "1 2 9 5\n1 5 2 3\n2 1 3 5\n").unwrap();
    let json = dir.path().join("report.json");
    let dump = dir.path().join("dump.tsv");
    let out = dante(&[
        "eval",
        "sessions",
        "--train",
        train_file.to_str().unwrap(),
        "--test-abnormal",
        abnormal.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--dump",
        dump.to_str().unwrap(),
        "--threads",
        "1",
        "--hidden",
        "16",
        "--layers",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("held out") && text.contains("rule: key pairs"),
        "{text}"
    );
    let report: serde_json::Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["abnormal_sessions"], 3);
    assert_eq!(report["recall"], 1.0, "{report}");
    assert!(report["fpr"].as_f64().unwrap() <= 0.05, "{report}");
    // The dump: the model's validation split (20% of the 320 sessions trained on), the 80 held
    // out and the 3 abnormal ones, each key with its rank and probability, the end included.
    let dump = fs::read_to_string(&dump).unwrap();
    let rows: Vec<Vec<&str>> = dump.lines().map(|l| l.split('\t').collect()).collect();
    let count = |set: &str| rows.iter().filter(|r| r[0] == set).count();
    assert_eq!(
        (count("validation"), count("normal"), count("abnormal")),
        (64, 80, 3)
    );
    for r in &rows {
        let keys = r[1].split(' ').count();
        let ranks: Vec<&str> = r[2].split(' ').collect();
        assert_eq!(ranks.len(), r[3].split(' ').count());
        // An unknown key ends the line with rank -1; otherwise every key and the end.
        assert!(
            ranks.len() == keys + 1 || ranks.last() == Some(&"-1"),
            "{r:?}"
        );
    }
    let first_abnormal = rows.iter().find(|r| r[0] == "abnormal").unwrap();
    assert_eq!(
        (first_abnormal[1], first_abnormal[2]),
        ("1 2 9 5", "0 0 -1")
    );
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    fs::write(&bad, "1 2 3\n1 two 3\n").unwrap();
    let model = dir.path().join("m.safetensors");
    let out = dante(&[
        "train",
        "--sessions",
        bad.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.txt:2") && stderr.contains("\"two\""),
        "{stderr}"
    );

    fs::write(&model, b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage").unwrap();
    let out = dante(&[
        "score",
        "--model",
        model.to_str().unwrap(),
        "--sessions",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("m.safetensors") && stderr.contains("not a valid dante model"),
        "{stderr}"
    );

    let missing = dir.path().join("nope.safetensors");
    let out = dante(&[
        "score",
        "--model",
        missing.to_str().unwrap(),
        "--sessions",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.safetensors"));
}

#[test]
fn trains_from_raw_logs_with_the_agents_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::new();
    for day in 1..=9 {
        for (i, user) in ["alice", "bob", "carol", "dave"].iter().enumerate() {
            let t = format!("Nov  {day} 0{i}:00:0{i}");
            log += &format!(
                "{t} web-3 sshd[1{i}]: Accepted password for {user} from 10.0.0.{i} port 22 ssh2\n"
            );
            log += &format!(
                "{t} web-3 sshd[1{i}]: pam_unix(sshd:session): session opened for user {user} by (uid=0)\n"
            );
            log += &format!(
                "{t} web-3 sudo: {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND=/bin/ls\n"
            );
            log += &format!(
                "{t} web-3 sshd[1{i}]: pam_unix(sshd:session): session closed for user {user}\n"
            );
        }
    }
    let logs = dir.path().join("auth.log");
    fs::write(&logs, log).unwrap();
    let state = dir.path().join("state");
    let model = dir.path().join("m.safetensors");
    let stderr = dante_ok(&[
        "train",
        "--logs",
        logs.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--hidden",
        "16",
        "--layers",
        "1",
    ]);
    // Four users × nine days (sudo counts for the user who ran it), less the validation split.
    let sessions: usize = stderr
        .split("dante train: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!((25..=36).contains(&sessions), "{stderr}");
    assert!(state.join("vocab.json").exists());
    let vocab = fs::read_to_string(state.join("vocab.json")).unwrap();
    assert!(
        vocab.contains("Accepted password for <*> from <*> port <*> ssh2"),
        "{vocab}"
    );
    // The model records the key vocabulary it learned and a value model of the parameters.
    let model = dante::model::file::load(&model).unwrap();
    let miner = dante::keys::vocab::load(&state, dante::keys::MinerConfig::default()).unwrap();
    let hash = dante::keys::vocab::templates_hash(&miner);
    assert_eq!(model.key_vocabulary.as_deref(), Some(hash.as_str()));
    assert!(dante::model::file::check_vocabulary(&model, &hash).is_ok());
    assert!(model.params.is_some_and(|p| !p.keys.is_empty()));
}
