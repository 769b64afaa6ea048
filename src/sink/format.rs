//! What a webhook sends: one alert (`dante.anomaly/1` JSON, as queued) turned into the body of a
//! receiver's API — `generic`, `alertmanager`, `pagerduty`, `jira`, `slack` — with a short human
//! summary, the explanation in the details, and the incident key receivers deduplicate by.
//!
//! Pure functions over `serde_json::Value`, so that a field the schema gains later passes
//! through `generic` untouched and a missing one never fails a delivery.

use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// The body a webhook sink posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The alert JSON as it is (after redaction).
    #[default]
    Generic,
    /// Alertmanager's webhook payload (version 4), one alert per post.
    Alertmanager,
    /// PagerDuty Events API v2, `event_action = "trigger"`.
    Pagerduty,
    /// Jira's create-issue body (REST API v2: a plain-text description).
    Jira,
    /// Slack's incoming-webhook body: `{"text": ...}`.
    Slack,
}

impl Format {
    /// Whether a repeat of an incident is sent: PagerDuty folds repeats into the open incident
    /// by `dedup_key`, so they update it; the others would open a new ticket, post or
    /// notification, so repeats within the period are held back.
    pub fn sends_repeats(self) -> bool {
        self == Self::Pagerduty
    }
}

/// What a format needs besides the alert.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The body.
    pub format: Format,
    /// The sink's id (Alertmanager's `receiver`).
    pub receiver: String,
    /// PagerDuty's integration key, resolved.
    pub routing_key: String,
    /// Jira's project key.
    pub project: String,
    /// Jira's issue type.
    pub issue_type: String,
    /// `critical`, `error`, `warning` or `info`.
    pub severity: String,
    /// Dotted paths replaced by [`REDACTED`] (and their string values wherever they occur).
    pub redact: Vec<String>,
}

/// What redacted values are replaced with.
pub const REDACTED: &str = "[redacted]";

/// The incident an alert belongs to: stable across restarts and resends, equal for alerts about
/// the same host, user and program (the category; the reason when the program is unknown)
/// within the same `period_secs` window of event time.
pub fn incident_key(alert: &Value, period_secs: u64) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let category = alert["event"]["app"]
        .as_str()
        .filter(|a| !a.is_empty())
        .map_or_else(|| s(&alert["reason"]), str::to_string);
    let t = alert["time"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(0, |t| t.timestamp());
    let window = t.div_euclid(i64::try_from(period_secs.max(1)).unwrap_or(i64::MAX));
    crate::keys::vocab::fnv1a_hex(
        format!(
            "{}\u{1f}{}\u{1f}{category}\u{1f}{window}",
            s(&alert["host"]),
            s(&alert["user"])
        )
        .into_bytes(),
    )
}

/// Replaces the fields at `paths` (`user`, `event.message`) with [`REDACTED`], and their string
/// values wherever else they appear (a user's name inside the message).
pub fn redact(alert: &mut Value, paths: &[String]) {
    let mut values = Vec::new();
    for p in paths {
        let Some(v) = p.split('.').try_fold(&mut *alert, |v, seg| v.get_mut(seg)) else {
            continue;
        };
        if v.is_null() {
            continue;
        }
        if let Some(s) = v.as_str() {
            // Short values would blot out unrelated text.
            if s.chars().count() >= 3 {
                values.push(s.to_string());
            }
        }
        *v = Value::String(REDACTED.into());
    }
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    if !values.is_empty() {
        scrub(alert, &values);
    }
}

fn scrub(v: &mut Value, values: &[String]) {
    match v {
        Value::String(s) => {
            for x in values {
                if s.contains(x.as_str()) {
                    *s = s.replace(x.as_str(), REDACTED);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| scrub(x, values)),
        Value::Object(o) => o.values_mut().for_each(|x| scrub(x, values)),
        _ => {}
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn who(alert: &Value) -> String {
    let user = alert["user"].as_str().unwrap_or("-");
    match alert["host"].as_str() {
        Some(h) => format!("{user}@{h}"),
        None => user.to_string(),
    }
}

fn why(alert: &Value) -> String {
    match alert["reason"].as_str() {
        Some("unknown_key") => "never seen in training".into(),
        Some("unexpected_key") => "unexpected at this point".into(),
        Some("parameter") => {
            let p = &alert["parameter"];
            format!(
                "{} = {} outside {}..{}",
                p["name"].as_str().unwrap_or("?"),
                p["value"],
                p["expected_min"],
                p["expected_max"]
            )
        }
        Some(other) => other.to_string(),
        None => "anomalous".into(),
    }
}

/// One line for a human: `alice@web-3: 14 unusual events today; latest (sudo, never seen in
/// training): alice : user NOT in sudoers ; …`. The count is the user's session's (all
/// programs), the rest is about the alert's own event.
pub fn summary(alert: &Value) -> String {
    let n = alert["score"]["session_anomalies"].as_u64().unwrap_or(1);
    let events = if n == 1 { "event" } else { "events" };
    let what = match alert["event"]["app"].as_str() {
        Some(app) => format!("{app}, {}", why(alert)),
        None => why(alert),
    };
    let message = alert["event"]["message"].as_str().unwrap_or("");
    cut(
        &format!(
            "{}: {n} unusual {events} today; latest ({what}): {message}",
            who(alert)
        ),
        200,
    )
}

/// The explanation, as plain text: what happened, what the model expected, what came before.
pub fn details(alert: &Value, incident: &str) -> String {
    let t = |v: &Value| {
        v.as_str()
            .unwrap_or("(template no longer known)")
            .to_string()
    };
    let mut d = String::new();
    let e = &alert["event"];
    let _ = writeln!(d, "Event: {}", e["message"].as_str().unwrap_or(""));
    let _ = writeln!(
        d,
        "Who: {} (source {}), at {}",
        who(alert),
        alert["source"].as_str().unwrap_or("-"),
        alert["time"].as_str().unwrap_or("-")
    );
    let _ = writeln!(d, "Template: {} (key {})", t(&e["template"]), e["key"]);
    let s = &alert["score"];
    let _ = writeln!(
        d,
        "Why: {} (surprise {:.2}, rank {}, g {}); {} of {} events anomalous in this session",
        why(alert),
        s["surprise"].as_f64().unwrap_or(0.0),
        // An unknown key has no rank.
        s["rank"]
            .as_u64()
            .map_or_else(|| "none".to_string(), |r| r.to_string()),
        s["g"],
        s["session_anomalies"],
        s["session_events"]
    );
    if let Some(exp) = alert["expected"].as_array().filter(|a| !a.is_empty()) {
        let _ = writeln!(d, "Expected instead:");
        for x in exp {
            let _ = writeln!(
                d,
                "  {:.3}  {}",
                x["probability"].as_f64().unwrap_or(0.0),
                t(&x["template"])
            );
        }
    }
    if let Some(win) = alert["window"].as_array().filter(|a| !a.is_empty()) {
        let _ = writeln!(d, "Before it:");
        for x in win {
            let _ = writeln!(d, "  {}", t(&x["template"]));
        }
    }
    let _ = write!(
        d,
        "Incident: {incident}; alert dedup_key: {}; model: {} {}",
        alert["dedup_key"].as_str().unwrap_or("-"),
        alert["model"]["id"].as_str().unwrap_or("-"),
        alert["model"]["hash"].as_str().unwrap_or("-")
    );
    d
}

/// The body for `alert` (already redacted) of incident `incident`.
pub fn render(s: &Settings, alert: &Value, incident: &str) -> Vec<u8> {
    let summary = summary(alert);
    let body = match s.format {
        Format::Generic => return serde_json::to_vec(alert).unwrap_or_default(),
        Format::Slack => {
            json!({ "text": format!("{summary}\n```{}```", details(alert, incident)) })
        }
        Format::Pagerduty => json!({
            "routing_key": s.routing_key,
            "event_action": "trigger",
            "dedup_key": incident,
            "client": "dante",
            "payload": {
                "summary": cut(&summary, 1024),
                "severity": s.severity,
                "source": alert["host"].as_str().unwrap_or("dante"),
                "timestamp": alert["time"],
                "component": alert["event"]["app"],
                "group": alert["user"],
                "class": alert["reason"],
                "custom_details": {
                    "explanation": details(alert, incident),
                    "user": alert["user"],
                    "reason": alert["reason"],
                    "event": alert["event"],
                    "expected": alert["expected"],
                    "window": alert["window"],
                    "score": alert["score"],
                    "parameter": alert["parameter"],
                    "alert_dedup_key": alert["dedup_key"],
                },
            },
        }),
        Format::Jira => json!({
            "fields": {
                "project": { "key": s.project },
                "issuetype": { "name": s.issue_type },
                "summary": cut(&summary, 255),
                "description": details(alert, incident),
                "labels": ["dante", format!("dante-{incident}")],
            },
        }),
        Format::Alertmanager => {
            let labels = json!({
                "alertname": "DanteAnomaly",
                "severity": s.severity,
                "user": alert["user"],
                "host": alert["host"].as_str().unwrap_or(""),
                "app": alert["event"]["app"].as_str().unwrap_or(""),
                "reason": alert["reason"],
                "incident": incident,
            });
            let annotations = json!({
                "summary": summary,
                "description": details(alert, incident),
            });
            json!({
                "version": "4",
                "groupKey": format!("{{}}:{{incident=\"{incident}\"}}"),
                "truncatedAlerts": 0,
                "status": "firing",
                "receiver": s.receiver,
                "groupLabels": { "incident": incident },
                "commonLabels": labels,
                "commonAnnotations": annotations,
                "externalURL": "",
                "alerts": [{
                    "status": "firing",
                    "labels": labels,
                    "annotations": annotations,
                    "startsAt": alert["time"],
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "",
                    "fingerprint": incident,
                }],
            })
        }
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn alert() -> Value {
        serde_json::from_str(include_str!("../../tests/fixtures/webhook/alert.json")).unwrap()
    }

    #[test]
    fn incidents_group_by_host_user_program_and_window() {
        let a = alert();
        let k = incident_key(&a, 3600);
        let mut b = a.clone();
        b["event"]["message"] = "something else entirely".into();
        b["time"] = "2026-11-25T10:59:59+00:00".into();
        assert_eq!(incident_key(&b, 3600), k);
        b["time"] = "2026-11-25T11:00:00+00:00".into();
        assert_ne!(incident_key(&b, 3600), k);
        let mut c = a.clone();
        c["user"] = "bob".into();
        assert_ne!(incident_key(&c, 3600), k);
        let mut d = a.clone();
        d["host"] = Value::Null;
        assert_ne!(incident_key(&d, 3600), k);
        // Nothing usable at all still gives a key.
        assert_eq!(incident_key(&json!(5), 0).len(), 16);
    }

    #[test]
    fn redaction_reaches_copies_of_the_value() {
        let mut a = alert();
        redact(&mut a, &["user".into(), "no.such.field".into()]);
        assert_eq!(a["user"], REDACTED);
        let text = a.to_string();
        assert!(!text.contains("alice"), "{text}");
        assert!(a["event"]["message"].as_str().unwrap().contains(REDACTED));
    }

    #[test]
    fn the_summary_is_short_and_says_who_and_what() {
        let s = summary(&alert());
        assert!(
            s.starts_with("alice@web-3: 14 unusual events today; latest (sudo, never seen"),
            "{s}"
        );
        assert!(s.chars().count() <= 200);
        let mut p = alert();
        p["reason"] = "parameter".into();
        p["parameter"] = json!({"name": "dt", "value": 3.0, "expected_min": 60.0, "expected_max": 7200.0, "z": 4.1});
        assert!(summary(&p).contains("dt = 3.0 outside 60.0..7200.0"));
        assert!(!summary(&json!({})).is_empty());
    }
}
