//! Parameter values: aligning a message with its template and typing each value.

use super::miner::{split_values_with, wildcard_at};
use super::token::{Tokens, WILDCARD, tokenize};
use crate::event::{Param, ParamKind};
use std::net::IpAddr;

/// The values of `msg` under `template` (its tokens), in order. A token that does not fit its
/// template token (the template changed since) is taken whole.
pub fn extract(msg: &str, template: &[Box<str>]) -> Vec<Param> {
    let mut toks = Tokens::default();
    tokenize(msg, &mut toks);
    extract_tokens(msg, &toks, template)
}

/// [`extract`] for a message already tokenised into `toks`.
pub fn extract_tokens(msg: &str, toks: &Tokens, template: &[Box<str>]) -> Vec<Param> {
    let mut out = Vec::new();
    if toks.len() != template.len() {
        return out;
    }
    let mut prev: Option<&str> = None;
    for (i, pat) in template.iter().enumerate() {
        if let Some(at) = wildcard_at(pat) {
            let raw = &msg[toks.raw_span(i)];
            let key = Some(&pat[..at]).filter(|k| !k.is_empty()).or(prev);
            let param = |v: &str| Param {
                kind: classify(v, key),
                value: v.to_string(),
            };
            // A whole-token value (most are) needs no split; a token that no longer fits is
            // taken whole.
            let before = out.len();
            if &**pat == WILDCARD || !split_values_with(pat, raw, |v| out.push(param(v))) {
                out.truncate(before);
                out.push(param(raw));
            }
        }
        prev = Some(pat);
    }
    out
}

/// The kind of `value`; `before` is the template text just before it (`user`, `uid=`…).
pub fn classify(value: &str, before: Option<&str>) -> ParamKind {
    let v = value.trim_matches(|c: char| matches!(c, '[' | ']' | '(' | ')' | '"' | '\'' | ','));
    let b = v.as_bytes();
    if b.is_empty() {
        return ParamKind::Text;
    }
    if has_scheme(b) {
        return ParamKind::Url;
    }
    if is_ip(v) {
        return ParamKind::Ip;
    }
    if is_uuid(b) {
        return ParamKind::Uuid;
    }
    if v.parse::<f64>().is_ok() && b.iter().any(u8::is_ascii_digit) {
        return ParamKind::Number;
    }
    if let Some(kind) = number_with_unit(v) {
        return kind;
    }
    if b[0] == b'/' || (b.len() > 2 && b[1] == b':' && b[2] == b'\\') {
        return ParamKind::Path;
    }
    if (v.starts_with("0x") || v.starts_with("0X")) && b.len() > 2 {
        return ParamKind::Hex;
    }
    if b.len() >= 6 && b.iter().all(u8::is_ascii_hexdigit) && b.iter().any(u8::is_ascii_digit) {
        return ParamKind::Hex;
    }
    if b[0].is_ascii_digit()
        && b.iter().all(|c| {
            c.is_ascii_digit() || matches!(c, b'-' | b':' | b'/' | b'.' | b',' | b'T' | b'Z' | b'+')
        })
    {
        return ParamKind::Time;
    }
    if let Some(at) = v.find('@')
        && at > 0
        && v[at + 1..].contains('.')
    {
        return ParamKind::Email;
    }
    // Compared in place: a lowercased copy cost an allocation per value.
    let user_word = before.is_some_and(|w| {
        let w = w.trim_end_matches(['=', ':']);
        [
            "user", "for", "username", "ruser", "logname", "by", "account", "uname",
        ]
        .iter()
        .any(|u| w.eq_ignore_ascii_case(u))
    });
    if user_word && b[0].is_ascii_alphabetic() {
        return ParamKind::User;
    }
    ParamKind::Text
}

/// Whether `b` holds `://`: a byte search (`str::contains` sets up a two-way searcher per call,
/// more than the search costs on these short values).
fn has_scheme(b: &[u8]) -> bool {
    memchr::memchr_iter(b':', b).any(|i| b[i + 1..].starts_with(b"//"))
}

fn is_ip(v: &str) -> bool {
    // Everything below parses only these bytes (`+` for a port as u16 reads it): anything else,
    // as in most words, is no address, found without running the parsers.
    let ip_byte =
        |c: &u8| c.is_ascii_hexdigit() || matches!(c, b'.' | b':' | b'/' | b'[' | b']' | b'+');
    v.as_bytes().iter().all(ip_byte) && parses_as_ip(v)
}

/// An address, `addr:port` or `[v6]:port`, each maybe after a `/`: [`is_ip`] without its byte
/// pre-check.
fn parses_as_ip(v: &str) -> bool {
    v.parse::<IpAddr>().is_ok()
        || v.rsplit_once(':').is_some_and(|(host, port)| {
            port.parse::<u16>().is_ok()
                && host
                    .trim_start_matches('/')
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok()
        })
        || v.strip_prefix('/').is_some_and(parses_as_ip)
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn number_with_unit(v: &str) -> Option<ParamKind> {
    let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = v.split_at(split);
    if num.is_empty() || num.parse::<f64>().is_err() {
        return None;
    }
    // Lowercased on the stack: no unit is longer than 4 bytes.
    let mut buf = [0u8; 4];
    let lower = buf.get_mut(..unit.len())?;
    lower.copy_from_slice(unit.as_bytes());
    lower.make_ascii_lowercase();
    match &*lower {
        b"ns" | b"us" | b"\xc2\xb5s" /* µs */ | b"ms" | b"s" | b"sec" | b"secs" | b"m" | b"min"
        | b"h" | b"d" => Some(ParamKind::Duration),
        b"b" | b"k" | b"kb" | b"kib" | b"mb" | b"mib" | b"g" | b"gb" | b"gib" | b"tb"
        | b"tib" => Some(ParamKind::Size),
        b"%" => Some(ParamKind::Number),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tpl(s: &str) -> Vec<Box<str>> {
        s.split(' ').map(Box::from).collect()
    }

    #[test]
    fn values_align_with_the_template() {
        let p = extract(
            "Accepted password for alice from 10.0.0.1 port 22 ssh2",
            &tpl("Accepted password for <*> from <*> port <*> ssh2"),
        );
        let got: Vec<_> = p.iter().map(|p| (p.value.as_str(), p.kind)).collect();
        assert_eq!(
            got,
            [
                ("alice", ParamKind::User),
                ("10.0.0.1", ParamKind::Ip),
                ("22", ParamKind::Number)
            ]
        );
        let p = extract("state (HWID=1973) done", &tpl("state (HWID=<*>) done"));
        assert_eq!(p[0].value, "1973");
    }

    #[test]
    fn kinds_by_shape() {
        assert_eq!(classify("12ms", None), ParamKind::Duration);
        assert_eq!(classify("3.5MB", None), ParamKind::Size);
        assert_eq!(classify("5µs", None), ParamKind::Duration);
        assert_eq!(classify("12MS", None), ParamKind::Duration);
        assert_eq!(classify("50%", None), ParamKind::Number);
        assert_eq!(classify("12msec", None), ParamKind::Text);
        assert_eq!(classify("bob", Some("USER=")), ParamKind::User);
        assert_eq!(classify("/var/log/x", None), ParamKind::Path);
        assert_eq!(classify("0x1f", None), ParamKind::Hex);
        assert_eq!(classify("9f4ef63", None), ParamKind::Hex);
        assert_eq!(classify("2024-01-02T10:11:12Z", None), ParamKind::Time);
        assert_eq!(classify("10.0.0.1:22", None), ParamKind::Ip);
        assert_eq!(classify("fe80::1", None), ParamKind::Ip);
        assert_eq!(classify("a@b.org", None), ParamKind::Email);
        assert_eq!(
            classify("550e8400-e29b-41d4-a716-446655440000", None),
            ParamKind::Uuid
        );
        assert_eq!(classify("https://x", None), ParamKind::Url);
        assert_eq!(classify("bob", Some("user")), ParamKind::User);
        assert_eq!(classify("bob", Some("from")), ParamKind::Text);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        #[test]
        fn the_ip_pre_check_changes_nothing(
            v in "[0-9a-fA-F.:/\\[\\]+]{0,20}|(/?\\[?[0-9.:a-f]{1,16}\\]?(:\\+?[0-9]{1,6})?[g% ]?)|[a:/]{0,8}",
        ) {
            proptest::prop_assert_eq!(is_ip(&v), parses_as_ip(&v), "{:?}", v);
            proptest::prop_assert_eq!(has_scheme(v.as_bytes()), v.contains("://"));
        }
    }

    #[test]
    fn ip_shapes() {
        for ip in [
            "10.0.0.1",
            "10.0.0.1:22",
            "[fe80::1]:443",
            "/10.0.0.1",
            "::ffff:1.2.3.4",
            "1.2.3.4:+22",
        ] {
            assert!(is_ip(ip), "{ip}");
        }
        for not in [
            "alice",
            "1.2.3",
            "10.0.0.1:99999",
            "fe80::1%eth0",
            "10.0.0.1 ",
        ] {
            assert!(!is_ip(not), "{not}");
        }
    }

    #[test]
    fn a_changed_shape_gives_no_values_rather_than_wrong_ones() {
        assert!(extract("a b c", &tpl("a <*>")).is_empty());
    }
}
