use std::sync::Arc;

use k3rs_auth::authn::{user_from_client_cert, UserInfo, AUTHENTICATED, MASTERS};
use k3rs_auth::pki::{self, load_or_create, CertKey, Pki, PkiConfig};
use k3rs_auth::tls::{client_config, server_config};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn make_pki(dir: &std::path::Path) -> Pki {
    load_or_create(&PkiConfig {
        dir: dir.to_path_buf(),
        service_ip: Some("10.43.0.1".into()),
        ..Default::default()
    })
    .unwrap()
}

#[derive(Debug)]
struct Seen {
    alpn: Option<Vec<u8>>,
    user: Option<UserInfo>,
    version: Option<rustls::ProtocolVersion>,
}

/// Accepts one connection; returns what the server saw, or the handshake error.
async fn serve_one(listener: &TcpListener, acceptor: &TlsAcceptor) -> Result<Seen, std::io::Error> {
    let (tcp, _) = listener.accept().await?;
    let mut tls = acceptor.accept(tcp).await?;
    let (_, conn) = tls.get_ref();
    let seen = Seen {
        alpn: conn.alpn_protocol().map(|p| p.to_vec()),
        user: conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| user_from_client_cert(c).unwrap()),
        version: conn.protocol_version(),
    };
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"ping");
    tls.write_all(b"pong").await?;
    tls.shutdown().await?;
    Ok(seen)
}

async fn client_round_trip(
    addr: std::net::SocketAddr,
    cfg: Arc<rustls::ClientConfig>,
    name: &str,
) -> Result<Option<Vec<u8>>, std::io::Error> {
    let tcp = TcpStream::connect(addr).await?;
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let mut tls = TlsConnector::from(cfg).connect(server_name, tcp).await?;
    let alpn = tls.get_ref().1.alpn_protocol().map(|p| p.to_vec());
    tls.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"pong");
    Ok(alpn)
}

#[tokio::test]
async fn handshake_maps_client_cert_to_user() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = make_pki(tmp.path());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(server_config(&pki).unwrap());

    // With the admin client cert, by several of the names in the serving cert.
    for name in ["localhost", "127.0.0.1", "kubernetes.default.svc"] {
        let cfg = client_config(&pki.server_ca.cert_pem, Some(&pki.admin)).unwrap();
        let (seen, alpn) = tokio::join!(
            serve_one(&listener, &acceptor),
            client_round_trip(addr, cfg, name)
        );
        let seen = seen.unwrap();
        assert_eq!(alpn.unwrap().as_deref(), Some(&b"h2"[..]));
        assert_eq!(seen.alpn.as_deref(), Some(&b"h2"[..]));
        assert_eq!(seen.version, Some(rustls::ProtocolVersion::TLSv1_3));
        let user = seen.user.unwrap();
        assert_eq!(user.name, "system:admin");
        assert_eq!(user.groups, [MASTERS, AUTHENTICATED]);
    }

    // A user in several groups (one O each) keeps them all through the handshake.
    let dev = pki::issue_client_cert(
        &pki.client_ca,
        "dev",
        &["team-a".into(), "team-b".into()],
        1,
    )
    .unwrap();
    let cfg = client_config(&pki.server_ca.cert_pem, Some(&dev)).unwrap();
    let (seen, _) = tokio::join!(
        serve_one(&listener, &acceptor),
        client_round_trip(addr, cfg, "localhost")
    );
    let user = seen.unwrap().user.unwrap();
    assert_eq!(user.name, "dev");
    assert_eq!(user.groups, ["team-a", "team-b", AUTHENTICATED]);

    // Without a client cert: allowed, anonymous at the TLS layer.
    let cfg = client_config(&pki.server_ca.cert_pem, None).unwrap();
    let (seen, alpn) = tokio::join!(
        serve_one(&listener, &acceptor),
        client_round_trip(addr, cfg, "localhost")
    );
    let seen = seen.unwrap();
    assert_eq!(alpn.unwrap().as_deref(), Some(&b"h2"[..]));
    assert!(seen.user.is_none());
}

#[tokio::test]
async fn http11_only_client_and_tls12() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = make_pki(tmp.path());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(server_config(&pki).unwrap());

    let mut cfg = (*client_config(&pki.server_ca.cert_pem, Some(&pki.admin)).unwrap()).clone();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let (seen, alpn) = tokio::join!(
        serve_one(&listener, &acceptor),
        client_round_trip(addr, Arc::new(cfg), "localhost")
    );
    assert_eq!(alpn.unwrap().as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(seen.unwrap().alpn.as_deref(), Some(&b"http/1.1"[..]));

    // TLS 1.2 only client still works (and still presents its cert).
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(pki.server_ca.cert_chain_der().unwrap().remove(0))
        .unwrap();
    let mut cfg12 = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            pki.admin.cert_chain_der().unwrap(),
            pki.admin.key_der().unwrap(),
        )
        .unwrap();
    cfg12.alpn_protocols = vec![b"h2".to_vec()];
    let (seen, _) = tokio::join!(
        serve_one(&listener, &acceptor),
        client_round_trip(addr, Arc::new(cfg12), "localhost")
    );
    let seen = seen.unwrap();
    assert_eq!(seen.version, Some(rustls::ProtocolVersion::TLSv1_2));
    assert_eq!(seen.user.unwrap().name, "system:admin");
}

#[tokio::test]
async fn foreign_certs_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = make_pki(&tmp.path().join("a"));
    let other = make_pki(&tmp.path().join("b"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(server_config(&pki).unwrap());

    // A client cert from another cluster's client CA fails the handshake.
    let cfg = client_config(&pki.server_ca.cert_pem, Some(&other.admin)).unwrap();
    let (seen, client) = tokio::join!(
        serve_one(&listener, &acceptor),
        client_round_trip(addr, cfg, "localhost")
    );
    assert!(seen.is_err(), "server accepted a foreign client cert");
    assert!(client.is_err());

    // A client cert signed by the *server* CA is not a client credential.
    let wrong_ca: CertKey =
        pki::issue_client_cert(&pki.server_ca, "mallory", &[MASTERS.into()], 1).unwrap();
    let cfg = client_config(&pki.server_ca.cert_pem, Some(&wrong_ca)).unwrap();
    let (seen, client) = tokio::join!(
        serve_one(&listener, &acceptor),
        client_round_trip(addr, cfg, "localhost")
    );
    assert!(seen.is_err());
    assert!(client.is_err());

    // A client trusting another server CA refuses our serving cert.
    let cfg = client_config(&other.server_ca.cert_pem, None).unwrap();
    let (seen, client) = tokio::join!(
        serve_one(&listener, &acceptor),
        client_round_trip(addr, cfg, "localhost")
    );
    assert!(seen.is_err());
    assert!(client.is_err());

    // A name not in the serving cert is refused.
    let cfg = client_config(&pki.server_ca.cert_pem, None).unwrap();
    let (seen, client) = tokio::join!(
        serve_one(&listener, &acceptor),
        client_round_trip(addr, cfg, "evil.example")
    );
    assert!(seen.is_err());
    assert!(client.is_err());
}

#[test]
fn bad_pem_is_an_error() {
    assert!(client_config("not pem", None).is_err());
    let ck = CertKey {
        cert_pem: "nope".into(),
        key_pem: "nope".into(),
    };
    assert!(client_config("", Some(&ck)).is_err());
}
