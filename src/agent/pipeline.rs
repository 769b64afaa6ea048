//! The agent's synchronous core: batches from the sources go through keys → users → score →
//! sinks, in order, on one thread; a batch is acknowledged (file checkpoints advance) only once
//! every alert it raised was written to every sink.

use super::learn::Learner;
use crate::keys::{Format, KeyExtractor, vocab};
use crate::model::Model;
use crate::score::alert::{Alert, ModelRef};
use crate::score::stream::{Reason, StreamScorer, UserState};
use crate::sink::Sink;
use crate::source::Batch;
use crate::user::windows::{SnapshotError, Windows};
use crate::user::{Attributor, UsersConfig};
use chrono::Datelike;
use std::path::{Path, PathBuf};

/// The file, under `data_dir`, holding the users' states.
pub const USERS_FILE: &str = "users.bin";

/// Everything the core needs, built by the agent.
pub struct Pipeline {
    keys: KeyExtractor,
    formats: Vec<Format>,
    source_ids: Vec<String>,
    users: Attributor,
    score_hosts: bool,
    windows: Windows<UserState>,
    idle_secs: i64,
    scorer: StreamScorer,
    sinks: Vec<Sink>,
    model: ModelRef,
    data_dir: PathBuf,
    max_users: usize,
    learner: Option<Learner>,
}

/// What one source gives the core: its id and header format.
pub struct SourceInfo {
    /// `[sources.<id>]`.
    pub id: String,
    /// How its lines' headers are decoded.
    pub format: Format,
}

impl Pipeline {
    /// Builds the core; user states are restored from `data_dir` when a snapshot is there.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        keys: KeyExtractor,
        sources: Vec<SourceInfo>,
        users_cfg: &UsersConfig,
        users: Attributor,
        model: &Model,
        model_ref: ModelRef,
        sinks: Vec<Sink>,
        data_dir: &Path,
    ) -> Result<Self, SnapshotError> {
        let scorer = StreamScorer::new(model);
        let path = data_dir.join(USERS_FILE);
        let windows = match Windows::load(
            &path,
            users_cfg.max_users,
            scorer.state_len(),
            |b, row| scorer.decode(b, row),
        ) {
            Err(e @ SnapshotError::Outdated { .. }) => {
                // The states are a running summary, rebuilt by the next events: losing them
                // costs a day's context, not correctness.
                tracing::warn!(error = %e, "user states not restored: every user starts afresh");
                Windows::with_rows(users_cfg.max_users, scorer.state_len())
            }
            w => w?,
        };
        let (source_ids, formats) = sources.into_iter().map(|s| (s.id, s.format)).unzip();
        Ok(Self {
            keys,
            formats,
            source_ids,
            users,
            score_hosts: users_cfg.score_host_streams,
            windows,
            idle_secs: i64::try_from(users_cfg.idle_timeout_secs).unwrap_or(i64::MAX),
            scorer,
            sinks,
            model: model_ref,
            data_dir: data_dir.to_path_buf(),
            max_users: users_cfg.max_users,
            learner: None,
        })
    }

    /// Runs one batch through; acknowledges it when every sink took its alerts.
    pub fn handle(&mut self, batch: Batch) {
        let now = chrono::Utc::now();
        let now_secs = now.timestamp();
        let today = i64::from(now.date_naive().num_days_from_ce());
        let format = self
            .formats
            .get(batch.source)
            .cloned()
            .unwrap_or(Format::Auto);
        let source = self
            .source_ids
            .get(batch.source)
            .map_or("-", String::as_str)
            .to_string();
        let events = batch.events.len() as u64;
        let mut alerts = 0u64;
        let mut unmatched = 0u64;
        let mut delivered = true;
        for mut event in batch.events {
            self.keys.fill(&mut event, &format);
            unmatched += u64::from(event.unmatched);
            let needs_template = self.users.needs_template();
            let template = needs_template
                .then(|| self.keys.miner().template(event.key))
                .flatten();
            let user = self.users.user_ref(&event, template.as_deref());
            if !self.score_hosts && (user.starts_with("host:") || user == "-") {
                metrics::counter!("dante_events_unscored_total").increment(1);
                continue;
            }
            let (time_ms, day) = match event.timestamp {
                Some(t) => (
                    Some(t.timestamp_millis()),
                    i64::from(t.date_naive().num_days_from_ce()),
                ),
                None => (None, today),
            };
            if let Some(l) = &mut self.learner {
                l.record(&user, time_ms, day, event.key, &event.params);
            }
            let scorer = &self.scorer;
            let (state, row, evicted) =
                self.windows.touch(&user, now_secs, |row| scorer.fresh(row));
            if evicted.is_some() {
                metrics::counter!("dante_users_evicted_total").increment(1);
            }
            let verdict = self
                .scorer
                .score(state, row, event.key, time_ms, day, &event.params);
            let Some(reason) = &verdict.reason else {
                continue;
            };
            let reason_name = match reason {
                Reason::UnknownKey => "unknown_key",
                Reason::UnexpectedKey => "unexpected_key",
                Reason::Parameter(_) => "parameter",
            };
            metrics::counter!("dante_anomalies_total", "reason" => reason_name).increment(1);
            let miner = self.keys.miner();
            let Some(alert) = Alert::new(
                &event,
                &source,
                &user,
                &verdict,
                self.scorer.g(),
                &self.model,
                |k| miner.template(miner.canonical(k)),
            ) else {
                continue;
            };
            let json = match serde_json::to_vec(&alert) {
                Ok(j) => j,
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode an alert");
                    continue;
                }
            };
            alerts += 1;
            for sink in &mut self.sinks {
                if let Err(e) = sink.write(&json) {
                    delivered = false;
                    tracing::error!(error = %e, "sink write failed");
                    metrics::counter!("dante_sink_errors_total", "sink" => sink.id().to_string())
                        .increment(1);
                }
            }
        }
        for sink in &mut self.sinks {
            if let Err(e) = sink.flush() {
                delivered = false;
                tracing::error!(error = %e, "sink flush failed");
                metrics::counter!("dante_sink_errors_total", "sink" => sink.id().to_string())
                    .increment(1);
            }
        }
        if let Some(l) = &mut self.learner {
            l.flush();
        }
        if unmatched > 0 {
            metrics::counter!("dante_parse_unmatched_total", "source" => source)
                .increment(unmatched);
        }
        metrics::counter!("dante_events_total").increment(events);
        metrics::counter!("dante_alerts_total").increment(alerts);
        metrics::gauge!("dante_keys_known").set(self.keys.miner().len() as f64);
        metrics::gauge!("dante_users_tracked").set(self.windows.len() as f64);
        // A batch whose alerts did not all reach the sinks is not acknowledged: its lines are
        // read again after a restart rather than lost.
        if let Some(ack) = batch.ack {
            if delivered {
                ack.done();
            }
        }
    }

    /// Periodic work: drops idle users.
    pub fn tick(&mut self) {
        let now = chrono::Utc::now().timestamp();
        let gone = self.windows.expire(now, self.idle_secs);
        if !gone.is_empty() {
            metrics::counter!("dante_users_expired_total").increment(gone.len() as u64);
        }
        metrics::gauge!("dante_users_tracked").set(self.windows.len() as f64);
    }

    /// Records the baseline from now on (`[model] mode = "learn"`).
    pub fn learn(&mut self, learner: Learner) {
        self.learner = Some(learner);
    }

    /// Learn mode's turn: starts training when due, and scores with the learned model once it is
    /// there. Users start afresh then, since their states belong to the old network.
    pub fn poll_learning(&mut self) {
        let Some(learner) = &mut self.learner else {
            return;
        };
        let now_ms = chrono::Utc::now().timestamp_millis();
        let Some(model) = learner.poll(now_ms, self.keys.miner()) else {
            return;
        };
        self.learner = None;
        self.scorer = StreamScorer::new(&model);
        self.windows = Windows::with_rows(self.max_users, self.scorer.state_len());
        let id = super::learn::learned(&self.data_dir)
            .map_or_else(|| "learned".to_string(), |p| p.display().to_string());
        self.model = ModelRef::new(id, &model);
        metrics::gauge!("dante_model_learned").set(1.0);
        tracing::info!(
            model = %self.model.id,
            keys = model.vocab.len(),
            sessions = model.summary.sessions,
            seconds = model.summary.seconds,
            "learn mode: scoring with the model learned on this host"
        );
        if let Err(e) = self.save() {
            tracing::error!(error = %e, "cannot save state");
        }
    }

    /// Saves the key vocabulary and the users' states to `data_dir`.
    pub fn save(&self) -> Result<(), String> {
        vocab::save(self.keys.miner(), &self.data_dir).map_err(|e| e.to_string())?;
        self.windows
            .save(&self.data_dir.join(USERS_FILE), |s, row, out| {
                self.scorer.encode(s, row, out)
            })
            .map_err(|e| e.to_string())
    }
}
