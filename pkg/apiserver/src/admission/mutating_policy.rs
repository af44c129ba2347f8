//! The `MutatingAdmissionPolicy` admission plugin, as upstream v1.35's
//! (`k8s.io/apiserver/pkg/admission/plugin/policy/mutating`): MutatingAdmissionPolicies
//! (`admissionregistration.k8s.io/v1beta1`, served when the server is started with
//! `--runtime-config admissionregistration.k8s.io/v1beta1=true --feature-gates
//! MutatingAdmissionPolicy=true`, as upstream) bound to resources by
//! MutatingAdmissionPolicyBindings, their `mutations` written in CEL.
//!
//! Matching, params, variables and match conditions are the generic policy machinery shared with
//! ValidatingAdmissionPolicy ([`super::policy`]). Each matching policy × binding × param applies
//! its mutations in order to the object being admitted:
//!
//! - `ApplyConfiguration`: the expression builds an `Object{...}` (nested `Object.spec{...}`
//!   values, whose type names must follow the field path), which is merged into the object as
//!   server-side apply merges (associative lists by key, sets, granular maps; the kind's schema
//!   as the field manager knows it). Setting an atomic list, map or struct is refused (upstream:
//!   it would silently drop the fields the policy did not name).
//! - `JSONPatch`: the expression builds a list of `JSONPatch{op, path, value, from}` (RFC 6902;
//!   `jsonpatch.escapeKey` escapes a key for a path); a failing `test` leaves the object as is.
//!
//! The object is defaulted again after each mutation. A policy that cannot be evaluated (a
//! compile error, a runtime error, a bad result) refuses the request with upstream's
//! `policy '<p>' with binding '<b>' denied request: <error>` (403, reason `Invalid`) unless its
//! `failurePolicy` is `Ignore`. Policies with `reinvocationPolicy: IfNeeded` run once more when
//! a later policy changed the object (reinvocation stays within this plugin; upstream re-runs the
//! whole mutating chain).
//!
//! As upstream, fields a policy sets are not tracked by a field manager of their own (k3rs
//! records them under the request's manager).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use k3rs_apis::cel::{self, value::from_json, Env, Program};
use k3rs_apis::ssa::{self, ListType, Schema};

use super::policy::{
    arr, base_activation, compile_named, eval_match_conditions, eval_variables, invocations,
    namespace_object, param_kind_error, s, CompiledPolicy, Invocation, Named, Source, GROUP,
};
use super::{Attributes, Operation, Plugin};
use crate::status::ApiResult;
use crate::store::Api;

/// The plugin; its policies are shared with the watch task that keeps them current.
pub struct MutatingAdmissionPolicy {
    source: Arc<Source<Compiled>>,
}

impl Default for MutatingAdmissionPolicy {
    fn default() -> Self {
        MutatingAdmissionPolicy {
            source: Arc::new(Source::new(
                "v1beta1",
                "mutatingadmissionpolicies",
                "mutatingadmissionpolicybindings",
                compile_policy,
                None,
            )),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum PatchType {
    ApplyConfiguration,
    JsonPatch,
}

struct Mutation {
    patch_type: PatchType,
    program: Result<Program, String>,
}

/// A policy compiled for evaluation.
struct Compiled {
    policy: Value,
    ignore_failures: bool,
    reinvoke_if_needed: bool,
    variables: Named,
    match_conditions: Named,
    mutations: Vec<Mutation>,
    config_error: Option<String>,
}

impl CompiledPolicy for Compiled {
    fn policy(&self) -> &Value {
        &self.policy
    }
    fn config_error(&self) -> Option<&str> {
        self.config_error.as_deref()
    }
}

/// The environment mutation expressions compile in: the policy environment with `variables`,
/// plus the patch types.
fn mutation_env(policy: &Value) -> (Env, Env, Named) {
    let (env, variables) = cel::admission::with_variables(
        cel::admission::policy_env(None, None),
        arr(policy, "/spec/variables"),
    );
    let mut patch_env = env.clone();
    patch_env.enable_mutation_types();
    (env, patch_env, variables)
}

/// Compiles one mutation's expression and checks its result type.
fn compile_mutation(patch_env: &Env, m: &Value) -> Mutation {
    let patch_type = s(m, "/patchType");
    let expr = match patch_type {
        "JSONPatch" => s(m, "/jsonPatch/expression"),
        _ => s(m, "/applyConfiguration/expression"),
    };
    Mutation {
        patch_type: if patch_type == "JSONPatch" {
            PatchType::JsonPatch
        } else {
            PatchType::ApplyConfiguration
        },
        program: cel::admission::compile_mutation(patch_env, patch_type, expr),
    }
}

fn compile_policy(policy: &Value) -> Compiled {
    let (env, patch_env, variables) = mutation_env(policy);
    let mutations = arr(policy, "/spec/mutations")
        .iter()
        .map(|m| compile_mutation(&patch_env, m))
        .collect();
    let config_error = param_kind_error(policy);
    Compiled {
        ignore_failures: s(policy, "/spec/failurePolicy") == "Ignore",
        reinvoke_if_needed: s(policy, "/spec/reinvocationPolicy") == "IfNeeded",
        match_conditions: compile_named(&env, policy, "/spec/matchConditions"),
        variables,
        mutations,
        config_error,
        policy: policy.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Applying mutations
// ---------------------------------------------------------------------------------------------

/// Upstream's `CheckTypeNamesMatchFieldPathNames`: every `Object.<path>{...}` value sits at
/// that path under the root `Object`.
fn check_type_names(v: &cel::Value, path: &mut Vec<String>, errs: &mut Vec<String>) {
    match v {
        cel::Value::Object(o) => {
            let want = path.join(".");
            if *o.type_name != *want {
                errs.push(format!(
                    "unexpected type name {:?}, expected {want:?}, which matches field name path from root Object type",
                    o.type_name
                ));
            }
            for (k, f) in &o.fields {
                path.push(k.clone());
                check_type_names(f, path, errs);
                path.pop();
            }
        }
        cel::Value::List(l) => l.iter().for_each(|x| check_type_names(x, path, errs)),
        cel::Value::Map(m) => m.values().for_each(|x| check_type_names(x, path, errs)),
        _ => {}
    }
}

fn type_names_ok(v: &cel::Value, root: &str) -> Result<(), String> {
    let mut errs = Vec::new();
    check_type_names(v, &mut vec![root.to_string()], &mut errs);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("type mismatch: {}", errs.join("\n")))
    }
}

/// SMD's path notation: `.spec.selector`, `.spec.containers[0]`.
fn path_string(path: &[String]) -> String {
    path.concat()
}

/// Upstream's `findAtomics`: atomic lists, maps and structs the apply configuration sets.
fn find_atomics(v: &Value, schema: &dyn Schema, path: &mut Vec<String>, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if schema.map_atomic() {
                out.push(path_string(path));
            }
            for (k, child) in m {
                path.push(format!(".{k}"));
                find_atomics(child, schema.field(k).as_ref(), path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            if schema.list_type() == ListType::Atomic {
                out.push(path_string(path));
            }
            let item_schema = schema.items();
            for (i, item) in items.iter().enumerate() {
                path.push(format!("[{i}]"));
                find_atomics(item, item_schema.as_ref(), path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Merges an apply configuration into the object (upstream's `ApplyStructuredMergeDiff`).
fn apply_configuration(
    res: &k3rs_apis::registry::Resource,
    obj: &Value,
    patch: &Value,
    schema: &dyn Schema,
) -> Result<Value, String> {
    let mut errs = crate::fieldmanager::undeclared_fields(res, patch, schema);
    errs.extend(ssa::typed_errors(patch, schema));
    if !errs.is_empty() {
        return Err(format!(
            "error applying patch: failed to convert patch object to typed object: {}",
            errs.join("\n")
        ));
    }
    let mut atomics = Vec::new();
    find_atomics(patch, schema, &mut Vec::new(), &mut atomics);
    if !atomics.is_empty() {
        return Err(format!(
            "error applying patch: invalid ApplyConfiguration: may not mutate atomic arrays, maps or structs: {}",
            atomics.join(", ")
        ));
    }
    ssa::merge(obj, patch, schema)
        .map_err(|e| format!("error applying patch: failed to merge patch: {e}"))
}

/// The RFC 6902 operations of a `list(JSONPatch)` result.
fn json_patch_ops(v: &cel::Value) -> Result<Value, String> {
    let cel::Value::List(items) = v else {
        return Err("type mismatch: JSONPatchType.expression should evaluate to array".into());
    };
    let mut ops = Vec::with_capacity(items.len());
    for item in items.iter() {
        let cel::Value::Object(o) = item else {
            return Err(format!(
                "type mismatch: JSONPatchType.expression should evaluate to array of JSONPatch, got element of {}",
                item.type_name()
            ));
        };
        if &*o.type_name != "JSONPatch" {
            return Err(format!(
                "type mismatch: JSONPatchType.expression should evaluate to array of JSONPatch, got element of {}",
                o.type_name
            ));
        }
        let text = |k: &str| match o.get(k) {
            Some(cel::Value::String(s)) => s.to_string(),
            _ => String::new(),
        };
        let mut op = json!({"op": text("op"), "path": text("path")});
        if !text("from").is_empty() {
            op["from"] = json!(text("from"));
        }
        if let Some(value) = o.get("value") {
            if let cel::Value::Object(ov) = value {
                type_names_ok(value, &ov.type_name)?;
            }
            op["value"] = value.to_json();
        }
        ops.push(op);
    }
    Ok(Value::Array(ops))
}

/// Evaluates one mutation against `obj`; `Ok(Some(new))` when it produced an object.
fn run_mutation(
    m: &Mutation,
    act: &cel::Activation,
    budget: &mut i64,
    obj: &Value,
    a: &Attributes<'_>,
) -> Result<Option<Value>, String> {
    let p = m.program.as_ref().map_err(Clone::clone)?;
    if *budget <= 0 {
        return Err("validation failed due to running out of cost budget, no further validation rules will be run".into());
    }
    let (v, cost) = p
        .eval(act, cel::PER_CALL_LIMIT.min(*budget as u64))
        .map_err(|(e, _)| format!("expression '{}' resulted in error: {e}", p.source))?;
    *budget -= cost as i64;
    let mut out = match m.patch_type {
        PatchType::ApplyConfiguration => {
            let cel::Value::Object(_) = &v else {
                return Err(format!(
                    "unsupported return type from ApplyConfiguration expression: {}",
                    v.type_name()
                ));
            };
            type_names_ok(&v, "Object")?;
            let mut patch = v.to_json();
            if let (Some(pm), Some(om)) = (patch.as_object_mut(), obj.as_object()) {
                for k in ["apiVersion", "kind"] {
                    if let Some(x) = om.get(k) {
                        pm.insert(k.into(), x.clone());
                    }
                }
            }
            let schema = crate::fieldmanager::schema_for(a.resource);
            apply_configuration(a.resource, obj, &patch, schema.as_ref())?
        }
        PatchType::JsonPatch => {
            let ops = json_patch_ops(&v)?;
            let mut doc = obj.clone();
            match crate::patch::json_patch(&mut doc, &ops) {
                Ok(()) => doc,
                // A failed `test` operation leaves the object as it is (upstream).
                Err(e) if e.message.starts_with("testing value at") => return Ok(None),
                Err(e) => return Err(format!("JSON Patch: {}", e.message)),
            }
        }
    };
    k3rs_apis::defaults::apply_defaults(a.resource.group, a.resource.kind, &mut out);
    if let Some(cr) = k3rs_apis::crd::lookup(a.resource) {
        if let Some(schema) = cr.schema.as_ref() {
            k3rs_apis::crd::schema::apply_defaults(schema, &mut out);
        }
    }
    Ok(Some(out))
}

/// A failure to mutate, reported under the policy's failure policy.
struct Failure {
    policy: String,
    binding: Option<String>,
    message: String,
}

#[async_trait]
impl Plugin for MutatingAdmissionPolicy {
    fn name(&self) -> &'static str {
        "MutatingAdmissionPolicy"
    }

    async fn admit(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        // Admission configuration itself is exempt (as upstream), so a bad policy can be fixed;
        // only creates and updates are mutated.
        if a.resource.group == GROUP
            || !matches!(a.operation, Operation::Create | Operation::Update)
        {
            return Ok(());
        }
        self.source.ensure_started(api).await;
        let snap = self.source.current();
        if snap.policies.is_empty() {
            return Ok(());
        }
        let ns_obj = namespace_object(api, a).await;
        let invs = invocations(api, &snap, a, Some(&*obj), old, ns_obj.as_ref()).await;
        let mut failures: Vec<Failure> = Vec::new();
        // Upstream's reinvocation context, kept within this plugin: policies with
        // `reinvocationPolicy: IfNeeded` run again when a later one changed the object.
        let mut previously_invoked: Vec<usize> = Vec::new();
        let mut reinvoke: Vec<usize> = Vec::new();
        for round in 0..2 {
            if round == 1 && reinvoke.is_empty() {
                break;
            }
            for (idx, inv) in invs.iter().enumerate() {
                let (policy_name, c, binding, param) = match inv {
                    Invocation::ConfigError {
                        policy_name,
                        compiled,
                        binding,
                        message,
                    } => {
                        if round == 0 && !compiled.ignore_failures {
                            failures.push(Failure {
                                policy: policy_name.to_string(),
                                binding: binding.clone(),
                                message: message.clone(),
                            });
                        }
                        continue;
                    }
                    Invocation::Invoke {
                        policy_name,
                        compiled,
                        binding,
                        param,
                    } => (*policy_name, compiled, *binding, param),
                };
                if round == 1 && !reinvoke.contains(&idx) {
                    continue;
                }
                let mut fail = |message: String| {
                    if !c.ignore_failures {
                        failures.push(Failure {
                            policy: policy_name.to_string(),
                            binding: Some(s(binding, "/metadata/name").to_string()),
                            message,
                        });
                    }
                };
                let mut budget: i64 = cel::RUNTIME_COST_BUDGET as i64;
                let mut act = base_activation(a, Some(&*obj), old, ns_obj.as_ref());
                act.insert("params".into(), from_json(param, None));
                eval_variables(&c.variables, &mut act, &mut budget);
                match eval_match_conditions(&c.match_conditions, &act, &mut budget) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        fail(e);
                        continue;
                    }
                }
                let before = obj.clone();
                for m in &c.mutations {
                    match run_mutation(m, &act, &mut budget, obj, a) {
                        Ok(Some(new)) => {
                            *obj = new;
                            // Later mutations of the policy see the mutated object.
                            act.insert("object".into(), from_json(obj, None));
                        }
                        Ok(None) => {}
                        Err(e) => fail(e),
                    }
                }
                if *obj != before {
                    reinvoke.append(&mut previously_invoked);
                }
                if round == 0 && c.reinvoke_if_needed {
                    previously_invoked.push(idx);
                }
            }
        }
        let Some(first) = failures.first() else {
            return Ok(());
        };
        let describe = |f: &Failure| match &f.binding {
            Some(b) => format!(
                "policy '{}' with binding '{b}' denied request: {}",
                f.policy, f.message
            ),
            None => format!("policy {:?} denied request: {}", f.policy, f.message),
        };
        let message = describe(first);
        let mut err = a.forbidden(Some(&*obj), &message);
        err.reason = "Invalid".into();
        if let Some(details) = err.details.as_mut() {
            details["causes"] = Value::Array(
                failures
                    .iter()
                    .map(|f| json!({"message": describe(f)}))
                    .collect(),
            );
        }
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(mutations: Value) -> Value {
        json!({"metadata": {"name": "p", "generation": 1}, "spec": {
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": ["configmaps"]}]},
            "variables": [{"name": "n", "expression": "object.metadata.name"}],
            "mutations": mutations, "reinvocationPolicy": "Never"}})
    }

    #[test]
    fn mutations_compile_and_check_their_result_type() {
        let c = compile_policy(&policy(json!([
            {"patchType": "ApplyConfiguration", "applyConfiguration": {"expression":
                "Object{metadata: Object.metadata{labels: {'n': variables.n}}}"}},
            {"patchType": "JSONPatch", "jsonPatch": {"expression":
                "[JSONPatch{op: 'add', path: '/data', value: {}}]"}},
            {"patchType": "ApplyConfiguration", "applyConfiguration": {"expression": "object"}},
            {"patchType": "JSONPatch", "jsonPatch": {"expression": "JSONPatch{op: 'add'}"}},
            {"patchType": "Merge"},
        ])));
        assert!(c.mutations[0].program.is_ok());
        assert!(c.mutations[1].program.is_ok());
        assert_eq!(
            c.mutations[2].program.as_ref().err().map(String::as_str),
            Some("must evaluate to Object but got dyn")
        );
        assert_eq!(
            c.mutations[3].program.as_ref().err().map(String::as_str),
            Some("must evaluate to list(JSONPatch) but got JSONPatch")
        );
        assert!(c.mutations[4]
            .program
            .as_ref()
            .is_err_and(|e| e.contains("unsupported patchType")));
    }

    #[test]
    fn apply_configurations_merge_by_the_kind_schema() {
        let deploy = k3rs_apis::registry::find("apps", "v1", "deployments").expect("deployments");
        let schema = crate::fieldmanager::schema_for(deploy);
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"a": "1"}},
            "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"spec": {
                "containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}}});
        let patch = json!({"metadata": {"labels": {"b": "2"}}, "spec": {"template": {"spec": {
            "containers": [{"name": "b", "image": "b:2"}]}}}});
        let out = apply_configuration(deploy, &obj, &patch, schema.as_ref()).expect("merged");
        assert_eq!(out["metadata"]["labels"], json!({"a": "1", "b": "2"}));
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0], json!({"name": "a", "image": "a:1"}));
        assert_eq!(containers[1], json!({"name": "b", "image": "b:2"}));
        // The selector is an atomic struct: setting it would drop what the policy left out.
        let e = apply_configuration(
            deploy,
            &obj,
            &json!({"spec": {"selector": {"matchLabels": {"app": "y"}}}}),
            schema.as_ref(),
        )
        .unwrap_err();
        assert!(
            e.contains("may not mutate atomic arrays, maps or structs: .spec.selector"),
            "{e}"
        );
        let e = apply_configuration(deploy, &obj, &json!({"spec": {"nope": 1}}), schema.as_ref())
            .unwrap_err();
        assert!(
            e.contains(".spec.nope: field not declared in schema"),
            "{e}"
        );
    }

    #[test]
    fn type_names_must_follow_the_field_path() {
        let mut env = Env::new();
        env.enable_mutation_types();
        let v = |src: &str| {
            env.compile(src)
                .expect("compiles")
                .eval(&cel::Activation::new(), cel::PER_CALL_LIMIT)
                .expect("evaluates")
                .0
        };
        assert!(type_names_ok(
            &v("Object{spec: Object.spec{template: Object.spec.template{}}}"),
            "Object"
        )
        .is_ok());
        let e = type_names_ok(
            &v("Object{spec: Object.spec{selector: Object.spec.wrong{}}}"),
            "Object",
        )
        .unwrap_err();
        assert!(
            e.contains(
                "unexpected type name \"Object.spec.wrong\", expected \"Object.spec.selector\""
            ),
            "{e}"
        );
    }
}
