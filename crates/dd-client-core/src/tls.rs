//! TLS for `https://` / `wss://` agents (an agent behind a reverse proxy or
//! a tunnel). TLS only carries the connection: what the client trusts is
//! the agent's Noise key pinned from its link, so a proxy that terminates
//! TLS sees ciphertext and cannot forge the agent. The certificate is still
//! verified (system roots, plus a private CA when given) so that a wrong
//! host or a broken proxy is reported as what it is.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::error::{ClientError, TlsError};

/// Which certificates a TLS agent connection accepts. [`Default`]: the
/// system trust store (the Mozilla roots where the system has none, as on
/// iOS).
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// Extra trusted CA certificates (a private CA), in addition to the system's.
    extra: Arc<Vec<CertificateDer<'static>>>,
    /// The client config, built on first use.
    config: Arc<OnceLock<Arc<ClientConfig>>>,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("extra_cas", &self.extra.len())
            .finish()
    }
}

impl TlsOptions {
    /// Also trusts the CA certificates in `pem` (one or more PEM
    /// `CERTIFICATE` blocks). Fails when it holds none.
    pub fn with_ca_pem(pem: &[u8]) -> Result<TlsOptions, ClientError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::CaFile(format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(TlsError::CaFile("no PEM CERTIFICATE block in it".into()).into());
        }
        // Check now that each parses as a trust anchor, so a bad file is
        // reported at startup rather than at the first connection.
        let mut roots = RootCertStore::empty();
        for c in &certs {
            roots
                .add(c.clone())
                .map_err(|e| TlsError::CaFile(format!("not a usable CA certificate: {e}")))?;
        }
        Ok(TlsOptions {
            extra: Arc::new(certs),
            config: Arc::default(),
        })
    }

    /// [`with_ca_pem`](Self::with_ca_pem) on the contents of `path`.
    pub fn with_ca_file(path: &Path) -> Result<TlsOptions, ClientError> {
        let pem = std::fs::read(path)
            .map_err(|e| TlsError::CaFile(format!("{}: {e}", path.display())))?;
        Self::with_ca_pem(&pem).map_err(|e| match e {
            ClientError::Tls(TlsError::CaFile(m)) => {
                TlsError::CaFile(format!("{}: {m}", path.display())).into()
            }
            other => other,
        })
    }

    /// Number of extra CA certificates.
    pub fn extra_cas(&self) -> usize {
        self.extra.len()
    }

    fn client_config(&self) -> Arc<ClientConfig> {
        self.config
            .get_or_init(|| {
                let mut roots = system_roots().clone();
                for c in self.extra.iter() {
                    let _ = roots.add(c.clone());
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .expect("the ring provider supports TLS 1.2 and 1.3")
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Arc::new(config)
            })
            .clone()
    }
}

/// The system's trust store, read once; the Mozilla roots (webpki-roots)
/// when the system offers none (iOS, minimal containers).
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for c in found.certs {
            let _ = roots.add(c);
        }
        if roots.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        roots
    })
}

/// Runs the TLS handshake for `host` on `tcp`.
pub(crate) async fn connect(
    opts: &TlsOptions,
    host: &url::Host<&str>,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, ClientError> {
    let name = match host {
        url::Host::Domain(d) => {
            ServerName::try_from(d.to_string()).map_err(|e| TlsError::Handshake {
                host: d.to_string(),
                detail: format!("not a valid TLS server name: {e}"),
            })?
        }
        url::Host::Ipv4(a) => ServerName::IpAddress((*a).into()),
        url::Host::Ipv6(a) => ServerName::IpAddress((*a).into()),
    };
    let shown = host.to_string();
    TlsConnector::from(opts.client_config())
        .connect(name, tcp)
        .await
        .map_err(|e| classify(&shown, e).into())
}

/// Names a failed TLS handshake: untrusted certificate, wrong host, or
/// anything else (not TLS at all, a reset, ...).
fn classify(host: &str, e: std::io::Error) -> TlsError {
    let host = host.to_owned();
    let Some(err) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return TlsError::Handshake {
            host,
            detail: e.to_string(),
        };
    };
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => TlsError::WrongHost {
            host,
            detail: err.to_string(),
        },
        rustls::Error::InvalidCertificate(_) => TlsError::BadCertificate {
            host,
            detail: err.to_string(),
        },
        rustls::Error::InvalidMessage(_) => TlsError::Handshake {
            host,
            detail: format!("{err} (is this port plain HTTP rather than HTTPS?)"),
        },
        other => TlsError::Handshake {
            host,
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_pem_rejections() {
        for bad in [
            &b""[..],
            b"hello",
            b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        ] {
            let e = TlsOptions::with_ca_pem(bad).unwrap_err();
            assert_eq!(e.kind(), "bad_ca_file", "{e}");
        }
        let e = TlsOptions::with_ca_file(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn system_roots_are_never_empty() {
        assert!(!system_roots().is_empty());
        let cfg = TlsOptions::default().client_config();
        assert!(cfg.alpn_protocols.is_empty());
    }
}
