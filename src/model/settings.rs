//! `[model]`: which model the agent scores with, and whether it learns its own.

use serde::Deserialize;
use std::path::PathBuf;

/// `[model]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// A model file from `dante train --logs --state DIR --out FILE`; the bundled model when
    /// absent.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The key vocabulary that model was trained with (`DIR/vocab.json`), used to start the
    /// agent's vocabulary when `data_dir` has none yet. Required with `path`.
    #[serde(default)]
    pub vocabulary: Option<PathBuf>,
    /// `detect` scores with the model above; `learn` also records this host's baseline for
    /// `learn_secs`, trains on it in the background, and then scores with what it learned.
    #[serde(default)]
    pub mode: Mode,
    /// How long learn mode records before training, in seconds of wall-clock time since it began.
    #[serde(default = "default_learn_secs")]
    pub learn_secs: u64,
    /// The fewest user-day sessions learn mode trains on; with fewer, it records on.
    #[serde(default = "default_learn_min_sessions")]
    pub learn_min_sessions: usize,
    /// The most events the baseline holds (about 40 bytes each on disk); training begins when
    /// it is full, even before `learn_secs`.
    #[serde(default = "default_learn_max_events")]
    pub learn_max_events: u64,
    /// The learned network's hidden size (a user's state grows with it).
    #[serde(default = "default_learn_hidden")]
    pub learn_hidden: usize,
}

/// `model.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Score with the configured (or bundled) model.
    #[default]
    Detect,
    /// Learn this host's baseline, then score with it.
    Learn,
}

fn default_learn_secs() -> u64 {
    7 * 86_400
}

fn default_learn_min_sessions() -> usize {
    100
}

fn default_learn_max_events() -> u64 {
    2_000_000
}

fn default_learn_hidden() -> usize {
    32
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            path: None,
            vocabulary: None,
            mode: Mode::default(),
            learn_secs: default_learn_secs(),
            learn_min_sessions: default_learn_min_sessions(),
            learn_max_events: default_learn_max_events(),
            learn_hidden: default_learn_hidden(),
        }
    }
}

impl ModelSettings {
    /// `path` and `vocabulary` come together; learn-mode bounds are usable.
    pub fn validate(&self) -> Result<(), (String, String)> {
        match (&self.path, &self.vocabulary) {
            (Some(_), None) => Err((
                "vocabulary".into(),
                "expected the vocab.json the model was trained with (dante train --state DIR)"
                    .into(),
            )),
            (None, Some(_)) => Err((
                "path".into(),
                "a vocabulary without a model: expected the model file too".into(),
            )),
            _ if self.learn_min_sessions == 0 => {
                Err(("learn_min_sessions".into(), "expected at least 1".into()))
            }
            _ if self.learn_max_events == 0 => {
                Err(("learn_max_events".into(), "expected at least 1".into()))
            }
            _ if !(1..=super::infer::MAX_HIDDEN).contains(&self.learn_hidden) => Err((
                "learn_hidden".into(),
                format!("expected 1 to {}", super::infer::MAX_HIDDEN),
            )),
            _ => Ok(()),
        }
    }
}
