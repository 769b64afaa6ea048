//! The sequence model: a small LSTM that predicts a user's next log key (DeepLog).
//!
//! Takes sessions of keys (from `keys`), gives a trained model: key embedding → LSTM layers →
//! linear → softmax over the model's vocabulary plus an "unknown key" slot. Training runs on CPU
//! with candle ([`train`]); the model file is safetensors with JSON metadata ([`mod@file`]); scoring
//! one event at a time uses a plain f32 path over the same weights ([`infer`]), with a compact
//! per-user state.
//!
//! Indices: inputs are `0` = unknown key, `1..=V` = the vocabulary's keys, `V + 1` = start of a
//! session; outputs are `0` = unknown key, `1..=V`, and `V + 1` = end of the session, so that a
//! session that stops where the model expected more is itself a surprise.

pub mod bundled;
pub mod file;
pub mod infer;
pub mod learn;
pub mod net;
pub mod pairs;
pub mod params;
pub mod settings;
pub mod train;

use crate::keys::KeyId;
use serde::{Deserialize, Serialize};
pub use settings::ModelSettings;

/// The shape of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Size of a key's embedding.
    pub embed: usize,
    /// LSTM hidden size.
    pub hidden: usize,
    /// LSTM layers (1 or 2).
    pub layers: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            embed: 16,
            hidden: 64,
            layers: 2,
        }
    }
}

/// The keys a model knows, in index order (index `i + 1` is `keys[i]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocabulary {
    keys: Vec<KeyId>,
}

impl Vocabulary {
    /// The vocabulary of the given keys (sorted, without repeats).
    pub fn new(mut keys: Vec<KeyId>) -> Self {
        keys.sort_unstable();
        keys.dedup();
        Self { keys }
    }

    /// Number of known keys (V).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is known.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The known keys in index order.
    pub fn keys(&self) -> &[KeyId] {
        &self.keys
    }

    /// The model index of `key`: `1..=V`, or 0 when the key is unknown.
    pub fn index(&self, key: KeyId) -> usize {
        self.keys.binary_search(&key).map_or(0, |i| i + 1)
    }

    /// The key at output index `i` (`None` for the unknown slot).
    pub fn key(&self, i: usize) -> Option<KeyId> {
        i.checked_sub(1).and_then(|i| self.keys.get(i)).copied()
    }

    /// The input index that starts a session.
    pub fn start(&self) -> usize {
        self.keys.len() + 1
    }

    /// Number of input tokens (V + 2).
    pub fn inputs(&self) -> usize {
        self.keys.len() + 2
    }

    /// Number of output classes (V + 2).
    pub fn outputs(&self) -> usize {
        self.keys.len() + 2
    }

    /// The output index that ends a session.
    pub fn end(&self) -> usize {
        self.keys.len() + 1
    }

    /// A stable hash of the keys (FNV-1a over their little-endian bytes), to check that a model
    /// and a key vocabulary line up.
    pub fn hash(&self) -> String {
        crate::keys::vocab::fnv1a_hex(self.keys.iter().flat_map(|k| k.to_le_bytes()))
    }
}

/// One LSTM layer's weights, PyTorch layout: gates in the order input, forget, cell, output.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWeights {
    /// `[4H, in]`, row-major.
    pub w_ih: Vec<f32>,
    /// `[4H, H]`, row-major.
    pub w_hh: Vec<f32>,
    /// `[4H]`.
    pub b_ih: Vec<f32>,
    /// `[4H]`.
    pub b_hh: Vec<f32>,
}

/// All weights as plain f32 arrays: what the model file holds and what inference reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// The network's shape.
    pub config: ModelConfig,
    /// `[V + 2, E]`.
    pub embed: Vec<f32>,
    /// One per layer.
    pub layers: Vec<LayerWeights>,
    /// `[V + 2, H]`.
    pub out_w: Vec<f32>,
    /// `[V + 2]`.
    pub out_b: Vec<f32>,
}

impl Weights {
    /// Checks every array's size against the configuration and a vocabulary of `v` keys.
    pub fn check(&self, v: usize) -> Result<(), String> {
        let (e, h) = (self.config.embed, self.config.hidden);
        let expect = |name: &str, got: usize, want: usize| {
            (got == want)
                .then_some(())
                .ok_or_else(|| format!("{name} has {got} values, expected {want}"))
        };
        if !(1..=2).contains(&self.config.layers) || self.layers.len() != self.config.layers {
            return Err(format!(
                "{} layers (1 or 2 are supported)",
                self.layers.len()
            ));
        }
        if e == 0 || h == 0 || h > infer::MAX_HIDDEN {
            return Err(format!(
                "embed and hidden must be positive, hidden at most {}",
                infer::MAX_HIDDEN
            ));
        }
        expect("embedding", self.embed.len(), (v + 2) * e)?;
        for (l, w) in self.layers.iter().enumerate() {
            let input = if l == 0 { e } else { h };
            expect(&format!("layer {l} w_ih"), w.w_ih.len(), 4 * h * input)?;
            expect(&format!("layer {l} w_hh"), w.w_hh.len(), 4 * h * h)?;
            expect(&format!("layer {l} b_ih"), w.b_ih.len(), 4 * h)?;
            expect(&format!("layer {l} b_hh"), w.b_hh.len(), 4 * h)?;
        }
        expect("output weight", self.out_w.len(), (v + 2) * h)?;
        expect("output bias", self.out_b.len(), v + 2)
    }
}

/// A trained model: vocabulary, weights and the calibrated decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The keys it knows.
    pub vocab: Vocabulary,
    /// The network.
    pub weights: Weights,
    /// DeepLog's rule: a key is anomalous when it is not among the top `g` predictions.
    pub g: usize,
    /// And when its surprise, `-ln p`, is above this (calibrated on validation).
    pub threshold: Option<f64>,
    /// The hash of the key vocabulary (templates and ids) the model was trained on, when it was
    /// trained from logs ([`crate::keys::vocab::templates_hash`]).
    pub key_vocabulary: Option<String>,
    /// The parameter-value model, when trained from logs.
    pub params: Option<params::ParamModel>,
    /// The pairs of keys seen together in a training session, when trained with `key_pairs`:
    /// then a session holding another pair is anomalous, and the top-`g` rule judges only the
    /// session's end (keys are still judged by the surprise threshold). Scoring one event at a
    /// time (the agent) does not use them and applies `g` to every key.
    pub pairs: Option<pairs::KeyPairs>,
    /// With key pairs: the threshold on the surprise of a session's end (`threshold` then judges
    /// the keys only).
    pub end_threshold: Option<f64>,
    /// What the training saw and measured.
    pub summary: TrainingSummary,
}

/// How a model was trained, kept in its file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Sessions trained on (without the validation split).
    pub sessions: usize,
    /// Keys predicted per epoch.
    pub events: usize,
    /// Validation sessions (normal) used for early stopping and to calibrate `g`.
    pub validation_sessions: usize,
    /// Epochs run.
    pub epochs: usize,
    /// Validation cross-entropy of the kept weights.
    pub validation_loss: f64,
    /// Share of validation sessions flagged with the chosen `g`.
    pub validation_fpr: f64,
    /// The session false-positive rate `g` was chosen for.
    pub target_fpr: f64,
    /// Seed of initialisation and shuffling.
    pub seed: u64,
    /// Wall-clock training time.
    pub seconds: f64,
}

/// A small deterministic generator (SplitMix64): weights and shuffles from a seed, so that the
/// same data and seed give the same model. candle's CPU generator cannot be seeded.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[-bound, bound)`.
    pub fn uniform(&mut self, bound: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        (unit * 2.0 - 1.0) * bound
    }

    /// A uniform index below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// A model with random weights, for tests and benchmarks (what a key costs does not depend on
/// the weights). Panics when `config` cannot build a network.
pub fn random_model(keys: Vec<KeyId>, config: ModelConfig, seed: u64) -> Model {
    let vocab = Vocabulary::new(keys);
    let net = net::Net::init(
        config,
        vocab.inputs(),
        vocab.outputs(),
        &mut SplitMix::new(seed),
    )
    .expect("a small network builds");
    Model {
        vocab,
        weights: net.to_weights().expect("weights read back"),
        g: 1,
        threshold: None,
        key_vocabulary: None,
        params: None,
        pairs: None,
        end_threshold: None,
        summary: TrainingSummary::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_indexes_keys_and_unknown() {
        let v = Vocabulary::new(vec![22, 5, 9, 5]);
        assert_eq!(v.keys(), [5, 9, 22]);
        assert_eq!(v.index(9), 2);
        assert_eq!(v.index(7), 0);
        assert_eq!(v.key(3), Some(22));
        assert_eq!(v.key(0), None);
        assert_eq!((v.start(), v.inputs(), v.outputs(), v.end()), (4, 5, 5, 4));
        assert_eq!(v.key(v.end()), None);
        assert_ne!(v.hash(), Vocabulary::new(vec![5, 9]).hash());
        assert_eq!(v.hash(), Vocabulary::new(vec![9, 22, 5]).hash());
    }

    #[test]
    fn splitmix_is_deterministic_and_bounded() {
        let (mut a, mut b) = (SplitMix::new(7), SplitMix::new(7));
        for _ in 0..1000 {
            let x = a.uniform(0.5);
            assert_eq!(x, b.uniform(0.5));
            assert!((-0.5..0.5).contains(&x));
        }
    }
}
