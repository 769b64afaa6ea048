//! TLS for the listening sources (rustls, ring): a server certificate and key from PEM files
//! and, optionally, client certificates required and checked against a CA file.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig, server::WebPkiClientVerifier};

/// `tls = { cert_file, key_file, ca_file }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server's certificate chain (PEM), leaf first.
    pub cert_file: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// When set, clients must present a certificate signed by one of these CAs (PEM).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// The TLS settings could not be used: which key (`tls.cert_file`) and why.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct TlsError {
    /// `tls.cert_file`, `tls.key_file` or `tls.ca_file`.
    pub key: &'static str,
    /// Why, with the file.
    pub message: String,
}

fn fail(key: &'static str, path: &Path, why: impl std::fmt::Display) -> TlsError {
    TlsError {
        key,
        message: format!("{}: {why}", path.display()),
    }
}

fn certificates(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(key, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(key, path, e))?;
    if certs.is_empty() {
        return Err(fail(key, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

impl TlsConfig {
    /// Reads the files and builds the acceptor; an error names the key and the file.
    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsError> {
        let certs = certificates("tls.cert_file", &self.cert_file)?;
        let key = PrivateKeyDer::from_pem_file(&self.key_file)
            .map_err(|e| fail("tls.key_file", &self.key_file, e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| fail("tls", &self.cert_file, e))?;
        let builder = match &self.ca_file {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in certificates("tls.ca_file", ca)? {
                    roots.add(c).map_err(|e| fail("tls.ca_file", ca, e))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| fail("tls.ca_file", ca, e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let cfg = builder
            .with_single_cert(certs, key)
            .map_err(|e| fail("tls.key_file", &self.key_file, e))?;
        Ok(TlsAcceptor::from(Arc::new(cfg)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    pub(crate) fn server(mutual: bool) -> TlsConfig {
        TlsConfig {
            cert_file: fixture("server.pem"),
            key_file: fixture("server.key"),
            ca_file: mutual.then(|| fixture("ca.pem")),
        }
    }

    /// A client trusting the test CA, with the client certificate when `with_cert`.
    pub(crate) fn connector(with_cert: bool) -> tokio_rustls::TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for c in certificates("ca", &fixture("ca.pem")).unwrap() {
            roots.add(c).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let cfg = if with_cert {
            let certs = certificates("c", &fixture("client.pem")).unwrap();
            let key = PrivateKeyDer::from_pem_file(fixture("client.key")).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        tokio_rustls::TlsConnector::from(Arc::new(cfg))
    }

    #[test]
    fn good_files_make_an_acceptor() {
        server(false).acceptor().unwrap();
        server(true).acceptor().unwrap();
    }

    #[test]
    fn bad_files_name_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not pem at all\n").unwrap();
        let missing = dir.path().join("missing.pem");
        let cases = [
            (
                TlsConfig {
                    cert_file: missing.clone(),
                    ..server(false)
                },
                "tls.cert_file",
                "missing.pem",
            ),
            (
                TlsConfig {
                    cert_file: junk.clone(),
                    ..server(false)
                },
                "tls.cert_file",
                "no PEM certificate",
            ),
            (
                TlsConfig {
                    key_file: junk.clone(),
                    ..server(false)
                },
                "tls.key_file",
                "junk.pem",
            ),
            (
                // A key that is not the certificate's.
                TlsConfig {
                    key_file: fixture("client.key"),
                    ..server(false)
                },
                "tls.key_file",
                "client.key",
            ),
            (
                TlsConfig {
                    ca_file: Some(junk.clone()),
                    ..server(false)
                },
                "tls.ca_file",
                "junk.pem",
            ),
        ];
        for (cfg, key, says) in cases {
            let e = cfg.acceptor().err().expect("an error");
            assert_eq!(e.key, key, "{e}");
            assert!(e.to_string().contains(says), "{e}");
        }
    }
}
