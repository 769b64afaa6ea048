//! Tokenising a message and masking the values that are variables by their shape alone.
//!
//! A message is split on whitespace (runs of spaces, tabs, CR, LF, NUL collapse). Each token is
//! normalised into the text the miner compares:
//!
//! - a token whose core (the token without wrapping brackets, quotes and trailing punctuation) is a
//!   value by shape becomes `<*>`, keeping the wrapping: numbers, dates, times, durations and sizes
//!   (`12ms`, `3.5MB`), IPv4/IPv6 with port, hex (`0x1f`, `9f4ef63`), UUIDs and MACs, versions
//!   (`v6.1.7601`), absolute paths, URLs, e-mail addresses;
//! - `key=value` keeps `key=` when the value is such a value;
//! - otherwise the token is cut at delimiters and each all-digit piece becomes `<*>`
//!   (`(HWID=1973)` → `(HWID=<*>)`, `node-246` → `node-<*>`, but `ssh2` stays), as do the words
//!   `true`, `false`, `null`, `root`, `admin` (Khan et al., ICSE'22, the conventions of the
//!   corrected Loghub templates); `<*>.<*>` and `<*><*>` collapse.
//!
//! The work is one pass over the bytes of each token; nothing is allocated once the buffers have
//! grown to the longest message seen.

use rustc_hash::FxHasher;
use std::hash::Hasher;

/// The text that stands for one variable in a template.
pub const WILDCARD: &str = "<*>";

/// A message cut into normalised tokens, kept in reusable buffers.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    text: String,
    ends: Vec<u32>,
    raw: Vec<(u32, u32)>,
    hashes: Vec<u64>,
}

impl Tokens {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the message had no token.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The normalised text of token `i`.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// The hash of token `i`'s normalised text.
    pub fn hash(&self, i: usize) -> u64 {
        self.hashes[i]
    }

    /// The byte range of token `i` in the message it came from.
    pub fn raw_span(&self, i: usize) -> std::ops::Range<usize> {
        let (s, e) = self.raw[i];
        s as usize..e as usize
    }

    /// A hash of the whole normalised token sequence: equal sequences, equal signatures.
    pub fn signature(&self) -> u64 {
        let mut h = FxHasher::default();
        h.write_usize(self.hashes.len());
        for &x in &self.hashes {
            h.write_u64(x);
        }
        h.finish()
    }

    /// Iterates over the normalised tokens.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Replaces tokens `first..=last` with one token of text `text` spanning their raw text.
    /// Buffers keep their capacity, so the next message does not allocate again.
    fn replace_range(&mut self, first: usize, last: usize, text: &str) {
        let from = if first == 0 {
            0
        } else {
            self.ends[first - 1] as usize
        };
        let to = self.ends[last] as usize;
        self.text.replace_range(from..to, text);
        let new_end = (from + text.len()) as u32;
        let shift = i64::from(new_end) - to as i64;
        self.ends.drain(first + 1..=last);
        self.ends[first] = new_end;
        for e in &mut self.ends[first + 1..] {
            *e = (i64::from(*e) + shift) as u32;
        }
        self.hashes.drain(first + 1..=last);
        self.hashes[first] = hash_token(text);
        let span = (self.raw[first].0, self.raw[last].1);
        self.raw.drain(first + 1..=last);
        self.raw[first] = span;
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.raw.clear();
        self.hashes.clear();
    }
}

/// Hash of one normalised token, the same function the miner uses for template tokens.
pub fn hash_token(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    // Mix the length in so that short tokens spread well.
    h.write_usize(s.len());
    h.finish()
}

/// Splits `msg` into normalised tokens, replacing the previous content of `out`.
pub fn tokenize(msg: &str, out: &mut Tokens) {
    out.clear();
    let bytes = msg.as_bytes();
    let mut maybe_date = false;
    let mut sizes = false;
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && CLASS[bytes[i] as usize] == SPACE {
            i += 1;
        }
        let start = i;
        // One pass finds the token's end and whether it is a plain word.
        let mut word = true;
        while i < bytes.len() {
            let class = CLASS[bytes[i] as usize];
            if class == SPACE {
                break;
            }
            word &= class == WORD;
            i += 1;
        }
        if start == i {
            break;
        }
        // Both ends sit next to ASCII whitespace or the string ends, so they are char boundaries.
        let tok = &msg[start..i];
        maybe_date |= word && month_at(tok.as_bytes());
        sizes |= tok.len() <= 5 && tok.as_bytes().contains(&b'B');
        if word {
            let text = if is_value_word(tok.as_bytes()) {
                WILDCARD
            } else {
                tok
            };
            out.text.push_str(text);
            out.hashes.push(hash_token(text));
            out.ends.push(out.text.len() as u32);
            out.raw.push((start as u32, i as u32));
            continue;
        }
        let from = out.text.len();
        normalize_token(tok, &mut out.text);
        out.hashes.push(hash_token(&out.text[from..]));
        out.ends.push(out.text.len() as u32);
        out.raw.push((start as u32, i as u32));
    }
    if maybe_date {
        collapse_dates(msg, out);
    }
    if sizes {
        collapse_sizes(out);
    }
    collapse_lists(out);
}

/// A list of values written as a run of tokens (`blk_1 blk_2 blk_3 …`, `@0x1 @0x2 @0x3 …`) has
/// a length that varies from line to line; three or more equal masked tokens in a row become one.
fn collapse_lists(t: &mut Tokens) {
    let mut i = 0;
    while i + 2 < t.len() {
        let h = t.hash(i);
        if t.hash(i + 1) != h || t.hash(i + 2) != h || !t.get(i).contains(WILDCARD) {
            i += 1;
            continue;
        }
        let mut end = i + 2;
        while end + 1 < t.len() && t.hash(end + 1) == h {
            end += 1;
        }
        let text = t.get(i).to_string();
        t.replace_range(i, end, &text);
        i += 1;
    }
}

fn is_size_unit(b: &[u8]) -> bool {
    matches!(
        b,
        b"B" | b"KB" | b"kB" | b"MB" | b"GB" | b"TB" | b"KiB" | b"MiB" | b"GiB" | b"TiB"
    )
}

/// Joins a number and the size unit after it (`5.2 KB`) into one value.
fn collapse_sizes(t: &mut Tokens) {
    let mut i = 1;
    while i < t.len() {
        let unit = t.get(i);
        let bare = unit.trim_end_matches(|c: char| c.is_ascii() && is_trail_wrap(c as u8));
        if t.get(i - 1) == WILDCARD && is_size_unit(bare.as_bytes()) {
            let text = format!("{WILDCARD}{}", &unit[bare.len()..]);
            t.replace_range(i - 1, i, &text);
        } else {
            i += 1;
        }
    }
}

/// Whether `b` is an English month abbreviation (`Jan`…`Dec`), as syslog and dates write them.
pub(crate) fn is_month(b: &[u8]) -> bool {
    matches!(
        b,
        b"Jan"
            | b"Feb"
            | b"Mar"
            | b"Apr"
            | b"May"
            | b"Jun"
            | b"Jul"
            | b"Aug"
            | b"Sep"
            | b"Oct"
            | b"Nov"
            | b"Dec"
    )
}

fn month_at(b: &[u8]) -> bool {
    b.len() >= 3 && is_month(&b[..3])
}

const DAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];

/// Turns a date written over several tokens (`Fri Jun 17 07:07:00 EDT 2005`, `Jun 17 07:07:00`)
/// into one `<*>`: it is one value, and its month would otherwise split templates.
fn collapse_dates(msg: &str, t: &mut Tokens) {
    let raw = |t: &Tokens, i: usize| &msg.as_bytes()[t.raw_span(i)];
    let mut i = 0;
    while i + 2 < t.len() {
        let month = raw(t, i);
        let is_month =
            (month.len() == 3 || month.iter().all(u8::is_ascii_alphabetic)) && month_at(month);
        let day = raw(t, i + 1);
        let time = raw(t, i + 2);
        if !(is_month
            && (1..=2).contains(&day.len())
            && day.iter().all(u8::is_ascii_digit)
            && time.contains(&b':')
            && t.get(i + 2).starts_with(WILDCARD))
        {
            i += 1;
            continue;
        }
        let weekday = |w: &[u8]| w.len() >= 3 && DAYS.iter().any(|d| w[..3] == d[..]);
        let start = if i > 0 && weekday(raw(t, i - 1)) {
            i - 1
        } else {
            i
        };
        let mut end = i + 2;
        let zone = |z: &[u8]| (2..=5).contains(&z.len()) && z.iter().all(u8::is_ascii_uppercase);
        if end + 1 < t.len() && zone(raw(t, end + 1)) {
            end += 1;
        }
        if end + 1 < t.len() {
            let y = raw(t, end + 1);
            let y = &y[..y.len() - y.iter().rev().take_while(|c| is_trail_wrap(**c)).count()];
            if y.len() == 4 && y.iter().all(u8::is_ascii_digit) {
                end += 1;
            }
        }
        // Keep what trails the last token of the date (`2005,` → `<*>,`).
        let last = t.get(end);
        let tail = last.strip_prefix(WILDCARD).unwrap_or("").to_string();
        t.replace_range(start, end, &format!("{WILDCARD}{tail}"));
        i = start + 1;
    }
}

const SPACE: u8 = 1;
const WORD: u8 = 2;
const OTHER: u8 = 0;

/// Byte classes for the tokenizer's single pass: whitespace (with NUL), word bytes, the rest.
static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0) {
            SPACE
        } else if b.is_ascii_alphabetic() || b == b'_' {
            WORD
        } else {
            OTHER
        };
        c += 1;
    }
    t
};

const F_DELIM: u16 = 1;
const F_PATH_DELIM: u16 = 2;
const F_LEAD: u16 = 4;
const F_TRAIL: u16 = 8;
const F_DIGIT: u16 = 16;
/// `:`, `/`, `@`: a URL, path or address may follow.
const F_HINT: u16 = 32;
const F_LT: u16 = 64;
const F_EQ: u16 = 128;
/// Digits and the separators of numbers, dates and times.
const F_NUMERIC: u16 = 256;

const fn flags_of(b: u8) -> u16 {
    let mut f = 0;
    // Khan et al.'s token delimiters.
    if matches!(
        b,
        b',' | b'!'
            | b';'
            | b':'
            | b'='
            | b'|'
            | b'"'
            | b'\''
            | b'['
            | b']'
            | b'('
            | b')'
            | b'{'
            | b'}'
            | b'.'
            | b'-'
            | b'+'
            | b'@'
            | b'#'
            | b'$'
            | b'%'
            | b'&'
    ) {
        f |= F_DELIM;
    }
    // Around path-like pieces: the token delimiters without `. - + @ # $ % &`.
    if matches!(
        b,
        b',' | b'!'
            | b';'
            | b':'
            | b'='
            | b'|'
            | b'"'
            | b'\''
            | b'['
            | b']'
            | b'('
            | b')'
            | b'{'
            | b'}'
    ) {
        f |= F_PATH_DELIM;
    }
    if matches!(b, b'(' | b'[' | b'{' | b'"' | b'\'') {
        f |= F_LEAD;
    }
    if matches!(
        b,
        b')' | b']' | b'}' | b'"' | b'\'' | b',' | b';' | b':' | b'.' | b'!' | b'?'
    ) {
        f |= F_TRAIL;
    }
    if b.is_ascii_digit() {
        f |= F_DIGIT;
    }
    if matches!(b, b':' | b'/' | b'@') {
        f |= F_HINT;
    }
    if b == b'<' {
        f |= F_LT;
    }
    if b == b'=' {
        f |= F_EQ;
    }
    if b.is_ascii_digit() || matches!(b, b'.' | b',' | b':' | b'-' | b'/' | b'_' | b'+') {
        f |= F_NUMERIC;
    }
    f
}

/// Punctuation classes as one table lookup (the hot loops test them per byte).
static FLAGS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = flags_of(c as u8);
        c += 1;
    }
    t
};

/// Delimiters that cut a token into pieces (Khan et al.'s token delimiters).
#[inline]
pub(crate) fn is_delim(b: u8) -> bool {
    FLAGS[b as usize] & F_DELIM != 0
}

#[inline]
fn is_path_delim(b: u8) -> bool {
    FLAGS[b as usize] & F_PATH_DELIM != 0
}

#[inline]
fn is_lead_wrap(b: u8) -> bool {
    FLAGS[b as usize] & F_LEAD != 0
}

#[inline]
fn is_trail_wrap(b: u8) -> bool {
    FLAGS[b as usize] & F_TRAIL != 0
}

/// Words that the corrected Loghub templates always treat as values (Khan et al.'s BL and US).
#[inline]
fn is_value_word(s: &[u8]) -> bool {
    match s.len() {
        4 => {
            s.eq_ignore_ascii_case(b"true")
                || s.eq_ignore_ascii_case(b"null")
                || s.eq_ignore_ascii_case(b"root")
        }
        5 => s.eq_ignore_ascii_case(b"false") || s.eq_ignore_ascii_case(b"admin"),
        _ => false,
    }
}

/// Appends the normalised form of `tok` to `out`.
fn normalize_token(tok: &str, out: &mut String) {
    let b = tok.as_bytes();
    // One pass says which of the rules below can apply at all.
    let (seen, all) = b.iter().fold((0u16, u16::MAX), |(any, all), &c| {
        let f = FLAGS[c as usize];
        (any | f, all & f)
    });
    // The commonest value: digits and separators, starting and ending with a digit (a number,
    // time, date, IP:port). The shape rules below would say the same.
    if all & F_NUMERIC != 0 && b[0].is_ascii_digit() && b[b.len() - 1].is_ascii_digit() {
        out.push_str(WILDCARD);
        return;
    }
    if seen & F_LT != 0 && tok.contains(WILDCARD) {
        // Already a template token (re-mining a template): keep it as it is.
        out.push_str(tok);
        return;
    }
    let mut lead = 0;
    while lead < b.len() && is_lead_wrap(b[lead]) {
        lead += 1;
    }
    let mut end = b.len();
    while end > lead && is_trail_wrap(b[end - 1]) {
        end -= 1;
    }
    let core = &b[lead..end];
    if core.is_empty() {
        out.push_str(tok);
        return;
    }
    if seen & (F_DIGIT | F_HINT) != 0 && is_value_shape(core) {
        out.push_str(&tok[..lead]);
        out.push_str(WILDCARD);
        out.push_str(&tok[end..]);
        return;
    }
    // `key=value` with a value by shape keeps the key.
    if seen & F_EQ != 0
        && let Some(eq) = core.iter().position(|&c| c == b'=')
        && eq > 0
        && eq + 1 < core.len()
    {
        let value = &core[eq + 1..];
        if is_value(value) || is_value_word(value) {
            out.push_str(&tok[..lead + eq + 1]);
            out.push_str(WILDCARD);
            out.push_str(&tok[end..]);
            return;
        }
    }
    let from = out.len();
    if mask_pieces(tok, out, seen & F_DIGIT != 0) >= 2 {
        collapse_wildcards(out, from);
    }
}

/// Khan et al.'s path rule and digit rule, piece by piece. Unchanged text is copied in runs.
/// Returns how many `<*>` it wrote.
fn mask_pieces(tok: &str, out: &mut String, digits: bool) -> usize {
    let b = tok.as_bytes();
    let mut copied = 0;
    let mut wild = 0;
    let mut i = 0;
    while i < b.len() {
        if is_path_delim(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_path_delim(b[i]) {
            i += 1;
        }
        if is_abs_path(&b[start..i]) {
            out.push_str(&tok[copied..start]);
            out.push_str(WILDCARD);
            copied = i;
            wild += 1;
        } else {
            wild += mask_digits(tok, start, i, &mut copied, out, digits);
        }
    }
    out.push_str(&tok[copied..]);
    wild
}

/// Replaces the all-digit, hex-id and value-word pieces of `tok[from..to]` with `<*>`.
fn mask_digits(
    tok: &str,
    from: usize,
    to: usize,
    copied: &mut usize,
    out: &mut String,
    digits: bool,
) -> usize {
    let b = tok.as_bytes();
    let mut wild = 0;
    // `/` cuts here too, so that `2016/9/27` and `HTTP/1.1` expose their numbers.
    let cut = |c: u8| is_delim(c) || c == b'/';
    let mut i = from;
    while i < to {
        if cut(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < to && !cut(b[i]) {
            i += 1;
        }
        let sub = &b[start..i];
        let number = || sub.iter().all(u8::is_ascii_digit) || is_hex_id(sub) || is_0x(sub);
        if is_value_word(sub) || (digits && number()) {
            out.push_str(&tok[*copied..start]);
            out.push_str(WILDCARD);
            *copied = i;
            wild += 1;
        }
    }
    wild
}

/// Rewrites `<*>.<*>` and `<*><*>` to `<*>` in `out[from..]`.
fn collapse_wildcards(out: &mut String, from: usize) {
    let region = &out.as_bytes()[from..];
    // Tokens are short: plain scans beat building a substring searcher.
    if !(has(region, b"<*><*>") || has(region, b"<*>.<*>")) {
        return;
    }
    // Rewrite in place: copy byte by byte, dropping `<*>` or `.<*>` that follow a `<*>`.
    // Only ASCII is removed, so the result stays valid UTF-8.
    let mut bytes = std::mem::take(out).into_bytes();
    let (mut r, mut w) = (from, from);
    while r < bytes.len() {
        let after_wild = w >= from + 3 && &bytes[w - 3..w] == b"<*>";
        if after_wild && bytes[r..].starts_with(b"<*>") {
            r += 3;
        } else if after_wild && bytes[r..].starts_with(b".<*>") {
            r += 4;
        } else {
            bytes[w] = bytes[r];
            w += 1;
            r += 1;
        }
    }
    bytes.truncate(w);
    *out = String::from_utf8(bytes).expect("only ASCII wildcards were removed");
}

fn has(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay.windows(needle.len()).any(|w| w == needle)
}

/// True when `core` is a value by its shape alone.
pub(crate) fn is_value(core: &[u8]) -> bool {
    // Every shape needs a digit, `:`, `/` or `@`; most non-word tokens have none.
    let seen = core.iter().fold(0u16, |acc, &c| acc | FLAGS[c as usize]);
    seen & (F_DIGIT | F_HINT) != 0 && is_value_shape(core)
}

fn is_value_shape(core: &[u8]) -> bool {
    let first = core[0];
    // The common case first: digits and separators only.
    if first.is_ascii_digit() && core.iter().all(|&c| FLAGS[c as usize] & F_NUMERIC != 0) {
        return core[core.len() - 1].is_ascii_digit() || is_numeric(core);
    }
    if core.len() > 2 && first == b'0' && (core[1] == b'x' || core[1] == b'X') {
        return core[2..].iter().all(u8::is_ascii_hexdigit);
    }
    if first.is_ascii_digit() || ((first == b'-' || first == b'+') && core.len() > 1) {
        return is_numeric(core) || is_hex_like(core);
    }
    if first == b'/' {
        // Khan et al.'s path rule stops at `:` `=` `,`…: `/10.0.0.1:22` is `<*>:<*>`, left to
        // the piece-wise masking.
        return is_abs_path(core) && !core.iter().any(|&c| is_path_delim(c));
    }
    if (first == b'v' || first == b'V') && core.len() > 1 && core[1].is_ascii_digit() {
        return is_numeric(&core[1..]);
    }
    if core.len() > 2 && first.is_ascii_alphabetic() && core[1] == b':' && core[2] == b'\\' {
        return true; // a Windows path
    }
    // One pass for the remaining shapes: URL, hex ids (UUIDs, MACs, IPv6), e-mail, long-number
    // ids.
    let (mut digits, mut hex_letters, mut seps, mut run, mut max_run) = (0, 0, 0, 0, 0);
    let (mut hex_only, mut at, mut eq, mut colon) = (true, false, false, None);
    for (i, &c) in core.iter().enumerate() {
        if c.is_ascii_digit() {
            digits += 1;
            run += 1;
            max_run = max_run.max(run);
            continue;
        }
        run = 0;
        match c {
            b'a'..=b'f' | b'A'..=b'F' => hex_letters += 1,
            b'-' => seps += 1,
            b':' => {
                seps += 1;
                colon = colon.or(Some(i));
            }
            b'@' => (at, hex_only) = (true, false),
            b'=' => (eq, hex_only) = (true, false),
            _ => hex_only = false,
        }
    }
    if colon.is_some_and(|i| core[i + 1..].starts_with(b"//")) {
        return true; // a URL
    }
    if hex_only && digits > 0 && digits + hex_letters >= 6 && (hex_letters > 0 || seps > 0) {
        return true;
    }
    // An identifier built around a long number (`blk_-1608999687919862906`,
    // `attempt_201706092018_0024_m_000004_1026`): six digits in a row make it a value, except
    // after `key=`, which keeps its key (see the caller).
    (at && is_email(core)) || (!eq && max_run >= 6)
}

/// Digits and separators (`.,:-/_+`), optionally a `T` between date and time, and a short unit
/// suffix (`ms`, `KB`, `%`, `Z`).
fn is_numeric(s: &[u8]) -> bool {
    let mut end = s.len();
    let mut unit = 0;
    while end > 0 && (s[end - 1].is_ascii_alphabetic() || s[end - 1] == b'%') && unit < 3 {
        end -= 1;
        unit += 1;
    }
    let body = &s[..end];
    let start = usize::from(matches!(body.first(), Some(b'-' | b'+')));
    let body = &body[start..];
    if body.is_empty() || !body[0].is_ascii_digit() || !body[body.len() - 1].is_ascii_digit() {
        return false;
    }
    let mut t_seen = false;
    body.iter().enumerate().all(|(i, &c)| {
        c.is_ascii_digit()
            || matches!(c, b'.' | b',' | b':' | b'-' | b'/' | b'_' | b'+')
            || (c == b'T' && !t_seen && i > 0 && {
                t_seen = true;
                true
            })
    })
}

/// Hex digits with at least one digit and one letter, six or more long (`9f4ef63`), optionally
/// grouped by `-` or `:` (UUIDs, MACs, IPv6, WWIDs).
fn is_hex_like(s: &[u8]) -> bool {
    let (mut digits, mut letters, mut hex) = (0usize, 0usize, 0usize);
    for &c in s {
        if c.is_ascii_digit() {
            digits += 1;
        } else if matches!(c, b'a'..=b'f' | b'A'..=b'F') {
            letters += 1;
        } else if c != b'-' && c != b':' {
            return false;
        }
        hex += usize::from(c != b'-' && c != b':');
    }
    digits > 0 && (hex >= 6 && (letters > 0 || hex < s.len()))
}

fn is_0x(s: &[u8]) -> bool {
    s.len() > 2
        && s[0] == b'0'
        && matches!(s[1], b'x' | b'X')
        && s[2..].iter().all(u8::is_ascii_hexdigit)
}

/// One piece of hex: six or more hex digits mixing digits and letters.
fn is_hex_id(s: &[u8]) -> bool {
    s.len() >= 6
        && s.iter().all(u8::is_ascii_hexdigit)
        && s.iter().any(u8::is_ascii_digit)
        && s.iter().any(u8::is_ascii_alphabetic)
}

/// `(/[^/]+)+`: an absolute path without a trailing slash.
fn is_abs_path(s: &[u8]) -> bool {
    s.len() > 1 && s[0] == b'/' && s[s.len() - 1] != b'/' && !has(s, b"//")
}

fn is_email(s: &[u8]) -> bool {
    let Some(at) = s.iter().position(|&c| c == b'@') else {
        return false;
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    !local.is_empty()
        && local
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-'))
        && domain.contains(&b'.')
        && domain
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'))
        && domain.iter().any(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(msg: &str) -> Vec<String> {
        let mut t = Tokens::default();
        tokenize(msg, &mut t);
        t.iter().map(str::to_string).collect()
    }

    fn joined(msg: &str) -> String {
        norm(msg).join(" ")
    }

    #[test]
    fn masks_values_by_shape() {
        assert_eq!(
            joined("Accepted password for alice from 10.0.0.1 port 22 ssh2"),
            "Accepted password for alice from <*> port <*> ssh2"
        );
        assert_eq!(
            joined("took 12ms size 3.5MB at 2024-01-02T10:11:12Z"),
            "took <*> size <*> at <*>"
        );
        assert_eq!(joined("open /var/log/auth.log failed"), "open <*> failed");
        assert_eq!(joined("see https://x.org/a?b=1 now"), "see <*> now");
        assert_eq!(joined("mail bob@example.com"), "mail <*>");
        assert_eq!(joined("id 550e8400-e29b-41d4-a716-446655440000"), "id <*>");
        assert_eq!(joined("ptr 0x7fed806eb5d"), "ptr <*>");
        assert_eq!(joined("peer fe80::1ff:fe23:4567:890a"), "peer <*>");
        assert_eq!(joined("Stack v6.1.7601.23505 loaded"), "Stack <*> loaded");
        assert_eq!(joined("C:\\Windows\\x.dll"), "<*>");
    }

    #[test]
    fn keeps_keys_and_wrappers() {
        assert_eq!(
            joined("uid=0 rhost=218.188.2.4 tty=NODEVssh"),
            "uid=<*> rhost=<*> tty=NODEVssh"
        );
        assert_eq!(
            joined("(HWID=1973) node-246 ws=null"),
            "(HWID=<*>) node-<*> ws=<*>"
        );
        assert_eq!(joined("error state 6. done"), "error state <*>. done");
        assert_eq!(joined("user root logged"), "user <*> logged");
    }

    #[test]
    fn digit_pieces_follow_the_corrected_conventions() {
        assert_eq!(
            joined("00000001@2016/9/27:20:30:31.455 WcpInitialize"),
            "<*>@<*>/<*>/<*>:<*>:<*>:<*> WcpInitialize"
        );
        assert_eq!(joined("blk_-16089"), "blk_-<*>");
        assert_eq!(joined("x86_64 HTTP/1.1 t761"), "x86_64 HTTP/<*> t761");
    }

    #[test]
    fn dates_over_several_tokens_are_one_value() {
        assert_eq!(
            joined("connection from 1.2.3.4 at Fri Jun 17 07:07:00 2005"),
            "connection from <*> at <*>"
        );
        assert_eq!(
            joined("built #1 Sat May 8 09:04:50 EDT 2004, ok"),
            "built #<*> <*>, ok"
        );
        assert_eq!(joined("at Jun 17 07:07:00 done"), "at <*> done");
        assert_eq!(joined("May the force"), "May the force");
        let msg = "x Jul 1 10:00:00 y";
        let mut t = Tokens::default();
        tokenize(msg, &mut t);
        assert_eq!(&msg[t.raw_span(1)], "Jul 1 10:00:00");
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn sizes_and_long_ids_are_one_value() {
        assert_eq!(
            joined("(estimated size 5.2 KB, free 3 B)"),
            "(estimated size <*>, free <*>)"
        );
        assert_eq!(joined("KB only"), "KB only");
        assert_eq!(
            joined("blk_-1608999687919862906 attempt_201706092018_0024_m_1:"),
            "<*> <*>:"
        );
        assert_eq!(joined("from /10.10.34.11:45307"), "from <*>:<*>");
        assert_eq!(joined("to /10.10.34.11:"), "to <*>:");
    }

    #[test]
    fn lists_of_values_collapse() {
        assert_eq!(
            joined("delete blk_11111111 blk_22222222 blk_33333333 done"),
            "delete <*> done"
        );
        assert_eq!(joined("stack @0x1a @0x2b @0x3c @0x4d)"), "stack @<*> @<*>)");
        assert_eq!(joined("pair 1 2 end"), "pair <*> <*> end");
        let msg = "x 1 2 3 y";
        let mut t = Tokens::default();
        tokenize(msg, &mut t);
        assert_eq!(&msg[t.raw_span(1)], "1 2 3");
    }

    #[test]
    fn whitespace_nul_and_crlf_separate_tokens() {
        assert_eq!(norm("a\u{0}b\r\n  c\t"), vec!["a", "b", "c"]);
        assert!(norm("").is_empty());
        assert!(norm(" \r\n").is_empty());
    }

    #[test]
    fn raw_spans_point_into_the_message() {
        let msg = "port 22  from x";
        let mut t = Tokens::default();
        tokenize(msg, &mut t);
        assert_eq!(&msg[t.raw_span(1)], "22");
        assert_eq!(&msg[t.raw_span(3)], "x");
    }

    #[test]
    fn equal_sequences_have_equal_signatures() {
        let mut a = Tokens::default();
        let mut b = Tokens::default();
        tokenize("port 22 open", &mut a);
        tokenize("port  23 open", &mut b);
        assert_eq!(a.signature(), b.signature());
        tokenize("port 23 closed", &mut b);
        assert_ne!(a.signature(), b.signature());
    }
}
