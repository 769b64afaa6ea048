//! Generated Linux authentication logs: benign days of a small organisation, and optionally
//! injected insider-like events, labelled. The bundled model is trained on the benign output
//! (`models/README.md`), the demo scores the injected output.
//!
//! Each user works most weekdays: logs in over ssh (public key, now and then a mistyped
//! password first), holds one to three sessions (systemd-logind, PAM), and logs out; admins run
//! sudo (and now and then su); root's cron runs hourly and some users have their own cron jobs.
//! Scanners try invented user names from outside addresses. Lines are RFC 3164 syslog, in time
//! order, on one host.

use crate::model::SplitMix;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::io::{self, Write};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthConfig {
    /// Users (a fifth of them admins).
    pub users: usize,
    /// Days, from `start`.
    pub days: usize,
    /// Seed.
    pub seed: u64,
    /// Insider-like events to inject (0 for a benign baseline).
    pub inject: usize,
    /// The first day, as days since 1970-01-01.
    pub start_day: i64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            users: 40,
            days: 14,
            seed: 1,
            inject: 0,
            // 2025-11-02, a Sunday.
            start_day: 20_394,
        }
    }
}

/// One injected event: the 1-based line number and the user it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    /// Line number in the output.
    pub line: usize,
    /// The user.
    pub user: String,
    /// What was done.
    pub what: &'static str,
}

const HOST: &str = "srv-01";
const NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda",
];
const ADMIN_COMMANDS: &[&str] = &[
    "/usr/bin/systemctl restart nginx",
    "/usr/bin/apt update",
    "/usr/bin/apt upgrade -y",
    "/usr/bin/journalctl -u nginx --since today",
    "/usr/bin/systemctl status postgresql",
    "/usr/bin/tail -n 100 /var/log/syslog",
    "/usr/sbin/ufw status",
    "/usr/bin/docker ps",
];
const SCAN_NAMES: &[&str] = &[
    "admin", "test", "oracle", "ubuntu", "guest", "user", "postgres", "ftpuser", "pi", "git",
];

struct User {
    name: String,
    uid: u32,
    admin: bool,
    ip: String,
    cron: bool,
}

struct Line {
    at: DateTime<Utc>,
    seq: u64,
    text: String,
    label: Option<(String, &'static str)>,
}

struct Gen {
    rng: SplitMix,
    lines: Vec<Line>,
    pid: u32,
    session: u32,
    seq: u64,
}

impl Gen {
    fn pid(&mut self) -> u32 {
        self.pid = if self.pid > 60_000 { 1000 } else { self.pid };
        self.pid += 1 + self.rng.below(40) as u32;
        self.pid
    }

    fn port(&mut self) -> u32 {
        32_768 + self.rng.below(28_000) as u32
    }

    fn push(&mut self, at: DateTime<Utc>, app: &str, pid: u32, msg: String) {
        self.seq += 1;
        self.lines.push(Line {
            at,
            seq: self.seq,
            text: format!("{} {HOST} {app}[{pid}]: {msg}", at.format("%b %e %H:%M:%S")),
            label: None,
        });
    }

    fn label(&mut self, user: &str, what: &'static str) {
        if let Some(l) = self.lines.last_mut() {
            l.label = Some((user.to_string(), what));
        }
    }

    fn secs(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::seconds((lo + self.rng.below((hi - lo).max(1) as usize) as u64) as i64)
    }

    /// One ssh session of `u` starting at `t`; returns when it ended.
    fn session(&mut self, u: &User, mut t: DateTime<Utc>, sudo: usize) -> DateTime<Utc> {
        let pid = self.pid();
        let port = self.port();
        if self.rng.below(12) == 0 {
            self.push(
                t,
                "sshd",
                pid,
                format!(
                    "Failed password for {} from {} port {port} ssh2",
                    u.name, u.ip
                ),
            );
            t += self.secs(2, 8);
            self.push(
                t,
                "sshd",
                pid,
                format!(
                    "Accepted password for {} from {} port {port} ssh2",
                    u.name, u.ip
                ),
            );
        } else {
            let fp: String = (0..43)
                .map(|_| {
                    let c = self.rng.below(62);
                    (match c {
                        0..=9 => b'0' + c as u8,
                        10..=35 => b'a' + (c - 10) as u8,
                        _ => b'A' + (c - 36) as u8,
                    }) as char
                })
                .collect();
            self.push(
                t,
                "sshd",
                pid,
                format!(
                    "Accepted publickey for {} from {} port {port} ssh2: ED25519 SHA256:{fp}",
                    u.name, u.ip
                ),
            );
        }
        self.push(
            t,
            "sshd",
            pid,
            format!(
                "pam_unix(sshd:session): session opened for user {}(uid={}) by (uid=0)",
                u.name, u.uid
            ),
        );
        self.session += 1;
        let sid = self.session;
        self.push(
            t,
            "systemd-logind",
            612,
            format!("New session {sid} of user {}.", u.name),
        );
        for _ in 0..sudo {
            t += self.secs(60, 1800);
            self.sudo(u, t, None);
        }
        t += self.secs(300, 7200);
        self.push(
            t,
            "sshd",
            pid,
            format!(
                "Received disconnect from {} port {port}:11: disconnected by user",
                u.ip
            ),
        );
        self.push(
            t,
            "sshd",
            pid,
            format!("Disconnected from user {} {} port {port}", u.name, u.ip),
        );
        self.push(
            t,
            "sshd",
            pid,
            format!("pam_unix(sshd:session): session closed for user {}", u.name),
        );
        self.push(
            t,
            "systemd-logind",
            612,
            format!("Session {sid} logged out. Waiting for processes to exit."),
        );
        self.push(t, "systemd-logind", 612, format!("Removed session {sid}."));
        t
    }

    fn sudo(&mut self, u: &User, t: DateTime<Utc>, command: Option<&str>) {
        let pid = self.pid();
        let cmd = command.map_or_else(
            || ADMIN_COMMANDS[self.rng.below(ADMIN_COMMANDS.len())].to_string(),
            str::to_string,
        );
        let tty = self.rng.below(4);
        self.push(
            t,
            "sudo",
            pid,
            format!(
                "   {} : TTY=pts/{tty} ; PWD=/home/{} ; USER=root ; COMMAND={cmd}",
                u.name, u.name
            ),
        );
        self.push(
            t,
            "sudo",
            pid,
            format!(
                "pam_unix(sudo:session): session opened for user root(uid=0) by {}(uid={})",
                u.name, u.uid
            ),
        );
        let end = t + self.secs(1, 5);
        self.push(
            end,
            "sudo",
            pid,
            "pam_unix(sudo:session): session closed for user root".into(),
        );
    }

    /// `u` becomes root with `su -` on pts/`tty`: the two opening lines, both labelled when
    /// `label` is given; returns the pid.
    fn su(&mut self, u: &User, t: DateTime<Utc>, tty: u32, label: Option<&'static str>) -> u32 {
        let pid = self.pid();
        let lines = [
            format!("(to root) {} on pts/{tty}", u.name),
            format!(
                "pam_unix(su-l:session): session opened for user root(uid=0) by {}(uid={})",
                u.name, u.uid
            ),
        ];
        for line in lines {
            self.push(t, "su", pid, line);
            if let Some(what) = label {
                self.label(&u.name, what);
            }
        }
        pid
    }

    fn cron(&mut self, user: &str, uid: u32, t: DateTime<Utc>, cmd: &str) {
        let pid = self.pid();
        self.push(
            t,
            "CRON",
            pid,
            format!("pam_unix(cron:session): session opened for user {user}(uid={uid}) by (uid=0)"),
        );
        self.push(t, "CRON", pid, format!("({user}) CMD ({cmd})"));
        let end = t + self.secs(1, 30);
        self.push(
            end,
            "CRON",
            pid,
            format!("pam_unix(cron:session): session closed for user {user}"),
        );
    }

    fn scan(&mut self, t: DateTime<Utc>) {
        let pid = self.pid();
        let port = self.port();
        let ip = format!(
            "{}.{}.{}.{}",
            45 + self.rng.below(150),
            self.rng.below(256),
            self.rng.below(256),
            1 + self.rng.below(254)
        );
        let name = SCAN_NAMES[self.rng.below(SCAN_NAMES.len())];
        self.push(
            t,
            "sshd",
            pid,
            format!("Invalid user {name} from {ip} port {port}"),
        );
        self.push(
            t + Duration::seconds(2),
            "sshd",
            pid,
            format!("Failed password for invalid user {name} from {ip} port {port} ssh2"),
        );
        self.push(
            t + Duration::seconds(3),
            "sshd",
            pid,
            format!("Connection closed by invalid user {name} {ip} port {port} [preauth]"),
        );
    }
}

/// Writes the logs to `out`; returns the injected events.
pub fn auth_logs(cfg: &SynthConfig, out: &mut impl Write) -> io::Result<Vec<Injected>> {
    let mut g = Gen {
        rng: SplitMix::new(cfg.seed),
        lines: Vec::new(),
        pid: 1000,
        session: 0,
        seq: 0,
    };
    let users: Vec<User> = (0..cfg.users.max(1))
        .map(|i| {
            let base = NAMES[i % NAMES.len()];
            User {
                name: if i < NAMES.len() {
                    base.to_string()
                } else {
                    format!("{base}{}", i / NAMES.len())
                },
                uid: 1000 + i as u32,
                admin: i % 5 == 0,
                ip: format!("10.{}.{}.{}", 1 + i / 250, i % 250, 10 + i % 200),
                cron: i % 3 == 0,
            }
        })
        .collect();
    let day0 = Utc
        .timestamp_opt(cfg.start_day * 86_400, 0)
        .single()
        .unwrap_or_else(Utc::now);
    for d in 0..cfg.days {
        let midnight = day0 + Duration::days(d as i64);
        let weekday = (cfg.start_day + d as i64 + 3).rem_euclid(7) < 5;
        for h in 0..24 {
            let t = midnight + Duration::hours(h) + Duration::minutes(17);
            g.cron("root", 0, t, "cd / && run-parts --report /etc/cron.hourly");
        }
        for u in &users {
            if u.cron {
                let t = midnight + Duration::hours(2) + g.secs(0, 600);
                g.cron(&u.name, u.uid, t, "/home/backup/bin/sync.sh");
            }
            if !weekday || g.rng.below(10) == 0 {
                continue;
            }
            let mut t = midnight + Duration::hours(8) + g.secs(0, 7200);
            for _ in 0..1 + g.rng.below(3) {
                let sudo = if u.admin { g.rng.below(4) } else { 0 };
                t = g.session(u, t, sudo) + g.secs(600, 5400);
                if u.admin && g.rng.below(15) == 0 {
                    let pid = g.su(u, t, 1, None);
                    let end = t + g.secs(30, 600);
                    g.push(
                        end,
                        "su",
                        pid,
                        "pam_unix(su-l:session): session closed for user root".into(),
                    );
                }
            }
        }
        for _ in 0..g.rng.below(6) {
            let t = midnight + g.secs(0, 86_000);
            g.scan(t);
        }
    }
    // Insider-like events, spread over the period.
    let what: [&'static str; 4] = [
        "sudo refused for a user who never uses sudo",
        "password guessing against a colleague's account, then success",
        "a new account created at night",
        "root shell by a user who never switches user",
    ];
    for k in 0..cfg.inject {
        let u = &users[g.rng.below(users.len())];
        let day = midnight_of(day0, g.rng.below(cfg.days.max(1)));
        let t = day + Duration::hours(2) + g.secs(0, 3000);
        let kind = k % what.len();
        match kind {
            0 => {
                let pid = g.pid();
                g.push(
                    t,
                    "sudo",
                    pid,
                    format!(
                        "   {} : user NOT in sudoers ; TTY=pts/0 ; PWD=/home/{} ; USER=root ; COMMAND=/bin/cat /etc/shadow",
                        u.name, u.name
                    ),
                );
                g.label(&u.name, what[kind]);
            }
            1 => {
                let pid = g.pid();
                let port = g.port();
                let ip = format!("10.{}.{}.{}", 200, g.rng.below(250), 5);
                for i in 0..6 {
                    g.push(
                        t + Duration::seconds(i * 3),
                        "sshd",
                        pid,
                        format!("Failed password for {} from {ip} port {port} ssh2", u.name),
                    );
                    g.label(&u.name, what[kind]);
                }
                g.push(
                    t + Duration::seconds(20),
                    "sshd",
                    pid,
                    format!(
                        "Accepted password for {} from {ip} port {port} ssh2",
                        u.name
                    ),
                );
                g.label(&u.name, what[kind]);
            }
            2 => {
                let pid = g.pid();
                let name = format!("svc{}", g.rng.below(1000));
                g.push(
                    t,
                    "useradd",
                    pid,
                    format!(
                        "new user: name={name}, UID={}, GID={}, home=/home/{name}, shell=/bin/bash, from=/dev/pts/0",
                        2000 + k,
                        2000 + k
                    ),
                );
                g.label(&name, what[kind]);
            }
            _ => {
                g.su(u, t, 2, Some(what[kind]));
            }
        }
    }
    g.lines.sort_by_key(|l| (l.at, l.seq));
    let mut injected = Vec::new();
    for (n, l) in g.lines.iter().enumerate() {
        out.write_all(l.text.as_bytes())?;
        out.write_all(b"\n")?;
        if let Some((user, what)) = &l.label {
            injected.push(Injected {
                line: n + 1,
                user: user.clone(),
                what,
            });
        }
    }
    Ok(injected)
}

fn midnight_of(day0: DateTime<Utc>, d: usize) -> DateTime<Utc> {
    day0 + Duration::days(d as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_deterministic_ordered_syslog_with_labels() {
        let cfg = SynthConfig {
            users: 6,
            days: 3,
            inject: 4,
            ..SynthConfig::default()
        };
        let mut a = Vec::new();
        let inj = auth_logs(&cfg, &mut a).unwrap();
        let mut b = Vec::new();
        auth_logs(&cfg, &mut b).unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 100, "{}", lines.len());
        assert!(lines.iter().all(|l| l.contains(" srv-01 ")));
        assert!(inj.len() >= 4);
        for i in &inj {
            assert!(
                lines[i.line - 1].contains(&i.user) || i.what.contains("account"),
                "{i:?}"
            );
        }
        assert!(text.contains("sudo["));
        assert!(text.contains("CRON["));
    }
}
