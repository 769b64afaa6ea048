//! Checkpoints of the `file` source: how far each file was acknowledged, by fingerprint.
//!
//! One JSON file per source, `data_dir/checkpoints/<source id>.json`, maps a file's fingerprint
//! (a checksum of its first line) to the byte offset after the last line the pipeline
//! acknowledged, with the path the file last had (for humans only) and when it was last seen.
//! It is written atomically (temporary file, fsync, rename, directory fsync), so a crash leaves
//! either the old or the new file. Entries of files not seen for [`KEEP_SECS`] are forgotten and
//! at most [`MAX_ENTRIES`] are kept, so the file cannot grow without bound.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Checkpoints of files not seen for this long (7 days) are forgotten.
pub const KEEP_SECS: u64 = 7 * 24 * 3600;
/// At most this many checkpoints are kept (the least recently seen go first).
pub const MAX_ENTRIES: usize = 10_000;
const FORMAT: u32 = 1;

/// The checkpoint file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Reading or writing failed (a missing or read-only `data_dir`, a full disk).
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file is not a checkpoint file this version can read.
    #[error("{path}: not a valid dante checkpoint file ({reason}); remove it to start over")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Serialize, Deserialize)]
struct CheckpointFile {
    format: u32,
    /// Fingerprint → checkpoint, sorted so that the file reads the same from write to write.
    files: BTreeMap<String, Saved>,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    offset: u64,
    path: String,
    /// Seconds since the Unix epoch.
    seen: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    /// After the last acknowledged line.
    offset: u64,
    path: PathBuf,
    seen: u64,
    /// The sequence number of the update that set `offset`: an older one never overwrites a
    /// newer (acks may come out of order, and a truncated file goes back to 0).
    seq: u64,
    /// Where reading stopped when the file was released (read, maybe not yet acknowledged):
    /// the same file found again (a copy of a truncated file) goes on from there instead of
    /// sending the unacknowledged lines twice. In memory only.
    resume: Option<u64>,
}

/// The checkpoints of one source, in memory, and where they are saved.
#[derive(Debug)]
pub struct Checkpoints {
    path: PathBuf,
    entries: HashMap<String, Entry>,
    dirty: bool,
}

/// The bytes of a checkpoint file, to be written outside the lock that guards [`Checkpoints`].
#[derive(Debug)]
pub struct Snapshot {
    path: PathBuf,
    json: Vec<u8>,
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The checkpoint file name of a source: its id with anything but `[A-Za-z0-9_.-]` replaced,
/// so that an id cannot name a path outside the directory.
fn file_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.json")
}

impl Checkpoints {
    /// The checkpoints of source `id` in `dir` (created if missing); none if there is no file.
    pub fn open(dir: &Path, id: &str) -> Result<Self, CheckpointError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(file_name(id));
        let mut cp = Self {
            path,
            entries: HashMap::new(),
            dirty: false,
        };
        let bytes = match fs::read(&cp.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(cp),
            Err(e) => return Err(io_err(&cp.path)(e)),
        };
        let corrupt = |reason: String| CheckpointError::Corrupt {
            path: cp.path.clone(),
            reason,
        };
        let file: CheckpointFile =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if file.format != FORMAT {
            return Err(corrupt(format!(
                "format {} (expected {FORMAT})",
                file.format
            )));
        }
        cp.entries = file
            .files
            .into_iter()
            .map(|(fp, s)| {
                let entry = Entry {
                    offset: s.offset,
                    path: PathBuf::from(s.path),
                    seen: s.seen,
                    seq: 0,
                    resume: None,
                };
                (fp, entry)
            })
            .collect();
        Ok(cp)
    }

    /// The file the checkpoints are saved in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many fingerprints have a checkpoint.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No fingerprint has a checkpoint.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The acknowledged offset of a fingerprint.
    pub fn offset(&self, fingerprint: &str) -> Option<u64> {
        self.entries.get(fingerprint).map(|e| e.offset)
    }

    /// Where to go on in a file with this fingerprint that is opened (again): where reading
    /// stopped if it was released since this process started, else its acknowledged offset.
    pub fn start(&mut self, fingerprint: &str) -> Option<u64> {
        let e = self.entries.get_mut(fingerprint)?;
        Some(e.resume.take().unwrap_or(e.offset))
    }

    /// Sets the offset of a fingerprint, unless an update with a higher `seq` came first.
    pub fn record(&mut self, fingerprint: &str, seq: u64, offset: u64, path: &Path) {
        let now = now_secs();
        match self.entries.get_mut(fingerprint) {
            Some(e) if e.seq > seq => {}
            Some(e) => {
                e.seq = seq;
                if e.offset != offset {
                    e.offset = offset;
                    self.dirty = true;
                }
                if e.path != path {
                    e.path = path.to_path_buf();
                    self.dirty = true;
                }
                e.seen = now;
            }
            None => {
                let entry = Entry {
                    offset,
                    path: path.to_path_buf(),
                    seen: now,
                    seq,
                    resume: None,
                };
                self.entries.insert(fingerprint.to_string(), entry);
                self.dirty = true;
            }
        }
    }

    /// A file was closed having read up to `offset`: remembered in memory for [`Self::start`].
    pub fn released(&mut self, fingerprint: &str, offset: u64) {
        if let Some(e) = self.entries.get_mut(fingerprint) {
            e.resume = Some(offset);
        }
    }

    /// The files with these fingerprints are still there at `now`; checkpoints of files not
    /// seen for [`KEEP_SECS`] are forgotten, and the least recently seen beyond
    /// [`MAX_ENTRIES`].
    pub fn touch_and_prune<'a>(&mut self, open: impl IntoIterator<Item = &'a str>, now: u64) {
        let open: HashSet<&str> = open.into_iter().collect();
        for fp in &open {
            if let Some(e) = self.entries.get_mut(*fp) {
                e.seen = now;
            }
        }
        let before = self.entries.len();
        self.entries
            .retain(|fp, e| open.contains(fp.as_str()) || e.seen.saturating_add(KEEP_SECS) >= now);
        if self.entries.len() > MAX_ENTRIES {
            let mut old: Vec<(u64, String)> = self
                .entries
                .iter()
                .filter(|(fp, _)| !open.contains(fp.as_str()))
                .map(|(fp, e)| (e.seen, fp.clone()))
                .collect();
            old.sort_unstable();
            let surplus = self.entries.len() - MAX_ENTRIES;
            for (_, fp) in old.into_iter().take(surplus) {
                self.entries.remove(&fp);
            }
        }
        if self.entries.len() != before {
            self.dirty = true;
        }
    }

    /// Changed since the last [`Self::snapshot`].
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The file's new contents if anything changed (and then no longer dirty: call
    /// [`Self::mark_dirty`] if writing it fails).
    pub fn snapshot(&mut self) -> Option<Snapshot> {
        if !self.dirty {
            return None;
        }
        let file = CheckpointFile {
            format: FORMAT,
            files: self
                .entries
                .iter()
                .map(|(fp, e)| {
                    let saved = Saved {
                        offset: e.offset,
                        path: e.path.to_string_lossy().into_owned(),
                        seen: e.seen,
                    };
                    (fp.clone(), saved)
                })
                .collect(),
        };
        // Serialising plain numbers and strings into memory does not fail; if it ever did, the
        // table stays dirty and the old file stays in place.
        let json = serde_json::to_vec_pretty(&file).ok()?;
        self.dirty = false;
        Some(Snapshot {
            path: self.path.clone(),
            json,
        })
    }

    /// A snapshot could not be written: the next one writes again.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }
}

impl Snapshot {
    /// Writes the file atomically: a temporary file, fsync, rename over the old one, fsync of
    /// the directory.
    pub fn write(&self) -> Result<(), CheckpointError> {
        crate::atomic::write_file(&self.path, &self.json)
            .map_err(|(path, source)| io_err(&path)(source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let cdir = dir.path().join("checkpoints");
        let mut cp = Checkpoints::open(&cdir, "auth/log").unwrap();
        assert!(cp.is_empty());
        cp.record("00aa", 1, 42, Path::new("/var/log/auth.log"));
        cp.snapshot().unwrap().write().unwrap();
        assert!(cp.path().ends_with("auth_log.json"));
        assert!(cp.snapshot().is_none(), "nothing changed since");

        let mut again = Checkpoints::open(&cdir, "auth/log").unwrap();
        assert_eq!(again.offset("00aa"), Some(42));
        assert_eq!(again.start("00aa"), Some(42));
        assert_eq!(again.offset("00bb"), None);
    }

    #[test]
    fn an_older_update_never_overwrites_a_newer() {
        let dir = tempfile::tempdir().unwrap();
        let mut cp = Checkpoints::open(dir.path(), "s").unwrap();
        cp.record("f", 5, 100, Path::new("a"));
        cp.record("f", 3, 50, Path::new("a"));
        assert_eq!(cp.offset("f"), Some(100));
        // A reset (truncation) with a newer seq goes back.
        cp.record("f", 6, 0, Path::new("a"));
        assert_eq!(cp.offset("f"), Some(0));
    }

    #[test]
    fn resume_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut cp = Checkpoints::open(dir.path(), "s").unwrap();
        cp.record("f", 1, 10, Path::new("a"));
        cp.released("f", 30);
        assert_eq!(cp.start("f"), Some(30));
        assert_eq!(cp.start("f"), Some(10));
    }

    #[test]
    fn old_and_surplus_entries_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let mut cp = Checkpoints::open(dir.path(), "s").unwrap();
        cp.record("old", 1, 1, Path::new("a"));
        cp.record("open", 2, 1, Path::new("b"));
        let later = now_secs() + KEEP_SECS + 10;
        cp.touch_and_prune(["open"], later);
        assert_eq!(cp.offset("old"), None);
        assert_eq!(cp.offset("open"), Some(1));

        for i in 0..MAX_ENTRIES + 5 {
            cp.record(&format!("f{i}"), 10 + i as u64, 1, Path::new("c"));
        }
        cp.touch_and_prune(["open"], later);
        assert!(cp.len() <= MAX_ENTRIES + 1, "{}", cp.len());
        assert_eq!(cp.offset("open"), Some(1));
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("s.json"), b"{not json").unwrap();
        let err = Checkpoints::open(dir.path(), "s").unwrap_err();
        assert!(err.to_string().contains("s.json"), "{err}");
    }
}
