//! rustls configurations built from the PKI, always on the ring crypto provider.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::pki::{certs_from_pem, key_from_pem, CertKey, Pki};
use crate::Error;

/// ALPN protocols, in preference order: client-go speaks HTTP/2 for normal calls and forces
/// HTTP/1.1 for SPDY / WebSocket upgrades.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

const VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(what: &str, pem: &str) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    for der in certs_from_pem(what, pem)? {
        store.add(der)?;
    }
    Ok(store)
}

/// rustls server config for the API server: serving cert + key (the whole chain in the serving
/// cert file), ALPN ["h2", "http/1.1"], client certificates verified against the client CA but
/// optional (anonymous and token clients are allowed; a presented certificate that does not verify
/// fails the handshake), ring provider, TLS 1.2 and 1.3.
///
/// After the handshake, `ServerConnection::peer_certificates()` holds the verified chain; pass its
/// first element to [`crate::authn::user_from_client_cert`].
pub fn server_config(pki: &Pki) -> Result<Arc<ServerConfig>, Error> {
    let provider = provider();
    let client_roots = roots("client CA certificate", &pki.client_ca.cert_pem)?;
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(client_roots), provider.clone())
            .allow_unauthenticated()
            .build()?;
    let chain = certs_from_pem("serving certificate", &pki.serving.cert_pem)?;
    let key = key_from_pem("serving private key", &pki.serving.key_pem)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client config trusting the CA(s) in `ca_pem` and, if given, presenting a client certificate
/// (for tests and in-process clients). ALPN ["h2", "http/1.1"], ring provider, TLS 1.2 and 1.3.
pub fn client_config(ca_pem: &str, client: Option<&CertKey>) -> Result<Arc<ClientConfig>, Error> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)?
        .with_root_certificates(roots("CA certificate", ca_pem)?);
    let mut config = match client {
        Some(ck) => builder.with_client_auth_cert(
            certs_from_pem("client certificate", &ck.cert_pem)?,
            key_from_pem("client private key", &ck.key_pem)?,
        )?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}
