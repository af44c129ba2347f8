//! The k3rs resource registry and per-kind rules.
//!
//! This crate owns what the API *is*: every served kind (group, version, plural, scope, verbs, short
//! names, categories, subresources), how objects of each kind are defaulted and validated, and how
//! label and field selectors match them. It does no I/O and knows nothing of HTTP or storage; the
//! API server (`pkg/apiserver`) drives it.

pub mod cel;
pub mod crd;
pub mod defaults;
pub mod patchmeta;
pub mod protobuf;
pub(crate) mod protoschema;
pub mod quantity;
pub mod quota;
pub mod registry;
pub mod selectors;
pub mod smp;
pub mod ssa;
pub mod tables;
pub mod validation;
