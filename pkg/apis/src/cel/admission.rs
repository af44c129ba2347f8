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
        dynamic: false,
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
    declare_authorizer(&mut env);
    env
}

fn declare_authorizer(env: &mut Env) {
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
}

/// The environment admission policies' expressions compile in (before `variables`):
/// `object`/`oldObject`/`params` typed by `object_decl` and `params_decl` when known (type
/// checking), `dyn` otherwise; `request`, `namespaceObject` and the authorizer.
pub fn policy_env(
    object_decl: Option<&Arc<crate::cel::DeclType>>,
    params_decl: Option<&Arc<crate::cel::DeclType>>,
) -> Env {
    let mut env = Env::new();
    let obj_ty = object_decl.map_or(Type::Dyn, |d| d.cel.clone());
    env.declare("object", obj_ty.clone(), object_decl.cloned());
    env.declare("oldObject", obj_ty, object_decl.cloned());
    env.declare(
        "params",
        params_decl.map_or(Type::Dyn, |d| d.cel.clone()),
        params_decl.cloned(),
    );
    env.declare("request", request_type(), None);
    env.declare("namespaceObject", Type::Dyn, None);
    declare_authorizer(&mut env);
    env
}

/// Named compiled expressions, each a program or its compile error.
pub type NamedPrograms = Vec<(String, Result<crate::cel::Program, String>)>;

/// Compiles a policy's `variables` in order (each sees the ones before it) into `env`,
/// returning the environment with `variables` declared and each variable's name and program.
pub fn with_variables(mut env: Env, variables: &[serde_json::Value]) -> (Env, NamedPrograms) {
    use std::collections::BTreeMap;
    let declare = |env: &mut Env, fields: &BTreeMap<String, Type>| {
        env.declare(
            "variables",
            Type::Object(Arc::new(ObjectType {
                name: "kubernetes.variables".into(),
                fields: fields.clone(),
                dynamic: false,
            })),
            None,
        );
    };
    let mut out = Vec::new();
    let mut fields: BTreeMap<String, Type> = BTreeMap::new();
    for v in variables {
        let s = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
        declare(&mut env, &fields);
        let p = env
            .compile(s("expression"))
            .map_err(|e| format!("compilation failed: {}", e.message));
        fields.insert(
            s("name").to_string(),
            p.as_ref().map_or(Type::Dyn, |p| p.ty.clone()),
        );
        out.push((s("name").to_string(), p));
    }
    declare(&mut env, &fields);
    (env, out)
}

/// Compiles a MutatingAdmissionPolicy mutation's expression in `patch_env` (a policy
/// environment with [`Env::enable_mutation_types`]) and checks its result type as upstream's
/// compiler does: `Object` for `ApplyConfiguration`, `list(JSONPatch)` for `JSONPatch`.
pub fn compile_mutation(
    patch_env: &Env,
    patch_type: &str,
    expr: &str,
) -> Result<crate::cel::Program, String> {
    let want = match patch_type {
        "JSONPatch" => "list(JSONPatch)",
        "ApplyConfiguration" => "Object",
        other => return Err(format!("unsupported patchType {other:?}")),
    };
    let p = patch_env
        .compile(expr)
        .map_err(|e| format!("compilation failed: {}", e.message))?;
    let got = p.ty.to_string();
    if got == want {
        Ok(p)
    } else {
        Err(format!("must evaluate to {want} but got {got}"))
    }
}
