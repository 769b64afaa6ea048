//! The model file: safetensors weights with dante's JSON metadata in the safetensors header.
//!
//! Tensors: `embed.weight`, `lstm.weight_ih_l{k}`, `lstm.weight_hh_l{k}`, `lstm.bias_ih_l{k}`,
//! `lstm.bias_hh_l{k}` (PyTorch names and layouts), `out.weight`, `out.bias`, all f32. Metadata
//! key `dante`: `{format, vocab, vocab_hash, config, g, summary}`. Saving writes a temporary file,
//! fsyncs and renames. Loading checks everything it reads: a truncated, corrupt or foreign file
//! is an error naming the file, never a panic.

use super::pairs::KeyPairs;
use super::{LayerWeights, Model, ModelConfig, TrainingSummary, Vocabulary, Weights};
use crate::keys::KeyId;
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

const FORMAT: u32 = 1;

/// A model file could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a dante model this version can read.
    #[error("{path}: not a valid dante model: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The model's keys are not the keys of the vocabulary it is used with.
    #[error(
        "model vocabulary {model} does not match the key vocabulary {keys}: retrain the model on \
         this vocabulary (`dante train`) or use the vocabulary it was trained with"
    )]
    VocabularyMismatch {
        /// The model's vocabulary hash.
        model: String,
        /// The key vocabulary's hash.
        keys: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Meta {
    format: u32,
    vocab: Vec<KeyId>,
    vocab_hash: String,
    config: ModelConfig,
    g: usize,
    #[serde(default)]
    threshold: Option<f64>,
    #[serde(default)]
    key_vocabulary: Option<String>,
    #[serde(default)]
    params: Option<super::params::ParamModel>,
    /// [`Model::pairs`] as a list of vocabulary-index pairs; absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pairs: Option<Vec<[u32; 2]>>,
    /// [`Model::end_threshold`]; absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end_threshold: Option<f64>,
    summary: TrainingSummary,
}

/// The model as file bytes.
pub fn to_bytes(model: &Model) -> Result<Vec<u8>, String> {
    let w = &model.weights;
    let (e, h) = (w.config.embed, w.config.hidden);
    let (inputs, outputs) = (model.vocab.inputs(), model.vocab.outputs());
    let mut tensors: Vec<(String, Vec<usize>, &[f32])> = vec![
        ("embed.weight".into(), vec![inputs, e], &w.embed),
        ("out.weight".into(), vec![outputs, h], &w.out_w),
        ("out.bias".into(), vec![outputs], &w.out_b),
    ];
    for (l, lw) in w.layers.iter().enumerate() {
        let input = if l == 0 { e } else { h };
        tensors.push((format!("lstm.weight_ih_l{l}"), vec![4 * h, input], &lw.w_ih));
        tensors.push((format!("lstm.weight_hh_l{l}"), vec![4 * h, h], &lw.w_hh));
        tensors.push((format!("lstm.bias_ih_l{l}"), vec![4 * h], &lw.b_ih));
        tensors.push((format!("lstm.bias_hh_l{l}"), vec![4 * h], &lw.b_hh));
    }
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(n, s, v)| (n, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views = bytes
        .iter()
        .map(|(n, s, b)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let meta = Meta {
        format: FORMAT,
        vocab: model.vocab.keys().to_vec(),
        vocab_hash: model.vocab.hash(),
        config: w.config,
        g: model.g,
        threshold: model.threshold,
        key_vocabulary: model.key_vocabulary.clone(),
        params: model.params.clone(),
        pairs: model.pairs.as_ref().map(|p| p.to_list()),
        end_threshold: model.end_threshold,
        summary: model.summary.clone(),
    };
    let json = serde_json::to_string(&meta).map_err(|e| e.to_string())?;
    let info = HashMap::from([("dante".to_string(), json)]);
    safetensors::serialize(views, Some(info)).map_err(|e| e.to_string())
}

/// Writes `model` to `path` atomically.
pub fn save(model: &Model, path: &Path) -> Result<(), ModelFileError> {
    let invalid = |reason: String| ModelFileError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let io = |source| ModelFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = to_bytes(model).map_err(invalid)?;
    crate::atomic::write_file(path, &bytes).map_err(|(_, e)| io(e))
}

/// Reads a model from `path`.
pub fn load(path: &Path) -> Result<Model, ModelFileError> {
    let bytes = fs::read(path).map_err(|source| ModelFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    from_bytes(&bytes).map_err(|reason| ModelFileError::Invalid {
        path: path.to_path_buf(),
        reason,
    })
}

/// Reads a model from file bytes (the bundled model, a file's content).
pub fn from_bytes(bytes: &[u8]) -> Result<Model, String> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("dante"))
        .ok_or("no dante metadata (is this a dante model?)")?;
    let meta: Meta = serde_json::from_str(json).map_err(|e| format!("metadata: {e}"))?;
    if meta.format != FORMAT {
        return Err(format!(
            "format {} (this dante reads format {FORMAT})",
            meta.format
        ));
    }
    let vocab = Vocabulary::new(meta.vocab);
    if vocab.hash() != meta.vocab_hash {
        return Err("vocabulary does not match its hash".into());
    }
    let st = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let get = |name: &str| -> Result<Vec<f32>, String> {
        let t = st.tensor(name).map_err(|e| format!("{name}: {e}"))?;
        if t.dtype() != Dtype::F32 {
            return Err(format!("{name}: {:?}, expected F32", t.dtype()));
        }
        Ok(t.data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    };
    let mut layers = Vec::new();
    for l in 0..meta.config.layers.min(8) {
        layers.push(LayerWeights {
            w_ih: get(&format!("lstm.weight_ih_l{l}"))?,
            w_hh: get(&format!("lstm.weight_hh_l{l}"))?,
            b_ih: get(&format!("lstm.bias_ih_l{l}"))?,
            b_hh: get(&format!("lstm.bias_hh_l{l}"))?,
        });
    }
    let weights = Weights {
        config: meta.config,
        embed: get("embed.weight")?,
        layers,
        out_w: get("out.weight")?,
        out_b: get("out.bias")?,
    };
    weights.check(vocab.len())?;
    if weights
        .embed
        .iter()
        .chain(&weights.out_w)
        .chain(&weights.out_b)
        .any(|x| !x.is_finite())
    {
        return Err("weights hold NaN or infinity".into());
    }
    if meta.g == 0 {
        return Err("g is 0".into());
    }
    let pairs = match &meta.pairs {
        Some(list) => Some(KeyPairs::from_list(vocab.outputs(), list)?),
        None => None,
    };
    Ok(Model {
        vocab,
        weights,
        g: meta.g,
        threshold: meta.threshold.filter(|t| t.is_finite()),
        key_vocabulary: meta.key_vocabulary,
        params: meta.params,
        pairs,
        end_threshold: meta.end_threshold.filter(|t| t.is_finite()),
        summary: meta.summary,
    })
}

/// Checks that `model` was trained on the key vocabulary whose templates hash to `keys_hash`
/// ([`crate::keys::vocab::templates_hash`]). A model trained on bare session files records no
/// vocabulary and passes.
pub fn check_vocabulary(model: &Model, keys_hash: &str) -> Result<(), ModelFileError> {
    match &model.key_vocabulary {
        Some(ours) if ours != keys_hash => Err(ModelFileError::VocabularyMismatch {
            model: ours.clone(),
            keys: keys_hash.to_string(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        let config = ModelConfig {
            embed: 4,
            hidden: 6,
            layers: 2,
        };
        Model {
            g: 2,
            threshold: Some(6.5),
            key_vocabulary: Some("00aa".into()),
            params: Some(crate::model::params::ParamModel {
                keys: [(
                    4,
                    crate::model::params::KeyParams {
                        dims: vec![crate::model::params::Dim {
                            name: "dt".into(),
                            median: 1.5,
                            scale: 0.25,
                        }],
                    },
                )]
                .into(),
                threshold: 4.0,
            }),
            summary: TrainingSummary {
                sessions: 10,
                ..TrainingSummary::default()
            },
            // Outputs: unknown, the keys 2, 4, 8, the end.
            pairs: Some(KeyPairs::from_list(5, &[[1, 2], [2, 3]]).unwrap()),
            end_threshold: Some(7.5),
            ..crate::model::random_model(vec![2, 4, 8], config, 3)
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let m = model();
        save(&m, &path).unwrap();
        assert_eq!(load(&path).unwrap(), m);
    }

    #[test]
    fn truncated_corrupt_and_foreign_files_are_errors() {
        let bytes = to_bytes(&model()).unwrap();
        for cut in [0, 7, 8, 100, bytes.len() / 2, bytes.len() - 1] {
            assert!(from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        let n = flipped.len();
        flipped[n - 3] ^= 0xff; // a weight changes: still a model, but check it is finite or fails
        let _ = from_bytes(&flipped);
        assert!(from_bytes(b"not a model at all").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.bin");
        fs::write(&path, &bytes[..50]).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("m.bin") && err.contains("not a valid dante model"),
            "{err}"
        );
    }

    #[test]
    fn vocabulary_mismatch_is_a_clear_error() {
        let mut m = model();
        assert!(check_vocabulary(&m, "00aa").is_ok());
        let err = check_vocabulary(&m, "0000").unwrap_err().to_string();
        m.key_vocabulary = None;
        assert!(check_vocabulary(&m, "0000").is_ok());
        assert!(err.contains("does not match"), "{err}");
    }
}
