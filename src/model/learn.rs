//! Learn mode: the agent records its host's baseline, then trains a model on it.
//!
//! While learning, every scored event is appended to `data_dir/learn/baseline.tsv` as
//! `user-hash, time, day, key, parameter values` (the user's name is hashed: grouping needs only
//! equality, and a baseline on disk should not be a list of who did what). When the period is
//! over, or the baseline is full, [`train_baseline`] cuts it into sessions (one per user per
//! day, as `dante train --logs` does) and trains the network and the value model — on a thread
//! of its own, so intake never waits. The result is saved as `data_dir/learn/model.safetensors`
//! and used from then on, also after a restart. `data_dir/learn/state.json` remembers when
//! learning began, so a restart does not start the period again.

use super::params::{self, ParamModel};
use super::train::{TrainConfig, TrainError, train};
use super::{Model, ModelConfig};
use crate::event::Param;
use crate::keys::KeyId;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The directory, under `data_dir`, learn mode keeps its files in.
pub const LEARN_DIR: &str = "learn";
/// The recorded events.
pub const BASELINE_FILE: &str = "baseline.tsv";
/// When learning began.
pub const STATE_FILE: &str = "state.json";
/// The model learned.
pub const MODEL_FILE: &str = "model.safetensors";

/// What learn mode remembers across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnState {
    /// When recording began, milliseconds since the epoch.
    pub started_ms: i64,
}

/// Learn mode could not record or train.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LearnError {
    /// A file under `data_dir/learn` could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Too little was recorded to learn from; recording goes on.
    #[error("only {sessions} user-day sessions recorded, {needed} needed")]
    TooLittle {
        /// Sessions recorded.
        sessions: usize,
        /// `model.learn_min_sessions`.
        needed: usize,
    },
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The model could not be saved.
    #[error(transparent)]
    Save(#[from] super::file::ModelFileError),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> LearnError + '_ {
    move |source| LearnError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Appends the baseline as events are scored.
#[derive(Debug)]
pub struct Baseline {
    path: PathBuf,
    out: BufWriter<File>,
    /// Events in the file.
    events: u64,
    max_events: u64,
    /// Keys recorded, so that the agent can say what each has become when training starts.
    keys: FxHashSet<KeyId>,
    state: LearnState,
    line: String,
}

impl Baseline {
    /// Opens (or begins) the baseline in `dir`; `now_ms` starts the period when none is recorded.
    pub fn open(dir: &Path, max_events: u64, now_ms: i64) -> Result<Self, LearnError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let state_path = dir.join(STATE_FILE);
        let state = match std::fs::read(&state_path) {
            // A state that cannot be read starts the period again rather than stopping the agent.
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %state_path.display(), error = %e, "unreadable learn state; learning starts again");
                LearnState { started_ms: now_ms }
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => LearnState { started_ms: now_ms },
            Err(e) => return Err(io_error(&state_path)(e)),
        };
        let json = serde_json::to_vec(&state).unwrap_or_default();
        crate::atomic::write_file(&state_path, &json)
            .map_err(|(p, e)| LearnError::Io { path: p, source: e })?;
        let path = dir.join(BASELINE_FILE);
        let (events, keys) = match File::open(&path) {
            Ok(f) => scan(BufReader::new(f)).map_err(io_error(&path))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => (0, FxHashSet::default()),
            Err(e) => return Err(io_error(&path)(e)),
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        // A line torn by a crash is ended, so that it does not swallow the next row.
        if !ends_with_newline(&path).map_err(io_error(&path))? {
            out.write_all(b"\n").map_err(io_error(&path))?;
        }
        Ok(Self {
            out,
            path,
            events,
            max_events,
            keys,
            state,
            line: String::new(),
        })
    }

    /// When recording began.
    pub fn state(&self) -> LearnState {
        self.state
    }

    /// Events recorded.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Whether the baseline holds `model.learn_max_events` events.
    pub fn is_full(&self) -> bool {
        self.events >= self.max_events
    }

    /// The keys recorded.
    pub fn keys(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.iter().copied()
    }

    /// Records one scored event of `user`; nothing once full.
    pub fn record(
        &mut self,
        user: &str,
        time_ms: Option<i64>,
        day: i64,
        key: KeyId,
        params: &[Param],
    ) -> io::Result<()> {
        use std::fmt::Write as _;
        if self.is_full() {
            return Ok(());
        }
        self.line.clear();
        let _ = write!(
            self.line,
            "{:016x}\t",
            crate::keys::vocab::fnv1a(user.bytes())
        );
        match time_ms {
            Some(t) => {
                let _ = write!(self.line, "{t}");
            }
            None => self.line.push('-'),
        }
        let _ = write!(self.line, "\t{day}\t{key}\t");
        // Parameter values only (the time since the user's previous event is derived when
        // training, from the times).
        for (i, v) in params::values(None, params).iter().skip(1).enumerate() {
            if i > 0 {
                self.line.push(' ');
            }
            if v.is_finite() {
                let _ = write!(self.line, "{v}");
            } else {
                self.line.push('-');
            }
        }
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())?;
        self.events += 1;
        self.keys.insert(key);
        Ok(())
    }

    /// Writes what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The baseline file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Whether the file is empty or its last byte ends a line.
fn ends_with_newline(path: &Path) -> io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path)?;
    if f.metadata()?.len() == 0 {
        return Ok(true);
    }
    f.seek(SeekFrom::End(-1))?;
    let mut last = [0u8];
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Counts the events and collects the keys of an existing baseline.
fn scan(r: impl BufRead) -> io::Result<(u64, FxHashSet<KeyId>)> {
    let mut events = 0;
    let mut keys = FxHashSet::default();
    for line in r.lines() {
        if let Some(row) = Row::parse(&line?) {
            events += 1;
            keys.insert(row.key);
        }
    }
    Ok((events, keys))
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    user: u64,
    time_ms: Option<i64>,
    day: i64,
    key: KeyId,
    values: Vec<f64>,
}

impl Row {
    /// `None` for a line that is not a row (a torn last line after a crash).
    fn parse(line: &str) -> Option<Self> {
        let mut f = line.split('\t');
        let user = u64::from_str_radix(f.next()?, 16).ok()?;
        let time_ms = match f.next()? {
            "-" => None,
            t => Some(t.parse().ok()?),
        };
        let day = f.next()?.parse().ok()?;
        let key = f.next()?.parse().ok()?;
        let values = f
            .next()?
            .split(' ')
            .filter(|v| !v.is_empty())
            .map(|v| if v == "-" { Ok(f64::NAN) } else { v.parse() })
            .collect::<Result<_, _>>()
            .ok()?;
        f.next().is_none().then_some(Self {
            user,
            time_ms,
            day,
            key,
            values,
        })
    }
}

/// A baseline cut into what training takes.
#[derive(Debug, Default)]
pub struct Recorded {
    /// One session per user per day, in the order the sessions began.
    pub sessions: Vec<Vec<KeyId>>,
    /// Each event's values: the time since its user's previous event, then its parameters.
    pub values: Vec<(KeyId, Vec<f64>)>,
    /// Lines that were not rows.
    pub skipped: u64,
}

/// Reads a baseline; `canonical` maps a recorded key to what it has become since.
pub fn read(path: &Path, canonical: &FxHashMap<KeyId, KeyId>) -> Result<Recorded, LearnError> {
    let f = File::open(path).map_err(io_error(path))?;
    let mut out = Recorded::default();
    let mut index: FxHashMap<(u64, i64), usize> = FxHashMap::default();
    let mut last: FxHashMap<u64, i64> = FxHashMap::default();
    for line in BufReader::new(f).lines() {
        let line = line.map_err(io_error(path))?;
        let Some(row) = Row::parse(&line) else {
            out.skipped += 1;
            continue;
        };
        let key = canonical.get(&row.key).copied().unwrap_or(row.key);
        let dt = row.time_ms.and_then(|t| {
            let prev = last.insert(row.user, t)?;
            Some((t - prev) as f64 / 1000.0)
        });
        let next = out.sessions.len();
        let i = *index.entry((row.user, row.day)).or_insert(next);
        if i == next {
            out.sessions.push(Vec::new());
        }
        out.sessions[i].push(key);
        let mut values = Vec::with_capacity(row.values.len() + 1);
        values.push(dt.unwrap_or(f64::NAN));
        values.extend(row.values);
        out.values.push((key, values));
    }
    Ok(out)
}

/// Fits the value model, calibrating its threshold on every tenth event.
pub fn fit_values(values: Vec<(KeyId, Vec<f64>)>, target_fpr: f64) -> ParamModel {
    let (validation, training): (Vec<_>, Vec<_>) = values
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 10 == 9);
    let strip = |v: Vec<(usize, (KeyId, Vec<f64>))>| v.into_iter().map(|(_, s)| s).collect();
    let training: Vec<_> = strip(training);
    let validation: Vec<_> = strip(validation);
    ParamModel::fit(&training, &validation, target_fpr)
}

/// What learn mode trains with.
#[derive(Debug, Clone)]
pub struct LearnJob {
    /// `data_dir/learn`.
    pub dir: PathBuf,
    /// Recorded key → its key now.
    pub canonical: FxHashMap<KeyId, KeyId>,
    /// The agent's key vocabulary hash ([`crate::keys::vocab::templates_hash`]).
    pub key_vocabulary: String,
    /// `model.learn_min_sessions`.
    pub min_sessions: usize,
    /// The network's hidden size.
    pub hidden: usize,
    /// Seed of the training.
    pub seed: u64,
}

/// Trains on the baseline in `job.dir` and saves the model there ([`MODEL_FILE`]).
pub fn train_baseline(job: &LearnJob) -> Result<Model, LearnError> {
    let recorded = read(&job.dir.join(BASELINE_FILE), &job.canonical)?;
    if recorded.sessions.len() < job.min_sessions {
        return Err(LearnError::TooLittle {
            sessions: recorded.sessions.len(),
            needed: job.min_sessions,
        });
    }
    let cfg = TrainConfig {
        model: ModelConfig {
            hidden: job.hidden,
            ..ModelConfig::default()
        },
        seed: job.seed,
        ..TrainConfig::default()
    };
    let mut model = train(&recorded.sessions, &cfg, None)?;
    model.params = Some(fit_values(recorded.values, cfg.target_fpr));
    model.key_vocabulary = Some(job.key_vocabulary.clone());
    super::file::save(&model, &job.dir.join(MODEL_FILE))?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ParamKind;

    fn param(value: &str, kind: ParamKind) -> Param {
        Param {
            value: value.into(),
            kind,
        }
    }

    #[test]
    fn rows_round_trip_and_group_by_user_and_day() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Baseline::open(dir.path(), 100, 1_000).unwrap();
        let size = [param("42", ParamKind::Number), param("x", ParamKind::Text)];
        b.record("alice", Some(10_000), 5, 3, &size).unwrap();
        b.record("bob", None, 5, 4, &[]).unwrap();
        b.record("alice", Some(12_500), 5, 7, &[]).unwrap();
        b.record("alice", Some(90_000), 6, 3, &size).unwrap();
        b.flush().unwrap();
        let canonical = FxHashMap::from_iter([(7, 9)]);
        let r = read(&dir.path().join(BASELINE_FILE), &canonical).unwrap();
        assert_eq!(r.sessions, vec![vec![3, 9], vec![4], vec![3]]);
        assert_eq!(r.skipped, 0);
        assert!(r.values[0].1[0].is_nan(), "first event of a user has no dt");
        assert_eq!(r.values[0].1[1], 42.0);
        assert!(r.values[0].1[2].is_nan());
        assert_eq!(r.values[2], (9, vec![2.5]));
        assert_eq!(r.values[3].1[0], 77.5);
        // Names are not on disk.
        let text = std::fs::read_to_string(dir.path().join(BASELINE_FILE)).unwrap();
        assert!(!text.contains("alice"), "{text}");
    }

    #[test]
    fn a_restart_keeps_the_period_and_the_count_and_stops_when_full() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut b = Baseline::open(dir.path(), 3, 1_000).unwrap();
            b.record("a", None, 1, 1, &[]).unwrap();
            b.record("a", None, 1, 2, &[]).unwrap();
            b.flush().unwrap();
        }
        // A torn line, as after a crash mid-write.
        let path = dir.path().join(BASELINE_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"00ff\t12").unwrap();
        drop(f);
        let mut b = Baseline::open(dir.path(), 3, 9_999).unwrap();
        assert_eq!(b.state().started_ms, 1_000);
        assert_eq!(b.events(), 2);
        assert_eq!(
            b.keys().collect::<FxHashSet<_>>(),
            FxHashSet::from_iter([1, 2])
        );
        b.record("a", None, 1, 5, &[]).unwrap();
        assert!(b.is_full());
        b.record("a", None, 1, 6, &[]).unwrap();
        b.flush().unwrap();
        let r = read(&path, &FxHashMap::default()).unwrap();
        // The torn line is skipped; the row after it is kept.
        assert_eq!(r.skipped, 1);
        assert_eq!(r.sessions, vec![vec![1, 2, 5]]);
    }

    #[test]
    fn too_little_is_an_error_and_enough_trains_a_model() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Baseline::open(dir.path(), 1_000_000, 0).unwrap();
        for user in 0..12 {
            for day in 0..3 {
                let name = format!("u{user}");
                for (i, key) in [1, 2, 3, 2, 3, 4].into_iter().enumerate() {
                    let t = (day * 86_400 + i as i64 * 60) * 1000;
                    b.record(&name, Some(t), day, key, &[]).unwrap();
                }
            }
        }
        b.flush().unwrap();
        let mut job = LearnJob {
            dir: dir.path().to_path_buf(),
            canonical: FxHashMap::default(),
            key_vocabulary: "abc".into(),
            min_sessions: 1_000,
            hidden: 8,
            seed: 1,
        };
        assert!(matches!(
            train_baseline(&job),
            Err(LearnError::TooLittle { sessions: 36, .. })
        ));
        job.min_sessions = 10;
        let model = train_baseline(&job).unwrap();
        assert_eq!(model.vocab.keys(), &[1, 2, 3, 4]);
        assert_eq!(model.key_vocabulary.as_deref(), Some("abc"));
        let saved = super::super::file::load(&dir.path().join(MODEL_FILE)).unwrap();
        assert_eq!(saved.vocab, model.vocab);
    }

    #[test]
    fn malformed_rows_are_not_rows() {
        for bad in [
            "",
            "zz\t1\t1\t1\t",
            "00\tx\t1\t1\t",
            "00\t1\t1\t-1\t",
            "00\t1\t1\t1\t1 a",
            "00\t1\t1\t1\t\textra",
            "00\t1\t1",
        ] {
            assert_eq!(Row::parse(bad), None, "{bad:?}");
        }
        assert!(Row::parse("00\t-\t-3\t7\t").is_some());
    }
}
