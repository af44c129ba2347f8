//! Authentication: turning a verified client certificate or a bearer token into a [`UserInfo`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;

use crate::Error;

/// The identity of an authenticated requester, as kube-apiserver's `user.Info`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Group every authenticated user belongs to.
pub const AUTHENTICATED: &str = "system:authenticated";
/// Superuser group.
pub const MASTERS: &str = "system:masters";

/// Subject attribute that carries the user's UID in client certificates (upstream's
/// `AllowParsingUserUIDFromCertAuth`, beta and on by default since Kubernetes 1.34).
const UID_OID: &str = "1.3.6.1.4.1.57683.2";

impl UserInfo {
    /// Appends `system:authenticated` unless already present (as upstream's group adder does).
    fn with_authenticated(mut self) -> Self {
        if !self.groups.iter().any(|g| g == AUTHENTICATED) {
            self.groups.push(AUTHENTICATED.to_string());
        }
        self
    }
}

/// The user of a verified client certificate (leaf DER): CN = name, each O = a group, plus
/// system:authenticated. A subject attribute 1.3.6.1.4.1.57683.2 becomes the UID. The chain must
/// already have been verified against the client CA (the TLS layer does that); this only reads it.
pub fn user_from_client_cert(der: &[u8]) -> Result<UserInfo, Error> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| Error::ClientCert(format!("unparseable certificate: {e}")))?;
    user_from_x509(&cert)
}

fn user_from_x509(cert: &X509Certificate<'_>) -> Result<UserInfo, Error> {
    let subject = cert.subject();
    let attr_str = |a: &x509_parser::x509::AttributeTypeAndValue<'_>, what: &str| {
        a.as_str()
            .map(str::to_string)
            .map_err(|e| Error::ClientCert(format!("subject {what} is not a string: {e}")))
    };
    // Like Go's pkix.Name, the last CN in the subject wins.
    let mut name = String::new();
    for cn in subject.iter_common_name() {
        name = attr_str(cn, "CN")?;
    }
    if name.is_empty() {
        return Err(Error::ClientCert("subject has no common name".into()));
    }
    let groups = subject
        .iter_organization()
        .map(|o| attr_str(o, "O"))
        .collect::<Result<Vec<_>, _>>()?;
    let uids = subject
        .iter_attributes()
        .filter(|a| a.attr_type().to_id_string() == UID_OID)
        .map(|a| attr_str(a, "UID"))
        .collect::<Result<Vec<_>, _>>()?;
    if uids.len() > 1 {
        return Err(Error::ClientCert(format!(
            "subject has {} UID attributes, expected at most one",
            uids.len()
        )));
    }
    Ok(UserInfo {
        name,
        uid: uids.into_iter().next().unwrap_or_default(),
        groups,
        extra: BTreeMap::new(),
    }
    .with_authenticated())
}

/// Static bearer tokens, as kube-apiserver's `--token-auth-file`: CSV lines
/// `token,user,uid,"group1,group2"` (the groups column is optional). Blank lines and `#` comments are
/// ignored; a malformed line is an error naming the line number. Only SHA-256 digests of the tokens
/// are kept in memory.
///
/// Differences from upstream, which silently ignores them: an empty token or user name, and more
/// than four columns (usually an unquoted group list), are errors. As upstream, a repeated token
/// replaces the earlier line (with a warning).
#[derive(Clone, Default)]
pub struct TokenFile {
    entries: Vec<TokenEntry>,
}

#[derive(Clone)]
struct TokenEntry {
    digest: [u8; 32],
    user: UserInfo,
}

impl fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFile")
            .field("tokens", &self.entries.len())
            .finish()
    }
}

impl TokenFile {
    /// Reads and parses a token file; errors name the file and line.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse_named(&text, &path.display().to_string())
    }

    /// Parses token-file text.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_named(text, "token file")
    }

    fn parse_named(text: &str, source_name: &str) -> Result<Self, Error> {
        let mut tokens = TokenFile::default();
        for (idx, raw_line) in text.lines().enumerate() {
            let line_no = idx + 1;
            let err = |reason: String| Error::TokenFile {
                source_name: source_name.to_string(),
                line: line_no,
                reason,
            };
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv_line(line).map_err(err)?;
            if fields.len() < 3 {
                return Err(err(format!(
                    "expected at least 3 columns (token, user name, user uid), found {}",
                    fields.len()
                )));
            }
            if fields.len() > 4 {
                return Err(err(format!(
                    "expected at most 4 columns (token, user name, user uid, groups), found {}; quote the groups column: \"group1,group2\"",
                    fields.len()
                )));
            }
            let token = &fields[0];
            if token.is_empty() {
                return Err(err("empty token".into()));
            }
            if token.chars().any(char::is_whitespace) {
                return Err(err("token contains whitespace".into()));
            }
            if fields[1].is_empty() {
                return Err(err("empty user name".into()));
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let user = UserInfo {
                name: fields[1].clone(),
                uid: fields[2].clone(),
                groups,
                extra: BTreeMap::new(),
            };
            if tokens.insert(token, user) {
                tracing::warn!(file = %source_name, line = line_no, "duplicate token; the later line wins");
            }
        }
        Ok(tokens)
    }

    /// The user for `token`, with `system:authenticated` added; None when unknown. Every entry is
    /// compared (in constant time, on SHA-256 digests) so timing reveals neither which entry nor how
    /// much of a token matched.
    pub fn authenticate(&self, token: &str) -> Option<UserInfo> {
        if token.is_empty() {
            return None;
        }
        let digest = sha256(token);
        let mut found = None;
        for entry in &self.entries {
            if constant_time_eq(&entry.digest, &digest) {
                found = Some(&entry.user);
            }
        }
        found.map(|u| u.clone().with_authenticated())
    }

    /// Adds (or replaces) a token.
    pub fn add(&mut self, token: String, user: UserInfo) {
        self.insert(&token, user);
    }

    /// Number of distinct tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no token is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns true when the token replaced an existing one.
    fn insert(&mut self, token: &str, user: UserInfo) -> bool {
        let digest = sha256(token);
        if let Some(e) = self.entries.iter_mut().find(|e| e.digest == digest) {
            e.user = user;
            true
        } else {
            self.entries.push(TokenEntry { digest, user });
            false
        }
    }
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Splits one CSV record (RFC 4180 quoting, `""` inside quotes is a quote). Whitespace around
/// fields is trimmed. Records spanning lines are not supported.
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(format!(
                            "unterminated quoted field in column {}",
                            fields.len() + 1
                        ))
                    }
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.peek() {
                None | Some(',') => {}
                Some(c) => {
                    return Err(format!(
                        "unexpected {c:?} after closing quote in column {}",
                        fields.len() + 1
                    ))
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '"' {
                    return Err(format!(
                        "bare quote in unquoted column {}",
                        fields.len() + 1
                    ));
                }
                field.push(c);
                chars.next();
            }
            field.truncate(field.trim_end().len());
        }
        fields.push(field);
        match chars.next() {
            Some(',') => continue,
            _ => break,
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_splitting() {
        assert_eq!(split_csv_line("a,b,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            split_csv_line(r#"a, b ,"c,d", "e""f""#).unwrap(),
            ["a", "b", "c,d", "e\"f"]
        );
        assert_eq!(split_csv_line("a,,").unwrap(), ["a", "", ""]);
        assert!(split_csv_line(r#"a,"b"#).is_err());
        assert!(split_csv_line(r#"a,"b"x"#).is_err());
        assert!(split_csv_line(r#"a,b"c"#).is_err());
    }

    #[test]
    fn constant_time_compare() {
        let a = sha256("x");
        let b = sha256("y");
        assert!(constant_time_eq(&a, &a));
        assert!(!constant_time_eq(&a, &b));
    }
}
