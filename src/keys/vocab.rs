//! Saving and loading the vocabulary (ids, templates, counts) so that ids survive a restart.
//!
//! The file is `vocab.json` in the state directory: `{"format":1,"next_id":N,"templates":[{"id",
//! "template","count","family"?}],"aliases":[[retired,into]],"shape_hash":…,"shapes":[[sig,id]]}`.
//! `shapes` is the miner's exact-shape cache: with it, a line that fits two templates equally well
//! goes to the same key after a restart as before. It is written to a temporary file, fsynced,
//! renamed over the old one and the directory fsynced, so a crash leaves either the old or the new
//! vocabulary, never a mix.

use super::miner::{Cluster, KeyId, Miner, MinerConfig};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The vocabulary's file name inside a state directory.
pub const VOCAB_FILE: &str = "vocab.json";
const FORMAT: u32 = 1;

/// A vocabulary could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VocabError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file is not a vocabulary this version can read.
    #[error("{path}: not a valid dante vocabulary: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Serialize, Deserialize)]
struct VocabFile {
    format: u32,
    next_id: KeyId,
    templates: Vec<Entry>,
    /// Retired ids and the id each was merged into.
    #[serde(default)]
    aliases: Vec<(KeyId, KeyId)>,
    /// Which hash made `shapes`; shapes made by another are dropped (they are only a cache).
    #[serde(default)]
    shape_hash: String,
    /// Exact token-sequence shapes seen and their keys, so that a line that fits two templates
    /// equally well goes to the same one after a restart.
    #[serde(default)]
    shapes: Vec<(u64, KeyId)>,
}

/// Names the token hash (rustc-hash's FxHasher over the normalised token bytes and length).
const SHAPE_HASH: &str = "fx2-tokens-v1";

#[derive(Serialize, Deserialize)]
struct Entry {
    id: KeyId,
    template: String,
    count: u64,
    /// The family (templates that differ only by words) when not the template itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    family: Option<KeyId>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> VocabError + '_ {
    move |source| VocabError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A stable hash of the live templates and their ids (FNV-1a over `id<TAB>template<LF>` in id
/// order): a model trained on these keys records it, and refuses a vocabulary that differs.
pub fn templates_hash(miner: &Miner) -> String {
    fnv1a_hex(
        miner
            .clusters()
            .into_iter()
            .flat_map(|c| format!("{}\t{}\n", c.id, c.template()).into_bytes()),
    )
}

/// FNV-1a (64 bits) of `bytes`, as 16 hex digits: a stable fingerprint for vocabularies.
pub fn fnv1a_hex(bytes: impl IntoIterator<Item = u8>) -> String {
    format!("{:016x}", fnv1a(bytes))
}

/// FNV-1a (64 bits) of `bytes`: stable across builds and platforms, unlike `std`'s hashers.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Writes the miner's vocabulary into `dir` atomically, creating `dir` if needed.
pub fn save(miner: &Miner, dir: &Path) -> Result<PathBuf, VocabError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join(VOCAB_FILE);
    let file = VocabFile {
        format: FORMAT,
        next_id: miner.next_id(),
        templates: miner
            .clusters()
            .into_iter()
            .map(|c| Entry {
                id: c.id,
                template: c.template(),
                count: c.count,
                family: (c.family != c.id).then_some(c.family),
            })
            .collect(),
        aliases: {
            let mut a: Vec<_> = miner.aliases().collect();
            a.sort_unstable();
            a
        },
        shape_hash: SHAPE_HASH.to_string(),
        shapes: {
            let mut s: Vec<_> = miner.shapes().collect();
            s.sort_unstable();
            s
        },
    };
    let json = serde_json::to_vec(&file).map_err(|e| VocabError::Corrupt {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    crate::atomic::write_file(&path, &json).map_err(|(at, e)| io_err(&at)(e))?;
    Ok(path)
}

/// Loads the vocabulary in `dir` into a new miner; a missing file gives an empty miner.
pub fn load(dir: &Path, cfg: MinerConfig) -> Result<Miner, VocabError> {
    let path = dir.join(VOCAB_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Miner::new(cfg)),
        Err(e) => return Err(io_err(&path)(e)),
    };
    from_bytes(&bytes, &path, cfg)
}

/// Reads a vocabulary from the bytes of a `vocab.json` (`path` names it in errors).
pub fn from_bytes(bytes: &[u8], path: &Path, cfg: MinerConfig) -> Result<Miner, VocabError> {
    let path = path.to_path_buf();
    let corrupt = |reason: String| VocabError::Corrupt {
        path: path.clone(),
        reason,
    };
    let file: VocabFile = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if file.format != FORMAT {
        return Err(corrupt(format!(
            "format {} (this dante reads format {FORMAT})",
            file.format
        )));
    }
    let mut miner = Miner::new(cfg);
    let mut seen = std::collections::HashSet::new();
    for e in file.templates {
        if e.id == 0 || e.id >= file.next_id || !seen.insert(e.id) {
            return Err(corrupt(format!(
                "template id {} is 0, repeated or not below next_id {}",
                e.id, file.next_id
            )));
        }
        // Templates are tokens joined by one ASCII space, and tokens never hold ASCII
        // whitespace; other spaces (U+00A0…) belong to the tokens.
        let tokens = if e.template.is_empty() {
            Vec::new()
        } else {
            e.template.split(' ').map(Box::from).collect()
        };
        let mut c = Cluster::new(e.id, tokens, e.count);
        c.family = e.family.unwrap_or(e.id);
        miner.insert(c);
    }
    for (from, to) in file.aliases {
        if from >= file.next_id || to >= file.next_id || seen.contains(&from) {
            return Err(corrupt(format!(
                "alias {from} -> {to} names an unknown or live id"
            )));
        }
        miner.add_alias(from, to);
    }
    if file.shape_hash == SHAPE_HASH {
        for (sig, id) in file.shapes {
            miner.restore_shape(sig, id);
        }
    }
    miner.set_next_id(file.next_id);
    Ok(miner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_survive_a_save_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Miner::default();
        let lines = [
            "Accepted password for alice from 10.0.0.1 port 22 ssh2",
            "Accepted password for bob from 10.0.0.2 port 22 ssh2",
            "session closed for user alice",
            "",
        ];
        let ids: Vec<_> = lines.iter().map(|l| m.mine(l)).collect();
        save(&m, dir.path()).unwrap();
        let mut again = load(dir.path(), MinerConfig::default()).unwrap();
        assert_eq!(again.len(), m.len());
        for (line, id) in lines.iter().zip(&ids) {
            assert_eq!(again.mine(line), *id, "{line}");
            assert_eq!(again.template(*id), m.template(*id));
        }
        let new = again.mine("a brand new shape of line");
        assert!(
            ids.iter().all(|id| new > *id),
            "new ids continue after the old ones"
        );
    }

    #[test]
    fn missing_file_is_empty_and_corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path(), MinerConfig::default()).unwrap().is_empty());
        fs::write(dir.path().join(VOCAB_FILE), b"{\"format\":1,\"next_").unwrap();
        let err = load(dir.path(), MinerConfig::default()).unwrap_err();
        assert!(err.to_string().contains("vocab.json"), "{err}");
        fs::write(
            dir.path().join(VOCAB_FILE),
            br#"{"format":1,"next_id":2,"templates":[{"id":5,"template":"x","count":1}]}"#,
        )
        .unwrap();
        assert!(matches!(
            load(dir.path(), MinerConfig::default()),
            Err(VocabError::Corrupt { .. })
        ));
    }
}
