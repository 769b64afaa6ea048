//! Secrets in the configuration (tokens, HMAC keys): given inline, read from a file, or taken from
//! an environment variable, and never printed: `Debug` shows only where the value came from.

use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

/// Where a secret comes from, as written in the configuration.
///
/// ```toml
/// token = "inline value"
/// token = { env = "DANTE_TOKEN" }
/// token = { file = "/etc/dante/token" }
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Secret {
    /// The value itself.
    Inline(String),
    /// An environment variable holding it.
    Env {
        /// The variable's name.
        env: String,
    },
    /// A file holding it (one trailing newline is dropped).
    File {
        /// The file's path.
        file: PathBuf,
    },
}

/// A secret could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The environment variable is not set or not UTF-8.
    #[error("environment variable {0} is not set")]
    Env(String),
    /// The file could not be read.
    #[error("cannot read secret file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The value is empty.
    #[error("the secret from {0} is empty")]
    Empty(String),
}

impl Secret {
    /// The value.
    pub fn resolve(&self) -> Result<String, SecretError> {
        let value = match self {
            Self::Inline(v) => v.clone(),
            Self::Env { env } => std::env::var(env).map_err(|_| SecretError::Env(env.clone()))?,
            Self::File { file } => {
                let mut v = std::fs::read_to_string(file).map_err(|source| SecretError::File {
                    path: file.clone(),
                    source,
                })?;
                if v.ends_with('\n') {
                    v.pop();
                    if v.ends_with('\r') {
                        v.pop();
                    }
                }
                v
            }
        };
        if value.is_empty() {
            return Err(SecretError::Empty(self.origin()));
        }
        Ok(value)
    }

    /// Where the value comes from, safe to print.
    pub fn origin(&self) -> String {
        match self {
            Self::Inline(_) => "the configuration".to_string(),
            Self::Env { env } => format!("${env}"),
            Self::File { file } => file.display().to_string(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted>, from {})", self.origin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct T {
        token: Secret,
    }

    #[test]
    fn sources_resolve_and_debug_never_shows_the_value() {
        let t: T = toml::from_str(r#"token = "hunter2""#).unwrap();
        assert_eq!(t.token.resolve().unwrap(), "hunter2");
        assert!(!format!("{t:?}").contains("hunter2"));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tok");
        std::fs::write(&path, "s3cret\n").unwrap();
        let t: T = toml::from_str(&format!("token = {{ file = {:?} }}", path)).unwrap();
        assert_eq!(t.token.resolve().unwrap(), "s3cret");
        assert!(!format!("{t:?}").contains("s3cret"));

        let t: T = toml::from_str(r#"token = { env = "DANTE_TEST_SURELY_UNSET_VAR" }"#).unwrap();
        assert!(matches!(t.token.resolve(), Err(SecretError::Env(_))));
        std::fs::write(&path, "").unwrap();
        let t: T = toml::from_str(&format!("token = {{ file = {:?} }}", path)).unwrap();
        assert!(matches!(t.token.resolve(), Err(SecretError::Empty(_))));
    }
}
