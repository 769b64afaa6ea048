//! The five activity files of a CERT release, read row by row and merged by time.
//!
//! Columns are found by their header names, which is how the releases' layouts differ: r4.2's
//! `device.csv` has no `file_tree` and its `email.csv` no `activity`; r6.2's `http.csv` adds an
//! `activity`; `file.csv` exists from r5 on. A row that cannot be read (a bad date, too few
//! fields, broken quoting) is reported with its file and line, counted, and skipped; the rest of
//! the file goes on. Bodies (`content`) are not kept: the keys do not use them, and they are most
//! of the bytes.

use super::time;
use csv::ByteRecord;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender};

/// Which activity file a row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// `logon.csv`.
    Logon,
    /// `device.csv`.
    Device,
    /// `http.csv`.
    Http,
    /// `email.csv`.
    Email,
    /// `file.csv`.
    File,
}

impl Source {
    /// Every activity file, in the order rows with equal times are given.
    pub const ALL: [Source; 5] = [
        Source::Logon,
        Source::Device,
        Source::File,
        Source::Http,
        Source::Email,
    ];

    /// Its file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Logon => "logon.csv",
            Self::Device => "device.csv",
            Self::Http => "http.csv",
            Self::Email => "email.csv",
            Self::File => "file.csv",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A logon on `pc`.
    Logon,
    /// A logoff.
    Logoff,
    /// A removable device connected; r5+ give the folders on it.
    Connect {
        /// `file_tree`, when the release has it.
        file_tree: Option<String>,
    },
    /// A removable device disconnected.
    Disconnect,
    /// A web request.
    Http {
        /// The URL.
        url: String,
        /// `WWW Visit`, `WWW Download`, `WWW Upload` (r6.2); `None` before.
        activity: Option<String>,
    },
    /// An e-mail sent or viewed.
    Email {
        /// `Send` or `View` (r5+); `None` in r4.2, where every row is a send.
        activity: Option<String>,
        /// The sender.
        from: String,
        /// `to`, `cc` and `bcc`, each `;`-separated.
        to: String,
        /// Carbon copies.
        cc: String,
        /// Blind carbon copies.
        bcc: String,
        /// Bytes.
        size: u64,
        /// Attached files (r4.2 gives a count, r5+ a `;`-separated list).
        attachments: u32,
    },
    /// A file operation.
    File {
        /// The file.
        path: String,
        /// `File Open`, `File Write`, `File Copy`, `File Delete` (r6.2), `None` before.
        activity: Option<String>,
        /// Written to removable media.
        to_removable: bool,
        /// Read from removable media.
        from_removable: bool,
    },
}

/// One row of an activity file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// Seconds since 1970-01-01 on CERT's clock.
    pub time: i64,
    /// The user id (`ACM2278`).
    pub user: String,
    /// The PC (`PC-6056`).
    pub pc: String,
    /// What happened.
    pub kind: Kind,
}

impl Activity {
    /// An empty row, to be overwritten by [`Reader::next_into`].
    pub fn blank() -> Self {
        Self {
            time: 0,
            user: String::new(),
            pc: String::new(),
            kind: Kind::Logon,
        }
    }

    /// The recipients of an e-mail (to, cc, bcc); empty for anything else.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        let all: [&str; 3] = match &self.kind {
            Kind::Email { to, cc, bcc, .. } => [to, cc, bcc],
            _ => ["", "", ""],
        };
        all.into_iter()
            .flat_map(|s| s.split(';'))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {reason}", path.display())]
pub struct BadRow {
    /// The file.
    pub path: PathBuf,
    /// Its 1-based line.
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// An activity file could not be opened or its header is not one of CERT's.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// It could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The system would not start the thread that reads it.
    #[error("{}: could not start a thread to read it: {source}", path.display())]
    Thread {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A column the file must have is missing.
    #[error("{}: the header has no `{column}` column (found: {found})", path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
        /// The header as found.
        found: String,
    },
}

/// Where each field is, by header name.
#[derive(Debug, Clone, Default)]
struct Columns {
    date: usize,
    user: usize,
    pc: usize,
    activity: Option<usize>,
    file_tree: Option<usize>,
    url: Option<usize>,
    to: Option<usize>,
    cc: Option<usize>,
    bcc: Option<usize>,
    from: Option<usize>,
    size: Option<usize>,
    attachments: Option<usize>,
    filename: Option<usize>,
    to_removable: Option<usize>,
    from_removable: Option<usize>,
}

/// Reads one activity file, row by row.
pub struct Reader {
    source: Source,
    path: PathBuf,
    csv: csv::Reader<Box<dyn Read + Send>>,
    cols: Columns,
    record: ByteRecord,
    /// Rows skipped.
    bad: u64,
    /// An I/O error ended the file.
    ended: bool,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("source", &self.source)
            .field("path", &self.path)
            .field("bad", &self.bad)
            .finish_non_exhaustive()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn truthy(b: &[u8]) -> bool {
    b.eq_ignore_ascii_case(b"true") || b == b"1"
}

impl Reader {
    /// Opens `path` as the `source` file.
    pub fn open(source: Source, path: &Path) -> Result<Self, OpenError> {
        let f = File::open(path).map_err(|e| OpenError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::from_reader(
            source,
            path,
            Box::new(io::BufReader::with_capacity(1 << 20, f)),
        )
    }

    /// Reads `source`'s layout from `r`; `path` names it in errors.
    pub fn from_reader(
        source: Source,
        path: &Path,
        r: Box<dyn Read + Send>,
    ) -> Result<Self, OpenError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(r);
        let header = csv
            .byte_headers()
            .map_err(|e| OpenError::Io {
                path: path.to_path_buf(),
                source: io::Error::other(e.to_string()),
            })?
            .clone();
        let find = |name: &str| {
            header
                .iter()
                .position(|h| h.trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
        };
        let need = |name: &'static str| {
            find(name).ok_or_else(|| OpenError::Header {
                path: path.to_path_buf(),
                column: name,
                found: header.iter().map(text).collect::<Vec<_>>().join(","),
            })
        };
        let mut cols = Columns {
            date: need("date")?,
            user: need("user")?,
            pc: need("pc")?,
            activity: find("activity"),
            ..Columns::default()
        };
        match source {
            Source::Logon => {
                need("activity")?;
            }
            Source::Device => {
                need("activity")?;
                cols.file_tree = find("file_tree");
            }
            Source::Http => cols.url = Some(need("url")?),
            Source::Email => {
                cols.to = Some(need("to")?);
                cols.cc = find("cc");
                cols.bcc = find("bcc");
                cols.from = Some(need("from")?);
                cols.size = find("size");
                cols.attachments = find("attachments");
            }
            Source::File => {
                cols.filename = Some(need("filename")?);
                cols.to_removable = find("to_removable_media");
                cols.from_removable = find("from_removable_media");
            }
        }
        Ok(Self {
            source,
            path: path.to_path_buf(),
            csv,
            cols,
            record: ByteRecord::new(),
            bad: 0,
            ended: false,
        })
    }

    /// Which file this is.
    pub fn source(&self) -> Source {
        self.source
    }

    /// Rows skipped so far.
    pub fn bad_rows(&self) -> u64 {
        self.bad
    }

    fn bad_row(&mut self, line: u64, reason: String) -> BadRow {
        self.bad += 1;
        BadRow {
            path: self.path.clone(),
            line,
            reason,
        }
    }

    /// The next row: `None` at the end, `Some(Err)` for a row that was skipped.
    pub fn next_row(&mut self) -> Option<Result<Activity, BadRow>> {
        let mut a = Activity::blank();
        Some(self.next_into(&mut a)?.map(|()| a))
    }

    fn field(&self, i: usize, name: &str) -> Result<&[u8], String> {
        self.record
            .get(i)
            .ok_or_else(|| format!("no `{name}` field ({} fields)", self.record.len()))
    }

    fn opt(&self, i: Option<usize>) -> Option<&[u8]> {
        i.and_then(|i| self.record.get(i))
    }

    /// The next row written over `out`, reusing its strings: `None` at the end, `Some(Err)` for
    /// a row that was skipped (then `out` holds parts of it and must not be used).
    pub fn next_into(&mut self, out: &mut Activity) -> Option<Result<(), BadRow>> {
        if self.ended {
            return None;
        }
        match self.csv.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map_or(0, csv::Position::line);
                Some(
                    self.parse_into(out)
                        .map_err(|reason| self.bad_row(line, reason)),
                )
            }
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                // An I/O error ends the file, reported as a skipped row so that the count and
                // the report show the file was cut there; a malformed record is skipped.
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    self.ended = true;
                    let bad = self.bad_row(line, format!("cannot read on: {e}"));
                    tracing::error!(error = %bad, "the rest of the file is not read");
                    return Some(Err(bad));
                }
                Some(Err(self.bad_row(line, e.to_string())))
            }
        }
    }

    /// Parses the current record over `out`. The strings are overwritten in place, so a reader
    /// that keeps one `Activity` per row slot allocates nothing once the slots have grown.
    fn parse_into(&self, out: &mut Activity) -> Result<(), String> {
        let c = &self.cols;
        let date = self.field(c.date, "date")?;
        let time = time::parse(date)
            .ok_or_else(|| format!("bad date {:?} (expected MM/DD/YYYY HH:MM:SS)", text(date)))?;
        let user = self.field(c.user, "user")?;
        if user.is_empty() {
            return Err("empty user".into());
        }
        let pc = self.field(c.pc, "pc")?;
        let activity = self.opt(c.activity);
        match self.source {
            Source::Logon => {
                out.kind = match activity.unwrap_or_default() {
                    a if a.eq_ignore_ascii_case(b"Logon") => Kind::Logon,
                    a if a.eq_ignore_ascii_case(b"Logoff") => Kind::Logoff,
                    a => return Err(format!("unknown logon activity {:?}", text(a))),
                }
            }
            Source::Device => {
                out.kind = match activity.unwrap_or_default() {
                    a if a.eq_ignore_ascii_case(b"Connect") => Kind::Connect {
                        file_tree: self.opt(c.file_tree).map(text),
                    },
                    a if a.eq_ignore_ascii_case(b"Disconnect") => Kind::Disconnect,
                    a => return Err(format!("unknown device activity {:?}", text(a))),
                }
            }
            Source::Http => {
                let url = self.field(c.url.unwrap_or(usize::MAX), "url")?;
                if !matches!(out.kind, Kind::Http { .. }) {
                    out.kind = Kind::Http {
                        url: String::new(),
                        activity: None,
                    };
                }
                if let Kind::Http {
                    url: u,
                    activity: a,
                } = &mut out.kind
                {
                    set(u, url);
                    set_opt(a, activity);
                }
            }
            Source::Email => {
                let size = match self.opt(c.size) {
                    None | Some(b"") => 0,
                    Some(s) => std::str::from_utf8(s)
                        .ok()
                        .and_then(|s| s.trim().parse().ok())
                        .ok_or_else(|| format!("bad size {:?}", text(s)))?,
                };
                let attachments = match self.opt(c.attachments) {
                    None | Some(b"") => 0,
                    // r4.2: a count; r5+: `name(size);name(size)`.
                    Some(a) => match std::str::from_utf8(a).ok().and_then(|s| s.parse().ok()) {
                        Some(n) => n,
                        None => a.split(|&b| b == b';').filter(|p| !p.is_empty()).count() as u32,
                    },
                };
                let from = self.field(c.from.unwrap_or(usize::MAX), "from")?;
                let to = self.field(c.to.unwrap_or(usize::MAX), "to")?;
                if !matches!(out.kind, Kind::Email { .. }) {
                    out.kind = Kind::Email {
                        activity: None,
                        from: String::new(),
                        to: String::new(),
                        cc: String::new(),
                        bcc: String::new(),
                        size: 0,
                        attachments: 0,
                    };
                }
                if let Kind::Email {
                    activity: a,
                    from: f,
                    to: t,
                    cc,
                    bcc,
                    size: s,
                    attachments: n,
                } = &mut out.kind
                {
                    set_opt(a, activity);
                    set(f, from);
                    set(t, to);
                    set(cc, self.opt(c.cc).unwrap_or_default());
                    set(bcc, self.opt(c.bcc).unwrap_or_default());
                    *s = size;
                    *n = attachments;
                }
            }
            Source::File => {
                let path = self.field(c.filename.unwrap_or(usize::MAX), "filename")?;
                let to_removable = self.opt(c.to_removable).is_some_and(truthy);
                let from_removable = self.opt(c.from_removable).is_some_and(truthy);
                if !matches!(out.kind, Kind::File { .. }) {
                    out.kind = Kind::File {
                        path: String::new(),
                        activity: None,
                        to_removable: false,
                        from_removable: false,
                    };
                }
                if let Kind::File {
                    path: p,
                    activity: a,
                    to_removable: t,
                    from_removable: f,
                } = &mut out.kind
                {
                    set(p, path);
                    set_opt(a, activity);
                    *t = to_removable;
                    *f = from_removable;
                }
            }
        }
        out.time = time;
        set(&mut out.user, user);
        set(&mut out.pc, pc);
        Ok(())
    }
}

/// `dst = b` as text (invalid UTF-8 replaced, as [`text`] does), keeping `dst`'s allocation.
fn set(dst: &mut String, b: &[u8]) {
    dst.clear();
    match std::str::from_utf8(b) {
        Ok(s) => dst.push_str(s),
        Err(_) => dst.push_str(&String::from_utf8_lossy(b)),
    }
}

/// [`set`] for an optional field.
fn set_opt(dst: &mut Option<String>, b: Option<&[u8]>) {
    match b {
        None => *dst = None,
        Some(b) => set(dst.get_or_insert_with(String::new), b),
    }
}

/// The latest time among the last rows of the activity files in `dir`, read from their ends
/// without reading them through: where a release's range ends, known before it is read (for
/// work that can start once the range is known). `None` when no file's tail gives a date. Rows
/// out of time order may make the true end later; callers check it after reading.
pub fn tail_time(dir: &Path) -> Option<i64> {
    use std::io::{BufRead, Seek, SeekFrom};
    /// Enough for the last several rows of any CERT file.
    const TAIL: u64 = 64 << 10;
    let mut latest = None;
    for s in Source::ALL {
        let Ok(f) = File::open(dir.join(s.file_name())) else {
            continue;
        };
        // Only a regular file can be read from its end; reading a pipe here would take rows
        // from the reader.
        let Some(len) = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len()) else {
            continue;
        };
        let mut f = io::BufReader::new(f);
        let mut header = Vec::new();
        // A header longer than the tail, or none (no line end), is not a CERT file's.
        match (&mut f).take(TAIL).read_until(b'\n', &mut header) {
            Ok(_) if header.ends_with(b"\n") => {}
            _ => continue,
        }
        let Some(date) = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&header[..])
            .byte_records()
            .next()
            .and_then(Result::ok)
            .and_then(|h| {
                h.iter()
                    .position(|c| c.trim_ascii().eq_ignore_ascii_case(b"date"))
            })
        else {
            continue;
        };
        let from = len.saturating_sub(TAIL).max(header.len() as u64);
        let mut tail = Vec::new();
        if f.seek(SeekFrom::Start(from)).is_err() || f.read_to_end(&mut tail).is_err() {
            continue;
        }
        // The first line may be cut; the rest are whole rows (a row that does not parse is
        // passed over, as the reader would skip it).
        let whole = if from > header.len() as u64 {
            tail.iter()
                .position(|&b| b == b'\n')
                .map_or(&tail[..0], |i| &tail[i + 1..])
        } else {
            &tail[..]
        };
        let rows = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(whole)
            .into_byte_records();
        for r in rows.flatten() {
            if let Some(t) = r.get(date).and_then(time::parse) {
                latest = Some(latest.map_or(t, |l: i64| l.max(t)));
            }
        }
    }
    latest
}

/// The activity files of a release directory, merged by time (ties in [`Source::ALL`] order,
/// then file order). Each file is read once, front to back, on a thread of its own that hands
/// rows over in batches: parsing is most of the reading's work, and the caller's work on each
/// row (keying) then runs beside it. Memory stays a few batches per file. A row earlier than
/// the one before it in the same file is still given (at the merge's current position) and
/// counted as out of order.
#[derive(Debug)]
pub struct Merged {
    feeds: Vec<Feed>,
    /// `(time, feed)` of each feed's current row; the earliest, then the lowest feed, first.
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    /// The feed whose current row was given last: it moves on at the next call.
    given: Option<usize>,
    /// Rows skipped, with the first reasons.
    pub bad: Vec<BadRow>,
    /// Rows skipped in all.
    pub bad_rows: u64,
    /// Rows given out of time order.
    pub out_of_order: u64,
    last: Vec<i64>,
}

/// How many skipped rows are kept with their reasons.
const KEEP_BAD: usize = 20;

/// Rows a reading thread hands over at a time: large enough that the hand-over costs nothing
/// per row, small enough that a few batches per file stay a few MiB.
const BATCH: usize = 2048;

/// Batches a reading thread may get ahead of the merge.
const AHEAD: usize = 2;

/// Rows of one file, in file order, with the rows skipped among them.
#[derive(Debug)]
struct Batch {
    /// The first `len` are this batch's rows; the rest are slots kept for their strings.
    rows: Vec<Activity>,
    len: usize,
    /// Rows skipped, each with the index of the row it came before (`len`: after the last).
    bad: Vec<(usize, BadRow)>,
    /// The file ends with this batch.
    end: bool,
}

/// One file's rows as they arrive from its reading thread.
#[derive(Debug)]
struct Feed {
    source: Source,
    rows: Receiver<Batch>,
    /// Batches go back to the thread to be filled again (their strings reused).
    spent: Sender<Batch>,
    current: Option<Batch>,
    /// The current row in `current`, and the next of its skipped rows to report.
    at: usize,
    bad_at: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A reading thread: fills batches from `reader` until the file ends or the merge is gone.
fn pump(mut reader: Reader, rows: SyncSender<Batch>, spent: Receiver<Batch>) {
    loop {
        let mut b = spent.try_recv().unwrap_or_else(|_| Batch {
            rows: Vec::new(),
            len: 0,
            bad: Vec::new(),
            end: false,
        });
        b.len = 0;
        b.bad.clear();
        // A file of nothing but bad rows must not grow one batch without bound.
        while b.len < BATCH && b.bad.len() < BATCH {
            if b.rows.len() == b.len {
                b.rows.push(Activity::blank());
            }
            match reader.next_into(&mut b.rows[b.len]) {
                None => {
                    b.end = true;
                    break;
                }
                Some(Ok(())) => b.len += 1,
                Some(Err(bad)) => b.bad.push((b.len, bad)),
            }
        }
        let end = b.end;
        if rows.send(b).is_err() || end {
            return;
        }
    }
}

impl Merged {
    /// Opens the activity files present in `dir` (at least `logon.csv`).
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        let mut readers = Vec::new();
        for s in Source::ALL {
            let path = dir.join(s.file_name());
            if s != Source::Logon && !path.exists() {
                continue;
            }
            readers.push(Reader::open(s, &path)?);
        }
        Self::new(readers)
    }

    /// Merges `readers` (ties go to the earlier reader), each read on a thread of its own; the
    /// error names the file whose thread the system refused.
    pub fn new(readers: Vec<Reader>) -> Result<Self, OpenError> {
        let feeds: Vec<Feed> = readers
            .into_iter()
            .map(|r| {
                let (rows_tx, rows) = std::sync::mpsc::sync_channel(AHEAD);
                let (spent, spent_rx) = std::sync::mpsc::channel();
                let (source, path) = (r.source(), r.path.clone());
                let thread = std::thread::Builder::new()
                    .name(format!("read {}", source.file_name()))
                    .spawn(move || pump(r, rows_tx, spent_rx))
                    .map_err(|source| OpenError::Thread { path, source })?;
                Ok(Feed {
                    source,
                    rows,
                    spent,
                    current: None,
                    at: 0,
                    bad_at: 0,
                    thread: Some(thread),
                })
            })
            .collect::<Result<_, OpenError>>()?;
        let mut m = Self {
            last: vec![i64::MIN; feeds.len()],
            feeds,
            heap: BinaryHeap::new(),
            given: None,
            bad: Vec::new(),
            bad_rows: 0,
            out_of_order: 0,
        };
        for i in 0..m.feeds.len() {
            m.refill(i);
        }
        Ok(m)
    }

    /// The files being read.
    pub fn sources(&self) -> Vec<Source> {
        self.feeds.iter().map(|f| f.source).collect()
    }

    /// Moves feed `i` to its next row (reporting the rows skipped on the way) and queues it.
    fn refill(&mut self, i: usize) {
        loop {
            let f = &mut self.feeds[i];
            if let Some(b) = &f.current {
                while let Some((before, bad)) = b.bad.get(f.bad_at) {
                    if *before > f.at {
                        break;
                    }
                    f.bad_at += 1;
                    self.bad_rows += 1;
                    if self.bad.len() < KEEP_BAD {
                        tracing::warn!(row = %bad, "skipped");
                        self.bad.push(bad.clone());
                    }
                }
                if f.at < b.len {
                    let t = b.rows[f.at].time;
                    if t < self.last[i] {
                        self.out_of_order += 1;
                    }
                    self.last[i] = self.last[i].max(t);
                    self.heap.push(Reverse((t, i)));
                    return;
                }
                let b = f.current.take().unwrap_or_else(|| unreachable!());
                let end = b.end;
                // The thread may be gone already (the file ended): the batch is then dropped.
                let _ = f.spent.send(b);
                if end {
                    return;
                }
            }
            match f.rows.recv() {
                Ok(b) => {
                    f.current = Some(b);
                    f.at = 0;
                    f.bad_at = 0;
                }
                Err(_) => {
                    // The thread stopped without saying the file ended: it panicked.
                    if let Some(Err(p)) = f.thread.take().map(std::thread::JoinHandle::join) {
                        std::panic::resume_unwind(p);
                    }
                    return;
                }
            }
        }
    }

    /// The next row by time, valid until the next call: rows are not copied out of the
    /// batches they were parsed into.
    pub fn next_ref(&mut self) -> Option<&Activity> {
        if let Some(i) = self.given.take() {
            self.feeds[i].at += 1;
            self.refill(i);
        }
        let Reverse((_, i)) = self.heap.pop()?;
        self.given = Some(i);
        let f = &self.feeds[i];
        f.current.as_ref().map(|b| &b.rows[f.at])
    }
}

impl Iterator for Merged {
    type Item = Activity;

    fn next(&mut self) -> Option<Activity> {
        self.next_ref().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(source: Source, text: &str) -> Reader {
        let bytes = text.as_bytes().to_vec();
        Reader::from_reader(
            source,
            Path::new(source.file_name()),
            Box::new(io::Cursor::new(bytes)),
        )
        .unwrap()
    }

    fn rows(mut r: Reader) -> Vec<Result<Activity, BadRow>> {
        std::iter::from_fn(|| r.next_row()).collect()
    }

    #[test]
    fn a_read_error_ends_the_file_as_one_skipped_row() {
        // Two rows, then the disk fails.
        let good = "id,date,user,pc,activity\n\
            {A},01/02/2010 07:00:00,ACM2278,PC-6056,Logon\n\
            {B},01/02/2010 08:00:00,ACM2278,PC-6056,Logoff\n";
        let failing = io::Cursor::new(good.as_bytes().to_vec()).chain(FailingRead);
        let r =
            Reader::from_reader(Source::Logon, Path::new("logon.csv"), Box::new(failing)).unwrap();
        let got = rows(r);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].is_ok() && got[1].is_ok());
        let bad = got[2].as_ref().unwrap_err().to_string();
        assert!(
            bad.starts_with("logon.csv:") && bad.contains("cannot read on"),
            "{bad}"
        );
    }

    struct FailingRead;

    impl Read for FailingRead {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk gone"))
        }
    }

    #[test]
    fn r42_layouts() {
        let logon = "id,date,user,pc,activity\n{X1},01/02/2010 06:49:00,NGF0157,PC-6056,Logon\n{X2},01/02/2010 17:49:00,NGF0157,PC-6056,Logoff\n";
        let got = rows(reader(Source::Logon, logon));
        assert_eq!(got.len(), 2);
        let a = got[0].as_ref().unwrap();
        assert_eq!(
            (a.user.as_str(), a.pc.as_str(), &a.kind),
            ("NGF0157", "PC-6056", &Kind::Logon)
        );
        assert_eq!(time::format(a.time), "01/02/2010 06:49:00");
        let device = "id,date,user,pc,activity\n{D},01/02/2010 07:21:06,LRR0148,PC-4275,Connect\n";
        assert_eq!(
            rows(reader(Source::Device, device))[0]
                .as_ref()
                .unwrap()
                .kind,
            Kind::Connect { file_tree: None }
        );
        let email = "id,date,user,pc,to,cc,bcc,from,size,attachments,content\n{E},01/02/2010 07:11:45,LAP0338,PC-5758,Dean.Flynn.Hines@dtaa.com;Wade_Harrison@lockheedmartin.com,Nathaniel.Hunter.Heath@dtaa.com,,Lynn.Adena.Pratt@dtaa.com,25830,0,middle f2 systems\n";
        let e = rows(reader(Source::Email, email)).remove(0).unwrap();
        assert!(matches!(
            &e.kind,
            Kind::Email {
                activity: None,
                size: 25830,
                attachments: 0,
                ..
            }
        ));
        assert_eq!(
            e.recipients().collect::<Vec<_>>(),
            [
                "Dean.Flynn.Hines@dtaa.com",
                "Wade_Harrison@lockheedmartin.com",
                "Nathaniel.Hunter.Heath@dtaa.com"
            ]
        );
        let http = "id,date,user,pc,url,content\n{H},01/02/2010 06:55:16,LRR0148,PC-4275,http://msn.com/The_Human_Centipede/naupliusundergone.htm,\"x, y\"\n";
        let h = rows(reader(Source::Http, http)).remove(0).unwrap();
        assert_eq!(
            h.kind,
            Kind::Http {
                url: "http://msn.com/The_Human_Centipede/naupliusundergone.htm".into(),
                activity: None
            }
        );
    }

    #[test]
    fn r52_and_r62_layouts() {
        let device = "id,date,user,pc,file_tree,activity\n{D},01/04/2010 07:31:00,AAM0658,PC-2542,R:\\;R:\\Photos,Connect\n";
        assert_eq!(
            rows(reader(Source::Device, device))[0]
                .as_ref()
                .unwrap()
                .kind,
            Kind::Connect {
                file_tree: Some("R:\\;R:\\Photos".into())
            }
        );
        let email = "id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content\n{E},01/04/2010 07:45:00,AAM0658,PC-2542,a@dtaa.com,,,b@dtaa.com,Send,1000,C:\\a.doc(12);C:\\b.pdf(34),hi\n";
        let e = rows(reader(Source::Email, email)).remove(0).unwrap();
        assert!(
            matches!(&e.kind, Kind::Email { activity: Some(a), attachments: 2, .. } if a == "Send")
        );
        let file = "id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content\n{F},01/04/2010 08:00:00,AAM0658,PC-2542,R:\\x.doc,File Copy,True,False,abc\n";
        let f = rows(reader(Source::File, file)).remove(0).unwrap();
        assert_eq!(
            f.kind,
            Kind::File {
                path: "R:\\x.doc".into(),
                activity: Some("File Copy".into()),
                to_removable: true,
                from_removable: false
            }
        );
        let http = "id,date,user,pc,url,activity,content\n{H},01/04/2010 08:00:00,AAM0658,PC-2542,http://wikileaks.org/x,WWW Upload,hello\n";
        assert!(matches!(
            rows(reader(Source::Http, http))[0].as_ref().unwrap().kind,
            Kind::Http { activity: Some(ref a), .. } if a == "WWW Upload"
        ));
        // r5.2's file.csv without the removable-media columns (r5.1's layout) still reads.
        let older = "id,date,user,pc,filename,content\n{F},01/04/2010 08:00:00,AAM0658,PC-2542,C:\\x.doc,abc\n";
        assert!(rows(reader(Source::File, older))[0].is_ok());
    }

    #[test]
    fn malformed_rows_are_named_and_skipped() {
        let logon = "id,date,user,pc,activity\n\
            {1},01/02/2010 06:49:00,A,PC-1,Logon\n\
            {2},13/45/2010 06:49:00,A,PC-1,Logon\n\
            {3},01/02/2010 06:50:00,A\n\
            {4},01/02/2010 06:51:00,A,PC-1,Dance\n\
            {5},01/02/2010 06:52:00,,PC-1,Logon\n\
            {6},01/02/2010 06:53:00,A,PC-1,Logoff\n";
        let got = rows(reader(Source::Logon, logon));
        let bad: Vec<String> = got
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(ToString::to_string)
            .collect();
        assert_eq!(bad.len(), 4, "{bad:?}");
        assert!(bad[0].starts_with("logon.csv:3: bad date"), "{bad:?}");
        assert!(bad[1].starts_with("logon.csv:4: no `pc` field"), "{bad:?}");
        assert!(
            bad[2].contains(":5: unknown logon activity \"Dance\""),
            "{bad:?}"
        );
        assert!(bad[3].contains(":6: empty user"), "{bad:?}");
        assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 2);
        let e = Reader::from_reader(
            Source::Http,
            Path::new("http.csv"),
            Box::new(io::Cursor::new(b"id,date,user,pc,content\n".to_vec())),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "http.csv: the header has no `url` column (found: id,date,user,pc,content)"
        );
    }

    #[test]
    fn a_reused_row_reads_as_a_fresh_one() {
        // Rows of every shape of each file one after another over one slot: nothing of a row
        // may survive into the next (an optional field, another kind).
        let files = [
            (
                Source::Device,
                "id,date,user,pc,file_tree,activity\n\
                 {1},01/04/2010 07:31:00,A,PC-1,R:\\;R:\\Photos,Connect\n\
                 {2},01/04/2010 07:32:00,A,PC-1,,Disconnect\n\
                 {3},01/04/2010 07:33:00,B,PC-22,R:\\,Connect\n",
            ),
            (
                Source::Email,
                "id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content\n\
                 {1},01/04/2010 07:45:00,AAM0658,PC-2542,a@dtaa.com;b@x.com,c@dtaa.com,d@dtaa.com,e@dtaa.com,Send,1000,C:\\a.doc(12),hi\n\
                 {2},01/04/2010 07:46:00,B,PC-2,x@dtaa.com,,,y@dtaa.com,View,5,,\n\
                 {3},01/04/2010 07:47:00,C,PC-3,z@gmail.com,,,w@dtaa.com,Send,7,3,yo\n",
            ),
            (
                Source::File,
                "id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content\n\
                 {1},01/04/2010 08:00:00,A,PC-1,R:\\x.doc,File Copy,True,False,abc\n\
                 {2},01/04/2010 08:01:00,A,PC-1,C:\\y.doc,File Open,False,True,\n",
            ),
            (
                Source::Http,
                "id,date,user,pc,url,content\n\
                 {1},01/04/2010 08:00:00,A,PC-1,http://a.com/x,\"x, y\"\n\
                 {2},01/04/2010 08:00:00,B,PC-2,http://b.org/%ff,\n",
            ),
        ];
        for (source, text) in files {
            let fresh: Vec<Activity> = rows(reader(source, text))
                .into_iter()
                .map(Result::unwrap)
                .collect();
            let mut r = reader(source, text);
            let mut slot = Activity::blank();
            let mut reused = Vec::new();
            while let Some(row) = r.next_into(&mut slot) {
                row.unwrap();
                reused.push(slot.clone());
            }
            assert_eq!(reused, fresh, "{source:?}");
        }
    }

    #[test]
    fn the_merge_keeps_order_and_bad_rows_across_batches() {
        // More rows than a batch, bad rows here and there, two files interleaved by time.
        let mut logon = String::from("id,date,user,pc,activity\n");
        let mut device = String::from("id,date,user,pc,activity\n");
        let mut expected = Vec::new();
        for i in 0..(2 * BATCH + 100) {
            let t = format!(
                "01/04/2010 {:02}:{:02}:{:02}",
                i / 3600 % 24,
                i / 60 % 60,
                i % 60
            );
            logon.push_str(&format!("{{l{i}}},{t},U{i},PC-1,Logon\n"));
            expected.push((i, 0));
            if i % 3 == 0 {
                device.push_str(&format!("{{d{i}}},{t},U{i},PC-1,Connect\n"));
                expected.push((i, 1));
            }
            if i % 1000 == 7 {
                device.push_str("broken,xx,A,P,Connect\n");
            }
        }
        let mut m = Merged::new(vec![
            reader(Source::Logon, &logon),
            reader(Source::Device, &device),
        ])
        .unwrap();
        let mut got = Vec::new();
        while let Some(a) = m.next_ref() {
            let i: usize = a.user[1..].parse().unwrap();
            got.push((i, usize::from(a.kind != Kind::Logon)));
        }
        assert_eq!(got, expected);
        assert_eq!(m.bad_rows, (2 * BATCH as u64 + 100).div_ceil(1000));
        assert!(m.bad.iter().all(|b| b.reason.contains("bad date")));
        assert_eq!(m.out_of_order, 0);
        assert!(m.next_ref().is_none());
    }

    #[test]
    fn files_merge_by_time_with_ties_in_file_order() {
        let logon = reader(
            Source::Logon,
            "id,date,user,pc,activity\n{1},01/02/2010 08:00:00,A,P,Logon\n{2},01/02/2010 09:00:00,A,P,Logoff\n{3},01/02/2010 08:30:00,B,P,Logon\n",
        );
        let device = reader(
            Source::Device,
            "id,date,user,pc,activity\n{d},01/02/2010 07:00:00,A,P,Connect\nbroken,xx,A,P,Connect\n{e},01/02/2010 08:00:00,A,P,Disconnect\n",
        );
        let mut m = Merged::new(vec![logon, device]).unwrap();
        let got: Vec<(String, Kind)> = m
            .by_ref()
            .map(|a| (time::format(a.time)[11..16].to_string(), a.kind))
            .collect();
        let times: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(times, ["07:00", "08:00", "08:00", "09:00", "08:30"]);
        assert_eq!(got[1].1, Kind::Logon, "a tie goes to the earlier file");
        assert_eq!(m.bad_rows, 1);
        assert!(
            m.bad[0].to_string().starts_with("device.csv:3:"),
            "{:?}",
            m.bad
        );
        assert_eq!(m.out_of_order, 1);
    }
}
