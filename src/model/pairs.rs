//! Which keys occur together: the pairs of keys that some training session holds both of.
//!
//! A session holding two keys that no training session held together is anomalous whatever
//! their order (an invariant, as in Lou et al.'s invariant mining). On HDFS it separates the
//! sessions that replicate a block and then delete it (abnormal) from those that only replicate
//! it (normal but rare): the next-key model flags both alike at the replication's first key.

use super::Vocabulary;
use crate::keys::KeyId;

/// A symmetric set of pairs of vocabulary indices, as a bit matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairs {
    n: usize,
    bits: Vec<u64>,
}

impl KeyPairs {
    /// No pair over `n` vocabulary indices.
    pub fn empty(n: usize) -> Self {
        Self {
            n,
            bits: vec![0; (n * n).div_ceil(64)],
        }
    }

    /// The pairs `sessions` hold, over `vocab`'s indices (keys it does not know are left out).
    pub fn from_sessions(vocab: &Vocabulary, sessions: &[&[KeyId]]) -> Self {
        let mut pairs = Self::empty(vocab.outputs());
        let mut held: Vec<usize> = Vec::new();
        for s in sessions {
            held.clear();
            held.extend(s.iter().map(|k| vocab.index(*k)).filter(|&i| i != 0));
            held.sort_unstable();
            held.dedup();
            for (x, &a) in held.iter().enumerate() {
                for &b in &held[x + 1..] {
                    pairs.insert(a, b);
                }
            }
        }
        pairs
    }

    /// From the list [`KeyPairs::to_list`] gives; an index at or above `n` is an error.
    pub fn from_list(n: usize, list: &[[u32; 2]]) -> Result<Self, String> {
        let mut pairs = Self::empty(n);
        for &[a, b] in list {
            let (a, b) = (a as usize, b as usize);
            if a >= n || b >= n {
                return Err(format!("key pair ({a}, {b}) outside the {n} outputs"));
            }
            pairs.insert(a, b);
        }
        Ok(pairs)
    }

    /// Every pair once, smaller index first, in order.
    pub fn to_list(&self) -> Vec<[u32; 2]> {
        let mut out = Vec::new();
        for a in 0..self.n {
            for b in a + 1..self.n {
                if self.contains(a, b) {
                    out.push([a as u32, b as u32]);
                }
            }
        }
        out
    }

    fn insert(&mut self, a: usize, b: usize) {
        for (x, y) in [(a, b), (b, a)] {
            let bit = x * self.n + y;
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
    }

    /// True when some training session held both `a` and `b` (or `a == b`).
    pub fn contains(&self, a: usize, b: usize) -> bool {
        if a == b {
            return true;
        }
        if a >= self.n || b >= self.n {
            return false;
        }
        let bit = a * self.n + b;
        self.bits[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// True when `key` would make a pair never seen with a key of `held`; adds it to `held`
    /// (the distinct keys of the session so far).
    pub fn novel(&self, held: &mut Vec<usize>, key: usize) -> bool {
        if held.contains(&key) {
            return false;
        }
        let novel = held.iter().any(|&h| !self.contains(h, key));
        held.push(key);
        novel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_what_sessions_hold_together() {
        let vocab = Vocabulary::new(vec![1, 2, 3, 4]);
        let sessions: Vec<&[KeyId]> = vec![&[1, 2, 1], &[2, 3], &[9, 4]];
        let pairs = KeyPairs::from_sessions(&vocab, &sessions);
        let i = |k| vocab.index(k);
        assert!(pairs.contains(i(1), i(2)) && pairs.contains(i(2), i(1)));
        assert!(pairs.contains(i(2), i(3)));
        assert!(!pairs.contains(i(1), i(3)), "never in one session");
        assert!(pairs.contains(i(4), i(4)));
        let mut held = Vec::new();
        assert!(!pairs.novel(&mut held, i(1)));
        assert!(!pairs.novel(&mut held, i(2)));
        assert!(!pairs.novel(&mut held, i(2)));
        assert!(pairs.novel(&mut held, i(3)), "3 with 1");
        let back = KeyPairs::from_list(vocab.outputs(), &pairs.to_list()).unwrap();
        assert_eq!(back, pairs);
        assert!(KeyPairs::from_list(3, &[[1, 7]]).is_err());
    }
}
