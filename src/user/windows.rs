//! Per-user windows: a bounded map from user to that user's state, least recently seen first out.
//!
//! At most `max_users` entries; inserting one more evicts the least recently seen user, and
//! [`Windows::expire`] drops users idle for longer than the timeout. Both are O(1) per user (a
//! hash map into slots linked in recency order). The state type is the caller's, plus a
//! fixed-length row per user in one flat array: the score stage keeps each user's counters and
//! recent keys in the state and the model's recurrent state, at half precision, in the row. About
//! 400 bytes per user with the bundled model. Snapshots ([`Windows::save`], [`Windows::load`]) are
//! written atomically with a checksum, so a torn or corrupt file is refused, not half-read.

use rustc_hash::FxHashMap;
use std::hash::BuildHasher;
use std::io::{Read, Write};
use std::path::Path;

const NIL: u32 = u32::MAX;

/// A user name, inline when short (most are), so that it costs no allocation of its own.
#[derive(Debug)]
enum Name {
    Inline { len: u8, bytes: [u8; 22] },
    Heap(Box<str>),
}

impl Name {
    fn new(s: &str) -> Self {
        let mut bytes = [0u8; 22];
        match bytes.get_mut(..s.len()) {
            Some(b) => {
                b.copy_from_slice(s.as_bytes());
                Name::Inline {
                    len: s.len() as u8,
                    bytes,
                }
            }
            None => Name::Heap(s.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Name::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).expect("copied from a str")
            }
            Name::Heap(s) => s,
        }
    }

    fn is(&self, s: &str) -> bool {
        match self {
            Name::Inline { len, bytes } => &bytes[..usize::from(*len)] == s.as_bytes(),
            Name::Heap(h) => **h == *s,
        }
    }
}

#[derive(Debug)]
struct Slot<S> {
    user: Name,
    last_seen: i64,
    state: S,
    prev: u32,
    next: u32,
    /// The next slot whose name has the same hash.
    chain: u32,
}

/// Users and their states, bounded.
///
/// Each user has a state `S` and a row of `row_len` values `R` (the score stage keeps the
/// model's recurrent state there); rows live in one flat array indexed like the slots, so a user
/// costs no allocation of its own. The name is stored once, in the slot: the index maps the
/// name's hash to the first slot of that hash, and slots of equal hashes are chained.
#[derive(Debug)]
pub struct Windows<S, R = u16> {
    index: FxHashMap<u64, u32>,
    slots: Vec<Option<Slot<S>>>,
    rows: Vec<R>,
    row_len: usize,
    free: Vec<u32>,
    /// Most recently seen.
    head: u32,
    /// Least recently seen.
    tail: u32,
    max: usize,
    len: usize,
}

/// A snapshot could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a complete snapshot.
    #[error("{path}: not a dante user snapshot or damaged ({reason})")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The file was written by an older dante, in a format this one does not read.
    #[error("{path}: a user snapshot in an older format ({magic})")]
    Outdated {
        /// The file.
        path: String,
        /// Its format's magic.
        magic: String,
    },
}

/// Version 2: states as half-precision rows; version 1 (`DANTEWN1`) kept f32 states and two
/// copies of each name in memory, and is not read back.
const MAGIC: &[u8; 8] = b"DANTEWN2";
const OLD_MAGICS: [&[u8; 8]; 1] = [b"DANTEWN1"];

fn hash(user: &str) -> u64 {
    let h = rustc_hash::FxBuildHasher.hash_one(user);
    // Tests keep two bits so that most names share a hash and the chains get exercised.
    if cfg!(test) { h & 3 } else { h }
}

impl<S, R: Copy + Default> Windows<S, R> {
    /// An empty map holding at most `max` users (at least 1), without rows.
    pub fn new(max: usize) -> Self {
        Self::with_rows(max, 0)
    }

    /// An empty map holding at most `max` users (at least 1), each with `row_len` values.
    pub fn with_rows(max: usize, row_len: usize) -> Self {
        Self {
            index: FxHashMap::default(),
            slots: Vec::new(),
            rows: Vec::new(),
            row_len,
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            max: max.max(1),
            len: 0,
        }
    }

    /// Users tracked.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no user is tracked.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(&mut self, i: u32) -> &mut Slot<S> {
        self.slots[i as usize]
            .as_mut()
            .expect("linked slots are occupied")
    }

    fn find(&self, user: &str, h: u64) -> Option<u32> {
        let mut i = *self.index.get(&h)?;
        while i != NIL {
            let s = self.slots[i as usize].as_ref()?;
            if s.user.is(user) {
                return Some(i);
            }
            i = s.chain;
        }
        None
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let s = self.slot(i);
            (s.prev, s.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.slot(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slot(next).prev = prev;
        }
    }

    fn push_front(&mut self, i: u32) {
        let head = self.head;
        {
            let s = self.slot(i);
            s.prev = NIL;
            s.next = head;
        }
        if head != NIL {
            self.slot(head).prev = i;
        } else {
            self.tail = i;
        }
        self.head = i;
    }

    fn remove_slot(&mut self, i: u32) -> (Box<str>, S) {
        self.unlink(i);
        let slot = self.slots[i as usize]
            .take()
            .expect("linked slots are occupied");
        let h = hash(slot.user.as_str());
        // Out of its hash's chain.
        if self.index.get(&h) == Some(&i) {
            if slot.chain == NIL {
                self.index.remove(&h);
            } else {
                self.index.insert(h, slot.chain);
            }
        } else if let Some(mut j) = self.index.get(&h).copied() {
            while j != NIL {
                let next = self.slot(j).chain;
                if next == i {
                    self.slot(j).chain = slot.chain;
                    break;
                }
                j = next;
            }
        }
        self.free.push(i);
        self.len -= 1;
        (slot.user.as_str().into(), slot.state)
    }

    fn row(rows: &mut [R], row_len: usize, i: u32) -> &mut [R] {
        &mut rows[i as usize * row_len..(i as usize + 1) * row_len]
    }

    /// The state and row of `user`, seen at `now` (seconds); a new user's state is made by
    /// `init`, which also fills the row. When the map was full, the least recently seen user is
    /// evicted and returned.
    #[allow(clippy::type_complexity)]
    pub fn touch(
        &mut self,
        user: &str,
        now: i64,
        init: impl FnOnce(&mut [R]) -> S,
    ) -> (&mut S, &mut [R], Option<(Box<str>, S)>) {
        let h = hash(user);
        if let Some(i) = self.find(user, h) {
            self.unlink(i);
            self.push_front(i);
            let s = self.slots[i as usize]
                .as_mut()
                .expect("linked slots are occupied");
            s.last_seen = s.last_seen.max(now);
            return (
                &mut s.state,
                Self::row(&mut self.rows, self.row_len, i),
                None,
            );
        }
        let evicted =
            (self.len >= self.max && self.tail != NIL).then(|| self.remove_slot(self.tail));
        let i = self.insert_slot(user, h, now, init);
        let s = self.slots[i as usize].as_mut().expect("just inserted");
        (
            &mut s.state,
            Self::row(&mut self.rows, self.row_len, i),
            evicted,
        )
    }

    fn insert_slot(
        &mut self,
        user: &str,
        h: u64,
        last_seen: i64,
        init: impl FnOnce(&mut [R]) -> S,
    ) -> u32 {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.rows
                    .resize(self.rows.len() + self.row_len, R::default());
                (self.slots.len() - 1) as u32
            }
        };
        let state = init(Self::row(&mut self.rows, self.row_len, i));
        let chain = self.index.insert(h, i).unwrap_or(NIL);
        self.slots[i as usize] = Some(Slot {
            user: Name::new(user),
            last_seen,
            state,
            prev: NIL,
            next: NIL,
            chain,
        });
        self.len += 1;
        self.push_front(i);
        i
    }

    /// Removes and returns the users last seen before `now - idle_secs`.
    pub fn expire(&mut self, now: i64, idle_secs: i64) -> Vec<(Box<str>, S)> {
        let mut out = Vec::new();
        while self.tail != NIL {
            let t = self.tail;
            if self.slot(t).last_seen >= now.saturating_sub(idle_secs) {
                break;
            }
            out.push(self.remove_slot(t));
        }
        out
    }

    /// Users from least to most recently seen, with when they were last seen, and their rows.
    pub fn iter(&self) -> impl Iterator<Item = (&str, i64, &S, &[R])> {
        let mut i = self.tail;
        std::iter::from_fn(move || {
            if i == NIL {
                return None;
            }
            let s = self.slots[i as usize].as_ref()?;
            let row = &self.rows[i as usize * self.row_len..(i as usize + 1) * self.row_len];
            i = s.prev;
            Some((s.user.as_str(), s.last_seen, &s.state, row))
        })
    }

    /// Writes every user and state (`encode` appends a state's and its row's bytes) to `path`
    /// atomically, streamed: the snapshot is never held in memory whole.
    pub fn save(
        &self,
        path: &Path,
        mut encode: impl FnMut(&S, &[R], &mut Vec<u8>),
    ) -> Result<(), SnapshotError> {
        let mut state = Vec::new();
        crate::atomic::write_with(path, |w| {
            let mut w = Summed {
                inner: w,
                sum: FNV_START,
            };
            w.write_all(MAGIC)?;
            w.write_all(&(self.len() as u64).to_le_bytes())?;
            for (user, seen, s, row) in self.iter() {
                state.clear();
                encode(s, row, &mut state);
                let name = &user.as_bytes()[..user.len().min(u16::MAX as usize)];
                w.write_all(&(name.len() as u16).to_le_bytes())?;
                w.write_all(name)?;
                w.write_all(&seen.to_le_bytes())?;
                w.write_all(&(state.len() as u32).to_le_bytes())?;
                w.write_all(&state)?;
            }
            let sum = w.sum;
            w.inner.write_all(&sum.to_le_bytes())
        })
        .map_err(|(at, source)| SnapshotError::Io {
            path: at.display().to_string(),
            source,
        })
    }

    /// Reads a snapshot written by [`Self::save`] into an empty map of at most `max` users with
    /// rows of `row_len`; `decode` turns a state's bytes back and fills the row (`None` drops that
    /// user). A missing file is an empty map. Streamed: the checksum is checked at the end, and a
    /// mismatch discards what was read.
    pub fn load(
        path: &Path,
        max: usize,
        row_len: usize,
        mut decode: impl FnMut(&[u8], &mut [R]) -> Option<S>,
    ) -> Result<Self, SnapshotError> {
        let mut w = Self::with_rows(max, row_len);
        let io_error = |source| SnapshotError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(w),
            Err(e) => return Err(io_error(e)),
        };
        let corrupt = |reason: &str| SnapshotError::Corrupt {
            path: path.display().to_string(),
            reason: reason.to_string(),
        };
        // A short read is a truncated file; anything else is the disk's error.
        let short = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => corrupt("truncated"),
            _ => io_error(e),
        };
        let mut r = Summed {
            inner: std::io::BufReader::with_capacity(1 << 16, file),
            sum: FNV_START,
        };
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => corrupt("bad header"),
            _ => io_error(e),
        })?;
        if let Some(old) = OLD_MAGICS.iter().find(|m| magic == ***m) {
            return Err(SnapshotError::Outdated {
                path: path.display().to_string(),
                magic: String::from_utf8_lossy(&old[..]).into_owned(),
            });
        }
        if &magic != MAGIC {
            return Err(corrupt("bad header"));
        }
        let n = u64::from_le_bytes(read_array(&mut r).map_err(short)?);
        let (mut name, mut state) = (Vec::new(), Vec::new());
        let mut row = vec![R::default(); row_len];
        for _ in 0..n {
            let len = u16::from_le_bytes(read_array(&mut r).map_err(short)?);
            name.resize(usize::from(len), 0);
            r.read_exact(&mut name).map_err(short)?;
            let name = std::str::from_utf8(&name).map_err(|_| corrupt("user name not UTF-8"))?;
            let seen = i64::from_le_bytes(read_array(&mut r).map_err(short)?);
            let slen = u32::from_le_bytes(read_array(&mut r).map_err(short)?) as usize;
            if slen > MAX_STATE_BYTES {
                return Err(corrupt("state too large"));
            }
            state.resize(slen, 0);
            r.read_exact(&mut state).map_err(short)?;
            if let Some(s) = decode(&state, &mut row) {
                // Oldest first, so the most recent end up at the front; beyond `max` the oldest go.
                let h = hash(name);
                if w.find(name, h).is_some() {
                    continue;
                }
                if w.len >= w.max && w.tail != NIL {
                    w.remove_slot(w.tail);
                }
                w.insert_slot(name, h, seen, |r| {
                    r.copy_from_slice(&row);
                    s
                });
            }
        }
        let sum = r.sum;
        let mut stored = [0u8; 8];
        r.inner.read_exact(&mut stored).map_err(short)?;
        if stored != sum.to_le_bytes() {
            return Err(corrupt("checksum mismatch"));
        }
        if r.inner.read(&mut [0u8; 1]).map_err(io_error)? != 0 {
            return Err(corrupt("bytes after the checksum"));
        }
        Ok(w)
    }
}

/// A state's bytes in a snapshot are at most this long (a damaged length is refused before any
/// allocation).
const MAX_STATE_BYTES: usize = 1 << 20;

fn read_array<const N: usize>(r: &mut impl Read) -> std::io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

/// A reader or writer that keeps the FNV-1a sum of the bytes through it.
struct Summed<T> {
    inner: T,
    sum: u64,
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sum = fnv1a(self.sum, &buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<T: Read> Read for Summed<T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sum = fnv1a(self.sum, &buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_least_recently_seen_goes_first() {
        let mut w = Windows::<i32>::new(2);
        *w.touch("a", 1, |_| 0).0 += 1;
        *w.touch("b", 2, |_| 0).0 += 1;
        *w.touch("a", 3, |_| 0).0 += 1;
        let (_, _, evicted) = w.touch("c", 4, |_| 0);
        assert_eq!(evicted, Some(("b".into(), 1)));
        assert_eq!(
            w.iter().map(|(u, _, s, _)| (u, *s)).collect::<Vec<_>>(),
            [("a", 2), ("c", 0)]
        );
        let gone = w.expire(10, 6);
        assert_eq!(gone, vec![("a".into(), 2)]);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn snapshots_round_trip_and_refuse_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.bin");
        let mut w = Windows::<u32>::new(10);
        for (i, u) in ["alice", "bob", "carol"].iter().enumerate() {
            *w.touch(u, i as i64, |_| 0u32).0 = i as u32 * 7;
        }
        w.save(&path, |s, _, out| out.extend_from_slice(&s.to_le_bytes()))
            .unwrap();
        let dec = |b: &[u8], _: &mut [u16]| Some(u32::from_le_bytes(b.try_into().ok()?));
        let back = Windows::load(&path, 10, 0, dec).unwrap();
        assert_eq!(
            back.iter()
                .map(|(u, t, s, _)| (u.to_string(), t, *s))
                .collect::<Vec<_>>(),
            w.iter()
                .map(|(u, t, s, _)| (u.to_string(), t, *s))
                .collect::<Vec<_>>()
        );
        // Smaller bound: the most recent survive.
        let small = Windows::load(&path, 2, 0, dec).unwrap();
        assert_eq!(
            small.iter().map(|(u, _, _, _)| u).collect::<Vec<_>>(),
            ["bob", "carol"]
        );
        // Truncated and flipped files are refused; a missing file is empty.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(matches!(
            Windows::load(&path, 10, 0, dec),
            Err(SnapshotError::Corrupt { .. })
        ));
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(matches!(
            Windows::load(&path, 10, 0, dec),
            Err(SnapshotError::Corrupt { .. })
        ));
        assert!(
            Windows::load(&dir.path().join("none"), 10, 0, dec)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn rows_follow_their_users_and_long_names_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.bin");
        let long = "a-user-name-longer-than-twenty-two-bytes";
        let mut w = Windows::<u8, u16>::with_rows(2, 3);
        for (k, u) in ["a", long, "b"].iter().enumerate() {
            let (_, row, _) = w.touch(u, 0, |row| {
                row.fill(k as u16);
                0
            });
            row[2] = 7;
        }
        // "a" was evicted: its slot and row went to "b", filled afresh.
        let got: Vec<(String, Vec<u16>)> = w
            .iter()
            .map(|(u, _, _, r)| (u.to_string(), r.to_vec()))
            .collect();
        assert_eq!(
            got,
            [
                (long.to_string(), vec![1, 1, 7]),
                ("b".to_string(), vec![2, 2, 7])
            ]
        );
        w.save(&path, |_, row, out| {
            out.extend(row.iter().map(|v| *v as u8));
        })
        .unwrap();
        let back = Windows::<u8, u16>::load(&path, 5, 3, |b, row| {
            for (r, v) in row.iter_mut().zip(b) {
                *r = u16::from(*v);
            }
            Some(0)
        })
        .unwrap();
        let again: Vec<(String, Vec<u16>)> = back
            .iter()
            .map(|(u, _, _, r)| (u.to_string(), r.to_vec()))
            .collect();
        assert_eq!(again, got);
    }

    #[test]
    fn an_older_snapshot_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.bin");
        std::fs::write(&path, b"DANTEWN1\0\0\0\0\0\0\0\0 and the rest").unwrap();
        let err = Windows::<u8>::load(&path, 5, 0, |_, _| Some(0)).unwrap_err();
        assert!(matches!(err, SnapshotError::Outdated { .. }), "{err}");
    }

    proptest! {
        /// Against a simple model: the map never exceeds its bound and keeps exactly the most
        /// recently touched users.
        #[test]
        fn matches_a_naive_lru(ops in proptest::collection::vec((0u8..12, any::<bool>()), 0..200), max in 1usize..6) {
            let mut w = Windows::<u32>::new(max);
            let mut naive: Vec<(String, u32)> = Vec::new();
            for (t, (user, bump)) in ops.into_iter().enumerate() {
                let name = format!("u{user}");
                let (s, _, _) = w.touch(&name, t as i64, |_| 0u32);
                if bump { *s += 1; }
                let v = match naive.iter().position(|(n, _)| *n == name) {
                    Some(p) => naive.remove(p).1,
                    None => 0,
                };
                naive.push((name, v + u32::from(bump)));
                if naive.len() > max { naive.remove(0); }
                prop_assert!(w.len() <= max);
            }
            let got: Vec<(String, u32)> = w.iter().map(|(u, _, s, _)| (u.to_string(), *s)).collect();
            prop_assert_eq!(got, naive);
        }
    }
}
