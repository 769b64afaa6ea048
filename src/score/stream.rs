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

/// Surprise (nats) an event must exceed the calibrated threshold by. The threshold is the
/// surprise of a validation event, so normal events repeating it land exactly on it; users'
/// states are kept at half precision between events, which moves a surprise by up to 0.002
/// (bundled model, 300 sampled sessions), and must not tip them over.
pub const THRESHOLD_SLACK: f64 = 0.01;

/// How many recent keys a user's state keeps for explanations.
pub const RECENT: usize = 8;

/// One user's running state, apart from the model's recurrent state: that is kept beside it at
/// half precision (`state_len` values, see [`crate::model::infer::Scorer::narrow`]), in the
/// user map's flat array of rows. Fixed size, no allocation of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct UserState {
    /// The session's day (days since 1970-01-01 in the event's offset).
    day: i64,
    /// Milliseconds since the epoch of the user's previous event with a time; `i64::MIN` when
    /// none.
    last_ms: i64,
    /// Events and anomalies in the session.
    events: u32,
    anomalies: u32,
    /// The last keys, oldest first: the first `recent_len` of them.
    recent: [KeyId; RECENT],
    recent_len: u8,
}

impl UserState {
    fn recent(&self) -> &[KeyId] {
        &self.recent[..usize::from(self.recent_len)]
    }

    fn push_recent(&mut self, key: KeyId) {
        if usize::from(self.recent_len) == RECENT {
            self.recent.copy_within(1.., 0);
            self.recent[RECENT - 1] = key;
        } else {
            self.recent[usize::from(self.recent_len)] = key;
            self.recent_len += 1;
        }
    }
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
    /// The user's keys before this one in the session, oldest first (filled for anomalies).
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
    start_half: Vec<u16>,
    /// The state of the user being scored, widened from its row.
    current: State,
    probs: Vec<f32>,
}

impl StreamScorer {
    /// A scorer for `model`.
    pub fn new(model: &Model) -> Self {
        let scorer = Scorer::new(model);
        let mut start = scorer.zero();
        scorer.step(&mut start, model.vocab.start());
        let mut start_half = vec![0; scorer.state_len()];
        scorer.narrow(&start, &mut start_half);
        Self {
            current: start.clone(),
            start_half,
            probs: vec![0f32; scorer.outputs()],
            vocab: model.vocab.clone(),
            g: model.g,
            threshold: model
                .threshold
                .map_or(f64::INFINITY, |t| t + THRESHOLD_SLACK),
            params: model.params.clone(),
            start,
            scorer,
        }
    }

    /// Values in a user's recurrent-state row.
    pub fn state_len(&self) -> usize {
        self.scorer.state_len()
    }

    /// The state of a user not seen before; fills `row` (`state_len` long) with the model's
    /// start state.
    pub fn fresh(&self, row: &mut [u16]) -> UserState {
        row.copy_from_slice(&self.start_half);
        UserState {
            day: i64::MIN,
            last_ms: i64::MIN,
            events: 0,
            anomalies: 0,
            recent: [0; RECENT],
            recent_len: 0,
        }
    }

    /// Scores `key` as the user's next event; `row` is the user's recurrent state (from
    /// [`Self::fresh`], then updated here). `time_ms`: the event's time (milliseconds since
    /// the epoch) and `day` its day; `values`: its parameter values after the time since the
    /// previous event ([`crate::model::params::values`] without `dt`, which is computed here).
    pub fn score(
        &mut self,
        user: &mut UserState,
        row: &mut [u16],
        key: KeyId,
        time_ms: Option<i64>,
        day: i64,
        params: &[crate::event::Param],
    ) -> KeyVerdict {
        if day != user.day {
            // A new day is a new session, as the model was trained.
            self.current.clone_from(&self.start);
            user.day = day;
            user.recent_len = 0;
            user.events = 0;
            user.anomalies = 0;
        } else {
            self.scorer.widen(row, &mut self.current);
        }
        let dt = match (time_ms, user.last_ms) {
            (Some(t), prev) if prev != i64::MIN => Some((t - prev) as f64 / 1000.0),
            _ => None,
        };
        if let Some(t) = time_ms {
            user.last_ms = t;
        }
        self.scorer.predict(&self.current, &mut self.probs);
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
        // Explanations only for anomalies: a normal event allocates nothing.
        let (expected, window) = if reason.is_some() {
            (self.top(EXPLAIN_TOP), user.recent().to_vec())
        } else {
            (Vec::new(), Vec::new())
        };
        user.events = user.events.saturating_add(1);
        user.anomalies = user.anomalies.saturating_add(u32::from(reason.is_some()));
        user.push_recent(key);
        // Unknown keys go in as the unknown slot: the state stays meaningful.
        self.scorer.step(&mut self.current, i);
        self.scorer.narrow(&self.current, row);
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

    /// Appends a user state's bytes and its row's (for snapshots).
    pub fn encode(&self, user: &UserState, row: &[u16], out: &mut Vec<u8>) {
        out.extend_from_slice(&user.day.to_le_bytes());
        out.extend_from_slice(&user.last_ms.to_le_bytes());
        out.extend_from_slice(&user.events.to_le_bytes());
        out.extend_from_slice(&user.anomalies.to_le_bytes());
        out.push(user.recent_len);
        for k in user.recent() {
            out.extend_from_slice(&k.to_le_bytes());
        }
        for v in row {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// A user state from [`Self::encode`]'s bytes, its row written into `row`; `None` when they
    /// do not fit this model.
    pub fn decode(&self, b: &[u8], row: &mut [u16]) -> Option<UserState> {
        let i64_at = |o: usize| Some(i64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
        let u32_at = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
        let day = i64_at(0)?;
        let last_ms = i64_at(8)?;
        let events = u32_at(16)?;
        let anomalies = u32_at(20)?;
        let n = *b.get(24)?;
        if usize::from(n) > RECENT {
            return None;
        }
        let mut recent = [0; RECENT];
        for (j, k) in recent.iter_mut().take(usize::from(n)).enumerate() {
            *k = u32_at(25 + 4 * j)?;
        }
        let rest = b.get(25 + 4 * usize::from(n)..)?;
        if rest.len() != 2 * row.len() || row.len() != self.state_len() {
            return None;
        }
        for (r, c) in row.iter_mut().zip(rest.chunks_exact(2)) {
            *r = u16::from_le_bytes([c[0], c[1]]);
            // Exponent all ones: infinity or NaN, never written.
            if *r & 0x7c00 == 0x7c00 {
                return None;
            }
        }
        Some(UserState {
            day,
            last_ms,
            events,
            anomalies,
            recent,
            recent_len: n,
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
            let mut row = vec![0; stream.state_len()];
            let mut u = stream.fresh(&mut row);
            let flags: Vec<bool> = s
                .iter()
                .map(|k| {
                    stream
                        .score(&mut u, &mut row, *k, None, 0, &[])
                        .reason
                        .is_some()
                })
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
        let mut row = vec![0; stream.state_len()];
        let mut u = stream.fresh(&mut row);
        stream.score(&mut u, &mut row, 10, Some(0), 1, &[]);
        stream.score(&mut u, &mut row, 20, Some(1000), 1, &[]);
        let v = stream.score(&mut u, &mut row, 99, Some(2000), 1, &[]);
        assert_eq!(v.reason, Some(Reason::UnknownKey));
        assert_eq!(v.window, [10, 20]);
        assert!(matches!(v.expected[0].0, 30 | 40), "{:?}", v.expected);
        assert_eq!((v.session_events, v.session_anomalies), (3, 1));
        // Next day: the session restarts, 10 is the expected first key again.
        let v = stream.score(&mut u, &mut row, 10, Some(90_000_000), 2, &[]);
        assert_eq!(v.reason, None);
        assert_eq!(v.session_events, 1);
        assert!(v.window.is_empty());
    }

    #[test]
    fn states_survive_encoding_and_bad_bytes_are_refused() {
        let m = model();
        let mut stream = StreamScorer::new(&m);
        let mut row = vec![0; stream.state_len()];
        let mut u = stream.fresh(&mut row);
        for k in [10, 20, 30, 10, 20, 30, 10, 20, 30, 40] {
            stream.score(&mut u, &mut row, k, Some(5), 3, &[]);
        }
        assert_eq!(u.recent(), [30, 10, 20, 30, 10, 20, 30, 40]);
        let mut bytes = Vec::new();
        stream.encode(&u, &row, &mut bytes);
        let mut back = vec![0; row.len()];
        assert_eq!(stream.decode(&bytes, &mut back), Some(u.clone()));
        assert_eq!(back, row);
        assert_eq!(stream.decode(&bytes[..bytes.len() - 2], &mut back), None);
        assert_eq!(stream.decode(&[], &mut back), None);
        let mut bad = bytes.clone();
        bad[24] = 200;
        assert_eq!(stream.decode(&bad, &mut back), None);
        let mut inf = bytes.clone();
        let at = inf.len() - 2;
        inf[at..].copy_from_slice(&0x7c00u16.to_le_bytes());
        assert_eq!(stream.decode(&inf, &mut back), None);
    }
}
