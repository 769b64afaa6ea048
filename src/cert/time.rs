//! CERT's clock: `MM/DD/YYYY HH:MM:SS`, no time zone, read as seconds since 1970-01-01 of that
//! clock. Parsed by hand: it is the hottest field of an 80M-row stream, and a fixed layout does
//! not need chrono's format interpreter.

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// Days from 1970-01-01 to `y-m-d` (proleptic Gregorian; Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of a day number (the inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn number(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 4 {
        return None;
    }
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// Parses `MM/DD/YYYY HH:MM:SS` (one-digit month, day or hour accepted); `None` otherwise.
pub fn parse(s: &[u8]) -> Option<i64> {
    let (date, time) = match s.iter().position(|&c| c == b' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &b""[..]),
    };
    let mut d = date.split(|&c| c == b'/');
    let (m, day, y) = (number(d.next()?)?, number(d.next()?)?, number(d.next()?)?);
    if d.next().is_some() || !(1..=12).contains(&m) || y < 1000 {
        return None;
    }
    if day == 0 || day > days_in_month(i64::from(y), m) {
        return None;
    }
    let secs = if time.is_empty() {
        0
    } else {
        let mut t = time.split(|&c| c == b':');
        let (h, mi, se) = (number(t.next()?)?, number(t.next()?)?, number(t.next()?)?);
        if t.next().is_some() || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        i64::from(h * 3600 + mi * 60 + se)
    };
    Some(days_from_civil(i64::from(y), m, day) * DAY + secs)
}

/// `MM/DD/YYYY HH:MM:SS` of `t`.
pub fn format(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    let s = t.rem_euclid(DAY);
    format!(
        "{m:02}/{d:02}/{y:04} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `YYYY-MM-DD` of `t`.
pub fn date(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD` (as `--train-end` gives it) to the seconds of that day's start.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut p = s.split('-');
    let (y, m, d) = (
        number(p.next()?.as_bytes())?,
        number(p.next()?.as_bytes())?,
        number(p.next()?.as_bytes())?,
    );
    if p.next().is_some() || !(1..=12).contains(&m) || d == 0 || d > days_in_month(i64::from(y), m)
    {
        return None;
    }
    Some(days_from_civil(i64::from(y), m, d) * DAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cert_dates() {
        assert_eq!(parse(b"01/02/2010 07:17:00"), Some(1_262_416_620));
        assert_eq!(format(1_262_416_620), "01/02/2010 07:17:00");
        assert_eq!(date(1_262_416_620), "2010-01-02");
        assert_eq!(parse(b"1/2/2010 7:17:00"), parse(b"01/02/2010 07:17:00"));
        assert_eq!(
            parse(b"02/29/2012 00:00:00"),
            Some(parse_date("2012-02-29").unwrap())
        );
        for bad in [
            &b""[..],
            b"13/01/2010 00:00:00",
            b"02/30/2010 00:00:00",
            b"02/29/2011 00:00:00",
            b"01/01/2010 24:00:00",
            b"01/01/2010 10:00",
            b"01-01-2010 10:00:00",
            b"01/01/10 10:00:00",
            b"aa/01/2010 10:00:00",
            b"01/01/2010 10:00:00:00",
        ] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_date("2010-13-01"), None);
        assert_eq!(parse_date("2010-01"), None);
    }

    proptest! {
        #[test]
        fn format_and_parse_agree(t in 0i64..4_102_444_800) {
            prop_assert_eq!(parse(format(t).as_bytes()), Some(t));
            prop_assert_eq!(parse_date(&date(t)), Some(t - t.rem_euclid(DAY)));
        }

        #[test]
        fn any_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse(&b);
        }
    }
}
