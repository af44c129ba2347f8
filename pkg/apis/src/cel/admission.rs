//! What admission expressions share: the type of upstream's `request` variable (an
//! AdmissionRequest) and the environment webhook `matchConditions` compile in (`object`,
//! `oldObject`, `request`, `authorizer`), used both to validate webhook configurations and to
//! evaluate their conditions.

use std::sync::Arc;

use super::types::ObjectType;
use super::{Env, Type};

fn obj_type(name: &str, fields: &[(&str, Type)]) -> Type {
    Type::Object(Arc::new(ObjectType {
        name: name.into(),
        fields: fields
            .iter()
            .map(|(k, t)| (k.to_string(), t.clone()))
            .collect(),
    }))
}

/// The type of the `request` variable (upstream's AdmissionRequest).
pub fn request_type() -> Type {
    let gvk = obj_type(
        "kubernetes.GroupVersionKind",
        &[
            ("group", Type::String),
            ("version", Type::String),
            ("kind", Type::String),
        ],
    );
    let gvr = obj_type(
        "kubernetes.GroupVersionResource",
        &[
            ("group", Type::String),
            ("version", Type::String),
            ("resource", Type::String),
        ],
    );
    let user = obj_type(
        "kubernetes.UserInfo",
        &[
            ("username", Type::String),
            ("uid", Type::String),
            ("groups", Type::list(Type::String)),
            ("extra", Type::map(Type::String, Type::list(Type::String))),
        ],
    );
    obj_type(
        "kubernetes.AdmissionRequest",
        &[
            ("kind", gvk.clone()),
            ("resource", gvr.clone()),
            ("subResource", Type::String),
            ("requestKind", gvk),
            ("requestResource", gvr),
            ("requestSubResource", Type::String),
            ("name", Type::String),
            ("namespace", Type::String),
            ("operation", Type::String),
            ("userInfo", user),
            ("dryRun", Type::Bool),
            ("options", Type::Dyn),
        ],
    )
}

/// The environment of webhook `matchConditions` (upstream's: `object`, `oldObject`, `request`,
/// `authorizer`).
pub fn match_condition_env() -> Env {
    let mut env = Env::new();
    env.declare("object", Type::Dyn, None);
    env.declare("oldObject", Type::Dyn, None);
    env.declare("request", request_type(), None);
    env.declare(
        "authorizer",
        Type::Opaque("kubernetes.authorization.Authorizer"),
        None,
    );
    env.declare(
        "authorizer.requestResource",
        Type::Opaque("kubernetes.authorization.ResourceCheck"),
        None,
    );
    env
}
