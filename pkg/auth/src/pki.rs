//! The cluster PKI: two certificate authorities (one that signs serving certificates, one that signs
//! client certificates), the API server's serving certificate and the admin client certificate, kept
//! as PEM files under one directory with k3s-like names. Created on first start, reused afterwards.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::authn::MASTERS;
use crate::Error;

/// Base names (without `.crt` / `.key`) of the files under [`PkiConfig::dir`].
pub const SERVER_CA: &str = "server-ca";
pub const CLIENT_CA: &str = "client-ca";
pub const SERVING_APISERVER: &str = "serving-kube-apiserver";
pub const CLIENT_ADMIN: &str = "client-admin";

/// Identity of the admin client certificate.
pub const ADMIN_USER: &str = "system:admin";

const CA_DAYS: u32 = 3650;
const LEAF_DAYS: u32 = 365;
/// Leaf certificates that expire within this window are reissued on start.
const RENEW_BEFORE_SECS: i64 = 90 * 86_400;
/// Certificates start slightly in the past to tolerate clock skew between machines.
const BACKDATE_SECS: i64 = 5 * 60;
const KEY_MODE: u32 = 0o600;
const CERT_MODE: u32 = 0o644;

/// A PEM certificate (possibly followed by its chain) and its PEM private key.
#[derive(Clone, PartialEq, Eq)]
pub struct CertKey {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for CertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl CertKey {
    /// The DER certificates of `cert_pem`, leaf first.
    pub fn cert_chain_der(&self) -> Result<Vec<CertificateDer<'static>>, Error> {
        certs_from_pem("certificate", &self.cert_pem)
    }

    /// The DER private key of `key_pem`.
    pub fn key_der(&self) -> Result<PrivateKeyDer<'static>, Error> {
        key_from_pem("private key", &self.key_pem)
    }
}

/// Where the PKI lives and which names the serving certificate must cover.
#[derive(Clone, Debug, Default)]
pub struct PkiConfig {
    pub dir: PathBuf,
    /// DNS names and IP addresses (as strings) for the serving cert, in addition to the built-ins
    pub extra_sans: Vec<String>,
    /// first service IP, e.g. "10.43.0.1"
    pub service_ip: Option<String>,
    pub advertise_address: Option<String>,
}

/// The loaded (or freshly created) PKI.
#[derive(Clone, Debug)]
pub struct Pki {
    pub server_ca: CertKey,
    pub client_ca: CertKey,
    pub serving: CertKey,
    pub admin: CertKey,
    pub dir: PathBuf,
}

impl Pki {
    /// Path of `<dir>/<base>.crt` (use the `SERVER_CA`, `CLIENT_CA`, ... constants).
    pub fn cert_path(&self, base: &str) -> PathBuf {
        self.dir.join(format!("{base}.crt"))
    }

    /// Path of `<dir>/<base>.key`.
    pub fn key_path(&self, base: &str) -> PathBuf {
        self.dir.join(format!("{base}.key"))
    }
}

/// Creates on first start, reuses on restart. Files under cfg.dir (k3s-like names):
/// server-ca.crt/.key, client-ca.crt/.key, serving-kube-apiserver.crt/.key, client-admin.crt/.key.
/// Keys are written 0600, certificates 0644.
///
/// The serving cert (signed by the server CA) carries the SANs localhost, 127.0.0.1, ::1, kubernetes,
/// kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.cluster.local, the service IP,
/// the advertise address and every extra SAN. If the wanted SAN set differs from the existing serving
/// cert's, or it expires within 90 days, or it no longer matches its key or CA, only the serving cert
/// is reissued; the same goes for the admin cert (CN system:admin, O system:masters, signed by the
/// client CA). CAs (valid 10 years) are never regenerated: a CA whose certificate or key is missing or
/// unreadable is an error. Leaf certificates are valid 1 year. Keys are ECDSA P-256.
///
/// Not safe against two processes creating the same directory at the same moment.
pub fn load_or_create(cfg: &PkiConfig) -> Result<Pki, Error> {
    let dir = &cfg.dir;
    ensure_private_dir(dir)?;
    let wanted_sans = wanted_sans(cfg)?;

    let server_ca = load_or_create_ca(dir, SERVER_CA, "k3rs-server-ca")?;
    let client_ca = load_or_create_ca(dir, CLIENT_CA, "k3rs-client-ca")?;

    let serving = load_or_issue_leaf(
        dir,
        SERVING_APISERVER,
        &server_ca,
        &Want::Serving(&wanted_sans),
        || issue_serving_cert(&server_ca, &wanted_sans),
    )?;
    let admin_orgs = [MASTERS.to_string()];
    let admin = load_or_issue_leaf(
        dir,
        CLIENT_ADMIN,
        &client_ca,
        &Want::Client {
            cn: ADMIN_USER,
            orgs: &admin_orgs,
        },
        || issue_client_cert(&client_ca, ADMIN_USER, &admin_orgs, LEAF_DAYS),
    )?;

    Ok(Pki {
        server_ca,
        client_ca,
        serving,
        admin,
        dir: dir.clone(),
    })
}

/// Issues a client certificate (CN = user name, one O per group, EKU clientAuth) signed by `ca`,
/// valid for `days` days. Nothing is written to disk.
pub fn issue_client_cert(
    ca: &CertKey,
    common_name: &str,
    organizations: &[String],
    days: u32,
) -> Result<CertKey, Error> {
    if common_name.is_empty() {
        return Err(Error::InvalidArgument(
            "client certificate common name must not be empty".into(),
        ));
    }
    if days == 0 {
        return Err(Error::InvalidArgument(
            "client certificate validity must be at least one day".into(),
        ));
    }
    let mut params = leaf_params(common_name, days)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    // rcgen keeps one value per attribute type, but a user may be in several groups (one O each),
    // so the subject is encoded here and spliced into the certificate before signing.
    let subject = encode_subject(organizations, common_name);
    sign_leaf_with_subject(
        ca,
        params,
        &format!("client certificate for {common_name:?}"),
        Some(&subject),
    )
}

/// A kubeconfig (YAML) with embedded base64 data: cluster "default" (server,
/// certificate-authority-data), user "default" (client-certificate-data, client-key-data), context
/// "default", current-context default — laid out as k3s writes it.
pub fn kubeconfig(server_url: &str, ca_pem: &str, client: &CertKey) -> String {
    format!(
        "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: {server}
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {{}}
users:
- name: default
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
",
        ca = BASE64.encode(ca_pem.as_bytes()),
        server = yaml_scalar(server_url),
        cert = BASE64.encode(client.cert_pem.as_bytes()),
        key = BASE64.encode(client.key_pem.as_bytes()),
    )
}

/// Writes atomically (temp file in the same directory, fsync, rename) with the given mode, creating
/// parent directories.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    let tmp_path = tmp.path().to_path_buf();
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(&tmp_path, e))?;
    tmp.write_all(contents)
        .map_err(|e| Error::io(&tmp_path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(&tmp_path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    // Make the rename durable; failure to sync a directory is not worth failing the write for.
    if let Ok(d) = fs::File::open(parent) {
        let _ = d.sync_all();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Subject alternative names

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum San {
    Dns(String),
    Ip(IpAddr),
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(d) => f.write_str(d),
            San::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

const BUILTIN_SANS: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "::1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

fn parse_san(raw: &str) -> Result<Option<San>, Error> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let unbracketed = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(Some(San::Ip(ip)));
    }
    let dns = s.to_ascii_lowercase();
    let invalid = |reason: &str| Error::InvalidSan {
        san: raw.to_string(),
        reason: reason.to_string(),
    };
    if dns.len() > 253 {
        return Err(invalid("longer than 253 characters"));
    }
    for (i, label) in dns.trim_end_matches('.').split('.').enumerate() {
        if label.is_empty() || label.len() > 63 {
            return Err(invalid("empty or over-long DNS label"));
        }
        if label == "*" && i == 0 {
            continue;
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                "not an IP address, and a DNS name may only contain letters, digits, '-', '_', '.' and a leading '*.'",
            ));
        }
    }
    Ok(Some(San::Dns(dns)))
}

fn wanted_sans(cfg: &PkiConfig) -> Result<BTreeSet<San>, Error> {
    let mut out = BTreeSet::new();
    let configured = cfg
        .service_ip
        .iter()
        .chain(cfg.advertise_address.iter())
        .chain(cfg.extra_sans.iter())
        .map(String::as_str);
    for s in BUILTIN_SANS.iter().copied().chain(configured) {
        if let Some(san) = parse_san(s)? {
            out.insert(san);
        }
    }
    if let Some(svc) = &cfg.service_ip {
        if !matches!(parse_san(svc)?, Some(San::Ip(_))) {
            return Err(Error::InvalidSan {
                san: svc.clone(),
                reason: "the service IP must be an IP address".into(),
            });
        }
    }
    Ok(out)
}

fn cert_sans(cert: &X509Certificate<'_>) -> Result<BTreeSet<San>, String> {
    let mut out = BTreeSet::new();
    let ext = cert
        .subject_alternative_name()
        .map_err(|e| format!("bad subjectAltName extension: {e}"))?;
    let Some(ext) = ext else {
        return Ok(out);
    };
    for name in &ext.value.general_names {
        match name {
            GeneralName::DNSName(d) => {
                out.insert(San::Dns(d.to_ascii_lowercase()));
            }
            GeneralName::IPAddress(bytes) => {
                let ip = match bytes.len() {
                    4 => {
                        let mut a = [0u8; 4];
                        a.copy_from_slice(bytes);
                        IpAddr::from(a)
                    }
                    16 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(bytes);
                        IpAddr::from(a)
                    }
                    n => return Err(format!("IP SAN of {n} bytes")),
                };
                out.insert(San::Ip(ip));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn describe(sans: &BTreeSet<San>) -> String {
    sans.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------------------------------------
// Certificate authorities

fn load_or_create_ca(dir: &Path, base: &str, cn_prefix: &str) -> Result<CertKey, Error> {
    let cert_path = dir.join(format!("{base}.crt"));
    let key_path = dir.join(format!("{base}.key"));
    let cert_exists = exists(&cert_path)?;
    let key_exists = exists(&key_path)?;
    match (cert_exists, key_exists) {
        (true, true) => {
            let ck = CertKey {
                cert_pem: read_string(&cert_path)?,
                key_pem: read_string(&key_path)?,
            };
            check_ca(&ck, &cert_path, &key_path)?;
            Ok(ck)
        }
        (false, false) => {
            let ck = create_ca(&format!("{cn_prefix}@{}", now_unix()))?;
            write_file(&key_path, ck.key_pem.as_bytes(), KEY_MODE)?;
            write_file(&cert_path, ck.cert_pem.as_bytes(), CERT_MODE)?;
            tracing::info!(cert = %cert_path.display(), "created certificate authority");
            Ok(ck)
        }
        (true, false) => Err(Error::IncompleteCa {
            present: cert_path,
            missing: key_path,
        }),
        (false, true) => Err(Error::IncompleteCa {
            present: key_path,
            missing: cert_path,
        }),
    }
}

fn create_ca(common_name: &str) -> Result<CertKey, Error> {
    let key =
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| Error::generate("CA key", e))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    set_validity(&mut params, CA_DAYS)?;
    params.serial_number = Some(random_serial());
    let cert = params
        .self_signed(&key)
        .map_err(|e| Error::generate(format!("CA {common_name:?}"), e))?;
    Ok(CertKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn check_ca(ck: &CertKey, cert_path: &Path, key_path: &Path) -> Result<(), Error> {
    let what = cert_path.display().to_string();
    let der = first_cert_der(&what, &ck.cert_pem)?;
    let cert = parse_cert(&what, &der)?;
    if !cert.is_ca() {
        return Err(Error::pem(
            what,
            "not a CA certificate (basicConstraints CA=false)",
        ));
    }
    let key = KeyPair::from_pem(&ck.key_pem)
        .map_err(|e| Error::pem(key_path.display().to_string(), e))?;
    if !key_matches(&key, &cert) {
        return Err(Error::KeyMismatch {
            key: key_path.to_path_buf(),
            cert: cert_path.to_path_buf(),
        });
    }
    let left = cert.validity().not_after.timestamp() - now_unix();
    if left <= 0 {
        tracing::error!(cert = %what, "certificate authority has expired; certificates it signs will not verify");
    } else if left < RENEW_BEFORE_SECS {
        tracing::warn!(cert = %what, days_left = left / 86_400, "certificate authority expires soon");
    }
    Ok(())
}

fn issuer(ca: &CertKey) -> Result<Issuer<'static, KeyPair>, Error> {
    let key = KeyPair::from_pem(&ca.key_pem).map_err(|e| Error::pem("CA private key", e))?;
    Issuer::from_ca_cert_pem(&ca.cert_pem, key).map_err(|e| Error::pem("CA certificate", e))
}

// ---------------------------------------------------------------------------------------------
// Leaf certificates

enum Want<'a> {
    Serving(&'a BTreeSet<San>),
    Client { cn: &'a str, orgs: &'a [String] },
}

fn load_or_issue_leaf(
    dir: &Path,
    base: &str,
    ca: &CertKey,
    want: &Want<'_>,
    issue: impl FnOnce() -> Result<CertKey, Error>,
) -> Result<CertKey, Error> {
    let cert_path = dir.join(format!("{base}.crt"));
    let key_path = dir.join(format!("{base}.key"));
    let reason = if exists(&cert_path)? && exists(&key_path)? {
        let ck = CertKey {
            cert_pem: read_string(&cert_path)?,
            key_pem: read_string(&key_path)?,
        };
        match leaf_problem(&ck, ca, want) {
            None => return Ok(ck),
            Some(reason) => reason,
        }
    } else {
        "missing".to_string()
    };
    let ck = issue()?;
    write_file(&key_path, ck.key_pem.as_bytes(), KEY_MODE)?;
    write_file(&cert_path, ck.cert_pem.as_bytes(), CERT_MODE)?;
    tracing::info!(cert = %cert_path.display(), %reason, "issued certificate");
    Ok(ck)
}

/// Why an existing leaf certificate must be reissued, or None if it can be reused.
fn leaf_problem(ck: &CertKey, ca: &CertKey, want: &Want<'_>) -> Option<String> {
    let der = match first_cert_der("certificate", &ck.cert_pem) {
        Ok(d) => d,
        Err(e) => return Some(e.to_string()),
    };
    let cert = match parse_cert("certificate", &der) {
        Ok(c) => c,
        Err(e) => return Some(e.to_string()),
    };
    match KeyPair::from_pem(&ck.key_pem) {
        Ok(key) if key_matches(&key, &cert) => {}
        Ok(_) => return Some("private key does not match certificate".into()),
        Err(e) => return Some(format!("unreadable private key: {e}")),
    }
    let ca_der = match first_cert_der("CA certificate", &ca.cert_pem) {
        Ok(d) => d,
        Err(e) => return Some(e.to_string()),
    };
    let ca_cert = match parse_cert("CA certificate", &ca_der) {
        Ok(c) => c,
        Err(e) => return Some(e.to_string()),
    };
    if cert.issuer().as_raw() != ca_cert.subject().as_raw()
        || cert.verify_signature(Some(ca_cert.public_key())).is_err()
    {
        return Some("not signed by the current CA".into());
    }
    let left = cert.validity().not_after.timestamp() - now_unix();
    if left < RENEW_BEFORE_SECS {
        return Some(format!("expires in {} days", left / 86_400));
    }
    match want {
        Want::Serving(wanted) => {
            let have = match cert_sans(&cert) {
                Ok(s) => s,
                Err(e) => return Some(e),
            };
            if &have != *wanted {
                return Some(format!(
                    "SANs changed from [{}] to [{}]",
                    describe(&have),
                    describe(wanted)
                ));
            }
        }
        Want::Client { cn, orgs } => {
            let have_cn: Vec<&str> = cert
                .subject()
                .iter_common_name()
                .filter_map(|a| a.as_str().ok())
                .collect();
            let have_orgs: BTreeSet<&str> = cert
                .subject()
                .iter_organization()
                .filter_map(|a| a.as_str().ok())
                .collect();
            let want_orgs: BTreeSet<&str> = orgs.iter().map(String::as_str).collect();
            if have_cn != [*cn] || have_orgs != want_orgs {
                return Some("subject changed".into());
            }
        }
    }
    None
}

fn issue_serving_cert(ca: &CertKey, sans: &BTreeSet<San>) -> Result<CertKey, Error> {
    let mut params = leaf_params("kube-apiserver", LEAF_DAYS)?;
    params.subject_alt_names = sans
        .iter()
        .map(|s| match s {
            San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
            San::Dns(d) => {
                d.as_str()
                    .try_into()
                    .map(SanType::DnsName)
                    .map_err(|e: rcgen::Error| Error::InvalidSan {
                        san: d.clone(),
                        reason: e.to_string(),
                    })
            }
        })
        .collect::<Result<_, _>>()?;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    sign_leaf(ca, params, "serving certificate")
}

fn leaf_params(common_name: &str, days: u32) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial());
    set_validity(&mut params, days)?;
    Ok(params)
}

fn sign_leaf(ca: &CertKey, params: CertificateParams, what: &str) -> Result<CertKey, Error> {
    sign_leaf_with_subject(ca, params, what, None)
}

/// Signs `params` with the CA; when `subject` (a DER `Name`) is given it replaces the subject rcgen
/// wrote, and the TBSCertificate is re-signed with the CA key.
fn sign_leaf_with_subject(
    ca: &CertKey,
    params: CertificateParams,
    what: &str,
    subject: Option<&[u8]>,
) -> Result<CertKey, Error> {
    let issuer = issuer(ca)?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| Error::generate(format!("key for {what}"), e))?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| Error::generate(what, e))?;
    let cert_pem = match subject {
        None => cert.pem(),
        Some(subject) => {
            let der = resign_with_subject(cert.der(), subject, issuer.key())
                .map_err(|reason| Error::pem(what, reason))?;
            // Self-check: the spliced certificate parses, carries the subject and verifies.
            let ca_der = first_cert_der("CA certificate", &ca.cert_pem)?;
            let ca_cert = parse_cert("CA certificate", &ca_der)?;
            let parsed = parse_cert(what, &der)?;
            if parsed.subject().as_raw() != subject
                || parsed.verify_signature(Some(ca_cert.public_key())).is_err()
            {
                return Err(Error::pem(what, "re-signed certificate does not verify"));
            }
            pem_encode("CERTIFICATE", &der)
        }
    };
    Ok(CertKey {
        cert_pem,
        key_pem: key.serialize_pem(),
    })
}

// ---------------------------------------------------------------------------------------------
// Minimal DER plumbing for multi-valued subjects

const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_OID: u8 = 0x06;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_VERSION: u8 = 0xa0;
/// DER contents of the OIDs 2.5.4.3 (commonName) and 2.5.4.10 (organizationName).
const OID_CN: [u8; 3] = [0x55, 0x04, 0x03];
const OID_O: [u8; 3] = [0x55, 0x04, 0x0a];

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// One DER element split off the front of a byte string.
struct Tlv<'a> {
    tag: u8,
    /// The whole element, header included.
    whole: &'a [u8],
    contents: &'a [u8],
    /// What follows the element.
    rest: &'a [u8],
}

/// Splits the first TLV off `input`.
fn split_tlv(input: &[u8]) -> Result<Tlv<'_>, String> {
    let short = || "truncated DER".to_string();
    let tag = *input.first().ok_or_else(short)?;
    let first = *input.get(1).ok_or_else(short)?;
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err("unsupported DER length".into());
        }
        let bytes = input.get(2..2 + n).ok_or_else(short)?;
        (
            2 + n,
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
        )
    };
    let end = header.checked_add(len).ok_or_else(short)?;
    let whole = input.get(..end).ok_or_else(short)?;
    Ok(Tlv {
        tag,
        whole,
        contents: &whole[header..],
        rest: &input[end..],
    })
}

/// A DER `Name`: one RDN per organization (in order), then the common name, as Go's pkix.Name
/// orders them.
fn encode_subject(organizations: &[String], common_name: &str) -> Vec<u8> {
    let rdn = |oid: &[u8], value: &str| {
        let mut atv = der(TAG_OID, oid);
        atv.extend(der(TAG_UTF8_STRING, value.as_bytes()));
        der(TAG_SET, &der(TAG_SEQUENCE, &atv))
    };
    let mut rdns = Vec::new();
    for org in organizations {
        rdns.extend(rdn(&OID_O, org));
    }
    rdns.extend(rdn(&OID_CN, common_name));
    der(TAG_SEQUENCE, &rdns)
}

/// Replaces the subject of `cert_der` and signs the new TBSCertificate with `signer` (which must
/// be the key that signed it, so the signature algorithm stays right).
fn resign_with_subject(
    cert_der: &[u8],
    subject: &[u8],
    signer: &KeyPair,
) -> Result<Vec<u8>, String> {
    use rcgen::SigningKey as _;
    let outer = split_tlv(cert_der)?;
    if outer.tag != TAG_SEQUENCE {
        return Err("certificate is not a SEQUENCE".into());
    }
    let tbs_tlv = split_tlv(outer.contents)?;
    let tbs = tbs_tlv.contents;
    let sig_alg = split_tlv(tbs_tlv.rest)?.whole;
    let mut fields = Vec::new();
    let mut cursor = tbs;
    while !cursor.is_empty() {
        let field = split_tlv(cursor)?;
        fields.push((field.tag, field.whole));
        cursor = field.rest;
    }
    // version, serial, signature, issuer, validity, subject, ...
    let subject_index = if fields.first().map(|f| f.0) == Some(TAG_VERSION) {
        5
    } else {
        4
    };
    if fields.len() <= subject_index {
        return Err("TBSCertificate has too few fields".into());
    }
    let mut new_tbs = Vec::with_capacity(tbs.len() + subject.len());
    for (i, (_, whole)) in fields.iter().enumerate() {
        new_tbs.extend_from_slice(if i == subject_index { subject } else { whole });
    }
    let new_tbs = der(TAG_SEQUENCE, &new_tbs);
    let signature = signer.sign(&new_tbs).map_err(|e| e.to_string())?;
    let mut bits = Vec::with_capacity(signature.len() + 1);
    bits.push(0); // no unused bits
    bits.extend(signature);
    let mut body = new_tbs;
    body.extend_from_slice(sig_alg);
    body.extend(der(TAG_BIT_STRING, &bits));
    Ok(der(TAG_SEQUENCE, &body))
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = BASE64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn set_validity(params: &mut CertificateParams, days: u32) -> Result<(), Error> {
    let now = now_unix();
    let ts = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .map_err(|e| Error::InvalidArgument(format!("certificate validity out of range: {e}")))
    };
    params.not_before = ts(now - BACKDATE_SECS)?;
    params.not_after = ts(now + i64::from(days) * 86_400)?;
    Ok(())
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    // Positive and without a leading zero byte, so the DER INTEGER is exactly 16 bytes.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn key_matches(key: &KeyPair, cert: &X509Certificate<'_>) -> bool {
    use rcgen::PublicKeyData as _;
    key.der_bytes() == cert.public_key().subject_public_key.data.as_ref()
}

// ---------------------------------------------------------------------------------------------
// PEM / DER helpers (shared with the tls module)

pub(crate) fn certs_from_pem(what: &str, pem: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::pem(what, e))?;
    if certs.is_empty() {
        return Err(Error::pem(what, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

pub(crate) fn key_from_pem(what: &str, pem: &str) -> Result<PrivateKeyDer<'static>, Error> {
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|e| Error::pem(what, e))?
        .ok_or_else(|| Error::pem(what, "no PRIVATE KEY block found"))
}

fn first_cert_der(what: &str, pem: &str) -> Result<CertificateDer<'static>, Error> {
    certs_from_pem(what, pem)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::pem(what, "no CERTIFICATE block found"))
}

fn parse_cert<'a>(what: &str, der: &'a [u8]) -> Result<X509Certificate<'a>, Error> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c)
        .map_err(|e| Error::pem(what, e))
}

// ---------------------------------------------------------------------------------------------
// Small filesystem and formatting helpers

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn exists(path: &Path) -> Result<bool, Error> {
    path.try_exists().map_err(|e| Error::io(path, e))
}

fn read_string(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn ensure_private_dir(dir: &Path) -> Result<(), Error> {
    if exists(dir)? {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| Error::io(dir, e))
}

/// A YAML scalar for `s`: plain when that is unambiguous (URLs normally are), else double-quoted.
fn yaml_scalar(s: &str) -> String {
    let plain = s.contains("://")
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:/?&=+%@[]!$'()*,;".contains(c));
    if plain {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_parsing() {
        assert_eq!(
            parse_san(" Example.COM ").unwrap(),
            Some(San::Dns("example.com".into()))
        );
        assert_eq!(
            parse_san("[::1]").unwrap(),
            Some(San::Ip("::1".parse().unwrap()))
        );
        assert!(parse_san("*.apps.local").unwrap().is_some());
        assert_eq!(parse_san("").unwrap(), None);
        assert!(parse_san("bad name").is_err());
        assert!(parse_san("a..b").is_err());
    }

    #[test]
    fn yaml_scalars() {
        assert_eq!(
            yaml_scalar("https://127.0.0.1:6443"),
            "https://127.0.0.1:6443"
        );
        assert_eq!(yaml_scalar("https://[::1]:6443"), "https://[::1]:6443");
        assert_eq!(yaml_scalar("a b\"c"), "\"a b\\\"c\"");
        assert_eq!(yaml_scalar(""), "\"\"");
        assert_eq!(yaml_scalar("6443"), "\"6443\"");
    }

    #[test]
    fn service_ip_must_be_ip() {
        let cfg = PkiConfig {
            service_ip: Some("not-an-ip".into()),
            ..Default::default()
        };
        assert!(matches!(wanted_sans(&cfg), Err(Error::InvalidSan { .. })));
    }
}
