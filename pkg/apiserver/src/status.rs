//! Every error leaves the server as a `metav1.Status` with the right code and reason.

use serde_json::{json, Value};

use k3rs_apis::registry::Resource;
use k3rs_apis::validation::FieldError;

/// An API error: becomes a `Status` body with `code` as the HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    /// Usually one of upstream's `metav1.StatusReason`s; a webhook may name its own.
    pub reason: std::borrow::Cow<'static, str>,
    pub message: String,
    pub details: Option<Box<Value>>,
    /// Extra response headers (e.g. `Retry-After`).
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(
        code: u16,
        reason: impl Into<std::borrow::Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            code,
            reason: reason.into(),
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", msg)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", msg)
    }

    pub fn not_found_path() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn method_not_allowed(msg: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", msg)
    }

    pub fn not_acceptable(msg: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", msg)
    }

    pub fn unsupported_media_type(msg: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", msg)
    }

    pub fn too_large(msg: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLarge", msg)
    }

    pub fn expired(msg: impl Into<String>) -> Self {
        Self::new(410, "Expired", msg)
    }

    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", msg.into()),
        )
    }

    pub fn timeout(msg: impl Into<String>) -> Self {
        Self::new(504, "Timeout", msg)
    }

    pub fn not_implemented(msg: impl Into<String>) -> Self {
        Self::new(501, "NotImplemented", msg)
    }

    pub fn invalid_query(msg: impl Into<String>) -> Self {
        Self::new(422, "Invalid", msg)
    }

    fn details_for(res: &Resource, name: &str) -> Value {
        let mut d = json!({"name": name, "kind": res.plural});
        if !res.group.is_empty() {
            d["group"] = json!(res.group);
        }
        d
    }

    /// `pods "x" not found`.
    pub fn not_found(res: &Resource, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(res)),
        )
        .with_details(Self::details_for(res, name))
    }

    /// `pods "x" already exists`.
    pub fn already_exists(res: &Resource, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(res)),
        )
        .with_details(Self::details_for(res, name))
    }

    /// The optimistic-concurrency conflict kubectl and `RetryOnConflict` recognise.
    pub fn conflict(res: &Resource, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(res)
            ),
        )
        .with_details(Self::details_for(res, name))
    }

    pub fn modified(res: &Resource, name: &str) -> Self {
        Self::conflict(
            res,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 Invalid with one cause per field error, as upstream's `NewInvalid`.
    pub fn invalid(res: &Resource, name: &str, errs: &[FieldError]) -> Self {
        let causes: Vec<Value> = errs
            .iter()
            .map(|e| json!({"reason": e.reason.as_str(), "message": e.cause_message(), "field": e.field}))
            .collect();
        let list = if errs.len() == 1 {
            errs[0].message()
        } else {
            format!(
                "[{}]",
                errs.iter()
                    .map(|e| e.message())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let mut details = Self::details_for(res, name);
        details["kind"] = json!(res.kind);
        details["causes"] = json!(causes);
        Self::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {list}", qualified_kind(res)),
        )
        .with_details(details)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        // An empty reason is left out (as Go's `omitempty`): a webhook's refusal may have none.
        if self.reason.is_empty() {
            if let Some(m) = s.as_object_mut() {
                m.remove("reason");
            }
        }
        if let Some(d) = &self.details {
            s["details"] = (**d).clone();
        }
        if let Some(secs) = self.retry_after {
            s["details"]["retryAfterSeconds"] = json!(secs);
        }
        s
    }
}

/// `pods` or `deployments.apps`, as upstream names a resource in messages.
/// `Kind.group` (`Kind` for the core group), as upstream's `GroupKind.String()`.
pub fn qualified_kind(res: &Resource) -> String {
    if res.group.is_empty() {
        res.kind.to_string()
    } else {
        format!("{}.{}", res.kind, res.group)
    }
}

pub fn qualified(res: &Resource) -> String {
    if res.group.is_empty() {
        res.plural.to_string()
    } else {
        format!("{}.{}", res.plural, res.group)
    }
}

/// The `Status` of a successful delete.
pub fn success(res: &Resource, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": res.plural, "uid": uid});
    if !res.group.is_empty() {
        details["group"] = json!(res.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

impl From<k3rs_storage::Error> for ApiError {
    fn from(e: k3rs_storage::Error) -> Self {
        use k3rs_storage::Error as E;
        match e {
            E::Compacted {
                requested,
                compacted,
            } => ApiError::expired(format!(
                "too old resource version: {requested} ({compacted})"
            )),
            E::FutureRevision { requested, current } => ApiError::timeout(format!(
                "Too large resource version: {requested}, current: {current}"
            ))
            .with_details(json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1})),
            E::Closed => ApiError::new(503, "ServiceUnavailable", "the datastore is shutting down"),
            other => ApiError::internal(other.to_string()),
        }
    }
}
