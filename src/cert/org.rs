//! Who is who: the monthly LDAP snapshots (`LDAP/YYYY-MM.csv`), `psychometric.csv` and, when
//! present, the answer key (`answers/insiders.csv`).
//!
//! LDAP columns are found by header name (r4.2 has no `projects`); the supervisor is given by
//! name and resolved to a user id. A user missing from the last snapshot left during the period:
//! their departure is the first month they are missing from.

use super::activity::BadRow;
use super::time;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The fewest members of a unit leaving in one month that make a layoff ([`Org::laid_off`]).
pub const LAYOFF_LEAVERS: usize = 3;

/// One employee, as the snapshots describe them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Employee {
    /// `employee_name`.
    pub name: String,
    /// `email`.
    pub email: String,
    /// `role` in the last snapshot they appear in.
    pub role: String,
    /// `functional_unit`, `department` and `team`, joined by `/` (the unit they work in).
    pub unit: String,
    /// The supervisor's user id, when the name resolves.
    pub supervisor: Option<String>,
    /// The first and last month (`YYYY-MM`) they appear in.
    pub first_month: String,
    /// See `first_month`.
    pub last_month: String,
}

/// The organisation over the data set's months.
#[derive(Debug, Clone, Default)]
pub struct Org {
    /// By user id.
    pub employees: BTreeMap<String, Employee>,
    /// The snapshots' months, in order.
    pub months: Vec<String>,
    /// Rows skipped (and why).
    pub bad: Vec<BadRow>,
}

impl Org {
    /// The start (seconds, CERT clock) of the month after the user's last snapshot, when they
    /// are missing from the final one: they left before it.
    pub fn departure(&self, user: &str) -> Option<i64> {
        let e = self.employees.get(user)?;
        let last = self.months.last()?;
        if &e.last_month >= last {
            return None;
        }
        let (y, m) = e.last_month.split_once('-')?;
        let (y, m): (i64, u32) = (y.parse().ok()?, m.parse().ok()?);
        let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        Some(time::days_from_civil(y, m, 1) * time::DAY)
    }

    /// The users whose departure ([`Org::departure`]) was one of a layoff: at least
    /// [`LAYOFF_LEAVERS`] of their unit (the last one they were in), and at least a third of
    /// those in it that month, left in the same month. By chance this is rare: in a team of
    /// seven where one person in a hundred leaves in a month, three leave in the same month
    /// about once in thirty thousand team-months.
    pub fn laid_off(&self) -> BTreeSet<&str> {
        let mut units: BTreeMap<&str, Vec<(&str, &Employee)>> = BTreeMap::new();
        for (id, e) in &self.employees {
            units.entry(e.unit.as_str()).or_default().push((id, e));
        }
        let mut out = BTreeSet::new();
        for members in units.values() {
            // The leavers by their last month, the unit's size by month.
            let mut left: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (id, e) in members {
                if self.departure(id).is_some() {
                    left.entry(e.last_month.as_str()).or_default().push(id);
                }
            }
            for (month, ids) in left {
                let size = members
                    .iter()
                    .filter(|(_, e)| {
                        e.first_month.as_str() <= month && month <= e.last_month.as_str()
                    })
                    .count();
                if ids.len() >= LAYOFF_LEAVERS && ids.len() * 3 >= size {
                    out.extend(ids);
                }
            }
        }
        out
    }

    /// The user id of an e-mail address, when it is an employee's.
    pub fn user_of_email(&self, email: &str) -> Option<&str> {
        self.employees
            .iter()
            .find(|(_, e)| e.email.eq_ignore_ascii_case(email))
            .map(|(u, _)| u.as_str())
    }
}

/// A file of the organisation could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct OrgError {
    /// The file or directory.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

fn org_error(path: &Path, reason: impl ToString) -> OrgError {
    OrgError {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// A CSV file's rows as maps from lowercase header to value; bad rows are reported.
fn table(path: &Path, bad: &mut Vec<BadRow>) -> Result<Vec<BTreeMap<String, String>>, OrgError> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| org_error(path, e))?;
    let header: Vec<String> = r
        .headers()
        .map_err(|e| org_error(path, e))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        match rec {
            Ok(rec) if rec.len() == header.len() => rows.push(
                header
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(|v| v.trim().to_string()))
                    .collect(),
            ),
            Ok(rec) => bad.push(BadRow {
                path: path.to_path_buf(),
                line: rec.position().map_or(0, csv::Position::line),
                reason: format!("{} fields, the header has {}", rec.len(), header.len()),
            }),
            Err(e) => bad.push(BadRow {
                path: path.to_path_buf(),
                line: e.position().map_or(0, csv::Position::line),
                reason: e.to_string(),
            }),
        }
    }
    Ok(rows)
}

/// Reads `dir/LDAP/*.csv` (months in file-name order).
pub fn read_ldap(dir: &Path) -> Result<Org, OrgError> {
    let ldap = dir.join("LDAP");
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&ldap)
        .map_err(|e| org_error(&ldap, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p)))
        .filter(|(m, _)| is_month(m))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(org_error(&ldap, "no YYYY-MM.csv snapshot in it"));
    }
    let mut org = Org::default();
    let mut supervisors: BTreeMap<String, String> = BTreeMap::new();
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for (month, path) in files {
        for row in table(&path, &mut org.bad)? {
            let get = |k: &str| row.get(k).cloned().unwrap_or_default();
            let user = get("user_id");
            if user.is_empty() {
                continue;
            }
            let e = org
                .employees
                .entry(user.clone())
                .or_insert_with(|| Employee {
                    first_month: month.clone(),
                    ..Employee::default()
                });
            e.name = get("employee_name");
            e.email = get("email");
            e.role = get("role");
            e.unit = [get("functional_unit"), get("department"), get("team")].join("/");
            e.last_month = month.clone();
            by_name.insert(e.name.clone(), user.clone());
            supervisors.insert(user, get("supervisor"));
        }
        org.months.push(month);
    }
    for (user, sup) in supervisors {
        let id = by_name.get(&sup).cloned();
        if let Some(e) = org.employees.get_mut(&user) {
            e.supervisor = id;
        }
    }
    Ok(org)
}

fn is_month(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7 && b[4] == b'-' && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
}

/// One insider of the answer key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insider {
    /// `dataset` (`5.2`).
    pub dataset: String,
    /// The scenario, 1 to 5.
    pub scenario: u8,
    /// The user id.
    pub user: String,
    /// When the malicious activity starts and ends (CERT clock, seconds).
    pub start: i64,
    /// See `start`.
    pub end: i64,
    /// The time (CERT clock, seconds) and PC of each row of the insider's detail file
    /// (`answers/<release>-<scenario>/<details>`), in time order: when and where they acted, as
    /// opposed to every moment between `start` and `end`. `None` when the detail file is not
    /// there.
    pub acting: Option<Vec<(i64, String)>>,
}

impl Insider {
    /// Whether the insider acted in `from..to` (CERT clock, seconds), at `pc` when one is
    /// given: a row of their detail file falls in it or, without a detail file, the span meets
    /// their start–end window (any PC).
    pub fn acted_within(&self, from: i64, to: i64, pc: Option<&str>) -> bool {
        match &self.acting {
            Some(rows) => {
                let i = rows.partition_point(|(t, _)| *t < from);
                rows[i..]
                    .iter()
                    .take_while(|(t, _)| *t < to)
                    .any(|(_, p)| pc.is_none_or(|pc| p == pc))
            }
            None => from <= self.end && self.start < to,
        }
    }
}

/// The answer key: the insiders, and the rows that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    /// One per insider.
    pub insiders: Vec<Insider>,
    /// Rows skipped.
    pub bad: Vec<BadRow>,
}

/// Reads `dir/answers/insiders.csv`; `None` when the data set has no answers.
pub fn read_answers(dir: &Path) -> Result<Option<Answers>, OrgError> {
    let path = dir.join("answers").join("insiders.csv");
    if !path.exists() {
        return Ok(None);
    }
    let mut bad = Vec::new();
    let mut out = Vec::new();
    for (i, row) in table(&path, &mut bad)?.into_iter().enumerate() {
        let get = |k: &str| row.get(k).map(String::as_str).unwrap_or_default();
        let parsed = (|| {
            let scenario: u8 = get("scenario")
                .parse()
                .ok()
                .filter(|s| (1..=5).contains(s))
                .ok_or_else(|| format!("bad scenario {:?}", get("scenario")))?;
            let date = |k: &str| {
                time::parse(get(k).as_bytes()).ok_or_else(|| format!("bad {k} {:?}", get(k)))
            };
            if get("user").is_empty() {
                return Err("empty user".to_string());
            }
            Ok(Insider {
                dataset: get("dataset").to_string(),
                scenario,
                user: get("user").to_string(),
                start: date("start")?,
                end: date("end")?,
                acting: None,
            })
        })();
        match parsed {
            Ok(mut x) => {
                x.acting = detail_file(dir, get("details"))
                    .map(|path| acting_rows(&path, &mut bad))
                    .transpose()?;
                out.push(x);
            }
            Err(reason) => bad.push(BadRow {
                path: path.clone(),
                // The header is line 1; multi-line fields are not expected here.
                line: i as u64 + 2,
                reason,
            }),
        }
    }
    Ok(Some(Answers { insiders: out, bad }))
}

/// Where the detail file `name` of `answers/insiders.csv` is: in a folder of `answers/` (the
/// releases put `r5.2-1-AAM0658.csv` in `answers/r5.2-1/`) or in `answers/` itself.
fn detail_file(dir: &Path, name: &str) -> Option<PathBuf> {
    // A name is a file name, never a path: `../` in an answer key must not read elsewhere.
    if name.is_empty() || name.contains(['/', '\\']) || name == ".." {
        return None;
    }
    let answers = dir.join("answers");
    let folder = name.rsplit_once('-').map(|(f, _)| answers.join(f));
    folder
        .into_iter()
        .chain([answers])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The distinct times and PCs of the rows of a detail file (`kind,id,date,user,pc,…` a line),
/// in order; a line without a date in its third field is reported and skipped.
fn acting_rows(path: &Path, bad: &mut Vec<BadRow>) -> Result<Vec<(i64, String)>, OrgError> {
    let bytes = std::fs::read(path).map_err(|e| org_error(path, e))?;
    let mut rows = Vec::new();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut fields = line.split(|&b| b == b',').skip(2);
        match fields.next().and_then(time::parse) {
            Some(t) => {
                // The PC is the fifth field (`kind,id,date,user,pc`); empty when missing.
                let pc = fields.nth(1).unwrap_or_default();
                rows.push((t, String::from_utf8_lossy(pc).trim().to_string()));
            }
            None => bad.push(BadRow {
                path: path.to_path_buf(),
                line: n as u64 + 1,
                reason: "no date in the third field".to_string(),
            }),
        }
    }
    rows.sort_unstable();
    rows.dedup();
    Ok(rows)
}

/// Big Five scores by user id from `dir/psychometric.csv` (`O`, `C`, `E`, `A`, `N`); empty when
/// the file is absent.
pub fn read_psychometric(dir: &Path) -> Result<BTreeMap<String, [u8; 5]>, OrgError> {
    let path = dir.join("psychometric.csv");
    let mut out = BTreeMap::new();
    if !path.exists() {
        return Ok(out);
    }
    let mut bad = Vec::new();
    for row in table(&path, &mut bad)? {
        let get = |k: &str| row.get(k).and_then(|v| v.parse::<u8>().ok());
        if let (Some(u), Some(o), Some(c), Some(e), Some(a), Some(n)) = (
            row.get("user_id"),
            get("o"),
            get("c"),
            get("e"),
            get("a"),
            get("n"),
        ) {
            out.insert(u.clone(), [o, c, e, a, n]);
        }
    }
    for b in bad.iter().take(5) {
        tracing::warn!(row = %b, "skipped");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn ldap_months_supervisors_and_departures() {
        let d = tempfile::tempdir().unwrap();
        // r5.2's layout (with projects) in one month, r4.2's (without) in the next: by header.
        write(
            d.path(),
            "LDAP/2010-01.csv",
            "employee_name,user_id,email,role,projects,business_unit,functional_unit,department,team,supervisor\n\
            Calvin Edward Rios,CER0001,Calvin.Edward.Rios@dtaa.com,President,,1,1 - Executive,,,\n\
            Ann Bee,ABE0002,Ann.Bee@dtaa.com,ITAdmin,P1,1,5 - IT,2 - Ops,1 - Desk,Calvin Edward Rios\n\
            Dan Cole,DCO0003,Dan.Cole@dtaa.com,Salesman,,1,2 - Sales,1 - East,,Ann Bee\n",
        );
        write(
            d.path(),
            "LDAP/2010-02.csv",
            "employee_name,user_id,email,role,business_unit,functional_unit,department,team,supervisor\n\
            Calvin Edward Rios,CER0001,Calvin.Edward.Rios@dtaa.com,President,1,1 - Executive,,,\n\
            Ann Bee,ABE0002,Ann.Bee@dtaa.com,ITAdmin,1,5 - IT,2 - Ops,1 - Desk,Calvin Edward Rios\n\
            broken,row\n",
        );
        write(d.path(), "LDAP/notes.txt", "ignored");
        let org = read_ldap(d.path()).unwrap();
        assert_eq!(org.months, ["2010-01", "2010-02"]);
        let ann = &org.employees["ABE0002"];
        assert_eq!(ann.supervisor.as_deref(), Some("CER0001"));
        assert_eq!(ann.unit, "5 - IT/2 - Ops/1 - Desk");
        assert_eq!(
            org.employees["DCO0003"].supervisor.as_deref(),
            Some("ABE0002")
        );
        assert_eq!(org.departure("ABE0002"), None);
        assert_eq!(org.departure("DCO0003"), time::parse_date("2010-02-01"));
        assert_eq!(org.user_of_email("dan.cole@dtaa.com"), Some("DCO0003"));
        assert_eq!(org.bad.len(), 1);
        assert!(
            org.bad[0].to_string().contains("2010-02.csv:4:"),
            "{:?}",
            org.bad
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(
            read_ldap(empty.path())
                .unwrap_err()
                .to_string()
                .contains("LDAP")
        );
    }

    #[test]
    fn a_layoff_is_a_third_of_a_unit_and_three_people_leaving_in_one_month() {
        let d = tempfile::tempdir().unwrap();
        let header = "employee_name,user_id,email,role,business_unit,functional_unit,department,team,supervisor\n";
        // Three leave after January from each unit: A has six people (a layoff); B ten (under a
        // third); C three, of whom only two leave (fewer than three); D nine (a third exactly);
        // E six then, four more hired in February (a third of those there in January, though
        // under a third of everyone it ever had).
        let row = |unit: &str, n: usize| {
            format!(
                "P {unit}{n},{unit}{n:04},{unit}{n}@dtaa.com,Staff,1,2 - Sales,1 - East,{unit},\n"
            )
        };
        let month = |stay: &dyn Fn(&str, usize) -> bool| {
            let mut text = header.to_string();
            for (unit, size) in [("AAA", 6), ("BBB", 10), ("CCC", 3), ("DDD", 9), ("EEE", 10)] {
                for n in 0..size {
                    if stay(unit, n) {
                        text += &row(unit, n);
                    }
                }
            }
            text
        };
        write(
            d.path(),
            "LDAP/2010-01.csv",
            &month(&|unit, n| unit != "EEE" || n < 6),
        );
        let later = |also: Option<usize>| {
            month(&move |unit, n| match unit {
                "CCC" => n >= 2,
                "AAA" => n >= 3 && Some(n) != also,
                _ => n >= 3,
            })
        };
        write(d.path(), "LDAP/2010-02.csv", &later(None));
        // One more of unit A leaves a month later, on their own.
        write(d.path(), "LDAP/2010-03.csv", &later(Some(5)));
        write(d.path(), "LDAP/2010-04.csv", &later(Some(5)));
        let org = read_ldap(d.path()).unwrap();
        assert_eq!(
            org.departure("AAA0000"),
            time::parse_date("2010-02-01"),
            "missing from February"
        );
        let expected: BTreeSet<&str> = ["AAA", "DDD", "EEE"]
            .iter()
            .flat_map(|u| (0..3).map(move |n| format!("{u}{n:04}")))
            .map(|id| org.employees.get_key_value(&id).unwrap().0.as_str())
            .collect();
        assert_eq!(
            org.laid_off(),
            expected,
            "not who stayed or left later, not three of ten, not two of three"
        );
    }

    #[test]
    fn answers_and_psychometrics() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_answers(d.path()).unwrap(), None);
        write(
            d.path(),
            "answers/insiders.csv",
            "dataset,scenario,details,user,start,end\n\
            5.2,1,r5.2-1-AAM0658.csv,AAM0658,10/23/2010 00:45:17,10/30/2010 05:20:53\n\
            5.2,9,x.csv,BBB0001,10/23/2010 00:45:17,10/30/2010 05:20:53\n",
        );
        let Answers { insiders, bad } = read_answers(d.path()).unwrap().unwrap();
        assert_eq!(insiders.len(), 1);
        assert_eq!(insiders[0].scenario, 1);
        assert_eq!(insiders[0].acting, None, "no detail file");
        // Without one, the start–end window counts.
        let (start, end) = (insiders[0].start, insiders[0].end);
        assert!(insiders[0].acted_within(end, end + 1, None));
        assert!(
            insiders[0].acted_within(end, end + 1, Some("PC-1")),
            "any PC"
        );
        assert!(!insiders[0].acted_within(start - 10, start, None));
        assert_eq!(time::format(insiders[0].end), "10/30/2010 05:20:53");
        assert!(
            bad[0].to_string().contains("insiders.csv:3: bad scenario"),
            "{bad:?}"
        );
        // The detail file gives the days the insider acted on; a row without a date is reported.
        write(
            d.path(),
            "answers/r5.2-1/r5.2-1-AAM0658.csv",
            "logon,{Q4D5-W4HH44UC-5188LWZK},10/23/2010 00:45:17,AAM0658,PC-5866,Logon\n\
            device,{X1},10/23/2010 00:50:02,AAM0658,PC-5866,Connect\n\
            http,{X2},bad date,AAM0658,PC-5866,http://wikileaks.org\n\
            http,{X3},10/30/2010 05:20:53,AAM0658,PC-5866,http://wikileaks.org,a, b\n",
        );
        let Answers { insiders, bad } = read_answers(d.path()).unwrap().unwrap();
        let t = |s: &str| time::parse(s.as_bytes()).unwrap();
        let pc = |t: i64| (t, "PC-5866".to_string());
        assert_eq!(
            insiders[0].acting,
            Some(vec![
                pc(t("10/23/2010 00:45:17")),
                pc(t("10/23/2010 00:50:02")),
                pc(t("10/30/2010 05:20:53"))
            ])
        );
        // Acted within a span that holds a row (the end exclusive), not in one between rows,
        // and only at the row's PC when one is asked.
        let i = &insiders[0];
        let (at, after) = (t("10/23/2010 00:50:02"), t("10/23/2010 00:50:03"));
        assert!(i.acted_within(at, after, None));
        assert!(i.acted_within(at, after, Some("PC-5866")));
        assert!(!i.acted_within(at, after, Some("PC-0001")));
        assert!(!i.acted_within(after, t("10/30/2010 05:20:53"), None));
        assert!(i.acted_within(t("10/24/2010 00:00:00"), t("10/31/2010 00:00:00"), None));
        assert!(
            bad.iter()
                .any(|b| b.to_string().contains("r5.2-1-AAM0658.csv:3")),
            "{bad:?}"
        );
        write(
            d.path(),
            "psychometric.csv",
            "employee_name,user_id,O,C,E,A,N\nAnn Bee,ABE0002,40,39,36,19,40\n",
        );
        assert_eq!(
            read_psychometric(d.path()).unwrap()["ABE0002"],
            [40, 39, 36, 19, 40]
        );
    }
}
