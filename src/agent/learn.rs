//! Learn mode in the agent: records the baseline as the core scores, and trains on it on a
//! thread of its own when the period is over, so that intake never waits for training.

use crate::keys::{KeyId, Miner, vocab};
use crate::model::learn::{self, Baseline, LearnError, LearnJob};
use crate::model::{Model, ModelSettings};
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// How long to wait before trying again when training failed (too little recorded, a full disk).
const RETRY_MS: i64 = 3_600_000;

/// The learned model in `data_dir`, when learn mode has finished there.
pub fn learned(data_dir: &Path) -> Option<PathBuf> {
    let path = data_dir.join(learn::LEARN_DIR).join(learn::MODEL_FILE);
    path.exists().then_some(path)
}

/// Learn mode while it is learning.
#[derive(Debug)]
pub struct Learner {
    dir: PathBuf,
    baseline: Baseline,
    /// Recording stops while training runs.
    recording: bool,
    period_ms: i64,
    min_sessions: usize,
    hidden: usize,
    /// When training may (next) begin, milliseconds since the epoch.
    due_ms: i64,
    training: Option<mpsc::Receiver<Result<Model, LearnError>>>,
}

impl Learner {
    /// Begins (or resumes) learning in `data_dir`.
    pub fn start(data_dir: &Path, s: &ModelSettings, now_ms: i64) -> Result<Self, LearnError> {
        let dir = data_dir.join(learn::LEARN_DIR);
        let baseline = Baseline::open(&dir, s.learn_max_events, now_ms)?;
        let period_ms = i64::try_from(s.learn_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let due_ms = baseline.state().started_ms.saturating_add(period_ms);
        tracing::info!(
            baseline = %baseline.path().display(),
            events = baseline.events(),
            train_in_secs = (due_ms - now_ms).max(0) / 1000,
            "learn mode: recording this host's baseline"
        );
        Ok(Self {
            dir,
            baseline,
            recording: true,
            period_ms,
            min_sessions: s.learn_min_sessions,
            hidden: s.learn_hidden,
            due_ms,
            training: None,
        })
    }

    /// Records one scored event (see [`Baseline::record`]).
    pub fn record(
        &mut self,
        user: &str,
        time_ms: Option<i64>,
        day: i64,
        key: KeyId,
        params: &[crate::event::Param],
    ) {
        if !self.recording {
            return;
        }
        if let Err(e) = self.baseline.record(user, time_ms, day, key, params) {
            self.disk_error(&e);
        }
    }

    /// Writes out what was recorded (after each batch).
    pub fn flush(&mut self) {
        if self.recording {
            if let Err(e) = self.baseline.flush() {
                self.disk_error(&e);
            }
        }
        metrics::gauge!("dante_learn_events").set(self.baseline.events() as f64);
    }

    fn disk_error(&mut self, e: &std::io::Error) {
        // A baseline with a hole would teach a wrong sequence: stop here and train on what was
        // written.
        tracing::error!(path = %self.baseline.path().display(), error = %e, "cannot record the baseline; learning stops here");
        self.recording = false;
        self.due_ms = i64::MIN;
    }

    /// Starts training when due; gives the model when training has finished.
    pub fn poll(&mut self, now_ms: i64, miner: &Miner) -> Option<Model> {
        if let Some(rx) = &self.training {
            let result = match rx.try_recv() {
                Ok(r) => r,
                Err(mpsc::TryRecvError::Empty) => return None,
                Err(mpsc::TryRecvError::Disconnected) => Err(LearnError::Io {
                    path: self.dir.clone(),
                    source: std::io::Error::other("the training thread died"),
                }),
            };
            self.training = None;
            match result {
                Ok(model) => return Some(model),
                Err(e) => {
                    tracing::warn!(error = %e, "learn mode: no model yet; recording goes on");
                    self.recording = !self.baseline.is_full();
                    self.due_ms = now_ms.saturating_add(self.period_ms.min(RETRY_MS));
                }
            }
            return None;
        }
        if now_ms < self.due_ms && !(self.recording && self.baseline.is_full()) {
            return None;
        }
        if let Err(e) = self.baseline.flush() {
            tracing::error!(error = %e, "cannot write the baseline");
        }
        self.recording = false;
        let job = LearnJob {
            dir: self.dir.clone(),
            canonical: self
                .baseline
                .keys()
                .map(|k| (k, miner.canonical(k)))
                .filter(|(k, c)| k != c)
                .collect::<FxHashMap<_, _>>(),
            key_vocabulary: vocab::templates_hash(miner),
            min_sessions: self.min_sessions,
            hidden: self.hidden,
            seed: 42,
        };
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("dante-learn".into())
            .spawn(move || {
                lower_priority();
                tracing::info!("learn mode: training on the baseline");
                let _ = tx.send(learn::train_baseline(&job));
            });
        match spawned {
            Ok(_) => self.training = Some(rx),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the training thread");
                self.recording = !self.baseline.is_full();
                self.due_ms = now_ms.saturating_add(RETRY_MS);
            }
        }
        None
    }
}

/// Training yields the CPU to intake: the thread (and the worker threads it starts) run at a
/// lower priority. Best effort: a sandbox may refuse, and training then runs at the agent's.
fn lower_priority() {
    // SAFETY: setpriority takes plain integers; on Linux `who = 0` is the calling thread.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
    if r != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot lower the training thread's priority");
    }
}
