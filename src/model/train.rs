//! Training: next-key prediction over whole sessions (truncated BPTT over the full session, which
//! for the short sessions of logs is the whole session), AdamW, early stopping on a validation
//! split, then DeepLog's `g` calibrated on that split. Each epoch sees the training sessions with
//! a few keys moved a place or so ([`reorder`]): events of concurrent work interleave in orders
//! a training file shows only some of.
//!
//! Whole sessions rather than DeepLog's windows of `h` keys: the agent scores a stream one event
//! at a time with a running state, so the model is trained the way it is used, and an event costs
//! the same whatever came before.

use super::infer::{Scorer, rank};
use super::net::Net;
use super::pairs::KeyPairs;
use super::{Model, ModelConfig, SplitMix, TrainingSummary, Vocabulary, Weights};
use crate::keys::KeyId;
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use std::time::Instant;

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    /// The network's shape.
    pub model: ModelConfig,
    /// The most passes over the data.
    pub epochs: usize,
    /// Sessions per batch.
    pub batch: usize,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// Stop after this many epochs without a better validation loss.
    pub patience: usize,
    /// Share of sessions held out for validation (early stopping and calibration).
    pub validation: f64,
    /// Session false-positive rate that `g` is calibrated for on the validation split.
    pub target_fpr: f64,
    /// Seed of initialisation, split and shuffling.
    pub seed: u64,
    /// Chance that a training key is moved, drawn anew each epoch ([`reorder`]); 0 trains on
    /// the sessions as they are.
    pub reorder: f64,
    /// How many places at most a moved key travels.
    pub span: usize,
    /// Learn which keys occur together ([`super::pairs`]): a session holding a pair never seen
    /// is anomalous, and `g` then judges only the session's end.
    pub key_pairs: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: ModelConfig::default(),
            epochs: 20,
            batch: 64,
            learning_rate: 0.01,
            patience: 3,
            validation: 0.2,
            target_fpr: 0.005,
            seed: 42,
            reorder: REORDER,
            span: REORDER_SPAN,
            key_pairs: false,
        }
    }
}

/// The default chance that a training key is moved ([`TrainConfig::reorder`]).
pub const REORDER: f64 = 0.02;

/// The default distance a moved key travels at most ([`TrainConfig::span`]).
pub const REORDER_SPAN: usize = 4;

/// Training could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// Nothing to learn from.
    #[error("no session with a key to train on")]
    NoData,
    /// The settings are unusable.
    #[error("bad training settings: {0}")]
    Settings(String),
    /// candle failed (out of memory, a shape bug).
    #[error("training failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Progress reported after each epoch: epoch (1-based), training loss, validation loss.
pub type Progress<'a> = &'a mut dyn FnMut(usize, f64, f64);

/// A batch as tensors.
struct Batch {
    inputs: Tensor,
    targets: Tensor,
    mask: Tensor,
}

/// Inputs `start, k0 … k(n-1)` and targets `k0 … k(n-1), end`.
fn encode(vocab: &Vocabulary, keys: &[KeyId]) -> (Vec<u32>, Vec<u32>) {
    let mut targets: Vec<u32> = keys.iter().map(|k| vocab.index(*k) as u32).collect();
    let mut inputs = Vec::with_capacity(targets.len() + 1);
    inputs.push(vocab.start() as u32);
    inputs.extend_from_slice(&targets);
    targets.push(vocab.end() as u32);
    (inputs, targets)
}

fn batches(
    vocab: &Vocabulary,
    sessions: &[&[KeyId]],
    size: usize,
) -> candle_core::Result<Vec<Batch>> {
    let mut order: Vec<&[KeyId]> = sessions.to_vec();
    // Similar lengths together: little padding.
    order.sort_by_key(|s| s.len());
    let mut out = Vec::new();
    for chunk in order.chunks(size.max(1)) {
        let t = chunk.iter().map(|s| s.len() + 1).max().unwrap_or(0);
        let b = chunk.len();
        let (mut inputs, mut targets, mut mask) =
            (vec![0u32; b * t], vec![0u32; b * t], vec![0f32; b * t]);
        for (r, s) in chunk.iter().enumerate() {
            let (i, o) = encode(vocab, s);
            inputs[r * t..r * t + i.len()].copy_from_slice(&i);
            targets[r * t..r * t + o.len()].copy_from_slice(&o);
            mask[r * t..r * t + o.len()].fill(1.0);
        }
        out.push(Batch {
            inputs: Tensor::from_vec(inputs, (b, t), &Device::Cpu)?,
            targets: Tensor::from_vec(targets, (b, t), &Device::Cpu)?,
            mask: Tensor::from_vec(mask, (b, t), &Device::Cpu)?,
        });
    }
    Ok(out)
}

/// What a session shows the model at its most unexpected: the largest rank (0 = the most
/// likely) of any of its keys, the rank of its end, and the largest surprise (`-ln p`) of a key
/// and of the end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extremes {
    /// The largest rank of a key.
    pub keys: usize,
    /// The rank of the session's end.
    pub end: usize,
    /// The largest surprise of a key.
    pub key_surprise: f64,
    /// The surprise of the session's end.
    pub end_surprise: f64,
}

impl Extremes {
    /// The largest rank, the end included.
    pub fn rank(&self) -> usize {
        self.keys.max(self.end)
    }

    /// The largest surprise, the end included.
    pub fn surprise(&self) -> f64 {
        self.key_surprise.max(self.end_surprise)
    }
}

/// The [`Extremes`] of `keys` under the model, or `None` when a key is not in the vocabulary.
/// A session is flagged when the rank is `>= g` or the surprise above the threshold.
pub fn extremes(scorer: &Scorer, vocab: &Vocabulary, keys: &[KeyId]) -> Option<Extremes> {
    let mut state = scorer.zero();
    scorer.step(&mut state, vocab.start());
    let mut probs = vec![0f32; scorer.outputs()];
    let mut out = Extremes {
        keys: 0,
        end: 0,
        key_surprise: 0.0,
        end_surprise: 0.0,
    };
    for k in keys {
        let i = vocab.index(*k);
        if i == 0 {
            return None;
        }
        scorer.predict(&state, &mut probs);
        out.keys = out.keys.max(rank(&probs, i));
        out.key_surprise = out.key_surprise.max(surprise(probs[i]));
        scorer.step(&mut state, i);
    }
    scorer.predict(&state, &mut probs);
    out.end = rank(&probs, vocab.end());
    out.end_surprise = surprise(probs[vocab.end()]);
    Some(out)
}

/// `-ln p`, bounded for p = 0.
pub fn surprise(p: f32) -> f64 {
    -f64::from(p.max(1e-30)).ln()
}

/// What calibration chose: `g`, the surprise threshold, the end's own threshold (models with
/// key pairs) and the validation FPR.
struct Calibrated {
    g: usize,
    threshold: Option<f64>,
    end_threshold: Option<f64>,
    fpr: f64,
}

/// DeepLog's `g` and a surprise threshold, chosen on validation sessions. With `end_only` (a
/// model with key pairs) `g` is chosen as for every key, and then, over the validation sessions
/// the end's rank lets pass, a threshold for the keys' surprise (their highest) and one for the
/// end's (their highest): a key's surprise and a session's end are not alike, and one threshold
/// for both sits on the keys' tail, too high for a session cut short whose end `g` passes.
fn calibrate(
    scorer: &Scorer,
    vocab: &Vocabulary,
    validation: &[&[KeyId]],
    target: f64,
    end_only: bool,
) -> Calibrated {
    let seen: Vec<Extremes> = validation
        .iter()
        .map(|s| {
            extremes(scorer, vocab, s).unwrap_or(Extremes {
                keys: usize::MAX,
                end: usize::MAX,
                key_surprise: f64::INFINITY,
                end_surprise: f64::INFINITY,
            })
        })
        .collect();
    let all: Vec<(usize, f64)> = seen.iter().map(|e| (e.rank(), e.surprise())).collect();
    let (g, threshold, fpr) = choose(&all, vocab.outputs(), target);
    if !end_only {
        return Calibrated {
            g,
            threshold,
            end_threshold: None,
            fpr,
        };
    }
    // An unknown key is flagged whatever the rule.
    let rank = |e: &Extremes| if e.keys == usize::MAX { e.keys } else { e.end };
    let keys: Vec<(usize, f64)> = seen.iter().map(|e| (rank(e), e.key_surprise)).collect();
    let ends: Vec<(usize, f64)> = seen.iter().map(|e| (rank(e), e.end_surprise)).collect();
    // No share of the target for either: the keys' threshold is the only judge of a key now,
    // and a share of the target spent on it goes to legal but surprising keys.
    let (threshold, _) = threshold_for(&keys, g, target, usize::MAX);
    let (end_threshold, _) = threshold_for(&ends, g, target, usize::MAX);
    let flagged = seen
        .iter()
        .filter(|e| {
            rank(e) >= g
                || threshold.is_some_and(|t| e.key_surprise > t)
                || end_threshold.is_some_and(|t| e.end_surprise > t)
        })
        .count();
    Calibrated {
        g,
        threshold,
        end_threshold,
        fpr: flagged as f64 / seen.len().max(1) as f64,
    }
}

/// The most sessions that a rule whose true false-positive rate is `target` flags among `n`, at
/// 95% confidence: the Poisson quantile (normal approximation for large means).
fn allowed_flags(target: f64, n: usize) -> usize {
    let mean = target * n as f64;
    if mean > 100.0 {
        return (mean + 1.645 * mean.sqrt()).ceil() as usize;
    }
    let (mut p, mut cdf, mut k) = ((-mean).exp(), 0.0, 0);
    loop {
        cdf += p;
        if cdf >= 0.95 || k >= n {
            return k;
        }
        k += 1;
        p *= mean / k as f64;
    }
}

/// `g` and the threshold from each validation session's largest rank and surprise (`usize::MAX`
/// for a key the model does not know), for a session false-positive rate of `target`.
///
/// `g` is the smallest whose rank rule flags no more sessions than `target` explains at 95%
/// confidence ([`allowed_flags`]): with a few hundred sessions the target is a handful, and `g`
/// moves in coarse steps, so asking for exactly `target` let one or two odd sessions push `g` up
/// by one or more and blind the rule to whole classes of anomalies. The threshold then gets what
/// is left of `target` itself: the lowest that keeps the union within it, or, when nothing is
/// left, the highest surprise among the sessions the rank rule passes.
fn choose(seen: &[(usize, f64)], max_g: usize, target: f64) -> (usize, Option<f64>, f64) {
    let n = seen.len();
    if n == 0 {
        return (max_g, None, 0.0);
    }
    let allowed = allowed_flags(target, n);
    let g = (1..=max_g)
        .find(|&g| seen.iter().filter(|(r, _)| *r >= g).count() <= allowed)
        .unwrap_or(max_g);
    let spent = seen.iter().filter(|(r, _)| *r >= g).count();
    let (threshold, fpr) = threshold_for(seen, g, target, spent);
    (g, threshold, fpr)
}

/// The threshold for a rank rule `g` already chosen, and the share of `seen` flagged: the
/// sessions the rank rule lets pass, by surprise, highest first, may be flagged as many as
/// `target` has left after `spent` sessions; when nothing is left, the threshold sits on the
/// highest of them.
fn threshold_for(seen: &[(usize, f64)], g: usize, target: f64, spent: usize) -> (Option<f64>, f64) {
    let n = seen.len();
    if n == 0 {
        return (None, 0.0);
    }
    let flagged_by_g = seen.iter().filter(|(r, _)| *r >= g).count();
    let budget = ((target * n as f64).floor() as usize).saturating_sub(spent);
    let mut passing: Vec<f64> = seen
        .iter()
        .filter(|(r, _)| *r < g)
        .map(|(_, s)| *s)
        .collect();
    passing.sort_by(|a, b| b.total_cmp(a));
    let threshold = passing.get(budget).copied();
    let flagged =
        flagged_by_g + threshold.map_or(0, |t| passing.iter().filter(|s| **s > t).count());
    (threshold, flagged as f64 / n as f64)
}

/// The weights one training run keeps: those of the best validation loss.
struct Fitted {
    weights: Weights,
    loss: f64,
    /// Epochs run, not the best one's.
    epochs: usize,
}

/// Each key of `keys`, with probability `rate`, moved `1..=span` places earlier or later.
///
/// Why: concurrent workers interleave their events in any order, and a training file shows only
/// some of the orders; a normal order never seen would otherwise be as surprising as an attack.
/// Keys are only moved, never dropped or added, so a session cut short or holding a foreign key
/// stays as surprising as before.
pub fn reorder(keys: &[KeyId], rate: f64, span: usize, rng: &mut SplitMix) -> Vec<KeyId> {
    let mut out = keys.to_vec();
    let n = out.len();
    if rate <= 0.0 || n < 2 || span == 0 {
        return out;
    }
    for i in 0..n {
        if !rng.chance(rate) {
            continue;
        }
        let d = 1 + rng.below(span);
        if rng.below(2) == 0 {
            let j = (i + d).min(n - 1);
            out[i..=j].rotate_left(1);
        } else {
            let j = i.saturating_sub(d);
            out[j..=i].rotate_right(1);
        }
    }
    out
}

/// One training run from fresh weights: AdamW on `training` (reordered anew each epoch when
/// `cfg.reorder` is set), early-stopped on `val_batches`.
fn fit(
    cfg: &TrainConfig,
    vocab: &Vocabulary,
    training: &[&[KeyId]],
    val_batches: &[Batch],
    rng: &mut SplitMix,
    mut progress: Option<&mut Progress<'_>>,
) -> Result<Fitted, TrainError> {
    let net = Net::init(cfg.model, vocab.inputs(), vocab.outputs(), rng)?;
    let mut opt = AdamW::new(
        net.vars(),
        ParamsAdamW {
            lr: cfg.learning_rate,
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        },
    )?;
    let fixed = if cfg.reorder > 0.0 {
        None
    } else {
        Some(batches(vocab, training, cfg.batch)?)
    };
    let mut best = Fitted {
        weights: net.to_weights()?,
        loss: f64::INFINITY,
        epochs: 0,
    };
    let mut since_best = 0;
    // Kept across epochs, shuffled further each time.
    let mut batch_order: Vec<usize> = Vec::new();
    for epoch in 1..=cfg.epochs.max(1) {
        best.epochs = epoch;
        let fresh;
        let train_batches = match &fixed {
            Some(b) => b,
            None => {
                let noisy: Vec<Vec<KeyId>> = training
                    .iter()
                    .map(|s| reorder(s, cfg.reorder, cfg.span, rng))
                    .collect();
                let refs: Vec<&[KeyId]> = noisy.iter().map(Vec::as_slice).collect();
                fresh = batches(vocab, &refs, cfg.batch)?;
                &fresh
            }
        };
        if batch_order.len() != train_batches.len() {
            batch_order = (0..train_batches.len()).collect();
        }
        rng.shuffle(&mut batch_order);
        let mut train_loss = 0.0;
        for &b in &batch_order {
            let batch = &train_batches[b];
            let loss = net.loss(&batch.inputs, &batch.targets, &batch.mask)?;
            train_loss += f64::from(loss.to_scalar::<f32>()?);
            opt.backward_step(&loss)?;
        }
        train_loss /= train_batches.len().max(1) as f64;
        let val_loss = if val_batches.is_empty() {
            train_loss
        } else {
            let mut sum = 0.0;
            for batch in val_batches {
                sum += f64::from(
                    net.loss(&batch.inputs, &batch.targets, &batch.mask)?
                        .to_scalar::<f32>()?,
                );
            }
            sum / val_batches.len() as f64
        };
        if let Some(p) = progress.as_mut() {
            p(epoch, train_loss, val_loss);
        }
        if val_loss < best.loss - 1e-4 {
            best.loss = val_loss;
            best.weights = net.to_weights()?;
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= cfg.patience {
                break;
            }
        }
    }
    Ok(best)
}

/// The seeded split of `n` sessions: a shuffled order whose first `n_val` are the validation
/// sessions. [`train`] draws it first from `SplitMix::new(seed)`.
pub fn split(n: usize, validation: f64, rng: &mut SplitMix) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let n_val = if n >= 10 {
        ((n as f64) * validation).round() as usize
    } else {
        0
    };
    (order, n_val)
}

/// Trains a model on normal sessions.
pub fn train(
    sessions: &[Vec<KeyId>],
    cfg: &TrainConfig,
    mut progress: Option<Progress<'_>>,
) -> Result<Model, TrainError> {
    let started = Instant::now();
    if !(1..=2).contains(&cfg.model.layers)
        || !(1..=super::infer::MAX_HIDDEN).contains(&cfg.model.hidden)
        || cfg.model.embed == 0
    {
        return Err(TrainError::Settings(format!(
            "layers must be 1 or 2 and sizes positive, got {:?}",
            cfg.model
        )));
    }
    if !(0.0..1.0).contains(&cfg.validation)
        || cfg.batch == 0
        || !(0.0..=1.0).contains(&cfg.reorder)
    {
        return Err(TrainError::Settings(
            "validation must be in [0, 1), batch positive and reorder in [0, 1]".into(),
        ));
    }
    let usable: Vec<&[KeyId]> = sessions
        .iter()
        .map(Vec::as_slice)
        .filter(|s| !s.is_empty())
        .collect();
    if usable.is_empty() {
        return Err(TrainError::NoData);
    }
    let vocab = Vocabulary::new(usable.iter().flat_map(|s| s.iter().copied()).collect());
    let mut rng = SplitMix::new(cfg.seed);

    let (order, n_val) = split(usable.len(), cfg.validation, &mut rng);
    let validation: Vec<&[KeyId]> = order[..n_val].iter().map(|&i| usable[i]).collect();
    let training: Vec<&[KeyId]> = order[n_val..].iter().map(|&i| usable[i]).collect();

    let val_batches = batches(&vocab, &validation, 256)?;
    let best = fit(
        cfg,
        &vocab,
        &training,
        &val_batches,
        &mut rng,
        progress.as_mut(),
    )?;
    // Every session, the validation ones too: a pair is legal once any normal session holds it.
    let pairs = cfg
        .key_pairs
        .then(|| KeyPairs::from_sessions(&vocab, &usable));
    let mut model = Model {
        vocab,
        weights: best.weights,
        g: 1,
        threshold: None,
        key_vocabulary: None,
        params: None,
        pairs,
        end_threshold: None,
        summary: TrainingSummary::default(),
    };
    let scorer = Scorer::new(&model);
    let Calibrated {
        g,
        threshold,
        end_threshold,
        fpr,
    } = calibrate(
        &scorer,
        &model.vocab,
        &validation,
        cfg.target_fpr,
        cfg.key_pairs,
    );
    model.g = g;
    model.threshold = threshold;
    model.end_threshold = end_threshold;
    model.summary = TrainingSummary {
        sessions: training.len(),
        events: training.iter().map(|s| s.len()).sum(),
        validation_sessions: validation.len(),
        epochs: best.epochs,
        validation_loss: best.loss,
        validation_fpr: fpr,
        target_fpr: cfg.target_fpr,
        seed: cfg.seed,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small grammar: sessions walk 1 → 2 → (3 | 4) → 5, repeated a few times.
    fn grammar(n: usize, seed: u64) -> Vec<Vec<KeyId>> {
        let mut rng = SplitMix::new(seed);
        (0..n)
            .map(|_| {
                let mut s = Vec::new();
                for _ in 0..1 + rng.below(3) {
                    s.extend([1, 2, if rng.below(2) == 0 { 3 } else { 4 }, 5]);
                }
                s
            })
            .collect()
    }

    fn small() -> TrainConfig {
        TrainConfig {
            model: ModelConfig {
                embed: 8,
                hidden: 16,
                layers: 1,
            },
            epochs: 40,
            batch: 32,
            learning_rate: 0.02,
            patience: 5,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn learns_a_grammar_and_flags_what_breaks_it() {
        let model = train(&grammar(300, 1), &small(), None).unwrap();
        let scorer = Scorer::new(&model);
        // Held-out sessions from the same grammar: every deterministic step is top-1.
        let mut state = scorer.zero();
        scorer.step(&mut state, model.vocab.start());
        let mut probs = vec![0f32; scorer.outputs()];
        let (mut right, mut total) = (0, 0);
        for s in grammar(50, 99) {
            let mut state = scorer.zero();
            scorer.step(&mut state, model.vocab.start());
            for (t, k) in s.iter().enumerate() {
                scorer.predict(&state, &mut probs);
                let i = model.vocab.index(*k);
                // After 2 the next key is a coin flip between 3 and 4, and after 5 a new round
                // may start or the session end: only the other steps are predictable.
                if t == 0 || t % 4 == 1 || t % 4 == 3 {
                    total += 1;
                    right += usize::from(rank(&probs, i) == 0);
                }
                scorer.step(&mut state, i);
            }
        }
        let accuracy = right as f64 / total as f64;
        assert!(accuracy > 0.95, "held-out top-1 accuracy {accuracy}");
        // Normal sessions pass with the calibrated g; an out-of-order key does not.
        let flagged = |keys: &[KeyId]| {
            extremes(&scorer, &model.vocab, keys).is_none_or(|e| {
                e.rank() >= model.g || model.threshold.is_some_and(|t| e.surprise() > t)
            })
        };
        assert!(!flagged(&[1, 2, 3, 5]));
        assert!(flagged(&[1, 5, 2, 3]));
        // A session cut short: every key is expected, but not the end where it stops.
        assert!(flagged(&[1, 2, 3]));
        assert!(flagged(&[1, 2, 99]));
    }

    #[test]
    fn the_same_seed_gives_the_same_model() {
        let data = grammar(60, 5);
        let cfg = TrainConfig {
            epochs: 2,
            ..small()
        };
        let a = train(&data, &cfg, None).unwrap();
        let b = train(&data, &cfg, None).unwrap();
        assert_eq!(a.weights, b.weights);
        assert_eq!((a.g, a.threshold), (b.g, b.threshold));
    }

    #[test]
    fn reorder_moves_keys_within_the_span_and_keeps_them() {
        let keys: Vec<KeyId> = (0..40).collect();
        let mut rng = SplitMix::new(9);
        assert_eq!(reorder(&keys, 0.0, 3, &mut rng), keys);
        let moved = reorder(&keys, 0.2, 2, &mut rng);
        assert_ne!(moved, keys);
        let mut sorted = moved.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, keys);
        // The same seed moves the same keys.
        let (mut a, mut b) = (SplitMix::new(4), SplitMix::new(4));
        assert_eq!(
            reorder(&keys, 0.1, 1, &mut a),
            reorder(&keys, 0.1, 1, &mut b)
        );
        assert_eq!(reorder(&[7], 1.0, 1, &mut rng), [7]);
    }

    #[test]
    fn reordered_training_finds_an_unseen_order_less_surprising() {
        // Always 1 2 3 4 5 6: the order 1 3 2 4 5 6 is never seen.
        let data = vec![vec![1, 2, 3, 4, 5, 6]; 200];
        let surprise_of = |reorder: f64| {
            let cfg = TrainConfig {
                epochs: 15,
                reorder,
                span: 1,
                ..small()
            };
            let model = train(&data, &cfg, None).unwrap();
            extremes(&Scorer::new(&model), &model.vocab, &[1, 3, 2, 4, 5, 6])
                .unwrap()
                .surprise()
        };
        let (plain, reordered) = (surprise_of(0.0), surprise_of(0.05));
        assert!(
            reordered + 2.0 < plain,
            "surprise {reordered} with reordering, {plain} without"
        );
    }

    #[test]
    fn allowed_flags_is_the_poisson_quantile() {
        assert_eq!(allowed_flags(0.0, 600), 0);
        // Mean 3.1: P(X <= 5) = 0.90, P(X <= 6) = 0.96.
        assert_eq!(allowed_flags(0.005, 622), 6);
        assert_eq!(allowed_flags(0.01, 100), 3);
        assert_eq!(allowed_flags(0.5, 1000), 537);
        assert_eq!(allowed_flags(1.0, 3), 3);
    }

    #[test]
    fn g_tolerates_a_few_odd_validation_sessions() {
        // 600 sessions: one reaches rank 9, five rank 4, ten rank 1, the rest are all top-1;
        // surprises 0.01..=6.
        let seen: Vec<(usize, f64)> = (0..600)
            .map(|i| {
                let rank = match i {
                    0 => 9,
                    1..=5 => 4,
                    6..=15 => 1,
                    _ => 0,
                };
                (rank, f64::from(i + 1) / 100.0)
            })
            .collect();
        // Exactly 3 flagged would need g = 5; six are still consistent with a target of 3.
        let (g, threshold, fpr) = choose(&seen, 16, 0.005);
        assert_eq!(g, 2);
        // Nothing is left for the threshold: it sits on the highest passing surprise.
        assert_eq!(threshold, Some(6.0));
        assert!((fpr - 6.0 / 600.0).abs() < 1e-12, "{fpr}");
        // A larger target leaves room for the threshold to flag the most surprising passing ones.
        let (g, threshold, fpr) = choose(&seen, 16, 0.05);
        assert_eq!((g, threshold), (1, Some(5.86)));
        assert!((fpr - 30.0 / 600.0).abs() < 1e-12, "{fpr}");
        assert_eq!(choose(&[], 16, 0.005), (16, None, 0.0));
    }

    #[test]
    fn the_threshold_gets_what_the_rank_rule_left() {
        // 600 sessions with surprises 0.01..=6, none flagged by rank.
        let seen: Vec<(usize, f64)> = (0..600).map(|i| (0, f64::from(i + 1) / 100.0)).collect();
        // The target is 3 sessions: with all 3 spent (by the rank rule on every key, for a model
        // with key pairs) the threshold sits on the highest surprise.
        assert_eq!(threshold_for(&seen, 5, 0.005, 3), (Some(6.0), 0.0));
        // With one spent, it may flag the two most surprising.
        let (t, fpr) = threshold_for(&seen, 5, 0.005, 1);
        assert_eq!(t, Some(5.98));
        assert!((fpr - 2.0 / 600.0).abs() < 1e-12, "{fpr}");
    }

    #[test]
    fn empty_input_is_an_error() {
        assert!(matches!(
            train(&[vec![]], &small(), None),
            Err(TrainError::NoData)
        ));
        let bad = TrainConfig {
            model: ModelConfig {
                layers: 3,
                ..ModelConfig::default()
            },
            ..small()
        };
        assert!(matches!(
            train(&grammar(5, 1), &bad, None),
            Err(TrainError::Settings(_))
        ));
    }
}
