//! `dante eval loghub`: the keys stage on the Loghub-2k benchmark with its default settings.
//!
//! Only each system's `log_format` is taken from the settings file; masks and thresholds are the
//! defaults every user gets. Metrics follow Loghub-2.0 (Jiang et al., ISSTA'24):
//!
//! - GA: share of lines whose key holds exactly the lines of their true template;
//! - FGA: F1 of the groups that are exactly right (precision over found groups, recall over true);
//! - PA: share of lines whose final template equals the true template string;
//! - FTA: F1 of templates right both as a group and as a string.

use crate::keys::{Format, KeyExtractor, KeyId, Miner, MinerConfig};
use crate::source::lines::{DEFAULT_MAX_LINE_BYTES, LineReader};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::Instant;

/// Grouping and parsing accuracy of one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Accuracy {
    /// Grouping accuracy.
    pub ga: f64,
    /// F1 of exactly right groups.
    pub fga: f64,
    /// Parsing accuracy (exact template string per line).
    pub pa: f64,
    /// F1 of templates right as group and string.
    pub fta: f64,
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// Scores predicted keys and templates (one per line) against the true templates.
pub fn accuracy<S: AsRef<str>, T: AsRef<str>>(
    truth: &[S],
    keys: &[KeyId],
    templates: &[T],
) -> Accuracy {
    let n = truth.len();
    assert_eq!(n, keys.len(), "one key per line");
    assert_eq!(n, templates.len(), "one template per line");
    if n == 0 {
        return Accuracy {
            ga: 0.0,
            fga: 0.0,
            pa: 0.0,
            fta: 0.0,
        };
    }
    let mut true_groups: HashMap<&str, usize> = HashMap::new();
    for t in truth {
        *true_groups.entry(t.as_ref()).or_default() += 1;
    }
    let mut found: BTreeMap<KeyId, Vec<usize>> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        found.entry(*k).or_default().push(i);
    }
    let (mut ga_lines, mut right_groups, mut right_templates) = (0usize, 0usize, 0usize);
    for lines in found.values() {
        let t = truth[lines[0]].as_ref();
        let exact = lines.iter().all(|&i| truth[i].as_ref() == t) && true_groups[t] == lines.len();
        if exact {
            ga_lines += lines.len();
            right_groups += 1;
            right_templates += usize::from(templates[lines[0]].as_ref() == t);
        }
    }
    let pa = truth
        .iter()
        .zip(templates)
        .filter(|(t, p)| t.as_ref() == p.as_ref())
        .count();
    let (nf, nt) = (found.len() as f64, true_groups.len() as f64);
    Accuracy {
        ga: ga_lines as f64 / n as f64,
        fga: f1(right_groups as f64 / nf, right_groups as f64 / nt),
        pa: pa as f64 / n as f64,
        fta: f1(right_templates as f64 / nf, right_templates as f64 / nt),
    }
}

#[derive(Deserialize)]
struct SystemSettings {
    log_file: String,
    log_format: String,
}

/// The result for one system.
#[derive(Debug, Clone, Serialize)]
pub struct SystemReport {
    /// System name, as in the settings.
    pub system: String,
    /// Lines parsed.
    pub lines: usize,
    /// True templates.
    pub true_templates: usize,
    /// Templates found.
    pub found_templates: usize,
    /// Lines that did not match the header format (mined whole).
    pub unmatched: u64,
    /// Accuracy.
    #[serde(flatten)]
    pub accuracy: Accuracy,
    /// Decoding and mining speed.
    pub lines_per_s: f64,
}

/// Every system's result and the averages.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Per system, in the settings' order.
    pub systems: Vec<SystemReport>,
    /// Unweighted means over systems.
    pub average: Accuracy,
    /// All lines over all mining time.
    pub lines_per_s: f64,
}

/// Runs every system listed in `settings` (shaped like Loghub's `settings.json`) under `data`.
pub fn run(data: &Path, settings: &Path) -> Result<Report> {
    let text = std::fs::read_to_string(settings)
        .with_context(|| format!("reading settings {}", settings.display()))?;
    // Keep the file's order of systems.
    let systems: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON object of systems", settings.display()))?;
    let mut reports = Vec::new();
    let (mut all_lines, mut all_secs) = (0usize, 0f64);
    for (name, value) in systems {
        let s: SystemSettings = serde_json::from_value(value).with_context(|| {
            format!(
                "{}: system {name}: needs log_file and log_format",
                settings.display()
            )
        })?;
        let (report, secs) = run_system(&name, &data.join(&s.log_file), &s.log_format)?;
        all_lines += report.lines;
        all_secs += secs;
        reports.push(report);
    }
    if reports.is_empty() {
        bail!("{}: lists no system", settings.display());
    }
    let k = reports.len() as f64;
    let mean = |f: fn(&Accuracy) -> f64| reports.iter().map(|r| f(&r.accuracy)).sum::<f64>() / k;
    Ok(Report {
        average: Accuracy {
            ga: mean(|a| a.ga),
            fga: mean(|a| a.fga),
            pa: mean(|a| a.pa),
            fta: mean(|a| a.fta),
        },
        lines_per_s: all_lines as f64 / all_secs.max(1e-9),
        systems: reports,
    })
}

fn run_system(name: &str, log: &Path, log_format: &str) -> Result<(SystemReport, f64)> {
    let format = Format::loghub(log_format)
        .with_context(|| format!("system {name}: log_format {log_format:?}"))?;
    let truth_path = log.with_file_name(format!(
        "{}_structured_corrected.csv",
        log.file_name().and_then(|f| f.to_str()).unwrap_or_default()
    ));
    let truth = read_truth(&truth_path)?;
    let lines = read_lines(log)?;
    if lines.len() != truth.len() {
        bail!(
            "{}: {} lines but {} has {} rows",
            log.display(),
            lines.len(),
            truth_path.display(),
            truth.len()
        );
    }
    let mut stage = KeyExtractor::new(format, Miner::new(MinerConfig::default()));
    let start = Instant::now();
    let keys: Vec<KeyId> = lines.iter().map(|l| stage.key(l)).collect();
    let secs = start.elapsed().as_secs_f64();
    let keys: Vec<KeyId> = keys.iter().map(|k| stage.miner().canonical(*k)).collect();
    let templates: Vec<String> = keys
        .iter()
        .map(|k| stage.miner().template(*k).unwrap_or_default())
        .collect();
    let found: std::collections::HashSet<_> = keys.iter().collect();
    let distinct: std::collections::HashSet<_> = truth.iter().collect();
    Ok((
        SystemReport {
            system: name.to_string(),
            lines: lines.len(),
            true_templates: distinct.len(),
            found_templates: found.len(),
            unmatched: stage.unmatched(),
            accuracy: accuracy(&truth, &keys, &templates),
            lines_per_s: lines.len() as f64 / secs.max(1e-9),
        },
        secs,
    ))
}

fn read_lines(path: &Path) -> Result<Vec<String>> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut r = LineReader::new(BufReader::new(f), DEFAULT_MAX_LINE_BYTES);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while r
        .read_line(&mut buf)
        .with_context(|| format!("reading {}", path.display()))?
        .is_some()
    {
        out.push(String::from_utf8_lossy(&buf).into_owned());
    }
    Ok(out)
}

fn read_truth(path: &Path) -> Result<Vec<String>> {
    let mut rdr =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let col = rdr
        .headers()
        .with_context(|| format!("{}: no header row", path.display()))?
        .iter()
        .position(|h| h == "EventTemplate")
        .with_context(|| format!("{}: no EventTemplate column", path.display()))?;
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
        out.push(rec.get(col).unwrap_or_default().to_string());
    }
    Ok(out)
}

impl Report {
    /// The table printed by `dante eval loghub`.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<11} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>12}\n",
            "system", "GA", "FGA", "PA", "FTA", "true", "found", "lines/s"
        );
        for r in &self.systems {
            let a = r.accuracy;
            s += &format!(
                "{:<11} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6} {:>6} {:>12.0}\n",
                r.system,
                a.ga,
                a.fga,
                a.pa,
                a.fta,
                r.true_templates,
                r.found_templates,
                r.lines_per_s
            );
        }
        let a = self.average;
        s += &format!(
            "{:<11} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6} {:>6} {:>12.0}\n",
            "average", a.ga, a.fga, a.pa, a.fta, "", "", self.lines_per_s
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_parse_scores_one() {
        let truth = ["a <*>", "a <*>", "b"];
        let a = accuracy(&truth, &[1, 1, 2], &truth);
        assert_eq!(
            a,
            Accuracy {
                ga: 1.0,
                fga: 1.0,
                pa: 1.0,
                fta: 1.0
            }
        );
    }

    #[test]
    fn split_and_merged_groups_lose_their_lines() {
        let truth = ["a <*>", "a <*>", "b", "c"];
        // a split in two, b and c merged: no group is exact.
        let a = accuracy(&truth, &[1, 2, 3, 3], &["a x", "a y", "b", "b"]);
        assert_eq!(a.ga, 0.0);
        assert_eq!(a.fga, 0.0);
        assert_eq!(a.pa, 0.25);
        // a right as a group, wrong as a string; b and c right.
        let a = accuracy(&truth, &[1, 1, 2, 3], &["a x", "a x", "b", "c"]);
        assert_eq!(a.ga, 1.0);
        assert_eq!(a.pa, 0.5);
        assert!((a.fta - 2.0 / 3.0).abs() < 1e-9);
    }
}
