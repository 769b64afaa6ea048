//! Users: which stream an event belongs to, and how streams are cut into sessions.
//!
//! Takes keyed events (from `keys`), gives for each the user it is attributed to and the session
//! (user × day) it falls in. Attribution here is the first parameter the keys stage typed as a
//! user (`Accepted password for alice`, `session opened for user bob`, `logname=carol`); an event
//! with none goes to its host's stream (`host:web-3`), or to `-` when the line had no host. The
//! agent's rule set (sshd, sudo, su, logind, cron, user-defined regexes) and the bounded per-user
//! windows build on this.

use crate::event::{Event, ParamKind};
use crate::keys::KeyId;
use std::collections::BTreeMap;

/// The stream an event belongs to: a user name, or `host:NAME` when no user is known.
pub fn attribute(event: &Event) -> String {
    if let Some(p) = event.params.iter().find(|p| p.kind == ParamKind::User) {
        return p.value.clone();
    }
    match &event.host {
        Some(h) => format!("host:{h}"),
        None => "-".to_string(),
    }
}

/// The day an event falls in (`YYYY-MM-DD` in the timestamp's own offset), `-` without a time.
pub fn day(event: &Event) -> String {
    event
        .timestamp
        .map_or_else(|| "-".to_string(), |t| t.format("%Y-%m-%d").to_string())
}

/// Collects keys into one session per user per day, in the order events arrive.
#[derive(Debug, Default)]
pub struct Sessions {
    sessions: BTreeMap<(String, String), Vec<KeyId>>,
    last: BTreeMap<String, chrono::DateTime<chrono::FixedOffset>>,
}

impl Sessions {
    /// Adds `key` to the session of `event`; returns the seconds since the same user's previous
    /// event, when both have a time.
    pub fn push(&mut self, event: &Event, key: KeyId) -> Option<f64> {
        let user = attribute(event);
        let dt = event.timestamp.and_then(|t| {
            let prev = self.last.insert(user.clone(), t)?;
            Some((t - prev).num_milliseconds() as f64 / 1000.0)
        });
        self.sessions
            .entry((user, day(event)))
            .or_default()
            .push(key);
        dt
    }

    /// The sessions, ordered by user then day.
    pub fn into_sessions(self) -> Vec<((String, String), Vec<KeyId>)> {
        self.sessions.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Format, KeyExtractor, Miner};

    #[test]
    fn users_from_parameters_else_hosts() {
        let mut keys = KeyExtractor::new(Format::Auto, Miner::default());
        let lines = [
            "Dec 10 06:55:46 web-3 sshd[1]: Accepted password for alice from 10.0.0.1 port 22 ssh2",
            "Dec 10 06:55:47 web-3 sshd[1]: Accepted password for bob from 10.0.0.2 port 22 ssh2",
            "Dec 10 06:55:48 web-3 sshd[1]: Accepted password for carol from 10.0.0.3 port 22 ssh2",
            "Dec 10 06:55:49 web-3 CRON[2]: pam_unix(cron:session): session closed",
            "no header here",
        ];
        // Attribution reads parameters against each key's final template, after all lines.
        let ids: Vec<_> = lines.iter().map(|l| keys.key(l)).collect();
        let events: Vec<Event> = lines
            .iter()
            .zip(&ids)
            .map(|(l, id)| keys.describe(&keys.format().decode(l), keys.miner().canonical(*id)))
            .collect();
        let who: Vec<String> = events.iter().map(attribute).collect();
        assert_eq!(who[..3], ["alice", "bob", "carol"]);
        assert_eq!(who[3], "host:web-3");
        assert_eq!(who[4], "-");
        assert!(day(&events[0]).ends_with("-12-10"), "{}", day(&events[0]));
    }

    #[test]
    fn sessions_group_by_user_and_day() {
        let mut s = Sessions::default();
        let mut e = Event {
            host: Some("h".into()),
            ..Event::default()
        };
        s.push(&e, 1);
        s.push(&e, 2);
        e.host = Some("g".into());
        s.push(&e, 3);
        let all = s.into_sessions();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].1, [1, 2]);
    }
}
