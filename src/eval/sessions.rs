//! `dante eval sessions`: train on normal sessions, score normal and abnormal ones, report.
//!
//! Without a normal test file, a seeded 20% of the training sessions is held out as the normal
//! test set (and the report says so); the model never trains on it.

use crate::keys::KeyId;
use crate::model::infer::{Scorer, rank};
use crate::model::train::{TrainConfig, split, train};
use crate::model::{Model, SplitMix};
use crate::score::{DEFAULT_CACHE_STATES, SessionScorer};
use crate::source::sessions::{self, Session};
use anyhow::{Context, Result};
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

/// What `eval sessions` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Sessions trained on (including the model's own validation split).
    pub train_sessions: usize,
    /// Normal test sessions, and whether they were held out of the training file.
    pub normal_sessions: usize,
    /// True when the normal test set was held out of the training file.
    pub normal_held_out: bool,
    /// Abnormal test sessions.
    pub abnormal_sessions: usize,
    /// Normal sessions flagged.
    pub false_positives: usize,
    /// Abnormal sessions flagged.
    pub true_positives: usize,
    /// Precision over both test sets.
    pub precision: f64,
    /// Share of abnormal sessions flagged.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Share of normal sessions flagged.
    pub fpr: f64,
    /// The model's `g`.
    pub g: usize,
    /// The decision: `key pairs` (pairs, threshold, `g` on the end) or `deeplog` (`g` and the
    /// threshold on every key).
    pub rule: &'static str,
    /// Epochs run.
    pub epochs: usize,
    /// Training wall-clock seconds.
    pub train_seconds: f64,
    /// Keys scored per second (both test sets).
    pub events_per_s: f64,
}

/// Runs the evaluation.
pub fn run(
    train_path: &Path,
    normal: Option<&Path>,
    abnormal: &Path,
    cfg: &TrainConfig,
    dump: Option<&Path>,
) -> Result<Report> {
    let all = sessions::read(train_path)?;
    let (training, normal_test, held_out): (Vec<Session>, Vec<Session>, bool) = match normal {
        Some(p) => (all, sessions::read(p)?, false),
        None => {
            let mut rng = SplitMix::new(cfg.seed ^ 0x5eed);
            let mut idx: Vec<usize> = (0..all.len()).collect();
            rng.shuffle(&mut idx);
            let n_test = all.len() / 5;
            let test = idx[..n_test].iter().map(|&i| all[i].clone()).collect();
            let train = idx[n_test..].iter().map(|&i| all[i].clone()).collect();
            (train, test, true)
        }
    };
    let abnormal_test = sessions::read(abnormal)?;
    let keys: Vec<Vec<_>> = training.iter().map(|s| s.keys.clone()).collect();
    let model =
        train(&keys, cfg, None).with_context(|| format!("training on {}", train_path.display()))?;
    if let Some(path) = dump {
        write_dump(path, &model, cfg, &keys, &normal_test, &abnormal_test)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let mut scorer = SessionScorer::new(&model, DEFAULT_CACHE_STATES);
    let start = Instant::now();
    let fp = normal_test
        .iter()
        .filter(|s| scorer.score(&s.keys).anomalous)
        .count();
    let tp = abnormal_test
        .iter()
        .filter(|s| scorer.score(&s.keys).anomalous)
        .count();
    let secs = start.elapsed().as_secs_f64();
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / abnormal_test.len().max(1) as f64;
    Ok(Report {
        train_sessions: training.len(),
        normal_sessions: normal_test.len(),
        normal_held_out: held_out,
        abnormal_sessions: abnormal_test.len(),
        false_positives: fp,
        true_positives: tp,
        precision,
        recall,
        f1: if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        },
        fpr: fp as f64 / normal_test.len().max(1) as f64,
        g: model.g,
        rule: if model.pairs.is_some() {
            "key pairs"
        } else {
            "deeplog"
        },
        epochs: model.summary.epochs,
        train_seconds: model.summary.seconds,
        events_per_s: scorer.events() as f64 / secs.max(1e-9),
    })
}

impl Report {
    /// The lines printed by `dante eval sessions`.
    pub fn text(&self) -> String {
        let normal = if self.normal_held_out {
            format!(
                "{} normal (held out: 20% of the training file, not trained on)",
                self.normal_sessions
            )
        } else {
            format!("{} normal", self.normal_sessions)
        };
        format!(
            "train {} sessions; test {normal}, {} abnormal\n\
             precision {:.4}  recall {:.4}  F1 {:.4}  FPR {:.4}  (TP {}, FP {}, g {}, rule: {})\n\
             training {:.1}s ({} epochs); scoring {:.0} events/s\n",
            self.train_sessions,
            self.abnormal_sessions,
            self.precision,
            self.recall,
            self.f1,
            self.fpr,
            self.true_positives,
            self.false_positives,
            self.g,
            self.rule,
            self.train_seconds,
            self.epochs,
            self.events_per_s
        )
    }
}

/// Writes, for each validation, normal test and abnormal test session, a line
/// `set<TAB>keys<TAB>ranks<TAB>probabilities` (the session's end included; rank -1 and
/// probability 0 for a key the model does not know, where the line stops): what the decision
/// rules are compared on offline.
fn write_dump(
    path: &Path,
    model: &Model,
    cfg: &TrainConfig,
    training: &[Vec<KeyId>],
    normal: &[Session],
    abnormal: &[Session],
) -> Result<()> {
    let usable: Vec<&[KeyId]> = training
        .iter()
        .map(Vec::as_slice)
        .filter(|s| !s.is_empty())
        .collect();
    let (order, n_val) = split(usable.len(), cfg.validation, &mut SplitMix::new(cfg.seed));
    let scorer = Scorer::new(model);
    let mut out = BufWriter::new(File::create(path)?);
    let sets = order[..n_val]
        .iter()
        .map(|&i| ("validation", usable[i]))
        .chain(normal.iter().map(|s| ("normal", s.keys.as_slice())))
        .chain(abnormal.iter().map(|s| ("abnormal", s.keys.as_slice())));
    let mut probs = vec![0f32; scorer.outputs()];
    for (set, keys) in sets {
        let (mut ranks, mut ps) = (Vec::new(), Vec::new());
        let mut state = scorer.zero();
        scorer.step(&mut state, model.vocab.start());
        let indices = keys.iter().map(|k| model.vocab.index(*k));
        for i in indices.chain(std::iter::once(model.vocab.end())) {
            scorer.predict(&state, &mut probs);
            if i == 0 {
                ranks.push(-1);
                ps.push(0.0);
                break;
            }
            ranks.push(rank(&probs, i) as i64);
            ps.push(probs[i]);
            scorer.step(&mut state, i);
        }
        let join = |v: Vec<String>| v.join(" ");
        writeln!(
            out,
            "{set}\t{}\t{}\t{}",
            join(keys.iter().map(|k| k.to_string()).collect()),
            join(ranks.iter().map(|r| r.to_string()).collect()),
            join(ps.iter().map(|p| format!("{p:.3e}")).collect()),
        )?;
    }
    out.flush()?;
    Ok(())
}
