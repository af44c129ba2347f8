use std::path::PathBuf;

/// Everything that can go wrong in this crate, with enough context (file, line) to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading, writing or renaming a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A PEM file (or PEM text) holds no usable certificate or key, or it does not parse.
    #[error("{what}: {reason}")]
    Pem { what: String, reason: String },
    /// A CA's certificate and key must both exist or both be absent: a half-present CA is never
    /// regenerated, because that would silently invalidate every certificate it signed.
    #[error("{}: exists but {} is missing; refusing to regenerate a CA (restore the file or remove both)", present.display(), missing.display())]
    IncompleteCa { present: PathBuf, missing: PathBuf },
    /// A private key does not belong to the certificate next to it.
    #[error("{}: private key does not match certificate {}", key.display(), cert.display())]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    /// Generating or signing a key or certificate failed.
    #[error("generating {what}: {source}")]
    Generate {
        what: String,
        #[source]
        source: rcgen::Error,
    },
    /// A subject alternative name is neither an IP address nor a valid DNS name.
    #[error("invalid subject alternative name {san:?}: {reason}")]
    InvalidSan { san: String, reason: String },
    /// A client certificate cannot be turned into a user.
    #[error("client certificate: {0}")]
    ClientCert(String),
    /// Invalid arguments to a certificate-issuing call.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A malformed line in a static token file.
    #[error("{source_name}: line {line}: {reason}")]
    TokenFile {
        source_name: String,
        line: usize,
        reason: String,
    },
    /// rustls refused the configuration (bad key, unsupported protocol set, ...).
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built (for example an empty CA bundle).
    #[error("TLS client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn pem(what: impl Into<String>, reason: impl ToString) -> Self {
        Error::Pem {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn generate(what: impl Into<String>, source: rcgen::Error) -> Self {
        Error::Generate {
            what: what.into(),
            source,
        }
    }
}
