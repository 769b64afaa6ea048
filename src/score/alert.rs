//! The anomaly event: what the score stage hands to the sinks, versioned (`schema`).
//! README.md documents every field.

use super::stream::{KeyVerdict, Reason};
use crate::event::{Event, Param};
use crate::keys::KeyId;
use serde::Serialize;

/// The schema version written in every alert.
pub const SCHEMA: &str = "dante.anomaly/1";

/// One anomalous event, explained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// When the event happened (its own time, else when dante read it), RFC 3339.
    pub time: String,
    /// When dante scored it, RFC 3339.
    pub observed_at: String,
    /// The host that wrote the line, when known.
    pub host: Option<String>,
    /// The user (or `host:NAME` stream) the event was attributed to.
    pub user: String,
    /// The source id it came from.
    pub source: String,
    /// Always `anomalous`: normal events are not sent.
    pub verdict: &'static str,
    /// `unknown_key`, `unexpected_key` or `parameter`.
    pub reason: &'static str,
    /// The numbers behind the verdict.
    pub score: Score,
    /// The event itself.
    pub event: Keyed,
    /// What the model expected instead, most likely first.
    pub expected: Vec<Expected>,
    /// The user's previous keys in the session, oldest first.
    pub window: Vec<Keyed>,
    /// The parameter that was off, for `reason = "parameter"`.
    pub parameter: Option<ParameterOff>,
    /// The model that judged.
    pub model: ModelRef,
    /// Equal for alerts about the same user, key and reason: receivers group by it.
    pub dedup_key: String,
}

/// The numbers behind a verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// `-ln p` of the key.
    pub surprise: f64,
    /// The model's probability of the key.
    pub probability: f32,
    /// Its rank among the predictions (0 = most likely), null when the model does not know it.
    pub rank: Option<usize>,
    /// The model's `g`: ranks from `g` on are anomalous.
    pub g: usize,
    /// Events in the user's session (day) so far.
    pub session_events: u32,
    /// Anomalous events among them.
    pub session_anomalies: u32,
    /// Their share.
    pub session_score: f64,
}

/// A key with its template (and, for the event itself, the message and values).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Keyed {
    /// The key id.
    pub key: KeyId,
    /// Its template, when the vocabulary still has it.
    pub template: Option<String>,
    /// The message (the event only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The program (the event only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The parameter values (the event only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
}

/// An expected key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expected {
    /// The key id.
    pub key: KeyId,
    /// Its template.
    pub template: Option<String>,
    /// The model's probability.
    pub probability: f32,
}

/// A parameter outside its learned range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParameterOff {
    /// `dt` (seconds since the user's previous event) or `p1`, `p2`… (the template's numbers).
    pub name: String,
    /// The value seen.
    pub value: f64,
    /// The range that would have passed.
    pub expected_min: f64,
    /// The range that would have passed.
    pub expected_max: f64,
    /// How far out, in robust standard deviations.
    pub z: f64,
}

/// Which model judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelRef {
    /// `bundled` or the model file's path.
    pub id: String,
    /// The hash of the model's key vocabulary.
    pub hash: String,
}

impl ModelRef {
    /// `model`, named `id`.
    pub fn new(id: String, model: &crate::model::Model) -> Self {
        let hash = model
            .key_vocabulary
            .clone()
            .unwrap_or_else(|| model.vocab.hash());
        Self { id, hash }
    }
}

impl Alert {
    /// The alert for `event` (keyed, attributed) and its verdict; `template` looks keys up.
    pub fn new(
        event: &Event,
        source: &str,
        user: &str,
        verdict: &KeyVerdict,
        g: usize,
        model: &ModelRef,
        template: impl Fn(KeyId) -> Option<String>,
    ) -> Option<Self> {
        let reason = verdict.reason.as_ref()?;
        let now = chrono::Utc::now();
        let time = event
            .timestamp
            .map_or_else(|| now.to_rfc3339(), |t| t.to_rfc3339());
        let (reason_name, parameter) = match reason {
            Reason::UnknownKey => ("unknown_key", None),
            Reason::UnexpectedKey => ("unexpected_key", None),
            Reason::Parameter(p) => (
                "parameter",
                Some(ParameterOff {
                    name: p.name.clone(),
                    value: p.value,
                    expected_min: p.expected.0,
                    expected_max: p.expected.1,
                    z: p.z,
                }),
            ),
        };
        let dedup_key = crate::keys::vocab::fnv1a_hex(
            format!("{user}\u{1f}{}\u{1f}{reason_name}", event.key).into_bytes(),
        );
        Some(Self {
            schema: SCHEMA,
            time,
            observed_at: now.to_rfc3339(),
            host: event.host.clone(),
            user: user.to_string(),
            source: source.to_string(),
            verdict: "anomalous",
            reason: reason_name,
            score: Score {
                surprise: verdict.surprise,
                probability: verdict.probability,
                rank: verdict.rank,
                g,
                session_events: verdict.session_events,
                session_anomalies: verdict.session_anomalies,
                session_score: verdict.session_score(),
            },
            event: Keyed {
                key: event.key,
                template: template(event.key),
                message: Some(event.message.clone()),
                app: event.app.clone(),
                params: event.params.clone(),
            },
            expected: verdict
                .expected
                .iter()
                .map(|(k, p)| Expected {
                    key: *k,
                    template: template(*k),
                    probability: *p,
                })
                .collect(),
            window: verdict
                .window
                .iter()
                .map(|k| Keyed {
                    key: *k,
                    template: template(*k),
                    message: None,
                    app: None,
                    params: Vec::new(),
                })
                .collect(),
            parameter,
            model: model.clone(),
            dedup_key,
        })
    }
}
