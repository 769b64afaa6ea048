//! The disk queue in front of a webhook: `data_dir/queue/<sink id>/`.
//!
//! Append-only segments `NNNNNNNNNNNNNNNNNNNN.seg` (20-digit ids, one a writer start or every
//! `segment_bytes`), each a run of records `len: u32 LE | crc32(payload): u32 LE | payload`.
//! The file `ack` (replaced atomically) holds the position of the first record not yet
//! delivered; segments wholly before it are deleted.
//!
//! One [`Writer`] (the agent's core thread) appends; one [`Reader`] (the delivery task) reads in
//! order. The writer never appends to a segment it did not create, so every segment but the
//! newest is sealed: a short record at the end of a sealed segment is a torn write from a crash,
//! reported and skipped. A record whose checksum fails is reported with its file and offset, and
//! the reader looks for the next valid record after it; bad bytes never stop the queue.
//!
//! Durability ([`Fsync`]): with `batch`, [`Writer::flush`] fsyncs the segment (and, after a new
//! segment, the directory) before the pipeline acknowledges its batch, so an alert counts as
//! handed over only once it is on disk. With `never` the data survives a crash of the agent (it is
//! in the page cache) but not of the machine.

use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The largest record accepted: an alert is a few KiB.
pub const MAX_RECORD: usize = 1 << 20;

const HEADER: usize = 8;
const ACK_FILE: &str = "ack";
const SEGMENT_SUFFIX: &str = ".seg";

/// When the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Wait for room: the batch is not acknowledged meanwhile, the sources stop being read.
    #[default]
    Block,
    /// Drop the new alert, count it, and go on.
    DropNewest,
}

/// When appended records are fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Fsync {
    /// Once per pipeline batch, before its acknowledgement.
    #[default]
    Batch,
    /// Never explicitly: survives a crash of the agent, not a power loss.
    Never,
}

/// `queue = { ... }` of a webhook sink.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// The most bytes on disk (segments, delivered or not, until deleted).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// What happens to a new alert when the queue is full.
    #[serde(default)]
    pub when_full: WhenFull,
    /// When appends are made durable.
    #[serde(default)]
    pub fsync: Fsync,
}

fn default_max_bytes() -> u64 {
    256 << 20
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_bytes: default_max_bytes(),
            when_full: WhenFull::default(),
            fsync: Fsync::default(),
        }
    }
}

impl QueueConfig {
    /// The smallest `max_bytes` accepted: room for a few largest records.
    pub const MIN_BYTES: u64 = 4 * MAX_RECORD as u64;

    /// Segments small enough that several fit in the bound (space comes back a segment at a
    /// time), large enough to keep the file count low.
    pub fn segment_bytes(&self) -> u64 {
        (self.max_bytes / 8).clamp(64 << 10, 8 << 20)
    }
}

/// A place in the queue: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct Position {
    /// The segment's id.
    pub segment: u64,
    /// The byte offset in it.
    pub offset: u64,
}

/// What the writer and the reader share.
#[derive(Debug)]
pub struct Shared {
    dir: PathBuf,
    sink: String,
    /// The segment the writer appends to: lower ones are sealed.
    active: AtomicU64,
    /// Bytes of the segments on disk.
    bytes: AtomicU64,
    /// Records not yet acknowledged (approximate across a corrupt segment).
    records: AtomicI64,
    /// Set on shutdown: a blocked writer gives up.
    stopping: AtomicBool,
    /// Wakes the reader after a flush.
    pub notify: tokio::sync::Notify,
}

impl Shared {
    /// Tells a writer waiting for room to give up (shutdown).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    fn gauges(&self) {
        let label = self.sink.clone();
        metrics::gauge!("dante_webhook_queue_bytes", "sink" => label.clone())
            .set(self.bytes.load(Ordering::Relaxed) as f64);
        metrics::gauge!("dante_webhook_queue_records", "sink" => label)
            .set(self.records.load(Ordering::Relaxed).max(0) as f64);
    }

    /// Records waiting for delivery.
    pub fn pending(&self) -> i64 {
        self.records.load(Ordering::Relaxed)
    }
}

/// A queue error: the file and what failed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct QueueError {
    /// The file or directory.
    pub path: PathBuf,
    /// Why.
    pub source: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> QueueError + '_ {
    move |source| QueueError {
        path: path.to_path_buf(),
        source,
    }
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}{SEGMENT_SUFFIX}"))
}

/// The segment ids in `dir`, ascending.
fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|e| {
            let name = e.ok()?.file_name();
            name.to_str()?.strip_suffix(SEGMENT_SUFFIX)?.parse().ok()
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

fn load_ack(dir: &Path, sink: &str) -> Position {
    let path = dir.join(ACK_FILE);
    match fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
            // Start over rather than skip: at-least-once.
            tracing::error!(sink, file = %path.display(), error = %e, "unreadable queue ack; delivering from the oldest segment");
            Position::default()
        }),
        Err(_) => Position::default(),
    }
}

/// Opens (creating) the queue of sink `sink` in `dir`: the writer, the reader, and what they
/// share. Segments wholly acknowledged before a crash are deleted.
pub fn open(
    dir: &Path,
    sink: &str,
    cfg: &QueueConfig,
) -> Result<(Writer, Reader, Arc<Shared>), QueueError> {
    fs::create_dir_all(dir).map_err(at(dir))?;
    let ack = load_ack(dir, sink);
    let mut bytes = 0;
    let mut last = None;
    for id in segments(dir).map_err(at(dir))? {
        let path = segment_path(dir, id);
        if id < ack.segment {
            fs::remove_file(&path).map_err(at(&path))?;
            continue;
        }
        bytes += fs::metadata(&path).map_err(at(&path))?.len();
        last = Some(id);
    }
    let records = count_records(dir, ack);
    // Never append to a segment a previous run may have torn, nor restart one the position
    // points into.
    let active = match last {
        Some(l) => l + 1,
        None if ack.offset == 0 => ack.segment,
        None => ack.segment + 1,
    };
    let shared = Arc::new(Shared {
        dir: dir.to_path_buf(),
        sink: sink.to_string(),
        active: AtomicU64::new(active),
        bytes: AtomicU64::new(bytes),
        records: AtomicI64::new(records),
        stopping: AtomicBool::new(false),
        notify: tokio::sync::Notify::new(),
    });
    let writer = Writer {
        shared: shared.clone(),
        cfg: cfg.clone(),
        segment_bytes: cfg.segment_bytes(),
        segment: active,
        out: None,
        written: 0,
        dirty: false,
        new_segment: false,
    };
    let reader = Reader {
        shared: shared.clone(),
        pos: ack,
        file: None,
    };
    shared.gauges();
    Ok((writer, reader, shared))
}

/// The records from `from` on, counting by headers only (a gauge's start value).
fn count_records(dir: &Path, from: Position) -> i64 {
    let Ok(ids) = segments(dir) else { return 0 };
    let mut n = 0;
    for id in ids.into_iter().filter(|i| *i >= from.segment) {
        let Ok(f) = File::open(segment_path(dir, id)) else {
            continue;
        };
        let len = f.metadata().map_or(0, |m| m.len());
        let mut off = if id == from.segment { from.offset } else { 0 };
        let mut h = [0u8; HEADER];
        while off + HEADER as u64 <= len && f.read_exact_at(&mut h, off).is_ok() {
            let l = u64::from(u32::from_le_bytes([h[0], h[1], h[2], h[3]]));
            if l == 0 || l > MAX_RECORD as u64 || off + HEADER as u64 + l > len {
                break;
            }
            off += HEADER as u64 + l;
            n += 1;
        }
    }
    n
}

/// The appending side.
pub struct Writer {
    shared: Arc<Shared>,
    cfg: QueueConfig,
    segment_bytes: u64,
    segment: u64,
    out: Option<BufWriter<File>>,
    written: u64,
    dirty: bool,
    new_segment: bool,
}

/// Why an append did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// `when_full = "drop_newest"` and no room: dropped and counted.
    #[error("queue full: alert dropped")]
    Dropped,
    /// `when_full = "block"` and the agent is stopping: the batch stays unacknowledged.
    #[error("queue full while shutting down")]
    FullAtShutdown,
    /// The record is larger than [`MAX_RECORD`].
    #[error("alert of {0} bytes is larger than the queue's record limit")]
    TooLarge(usize),
    /// Disk trouble.
    #[error(transparent)]
    Io(#[from] QueueError),
}

impl Writer {
    /// Appends one record (buffered; [`Writer::flush`] makes it visible and durable).
    pub fn append(&mut self, payload: &[u8]) -> Result<(), AppendError> {
        if payload.is_empty() || payload.len() > MAX_RECORD {
            return Err(AppendError::TooLarge(payload.len()));
        }
        let size = (HEADER + payload.len()) as u64;
        let mut waited = None;
        while self.shared.bytes.load(Ordering::Acquire) + size > self.cfg.max_bytes {
            match self.cfg.when_full {
                WhenFull::DropNewest => {
                    metrics::counter!("dante_webhook_dropped_total", "sink" => self.shared.sink.clone())
                        .increment(1);
                    return Err(AppendError::Dropped);
                }
                WhenFull::Block => {
                    if self.shared.stopping.load(Ordering::Acquire) {
                        return Err(AppendError::FullAtShutdown);
                    }
                    if waited.is_none() {
                        tracing::warn!(sink = %self.shared.sink, "webhook queue full: holding the pipeline until deliveries make room");
                        // What is buffered must reach the reader, or no room ever comes.
                        self.flush()?;
                    }
                    // A core held back on purpose is alive: systemd's watchdog must not
                    // restart it (a no-op outside systemd).
                    if waited.is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(1)) {
                        let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
                        waited = Some(Instant::now());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        if self.out.is_none() || (self.written > 0 && self.written + size > self.segment_bytes) {
            self.rotate()?;
        }
        let path = segment_path(&self.shared.dir, self.segment);
        let Some(out) = self.out.as_mut() else {
            return Err(AppendError::Io(QueueError {
                path,
                source: io::Error::other("no open segment"),
            }));
        };
        let len = u32::try_from(payload.len()).map_err(|_| AppendError::TooLarge(payload.len()))?;
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&len.to_le_bytes());
        header[4..].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
        out.write_all(&header)
            .and_then(|()| out.write_all(payload))
            .map_err(at(&path))?;
        self.written += size;
        self.dirty = true;
        self.shared.bytes.fetch_add(size, Ordering::AcqRel);
        self.shared.records.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Seals the current segment (flushed, and synced under `batch`) and starts the next.
    fn rotate(&mut self) -> Result<(), QueueError> {
        if self.out.is_some() {
            self.flush()?;
            self.segment += 1;
        }
        let path = segment_path(&self.shared.dir, self.segment);
        let f = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(at(&path))?;
        self.out = Some(BufWriter::with_capacity(64 << 10, f));
        self.written = 0;
        self.new_segment = true;
        // Released after the previous segment's last flush: a reader that sees the new id knows
        // the old segment is complete.
        self.shared.active.store(self.segment, Ordering::Release);
        Ok(())
    }

    /// Hands what was appended to the reader and, under `fsync = "batch"`, to the disk.
    pub fn flush(&mut self) -> Result<(), QueueError> {
        let path = segment_path(&self.shared.dir, self.segment);
        if let Some(out) = self.out.as_mut() {
            out.flush().map_err(at(&path))?;
            if self.dirty && self.cfg.fsync == Fsync::Batch {
                out.get_ref().sync_data().map_err(at(&path))?;
                if self.new_segment {
                    let dir = &self.shared.dir;
                    File::open(dir)
                        .and_then(|d| d.sync_all())
                        .map_err(at(dir))?;
                    self.new_segment = false;
                }
            }
        }
        if self.dirty {
            self.dirty = false;
            self.shared.notify.notify_one();
            self.shared.gauges();
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::error!(error = %e, "webhook queue: last flush failed");
        }
    }
}

/// One record read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its bytes.
    pub payload: Vec<u8>,
    /// The position after it: the acknowledgement once it is delivered.
    pub end: Position,
}

enum Read {
    Record(Vec<u8>, u64),
    /// Not (yet) a whole record: the end of the segment so far.
    Short,
    /// Bad bytes from here; the offset of the next valid record, if any.
    Corrupt(Option<u64>),
}

/// Reads the record at `off` of `f` (of `len` bytes).
fn read_at(f: &File, off: u64, len: u64) -> io::Result<Read> {
    if off + HEADER as u64 > len {
        return Ok(Read::Short);
    }
    let mut h = [0u8; HEADER];
    f.read_exact_at(&mut h, off)?;
    let l = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if l == 0 || l > MAX_RECORD {
        return resync(f, off, len).map(Read::Corrupt);
    }
    if off + (HEADER + l) as u64 > len {
        return Ok(Read::Short);
    }
    let mut payload = vec![0u8; l];
    f.read_exact_at(&mut payload, off + HEADER as u64)?;
    if crc32fast::hash(&payload) != crc {
        return resync(f, off, len).map(Read::Corrupt);
    }
    Ok(Read::Record(payload, off + (HEADER + l) as u64))
}

/// The first offset after `bad` where a whole record with a matching checksum starts.
fn resync(f: &File, bad: u64, len: u64) -> io::Result<Option<u64>> {
    let start = bad + 1;
    let mut rest = vec![0u8; usize::try_from(len.saturating_sub(start)).unwrap_or(0)];
    f.read_exact_at(&mut rest, start)?;
    Ok(find_record(&rest).map(|i| start + i as u64))
}

/// The first index of `bytes` where a whole valid record starts.
fn find_record(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len().saturating_sub(HEADER)).find(|&i| {
        let h = &bytes[i..i + HEADER];
        let l = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        l > 0
            && l <= MAX_RECORD
            && i + HEADER + l <= bytes.len()
            && crc32fast::hash(&bytes[i + HEADER..i + HEADER + l]) == crc
    })
}

/// The reading side: records in order, bad bytes reported and skipped.
pub struct Reader {
    shared: Arc<Shared>,
    pos: Position,
    file: Option<File>,
}

impl Reader {
    /// The next record, or `None` when there is none yet. Never fails: disk errors and bad
    /// bytes are logged and counted (a disk error is tried again at the next call).
    pub fn next_record(&mut self) -> Option<Record> {
        loop {
            // Read before the data: a segment seen sealed here is complete below.
            let sealed = self.shared.active.load(Ordering::Acquire) > self.pos.segment;
            let path = segment_path(&self.shared.dir, self.pos.segment);
            if self.file.is_none() {
                match File::open(&path) {
                    Ok(f) => self.file = Some(f),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        if sealed && self.skip_to_next_segment() {
                            continue;
                        }
                        return None;
                    }
                    Err(e) => {
                        self.report_io(&path, &e);
                        return None;
                    }
                }
            }
            let f = self.file.as_ref()?;
            let read = f
                .metadata()
                .and_then(|m| read_at(f, self.pos.offset, m.len()));
            match read {
                Ok(Read::Record(payload, end)) => {
                    self.pos.offset = end;
                    return Some(Record {
                        payload,
                        end: self.pos,
                    });
                }
                Ok(Read::Short) if !sealed => return None,
                Ok(Read::Short) => {
                    // A sealed segment ends with whole records: this is a torn write, or a
                    // damaged length with good records after it.
                    let len = f.metadata().map_or(0, |m| m.len());
                    if self.pos.offset < len {
                        let next = resync(f, self.pos.offset, len).ok().flatten();
                        let to = next.unwrap_or(len);
                        self.report_corrupt(&path, self.pos.offset, to, "truncated record");
                        if next.is_some() {
                            self.pos.offset = to;
                            continue;
                        }
                    }
                    if !self.skip_to_next_segment() {
                        return None;
                    }
                }
                Ok(Read::Corrupt(next)) => {
                    let len = f.metadata().map_or(0, |m| m.len());
                    let to = next.unwrap_or(len);
                    self.report_corrupt(&path, self.pos.offset, to, "corrupt record");
                    self.pos.offset = to;
                    if next.is_none() && !sealed {
                        return None;
                    }
                }
                Err(e) => {
                    self.report_io(&path, &e);
                    return None;
                }
            }
        }
    }

    /// Moves to the next segment on disk; false when there is none.
    fn skip_to_next_segment(&mut self) -> bool {
        let next = segments(&self.shared.dir)
            .ok()
            .and_then(|ids| ids.into_iter().find(|i| *i > self.pos.segment))
            .unwrap_or_else(|| self.shared.active.load(Ordering::Acquire));
        if next <= self.pos.segment {
            return false;
        }
        self.pos = Position {
            segment: next,
            offset: 0,
        };
        self.file = None;
        true
    }

    fn report_corrupt(&self, path: &Path, from: u64, to: u64, what: &str) {
        tracing::error!(
            sink = %self.shared.sink,
            file = %path.display(),
            offset = from,
            skipped_bytes = to.saturating_sub(from),
            "webhook queue: {what}, skipped"
        );
        metrics::counter!("dante_webhook_corrupt_total", "sink" => self.shared.sink.clone())
            .increment(1);
    }

    fn report_io(&self, path: &Path, e: &io::Error) {
        tracing::error!(sink = %self.shared.sink, file = %path.display(), error = %e, "webhook queue: cannot read");
    }

    /// Where the reader is.
    pub fn position(&self) -> Position {
        self.pos
    }
}

/// Makes deliveries permanent: the acknowledged position on disk, and space back.
pub struct Acker {
    shared: Arc<Shared>,
    done: Position,
}

impl Acker {
    /// The acker of the queue `shared`, starting at `start` (where the reader starts).
    pub fn new(shared: Arc<Shared>, start: Position) -> Self {
        Self {
            shared,
            done: start,
        }
    }

    /// Records that `records` more were delivered (or given up on) up to `end` (in memory).
    pub fn advance(&mut self, end: Position, records: i64) {
        self.done = self.done.max(end);
        self.shared.records.fetch_sub(records, Ordering::Relaxed);
    }

    /// Writes the position atomically and deletes segments wholly before it.
    pub fn persist(&mut self) -> Result<(), QueueError> {
        let dir = self.shared.dir.clone();
        let path = dir.join(ACK_FILE);
        let bytes = serde_json::to_vec(&self.done).map_err(|e| QueueError {
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        crate::atomic::write_file(&path, &bytes)
            .map_err(|(path, source)| QueueError { path, source })?;
        for id in segments(&dir).map_err(at(&dir))? {
            if id >= self.done.segment {
                break;
            }
            let seg = segment_path(&dir, id);
            let len = fs::metadata(&seg).map_or(0, |m| m.len());
            fs::remove_file(&seg).map_err(at(&seg))?;
            self.shared.bytes.fetch_sub(len, Ordering::AcqRel);
        }
        self.shared.gauges();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg(max: u64) -> QueueConfig {
        QueueConfig {
            max_bytes: max,
            when_full: WhenFull::DropNewest,
            fsync: Fsync::Batch,
        }
    }

    fn drain(r: &mut Reader) -> Vec<Record> {
        std::iter::from_fn(|| r.next_record()).collect()
    }

    fn payloads(rs: &[Record]) -> Vec<String> {
        rs.iter()
            .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
            .collect()
    }

    #[test]
    fn records_come_back_in_order_across_segments_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let q = dir.path().join("q");
        let (mut w, mut r, shared) = open(&q, "t", &cfg(1 << 30)).unwrap();
        w.segment_bytes = 64 << 10;
        let big = "x".repeat(5000);
        // 300 records of 5 KB: about 25 segments.
        for i in 0..300 {
            w.append(format!("{{\"n\":{i},\"pad\":\"{big}\"}}").as_bytes())
                .unwrap();
        }
        w.flush().unwrap();
        assert_eq!(shared.pending(), 300);
        let got = drain(&mut r);
        assert_eq!(got.len(), 300);
        assert!(payloads(&got)[299].starts_with("{\"n\":299,"));
        assert!(segments(&q).unwrap().len() > 10);
        // Acknowledge the first 100, then restart: the rest comes again, and the first
        // segments are gone.
        let mut acker = Acker::new(shared.clone(), Position::default());
        acker.advance(got[99].end, 100);
        acker.persist().unwrap();
        assert!(segments(&q).unwrap()[0] == got[99].end.segment);
        drop((w, r, acker, shared));
        let (mut w, mut r, shared) = open(&q, "t", &cfg(1 << 30)).unwrap();
        assert_eq!(shared.pending(), 200);
        w.append(b"{\"n\":300}").unwrap();
        w.flush().unwrap();
        let again = drain(&mut r);
        assert_eq!(again.len(), 201);
        assert!(payloads(&again)[0].starts_with("{\"n\":100,"));
        assert_eq!(payloads(&again)[200], "{\"n\":300}");
    }

    #[test]
    fn a_torn_tail_and_a_flipped_byte_are_reported_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let q = dir.path().join("q");
        {
            let (mut w, _, _) = open(&q, "t", &cfg(1 << 30)).unwrap();
            for i in 0..5 {
                w.append(format!("{{\"n\":{i}}}").as_bytes()).unwrap();
            }
            w.flush().unwrap();
        }
        let seg = segment_path(&q, 0);
        let mut bytes = fs::read(&seg).unwrap();
        // Flip a payload byte of the second record, tear the last one.
        bytes[HEADER + 7 + HEADER + 3] ^= 0x55;
        bytes.truncate(bytes.len() - 3);
        fs::write(&seg, &bytes).unwrap();
        let (mut w, mut r, _) = open(&q, "t", &cfg(1 << 30)).unwrap();
        w.append(b"{\"n\":5}").unwrap();
        w.flush().unwrap();
        assert_eq!(
            payloads(&drain(&mut r)),
            ["{\"n\":0}", "{\"n\":2}", "{\"n\":3}", "{\"n\":5}"]
        );
    }

    #[test]
    fn a_position_into_a_segment_gone_missing_does_not_skip_new_records() {
        let dir = tempfile::tempdir().unwrap();
        let q = dir.path().join("q");
        fs::create_dir_all(&q).unwrap();
        fs::write(q.join(ACK_FILE), br#"{"segment":5,"offset":100}"#).unwrap();
        let (mut w, mut r, _) = open(&q, "t", &cfg(1 << 30)).unwrap();
        w.append(b"{\"n\":1}").unwrap();
        w.flush().unwrap();
        assert_eq!(payloads(&drain(&mut r)), ["{\"n\":1}"]);
        // An unreadable position: everything from the oldest segment again.
        fs::write(q.join(ACK_FILE), b"garbage").unwrap();
        drop((w, r));
        let (_w, mut r, _) = open(&q, "t", &cfg(1 << 30)).unwrap();
        assert_eq!(payloads(&drain(&mut r)), ["{\"n\":1}"]);
    }

    #[test]
    fn a_full_queue_drops_or_gives_up_at_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cfg(QueueConfig::MIN_BYTES);
        let (mut w, _r, shared) = open(&dir.path().join("a"), "t", &c).unwrap();
        let rec = vec![b'x'; MAX_RECORD];
        let mut n = 0;
        while w.append(&rec).is_ok() {
            n += 1;
        }
        assert_eq!(n, 3);
        assert!(matches!(w.append(&rec), Err(AppendError::Dropped)));
        assert!(matches!(
            w.append(&vec![b'x'; MAX_RECORD + 1]),
            Err(AppendError::TooLarge(_))
        ));
        drop((w, shared));
        c.when_full = WhenFull::Block;
        let (mut w, _r, shared) = open(&dir.path().join("b"), "t", &c).unwrap();
        for _ in 0..3 {
            w.append(&rec).unwrap();
        }
        shared.stop();
        assert!(matches!(w.append(&rec), Err(AppendError::FullAtShutdown)));
    }

    #[test]
    fn blocking_waits_for_deliveries_to_make_room() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cfg(QueueConfig::MIN_BYTES);
        c.when_full = WhenFull::Block;
        let (mut w, mut r, shared) = open(&dir.path().join("q"), "t", &c).unwrap();
        let rec = vec![b'{'; MAX_RECORD / 2];
        let writer = std::thread::spawn(move || {
            for _ in 0..40 {
                w.append(&rec).unwrap();
            }
            w.flush().unwrap();
        });
        let mut acker = Acker::new(shared.clone(), r.position());
        let mut got = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while got < 40 && std::time::Instant::now() < deadline {
            match r.next_record() {
                Some(rec) => {
                    got += 1;
                    acker.advance(rec.end, 1);
                    acker.persist().unwrap();
                }
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        writer.join().unwrap();
        assert_eq!(got, 40);
        assert!(shared.bytes.load(Ordering::Relaxed) <= QueueConfig::MIN_BYTES);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Whatever happens to a sealed segment's bytes, the reader ends, yields only records
        /// that were written, in order, and every record the damage did not touch.
        #[test]
        fn the_reader_survives_any_damage(
            lens in proptest::collection::vec(1usize..300, 1..30),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
            cut in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let q = dir.path().join("q");
            let written: Vec<Vec<u8>> = lens.iter().enumerate()
                .map(|(i, l)| format!("{i:04}").into_bytes().into_iter().chain(std::iter::repeat_n(b'a', *l)).collect())
                .collect();
            let mut starts = Vec::new();
            {
                let (mut w, _, _) = open(&q, "t", &cfg(1 << 30)).unwrap();
                let mut off = 0;
                for p in &written {
                    starts.push(off);
                    off += HEADER + p.len();
                    w.append(p).unwrap();
                }
                w.flush().unwrap();
            }
            let seg = segment_path(&q, 0);
            let mut bytes = fs::read(&seg).unwrap();
            let mut damaged = Vec::new();
            for (i, x) in &flips {
                let i = i.index(bytes.len());
                bytes[i] ^= x;
                damaged.push(i);
            }
            let keep = cut.map_or(bytes.len(), |c| c.index(bytes.len() + 1));
            bytes.truncate(keep);
            fs::write(&seg, &bytes).unwrap();
            // A later writer seals the damaged segment.
            let (w, mut r, _) = open(&q, "t", &cfg(1 << 30)).unwrap();
            drop(w);
            let got: Vec<Vec<u8>> = std::iter::from_fn(|| r.next_record()).map(|r| r.payload).collect();
            let mut it = written.iter();
            for g in &got {
                prop_assert!(it.any(|w| w == g), "a record not written, or out of order");
            }
            for (p, s) in written.iter().zip(&starts) {
                let end = s + HEADER + p.len();
                let untouched = end <= keep && damaged.iter().all(|d| *d < *s || *d >= end);
                if untouched {
                    prop_assert!(got.contains(p), "an intact record was lost");
                }
            }
        }
    }
}
