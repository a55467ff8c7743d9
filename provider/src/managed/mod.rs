//! One generic managed reconciler, the Rust counterpart of
//! crossplane-runtime's `pkg/reconciler/managed`. A kind implements
//! [`Managed`] (where its Crossplane fields are) and a [`Connector`] whose
//! [`ExternalClient`] observes / creates / updates / deletes the external
//! resource; the reconciler does the rest.

pub mod cluster;
pub mod conditions;
pub mod connection;
pub mod decide;
pub mod error;
pub mod events;
pub mod policy;
pub mod ratelimit;
pub mod reasons;
pub mod reconciler;
pub mod usage;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::apis::{Condition, DeletionPolicy, ManagementAction};
pub use decide::Replacement;

/// Connection details: Secret keys and values.
pub type ConnectionDetails = BTreeMap<String, Vec<u8>>;

/// Where a kind keeps Crossplane's managed-resource fields.
pub trait Managed:
    kube::Resource<DynamicType = ()>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The ProviderConfigUsage kind for this flavour.
    type Usage: kube::Resource<DynamicType = ()>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static;

    fn management_policies(&self) -> &[ManagementAction];
    /// `Some` on legacy cluster-scoped kinds only.
    fn deletion_policy(&self) -> Option<DeletionPolicy>;
    /// `(kind, name)`: legacy kinds always say `ProviderConfig`.
    fn provider_config_ref(&self) -> (String, String);
    /// `(namespace, name)` of the connection Secret.
    fn connection_secret(&self) -> Option<(String, String)>;
    fn conditions(&self) -> Vec<Condition>;
    /// `status.atProvider` as JSON.
    fn at_provider(&self) -> Option<serde_json::Value>;
    /// The usage object recording that this resource uses its ProviderConfig.
    fn usage(&self) -> Option<Self::Usage>;
    /// The API of this kind (in `namespace` for namespaced kinds).
    fn api(client: &kube::Client, namespace: Option<&str>) -> kube::Api<Self>;
    /// The API of the usage kind (in `namespace` for namespaced kinds).
    fn usage_api(client: &kube::Client, namespace: Option<&str>) -> kube::Api<Self::Usage>;
}

/// Whether the external resource is usable.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Readiness {
    Available,
    Unavailable(Option<String>),
    /// Leave Ready as it is.
    #[default]
    Unknown,
}

/// What Observe found. Observe never changes the external resource.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    pub exists: bool,
    pub up_to_date: bool,
    pub ready: Readiness,
    /// It exists but must be replaced by a new one (e.g. an auth key close
    /// to expiry, or revoked outside the provider).
    pub replace: Option<Replacement>,
    pub connection_details: ConnectionDetails,
    pub at_provider: Option<serde_json::Value>,
    /// What differs (logged; never secret values).
    pub diff: Option<String>,
}

/// What Create made.
#[derive(Clone, Debug, Default)]
pub struct Creation {
    /// The external resource's ID, recorded as `crossplane.io/external-name`.
    pub external_name: String,
    pub connection_details: ConnectionDetails,
    pub at_provider: Option<serde_json::Value>,
}

/// What Update changed.
#[derive(Clone, Debug, Default)]
pub struct Updated {
    pub connection_details: ConnectionDetails,
    /// `status.atProvider` after the update, when it changed it.
    pub at_provider: Option<serde_json::Value>,
}

/// An error from the external API, with the API's own message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ExternalError {
    pub message: String,
    /// The HTTP status, when there was one.
    pub status: Option<u16>,
    /// Honour this before trying again (HTTP 429/503 `Retry-After`).
    pub retry_after: Option<Duration>,
    pub kind: ErrorKind,
}

/// What an [`ExternalError`] means for the resource's conditions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorKind {
    /// Something failed: Synced=False/ReconcileError, backoff.
    #[default]
    Failed,
    /// Rate limited (the message names service, endpoint and retry time):
    /// Synced=False/RateLimited, back after `retry_after`, not a failure.
    RateLimited,
    /// Refused by a ProviderConfig guardrail before any API call:
    /// Synced=False/GuardrailViolation.
    Guardrail,
    /// Blocked by something the resource does not own: Synced=False/Conflict.
    Conflict,
}

impl ErrorKind {
    /// The Synced reason of an error of this kind.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorKind::Failed => reasons::RECONCILE_ERROR,
            ErrorKind::RateLimited => reasons::RATE_LIMITED,
            ErrorKind::Guardrail => reasons::GUARDRAIL_VIOLATION,
            ErrorKind::Conflict => reasons::CONFLICT,
        }
    }
}

impl ExternalError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: None,
            retry_after: None,
            kind: ErrorKind::Failed,
        }
    }

    pub fn of_kind(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            ..Self::new(message)
        }
    }

    /// `service` (e.g. `Cloudflare`) did not take `endpoint` (`GET /path`)
    /// because of its rate limit; `why` says how it was told (e.g.
    /// `answered 429 Too Many Requests`). Try again after `wait`.
    pub fn rate_limited(service: &str, endpoint: &str, why: &str, wait: Duration) -> Self {
        let secs = wait.as_secs_f64().ceil() as i64;
        let at = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(secs))
            .unwrap_or_else(|_| jiff::Timestamp::now())
            .round(jiff::Unit::Second)
            .unwrap_or_else(|_| jiff::Timestamp::now());
        Self {
            message: format!(
                "rate limited by {service}: {endpoint} {why}; retrying after {secs}s (at {at})"
            ),
            status: Some(429),
            retry_after: Some(Duration::from_secs(secs.max(1) as u64)),
            kind: ErrorKind::RateLimited,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }
}

/// The external API of one kind, connected with one ProviderConfig's
/// credentials. Every call must be idempotent; Delete of something already
/// gone succeeds.
pub trait ExternalClient<K>: Send + Sync {
    fn observe(
        &self,
        mr: &K,
        external_name: Option<&str>,
    ) -> impl Future<Output = Result<Observation, ExternalError>> + Send;
    fn create(&self, mr: &K) -> impl Future<Output = Result<Creation, ExternalError>> + Send;
    fn update(
        &self,
        mr: &K,
        external_name: &str,
    ) -> impl Future<Output = Result<Updated, ExternalError>> + Send;
    fn delete(
        &self,
        mr: &K,
        external_name: &str,
    ) -> impl Future<Output = Result<(), ExternalError>> + Send;

    /// The connection Secret keys this kind publishes for `mr`. After each
    /// observe of an existing resource the reconciler checks the Secret
    /// holds them; empty: nothing to check.
    fn connection_keys(&self, _mr: &K) -> Vec<&'static str> {
        Vec::new()
    }

    /// The connection details of an existing external resource, read again
    /// from the API (a Tunnel's token). `None` when the API shows them only
    /// once (a key's secret): a lost Secret is then repaired by replacing
    /// the external resource.
    fn reread_connection_details(
        &self,
        _mr: &K,
        _external_name: &str,
    ) -> impl Future<Output = Result<Option<ConnectionDetails>, ExternalError>> + Send {
        async { Ok(None) }
    }

    /// A create started at `pending` was never recorded (the process died
    /// between the API call and the annotation write). A kind that can find
    /// what that create made (and delete it) returns how it cleaned up;
    /// `None` keeps crossplane-runtime's behaviour: stop until a human
    /// removes `crossplane.io/external-create-pending`.
    fn recover_incomplete_create(
        &self,
        _mr: &K,
        _pending: jiff::Timestamp,
    ) -> impl Future<Output = Result<Option<Recovery>, ExternalError>> + Send {
        async { Ok(None) }
    }
}

/// What [`ExternalClient::recover_incomplete_create`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// The interrupted create made nothing: creating again is safe.
    NothingCreated,
    /// It made these, which nobody can use (their secrets are lost): they
    /// were deleted, creating again is safe.
    Discarded(Vec<String>),
    /// It made these, and creating again finds and adopts them (nothing
    /// was lost, e.g. a secret that can be read again).
    Adopted(Vec<String>),
}

/// Resolves a managed resource's ProviderConfig and credentials into a
/// client.
pub trait Connector<K>: Send + Sync + 'static {
    type Client: ExternalClient<K>;
    fn connect(
        &self,
        kube: &kube::Client,
        mr: &K,
    ) -> impl Future<Output = Result<Self::Client, ExternalError>> + Send;
}

/// Implements [`Managed`] for a namespaced (Crossplane v2) kind whose spec
/// has `management_policies`, `provider_config_ref` (kind + name) and
/// `write_connection_secret_to_ref` (name), and whose status has
/// `conditions` and `at_provider`. `$usage` is its group's namespaced
/// ProviderConfigUsage, `$fields` that usage's fields.
macro_rules! impl_managed_namespaced {
    ($kind:path, $($usage:ident)::+, $($fields:ident)::+) => {
        impl $crate::managed::Managed for $kind {
            type Usage = $($usage)::+;

            fn management_policies(&self) -> &[$crate::apis::ManagementAction] {
                &self.spec.management_policies
            }
            fn deletion_policy(&self) -> Option<$crate::apis::DeletionPolicy> {
                None
            }
            fn provider_config_ref(&self) -> (String, String) {
                let r = &self.spec.provider_config_ref;
                (r.kind.clone(), r.name.clone())
            }
            fn connection_secret(&self) -> Option<(String, String)> {
                let r = self.spec.write_connection_secret_to_ref.as_ref()?;
                Some((::kube::ResourceExt::namespace(self)?, r.name.clone()))
            }
            fn conditions(&self) -> Vec<$crate::apis::Condition> {
                self.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default()
            }
            fn at_provider(&self) -> Option<::serde_json::Value> {
                ::serde_json::to_value(self.status.as_ref()?.at_provider.as_ref()?).ok()
            }
            fn usage(&self) -> Option<Self::Usage> {
                let (kind, name) = $crate::managed::Managed::provider_config_ref(self);
                Some($($usage)::+ {
                    metadata: $crate::managed::usage::usage_meta(self, &kind, &name)?,
                    spec: $($fields)::+ {
                        provider_config_ref: $crate::apis::TypedProviderConfigReference { kind, name },
                        resource_ref: $crate::managed::usage::resource_ref(self),
                    },
                })
            }
            fn api(client: &::kube::Client, namespace: Option<&str>) -> ::kube::api::Api<Self> {
                ::kube::api::Api::namespaced(client.clone(), namespace.unwrap_or("default"))
            }
            fn usage_api(client: &::kube::Client, namespace: Option<&str>) -> ::kube::api::Api<Self::Usage> {
                ::kube::api::Api::namespaced(client.clone(), namespace.unwrap_or("default"))
            }
        }
    };
}

/// [`impl_managed_namespaced`] for a legacy cluster-scoped kind: its spec
/// has `provider_config_ref` (name), `write_connection_secret_to_ref` (name
/// + namespace) and `deletion_policy`.
macro_rules! impl_managed_cluster {
    ($kind:path, $($usage:ident)::+, $($fields:ident)::+) => {
        impl $crate::managed::Managed for $kind {
            type Usage = $($usage)::+;

            fn management_policies(&self) -> &[$crate::apis::ManagementAction] {
                &self.spec.management_policies
            }
            fn deletion_policy(&self) -> Option<$crate::apis::DeletionPolicy> {
                Some(self.spec.deletion_policy)
            }
            fn provider_config_ref(&self) -> (String, String) {
                ("ProviderConfig".into(), self.spec.provider_config_ref.name.clone())
            }
            fn connection_secret(&self) -> Option<(String, String)> {
                let r = self.spec.write_connection_secret_to_ref.as_ref()?;
                Some((r.namespace.clone(), r.name.clone()))
            }
            fn conditions(&self) -> Vec<$crate::apis::Condition> {
                self.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default()
            }
            fn at_provider(&self) -> Option<::serde_json::Value> {
                ::serde_json::to_value(self.status.as_ref()?.at_provider.as_ref()?).ok()
            }
            fn usage(&self) -> Option<Self::Usage> {
                let name = self.spec.provider_config_ref.name.clone();
                Some($($usage)::+ {
                    metadata: $crate::managed::usage::usage_meta(self, "ProviderConfig", &name)?,
                    spec: $($fields)::+ {
                        provider_config_ref: $crate::apis::ProviderConfigReference { name },
                        resource_ref: $crate::managed::usage::resource_ref(self),
                    },
                })
            }
            fn api(client: &::kube::Client, _: Option<&str>) -> ::kube::api::Api<Self> {
                ::kube::api::Api::all(client.clone())
            }
            fn usage_api(client: &::kube::Client, _: Option<&str>) -> ::kube::api::Api<Self::Usage> {
                ::kube::api::Api::all(client.clone())
            }
        }
    };
}

pub(crate) use {impl_managed_cluster, impl_managed_namespaced};
