//! Users: which stream an event belongs to, and each user's bounded state.
//!
//! Takes keyed events (from `keys`), gives for each the user it is attributed to and the session
//! (user × day) it falls in. Attribution tries, in order: a user the source gave (HTTP `user`),
//! the rules ([`rules`]: user-defined regexes, then built-in ones for sshd, sudo, su, login,
//! systemd-logind, cron and account tools), the first parameter the keys stage typed as a user,
//! and otherwise the host's stream (`host:web-3`), or `-` when the line had no host.
//! [`windows`] keeps per-user state bounded (`max_users`, least recently seen evicted, idle
//! expiry) and snapshots it.

pub mod rules;
pub mod windows;

use crate::event::{Event, ParamKind};
use crate::keys::KeyId;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// `[users]`: attribution and the per-user windows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersConfig {
    /// The most users (and host streams) tracked at once; the least recently seen is dropped.
    #[serde(default = "default_max_users")]
    pub max_users: usize,
    /// A user not seen for this many seconds is dropped (their next event starts afresh).
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    /// Use the built-in rules (sshd, sudo, su, login, systemd-logind, cron, account tools).
    #[serde(default = "default_true")]
    pub builtin_rules: bool,
    /// Also score the streams of events no user could be found for (`host:NAME`). Off by
    /// default: insider threats are about users, and a host's daemons would flood the model with
    /// keys it was not trained on.
    #[serde(default)]
    pub score_host_streams: bool,
    /// Own rules, tried before the built-in ones.
    #[serde(default)]
    pub rules: Vec<rules::UserRule>,
}

fn default_max_users() -> usize {
    100_000
}

fn default_idle_timeout_secs() -> u64 {
    86_400
}

fn default_true() -> bool {
    true
}

impl Default for UsersConfig {
    fn default() -> Self {
        Self {
            max_users: default_max_users(),
            idle_timeout_secs: default_idle_timeout_secs(),
            builtin_rules: true,
            score_host_streams: false,
            rules: Vec::new(),
        }
    }
}

impl UsersConfig {
    /// Checks the bounds and compiles the rules.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.max_users == 0 {
            return Err(("max_users".into(), "expected at least 1".into()));
        }
        if self.idle_timeout_secs == 0 {
            return Err(("idle_timeout_secs".into(), "expected at least 1".into()));
        }
        for (i, r) in self.rules.iter().enumerate() {
            rules::compile(i, &r.regex).map_err(|e| (format!("rules[{i}].regex"), e.reason))?;
        }
        Ok(())
    }
}

/// Attribution as the agent and `dante train --logs` do it.
#[derive(Debug, Clone)]
pub struct Attributor {
    rules: rules::Rules,
}

impl Attributor {
    /// The rules of `cfg`.
    pub fn new(cfg: &UsersConfig) -> Result<Self, rules::RuleError> {
        Ok(Self {
            rules: rules::Rules::new(&cfg.rules, cfg.builtin_rules)?,
        })
    }

    /// True when a rule is restricted to a template, so [`Self::user`] needs it.
    pub fn needs_template(&self) -> bool {
        self.rules.needs_template()
    }

    /// The stream `event` belongs to (`template`: its key's template, for per-template rules).
    pub fn user(&mut self, event: &Event, template: Option<&str>) -> String {
        self.user_ref(event, template).into_owned()
    }

    /// [`Self::user`], borrowed from the event where it can be: the agent's path, which would
    /// otherwise copy a name per event.
    pub fn user_ref<'e>(&mut self, event: &'e Event, template: Option<&str>) -> Cow<'e, str> {
        if let Some(u) = &event.user {
            return Cow::Borrowed(u);
        }
        if let Some(u) = self.rules.user_in(event, template) {
            return Cow::Borrowed(u);
        }
        Cow::Owned(attribute(event))
    }
}

/// The stream of an event no rule matched: the first parameter typed as a user, else
/// `host:NAME`, else `-`.
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
    /// Adds `key` to the session of `user` on the day of `event`; returns the seconds since the
    /// same user's previous event, when both have a time.
    pub fn push(&mut self, user: String, event: &Event, key: KeyId) -> Option<f64> {
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
        s.push(attribute(&e), &e, 1);
        s.push(attribute(&e), &e, 2);
        e.host = Some("g".into());
        s.push(attribute(&e), &e, 3);
        let all = s.into_sessions();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].1, [1, 2]);
    }
}
