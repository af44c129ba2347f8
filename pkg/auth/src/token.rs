//! The cluster join token, in k3s' form `K10<sha256 of the server CA, hex>::<user>:<secret>`: an
//! agent holding it can check that the server it talks to presents the cluster's CA before it
//! trusts it, and prove it may join.

use std::path::Path;

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::Error;

/// The user part of a server token.
pub const SERVER_USER: &str = "server";

/// Hex SHA-256 of the CA bundle (as PEM text), the hash a token pins.
pub fn ca_hash(ca_pem: &str) -> String {
    Sha256::digest(ca_pem.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A parsed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The pinned CA hash, if the token is in the full form.
    pub ca_hash: Option<String>,
    pub user: String,
    pub secret: String,
}

impl Token {
    /// Parses `K10<hash>::<user>:<secret>` or a bare secret (then the user is `server`).
    pub fn parse(s: &str) -> Result<Token, Error> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::InvalidArgument("empty token".into()));
        }
        if let Some(rest) = s.strip_prefix("K10") {
            let (hash, creds) = rest
                .split_once("::")
                .ok_or_else(|| Error::InvalidArgument("token in K10 form lacks '::'".into()))?;
            let (user, secret) = creds
                .split_once(':')
                .ok_or_else(|| Error::InvalidArgument("token lacks '<user>:<secret>'".into()))?;
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::InvalidArgument(
                    "token CA hash is not 64 hex digits".into(),
                ));
            }
            if user.is_empty() || secret.is_empty() {
                return Err(Error::InvalidArgument(
                    "token user and secret must not be empty".into(),
                ));
            }
            return Ok(Token {
                ca_hash: Some(hash.to_ascii_lowercase()),
                user: user.into(),
                secret: secret.into(),
            });
        }
        if s.contains(char::is_whitespace) {
            return Err(Error::InvalidArgument(
                "token must not contain whitespace".into(),
            ));
        }
        Ok(Token {
            ca_hash: None,
            user: SERVER_USER.into(),
            secret: s.into(),
        })
    }

    /// The full form, pinning `ca_pem`.
    pub fn full(&self, ca_pem: &str) -> String {
        format!("K10{}::{}:{}", ca_hash(ca_pem), self.user, self.secret)
    }
}

/// The server's token: the given one (checked against this cluster's CA when it pins one), else
/// the one stored in `path`, else a new random one. Stored (0600) so `k3rs token` can show it.
pub fn ensure_server_token(
    path: &Path,
    given: Option<&str>,
    ca_pem: &str,
) -> Result<String, Error> {
    let token = match given {
        Some(g) => {
            let t = Token::parse(g)?;
            if let Some(h) = &t.ca_hash {
                if *h != ca_hash(ca_pem) {
                    return Err(Error::InvalidArgument(
                        "--token pins a different cluster CA than this server's".into(),
                    ));
                }
            }
            t.full(ca_pem)
        }
        None => match std::fs::read_to_string(path) {
            Ok(existing) => Token::parse(&existing)?.full(ca_pem),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = [0u8; 16];
                rand::rng().fill_bytes(&mut secret);
                let secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();
                Token {
                    ca_hash: None,
                    user: SERVER_USER.into(),
                    secret,
                }
                .full(ca_pem)
            }
            Err(source) => {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        },
    };
    crate::pki::write_file(path, format!("{token}\n").as_bytes(), 0o600)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_reused_and_given_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let ca = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n";
        let t1 = ensure_server_token(&path, None, ca).unwrap();
        assert!(
            t1.starts_with(&format!("K10{}::server:", ca_hash(ca))),
            "{t1}"
        );
        assert_eq!(t1.len(), 3 + 64 + 2 + 6 + 1 + 32);
        assert_eq!(ensure_server_token(&path, None, ca).unwrap(), t1, "reused");
        let t2 = ensure_server_token(&path, Some("s3cret"), ca).unwrap();
        assert_eq!(t2, format!("K10{}::server:s3cret", ca_hash(ca)));
        assert_eq!(ensure_server_token(&path, Some(&t2), ca).unwrap(), t2);
        let foreign = format!("K10{}::server:x", "0".repeat(64));
        assert!(ensure_server_token(&path, Some(&foreign), ca).is_err());
        for bad in ["", "K10abc::u:s", "K10nohash", "has space"] {
            assert!(Token::parse(bad).is_err(), "{bad:?}");
        }
    }
}
