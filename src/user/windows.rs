//! Per-user windows: a bounded map from user to that user's state, least recently seen first out.
//!
//! At most `max_users` entries; inserting one more evicts the least recently seen user, and
//! [`Windows::expire`] drops users idle for longer than the timeout. Both are O(1) per user (a
//! hash map into slots linked in recency order). The state type is the caller's: the score stage
//! keeps each user's model state here. Snapshots ([`Windows::save`], [`Windows::load`]) are
//! written atomically with a checksum, so a torn or corrupt file is refused, not half-read.

use rustc_hash::FxHashMap;
use std::path::Path;

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Slot<S> {
    user: Box<str>,
    last_seen: i64,
    state: S,
    prev: u32,
    next: u32,
}

/// Users and their states, bounded.
#[derive(Debug)]
pub struct Windows<S> {
    index: FxHashMap<Box<str>, u32>,
    slots: Vec<Option<Slot<S>>>,
    free: Vec<u32>,
    /// Most recently seen.
    head: u32,
    /// Least recently seen.
    tail: u32,
    max: usize,
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
}

const MAGIC: &[u8; 8] = b"DANTEWN1";

impl<S> Windows<S> {
    /// An empty map holding at most `max` users (at least 1).
    pub fn new(max: usize) -> Self {
        Self {
            index: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            max: max.max(1),
        }
    }

    /// Users tracked.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no user is tracked.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn slot(&mut self, i: u32) -> &mut Slot<S> {
        self.slots[i as usize]
            .as_mut()
            .expect("linked slots are occupied")
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
        self.index.remove(&slot.user);
        self.free.push(i);
        (slot.user, slot.state)
    }

    /// The state of `user`, seen at `now` (seconds), created with `init` when new. When the map
    /// was full, the least recently seen user is evicted and returned.
    pub fn touch(
        &mut self,
        user: &str,
        now: i64,
        init: impl FnOnce() -> S,
    ) -> (&mut S, Option<(Box<str>, S)>) {
        if let Some(&i) = self.index.get(user) {
            self.unlink(i);
            self.push_front(i);
            let s = self.slot(i);
            s.last_seen = s.last_seen.max(now);
            return (&mut s.state, None);
        }
        let evicted =
            (self.index.len() >= self.max && self.tail != NIL).then(|| self.remove_slot(self.tail));
        let i = self.insert_slot(user.into(), now, init());
        (&mut self.slot(i).state, evicted)
    }

    fn insert_slot(&mut self, user: Box<str>, last_seen: i64, state: S) -> u32 {
        let slot = Slot {
            user: user.clone(),
            last_seen,
            state,
            prev: NIL,
            next: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(user, i);
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

    /// Users from least to most recently seen, with when they were last seen.
    pub fn iter(&self) -> impl Iterator<Item = (&str, i64, &S)> {
        let mut i = self.tail;
        std::iter::from_fn(move || {
            if i == NIL {
                return None;
            }
            let s = self.slots[i as usize].as_ref()?;
            i = s.prev;
            Some((&*s.user, s.last_seen, &s.state))
        })
    }

    /// Writes every user and state (`encode` appends a state's bytes) to `path` atomically.
    pub fn save(
        &self,
        path: &Path,
        mut encode: impl FnMut(&S, &mut Vec<u8>),
    ) -> Result<(), SnapshotError> {
        let mut buf = Vec::with_capacity(64 + self.len() * 64);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&(self.len() as u64).to_le_bytes());
        let mut state = Vec::new();
        for (user, seen, s) in self.iter() {
            state.clear();
            encode(s, &mut state);
            let name = &user.as_bytes()[..user.len().min(u16::MAX as usize)];
            buf.extend_from_slice(&(name.len() as u16).to_le_bytes());
            buf.extend_from_slice(name);
            buf.extend_from_slice(&seen.to_le_bytes());
            buf.extend_from_slice(&(state.len() as u32).to_le_bytes());
            buf.extend_from_slice(&state);
        }
        let sum = fnv1a(&buf);
        buf.extend_from_slice(&sum.to_le_bytes());
        crate::atomic::write_file(path, &buf).map_err(|(at, source)| SnapshotError::Io {
            path: at.display().to_string(),
            source,
        })
    }

    /// Reads a snapshot written by [`Self::save`] into an empty map of at most `max` users;
    /// `decode` turns a state's bytes back (`None` drops that user). A missing file is an empty
    /// map.
    pub fn load(
        path: &Path,
        max: usize,
        mut decode: impl FnMut(&[u8]) -> Option<S>,
    ) -> Result<Self, SnapshotError> {
        let mut w = Self::new(max);
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(w),
            Err(source) => {
                return Err(SnapshotError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let corrupt = |reason: &str| SnapshotError::Corrupt {
            path: path.display().to_string(),
            reason: reason.to_string(),
        };
        if bytes.len() < MAGIC.len() + 16 || &bytes[..8] != MAGIC {
            return Err(corrupt("bad header"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        if fnv1a(body).to_le_bytes() != sum {
            return Err(corrupt("checksum mismatch"));
        }
        let mut r = Reader { b: &body[8..] };
        let n = r.u64().ok_or_else(|| corrupt("truncated"))?;
        for _ in 0..n {
            let len = r.u16().ok_or_else(|| corrupt("truncated"))? as usize;
            let name = r.take(len).ok_or_else(|| corrupt("truncated"))?;
            let name = std::str::from_utf8(name).map_err(|_| corrupt("user name not UTF-8"))?;
            let seen = r.i64().ok_or_else(|| corrupt("truncated"))?;
            let slen = r.u32().ok_or_else(|| corrupt("truncated"))? as usize;
            let state = r.take(slen).ok_or_else(|| corrupt("truncated"))?;
            if let Some(s) = decode(state) {
                // Oldest first, so the most recent end up at the front; beyond `max` the oldest go.
                if w.index.len() >= w.max && w.tail != NIL {
                    w.remove_slot(w.tail);
                }
                if !w.index.contains_key(name) {
                    w.insert_slot(name.into(), seen, s);
                }
            }
        }
        Ok(w)
    }
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Some(a)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_least_recently_seen_goes_first() {
        let mut w = Windows::new(2);
        *w.touch("a", 1, || 0).0 += 1;
        *w.touch("b", 2, || 0).0 += 1;
        *w.touch("a", 3, || 0).0 += 1;
        let (_, evicted) = w.touch("c", 4, || 0);
        assert_eq!(evicted, Some(("b".into(), 1)));
        assert_eq!(
            w.iter().map(|(u, _, s)| (u, *s)).collect::<Vec<_>>(),
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
        let mut w = Windows::new(10);
        for (i, u) in ["alice", "bob", "carol"].iter().enumerate() {
            *w.touch(u, i as i64, || 0u32).0 = i as u32 * 7;
        }
        w.save(&path, |s, out| out.extend_from_slice(&s.to_le_bytes()))
            .unwrap();
        let dec = |b: &[u8]| Some(u32::from_le_bytes(b.try_into().ok()?));
        let back = Windows::load(&path, 10, dec).unwrap();
        assert_eq!(
            back.iter()
                .map(|(u, t, s)| (u.to_string(), t, *s))
                .collect::<Vec<_>>(),
            w.iter()
                .map(|(u, t, s)| (u.to_string(), t, *s))
                .collect::<Vec<_>>()
        );
        // Smaller bound: the most recent survive.
        let small = Windows::load(&path, 2, dec).unwrap();
        assert_eq!(
            small.iter().map(|(u, _, _)| u).collect::<Vec<_>>(),
            ["bob", "carol"]
        );
        // Truncated and flipped files are refused; a missing file is empty.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(matches!(
            Windows::load(&path, 10, dec),
            Err(SnapshotError::Corrupt { .. })
        ));
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(matches!(
            Windows::load(&path, 10, dec),
            Err(SnapshotError::Corrupt { .. })
        ));
        assert!(
            Windows::load(&dir.path().join("none"), 10, dec)
                .unwrap()
                .is_empty()
        );
    }

    proptest! {
        /// Against a simple model: the map never exceeds its bound and keeps exactly the most
        /// recently touched users.
        #[test]
        fn matches_a_naive_lru(ops in proptest::collection::vec((0u8..12, any::<bool>()), 0..200), max in 1usize..6) {
            let mut w = Windows::new(max);
            let mut naive: Vec<(String, u32)> = Vec::new();
            for (t, (user, bump)) in ops.into_iter().enumerate() {
                let name = format!("u{user}");
                let (s, _) = w.touch(&name, t as i64, || 0u32);
                if bump { *s += 1; }
                let v = match naive.iter().position(|(n, _)| *n == name) {
                    Some(p) => naive.remove(p).1,
                    None => 0,
                };
                naive.push((name, v + u32::from(bump)));
                if naive.len() > max { naive.remove(0); }
                prop_assert!(w.len() <= max);
            }
            let got: Vec<(String, u32)> = w.iter().map(|(u, _, s)| (u.to_string(), *s)).collect();
            prop_assert_eq!(got, naive);
        }
    }
}
