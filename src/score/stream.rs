//! Scoring live: one event at a time per user, with a compact running state.
//!
//! A user's [`UserState`] is the model's recurrent state after the keys of the user's current
//! session (a session is a user's day, as in training), the last few keys for explanations, and
//! counters for the session score. Each event costs one model step, whatever came before. A key
//! is anomalous when the model never saw it, when it is not among the top `g` predictions, when
//! its surprise is above the calibrated threshold, or when the time since the user's previous
//! event, or a duration or size among its parameters, is outside what the value model learned.

use super::EXPLAIN_TOP;
use crate::event::ParamKind;
use crate::keys::KeyId;
use crate::model::infer::{Scorer, State, rank};
use crate::model::params::{ParamAnomaly, ParamModel};
use crate::model::train::surprise;
use crate::model::{Model, Vocabulary};

/// How many recent keys a user's state keeps for explanations.
pub const RECENT: usize = 8;

/// One user's running state.
#[derive(Debug, Clone, PartialEq)]
pub struct UserState {
    state: State,
    /// The session's day (days since 1970-01-01 in the event's offset).
    day: i64,
    /// The last keys, oldest first, at most [`RECENT`].
    recent: Vec<KeyId>,
    /// Events and anomalies in the session.
    events: u32,
    anomalies: u32,
    /// Milliseconds since the epoch of the user's previous event with a time.
    last_ms: Option<i64>,
}

/// Why an event was flagged.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// The model was never trained on this key.
    UnknownKey,
    /// The key was not among the top `g` predictions, or its surprise was above the threshold.
    UnexpectedKey,
    /// The key was expected but a parameter value was not.
    Parameter(ParamAnomaly),
}

/// The verdict on one event.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyVerdict {
    /// Why it is anomalous; `None` when it is normal.
    pub reason: Option<Reason>,
    /// The model's probability of the key (0 when unknown).
    pub probability: f32,
    /// Its rank among the predictions (0 = most likely); `None` when unknown.
    pub rank: Option<usize>,
    /// `-ln p`.
    pub surprise: f64,
    /// The keys the model expected, most likely first (filled for anomalies).
    pub expected: Vec<(KeyId, f32)>,
    /// The user's keys before this one in the session, oldest first.
    pub window: Vec<KeyId>,
    /// Events in the session so far, this one included.
    pub session_events: u32,
    /// Anomalous events in the session so far, this one included.
    pub session_anomalies: u32,
}

impl KeyVerdict {
    /// The share of anomalous events in the session so far.
    pub fn session_score(&self) -> f64 {
        f64::from(self.session_anomalies) / f64::from(self.session_events.max(1))
    }
}

/// Scores events against a model, one user state at a time.
#[derive(Debug, Clone)]
pub struct StreamScorer {
    scorer: Scorer,
    vocab: Vocabulary,
    g: usize,
    threshold: f64,
    params: Option<ParamModel>,
    start: State,
    probs: Vec<f32>,
}

impl StreamScorer {
    /// A scorer for `model`.
    pub fn new(model: &Model) -> Self {
        let scorer = Scorer::new(model);
        let mut start = scorer.zero();
        scorer.step(&mut start, model.vocab.start());
        Self {
            probs: vec![0f32; scorer.outputs()],
            vocab: model.vocab.clone(),
            g: model.g,
            threshold: model.threshold.unwrap_or(f64::INFINITY),
            params: model.params.clone(),
            start,
            scorer,
        }
    }

    /// The state of a user not seen before.
    pub fn fresh(&self) -> UserState {
        UserState {
            state: self.start.clone(),
            day: i64::MIN,
            recent: Vec::new(),
            events: 0,
            anomalies: 0,
            last_ms: None,
        }
    }

    /// Scores `key` as the user's next event. `time_ms`: the event's time (milliseconds since
    /// the epoch) and `day` its day; `values`: its parameter values after the time since the
    /// previous event ([`crate::model::params::values`] without `dt`, which is computed here).
    pub fn score(
        &mut self,
        user: &mut UserState,
        key: KeyId,
        time_ms: Option<i64>,
        day: i64,
        params: &[crate::event::Param],
    ) -> KeyVerdict {
        if day != user.day {
            // A new day is a new session, as the model was trained.
            user.state.clone_from(&self.start);
            user.day = day;
            user.recent.clear();
            user.events = 0;
            user.anomalies = 0;
        }
        let dt = match (time_ms, user.last_ms) {
            (Some(t), Some(prev)) => Some((t - prev) as f64 / 1000.0),
            _ => None,
        };
        if time_ms.is_some() {
            user.last_ms = time_ms;
        }
        self.scorer.predict(&user.state, &mut self.probs);
        let i = self.vocab.index(key);
        let (probability, rank_of, s) = if i == 0 {
            (0.0, None, super::UNKNOWN_SURPRISE)
        } else {
            let p = self.probs[i];
            (p, Some(rank(&self.probs, i)), surprise(p))
        };
        let mut reason = match rank_of {
            None => Some(Reason::UnknownKey),
            Some(r) if r >= self.g || s > self.threshold => Some(Reason::UnexpectedKey),
            Some(_) => None,
        };
        if reason.is_none() {
            if let Some(pm) = &self.params {
                let mut values = crate::model::params::values(dt, params);
                // Live, only measurements are judged: the time since the user's previous event,
                // durations and sizes. Plain numbers in log lines are mostly identifiers (session
                // numbers, pids, ports) whose range says nothing about the user.
                for (v, p) in values.iter_mut().skip(1).zip(params) {
                    if !matches!(p.kind, ParamKind::Duration | ParamKind::Size) {
                        *v = f64::NAN;
                    }
                }
                reason = pm.check(key, &values).map(Reason::Parameter);
            }
        }
        let expected = if reason.is_some() {
            self.top(EXPLAIN_TOP)
        } else {
            Vec::new()
        };
        let window = user.recent.clone();
        user.events = user.events.saturating_add(1);
        user.anomalies = user.anomalies.saturating_add(u32::from(reason.is_some()));
        if user.recent.len() == RECENT {
            user.recent.remove(0);
        }
        user.recent.push(key);
        // Unknown keys go in as the unknown slot: the state stays meaningful.
        self.scorer.step(&mut user.state, i);
        KeyVerdict {
            reason,
            probability,
            rank: rank_of,
            surprise: s,
            expected,
            window,
            session_events: user.events,
            session_anomalies: user.anomalies,
        }
    }

    fn top(&self, n: usize) -> Vec<(KeyId, f32)> {
        let mut order: Vec<usize> = (1..self.probs.len()).collect();
        order.sort_by(|a, b| self.probs[*b].total_cmp(&self.probs[*a]));
        order
            .into_iter()
            .filter_map(|i| self.vocab.key(i).map(|k| (k, self.probs[i])))
            .take(n)
            .collect()
    }

    /// Appends a user state's bytes (for snapshots).
    pub fn encode(&self, user: &UserState, out: &mut Vec<u8>) {
        out.extend_from_slice(&user.day.to_le_bytes());
        out.extend_from_slice(&user.last_ms.unwrap_or(i64::MIN).to_le_bytes());
        out.extend_from_slice(&user.events.to_le_bytes());
        out.extend_from_slice(&user.anomalies.to_le_bytes());
        out.push(user.recent.len() as u8);
        for k in &user.recent {
            out.extend_from_slice(&k.to_le_bytes());
        }
        for v in user.state.values() {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// A user state from [`Self::encode`]'s bytes; `None` when they do not fit this model.
    pub fn decode(&self, b: &[u8]) -> Option<UserState> {
        let i64_at = |o: usize| Some(i64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
        let u32_at = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
        let day = i64_at(0)?;
        let last = i64_at(8)?;
        let events = u32_at(16)?;
        let anomalies = u32_at(20)?;
        let n = usize::from(*b.get(24)?);
        if n > RECENT {
            return None;
        }
        let recent = (0..n)
            .map(|j| u32_at(25 + 4 * j))
            .collect::<Option<Vec<_>>>()?;
        let rest = b.get(25 + 4 * n..)?;
        if rest.len() % 4 != 0 {
            return None;
        }
        let values: Vec<f32> = rest
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Some(UserState {
            state: self.scorer.restore(&values)?,
            day,
            recent,
            events,
            anomalies,
            last_ms: (last != i64::MIN).then_some(last),
        })
    }

    /// The model's `g`.
    pub fn g(&self) -> usize {
        self.g
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::SessionScorer;

    fn model() -> Model {
        super::super::tests::model()
    }

    #[test]
    fn streaming_agrees_with_whole_sessions() {
        let m = model();
        let mut stream = StreamScorer::new(&m);
        let mut batch = SessionScorer::new(&m, 1000);
        for s in [vec![10, 20, 30, 40], vec![10, 20, 99, 40], vec![40, 10, 20]] {
            let mut u = stream.fresh();
            let flags: Vec<bool> = s
                .iter()
                .map(|k| stream.score(&mut u, *k, None, 0, &[]).reason.is_some())
                .collect();
            let v = batch.score(&s);
            // The session verdict also judges the end; the keys alone must agree with it up to
            // there: the first anomalous key is the same.
            let first = flags.iter().position(|f| *f);
            let batch_first = v
                .first
                .as_ref()
                .map(|e| e.position)
                .filter(|p| *p < s.len());
            assert_eq!(first, batch_first, "{s:?}");
        }
    }

    #[test]
    fn an_unknown_key_is_explained_and_a_new_day_starts_afresh() {
        let m = model();
        let mut stream = StreamScorer::new(&m);
        let mut u = stream.fresh();
        stream.score(&mut u, 10, Some(0), 1, &[]);
        stream.score(&mut u, 20, Some(1000), 1, &[]);
        let v = stream.score(&mut u, 99, Some(2000), 1, &[]);
        assert_eq!(v.reason, Some(Reason::UnknownKey));
        assert_eq!(v.window, [10, 20]);
        assert!(matches!(v.expected[0].0, 30 | 40), "{:?}", v.expected);
        assert_eq!((v.session_events, v.session_anomalies), (3, 1));
        // Next day: the session restarts, 10 is the expected first key again.
        let v = stream.score(&mut u, 10, Some(90_000_000), 2, &[]);
        assert_eq!(v.reason, None);
        assert_eq!(v.session_events, 1);
        assert!(v.window.is_empty());
    }

    #[test]
    fn states_survive_encoding_and_bad_bytes_are_refused() {
        let m = model();
        let mut stream = StreamScorer::new(&m);
        let mut u = stream.fresh();
        for k in [10, 20, 30] {
            stream.score(&mut u, k, Some(5), 3, &[]);
        }
        let mut bytes = Vec::new();
        stream.encode(&u, &mut bytes);
        assert_eq!(stream.decode(&bytes), Some(u.clone()));
        assert_eq!(stream.decode(&bytes[..bytes.len() - 4]), None);
        assert_eq!(stream.decode(&[]), None);
        let mut bad = bytes.clone();
        bad[24] = 200;
        assert_eq!(stream.decode(&bad), None);
    }
}
