//! Every condition reason and event reason the provider sets, in one place
//! (crossplane-runtime's names where it has one). docs/provider.md's table
//! of reasons is checked against [`ALL`] (`tests/reasons.rs`).

// Ready (crossplane `apis/common/v1/condition.go`)
pub const AVAILABLE: &str = "Available";
pub const UNAVAILABLE: &str = "Unavailable";
pub const CREATING: &str = "Creating";
pub const DELETING: &str = "Deleting";

// Synced: crossplane-runtime's three, then this provider's own states that
// are not errors of the provider
pub const RECONCILE_SUCCESS: &str = "ReconcileSuccess";
pub const RECONCILE_ERROR: &str = "ReconcileError";
pub const RECONCILE_PAUSED: &str = "ReconcilePaused";
/// The API answered 429 (or the client-side budget is used up): the
/// reconcile ends at once and comes back after `Retry-After`.
pub const RATE_LIMITED: &str = "RateLimited";
/// A guardrail of the ProviderConfig refuses the spec; nothing was sent.
pub const GUARDRAIL_VIOLATION: &str = "GuardrailViolation";
/// Something the resource does not own stands in its way (a DNS record of
/// someone else, an ACL entry another fragment defines differently).
pub const CONFLICT: &str = "Conflict";

// Replaced (this provider's condition): why the external resource was
// replaced by a new one
pub const EXPIRES_SOON: &str = "ExpiresSoon";
pub const EXPIRED: &str = "Expired";
pub const REVOKED_EXTERNALLY: &str = "RevokedExternally";
pub const INVALID: &str = "Invalid";
pub const NOT_FOUND: &str = "NotFound";
/// A crash between create and publish lost the secret.
pub const CONNECTION_DETAILS_LOST: &str = "ConnectionDetailsLost";
/// The connection Secret was deleted, or lost a key the provider wrote,
/// and the secret cannot be read back from the API.
pub const CONNECTION_SECRET_LOST: &str = "ConnectionSecretLost";

// Terminating (ProviderConfigs)
pub const IN_USE: &str = "InUse";

// Events (crossplane-runtime `pkg/reconciler/managed` names, then ours)
pub const EV_CANNOT_CONNECT: &str = "CannotConnectToProvider";
pub const EV_CANNOT_OBSERVE: &str = "CannotObserveExternalResource";
pub const EV_CANNOT_CREATE: &str = "CannotCreateExternalResource";
pub const EV_CANNOT_UPDATE: &str = "CannotUpdateExternalResource";
pub const EV_CANNOT_DELETE: &str = "CannotDeleteExternalResource";
pub const EV_CANNOT_PUBLISH: &str = "CannotPublishConnectionDetails";
pub const EV_CANNOT_INITIALIZE: &str = "CannotInitializeManagedResource";
pub const EV_INVALID_POLICY: &str = "CannotUseInvalidManagementPolicy";
pub const EV_PAUSED: &str = "ReconciliationPaused";
pub const EV_CREATED: &str = "CreatedExternalResource";
pub const EV_UPDATED: &str = "UpdatedExternalResource";
pub const EV_DELETED: &str = "DeletedExternalResource";
pub const EV_REPLACED: &str = "ReplacedExternalResource";
pub const EV_RECOVERED: &str = "RecoveredIncompleteCreate";
/// The connection Secret was deleted or edited and its details were
/// read again from the API and written back.
pub const EV_REPUBLISHED: &str = "RepublishedConnectionDetails";

/// Where a reason appears.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Used {
    Ready,
    Synced,
    Replaced,
    Terminating,
    Event,
}

impl Used {
    /// The word docs/provider.md's table uses.
    pub fn name(self) -> &'static str {
        match self {
            Used::Ready => "Ready",
            Used::Synced => "Synced",
            Used::Replaced => "Replaced",
            Used::Terminating => "Terminating",
            Used::Event => "event",
        }
    }
}

/// Every reason, with where it is used.
pub const ALL: &[(&str, Used)] = &[
    (AVAILABLE, Used::Ready),
    (UNAVAILABLE, Used::Ready),
    (CREATING, Used::Ready),
    (DELETING, Used::Ready),
    (RECONCILE_SUCCESS, Used::Synced),
    (RECONCILE_ERROR, Used::Synced),
    (RECONCILE_PAUSED, Used::Synced),
    (RATE_LIMITED, Used::Synced),
    (GUARDRAIL_VIOLATION, Used::Synced),
    (CONFLICT, Used::Synced),
    (EXPIRES_SOON, Used::Replaced),
    (EXPIRED, Used::Replaced),
    (REVOKED_EXTERNALLY, Used::Replaced),
    (INVALID, Used::Replaced),
    (NOT_FOUND, Used::Replaced),
    (CONNECTION_DETAILS_LOST, Used::Replaced),
    (CONNECTION_SECRET_LOST, Used::Replaced),
    (IN_USE, Used::Terminating),
    (EV_CANNOT_CONNECT, Used::Event),
    (EV_CANNOT_OBSERVE, Used::Event),
    (EV_CANNOT_CREATE, Used::Event),
    (EV_CANNOT_UPDATE, Used::Event),
    (EV_CANNOT_DELETE, Used::Event),
    (EV_CANNOT_PUBLISH, Used::Event),
    (EV_CANNOT_INITIALIZE, Used::Event),
    (EV_INVALID_POLICY, Used::Event),
    (EV_PAUSED, Used::Event),
    (EV_CREATED, Used::Event),
    (EV_UPDATED, Used::Event),
    (EV_DELETED, Used::Event),
    (EV_REPLACED, Used::Event),
    (EV_RECOVERED, Used::Event),
    (EV_REPUBLISHED, Used::Event),
    // the Synced reasons that are not errors of the provider are also the
    // reasons of their Warning events
    (RATE_LIMITED, Used::Event),
    (GUARDRAIL_VIOLATION, Used::Event),
    (CONFLICT, Used::Event),
];
