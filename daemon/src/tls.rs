//! The admin API's optional TLS: the `[api.tls]` PEM files read and checked into a rustls
//! server configuration.
//!
//! The files are read once, at start (and by `vigil check-config`), before any port is
//! bound; every problem (a file that cannot be read, no certificate or no key in it, a key
//! that is not the certificate's) is a [`ConfigError`] naming the field and the path. The
//! crypto provider is rustls' `ring` one, the provider the webhook output's HTTP client
//! already uses.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ApiTlsConfig, ConfigError};

const CERT_FIELD: &str = "api.tls.cert_file";
const KEY_FIELD: &str = "api.tls.key_file";

fn invalid(field: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_string(),
        message,
    }
}

fn read(field: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| invalid(field, format!("cannot read {}: {e}", path.display())))
}

/// The certificate chain in `path`, in file order.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let pem = read(CERT_FIELD, path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            invalid(
                CERT_FIELD,
                format!("{} is not valid PEM: {e}", path.display()),
            )
        })?;
    if chain.is_empty() {
        return Err(invalid(
            CERT_FIELD,
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(chain)
}

/// The first private key in `path`: PKCS#8, RSA (PKCS#1) or EC (SEC1).
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let pem = read(KEY_FIELD, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => invalid(
            KEY_FIELD,
            format!(
                "{} holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
                path.display()
            ),
        ),
        other => invalid(
            KEY_FIELD,
            format!("{} is not valid PEM: {other}", path.display()),
        ),
    })
}

/// Reads `[api.tls]` into a server configuration (TLS 1.2 and 1.3, HTTP/1.1).
///
/// # Errors
/// [`ConfigError::Invalid`] naming `api.tls.cert_file` or `api.tls.key_file` and the path:
/// a file that cannot be read or is not PEM, no certificate, no private key, a key rustls
/// cannot use, or a key that does not belong to the (first) certificate.
pub fn server_config(tls: &ApiTlsConfig) -> Result<rustls::ServerConfig, ConfigError> {
    let chain = certificates(&tls.cert_file)?;
    let key = private_key(&tls.key_file)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(CERT_FIELD, format!("no TLS version is usable: {e}")))?
        .with_no_client_auth();
    let mut config = builder.with_single_cert(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => invalid(
            KEY_FIELD,
            format!(
                "{} is not the private key of the certificate in {}",
                tls.key_file.display(),
                tls.cert_file.display()
            ),
        ),
        other => invalid(
            KEY_FIELD,
            format!(
                "{} cannot be used with the certificate in {}: {other}",
                tls.key_file.display(),
                tls.cert_file.display()
            ),
        ),
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("certificate");
        (cert.pem(), key.serialize_pem())
    }

    fn error(tls: &ApiTlsConfig) -> String {
        server_config(tls)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_matching_certificate_and_key_load() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = self_signed();
        let tls = ApiTlsConfig {
            cert_file: write(dir.path(), "cert.pem", &cert),
            key_file: write(dir.path(), "key.pem", &key),
        };
        let config = server_config(&tls).expect("loads");
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn each_problem_names_the_field_and_the_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = self_signed();
        let (_, other_key) = self_signed();
        let cert_file = write(dir.path(), "cert.pem", &cert);
        let key_file = write(dir.path(), "key.pem", &key);
        let missing = dir.path().join("absent.pem");
        let cases = [
            (missing.clone(), key_file.clone(), CERT_FIELD, "cannot read"),
            (
                key_file.clone(),
                key_file.clone(),
                CERT_FIELD,
                "no PEM certificate",
            ),
            (cert_file.clone(), missing.clone(), KEY_FIELD, "cannot read"),
            (
                cert_file.clone(),
                cert_file.clone(),
                KEY_FIELD,
                "no PEM private key",
            ),
            (
                cert_file.clone(),
                write(dir.path(), "other.pem", &other_key),
                KEY_FIELD,
                "is not the private key of the certificate",
            ),
            (
                write(
                    dir.path(),
                    "broken.pem",
                    "-----BEGIN CERTIFICATE-----\nAAAA\n",
                ),
                key_file.clone(),
                CERT_FIELD,
                "not valid PEM",
            ),
        ];
        for (cert_file, key_file, field, what) in cases {
            let blamed = if field == CERT_FIELD {
                &cert_file
            } else {
                &key_file
            };
            let blamed = blamed.display().to_string();
            let text = error(&ApiTlsConfig {
                cert_file: cert_file.clone(),
                key_file: key_file.clone(),
            });
            assert!(text.contains(field), "{text}");
            assert!(text.contains(what), "{text}");
            assert!(text.contains(&blamed), "{text}");
        }
    }
}
