//! Webhooks: the HTTPS calls the API server makes out to servers its users run.
//!
//! - [`admission`]: the `MutatingAdmissionWebhook` and `ValidatingAdmissionWebhook` admission
//!   plugins (AdmissionReview), fed by [`config`]'s in-memory cache of the webhook
//!   configurations.
//! - [`conversion`]: CustomResourceDefinition `conversion.strategy: Webhook` (ConversionReview),
//!   called by the generic store when it reads or writes a custom resource in a version other
//!   than the stored one.
//! - [`client`]: the HTTPS client both use, and how a `clientConfig.service` is resolved to an
//!   address ([`client::resolve_service`]).
//! - [`match_conditions`]: where the CEL `matchConditions` are evaluated.

pub mod admission;
pub mod client;
pub mod config;
pub mod conversion;
pub mod match_conditions;
