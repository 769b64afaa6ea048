//! Header decoding: finding the message inside a log line before it is mined.
//!
//! Formats (`--format`, `[sources.<id>] format`):
//!
//! - `auto` (default): a line that looks like syslog (`<PRI>`, RFC 5424, or a BSD timestamp as in
//!   `/var/log/auth.log`) is decoded with syslog_loose; any other line is mined whole.
//! - `syslog`: every line through syslog_loose (RFC 3164 with or without `<PRI>`, RFC 5424).
//! - `raw`: the whole line is the message.
//! - `loghub:<fmt>` or any text with `<Content>` in it: the Loghub header syntax,
//!   `<Date> <Time> <Level> <Component>: <Content>`. Each `<Field>` matches lazily, a run of
//!   literal spaces matches one or more spaces, the rest is a regex fragment (`\[` and `(...)?` work
//!   as in the Loghub settings), and the whole line is anchored.
//! - `regex:<re>`: a regex with a named group `message` (or `content`); optional groups `host`,
//!   `app`, `pid`, `user`, `timestamp`.
//!
//! A line that does not match its format is mined whole and flagged `matched = false`; it is never
//! dropped.

use super::token::is_month;
use chrono::{DateTime, Datelike, FixedOffset, Local, TimeZone, Utc};
use regex::Regex;
use std::fmt;
use std::str::FromStr;

/// Why a format string was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The regex (given or built from a Loghub format) does not compile.
    #[error("invalid format regex: {0}")]
    Regex(#[from] regex::Error),
    /// The format names no message field.
    #[error(
        "format has no message field: a Loghub format needs <Content>, a regex needs (?P<message>...)"
    )]
    NoMessage,
}

/// How to find the message in a line.
#[derive(Debug, Clone)]
pub enum Format {
    /// Syslog when the line looks like it, otherwise the whole line.
    Auto,
    /// Always syslog.
    Syslog,
    /// The whole line.
    Raw,
    /// A regex with named groups, built from a Loghub format or given directly.
    Fields(FieldFormat),
}

/// A compiled field format and the group indexes it uses.
#[derive(Debug, Clone)]
pub struct FieldFormat {
    spec: String,
    re: Regex,
    message: usize,
    host: Option<usize>,
    app: Option<usize>,
    pid: Option<usize>,
    user: Option<usize>,
}

impl FieldFormat {
    fn new(spec: String, re: Regex) -> Result<Self, FormatError> {
        let find = |names: &[&str]| {
            re.capture_names().enumerate().find_map(|(i, n)| {
                n.filter(|n| names.iter().any(|w| n.eq_ignore_ascii_case(w)))
                    .map(|_| i)
            })
        };
        Ok(Self {
            message: find(&["message", "content", "msg"]).ok_or(FormatError::NoMessage)?,
            host: find(&["host", "hostname", "node"]),
            app: find(&["app", "appname", "program", "component"]),
            pid: find(&["pid", "procid"]),
            user: find(&["user"]),
            spec,
            re,
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Auto => f.write_str("auto"),
            Format::Syslog => f.write_str("syslog"),
            Format::Raw => f.write_str("raw"),
            Format::Fields(ff) => f.write_str(&ff.spec),
        }
    }
}

impl FromStr for Format {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" | "" => Ok(Format::Auto),
            "syslog" => Ok(Format::Syslog),
            "raw" | "none" => Ok(Format::Raw),
            _ => {
                if let Some(re) = s.strip_prefix("regex:") {
                    Format::regex(re)
                } else {
                    Format::loghub(s.strip_prefix("loghub:").unwrap_or(s))
                }
            }
        }
    }
}

impl Format {
    /// A format from the Loghub header syntax.
    pub fn loghub(fmt: &str) -> Result<Self, FormatError> {
        let re = loghub_regex(fmt)?;
        Ok(Format::Fields(FieldFormat::new(
            format!("loghub:{fmt}"),
            re,
        )?))
    }

    /// A format from a regex with a named `message` group.
    pub fn regex(re: &str) -> Result<Self, FormatError> {
        Ok(Format::Fields(FieldFormat::new(
            format!("regex:{re}"),
            Regex::new(re)?,
        )?))
    }

    /// Only the message of `line` and whether the line matched its format: what keying needs.
    /// The same message as [`Format::decode`] gives, found faster for plain BSD syslog lines.
    pub fn message<'a>(&self, line: &'a str) -> (&'a str, bool) {
        let d = self.decode(line);
        (d.message, d.matched)
    }

    /// Decodes `line` into its header fields and message.
    pub fn decode<'a>(&self, line: &'a str) -> Decoded<'a> {
        match self {
            Format::Raw => Decoded::whole(line, true),
            // Plain BSD lines (`/var/log/auth.log`) skip syslog_loose: the same fields, found at
            // a small fraction of its cost (a property test holds the two together).
            Format::Auto | Format::Syslog if let Some(d) = decode_bsd(line) => d,
            Format::Syslog => decode_syslog(line).unwrap_or_else(|| Decoded::whole(line, false)),
            Format::Auto => {
                if looks_like_syslog(line.as_bytes()) {
                    decode_syslog(line).unwrap_or_else(|| Decoded::whole(line, true))
                } else {
                    Decoded::whole(line, true)
                }
            }
            Format::Fields(ff) => match ff.re.captures(line) {
                Some(caps) => {
                    let get = |i: Option<usize>| i.and_then(|i| caps.get(i)).map(|m| m.as_str());
                    Decoded {
                        message: get(Some(ff.message)).unwrap_or(""),
                        host: get(ff.host),
                        app: get(ff.app),
                        pid: get(ff.pid),
                        user: get(ff.user),
                        timestamp: None,
                        matched: true,
                    }
                }
                None => Decoded::whole(line, false),
            },
        }
    }
}

/// What the header of one line says.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<'a> {
    /// The message to mine.
    pub message: &'a str,
    /// The host that wrote the line.
    pub host: Option<&'a str>,
    /// The program (syslog tag, Loghub `Component`).
    pub app: Option<&'a str>,
    /// The process id.
    pub pid: Option<&'a str>,
    /// A user named by the header (regex formats only).
    pub user: Option<&'a str>,
    /// When the line was written, when the header says.
    pub timestamp: Option<DateTime<FixedOffset>>,
    /// False when the line did not match its format and is mined whole.
    pub matched: bool,
}

impl<'a> Decoded<'a> {
    fn whole(line: &'a str, matched: bool) -> Self {
        Decoded {
            message: line,
            host: None,
            app: None,
            pid: None,
            user: None,
            timestamp: None,
            matched,
        }
    }
}

/// Turns a Loghub header format into an anchored regex with one named group per field.
fn loghub_regex(fmt: &str) -> Result<Regex, FormatError> {
    let mut re = String::from("^");
    let mut rest = fmt;
    let mut content = false;
    while !rest.is_empty() {
        match field_at(rest) {
            Some((name, len)) => {
                content |= name == "Content";
                // Field names become group names; anything a group name cannot hold is replaced.
                let group: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '_' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                re.push_str(&format!("(?P<{group}>.*?)"));
                rest = &rest[len..];
            }
            None => {
                let next = rest[1..].find('<').map_or(rest.len(), |i| i + 1);
                let literal = &rest[..next];
                let mut spaces = false;
                for ch in literal.chars() {
                    if ch == ' ' {
                        if !spaces {
                            re.push_str(r"\s+");
                        }
                        spaces = true;
                    } else {
                        spaces = false;
                        re.push(ch);
                    }
                }
                rest = &rest[next..];
            }
        }
    }
    re.push('$');
    if !content {
        return Err(FormatError::NoMessage);
    }
    Ok(Regex::new(&re)?)
}

/// A `<Name>` at the start of `s`: the name and the length taken.
fn field_at(s: &str) -> Option<(&str, usize)> {
    let inner = s.strip_prefix('<')?;
    let end = inner.find('>')?;
    let name = &inner[..end];
    (!name.is_empty() && !name.contains(['<', ' '])).then_some((name, end + 2))
}

/// The header of the commonest syslog line, `Mmm dd hh:mm:ss host tag[pid]: message` (or
/// `tag: message`), decoded without the full parser. Anything less plain gives `None` and goes
/// through syslog_loose; where this answers, syslog_loose gives the same fields (a property test
/// holds the two together).
fn decode_bsd(line: &str) -> Option<Decoded<'_>> {
    let b = line.as_bytes();
    if !looks_like_syslog(b) || b[0] == b'<' {
        return None;
    }
    // `Mmm dd hh:mm:ss ` is 16 bytes; looks_like_syslog checked up to the first `:`.
    let time = &b[7..15];
    let time_ok = time[2] == b':'
        && time[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| time[i].is_ascii_digit());
    if !time_ok || b[15] != b' ' {
        return None;
    }
    // One pass over bytes (this runs for every line): `host tag[pid]: ` where the host is
    // `[A-Za-z0-9._-]+`, the tag `[A-Za-z0-9._/()-]+` and the pid digits.
    let run = |from: usize, ok: fn(u8) -> bool| {
        from + b[from..]
            .iter()
            .position(|&c| !ok(c))
            .unwrap_or(b.len() - from)
    };
    let host_end = run(16, |c| {
        c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_')
    });
    let host = &line[16..host_end];
    if host.is_empty() || host == "-" || b.get(host_end) != Some(&b' ') {
        return None;
    }
    let name_end = run(host_end + 1, |c| {
        c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'/' | b'(' | b')')
    });
    let name = &line[host_end + 1..name_end];
    if name.is_empty() || name == "-" {
        return None;
    }
    let (pid, tag_end) = if b.get(name_end) == Some(&b'[') {
        let pid_end = run(name_end + 1, |c| c.is_ascii_digit());
        if b.get(pid_end) != Some(&b']') {
            return None;
        }
        (Some(&line[name_end + 1..pid_end]), pid_end + 1)
    } else {
        (None, name_end)
    };
    if b.get(tag_end..tag_end + 2) != Some(b": ") {
        return None;
    }
    let msg = &line[tag_end + 2..];
    // syslog_loose reads the pid as an i32 and we print it back: only plain numbers (no leading
    // zero, at most 9 digits) come out as they went in.
    let pid_ok =
        pid.is_none_or(|p| (1..=9).contains(&p.len()) && (p == "0" || !p.starts_with('0')));
    // syslog_loose reads a leading `[` or `-` as structured data and skips leading spaces.
    let msg_ok = msg
        .bytes()
        .next()
        .is_some_and(|c| c != b'[' && c != b'-' && !c.is_ascii_whitespace());
    if !(pid_ok && msg_ok) {
        return None;
    }
    // Every byte read as a digit here was checked to be one.
    let digit = |i: usize| u32::from(b[i] - b'0');
    let two = |i: usize| digit(i) * 10 + digit(i + 1);
    // A space-padded day (`Jun  4`) reads as its one digit.
    let day = if b[4] == b' ' { digit(5) } else { two(4) };
    let month = month_number(&b[..3])?;
    // An impossible date or a local time that does not exist makes syslog_loose give up on the
    // header: leave those lines to it.
    let timestamp = bsd_timestamp((month, day, two(7), two(10), two(13)))?;
    Some(Decoded {
        message: msg.trim_end(),
        host: Some(host),
        app: Some(name),
        pid,
        user: None,
        timestamp: Some(timestamp),
        matched: true,
    })
}

/// `Jan` → 1 … `Dec` → 12, for the months [`is_month`] accepts.
fn month_number(m: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    MONTHS
        .iter()
        .position(|&x| x == m)
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// The year of a date written without one: this year, or last year for a month still to come
/// (a December line read in January belongs to last year), so that no timestamp lands in the
/// future.
fn year_of(month: u32) -> i32 {
    let now = Utc::now();
    if month > now.month() {
        now.year() - 1
    } else {
        now.year()
    }
}

/// A yearless BSD timestamp in local time, exactly as syslog_loose makes it.
fn bsd_timestamp(
    (month, day, hour, min, sec): syslog_loose::IncompleteDate,
) -> Option<DateTime<FixedOffset>> {
    Local
        .with_ymd_and_hms(year_of(month), month, day, hour, min, sec)
        .earliest()
        .map(Into::into)
}

/// A cheap test before the full syslog parser: `<PRI>`, or a BSD `Mmm dd hh:mm:ss` timestamp.
pub fn looks_like_syslog(b: &[u8]) -> bool {
    if let Some(rest) = b.strip_prefix(b"<") {
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        return (1..=3).contains(&digits) && rest.get(digits) == Some(&b'>');
    }
    b.len() >= 16
        && is_month(&b[..3])
        && b[3] == b' '
        && (b[4] == b' ' || b[4].is_ascii_digit())
        && b[5].is_ascii_digit()
        && b[6] == b' '
        && b[7].is_ascii_digit()
        && b[8].is_ascii_digit()
        && b[9] == b':'
}

fn decode_syslog(line: &str) -> Option<Decoded<'_>> {
    // A line that opens with a BSD timestamp cannot be RFC 5424: skip trying it first.
    let variant = if line.as_bytes().first().is_some_and(u8::is_ascii_uppercase) {
        syslog_loose::Variant::RFC3164
    } else {
        syslog_loose::Variant::Either
    };
    let msg = syslog_loose::parse_message_with_year(line, |(m, ..)| year_of(m), variant);
    if msg.timestamp.is_none() && msg.hostname.is_none() && msg.appname.is_none() {
        return None;
    }
    Some(Decoded {
        message: msg.msg,
        host: msg.hostname,
        app: msg.appname,
        pid: msg.procid.as_ref().map(|p| match p {
            syslog_loose::ProcId::PID(_) | syslog_loose::ProcId::Name(_) => {
                // The pid's text lies in the line; find it rather than allocate.
                procid_text(line, p)
            }
        }),
        user: None,
        timestamp: msg.timestamp,
        matched: true,
    })
}

fn procid_text<'a>(line: &'a str, p: &syslog_loose::ProcId<&'a str>) -> &'a str {
    match p {
        syslog_loose::ProcId::Name(s) => s,
        syslog_loose::ProcId::PID(n) => {
            let mut buf = itoa::Buffer::new();
            let text = buf.format(*n);
            line.find(text).map_or("", |i| &line[i..i + text.len()])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{Just, Strategy, prop, prop_oneof};

    #[test]
    fn auto_decodes_bsd_syslog() {
        let f = Format::Auto;
        let d = f.decode("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 1.2.3.4");
        assert_eq!(d.message, "Invalid user webmaster from 1.2.3.4");
        assert_eq!(d.host, Some("LabSZ"));
        assert_eq!(d.app, Some("sshd"));
        assert_eq!(d.pid, Some("24200"));
        assert!(d.timestamp.is_some_and(|t| t <= Utc::now()));
    }

    #[test]
    fn auto_decodes_pri_and_5424() {
        let d =
            Format::Auto.decode("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick");
        assert_eq!(d.message, "'su root' failed for lonvick");
        assert_eq!(d.app, Some("su"));
        let d = Format::Auto
            .decode("<165>1 2003-10-11T22:14:15.003Z host.example.com evntslog - ID47 - An event");
        assert_eq!(d.message, "An event");
        assert_eq!(d.host, Some("host.example.com"));
    }

    #[test]
    fn auto_keeps_other_lines_whole() {
        let line = "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1";
        let d = Format::Auto.decode(line);
        assert_eq!(d.message, line);
        assert!(d.matched);
    }

    #[test]
    fn loghub_format_extracts_content() {
        let f: Format = r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>"
            .parse()
            .unwrap();
        let d = f.decode("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown");
        assert_eq!(d.message, "check pass; user unknown");
        assert_eq!(d.app, Some("sshd(pam_unix)"));
        let f: Format = "<Date> <Time>, <Level>                  <Component>    <Content>"
            .parse()
            .unwrap();
        let d =
            f.decode("2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack");
        assert_eq!(d.message, "Loaded Servicing Stack");
    }

    #[test]
    fn unmatched_lines_are_mined_whole_and_flagged() {
        let f: Format = r"\[<Time>\] \[<Level>\] <Content>".parse().unwrap();
        let d = f.decode("not an apache line");
        assert_eq!(d.message, "not an apache line");
        assert!(!d.matched);
    }

    #[test]
    fn regex_format_needs_a_message_group() {
        assert!(matches!(
            "regex:^(?P<host>\\S+) .*$".parse::<Format>(),
            Err(FormatError::NoMessage)
        ));
        let f: Format = r"regex:^(?P<host>\S+) (?P<message>.*)$".parse().unwrap();
        assert_eq!(f.decode("h1 hello").message, "hello");
        assert!(matches!(
            "regex:(".parse::<Format>(),
            Err(FormatError::Regex(_))
        ));
        assert!(matches!(
            "<Date> <Time>".parse::<Format>(),
            Err(FormatError::NoMessage)
        ));
    }

    /// What `decode` gave for syslog formats before the fast path: syslog_loose alone.
    fn decode_with_syslog_loose<'a>(format: &Format, line: &'a str) -> Decoded<'a> {
        match format {
            Format::Syslog => decode_syslog(line).unwrap_or_else(|| Decoded::whole(line, false)),
            Format::Auto if looks_like_syslog(line.as_bytes()) => {
                decode_syslog(line).unwrap_or_else(|| Decoded::whole(line, true))
            }
            _ => format.decode(line),
        }
    }

    #[test]
    fn the_fast_path_takes_plain_lines() {
        for line in [
            "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 1.2.3.4",
            "Nov  2 00:17:00 srv-01 CRON[1014]: (root) CMD (run-parts /etc/cron.hourly)",
            "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown  ",
            "Jan  1 00:00:00 h.example.org su: (to root) bob on pts/1",
        ] {
            let fast = decode_bsd(line).expect(line);
            assert_eq!(fast, decode_syslog(line).unwrap(), "{line}");
        }
        // Left to syslog_loose: no such day, a zero-padded pid, structured data, a priority.
        for line in [
            "Feb 30 06:55:46 LabSZ sshd[1]: x",
            "Jun 31 06:55:46 LabSZ sshd[1]: x",
            "Jun 10 24:55:46 LabSZ sshd[1]: x",
            "Dec 10 06:55:46 LabSZ sshd[0042]: x",
            "Dec 10 06:55:46 LabSZ sshd[1]: [x] y",
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick",
        ] {
            assert_eq!(decode_bsd(line), None, "{line}");
        }
    }

    /// `Mmm dd hh:mm:ss host tag[pid]: message`, each part mostly plain and sometimes off the
    /// plain shape.
    fn bsd_like_line() -> impl Strategy<Value = String> {
        let month = prop_oneof![
            6 => prop::sample::select(vec!["Jan", "Feb", "Mar", "Jun", "Nov", "Dec"]),
            1 => prop::sample::select(vec!["JUN", "jun", "Foo"]),
        ];
        let day = prop_oneof![
            3 => (1u8..10).prop_map(|d| format!(" {d}")),
            6 => (1u8..29).prop_map(|d| format!("{d:02}")),
            1 => (0u8..33).prop_map(|d| format!("{d:02}")),
            1 => (0u8..10).prop_map(|d| format!("{d}")),
        ];
        let time = prop_oneof![
            8 => (0u8..24, 0u8..60, 0u8..60).prop_map(|(h, m, s)| format!("{h:02}:{m:02}:{s:02}")),
            1 => (0u8..26, 0u8..61, 0u8..62).prop_map(|(h, m, s)| format!("{h:02}:{m:02}:{s:02}")),
            1 => prop::sample::select(vec!["6:55:46", "06:55:46:", "06:55:4x"]).prop_map(String::from),
        ];
        let host = prop_oneof![
            6 => prop::sample::select(vec!["LabSZ", "srv-01", "h.example.org", "a_b"]).prop_map(String::from),
            1 => prop::sample::select(vec!["-", "h st", "", "x:y"]).prop_map(String::from),
            2 => "[a-z0-9.:_\\[\\]-]{0,6}",
        ];
        let tag = prop_oneof![
            6 => prop::sample::select(vec!["sshd", "CRON", "sshd(pam_unix)", "systemd-logind", "a/b.c_d"]).prop_map(String::from),
            1 => prop::sample::select(vec!["-", "", "a b", "a:b"]).prop_map(String::from),
            2 => "[a-z:\\[\\]()/ ]{0,6}",
        ];
        let pid = prop_oneof![
            3 => Just(String::new()),
            6 => (0u32..99999).prop_map(|p| format!("[{p}]")),
            1 => (0u64..99_999_999_999).prop_map(|p| format!("[{p}]")),
            1 => (0u32..999).prop_map(|p| format!("[0{p}]")),
            1 => prop::sample::select(vec!["[x]", "[]", "[-5]", "[+5]", "[1]x"]).prop_map(String::from),
        ];
        let sep = prop_oneof![
            8 => Just(": "),
            1 => prop::sample::select(vec![":", ":  ", " ", ": \t", " : "]),
        ];
        let msg = prop_oneof![
            6 => prop::sample::select(vec![
                "Invalid user test from 1.2.3.4",
                "(root) CMD (run-parts /etc/cron.hourly)",
                "trail  \u{a0}",
                "x",
            ])
            .prop_map(String::from),
            2 => prop::sample::select(vec!["[preauth] x", "[a b=\"c\"] x", "- x", " lead", ""])
                .prop_map(String::from),
            4 => "\\PC{0,30}",
        ];
        (month, day, time, host, tag, pid, sep, msg).prop_map(|(m, d, t, h, tag, p, sep, msg)| {
            format!("{m} {d} {t} {h} {tag}{p}{sep}{msg}")
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Where the fast path answers, syslog_loose gives the same fields, and the syslog
        /// formats decode every line as they did with syslog_loose alone.
        #[test]
        fn the_fast_path_is_syslog_loose(line in bsd_like_line()) {
            if let Some(fast) = decode_bsd(&line) {
                let slow = decode_syslog(&line);
                proptest::prop_assert_eq!(Some(&fast), slow.as_ref(), "{:?}", line);
                // DateTime's equality is the instant's: the offset must agree too.
                proptest::prop_assert_eq!(
                    fast.timestamp.map(|t| *t.offset()),
                    slow.and_then(|s| s.timestamp).map(|t| *t.offset())
                );
            }
            for format in [Format::Auto, Format::Syslog] {
                let d = format.decode(&line);
                let slow = decode_with_syslog_loose(&format, &line);
                proptest::prop_assert_eq!(&d, &slow, "{}: {:?}", format, line);
                proptest::prop_assert_eq!(format.message(&line), (d.message, d.matched));
            }
        }
    }

    #[test]
    fn sniffing_is_strict() {
        assert!(looks_like_syslog(b"<13>hello"));
        assert!(!looks_like_syslog(b"<abc>hello"));
        assert!(looks_like_syslog(b"Jun  4 15:16:01 host x: y"));
        assert!(!looks_like_syslog(b"June 4 something long enough"));
        assert!(!looks_like_syslog(b""));
    }
}
