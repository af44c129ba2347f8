//! Generates the OpenAPI definitions of the built-in kinds from k8s-openapi's `JsonSchema` impls
//! (which carry upstream's field descriptions), at build time: the server gets them as data (JSON
//! compressed with deflate, `builtin-schemas.json.deflate`) and the list of kinds as Rust
//! (`builtin-kinds.rs`), instead of carrying schemars and those impls (~4 MB of code) to run them
//! once. `src/openapi/schemas.rs` completes them at run time (GVKs, list kinds, patch metadata).

use std::io::Write;
use std::path::PathBuf;

use k8s_openapi::api;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::schemars::generate::SchemaSettings;
use k8s_openapi::schemars::{JsonSchema, SchemaGenerator};

/// A kind with a definition: what `x-kubernetes-group-version-kind` says about it.
struct Kind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    definition: String,
    list_definition: Option<String>,
}

fn generator() -> SchemaGenerator {
    let mut s = SchemaSettings::draft2020_12();
    s.definitions_path = "/definitions".into();
    s.meta_schema = None;
    s.transforms = Vec::new();
    SchemaGenerator::new(s)
}

fn listable<T: k8s_openapi::ListableResource + JsonSchema>(gen: &mut SchemaGenerator) -> Kind {
    gen.subschema_for::<T>();
    let definition = T::schema_name().into_owned();
    let prefix = definition
        .rsplit_once('.')
        .map(|(p, _)| p)
        .unwrap_or_default();
    Kind {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        list_definition: Some(format!("{prefix}.{}", T::LIST_KIND)),
        definition,
    }
}

fn object<T: k8s_openapi::Resource + JsonSchema>(gen: &mut SchemaGenerator) -> Kind {
    gen.subschema_for::<T>();
    Kind {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        definition: T::schema_name().into_owned(),
        list_definition: None,
    }
}

/// Every listable kind a built-in resource of the registry is served as. `registry_kinds_covered`
/// (src/openapi/tests.rs) checks that the registry names no kind missing here.
macro_rules! listable_kinds {
    ($gen:ident: $($t:ty),* $(,)?) => { vec![$(listable::<$t>($gen)),*] };
}

/// Kinds only seen through a subresource (`deployments/scale` is a `Scale`).
macro_rules! subresource_kinds {
    ($gen:ident: $($t:ty),* $(,)?) => { vec![$(object::<$t>($gen)),*] };
}

fn builtin_kinds(gen: &mut SchemaGenerator) -> Vec<Kind> {
    let mut kinds = listable_kinds!(gen:
        api::core::v1::ConfigMap,
        api::core::v1::Endpoints,
        api::core::v1::Event,
        api::core::v1::LimitRange,
        api::core::v1::Namespace,
        api::core::v1::Node,
        api::core::v1::PersistentVolumeClaim,
        api::core::v1::PersistentVolume,
        api::core::v1::Pod,
        api::core::v1::PodTemplate,
        api::core::v1::ReplicationController,
        api::core::v1::ResourceQuota,
        api::core::v1::Secret,
        api::core::v1::ServiceAccount,
        api::core::v1::Service,
        api::apps::v1::ControllerRevision,
        api::apps::v1::DaemonSet,
        api::apps::v1::Deployment,
        api::apps::v1::ReplicaSet,
        api::apps::v1::StatefulSet,
        api::autoscaling::v2::HorizontalPodAutoscaler,
        api::batch::v1::CronJob,
        api::batch::v1::Job,
        api::certificates::v1::CertificateSigningRequest,
        api::networking::v1::IngressClass,
        api::networking::v1::Ingress,
        api::networking::v1::IPAddress,
        api::networking::v1::NetworkPolicy,
        api::networking::v1::ServiceCIDR,
        api::policy::v1::PodDisruptionBudget,
        api::rbac::v1::ClusterRoleBinding,
        api::rbac::v1::ClusterRole,
        api::rbac::v1::RoleBinding,
        api::rbac::v1::Role,
        api::storage::v1::CSIDriver,
        api::storage::v1::CSINode,
        api::storage::v1::CSIStorageCapacity,
        api::storage::v1::StorageClass,
        api::storage::v1::VolumeAttachment,
        api::storage::v1::VolumeAttributesClass,
        api::admissionregistration::v1::MutatingWebhookConfiguration,
        api::admissionregistration::v1::ValidatingAdmissionPolicy,
        api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        api::admissionregistration::v1::ValidatingWebhookConfiguration,
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        api::scheduling::v1::PriorityClass,
        api::coordination::v1::Lease,
        api::node::v1::RuntimeClass,
        api::discovery::v1::EndpointSlice,
        api::resource::v1::DeviceClass,
        api::resource::v1::ResourceClaim,
        api::resource::v1::ResourceClaimTemplate,
        api::resource::v1::ResourceSlice,
        api::flowcontrol::v1::FlowSchema,
        api::flowcontrol::v1::PriorityLevelConfiguration,
    );
    kinds.extend(subresource_kinds!(gen:
        api::autoscaling::v1::Scale,
        api::policy::v1::Eviction,
        api::authentication::v1::TokenRequest,
        api::core::v1::Binding,
        // The review kinds: created, answered, never stored (no lists).
        api::authentication::v1::SelfSubjectReview,
        api::authentication::v1::TokenReview,
        api::authorization::v1::LocalSubjectAccessReview,
        api::authorization::v1::SelfSubjectAccessReview,
        api::authorization::v1::SelfSubjectRulesReview,
        api::authorization::v1::SubjectAccessReview,
    ));
    kinds
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut gen = generator();
    let kinds = builtin_kinds(&mut gen);
    gen.subschema_for::<meta::DeleteOptions>();
    gen.subschema_for::<meta::Status>();
    gen.subschema_for::<meta::WatchEvent<api::core::v1::Pod>>();
    gen.subschema_for::<meta::Patch>();
    gen.subschema_for::<meta::APIResourceList>();
    gen.subschema_for::<meta::ListMeta>();
    let schemas = gen.take_definitions(false);
    // Beta APIs, served only when the server is started with them (`--runtime-config`): their
    // kinds and the definitions only they refer to, kept apart.
    let mut beta_gen = generator();
    let beta_kinds = beta_kinds(&mut beta_gen);
    let beta_schemas: serde_json::Map<String, serde_json::Value> = beta_gen
        .take_definitions(false)
        .into_iter()
        .filter(|(k, _)| !schemas.contains_key(k))
        .collect();

    let mut rs = String::new();
    for (name, kinds) in [("KINDS", &kinds), ("BETA_KINDS", &beta_kinds)] {
        rs.push_str(&format!(
            "/// (group, version, kind, definition, list definition), generated by build.rs.\n\
             pub static {name}: &[(&str, &str, &str, &str, Option<&str>)] = &[\n"
        ));
        for k in kinds {
            rs.push_str(&format!(
                "    ({:?}, {:?}, {:?}, {:?}, {:?}),\n",
                k.group, k.version, k.kind, k.definition, k.list_definition
            ));
        }
        rs.push_str("];\n");
    }
    std::fs::write(out_dir.join("builtin-kinds.rs"), rs).expect("writing builtin-kinds.rs");

    for (file, defs) in [
        ("builtin-schemas.json.deflate", schemas),
        ("beta-schemas.json.deflate", beta_schemas),
    ] {
        let json =
            serde_json::to_vec(&serde_json::Value::Object(defs)).expect("definitions serialize");
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&json).expect("deflate");
        let deflated = z.finish().expect("deflate");
        std::fs::write(out_dir.join(file), deflated).expect("writing the definitions");
    }
}

/// The kinds of the beta APIs k3rs serves on request (`k3rs_apis::registry::BETA_APIS`).
fn beta_kinds(gen: &mut SchemaGenerator) -> Vec<Kind> {
    listable_kinds!(gen:
        api::admissionregistration::v1beta1::MutatingAdmissionPolicy,
        api::admissionregistration::v1beta1::MutatingAdmissionPolicyBinding,
    )
}
