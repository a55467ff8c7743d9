//! Why a reconcile stopped early: one typed error per failing step, each
//! with the label it counts under in `provider_reconcile_errors_total`
//! (kube-rs `controller-rs`'s `Error::metric_label`).
//!
//! A failure of an external call says which step failed, as
//! crossplane-runtime wraps it ("observe failed: …"); an error of another
//! [`ErrorKind`] (rate limited, guardrail, conflict) is a state, told in the
//! API's or the guardrail's own words.

use std::time::Duration;

use super::connection::PublishError;
use super::{ErrorKind, ExternalError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", external("connect failed", .0))]
    Connect(ExternalError),
    #[error("{}", external("observe failed", .0))]
    Observe(ExternalError),
    #[error("observe failed: external resource does not exist")]
    ObserveOnlyMissing,
    #[error("{}", external("create failed", .0))]
    Create(ExternalError),
    #[error("{}", external("update failed", .0))]
    Update(ExternalError),
    #[error("{}", external("delete failed", .0))]
    Delete(ExternalError),
    #[error("{}", external(&format!("cannot delete the superseded external resource {name}"), source))]
    DeleteSuperseded { name: String, source: ExternalError },
    #[error("{}", external("cannot read the connection details again", .0))]
    RereadConnectionDetails(ExternalError),
    #[error("cannot track ProviderConfig usage: {0}")]
    TrackUsage(kube::Error),
    #[error("cannot remove the ProviderConfigUsage: {0}")]
    UntrackUsage(kube::Error),
    #[error("cannot read managed resource: {0}")]
    GetManaged(kube::Error),
    #[error("cannot update managed resource: {0}")]
    UpdateManaged(kube::Error),
    #[error("cannot update managed resource annotations: {}", .0.as_ref().map(ToString::to_string).unwrap_or_default())]
    UpdateAnnotations(Option<kube::Error>),
    #[error("cannot read the connection Secret: {0}")]
    ReadConnectionSecret(kube::Error),
    #[error(transparent)]
    Publish(PublishError),
    #[error(transparent)]
    Unpublish(PublishError),
    /// A test's fail point stopped the reconcile as if the process died.
    #[cfg(feature = "fail-points")]
    #[error("fail point after-create: stopped as if the process had crashed")]
    FailPoint,
}

fn external(step: &str, e: &ExternalError) -> String {
    match e.kind {
        ErrorKind::Failed => format!("{step}: {}", e.message),
        _ => e.message.clone(),
    }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

impl Error {
    /// The `error` label of `provider_reconcile_errors_total`.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Connect(_) => "connect",
            Error::Observe(_) => "observe",
            Error::ObserveOnlyMissing => "observe_only_missing",
            Error::Create(_) => "create",
            Error::Update(_) => "update",
            Error::Delete(_) => "delete",
            Error::DeleteSuperseded { .. } => "delete_superseded",
            Error::RereadConnectionDetails(_) => "reread_connection_details",
            Error::TrackUsage(_) => "track_usage",
            Error::UntrackUsage(_) => "untrack_usage",
            Error::GetManaged(_) => "get_managed",
            Error::UpdateManaged(_) => "update_managed",
            Error::UpdateAnnotations(_) => "update_annotations",
            Error::ReadConnectionSecret(_) => "read_connection_secret",
            Error::Publish(_) => "publish",
            Error::Unpublish(_) => "unpublish",
            #[cfg(feature = "fail-points")]
            Error::FailPoint => "fail_point",
        }
    }

    fn external_error(&self) -> Option<&ExternalError> {
        match self {
            Error::Connect(e)
            | Error::Observe(e)
            | Error::Create(e)
            | Error::Update(e)
            | Error::Delete(e)
            | Error::DeleteSuperseded { source: e, .. }
            | Error::RereadConnectionDetails(e) => Some(e),
            _ => None,
        }
    }

    /// What the error means for Synced (a failure, or a state such as a
    /// rate limit).
    pub fn kind(&self) -> ErrorKind {
        self.external_error().map(|e| e.kind).unwrap_or_default()
    }

    /// Honour this before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        self.external_error().and_then(|e| e.retry_after)
    }

    /// A write lost a race (409): requeue soon without counting a failure.
    pub fn is_conflict(&self) -> bool {
        match self {
            Error::TrackUsage(e)
            | Error::UntrackUsage(e)
            | Error::UpdateManaged(e)
            | Error::ReadConnectionSecret(e) => is_conflict(e),
            Error::Publish(PublishError::Kube(_, e)) => is_conflict(e),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_its_step_and_a_state_speaks_for_itself() {
        let e = Error::Observe(ExternalError::new("boom"));
        assert_eq!(e.to_string(), "observe failed: boom");
        assert_eq!(e.metric_label(), "observe");
        let limited = ExternalError::rate_limited(
            "Cloudflare",
            "GET /x",
            "answered 429",
            Duration::from_secs(3),
        );
        let e = Error::Create(limited);
        assert!(e.to_string().starts_with("rate limited by Cloudflare"));
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert!(!e.is_conflict());
    }
}
