//! The `file` source: tails files matched by globs.
//!
//! Polling is the source of truth: every `poll_interval_ms` the `include` globs are expanded
//! (minus what `exclude` matches), new files are opened and every watched file is read to its
//! end. inotify (the `notify` crate, on the globs' directories) only wakes the poller early; when
//! it cannot be used (inotify limits) the source says so and goes on polling.
//!
//! A file is known by its fingerprint (a checksum of its first line, at most its first 1 KiB),
//! not its name, and a file without a complete first line is not read yet. So a file renamed by
//! rotation keeps its position and is read to its end through the open handle; it is closed once
//! it is no longer at a watched path (or was deleted) and gave nothing new for a poll. The new
//! file at the old path starts from the beginning. A file that shrinks below the position, or
//! whose first line changed, was truncated in place (copytruncate): it is read again from the
//! start. Files there at startup without a checkpoint start where `read_from` says; files that
//! appear later (or get their first line later) start at their beginning.
//!
//! Checkpoints (fingerprint → offset, see [`super::checkpoint`]) are written atomically to
//! `data_dir/checkpoints/<id>.json` and advance only when the pipeline acknowledged the lines;
//! after a restart a file goes on from its checkpoint. Only complete lines are sent: a last line
//! without its newline waits until the newline arrives or the file is released (rotated away or
//! deleted), when it is sent as it is. A line longer than `max_line_bytes` is cut and flagged,
//! and the rest of it is skipped without being buffered. An unreadable file is logged, counted
//! and skipped; only a broken `data_dir` stops the source.

use super::checkpoint::{CheckpointError, Checkpoints, now_secs};
use super::lines::LineReader;
use super::{Ack, BATCH_LINES, Context, line_event};
use crate::keys::vocab::fnv1a_hex;
use notify::{EventKind, RecursiveMode, Watcher};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

/// Where to start in a file that has no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadFrom {
    /// From its first line.
    Beginning,
    /// From its current end: only lines written from now on.
    #[default]
    End,
}

/// `[sources.<id>] type = "file"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Glob patterns of the files to tail (`/var/log/auth.log`, `/var/log/*.log`).
    pub include: Vec<String>,
    /// Glob patterns of files not to tail, even when `include` matches them.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Where to start in a file without a checkpoint.
    #[serde(default)]
    pub read_from: ReadFrom,
    /// Lines longer than this are cut (and flagged).
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// The header format of the lines (as `dante parse --format`).
    #[serde(default = "default_format")]
    pub format: String,
    /// How often the globs are expanded and the files read, in milliseconds.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
}

fn default_max_line_bytes() -> usize {
    super::lines::DEFAULT_MAX_LINE_BYTES
}

pub(crate) fn default_format() -> String {
    "auto".to_string()
}

fn default_poll_interval_ms() -> u64 {
    1000
}

impl FileConfig {
    /// Checks the globs.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.include.is_empty() {
            return Err(("include", "expected at least one glob".into()));
        }
        for g in &self.include {
            glob::Pattern::new(g).map_err(|e| ("include", format!("bad glob {g:?}: {e}")))?;
        }
        for g in &self.exclude {
            glob::Pattern::new(g).map_err(|e| ("exclude", format!("bad glob {g:?}: {e}")))?;
        }
        if self.max_line_bytes == 0 {
            return Err(("max_line_bytes", "expected at least 1".into()));
        }
        if self.poll_interval_ms == 0 {
            return Err(("poll_interval_ms", "expected at least 1".into()));
        }
        Ok(())
    }
}

/// A file's fingerprint is a checksum of its first line, of at most this many bytes of it.
const FINGERPRINT_BYTES: usize = 1024;
/// Bytes read from one file in one pass before the other files get their turn.
const PASS_BYTES: u64 = 64 << 20;
/// Bytes read in one blocking step, so that a stop is seen soon even inside a huge line.
const STEP_BYTES: u64 = 4 << 20;
/// The read buffer.
const READ_BUF_BYTES: usize = 64 << 10;
/// How long shutdown waits for the pipeline to acknowledge what was sent.
const ACK_WAIT: Duration = Duration::from_secs(10);
/// The shortest pause between polls woken by the watcher: a busy log directory sends events
/// all the time, and each would otherwise start a poll.
const MIN_GAP: Duration = Duration::from_millis(50);

/// The file source stopped on an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileSourceError {
    /// The checkpoints could not be read or written: `data_dir` is missing, read-only or full,
    /// or the checkpoint file is damaged.
    #[error("file source {id:?}: checkpoints: {source}")]
    Checkpoint {
        /// The source's id.
        id: String,
        /// What failed, with the path.
        source: CheckpointError,
    },
}

/// The checkpoints, shared by the reader and the acknowledgements.
type Table = Arc<Mutex<Checkpoints>>;

/// Locks the table; a panic elsewhere while it was held leaves plain numbers, still usable.
fn lock(table: &Mutex<Checkpoints>) -> MutexGuard<'_, Checkpoints> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Tails the files of `cfg` until `cx.shutdown` is cancelled or the pipeline is gone; then
/// waits (at most 10 s) for the batches sent to be acknowledged, saves the checkpoints and
/// returns. Only a checkpoint that cannot be read or written is an error.
pub async fn run(cfg: FileConfig, cx: Context) -> Result<(), FileSourceError> {
    let err = |source| FileSourceError::Checkpoint {
        id: cx.id.clone(),
        source,
    };
    let table: Table = Arc::new(Mutex::new(
        Checkpoints::open(&cx.data_dir.join("checkpoints"), &cx.id).map_err(err)?,
    ));
    let acks = Arc::new(Outstanding {
        count: AtomicUsize::new(0),
        changed: Notify::new(),
    });
    let (wake_tx, mut wake_rx) = mpsc::channel(1);
    let mut watch = Watch::new(&cfg.include, wake_tx, &cx.id);
    let interval = Duration::from_millis(cfg.poll_interval_ms.max(1));
    let gauge = metrics::gauge!("dante_file_watched", "source" => cx.id.clone());
    let mut files = Files::new(&cfg, &cx.id, table.clone());
    let mut last_flush: Option<Instant> = None;

    let stop = 'run: loop {
        watch.refresh();
        files = match blocking(move || {
            files.scan();
            files
        })
        .await
        {
            Some(f) => f,
            None => return Ok(()),
        };
        gauge.set(files.open() as f64);
        loop {
            let id = cx.id.clone();
            let (f, events, step) = match blocking(move || {
                let mut events = Vec::new();
                let step = files.step(&mut |line, cut| events.push(line_event(&id, line, cut)));
                (files, events, step)
            })
            .await
            {
                Some(v) => v,
                None => return Ok(()),
            };
            files = f;
            match step {
                Step::Done => break,
                Step::Busy => {}
                Step::Batch(mark) => {
                    let ack = acks.ack(&table, mark);
                    tokio::select! {
                        biased;
                        sent = cx.send(events, Some(ack)) => if !sent {
                            break 'run Stop::PipelineGone;
                        },
                        // A batch not sent is dropped with its ack: read again after a restart.
                        () = cx.shutdown.cancelled() => break 'run Stop::Shutdown,
                    }
                }
            }
            if cx.shutdown.is_cancelled() {
                break 'run Stop::Shutdown;
            }
        }
        gauge.set(files.open() as f64);
        if last_flush.is_none_or(|t| t.elapsed() >= interval) && lock(&table).is_dirty() {
            flush(&table).await.map_err(err)?;
            last_flush = Some(Instant::now());
        }
        if files.more() {
            // A file was left before its end to be fair to the others: go on at once.
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = cx.shutdown.cancelled() => break Stop::Shutdown,
            Some(()) = wake_rx.recv() => tokio::select! {
                () = tokio::time::sleep(MIN_GAP.min(interval)) => {}
                () = cx.shutdown.cancelled() => break Stop::Shutdown,
            },
        }
    };
    drop(files);
    gauge.set(0.0);
    if stop == Stop::Shutdown {
        acks.wait(ACK_WAIT, &cx.id).await;
    }
    flush(&table).await.map_err(err)
}

#[derive(Debug, PartialEq, Eq)]
enum Stop {
    Shutdown,
    PipelineGone,
}

/// Runs blocking file work off the async threads. `None` when the runtime is shutting down.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => Some(v),
        // A panic is a bug in this module, not bad input: let it surface as one.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => None,
    }
}

/// Writes the checkpoints if they changed.
async fn flush(table: &Table) -> Result<(), CheckpointError> {
    let Some(snapshot) = lock(table).snapshot() else {
        return Ok(());
    };
    match blocking(move || snapshot.write()).await {
        Some(Err(e)) => {
            lock(table).mark_dirty();
            Err(e)
        }
        Some(Ok(())) | None => Ok(()),
    }
}

/// Batches sent whose ack was neither run nor dropped yet.
struct Outstanding {
    count: AtomicUsize,
    changed: Notify,
}

/// One outstanding batch; dropping it (ack run, or batch dropped unacknowledged) counts it out.
struct Pending(Arc<Outstanding>);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_one();
    }
}

impl Outstanding {
    /// The ack of a batch: records its end offset for its fingerprint.
    fn ack(self: &Arc<Self>, table: &Table, mark: Mark) -> Ack {
        self.count.fetch_add(1, Ordering::SeqCst);
        let pending = Pending(self.clone());
        let table = table.clone();
        Ack::new(move || {
            lock(&table).record(&mark.fingerprint, mark.seq, mark.offset, &mark.path);
            drop(pending);
        })
    }

    /// Waits until every batch was acknowledged (or dropped), at most `limit`.
    async fn wait(&self, limit: Duration, id: &str) {
        let deadline = Instant::now() + limit;
        loop {
            let left = self.count.load(Ordering::SeqCst);
            if left == 0 {
                return;
            }
            // `notify_one` keeps a permit when nobody waits, so an ack between the load and
            // here is not missed.
            if tokio::time::timeout_at(deadline, self.changed.notified())
                .await
                .is_err()
            {
                tracing::warn!(
                    source = id,
                    batches = left,
                    "stopping with batches not acknowledged; their lines will be read again"
                );
                return;
            }
        }
    }
}

/// The inotify watcher that wakes the poller early, if there is one.
struct Watch {
    watcher: Option<notify::RecommendedWatcher>,
    dirs: Vec<(PathBuf, RecursiveMode)>,
    added: HashSet<PathBuf>,
    failed: HashSet<PathBuf>,
    id: String,
}

impl Watch {
    fn new(include: &[String], wake: mpsc::Sender<()>, id: &str) -> Self {
        let handler = move |res: notify::Result<notify::Event>| {
            // Opening and reading (our own too) must not wake the poller, or it would spin.
            let wakes = match res {
                Ok(ev) => !matches!(
                    ev.kind,
                    EventKind::Access(_)
                        | EventKind::Modify(notify::event::ModifyKind::Metadata(_))
                ),
                Err(_) => true,
            };
            if wakes {
                // Full means a wake-up is already pending.
                let _ = wake.try_send(());
            }
        };
        let watcher = match notify::recommended_watcher(handler) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(source = id, error = %e, "cannot watch for file changes; polling only");
                None
            }
        };
        let mut dirs: Vec<(PathBuf, RecursiveMode)> = Vec::new();
        for g in include {
            let d = glob_base(g);
            if !dirs.iter().any(|x| x.0 == d.0) {
                dirs.push(d);
            }
        }
        Self {
            watcher,
            dirs,
            added: HashSet::new(),
            failed: HashSet::new(),
            id: id.to_string(),
        }
    }

    /// Watches the directories that exist now and are not watched yet.
    fn refresh(&mut self) {
        let Some(w) = &mut self.watcher else {
            return;
        };
        for (dir, mode) in &self.dirs {
            if self.added.contains(dir) || !dir.is_dir() {
                continue;
            }
            match w.watch(dir, *mode) {
                Ok(()) => {
                    self.added.insert(dir.clone());
                }
                Err(e) => {
                    if self.failed.insert(dir.clone()) {
                        tracing::warn!(
                            source = %self.id,
                            dir = %dir.display(),
                            error = %e,
                            "cannot watch directory; polling only"
                        );
                    }
                }
            }
        }
    }
}

/// The directory to watch for a glob: the path before its first component with a wildcard
/// (recursively if more components follow), or the file's directory when there is none.
fn glob_base(pattern: &str) -> (PathBuf, RecursiveMode) {
    let comps: Vec<Component> = Path::new(pattern).components().collect();
    let wild = comps
        .iter()
        .position(|c| c.as_os_str().to_string_lossy().contains(['*', '?', '[']));
    let (end, mode) = match wild {
        Some(i) if i + 1 < comps.len() => (i, RecursiveMode::Recursive),
        Some(i) => (i, RecursiveMode::NonRecursive),
        None => (comps.len().saturating_sub(1), RecursiveMode::NonRecursive),
    };
    let base: PathBuf = comps[..end].iter().collect();
    if base.as_os_str().is_empty() {
        (PathBuf::from("."), mode)
    } else {
        (base, mode)
    }
}

/// A file's device and inode: the same file whatever its name (renames keep it).
type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(m: &Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

/// Without inodes a file is known by its path and fingerprint only: a rename then looks like a
/// deletion and a copy, which still reads every line once, just later.
#[cfg(not(unix))]
fn file_id(_: &Metadata) -> Option<FileId> {
    None
}

/// The fingerprint of a file: FNV-1a of its first line with its newline, or of its first
/// [`FINGERPRINT_BYTES`] bytes when the line is longer; `None` until either is there.
fn fingerprint(mut file: &File) -> io::Result<Option<String>> {
    let mut buf = [0u8; FINGERPRINT_BYTES];
    file.seek(SeekFrom::Start(0))?;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => {
                if memchr::memchr(b'\n', &buf[n..n + k]).is_some() {
                    n += k;
                    break;
                }
                n += k;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = match memchr::memchr(b'\n', &buf[..n]) {
        Some(i) => &buf[..=i],
        None if n == buf.len() => &buf[..],
        None => return Ok(None),
    };
    Ok(Some(fnv1a_hex(head.iter().copied())))
}

/// Buffers shared by all files of a source: the read buffer and the line handed out.
#[derive(Debug)]
struct Scratch {
    buf: Vec<u8>,
    line: Vec<u8>,
    max_line: usize,
}

impl Scratch {
    fn new(max_line: usize, buf_bytes: usize) -> Self {
        Self {
            buf: vec![0; buf_bytes.max(1)],
            line: Vec::new(),
            max_line: max_line.max(1),
        }
    }
}

/// Hands out one complete line (without its newline); `more` says bytes after `bytes` were
/// dropped. The line reader's rules apply (a `\r` before the newline dropped, a long line cut on
/// a character boundary and flagged): one byte past what was kept tells it the line went on.
fn emit_line(
    bytes: &[u8],
    more: bool,
    line: &mut Vec<u8>,
    max_line: usize,
    emit: &mut dyn FnMut(&[u8], bool),
) {
    let past: &[u8] = if more { b"\0" } else { b"" };
    let mut reader = LineReader::new(bytes.chain(past), max_line);
    match reader.read_line(line) {
        Ok(Some(info)) => emit(line, info.truncated),
        // Nothing to read is the empty line; reading from memory does not fail.
        Ok(None) | Err(_) => emit(b"", false),
    }
}

/// What one [`Tailer::read_available`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    /// Complete lines handed out.
    lines: usize,
    /// Bytes read from the file.
    bytes: u64,
    /// The end of the file was reached (else a limit stopped it).
    eof: bool,
}

/// One open file: where it is read up to, and the line it is in the middle of.
#[derive(Debug)]
struct Tailer {
    file: File,
    /// Where it was last seen.
    path: PathBuf,
    id: Option<FileId>,
    fingerprint: String,
    /// Bytes consumed from the file.
    pos: u64,
    /// After the last complete line handed out: where a checkpoint may point.
    committed: u64,
    /// The start of the line being read (at most `max_line + 1` bytes of it).
    partial: Vec<u8>,
    /// Bytes of the line being read were dropped past `partial`.
    overflow: bool,
    /// Not at any watched path at the last scan.
    orphan: bool,
    /// Bytes read since the last scan.
    got: u64,
    /// Gone and quiet: read it to its end, hand out its last partial line, close it.
    releasing: bool,
    /// Closed (released, or failed): dropped at the end of the pass.
    done: bool,
}

impl Tailer {
    fn new(file: File, path: PathBuf, id: Option<FileId>, fingerprint: String, at: u64) -> Self {
        Self {
            file,
            path,
            id,
            fingerprint,
            pos: at,
            committed: at,
            partial: Vec::new(),
            overflow: false,
            orphan: false,
            got: 0,
            releasing: false,
            done: false,
        }
    }

    /// Reads complete lines from the position on, handing each to `emit`, until the end of the
    /// file, `max_lines` lines or about `max_bytes` bytes. A last line without its newline is
    /// kept (at most `max_line + 1` bytes of it) until its newline comes.
    fn read_available(
        &mut self,
        s: &mut Scratch,
        max_lines: usize,
        max_bytes: u64,
        emit: &mut dyn FnMut(&[u8], bool),
    ) -> io::Result<Progress> {
        let mut p = Progress {
            lines: 0,
            bytes: 0,
            eof: false,
        };
        (&self.file).seek(SeekFrom::Start(self.pos))?;
        while p.lines < max_lines && p.bytes < max_bytes {
            let n = match (&self.file).read(&mut s.buf) {
                Ok(0) => {
                    p.eof = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut used = 0;
            while used < n && p.lines < max_lines {
                let rest = &s.buf[used..n];
                match memchr::memchr(b'\n', rest) {
                    Some(i) => {
                        if self.partial.is_empty() && !self.overflow {
                            emit_line(&rest[..i], false, &mut s.line, s.max_line, emit);
                        } else {
                            self.push_partial(&rest[..i], s.max_line);
                            emit_line(&self.partial, self.overflow, &mut s.line, s.max_line, emit);
                            self.partial.clear();
                            self.overflow = false;
                        }
                        used += i + 1;
                        self.committed = self.pos + used as u64;
                        p.lines += 1;
                    }
                    None => {
                        self.push_partial(rest, s.max_line);
                        used = n;
                    }
                }
            }
            self.pos += used as u64;
            p.bytes += used as u64;
        }
        self.got += p.bytes;
        Ok(p)
    }

    /// Keeps the start of an unfinished line, at most one byte more than the cap (room for a
    /// `\r` before the newline); the rest is only counted as dropped.
    fn push_partial(&mut self, piece: &[u8], max_line: usize) {
        let room = (max_line + 1).saturating_sub(self.partial.len());
        if piece.len() > room {
            self.overflow = true;
        }
        self.partial
            .extend_from_slice(&piece[..piece.len().min(room)]);
    }

    /// Hands out the unfinished last line, if any, as it is (the file is being released).
    fn flush_partial(&mut self, s: &mut Scratch, emit: &mut dyn FnMut(&[u8], bool)) -> bool {
        if self.partial.is_empty() && !self.overflow {
            return false;
        }
        emit_line(&self.partial, self.overflow, &mut s.line, s.max_line, emit);
        self.partial.clear();
        self.overflow = false;
        self.committed = self.pos;
        true
    }

    /// Back to the start of the file (it was truncated in place).
    fn restart(&mut self) {
        self.pos = 0;
        self.committed = 0;
        self.partial.clear();
        self.overflow = false;
    }
}

/// What a batch of lines from one file advances: its ack records `offset` for `fingerprint`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    fingerprint: String,
    /// Orders the updates of a fingerprint's checkpoint.
    seq: u64,
    offset: u64,
    path: PathBuf,
}

/// What one [`Files::step`] gave.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Lines from one file were handed out; their ack records the mark.
    Batch(Mark),
    /// Read a lot without a complete line: call again (after looking at the stop signal).
    Busy,
    /// Every file was read to its end (or its share): the pass is over.
    Done,
}

/// The files of one source and what is known about them: the synchronous core of the source,
/// driven by [`run`] (and directly by the tests). A poll is one [`Files::scan`] followed by
/// [`Files::step`] until it says [`Step::Done`].
#[derive(Debug)]
struct Files {
    id: String,
    include: Vec<String>,
    exclude: Vec<glob::Pattern>,
    read_from: ReadFrom,
    table: Table,
    tailers: Vec<Tailer>,
    /// The next scan is the first: files without a checkpoint start where `read_from` says.
    startup: bool,
    seq: u64,
    /// The tailer read next in this pass, and the bytes read from it in this pass.
    cursor: usize,
    pass_bytes: u64,
    /// A file was left before its end in this pass.
    more: bool,
    scratch: Scratch,
    /// Paths whose error was reported (once until they are fine or gone again).
    reported: HashSet<PathBuf>,
    /// Paths skipped because an open file has their fingerprint (reported once).
    duplicates: HashSet<PathBuf>,
}

impl Files {
    fn new(cfg: &FileConfig, id: &str, table: Table) -> Self {
        let mut include = Vec::new();
        for g in &cfg.include {
            match glob::Pattern::new(g) {
                Ok(_) => include.push(g.clone()),
                Err(e) => {
                    tracing::warn!(source = id, glob = %g, error = %e, "bad include glob; ignored")
                }
            }
        }
        let mut exclude = Vec::new();
        for g in &cfg.exclude {
            match glob::Pattern::new(g) {
                Ok(p) => exclude.push(p),
                Err(e) => {
                    tracing::warn!(source = id, glob = %g, error = %e, "bad exclude glob; ignored")
                }
            }
        }
        Self {
            id: id.to_string(),
            include,
            exclude,
            read_from: cfg.read_from,
            table,
            tailers: Vec::new(),
            startup: true,
            seq: 0,
            cursor: 0,
            pass_bytes: 0,
            more: false,
            scratch: Scratch::new(cfg.max_line_bytes, READ_BUF_BYTES),
            reported: HashSet::new(),
            duplicates: HashSet::new(),
        }
    }

    /// How many files are open.
    fn open(&self) -> usize {
        self.tailers.len()
    }

    /// The last pass left a file before its end.
    fn more(&self) -> bool {
        self.more
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Logs and counts a file that cannot be read, once until it is fine or gone again.
    fn report(&mut self, path: &Path, e: &io::Error) {
        if self.reported.insert(path.to_path_buf()) {
            tracing::warn!(
                source = %self.id,
                path = %path.display(),
                error = %e,
                "cannot read file; skipping it"
            );
            metrics::counter!("dante_source_errors_total", "source" => self.id.clone())
                .increment(1);
        }
    }

    /// The paths the globs match now, minus the excluded ones.
    fn expand(&self) -> BTreeSet<PathBuf> {
        let mut out = BTreeSet::new();
        for g in &self.include {
            let Ok(paths) = glob::glob(g) else {
                continue;
            };
            for entry in paths {
                match entry {
                    Ok(p) => {
                        if !self.exclude.iter().any(|x| x.matches_path(&p)) {
                            out.insert(p);
                        }
                    }
                    Err(e) => tracing::debug!(source = %self.id, error = %e, "glob: unreadable"),
                }
            }
        }
        out
    }

    /// Looks at the world: follows renames, notices truncation and files gone, opens new
    /// files. Starts a new pass.
    fn scan(&mut self) {
        self.tailers.retain(|t| !t.done);
        let found = self.expand();
        let mut by_id: HashMap<FileId, PathBuf> = HashMap::new();
        let mut candidates = Vec::new();
        for p in &found {
            match fs::metadata(p) {
                // Not a regular file (a directory, a FIFO that would block the open): skipped.
                Ok(m) if !m.is_file() => {}
                Ok(m) => {
                    if let Some(id) = file_id(&m) {
                        by_id.entry(id).or_insert_with(|| p.clone());
                    }
                    candidates.push(p.clone());
                }
                Err(e) => self.report(p, &e),
            }
        }

        let mut claimed: HashSet<PathBuf> = HashSet::new();
        let mut i = 0;
        while i < self.tailers.len() {
            let t = &mut self.tailers[i];
            let here = match t.id {
                Some(id) => by_id.get(&id).cloned(),
                None => found.contains(&t.path).then(|| t.path.clone()),
            };
            let orphan = here.is_none();
            if let Some(p) = here
                && p != t.path
            {
                tracing::debug!(source = %self.id, from = %t.path.display(), to = %p.display(), "file renamed");
                t.path = p;
            }
            // Gone at the last scan too and nothing new since: nobody writes to it any more.
            if orphan && t.orphan && t.got == 0 {
                t.releasing = true;
            }
            t.orphan = orphan;
            t.got = 0;
            if !t.releasing {
                match self.check_truncated(i) {
                    Ok(true) => {
                        // Dropped: its path is a new file for the candidates below.
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        let path = self.tailers[i].path.clone();
                        self.report(&path, &e);
                        self.release(i);
                        self.tailers.remove(i);
                        continue;
                    }
                }
            }
            let t = &self.tailers[i];
            if !t.orphan {
                claimed.insert(t.path.clone());
            }
            i += 1;
        }

        for p in candidates {
            if !claimed.contains(&p) {
                self.start(p);
            }
        }
        self.reported.retain(|p| found.contains(p));
        self.duplicates.retain(|p| found.contains(p));
        lock(&self.table).touch_and_prune(
            self.tailers.iter().map(|t| t.fingerprint.as_str()),
            now_secs(),
        );
        self.startup = false;
        self.cursor = 0;
        self.pass_bytes = 0;
        self.more = false;
    }

    /// Whether the file of tailer `i` was truncated in place. With the same first line it is
    /// read again from its start; with another (or none yet) it is a new file: the tailer is
    /// removed and `true` returned.
    fn check_truncated(&mut self, i: usize) -> io::Result<bool> {
        let t = &mut self.tailers[i];
        let size = t.file.metadata()?.len();
        let now = fingerprint(&t.file)?;
        if size >= t.pos && now.as_deref() == Some(t.fingerprint.as_str()) {
            return Ok(false);
        }
        tracing::debug!(source = %self.id, path = %t.path.display(), "file truncated");
        if now.as_deref() == Some(t.fingerprint.as_str()) {
            t.restart();
            let (fp, path) = (t.fingerprint.clone(), t.path.clone());
            let seq = self.next_seq();
            lock(&self.table).record(&fp, seq, 0, &path);
            return Ok(false);
        }
        // What was read of it may go on in a copy (copytruncate into a watched path).
        self.release(i);
        self.tailers.remove(i);
        Ok(true)
    }

    /// Remembers where tailer `i` stopped, for a file with its fingerprint found later.
    fn release(&mut self, i: usize) {
        let t = &mut self.tailers[i];
        t.done = true;
        lock(&self.table).released(&t.fingerprint, t.committed);
    }

    /// Opens a file found at `path` that no open file is at.
    fn start(&mut self, path: PathBuf) {
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) => return self.report(&path, &e),
        };
        let (meta, fp) = match file.metadata().and_then(|m| Ok((m, fingerprint(&file)?))) {
            Ok((m, Some(fp))) => (m, fp),
            // No complete first line yet: looked at again next scan.
            Ok((_, None)) => return,
            Err(e) => return self.report(&path, &e),
        };
        self.reported.remove(&path);
        if self.tailers.iter().any(|t| t.fingerprint == fp) {
            if self.duplicates.insert(path.clone()) {
                tracing::debug!(
                    source = %self.id,
                    path = %path.display(),
                    "same first line as a file already read; skipped while that one is open"
                );
            }
            return;
        }
        let size = meta.len();
        let seq = self.next_seq();
        let mut table = lock(&self.table);
        let at = match table.start(&fp) {
            Some(at) if at <= size => at,
            // Shorter than its checkpoint: another file with the same first line.
            Some(_) => {
                table.record(&fp, seq, 0, &path);
                0
            }
            None => {
                let at = if self.startup && self.read_from == ReadFrom::End {
                    size
                } else {
                    0
                };
                // Recorded now, so that after a restart this file is not taken for one that
                // was there at startup (and skipped to its end).
                table.record(&fp, seq, at, &path);
                at
            }
        };
        drop(table);
        tracing::debug!(source = %self.id, path = %path.display(), offset = at, "watching file");
        self.tailers
            .push(Tailer::new(file, path, file_id(&meta), fp, at));
    }

    /// Reads on in this pass: the next lines of one file (at most [`BATCH_LINES`]) go to
    /// `emit`.
    fn step(&mut self, emit: &mut dyn FnMut(&[u8], bool)) -> Step {
        let mut step_bytes = 0;
        while self.cursor < self.tailers.len() {
            if step_bytes >= STEP_BYTES {
                return Step::Busy;
            }
            if self.tailers[self.cursor].done {
                self.next_file();
                continue;
            }
            if self.pass_bytes >= PASS_BYTES {
                self.more = true;
                self.next_file();
                continue;
            }
            let budget = (PASS_BYTES - self.pass_bytes).min(STEP_BYTES - step_bytes);
            let t = &mut self.tailers[self.cursor];
            let p = match t.read_available(&mut self.scratch, BATCH_LINES, budget, emit) {
                Ok(p) => p,
                Err(e) => {
                    let path = t.path.clone();
                    self.report(&path, &e);
                    self.release(self.cursor);
                    self.next_file();
                    continue;
                }
            };
            self.pass_bytes += p.bytes;
            step_bytes += p.bytes;
            let mut lines = p.lines;
            if p.eof && t.releasing {
                if t.flush_partial(&mut self.scratch, emit) {
                    lines += 1;
                }
                tracing::debug!(source = %self.id, path = %t.path.display(), "file released");
                self.release(self.cursor);
            }
            let batch = (lines > 0).then(|| {
                let t = &self.tailers[self.cursor];
                Mark {
                    fingerprint: t.fingerprint.clone(),
                    seq: 0,
                    offset: t.committed,
                    path: t.path.clone(),
                }
            });
            if p.eof {
                self.next_file();
            }
            if let Some(mut mark) = batch {
                mark.seq = self.next_seq();
                return Step::Batch(mark);
            }
        }
        // Close released files now rather than at the next scan.
        self.tailers.retain(|t| !t.done);
        self.cursor = self.tailers.len();
        Step::Done
    }

    fn next_file(&mut self) {
        self.cursor += 1;
        self.pass_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::source::Batch;
    use proptest::prelude::*;
    use std::io::Write;
    use tokio::task::JoinHandle;
    use tokio_util::sync::CancellationToken;

    /// How long a test waits for something that should happen within a few polls.
    const WAIT: Duration = Duration::from_secs(10);

    fn tempdir() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        // Canonical, so that paths compare with what /proc/self/fd shows.
        let path = dir.path().canonicalize().unwrap();
        (dir, path)
    }

    fn config(include: &[&Path], read_from: ReadFrom) -> FileConfig {
        FileConfig {
            include: include
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
            exclude: Vec::new(),
            read_from,
            max_line_bytes: 64 * 1024,
            format: "auto".into(),
            poll_interval_ms: 10,
        }
    }

    fn append(path: &Path, bytes: impl AsRef<[u8]>) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(bytes.as_ref()).unwrap();
    }

    /// A running source and the receiving end of its batches.
    struct Running {
        rx: mpsc::Receiver<Batch>,
        shutdown: CancellationToken,
        task: JoinHandle<Result<(), FileSourceError>>,
    }

    fn start(cfg: FileConfig, data_dir: &Path) -> Running {
        let (out, rx) = mpsc::channel(16);
        let shutdown = CancellationToken::new();
        let cx = Context {
            id: "test".into(),
            index: 0,
            out,
            shutdown: shutdown.clone(),
            data_dir: data_dir.to_path_buf(),
        };
        Running {
            rx,
            shutdown,
            task: tokio::spawn(run(cfg, cx)),
        }
    }

    impl Running {
        async fn batch(&mut self) -> Batch {
            tokio::time::timeout(WAIT, self.rx.recv())
                .await
                .expect("timed out waiting for a batch")
                .expect("the source stopped")
        }

        /// Exactly the next `n` events, their batches acknowledged.
        async fn events(&mut self, n: usize) -> Vec<Event> {
            let mut out = Vec::new();
            while out.len() < n {
                let b = self.batch().await;
                assert_eq!(b.source, 0);
                out.extend(b.events);
                if let Some(ack) = b.ack {
                    ack.done();
                }
            }
            assert_eq!(out.len(), n, "more lines than expected: {out:?}");
            out
        }

        async fn lines(&mut self, n: usize) -> Vec<String> {
            self.events(n)
                .await
                .into_iter()
                .map(|e| e.message)
                .collect()
        }

        /// Stops the source; batches not received yet are dropped unacknowledged.
        async fn stop(self) {
            self.shutdown.cancel();
            drop(self.rx);
            tokio::time::timeout(WAIT, self.task)
                .await
                .expect("the source did not stop")
                .unwrap()
                .unwrap();
        }
    }

    async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn checkpoint_file(data: &Path) -> PathBuf {
        data.join("checkpoints").join("test.json")
    }

    /// Whether this process has a file descriptor open on `path` (deleted or not).
    #[cfg(target_os = "linux")]
    fn fd_open(path: &Path) -> bool {
        let deleted = format!("{} (deleted)", path.display());
        fs::read_dir("/proc/self/fd").is_ok_and(|dir| {
            dir.flatten().any(|e| {
                fs::read_link(e.path())
                    .is_ok_and(|t| t == path || t.as_os_str() == deleted.as_str())
            })
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn fd_open(_: &Path) -> bool {
        false
    }

    #[tokio::test]
    async fn appended_lines_are_read() {
        let (_t, dir) = tempdir();
        let log = dir.join("app.log");
        append(&log, "a\nb\n");
        let mut src = start(config(&[&log], ReadFrom::Beginning), &dir);
        let got = src.events(2).await;
        assert_eq!(got[0].message, "a");
        assert!(got[0].header_pending && !got[0].truncated);
        append(&log, "c\r\n\nd\n");
        assert_eq!(src.lines(3).await, ["c", "", "d"]);
        src.stop().await;
    }

    #[tokio::test]
    async fn read_from_end_skips_what_was_there_at_startup() {
        let (_t, dir) = tempdir();
        let log = dir.join("app.log");
        append(&log, "old 1\nold 2\n");
        let mut src = start(config(&[&log], ReadFrom::End), &dir);
        // The start position is saved once the first poll saw the file.
        wait_until("the checkpoint is written", || {
            checkpoint_file(&dir).exists()
        })
        .await;
        append(&log, "new\n");
        assert_eq!(src.lines(1).await, ["new"]);
        src.stop().await;
    }

    #[tokio::test]
    async fn a_file_created_later_is_read_from_its_start() {
        let (_t, dir) = tempdir();
        append(&dir.join("a.log"), "there before\n");
        let mut src = start(config(&[&dir.join("*.log")], ReadFrom::End), &dir);
        wait_until("the checkpoint is written", || {
            checkpoint_file(&dir).exists()
        })
        .await;
        append(&dir.join("b.log"), "b1\nb2\n");
        assert_eq!(src.lines(2).await, ["b1", "b2"]);
        src.stop().await;
    }

    #[tokio::test]
    async fn rotation_by_rename_reads_the_old_file_to_its_end_then_the_new_one() {
        let (_t, dir) = tempdir();
        let log = dir.join("app.log");
        let rotated = dir.join("app.log.1");
        append(&log, "1\n2\n");
        let mut src = start(config(&[&log], ReadFrom::Beginning), &dir);
        assert_eq!(src.lines(2).await, ["1", "2"]);

        // Written just before the rename (the last one without its newline), and after it.
        append(&log, "3\n4\nunfinished");
        fs::rename(&log, &rotated).unwrap();
        append(&log, "5\n6\n");
        let got = src.lines(5).await;
        let old: Vec<&str> = got
            .iter()
            .filter(|l| ["3", "4", "unfinished"].contains(&l.as_str()))
            .map(String::as_str)
            .collect();
        let new: Vec<&str> = got
            .iter()
            .filter(|l| ["5", "6"].contains(&l.as_str()))
            .map(String::as_str)
            .collect();
        assert_eq!(old, ["3", "4", "unfinished"], "{got:?}");
        assert_eq!(new, ["5", "6"], "{got:?}");

        // No longer at a watched path and quiet: closed.
        wait_until("the rotated file is closed", || !fd_open(&rotated)).await;
        append(&log, "7\n");
        assert_eq!(src.lines(1).await, ["7"]);
        src.stop().await;
    }

    #[tokio::test]
    async fn copytruncate_starts_the_file_again() {
        let (_t, dir) = tempdir();
        let log = dir.join("app.log");
        append(&log, "l1\nl2\nl3\n");
        let mut src = start(config(&[&log], ReadFrom::Beginning), &dir);
        assert_eq!(src.lines(3).await, ["l1", "l2", "l3"]);

        fs::copy(&log, dir.join("app.log.1")).unwrap();
        File::options()
            .write(true)
            .open(&log)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&log, "n1\nn2\nn3\nn4\n");
        assert_eq!(src.lines(4).await, ["n1", "n2", "n3", "n4"]);

        // Truncated again and rewritten with the same first line: shorter than the position.
        File::options()
            .write(true)
            .open(&log)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&log, "n1\n");
        assert_eq!(src.lines(1).await, ["n1"]);
        src.stop().await;
    }

    #[tokio::test]
    async fn a_deleted_file_is_read_to_its_end_and_closed() {
        let (_t, dir) = tempdir();
        let log = dir.join("gone.log");
        append(&log, "a\n");
        let mut src = start(config(&[&dir.join("*.log")], ReadFrom::Beginning), &dir);
        assert_eq!(src.lines(1).await, ["a"]);
        append(&log, "b\nlast");
        fs::remove_file(&log).unwrap();
        assert_eq!(src.lines(2).await, ["b", "last"]);
        wait_until("the deleted file is closed", || !fd_open(&log)).await;
        src.stop().await;
    }

    #[tokio::test]
    async fn a_partial_line_waits_for_its_newline() {
        let (_t, dir) = tempdir();
        let log = dir.join("app.log");
        append(&log, "first\nhel");
        let mut src = start(config(&[&log], ReadFrom::Beginning), &dir);
        assert_eq!(src.lines(1).await, ["first"]);
        append(&log, "lo\n");
        assert_eq!(src.lines(1).await, ["hello"]);
        src.stop().await;
    }

    #[tokio::test]
    async fn a_huge_line_is_cut_and_flagged_and_the_next_survives() {
        let (_t, dir) = tempdir();
        let log = dir.join("app.log");
        let mut bytes = vec![b'x'; 1 << 20];
        bytes.extend_from_slice(b"\nnext\n");
        append(&log, &bytes);
        let mut cfg = config(&[&log], ReadFrom::Beginning);
        cfg.max_line_bytes = 1000;
        let mut src = start(cfg, &dir);
        let got = src.events(2).await;
        assert_eq!(got[0].message.len(), 1000);
        assert!(got[0].truncated);
        assert_eq!(got[1].message, "next");
        assert!(!got[1].truncated);
        src.stop().await;
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced() {
        let (_t, dir) = tempdir();
        let log = dir.join("app.log");
        append(&log, b"ok\xff\xfe!\n");
        let mut src = start(config(&[&log], ReadFrom::Beginning), &dir);
        assert_eq!(src.lines(1).await, ["ok\u{fffd}\u{fffd}!"]);
        src.stop().await;
    }

    #[tokio::test]
    async fn excluded_files_are_not_read() {
        let (_t, dir) = tempdir();
        append(&dir.join("skip.log"), "skipped\n");
        append(&dir.join("keep.log"), "k1\n");
        let mut cfg = config(&[&dir.join("*.log")], ReadFrom::Beginning);
        cfg.exclude = vec![dir.join("skip*").to_string_lossy().into_owned()];
        let mut src = start(cfg, &dir);
        assert_eq!(src.lines(1).await, ["k1"]);
        append(&dir.join("keep.log"), "k2\n");
        assert_eq!(src.lines(1).await, ["k2"]);
        src.stop().await;
    }

    #[tokio::test]
    async fn an_unreadable_file_does_not_stop_the_others() {
        let (_t, dir) = tempdir();
        // A dangling symlink (opening it fails) and, unless running as root, a file without
        // read permission.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("dangling.log")).unwrap();
            let locked = dir.join("locked.log");
            append(&locked, "locked\n");
            fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        }
        append(&dir.join("good.log"), "good\n");
        let mut src = start(config(&[&dir.join("*.log")], ReadFrom::Beginning), &dir);
        let mut got = Vec::new();
        while !got.contains(&"good".to_string()) {
            got.extend(src.lines(1).await);
        }
        append(&dir.join("good.log"), "still\n");
        while !got.contains(&"still".to_string()) {
            got.extend(src.lines(1).await);
        }
        src.stop().await;
    }

    #[tokio::test]
    async fn a_restart_goes_on_from_the_last_acknowledged_line() {
        let (_t, dir) = tempdir();
        let log = dir.join("app.log");
        let all: Vec<String> = (0..3000).map(|i| format!("line {i}")).collect();
        append(
            &log,
            all.iter().map(|l| format!("{l}\n")).collect::<String>(),
        );

        let mut src = start(config(&[&log], ReadFrom::Beginning), &dir);
        let first = src.batch().await;
        let acked = first.events.len();
        assert!(acked > 0 && acked < all.len(), "{acked}");
        first.ack.unwrap().done();
        // The rest is received but never acknowledged (dropped, as a pipeline that failed).
        let mut seen = acked;
        while seen < all.len() {
            seen += src.batch().await.events.len();
        }
        src.stop().await;

        // Started again (from the end, which the checkpoint overrides): exactly the lines not
        // acknowledged come again, then what is new.
        let mut src = start(config(&[&log], ReadFrom::End), &dir);
        assert_eq!(src.lines(all.len() - acked).await, all[acked..]);
        append(&log, "after\n");
        assert_eq!(src.lines(1).await, ["after"]);
        src.stop().await;

        // And everything was acknowledged this time.
        let mut src = start(config(&[&log], ReadFrom::Beginning), &dir);
        append(&log, "later\n");
        assert_eq!(src.lines(1).await, ["later"]);
        src.stop().await;
    }

    #[tokio::test]
    async fn a_broken_data_dir_is_an_error_naming_it() {
        let (_t, dir) = tempdir();
        // A file where the checkpoints directory should be.
        append(&dir.join("checkpoints"), "");
        let log = dir.join("app.log");
        let src = start(config(&[&log], ReadFrom::Beginning), &dir);
        let err = tokio::time::timeout(WAIT, src.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("checkpoints"), "{err}");
    }

    // The synchronous core.

    fn files(include: &Path, max_line: usize, buf: usize) -> (tempfile::TempDir, Files) {
        let t = tempfile::tempdir().unwrap();
        let table = Arc::new(Mutex::new(Checkpoints::open(t.path(), "test").unwrap()));
        let mut cfg = config(&[include], ReadFrom::Beginning);
        cfg.max_line_bytes = max_line;
        let mut f = Files::new(&cfg, "test", table);
        f.scratch = Scratch::new(max_line, buf);
        (t, f)
    }

    /// One poll: the lines read. The batches of the poll before are acknowledged only after
    /// this poll's scan (the pipeline lags), those of this poll are added to `unacked`.
    fn poll_acking_late(files: &mut Files, unacked: &mut Vec<Mark>) -> Vec<(String, bool)> {
        files.scan();
        for m in unacked.drain(..) {
            lock(&files.table).record(&m.fingerprint, m.seq, m.offset, &m.path);
        }
        let mut got = Vec::new();
        loop {
            let step = files.step(&mut |line, cut| {
                got.push((String::from_utf8_lossy(line).into_owned(), cut));
            });
            match step {
                Step::Done => return got,
                Step::Busy => {}
                Step::Batch(m) => unacked.push(m),
            }
        }
    }

    fn poll(files: &mut Files) -> Vec<(String, bool)> {
        let mut unacked = Vec::new();
        let got = poll_acking_late(files, &mut unacked);
        for m in unacked {
            lock(&files.table).record(&m.fingerprint, m.seq, m.offset, &m.path);
        }
        got
    }

    #[test]
    fn a_long_line_written_in_pieces_costs_at_most_the_cap() {
        let (_t, dir) = tempdir();
        let log = dir.join("app.log");
        append(&log, "head\n");
        let (_d, mut f) = files(&log, 100, 16);
        assert_eq!(poll(&mut f), [("head".to_string(), false)]);
        for _ in 0..50 {
            append(&log, [b'y'; 1000]);
            assert!(poll(&mut f).is_empty());
            assert!(f.tailers[0].partial.len() <= 101);
        }
        append(&log, "\r\nnext\r\n");
        assert_eq!(
            poll(&mut f),
            [("y".repeat(100), true), ("next".to_string(), false)]
        );
    }

    #[test]
    fn the_fingerprint_needs_a_first_line_or_a_kilobyte() {
        let (_t, dir) = tempdir();
        let p = dir.join("f");
        append(&p, "no newline yet");
        assert_eq!(fingerprint(&File::open(&p).unwrap()).unwrap(), None);
        append(&p, "\nsecond\n");
        let a = fingerprint(&File::open(&p).unwrap()).unwrap().unwrap();
        append(&p, "third\n");
        assert_eq!(fingerprint(&File::open(&p).unwrap()).unwrap(), Some(a));
        let q = dir.join("g");
        append(&q, vec![b'z'; 2000]);
        assert!(fingerprint(&File::open(&q).unwrap()).unwrap().is_some());
    }

    #[test]
    fn glob_bases() {
        assert_eq!(
            glob_base("/var/log/*.log"),
            (PathBuf::from("/var/log"), RecursiveMode::NonRecursive)
        );
        assert_eq!(
            glob_base("/var/log/auth.log"),
            (PathBuf::from("/var/log"), RecursiveMode::NonRecursive)
        );
        assert_eq!(
            glob_base("/srv/*/logs/app.log"),
            (PathBuf::from("/srv"), RecursiveMode::Recursive)
        );
        assert_eq!(
            glob_base("*.log"),
            (PathBuf::from("."), RecursiveMode::NonRecursive)
        );
    }

    /// A log written to by a program and rotated under it, as a model to check the tailer
    /// against: every line is `g<generation>:<n>:<filler>`, unique, and a generation is what
    /// one file holds between rotations.
    struct Sim {
        dir: PathBuf,
        log: PathBuf,
        /// The globs also match the rotated files (`app.log*`), or only `app.log`.
        wide: bool,
        max_line: usize,
        generation: usize,
        rotated: usize,
        /// The rest of a line half written.
        pending: Option<String>,
        /// The current file has a complete first line, and a poll saw it then.
        has_line: bool,
        seen: bool,
        /// Per generation, the lines written, in order.
        written: Vec<Vec<String>>,
        /// A file renamed away that the writer still writes to once, through its old handle,
        /// before it reopens the path (as a logger does until its SIGHUP is handled): its path,
        /// its generation, and the polls since the rename.
        late: Option<(PathBuf, usize, usize)>,
        got: Vec<(String, bool)>,
        unacked: Vec<Mark>,
    }

    #[derive(Debug, Clone)]
    enum Op {
        Append { fillers: Vec<usize>, half: bool },
        Rename { late: bool },
        CopyTruncate,
        Poll,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (prop::collection::vec(0usize..90, 0..6), any::<bool>())
                .prop_map(|(fillers, half)| Op::Append { fillers, half }),
            1 => any::<bool>().prop_map(|late| Op::Rename { late }),
            1 => Just(Op::CopyTruncate),
            3 => Just(Op::Poll),
        ]
    }

    impl Sim {
        fn line(&mut self, generation: usize, filler: usize) -> String {
            let n = self.written[generation].len();
            let l = format!("g{generation}:{n}:{}", "x".repeat(filler));
            self.written[generation].push(l.clone());
            l
        }

        fn append(&mut self, fillers: &[usize], half: bool) {
            // The file is released after the second poll that finds it gone and quiet: a
            // write later than that is lost, and not what this checks.
            if let Some((old, generation, polls)) = self.late.take()
                && polls < 2
            {
                let mut out = String::new();
                for &f in fillers {
                    out.push_str(&self.line(generation, f));
                    out.push('\n');
                }
                append(&old, out);
                return;
            }
            let mut out = String::new();
            if let Some(rest) = self.pending.take() {
                out.push_str(&rest);
                out.push('\n');
            }
            for &f in fillers {
                let l = self.line(self.generation, f);
                out.push_str(&l);
                out.push('\n');
            }
            if half {
                let l = self.line(self.generation, 20);
                let (a, b) = l.split_at(l.len() / 2);
                out.push_str(a);
                self.pending = Some(b.to_string());
            }
            self.has_line |= out.contains('\n');
            append(&self.log, out);
        }

        /// Loggers finish the line they are writing before they reopen their file.
        fn finish_line(&mut self) {
            if self.pending.is_some() {
                self.append(&[], false);
            }
        }

        fn poll(&mut self, f: &mut Files) {
            if let Some((_, _, polls)) = &mut self.late {
                *polls += 1;
            }
            self.seen |= self.has_line;
            self.got.extend(poll_acking_late(f, &mut self.unacked));
        }

        fn next_generation(&mut self) {
            self.generation += 1;
            self.written.push(Vec::new());
            self.has_line = false;
            self.seen = false;
        }

        fn rename(&mut self, f: &mut Files, late: bool) {
            self.finish_line();
            if !self.log.exists() {
                return;
            }
            // A file renamed away from the only watched path before any poll saw it is never
            // read: not what this checks.
            if !self.wide && !self.seen {
                self.poll(f);
            }
            self.rotated += 1;
            let to = self.dir.join(format!("app.log.{}", self.rotated));
            fs::rename(&self.log, &to).unwrap();
            // Unwatched, the old file is read only if it was open: a first line and a poll.
            let tracked = self.wide || self.seen;
            self.late = (late && tracked).then_some((to, self.generation, 0));
            self.next_generation();
        }

        fn copytruncate(&mut self, f: &mut Files) {
            self.finish_line();
            self.late = None;
            if !self.log.exists() {
                return;
            }
            // With only `app.log` watched, what was not read before the copy is lost.
            if !self.wide {
                self.poll(f);
            }
            self.rotated += 1;
            fs::copy(
                &self.log,
                self.dir.join(format!("app.log.{}", self.rotated)),
            )
            .unwrap();
            File::options()
                .write(true)
                .open(&self.log)
                .unwrap()
                .set_len(0)
                .unwrap();
            self.next_generation();
        }

        fn check(&self) -> Result<(), TestCaseError> {
            let mut per_gen: Vec<Vec<(String, bool)>> = vec![Vec::new(); self.written.len()];
            for (line, cut) in &self.got {
                let g: usize = line
                    .strip_prefix('g')
                    .and_then(|l| l.split(':').next())
                    .and_then(|g| g.parse().ok())
                    .ok_or_else(|| TestCaseError::fail(format!("not a line written: {line:?}")))?;
                per_gen[g].push((line.clone(), *cut));
            }
            for (g, lines) in self.written.iter().enumerate() {
                let want: Vec<(String, bool)> = lines
                    .iter()
                    .map(|l| {
                        (
                            l[..l.len().min(self.max_line)].to_string(),
                            l.len() > self.max_line,
                        )
                    })
                    .collect();
                prop_assert_eq!(&per_gen[g], &want, "generation {}", g);
            }
            Ok(())
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Appends, rotations by rename, copytruncates and polls in any order: every line is
        /// delivered exactly once, in order within its file, whatever the read buffer size.
        #[test]
        fn every_line_once_and_in_order(
            ops in prop::collection::vec(op(), 1..40),
            wide in any::<bool>(),
            buf in 1usize..64,
        ) {
            let (_t, dir) = tempdir();
            let log = dir.join("app.log");
            let glob = if wide { dir.join("app.log*") } else { log.clone() };
            let max_line = 40;
            let (_d, mut f) = files(&glob, max_line, buf);
            let mut sim = Sim {
                dir,
                log,
                wide,
                max_line,
                generation: 0,
                rotated: 0,
                pending: None,
                has_line: false,
                seen: false,
                written: vec![Vec::new()],
                late: None,
                got: Vec::new(),
                unacked: Vec::new(),
            };
            for op in ops {
                match op {
                    Op::Append { fillers, half } => sim.append(&fillers, half),
                    Op::Rename { late } => sim.rename(&mut f, late),
                    Op::CopyTruncate => sim.copytruncate(&mut f),
                    Op::Poll => sim.poll(&mut f),
                }
            }
            sim.finish_line();
            for _ in 0..4 {
                sim.poll(&mut f);
            }
            sim.check()?;
            if !wide {
                // Rotated files were released: only `app.log` may still be open.
                prop_assert!(f.open() <= 1, "{} files open", f.open());
            }
        }
    }
}
