//! Attribution rules: regexes with a named `user` group, tried on the message.
//!
//! Built-in rules name the actor of common Linux authentication and session logs: for `sudo` the
//! user who ran it (not `root`), for `su` the user who switched (`by alice`), for sshd the account
//! logged into or tried. User-defined rules come first and may be restricted to one template.
//! Rules depend on a message's constant words, so which rule fits is remembered per key and the
//! others are not tried again for that key.

use crate::event::Event;
use crate::keys::KeyId;
use regex::{CaptureLocations, Regex};
use rustc_hash::FxHashMap;
use serde::Deserialize;

/// A user-defined rule (`[[users.rules]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRule {
    /// A regex with a named group `user`, searched in the message (without its header).
    pub regex: String,
    /// Only for events of this template (as `dante parse` prints it); any template when absent.
    #[serde(default)]
    pub template: Option<String>,
}

/// Built-in rules: (program name prefix or empty for any, regex).
const BUILTIN: &[(&str, &str)] = &[
    // sudo: `alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls`
    ("sudo", r"^\s*(?P<user>[^\s:]+) : "),
    ("sudo", r"^pam_unix\(sudo:\w+\): .*\bby (?P<user>[^\s(]+)\("),
    // su: `(to root) alice on pts/0`, `pam_unix(su:session): session opened for user root by alice(uid=1000)`
    ("su", r"^\(to \S+\) (?P<user>\S+) on "),
    ("su", r"\bby (?P<user>[^\s(]+)\(uid="),
    ("su", r"^FAILED (?:su|SU) \(to \S+\) (?P<user>\S+) on "),
    // sshd
    (
        "sshd",
        r"^(?:Accepted|Failed|Postponed) \S+ for (?:invalid user )?(?P<user>\S+) from ",
    ),
    ("sshd", r"^Invalid user (?P<user>\S+) from "),
    (
        "sshd",
        r"^(?:Connection closed|Disconnected) (?:by|from) (?:invalid |authenticating )?user (?P<user>\S+) ",
    ),
    ("sshd", r"^User (?P<user>\S+) from \S+ not allowed"),
    // systemd-logind: `New session 12 of user alice.`
    (
        "systemd-logind",
        r"^New session \S+ of user (?P<user>[^\s.]+)",
    ),
    (
        "systemd-logind",
        r"^Removed session \S+ of user (?P<user>[^\s.]+)",
    ),
    // cron: `(alice) CMD (backup.sh)`
    (
        "cron",
        r"^\((?P<user>[^)\s]+)\) (?:CMD|RELOAD|LIST|REPLACE|BEGIN EDIT|END EDIT|DELETE) ",
    ),
    (
        "crond",
        r"^\((?P<user>[^)\s]+)\) (?:CMD|RELOAD|LIST|REPLACE|BEGIN EDIT|END EDIT|DELETE) ",
    ),
    // login
    (
        "login",
        r"^(?:FAILED LOGIN \(\d+\) on '\S+' FOR|ROOT LOGIN|LOGIN ON \S+ BY) '?(?P<user>[^\s',]+)",
    ),
    // account management: useradd, usermod, userdel, passwd, chpasswd, groupadd
    ("useradd", r"\bname=(?P<user>[^\s,]+)"),
    (
        "usermod",
        r"\b(?:change user|add|delete) '?(?P<user>[^\s',]+)'?",
    ),
    (
        "userdel",
        r"\b(?:delete user|removed \S+ for user|remove user) '?(?P<user>[^\s',]+)'?",
    ),
    ("passwd", r"\bpassword changed for (?P<user>\S+)"),
    ("chpasswd", r"\bpassword changed for (?P<user>\S+)"),
    // PAM in any program: `session opened for user alice(uid=1000) by (uid=0)`
    (
        "",
        r"\bsession (?:opened|closed) for user (?P<user>[^\s(]+)",
    ),
    ("", r"\bauthentication failure;.*\buser=(?P<user>\S+)"),
];

/// One compiled rule.
#[derive(Debug, Clone)]
struct Rule {
    app: Option<String>,
    template: Option<String>,
    re: Regex,
    /// The index of the `user` group.
    user: usize,
    /// Reused by every search, so that a match allocates nothing.
    locs: CaptureLocations,
}

impl Rule {
    fn new(app: Option<String>, template: Option<String>, re: Regex) -> Self {
        let user = re
            .capture_names()
            .position(|n| n == Some("user"))
            .unwrap_or(0);
        Self {
            app,
            template,
            locs: re.capture_locations(),
            user,
            re,
        }
    }
}

/// Compiled rules and what each key matched.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    /// Per key: the rule that matched it, or `None` when none did.
    by_key: FxHashMap<KeyId, Option<u32>>,
    /// Some rule is restricted to a template.
    per_template: bool,
}

/// A user-defined rule that does not compile: its index and why.
#[derive(Debug, thiserror::Error)]
#[error("rules[{index}].regex: {reason}")]
pub struct RuleError {
    /// Its position in `[[users.rules]]`.
    pub index: usize,
    /// Why.
    pub reason: String,
}

/// Compiles a rule's regex and checks its `user` group.
pub fn compile(index: usize, regex: &str) -> Result<Regex, RuleError> {
    let re = Regex::new(regex).map_err(|e| RuleError {
        index,
        reason: e.to_string(),
    })?;
    if !re.capture_names().flatten().any(|n| n == "user") {
        return Err(RuleError {
            index,
            reason: "expected a named group `(?P<user>...)`".into(),
        });
    }
    Ok(re)
}

/// The most keys whose rule is remembered; beyond it the memory starts over.
const MAX_REMEMBERED: usize = 1 << 16;

impl Rules {
    /// The user-defined rules, then the built-in ones when `builtin`.
    pub fn new(custom: &[UserRule], builtin: bool) -> Result<Self, RuleError> {
        let mut rules = Vec::new();
        for (i, r) in custom.iter().enumerate() {
            rules.push(Rule::new(None, r.template.clone(), compile(i, &r.regex)?));
        }
        if builtin {
            for (app, re) in BUILTIN {
                // Built-in patterns are constants, checked by a test.
                let re = Regex::new(re).map_err(|e| RuleError {
                    index: usize::MAX,
                    reason: e.to_string(),
                })?;
                rules.push(Rule::new(
                    (!app.is_empty()).then(|| app.to_string()),
                    None,
                    re,
                ));
            }
        }
        Ok(Self {
            per_template: rules.iter().any(|r| r.template.is_some()),
            rules,
            by_key: FxHashMap::default(),
        })
    }

    /// True when some rule is restricted to a template.
    pub fn needs_template(&self) -> bool {
        self.per_template
    }

    /// The user a rule finds in `event` (keyed, with `template` its key's template).
    pub fn user(&mut self, event: &Event, template: Option<&str>) -> Option<String> {
        self.user_in(event, template).map(str::to_string)
    }

    /// [`Self::user`] as a slice of the event's message, without allocating.
    pub fn user_in<'e>(&mut self, event: &'e Event, template: Option<&str>) -> Option<&'e str> {
        if self.rules.is_empty() {
            return None;
        }
        if let Some(known) = self.by_key.get(&event.key) {
            match known {
                None => return None,
                Some(i) => {
                    if let Some(u) = self.try_rule(*i as usize, event, template) {
                        return Some(u);
                    }
                }
            }
        }
        let found =
            (0..self.rules.len()).find_map(|i| Some((i, self.try_rule(i, event, template)?)));
        if self.by_key.len() >= MAX_REMEMBERED {
            self.by_key.clear();
        }
        self.by_key
            .insert(event.key, found.as_ref().map(|(i, _)| *i as u32));
        found.map(|(_, u)| u)
    }

    fn try_rule<'e>(
        &mut self,
        i: usize,
        event: &'e Event,
        template: Option<&str>,
    ) -> Option<&'e str> {
        let rule = &mut self.rules[i];
        // A program's name may carry a suffix (`sshd-session`, `CRON`). An event without one
        // (HTTP input gives only the message) is tried against every rule: their patterns are
        // specific enough. (Compared in place: lowercasing a copy cost an allocation per event.)
        if let (Some(app), Some(prog)) = (&rule.app, event.app.as_deref()) {
            let head = prog.as_bytes().get(..app.len());
            if !head.is_some_and(|h| h.eq_ignore_ascii_case(app.as_bytes())) {
                return None;
            }
        }
        if let Some(t) = &rule.template {
            if template != Some(t.as_str()) {
                return None;
            }
        }
        rule.re.captures_read(&mut rule.locs, &event.message)?;
        let (start, end) = rule.locs.get(rule.user)?;
        (start < end).then(|| &event.message[start..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(app: &str, message: &str, key: KeyId) -> Event {
        Event {
            app: Some(app.into()),
            message: message.into(),
            key,
            ..Event::default()
        }
    }

    #[test]
    fn builtin_rules_name_the_actor() {
        let mut r = Rules::new(&[], true).unwrap();
        let cases = [
            (
                "sudo",
                "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/cat /etc/shadow",
                "alice",
            ),
            (
                "sudo",
                "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
                "alice",
            ),
            ("su", "(to root) bob on pts/1", "bob"),
            (
                "su",
                "pam_unix(su-l:session): session opened for user root(uid=0) by bob(uid=1001)",
                "bob",
            ),
            (
                "sshd",
                "Accepted publickey for carol from 10.0.0.5 port 50122 ssh2: RSA SHA256:x",
                "carol",
            ),
            (
                "sshd",
                "Failed password for invalid user admin from 10.0.0.9 port 22 ssh2",
                "admin",
            ),
            (
                "sshd",
                "Invalid user oracle from 10.0.0.9 port 4242",
                "oracle",
            ),
            (
                "sshd",
                "pam_unix(sshd:session): session opened for user dave(uid=1002) by (uid=0)",
                "dave",
            ),
            ("systemd-logind", "New session 42 of user erin.", "erin"),
            ("CRON", "(root) CMD (run-parts /etc/cron.hourly)", "root"),
            (
                "CRON",
                "pam_unix(cron:session): session opened for user frank(uid=1003) by (uid=0)",
                "frank",
            ),
            (
                "useradd",
                "new user: name=mallory, UID=1005, GID=1005, home=/home/mallory, shell=/bin/bash",
                "mallory",
            ),
            (
                "passwd",
                "pam_unix(passwd:chauthtok): password changed for grace",
                "grace",
            ),
            (
                "login",
                "FAILED LOGIN (1) on '/dev/tty1' FOR 'heidi', Authentication failure",
                "heidi",
            ),
        ];
        for (n, (app, msg, user)) in cases.iter().enumerate() {
            assert_eq!(
                r.user(&ev(app, msg, n as KeyId), None).as_deref(),
                Some(*user),
                "{app}: {msg}"
            );
        }
        assert_eq!(r.user(&ev("kernel", "eth0: link up", 100), None), None);
        // Remembered per key: the same key, another user.
        assert_eq!(
            r.user(
                &ev("sshd", "Invalid user test from 10.0.0.1 port 1", 2),
                None
            )
            .as_deref(),
            Some("test")
        );
    }

    #[test]
    fn program_names_match_by_prefix_in_any_case() {
        // The in-place comparison relies on the built-in names being lowercase.
        assert!(
            BUILTIN
                .iter()
                .all(|(app, _)| !app.bytes().any(|c| c.is_ascii_uppercase()))
        );
        let mut r = Rules::new(&[], true).unwrap();
        let msg = "Invalid user oracle from 10.0.0.9 port 4242";
        for (n, app) in ["sshd", "SSHD", "sshd-session", "Sshd[x]"]
            .iter()
            .enumerate()
        {
            assert_eq!(
                r.user(&ev(app, msg, n as KeyId), None).as_deref(),
                Some("oracle")
            );
        }
        for (n, app) in ["ssh", "xsshd", "", "é"].iter().enumerate() {
            assert_eq!(r.user(&ev(app, msg, 10 + n as KeyId), None), None, "{app}");
        }
    }

    #[test]
    fn custom_rules_come_first_and_may_be_per_template() {
        let custom = [
            UserRule {
                regex: r"^op=(?P<user>\w+)".into(),
                template: None,
            },
            UserRule {
                regex: r"for (?P<user>\w+)".into(),
                template: Some("vpn login for <*>".into()),
            },
        ];
        let mut r = Rules::new(&custom, false).unwrap();
        assert_eq!(
            r.user(&ev("app", "op=ivan did x", 1), None).as_deref(),
            Some("ivan")
        );
        assert_eq!(
            r.user(
                &ev("vpn", "vpn login for judy", 2),
                Some("vpn login for <*>")
            )
            .as_deref(),
            Some("judy")
        );
        assert_eq!(
            r.user(&ev("vpn", "vpn login for judy", 3), Some("other")),
            None
        );
        assert!(
            Rules::new(
                &[UserRule {
                    regex: "(no group)".into(),
                    template: None
                }],
                false
            )
            .is_err()
        );
        assert!(
            Rules::new(
                &[UserRule {
                    regex: "(?P<user>".into(),
                    template: None
                }],
                false
            )
            .is_err()
        );
    }
}
