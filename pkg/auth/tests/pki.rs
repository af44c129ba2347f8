use std::collections::BTreeSet;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use k3rs_auth::authn::{user_from_client_cert, UserInfo, AUTHENTICATED, MASTERS};
use k3rs_auth::pki::{self, load_or_create, PkiConfig};
use k3rs_auth::Error;
use x509_parser::extensions::GeneralName;

fn cfg(dir: &Path, extra: &[&str]) -> PkiConfig {
    PkiConfig {
        dir: dir.to_path_buf(),
        extra_sans: extra.iter().map(|s| s.to_string()).collect(),
        service_ip: Some("10.43.0.1".into()),
        advertise_address: Some("192.168.1.10".into()),
    }
}

fn sans(pem: &str) -> (BTreeSet<String>, BTreeSet<IpAddr>) {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let cert = p.parse_x509().unwrap();
    let mut dns = BTreeSet::new();
    let mut ips = BTreeSet::new();
    for n in &cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
    {
        match n {
            GeneralName::DNSName(d) => {
                dns.insert(d.to_string());
            }
            GeneralName::IPAddress(b) if b.len() == 4 => {
                ips.insert(IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()));
            }
            GeneralName::IPAddress(b) => {
                ips.insert(IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()));
            }
            other => panic!("unexpected SAN {other:?}"),
        }
    }
    (dns, ips)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn creates_files_with_modes_and_reuses_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tls");
    let a = load_or_create(&cfg(&dir, &[])).unwrap();
    for base in [
        "server-ca",
        "client-ca",
        "serving-kube-apiserver",
        "client-admin",
    ] {
        assert_eq!(mode(&dir.join(format!("{base}.key"))), 0o600, "{base}.key");
        assert_eq!(mode(&dir.join(format!("{base}.crt"))), 0o644, "{base}.crt");
    }
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(a.cert_path(pki::SERVER_CA), dir.join("server-ca.crt"));
    assert_eq!(
        std::fs::read_to_string(dir.join("client-admin.crt")).unwrap(),
        a.admin.cert_pem
    );
    // No stray temp files.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 8);

    let b = load_or_create(&cfg(&dir, &[])).unwrap();
    assert_eq!(a.server_ca, b.server_ca);
    assert_eq!(a.client_ca, b.client_ca);
    assert_eq!(a.serving, b.serving);
    assert_eq!(a.admin, b.admin);
    assert_ne!(a.server_ca, a.client_ca);
    // The key is never printed.
    assert!(!format!("{:?}", a.admin).contains("PRIVATE KEY"));
}

#[test]
fn serving_cert_has_all_sans() {
    let tmp = tempfile::tempdir().unwrap();
    let p = load_or_create(&cfg(
        tmp.path(),
        &["k3rs.example.com", "10.0.0.7", "fd00::7"],
    ))
    .unwrap();
    let (dns, ips) = sans(&p.serving.cert_pem);
    let want_dns: BTreeSet<String> = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "k3rs.example.com",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let want_ips: BTreeSet<IpAddr> = [
        "127.0.0.1",
        "::1",
        "10.43.0.1",
        "192.168.1.10",
        "10.0.0.7",
        "fd00::7",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    assert_eq!(dns, want_dns);
    assert_eq!(ips, want_ips);

    // Serving cert: signed by the server CA, serverAuth, ~1 year; CA ~10 years.
    let (_, sp) = x509_parser::pem::parse_x509_pem(p.serving.cert_pem.as_bytes()).unwrap();
    let serving = sp.parse_x509().unwrap();
    let (_, cp) = x509_parser::pem::parse_x509_pem(p.server_ca.cert_pem.as_bytes()).unwrap();
    let ca = cp.parse_x509().unwrap();
    assert!(ca.is_ca());
    assert!(!serving.is_ca());
    assert_eq!(serving.issuer().as_raw(), ca.subject().as_raw());
    serving.verify_signature(Some(ca.public_key())).unwrap();
    assert!(
        serving
            .extended_key_usage()
            .unwrap()
            .unwrap()
            .value
            .server_auth
    );
    let days = |c: &x509_parser::certificate::X509Certificate| {
        (c.validity().not_after.timestamp() - c.validity().not_before.timestamp()) / 86_400
    };
    assert_eq!(days(&serving), 365);
    assert_eq!(days(&ca), 3650);
}

#[test]
fn changing_sans_reissues_only_the_serving_cert() {
    let tmp = tempfile::tempdir().unwrap();
    let a = load_or_create(&cfg(tmp.path(), &["one.example"])).unwrap();
    // Same set, different spelling/order/duplicates: reused.
    let same = load_or_create(&cfg(tmp.path(), &["ONE.example", " one.example", ""])).unwrap();
    assert_eq!(a.serving, same.serving);

    let b = load_or_create(&cfg(tmp.path(), &["one.example", "two.example"])).unwrap();
    assert_ne!(a.serving, b.serving);
    assert_eq!(a.server_ca, b.server_ca);
    assert_eq!(a.client_ca, b.client_ca);
    assert_eq!(a.admin, b.admin);
    assert!(sans(&b.serving.cert_pem).0.contains("two.example"));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("serving-kube-apiserver.crt")).unwrap(),
        b.serving.cert_pem
    );
    // And back again: reissued, still same CAs.
    let c = load_or_create(&cfg(tmp.path(), &["one.example"])).unwrap();
    assert_ne!(b.serving, c.serving);
    assert_eq!(a.server_ca, c.server_ca);
    // The advertise address is part of the set too.
    let mut moved = cfg(tmp.path(), &["one.example"]);
    moved.advertise_address = Some("192.168.1.11".into());
    let d = load_or_create(&moved).unwrap();
    assert_ne!(c.serving, d.serving);
    assert!(sans(&d.serving.cert_pem)
        .1
        .contains(&"192.168.1.11".parse::<IpAddr>().unwrap()));
}

#[test]
fn damaged_leaves_are_reissued_but_cas_are_not_regenerated() {
    let tmp = tempfile::tempdir().unwrap();
    let a = load_or_create(&cfg(tmp.path(), &[])).unwrap();

    // Leaf with missing key → reissued.
    std::fs::remove_file(tmp.path().join("client-admin.key")).unwrap();
    let b = load_or_create(&cfg(tmp.path(), &[])).unwrap();
    assert_ne!(a.admin, b.admin);
    assert_eq!(a.client_ca, b.client_ca);

    // Leaf with garbage → reissued.
    std::fs::write(tmp.path().join("serving-kube-apiserver.crt"), "garbage").unwrap();
    let c = load_or_create(&cfg(tmp.path(), &[])).unwrap();
    assert_ne!(b.serving, c.serving);

    // Leaf signed by someone else's CA → reissued.
    let other = tempfile::tempdir().unwrap();
    let foreign = load_or_create(&cfg(other.path(), &[])).unwrap();
    pki::write_file(
        &tmp.path().join("client-admin.crt"),
        foreign.admin.cert_pem.as_bytes(),
        0o644,
    )
    .unwrap();
    pki::write_file(
        &tmp.path().join("client-admin.key"),
        foreign.admin.key_pem.as_bytes(),
        0o600,
    )
    .unwrap();
    let d = load_or_create(&cfg(tmp.path(), &[])).unwrap();
    assert_ne!(d.admin, foreign.admin);
    assert_eq!(d.client_ca, a.client_ca);

    // CA key gone → error naming the files, nothing regenerated.
    std::fs::remove_file(tmp.path().join("server-ca.key")).unwrap();
    let err = load_or_create(&cfg(tmp.path(), &[])).unwrap_err();
    assert!(matches!(err, Error::IncompleteCa { .. }), "{err}");
    assert!(err.to_string().contains("server-ca.key"), "{err}");
    assert!(!tmp.path().join("server-ca.key").exists());

    // CA key that does not match its certificate → error.
    pki::write_file(
        &tmp.path().join("server-ca.key"),
        a.client_ca.key_pem.as_bytes(),
        0o600,
    )
    .unwrap();
    let err = load_or_create(&cfg(tmp.path(), &[])).unwrap_err();
    assert!(matches!(err, Error::KeyMismatch { .. }), "{err}");
}

#[test]
fn invalid_sans_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let err = load_or_create(&cfg(tmp.path(), &["not a name"])).unwrap_err();
    assert!(matches!(err, Error::InvalidSan { .. }), "{err}");
}

#[test]
fn admin_cert_maps_to_system_admin() {
    let tmp = tempfile::tempdir().unwrap();
    let p = load_or_create(&cfg(tmp.path(), &[])).unwrap();
    let der = p.admin.cert_chain_der().unwrap().remove(0);
    let user = user_from_client_cert(&der).unwrap();
    assert_eq!(
        user,
        UserInfo {
            name: "system:admin".into(),
            uid: String::new(),
            groups: vec![MASTERS.into(), AUTHENTICATED.into()],
            extra: Default::default(),
        }
    );
}

#[test]
fn issued_client_certs_carry_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let p = load_or_create(&cfg(tmp.path(), &[])).unwrap();
    let ck = pki::issue_client_cert(
        &p.client_ca,
        "system:kube-controller-manager",
        &["g1".into(), "g2".into()],
        30,
    )
    .unwrap();
    let der = ck.cert_chain_der().unwrap().remove(0);
    let user = user_from_client_cert(&der).unwrap();
    assert_eq!(user.name, "system:kube-controller-manager");
    assert_eq!(user.groups, ["g1", "g2", AUTHENTICATED]);

    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(
        cert.extended_key_usage()
            .unwrap()
            .unwrap()
            .value
            .client_auth
    );
    let days =
        (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp()) / 86_400;
    assert_eq!(days, 30);

    assert!(pki::issue_client_cert(&p.client_ca, "", &[], 30).is_err());
    assert!(pki::issue_client_cert(&p.client_ca, "x", &[], 0).is_err());
    assert!(user_from_client_cert(b"not der").is_err());
}

#[test]
fn write_file_is_atomic_and_sets_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a/b/c.txt");
    pki::write_file(&path, b"one", 0o640).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"one");
    assert_eq!(mode(&path), 0o640);
    pki::write_file(&path, b"two", 0o600).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"two");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );
}

#[test]
fn uid_attribute_becomes_the_uid() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "jane");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "devs");
    params.distinguished_name.push(
        rcgen::DnType::CustomDnType(vec![1, 3, 6, 1, 4, 1, 57683, 2]),
        "uid-42",
    );
    let cert = params.self_signed(&key).unwrap();
    let user = user_from_client_cert(cert.der()).unwrap();
    assert_eq!(user.name, "jane");
    assert_eq!(user.uid, "uid-42");
    assert_eq!(user.groups, ["devs", AUTHENTICATED]);

    // No CN: not a user.
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "devs");
    let cert = params.self_signed(&key).unwrap();
    assert!(matches!(
        user_from_client_cert(cert.der()),
        Err(Error::ClientCert(_))
    ));
}
