//! Scoring: DeepLog's decision on each key and a verdict per session, with the explanation.
//!
//! Takes a model and sequences of keys, gives per key whether it was among the model's top `g`
//! predictions (and likewise for the session's end: a session that stops where the model expected
//! more is a surprise too), and per session a verdict (anomalous when any was not), a score (the
//! share of anomalous events, the end included) and, for the first anomalous one, the keys the
//! model expected with their probabilities. A model trained with key pairs ([`Model::pairs`])
//! instead flags a key that forms a pair of keys no training session held, and applies `g` to the
//! end only. State kept: a bounded cache of the states reached by session prefixes seen before,
//! so that the many sessions that start alike are scored by lookups.

pub mod alert;
pub mod stream;

use crate::keys::KeyId;
use crate::model::infer::{Scorer, State, rank};
use crate::model::pairs::KeyPairs;
use crate::model::train::surprise;
use crate::model::{Model, Vocabulary};
use rustc_hash::FxHashMap;

/// How many expected keys an explanation lists.
pub const EXPLAIN_TOP: usize = 5;

/// The surprise given to a key the model does not know.
pub const UNKNOWN_SURPRISE: f64 = 50.0;

/// The default bound on cached prefix states.
pub const DEFAULT_CACHE_STATES: usize = 1 << 16;

/// Why a key was flagged.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// 0-based position of the key in its session (the session's length for its end).
    pub position: usize,
    /// The key seen; `None` when the session ended there.
    pub seen: Option<KeyId>,
    /// Its probability (0 for a key the model does not know).
    pub probability: f32,
    /// Its rank among the predictions (0 = most likely); `None` for an unknown key.
    pub rank: Option<usize>,
    /// The keys the model expected, most likely first, with probabilities.
    pub expected: Vec<(KeyId, f32)>,
}

/// The verdict on one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// True when some key was outside the top `g`.
    pub anomalous: bool,
    /// Share of the session's keys that were anomalous.
    pub score: f64,
    /// The largest surprise, `-ln p`, of any of its events (the end included); an unknown key
    /// counts as [`UNKNOWN_SURPRISE`].
    pub surprise: f64,
    /// The first anomalous key, explained.
    pub first: Option<Explanation>,
}

struct Node {
    state: State,
    probs: Box<[f32]>,
}

/// Scores sessions with a model, caching the states of prefixes it has seen.
pub struct SessionScorer {
    vocab: Vocabulary,
    scorer: Scorer,
    g: usize,
    threshold: f64,
    /// The threshold on the end's surprise (`threshold` unless the model has its own).
    end_threshold: f64,
    /// The model's key pairs: then `g` judges only the end ([`Model::pairs`]).
    pairs: Option<KeyPairs>,
    /// The distinct keys of the session being scored.
    held: Vec<usize>,
    nodes: Vec<Node>,
    children: FxHashMap<(u32, u32), u32>,
    max_nodes: usize,
    events: u64,
}

impl SessionScorer {
    /// A scorer for `model` caching at most `max_nodes` prefix states.
    pub fn new(model: &Model, max_nodes: usize) -> Self {
        let scorer = Scorer::new(model);
        let mut root = scorer.zero();
        scorer.step(&mut root, model.vocab.start());
        let mut probs = vec![0f32; scorer.outputs()].into_boxed_slice();
        scorer.predict(&root, &mut probs);
        Self {
            vocab: model.vocab.clone(),
            g: model.g,
            threshold: model.threshold.unwrap_or(f64::INFINITY),
            end_threshold: model
                .end_threshold
                .or(model.threshold)
                .unwrap_or(f64::INFINITY),
            pairs: model.pairs.clone(),
            held: Vec::new(),
            nodes: vec![Node { state: root, probs }],
            children: FxHashMap::default(),
            max_nodes: max_nodes.max(1),
            scorer,
            events: 0,
        }
    }

    /// Keys scored so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The `g` in force.
    pub fn g(&self) -> usize {
        self.g
    }

    fn explain(
        &self,
        probs: &[f32],
        position: usize,
        seen: Option<KeyId>,
        index: usize,
    ) -> Explanation {
        let mut order: Vec<usize> = (1..probs.len()).collect();
        order.sort_by(|a, b| probs[*b].total_cmp(&probs[*a]));
        Explanation {
            position,
            seen,
            probability: if index == 0 { 0.0 } else { probs[index] },
            rank: (index != 0).then(|| rank(probs, index)),
            expected: order
                .into_iter()
                .take(EXPLAIN_TOP)
                .filter_map(|i| self.vocab.key(i).map(|k| (k, probs[i])))
                .collect(),
        }
    }

    /// Scores one session.
    pub fn score(&mut self, keys: &[KeyId]) -> Verdict {
        self.events += keys.len() as u64;
        let mut node: Option<u32> = Some(0);
        // Off the cache (it is full): a private state and its predictions.
        let mut state = self.nodes[0].state.clone();
        let mut probs = self.nodes[0].probs.to_vec();
        let mut anomalies = 0usize;
        let mut first = None;
        let mut most = 0f64;
        self.held.clear();
        for (t, &k) in keys.iter().enumerate() {
            let i = self.vocab.index(k);
            let current: &[f32] = match node {
                Some(n) => &self.nodes[n as usize].probs,
                None => &probs,
            };
            let s = if i == 0 {
                UNKNOWN_SURPRISE
            } else {
                surprise(current[i])
            };
            most = most.max(s);
            let bad = i == 0
                || s > self.threshold
                || match &self.pairs {
                    None => rank(current, i) >= self.g,
                    Some(pairs) => pairs.novel(&mut self.held, i),
                };
            if bad {
                anomalies += 1;
                if first.is_none() {
                    first = Some(self.explain(current, t, Some(k), i));
                }
            }
            node = match node {
                Some(n) => self.child(n, i, &mut state, &mut probs),
                None => {
                    self.scorer.step(&mut state, i);
                    self.scorer.predict(&state, &mut probs);
                    None
                }
            };
        }
        // The session ends here: was that expected?
        let current: &[f32] = match node {
            Some(n) => &self.nodes[n as usize].probs,
            None => &probs,
        };
        let end = self.vocab.end();
        let s = surprise(current[end]);
        most = most.max(s);
        if rank(current, end) >= self.g || s > self.end_threshold {
            anomalies += 1;
            if first.is_none() {
                first = Some(self.explain(current, keys.len(), None, end));
            }
        }
        Verdict {
            anomalous: anomalies > 0,
            score: anomalies as f64 / (keys.len() + 1) as f64,
            surprise: most,
            first,
        }
    }

    /// The cached node after feeding `input` at node `n`; when the cache is full, computes into
    /// `state`/`probs` and returns `None`.
    fn child(
        &mut self,
        n: u32,
        input: usize,
        state: &mut State,
        probs: &mut Vec<f32>,
    ) -> Option<u32> {
        if let Some(&c) = self.children.get(&(n, input as u32)) {
            return Some(c);
        }
        let mut next = self.nodes[n as usize].state.clone();
        self.scorer.step(&mut next, input);
        let mut p = vec![0f32; self.scorer.outputs()].into_boxed_slice();
        self.scorer.predict(&next, &mut p);
        if self.nodes.len() >= self.max_nodes {
            *state = next;
            probs.clear();
            probs.extend_from_slice(&p);
            return None;
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            state: next,
            probs: p,
        });
        self.children.insert((n, input as u32), id);
        Some(id)
    }
}

/// Scores many sessions on `threads` threads (each with its own prefix cache, `max_nodes` split
/// between them); verdicts come back in input order.
pub fn score_all(
    model: &Model,
    sessions: &[&[KeyId]],
    threads: usize,
    max_nodes: usize,
) -> Vec<Verdict> {
    let threads = threads.clamp(1, sessions.len().max(1));
    let chunk = sessions.len().div_ceil(threads).max(1);
    let per_thread = (max_nodes / threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut scorer = SessionScorer::new(model, per_thread);
                    part.iter().map(|s| scorer.score(s)).collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::train::{TrainConfig, train};
    use crate::model::{ModelConfig, SplitMix};

    pub(super) fn model() -> Model {
        let mut rng = SplitMix::new(3);
        let sessions: Vec<Vec<KeyId>> = (0..300)
            .map(|_| {
                let mut s = vec![10, 20];
                if rng.below(2) == 0 {
                    s.push(30);
                }
                s.push(40);
                s
            })
            .collect();
        train(&sessions, &small(40), None).unwrap()
    }

    /// A small, fast training configuration of `epochs` at most.
    fn small(epochs: usize) -> TrainConfig {
        TrainConfig {
            model: ModelConfig {
                embed: 8,
                hidden: 16,
                layers: 1,
            },
            epochs,
            learning_rate: 0.02,
            patience: 5,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn normal_sessions_pass_and_a_foreign_key_is_explained() {
        let m = model();
        let mut s = SessionScorer::new(&m, 1000);
        assert!(!s.score(&[10, 20, 30, 40]).anomalous);
        assert!(!s.score(&[10, 20, 40]).anomalous);
        let v = s.score(&[10, 20, 99, 40]);
        assert!(v.anomalous);
        let e = v.first.unwrap();
        assert_eq!((e.position, e.seen, e.rank), (2, Some(99), None));
        assert!(
            e.expected.iter().any(|(k, _)| *k == 30 || *k == 40),
            "{:?}",
            e.expected
        );
        let v = s.score(&[40, 10, 20, 30]);
        assert!(v.anomalous, "out of order");
        assert_eq!(v.first.unwrap().position, 0);
        let v = s.score(&[10, 20]);
        assert!(v.anomalous, "cut short");
        let e = v.first.unwrap();
        assert_eq!((e.position, e.seen), (2, None));
        assert!(matches!(e.expected[0].0, 30 | 40), "{:?}", e.expected);
    }

    #[test]
    fn key_pairs_flag_keys_never_seen_together_and_leave_rare_branches_alone() {
        // Mostly 10 20 30 40; rarely a branch 10 50 60 40 (legal); never 30 with 50.
        let mut rng = SplitMix::new(5);
        let sessions: Vec<Vec<KeyId>> = (0..400)
            .map(|_| {
                if rng.below(100) == 0 {
                    vec![10, 50, 60, 40]
                } else {
                    vec![10, 20, 30, 40]
                }
            })
            .collect();
        let cfg = TrainConfig {
            key_pairs: true,
            ..small(30)
        };
        let m = train(&sessions, &cfg, None).unwrap();
        assert!(m.pairs.is_some() && m.end_threshold.is_some());
        let mut s = SessionScorer::new(&m, 1000);
        assert!(!s.score(&[10, 20, 30, 40]).anomalous);
        let rare = s.score(&[10, 50, 60, 40]);
        assert!(!rare.anomalous, "a rare legal branch: {rare:?}");
        // 30 and 50 were never in one session, in either order.
        let v = s.score(&[10, 20, 30, 50, 40]);
        assert!(v.anomalous);
        assert_eq!(v.first.unwrap().position, 3);
        assert!(s.score(&[10, 50, 20, 30, 40]).anomalous);
        // Cut short: the end is still judged by g.
        assert!(s.score(&[10, 20]).anomalous);
        // The same model without pairs is the classic rule.
        let classic = Model {
            pairs: None,
            ..m.clone()
        };
        let mut c = SessionScorer::new(&classic, 1000);
        assert!(!c.score(&[10, 20, 30, 40]).anomalous);
    }

    #[test]
    fn threads_do_not_change_verdicts() {
        let m = model();
        let sessions: Vec<Vec<KeyId>> = (0..50)
            .map(|i| match i % 3 {
                0 => vec![10, 20, 30, 40],
                1 => vec![10, 20, 99],
                _ => vec![20, 10],
            })
            .collect();
        let refs: Vec<&[KeyId]> = sessions.iter().map(Vec::as_slice).collect();
        let one = score_all(&m, &refs, 1, 100);
        assert_eq!(one, score_all(&m, &refs, 3, 100));
        assert_eq!(one.len(), 50);
        assert!(score_all(&m, &[], 2, 100).is_empty());
    }

    #[test]
    fn cached_and_uncached_scores_agree() {
        let m = model();
        let sessions = [
            vec![10, 20, 30, 40],
            vec![10, 30, 20, 40],
            vec![10, 20, 40, 40, 10],
        ];
        let mut cached = SessionScorer::new(&m, 1000);
        let mut tiny = SessionScorer::new(&m, 1);
        for s in &sessions {
            assert_eq!(cached.score(s), tiny.score(s));
        }
        assert_eq!(cached.events(), 13);
    }
}
