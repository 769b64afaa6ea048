//! `dante eval sessions`: train on normal sessions, score normal and abnormal ones, report.
//!
//! Without a normal test file, a seeded 20% of the training sessions is held out as the normal
//! test set (and the report says so); the model never trains on it.

use crate::model::SplitMix;
use crate::model::train::{TrainConfig, train};
use crate::score::{DEFAULT_CACHE_STATES, SessionScorer};
use crate::source::sessions::{self, Session};
use anyhow::{Context, Result};
use serde::Serialize;
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
             precision {:.4}  recall {:.4}  F1 {:.4}  FPR {:.4}  (TP {}, FP {}, g {})\n\
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
            self.train_seconds,
            self.epochs,
            self.events_per_s
        )
    }
}
