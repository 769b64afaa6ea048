//! The agent's configuration: one TOML file in Vector's shape (`data_dir`, `[sources.<id>]`,
//! `[users]`, `[model]`, `[sinks.<id>]`, `[api]`). Each section's type lives with its stage; this
//! module reads the file, checks what the types cannot, and words errors as
//! `FILE:LINE:COLUMN: KEY: WHAT` (`agent.toml:12:7: sinks.tickets.url: invalid type: integer
//! `5`, expected a string`). `agent.toml.example` documents every key.

use crate::agent::ApiConfig;
use crate::model::ModelSettings;
use crate::sink::SinkConfig;
use crate::source::SourceConfig;
use crate::user::UsersConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the agent keeps its state: key vocabulary, user windows, checkpoints, queues.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Where lines come from, by id.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// Attribution of events to users, and the per-user windows.
    #[serde(default)]
    pub users: UsersConfig,
    /// The model that scores.
    #[serde(default)]
    pub model: ModelSettings,
    /// Where anomaly events go, by id.
    #[serde(default)]
    pub sinks: BTreeMap<String, SinkConfig>,
    /// The local HTTP API: `/metrics` and `/health`.
    #[serde(default)]
    pub api: ApiConfig,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/dante")
}

/// The configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key is wrong: bad TOML, a bad type, an unknown key, a value out of range.
    #[error("{}", Located(.0))]
    Invalid(Box<Problem>),
}

/// Where and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column, when known.
    pub at: Option<(usize, usize)>,
    /// The key at fault (`sinks.tickets.url`), empty for the document.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

struct Located<'a>(&'a Problem);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0;
        write!(f, "{}", p.path.display())?;
        if let Some((line, col)) = p.at {
            write!(f, ":{line}:{col}")?;
        }
        if !p.key.is_empty() {
            write!(f, ": {}", p.key)?;
        }
        write!(f, ": {}", p.message)
    }
}

impl ConfigError {
    /// The problem, when it is about the content.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Invalid(p) => Some(p),
            Self::Io { .. } => None,
        }
    }
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Parses and checks `text`, naming `path` in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let problem = |at, key: String, message: String| {
            ConfigError::Invalid(Box::new(Problem {
                path: path.to_path_buf(),
                at,
                key,
                message,
            }))
        };
        let de = toml::de::Deserializer::parse(text).map_err(|e| {
            problem(
                e.span().map(|s| line_col(text, s.start)),
                String::new(),
                e.message().to_string(),
            )
        })?;
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." { String::new() } else { key };
            let inner = e.into_inner();
            // A source or sink is a tagged enum, and serde reports its errors at the table: find
            // the field by reading the table again as its variant.
            if let Some((key, message)) = refine(text, &key) {
                return problem(locate(text, &key), key, message);
            }
            let at = inner
                .span()
                .map(|s| line_col(text, s.start))
                .or_else(|| locate(text, &key));
            problem(at, key, inner.message().to_string())
        })?;
        config
            .validate()
            .map_err(|(key, message)| problem(locate(text, &key), key, message))?;
        Ok(config)
    }

    /// The defaults used when dante runs without a configuration file: syslog on
    /// 127.0.0.1:5514 (UDP and TCP), `/var/log/auth.log` when it is readable, the stdout sink,
    /// the bundled model, state in `$STATE_DIRECTORY` (systemd) or `./dante-data`.
    pub fn embedded() -> Self {
        let mut sources = BTreeMap::new();
        for (id, mode) in [
            ("syslog_udp", crate::source::syslog::Mode::Udp),
            ("syslog_tcp", crate::source::syslog::Mode::Tcp),
        ] {
            sources.insert(
                id.to_string(),
                SourceConfig::Syslog(crate::source::syslog::SyslogConfig {
                    mode,
                    address: "127.0.0.1:5514".into(),
                    max_length: crate::source::lines::DEFAULT_MAX_LINE_BYTES,
                    connection_limit: 256,
                    tls: None,
                    socket_mode: None,
                }),
            );
        }
        let auth = Path::new("/var/log/auth.log");
        if std::fs::File::open(auth).is_ok() {
            sources.insert(
                "auth_log".into(),
                SourceConfig::File(crate::source::file::FileConfig {
                    include: vec![auth.display().to_string()],
                    exclude: Vec::new(),
                    read_from: crate::source::file::ReadFrom::End,
                    max_line_bytes: crate::source::lines::DEFAULT_MAX_LINE_BYTES,
                    format: "auto".into(),
                    poll_interval_ms: 1000,
                }),
            );
        }
        let mut sinks = BTreeMap::new();
        sinks.insert("stdout".to_string(), SinkConfig::Stdout);
        Config {
            data_dir: std::env::var_os("STATE_DIRECTORY")
                .map_or_else(|| PathBuf::from("dante-data"), PathBuf::from),
            sources,
            users: UsersConfig::default(),
            model: ModelSettings::default(),
            sinks,
            api: ApiConfig::default(),
        }
    }

    /// What serde cannot check: the key at fault (`sources.auth.include`) and why.
    fn validate(&self) -> Result<(), (String, String)> {
        if self.sources.is_empty() {
            return Err(("sources".into(), "expected at least one source".into()));
        }
        if self.sinks.is_empty() {
            return Err(("sinks".into(), "expected at least one sink".into()));
        }
        for (id, s) in &self.sources {
            s.validate()
                .map_err(|(k, m)| (format!("sources.{id}.{k}"), m))?;
            s.format()
                .parse::<crate::keys::Format>()
                .map_err(|e| (format!("sources.{id}.format"), e.to_string()))?;
        }
        for (id, s) in &self.sinks {
            s.validate()
                .map_err(|(k, m)| (format!("sinks.{id}.{k}"), m))?;
        }
        self.users
            .validate()
            .map_err(|(k, m)| (format!("users.{k}"), m))?;
        self.model
            .validate()
            .map_err(|(k, m)| (format!("model.{k}"), m))?;
        self.api
            .validate()
            .map_err(|(k, m)| (format!("api.{k}"), m))?;
        Ok(())
    }
}

/// For an error reported at `sources.<id>` or `sinks.<id>`: the field at fault and why, found by
/// reading that table as the variant its `type` names.
fn refine(text: &str, key: &str) -> Option<(String, String)> {
    use crate::sink::{FileSinkConfig, webhook::WebhookConfig};
    use crate::source::{
        file::FileConfig, http::HttpConfig, stdin::StdinConfig, syslog::SyslogConfig,
    };
    let mut parts = key.split('.');
    let (section, id) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let doc: toml::Table = toml::from_str(text).ok()?;
    let mut table = doc.get(section)?.as_table()?.get(id)?.as_table()?.clone();
    let kind = table.remove("type")?.as_str()?.to_string();
    let body = toml::to_string(&table).ok()?;
    let field = match (section, kind.as_str()) {
        ("sources", "file") => field_error::<FileConfig>(&body),
        ("sources", "syslog") => field_error::<SyslogConfig>(&body),
        ("sources", "http") => field_error::<HttpConfig>(&body),
        ("sources", "stdin") => field_error::<StdinConfig>(&body),
        ("sinks", "file") => field_error::<FileSinkConfig>(&body),
        ("sinks", "webhook") => field_error::<WebhookConfig>(&body),
        _ => None,
    }?;
    let key = if field.0.is_empty() {
        format!("{section}.{id}")
    } else {
        format!("{section}.{id}.{}", field.0)
    };
    Some((key, field.1))
}

/// The path and message of the error deserializing `body` as `T`, if any.
fn field_error<T: serde::de::DeserializeOwned>(body: &str) -> Option<(String, String)> {
    let de = toml::de::Deserializer::parse(body).ok()?;
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(_) => None,
        Err(e) => {
            let path = e.path().to_string();
            let message = e.into_inner().message().to_string();
            // A missing field is reported at the table itself (`.`).
            Some((if path == "." { String::new() } else { path }, message))
        }
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = before.len()
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    (line, col)
}

/// Where the key `a.b.c` (array indexes as `[i]` or `.i`) is written, as far down the path as
/// the document goes.
fn locate(text: &str, key: &str) -> Option<(usize, usize)> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut found = None;
    for seg in key.split(['.', '[', ']']).filter(|s| !s.is_empty()) {
        // A key that is missing (a required one) is reported where its table is.
        let Some((k, v)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == seg) else {
            break;
        };
        found = Some(line_col(text, k.span().start));
        match v.get_ref().as_table() {
            Some(t) => table = t,
            None => break,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::from_toml(text, Path::new("agent.toml"))
            .unwrap_err()
            .to_string()
    }

    const MINIMAL: &str = r#"
[sources.in]
type = "stdin"

[sinks.out]
type = "stdout"
"#;

    #[test]
    fn a_minimal_file_gets_the_defaults() {
        let c = Config::from_toml(MINIMAL, Path::new("agent.toml")).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/dante"));
        assert_eq!(c.users, UsersConfig::default());
        assert_eq!(c.api, ApiConfig::default());
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_key() {
        let e = err(&format!(
            "{MINIMAL}\n[sinks.tickets]\ntype = \"file\"\npath = 5\n"
        ));
        assert!(
            e.starts_with("agent.toml:10:1: sinks.tickets.path: "),
            "{e}"
        );
        assert!(e.contains("integer") && e.contains("string"), "{e}");

        let e = err(&format!("{MINIMAL}\n[users]\nmax_users = \"many\"\n"));
        assert!(e.starts_with("agent.toml:9:"), "{e}");
        assert!(e.contains("users.max_users"), "{e}");

        let e = err(&format!("{MINIMAL}\n[api]\nadress = \"127.0.0.1:1\"\n"));
        assert!(e.contains("unknown field `adress`"), "{e}");
        assert!(e.starts_with("agent.toml:9:"), "{e}");

        let e = err("data_dir = [\n");
        assert!(e.starts_with("agent.toml:"), "{e}");
    }

    #[test]
    fn checks_beyond_types_point_at_the_key() {
        let e = err(
            "[sources.auth]\ntype = \"file\"\ninclude = [\"/var/log/[\"]\n[sinks.out]\ntype = \"stdout\"\n",
        );
        assert!(
            e.starts_with("agent.toml:3:1: sources.auth.include:"),
            "{e}"
        );

        let e = err(
            "[sources.net]\ntype = \"syslog\"\nmode = \"udp\"\naddress = \"localhost\"\n[sinks.out]\ntype = \"stdout\"\n",
        );
        assert!(e.starts_with("agent.toml:4:1: sources.net.address:"), "{e}");

        let e = err("[sources.a]\ntype = \"file\"\n[sinks.out]\ntype = \"stdout\"\n");
        assert!(
            e.starts_with("agent.toml:1:") && e.contains("sources.a: missing field `include`"),
            "{e}"
        );
        let e = err(
            "[sources.a]\ntype = \"stdin\"\nformat = \"auto\"\nmax_lines = 3\n[sinks.out]\ntype = \"stdout\"\n",
        );
        assert!(e.contains("unknown field `max_lines`"), "{e}");
        let e = err("[sources.a]\ntype = \"tape\"\n[sinks.out]\ntype = \"stdout\"\n");
        assert!(e.contains("sources.a") && e.contains("tape"), "{e}");
        let e = err(
            "[sources.a]\ntype = \"stdin\"\n[sinks.t]\ntype = \"webhook\"\nurl = \"https://x/\"\nformat = \"jira\"\n",
        );
        assert!(
            e.starts_with("agent.toml:3:8: sinks.t.project: required"),
            "{e}"
        );
        let e = err("[sinks.out]\ntype = \"stdout\"\n");
        assert!(e.contains("sources: expected at least one source"), "{e}");
        let e = err(&format!(
            "{MINIMAL}\n[model]\nmode = \"learn\"\nlearn_hidden = 0\n"
        ));
        assert!(
            e.starts_with("agent.toml:") && e.contains("model.learn_hidden: expected 1 to 256"),
            "{e}"
        );
        let e = err(
            "[sources.net]\ntype = \"syslog\"\nmode = \"udp\"\naddress = \"127.0.0.1:1\"\ntls = { cert_file = \"a\", key_file = \"b\" }\n[sinks.out]\ntype = \"stdout\"\n",
        );
        assert!(e.contains("sources.net.tls: TLS is only for mode"), "{e}");
        let e = err(
            "[sources.net]\ntype = \"syslog\"\nmode = \"tcp\"\naddress = \"127.0.0.1:1\"\ntls = { cert_file = \"a\" }\n[sinks.out]\ntype = \"stdout\"\n",
        );
        assert!(e.contains("sources.net") && e.contains("key_file"), "{e}");
        let e = err(&format!("{MINIMAL}\n[model]\nmode = \"teach\"\n"));
        assert!(e.contains("model.mode") && e.contains("teach"), "{e}");
    }

    #[test]
    fn the_example_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("agent.toml.example");
        Config::load(&path).unwrap();
    }

    #[test]
    fn the_embedded_defaults_are_valid() {
        Config::embedded().validate().unwrap();
    }
}
