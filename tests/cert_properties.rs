//! Property tests of the CERT readers: no bytes make them panic, a damaged row costs only itself
//! (reported and skipped), and the good rows around it are all read, in time order.

use dante::cert::{Merged, org, time};
use proptest::prelude::*;
use std::path::Path;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A line of damage: any bytes but a quote (which may legally join lines in CSV) or a line end.
fn damage() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..120)
        .prop_map(|b| b.into_iter().filter(|c| !b"\"\r\n".contains(c)).collect())
}

/// A good logon row at second `t` of the set, by user `u`.
fn logon(n: usize, t: u32, u: u8) -> String {
    let day = 1 + t / 86_400 % 28;
    let s = t % 86_400;
    format!(
        "{{L{n}}},01/{day:02}/2010 {:02}:{:02}:{:02},U{u:03},PC-{u},{}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        if n % 2 == 0 { "Logon" } else { "Logoff" }
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, bytes).expect("write");
}

proptest! {
    #![proptest_config(config(64))]

    /// Good rows with damaged lines between them: every good row comes out once and in time
    /// order, and every damaged line that is not a row is counted as skipped.
    #[test]
    fn a_damaged_row_costs_only_itself(
        times in prop::collection::vec((0u32..28 * 86_400, 0u8..20), 1..40),
        damaged in prop::collection::vec((0usize..40, damage()), 0..10),
    ) {
        let mut times = times;
        times.sort_unstable();
        let good: Vec<String> = times.iter().enumerate().map(|(n, &(t, u))| logon(n, t, u)).collect();
        let mut lines: Vec<Vec<u8>> = good.iter().map(|l| l.clone().into_bytes()).collect();
        for (at, bytes) in damaged.iter().rev() {
            lines.insert((*at).min(lines.len()), bytes.clone());
        }
        let mut text = b"id,date,user,pc,activity\n".to_vec();
        for l in &lines {
            text.extend_from_slice(l);
            text.push(b'\n');
        }
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "logon.csv", &text);
        let mut merged = Merged::open(dir.path()).expect("open");
        let rows: Vec<_> = merged.by_ref().collect();
        prop_assert!(rows.windows(2).all(|w| w[0].time <= w[1].time), "out of order");
        let got: Vec<(i64, String)> = rows.iter().map(|a| (a.time, a.user.clone())).collect();
        for &(t, u) in &times {
            let day = 1 + t / 86_400 % 28;
            let when = time::parse(format!("01/{day:02}/2010 00:00:00").as_bytes()).unwrap()
                + i64::from(t % 86_400);
            prop_assert!(got.contains(&(when, format!("U{u:03}"))), "lost a good row at {}", when);
        }
        // An empty line is no row; any other line is either read or skipped, never both.
        let data_lines = lines.iter().filter(|l| !l.is_empty()).count();
        prop_assert_eq!(rows.len() as u64 + merged.bad_rows, data_lines as u64);
    }

    /// Any bytes in any of the files: the readers report or skip, never panic.
    #[test]
    fn any_bytes_never_panic(
        files in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 8),
        header in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let names = [
            "logon.csv", "device.csv", "http.csv", "email.csv", "file.csv",
            "LDAP/2010-01.csv", "answers/insiders.csv", "answers/r5.2-1/r5.2-1-U001.csv",
        ];
        let headers: [&[u8]; 8] = [
            b"id,date,user,pc,activity\n",
            b"id,date,user,pc,file_tree,activity\n",
            b"id,date,user,pc,url,content\n",
            b"id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content\n",
            b"id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content\n",
            b"employee_name,user_id,email,role,projects,business_unit,functional_unit,department,team,supervisor\n",
            b"dataset,scenario,details,user,start,end\n5.2,1,r5.2-1-U001.csv,U001,01/04/2010 00:00:00,01/05/2010 00:00:00\n",
            b"",
        ];
        for ((name, head), body) in names.iter().zip(headers).zip(&files) {
            let mut bytes = if header { head.to_vec() } else { Vec::new() };
            bytes.extend_from_slice(body);
            write(dir.path(), name, &bytes);
        }
        if let Ok(merged) = Merged::open(dir.path()) {
            for _ in merged {}
        }
        let _ = org::read_ldap(dir.path());
        let _ = org::read_answers(dir.path());
        let _ = org::read_psychometric(dir.path());
    }
}
