use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use k3rs_auth::authn::{user_from_client_cert, AUTHENTICATED, MASTERS};
use k3rs_auth::pki::{self, load_or_create, PkiConfig};
use k3rs_auth::tls::server_config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const KUBECTL: &str = "/usr/bin/kubectl";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn kubeconfig_yaml_has_the_right_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = load_or_create(&PkiConfig {
        dir: tmp.path().to_path_buf(),
        ..Default::default()
    })
    .unwrap();
    for server in [
        "https://127.0.0.1:6443",
        "https://[::1]:6443",
        "https://odd host:1",
    ] {
        let text = pki::kubeconfig(server, &pki.server_ca.cert_pem, &pki.admin);
        let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["kind"], "Config");
        assert_eq!(v["current-context"], "default");
        assert_eq!(v["clusters"][0]["name"], "default");
        assert_eq!(v["clusters"][0]["cluster"]["server"], server);
        assert_eq!(
            v["clusters"][0]["cluster"]["certificate-authority-data"],
            b64(&pki.server_ca.cert_pem).as_str()
        );
        assert_eq!(v["contexts"][0]["name"], "default");
        assert_eq!(v["contexts"][0]["context"]["cluster"], "default");
        assert_eq!(v["contexts"][0]["context"]["user"], "default");
        assert_eq!(v["users"][0]["name"], "default");
        assert_eq!(
            v["users"][0]["user"]["client-certificate-data"],
            b64(&pki.admin.cert_pem).as_str()
        );
        assert_eq!(
            v["users"][0]["user"]["client-key-data"],
            b64(&pki.admin.key_pem).as_str()
        );
    }
}

fn have_kubectl() -> bool {
    if Path::new(KUBECTL).exists() {
        true
    } else {
        eprintln!("skipping: {KUBECTL} not found");
        assert!(
            std::env::var_os("K3RS_STRICT_TESTS").is_none(),
            "scripts/test provides this; it must not be skipped"
        );
        false
    }
}

#[test]
fn kubectl_config_view_accepts_it() {
    if !have_kubectl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = load_or_create(&PkiConfig {
        dir: tmp.path().join("tls"),
        ..Default::default()
    })
    .unwrap();
    let path = tmp.path().join("kubeconfig.yaml");
    let server = "https://127.0.0.1:6443";
    pki::write_file(
        &path,
        pki::kubeconfig(server, &pki.server_ca.cert_pem, &pki.admin).as_bytes(),
        0o600,
    )
    .unwrap();
    let out = std::process::Command::new(KUBECTL)
        .args(["config", "view", "--kubeconfig"])
        .arg(&path)
        .args(["-o", "json", "--raw"])
        .env("HOME", tmp.path())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["current-context"], "default");
    assert_eq!(v["clusters"][0]["cluster"]["server"], server);
    assert_eq!(
        v["clusters"][0]["cluster"]["certificate-authority-data"],
        b64(&pki.server_ca.cert_pem)
    );
    assert_eq!(v["contexts"][0]["context"]["cluster"], "default");
    assert_eq!(v["contexts"][0]["context"]["user"], "default");
    assert_eq!(v["users"][0]["name"], "default");
    assert_eq!(
        v["users"][0]["user"]["client-certificate-data"],
        b64(&pki.admin.cert_pem)
    );
    assert_eq!(
        v["users"][0]["user"]["client-key-data"],
        b64(&pki.admin.key_pem)
    );
}

/// kubectl (Go's crypto/tls and x509) talks to a tiny HTTP/1.1 responder behind server_config: it
/// must accept our serving cert for the kubeconfig's server name, and present the admin cert.
#[tokio::test]
async fn kubectl_handshakes_with_server_config() {
    if !have_kubectl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = load_or_create(&PkiConfig {
        dir: tmp.path().join("tls"),
        service_ip: Some("10.43.0.1".into()),
        ..Default::default()
    })
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Keep this responder HTTP/1.1-only; the production config also offers h2.
    let mut cfg = (*server_config(&pki).unwrap()).clone();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(cfg));

    // The /usr/bin/kubectl dispatcher may itself ask the server for /version before running the
    // matching kubectl, so serve every connection until kubectl exits.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut tls = acceptor.accept(tcp).await.unwrap();
                let user = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| user_from_client_cert(c).unwrap());
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = tls.read(&mut buf).await.unwrap();
                    assert!(n > 0, "eof before end of request headers");
                    req.extend_from_slice(&buf[..n]);
                }
                let body = br#"{"major":"1","minor":"35","gitVersion":"v1.35.0+k3rs"}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                tls.write_all(head.as_bytes()).await.unwrap();
                tls.write_all(body).await.unwrap();
                tls.shutdown().await.unwrap();
                let _ = tx.send((user, String::from_utf8_lossy(&req).into_owned()));
            });
        }
    });

    let path = tmp.path().join("kubeconfig.yaml");
    let url = format!("https://127.0.0.1:{port}");
    pki::write_file(
        &path,
        pki::kubeconfig(&url, &pki.server_ca.cert_pem, &pki.admin).as_bytes(),
        0o600,
    )
    .unwrap();
    let out = tokio::process::Command::new(KUBECTL)
        .args([
            "get",
            "--raw",
            "/version",
            "--request-timeout=20s",
            "--kubeconfig",
        ])
        .arg(&path)
        .env("HOME", tmp.path())
        .env_remove("KUBECONFIG")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("v1.35.0+k3rs"));
    server.abort();
    let mut requests = Vec::new();
    while let Ok((user, req)) = rx.try_recv() {
        requests.push((user, req));
    }
    assert!(!requests.is_empty());
    for (user, req) in requests {
        assert!(req.starts_with("GET /version"), "{req}");
        let user = user.expect("kubectl presented no client certificate");
        assert_eq!(user.name, "system:admin");
        assert_eq!(user.groups, [MASTERS, AUTHENTICATED]);
    }
}
