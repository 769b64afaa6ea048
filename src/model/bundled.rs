//! The model and key vocabulary embedded in the binary, so that dante scores out of the box.
//! See `models/README.md` for how they were made.

use super::Model;
use super::file::{self, ModelFileError};
use crate::keys::{Miner, MinerConfig, vocab};
use std::path::Path;

/// The embedded model file.
pub const MODEL: &[u8] = include_bytes!("../../models/default.safetensors");
/// The embedded key vocabulary (`vocab.json`) the model was trained on.
pub const VOCABULARY: &[u8] = include_bytes!("../../models/default.vocab.json");

/// The embedded model, checked against the embedded vocabulary.
pub fn model() -> Result<Model, ModelFileError> {
    let model = file::from_bytes(MODEL).map_err(|reason| ModelFileError::Invalid {
        path: "<bundled model>".into(),
        reason,
    })?;
    let miner = miner(MinerConfig::default())?;
    file::check_vocabulary(&model, &vocab::templates_hash(&miner))?;
    Ok(model)
}

/// A miner holding the embedded key vocabulary.
pub fn miner(cfg: MinerConfig) -> Result<Miner, ModelFileError> {
    vocab::from_bytes(VOCABULARY, Path::new("<bundled vocabulary>"), cfg).map_err(|e| {
        ModelFileError::Invalid {
            path: "<bundled vocabulary>".into(),
            reason: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_model_loads_and_matches_its_vocabulary() {
        let m = model().unwrap();
        assert!(m.key_vocabulary.is_some());
        let miner = miner(MinerConfig::default()).unwrap();
        // Every key the model knows is a template of the vocabulary.
        for k in m.vocab.keys() {
            assert!(miner.template(*k).is_some(), "key {k} has no template");
        }
    }
}
