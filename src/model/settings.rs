//! `[model]`: which model the agent scores with.

use serde::Deserialize;
use std::path::PathBuf;

/// `[model]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
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
}

impl ModelSettings {
    /// `path` and `vocabulary` come together.
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
            _ => Ok(()),
        }
    }
}
