//! The reconciler's decisions as pure functions: given what the managed
//! resource says and what Observe saw, what to do next. The order is
//! crossplane-runtime's `Reconcile()` (shared/reference/crossplane-provider.md §1.2).

use std::time::Duration;

use jiff::Timestamp;

use super::policy::Policies;

pub const FINALIZER: &str = "finalizer.managedresource.crossplane.io";
pub const ANN_EXTERNAL_NAME: &str = "crossplane.io/external-name";
pub const ANN_CREATE_PENDING: &str = "crossplane.io/external-create-pending";
pub const ANN_CREATE_SUCCEEDED: &str = "crossplane.io/external-create-succeeded";
pub const ANN_CREATE_FAILED: &str = "crossplane.io/external-create-failed";
pub const ANN_PAUSED: &str = "crossplane.io/paused";
pub const ANN_POLL_INTERVAL: &str = "crossplane.io/poll-interval";
/// The external resource a replacement superseded: recorded together with
/// the new external-name, removed once the old one is deleted, so a crash in
/// between never leaks it.
pub const ANN_SUPERSEDED: &str = "hybridspoke.io/superseded-external-name";

/// What the reconciler needs to know about a managed resource.
#[derive(Clone, Debug)]
pub struct View {
    pub deleting: bool,
    pub paused_annotation: bool,
    pub policies: Policies,
    /// Finalizers other than ours.
    pub other_finalizers: bool,
    pub external_name: Option<String>,
    pub create_pending: Option<Timestamp>,
    pub create_succeeded: Option<Timestamp>,
    pub create_failed: Option<Timestamp>,
    pub superseded: Option<String>,
}

impl View {
    pub fn from_meta(meta: &kube::api::ObjectMeta, policies: Policies) -> Self {
        let ann = |k: &str| {
            meta.annotations
                .as_ref()
                .and_then(|a| a.get(k))
                .filter(|v| !v.is_empty())
        };
        let time = |k: &str| ann(k).and_then(|v| v.parse::<Timestamp>().ok());
        Self {
            deleting: meta.deletion_timestamp.is_some(),
            paused_annotation: ann(ANN_PAUSED).is_some_and(|v| v == "true"),
            policies,
            other_finalizers: meta
                .finalizers
                .as_ref()
                .is_some_and(|f| f.iter().any(|x| x != FINALIZER)),
            external_name: ann(ANN_EXTERNAL_NAME).cloned(),
            create_pending: time(ANN_CREATE_PENDING),
            create_succeeded: time(ANN_CREATE_SUCCEEDED),
            create_failed: time(ANN_CREATE_FAILED),
            superseded: ann(ANN_SUPERSEDED).cloned(),
        }
    }

    /// crossplane-runtime's `ExternalCreateIncomplete`: pending is newer than
    /// both succeeded and failed.
    pub fn create_incomplete(&self) -> bool {
        let Some(pending) = self.create_pending else {
            return false;
        };
        let later = |t: Option<Timestamp>| t.is_some_and(|t| t >= pending);
        !later(self.create_succeeded) && !later(self.create_failed)
    }
}

/// Before connecting and observing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pre {
    /// `crossplane.io/paused: "true"` or `managementPolicies: []`.
    Paused,
    /// An unsupported policy combination (the message).
    InvalidPolicy(String),
    /// Being deleted and the policies say orphan: drop the finalizer only.
    Orphan,
    /// A create may have happened but was never recorded: stop for a human.
    IncompleteCreate,
    Proceed,
}

pub fn before_observe(v: &View) -> Pre {
    if v.paused_annotation || v.policies.is_paused() {
        return Pre::Paused;
    }
    if let Err(message) = v.policies.validate() {
        return Pre::InvalidPolicy(message);
    }
    if v.deleting && !v.policies.should_delete() {
        return Pre::Orphan;
    }
    if v.create_incomplete() {
        return Pre::IncompleteCreate;
    }
    Pre::Proceed
}

/// Why an existing external resource must be replaced by a new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replacement {
    /// CamelCase, e.g. `ExpiresSoon`, `RevokedExternally`, `NotFound`.
    pub reason: String,
    pub message: String,
}

/// The parts of an observation the decisions use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub exists: bool,
    pub up_to_date: bool,
    pub replace: Option<Replacement>,
}

/// After observing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Post {
    /// `[Observe]` and nothing there: an error, retried at the poll interval.
    ObserveOnlyMissing,
    /// Just created and not visible yet: wait this long, do not create again.
    CreationGrace(Duration),
    /// Other finalizers still present: wait before deleting externally.
    DelayDeletion,
    /// Delete the external resource.
    Delete,
    /// Gone: unpublish, remove our finalizer.
    Finalize,
    /// Delete (when `revoke`) the resource a replacement superseded, then
    /// forget it.
    RemoveSuperseded {
        name: String,
        revoke: bool,
    },
    /// Create it (again, when `replacing`).
    Create {
        replacing: Option<Replacement>,
    },
    /// Missing, and the policies do not allow Create.
    MissingNoCreate,
    UpToDate,
    /// Drifted, and the policies do not allow Update.
    UpdateNotAllowed,
    Update,
}

pub fn after_observe(v: &View, seen: &Seen, now: Timestamp, grace: Duration) -> Post {
    let p = &v.policies;
    if p.observe_only() && !seen.exists && !v.deleting {
        return Post::ObserveOnlyMissing;
    }
    if !seen.exists
        && !v.deleting
        && let Some(succeeded) = v.create_succeeded
    {
        let age = now.duration_since(succeeded).unsigned_abs();
        if age < grace {
            return Post::CreationGrace(grace - age);
        }
    }
    if v.deleting {
        if let Some(name) = &v.superseded {
            return Post::RemoveSuperseded {
                name: name.clone(),
                revoke: true,
            };
        }
        if v.other_finalizers {
            return Post::DelayDeletion;
        }
        return if seen.exists {
            Post::Delete
        } else {
            Post::Finalize
        };
    }
    if let Some(name) = &v.superseded {
        return Post::RemoveSuperseded {
            name: name.clone(),
            revoke: p.should_delete(),
        };
    }
    if !seen.exists {
        if !p.should_create() {
            return Post::MissingNoCreate;
        }
        let replacing = match (&v.external_name, v.create_succeeded) {
            (Some(name), Some(_)) => Some(Replacement {
                reason: super::reasons::NOT_FOUND.into(),
                message: format!(
                    "the external resource {name} no longer exists; created a new one"
                ),
            }),
            _ => None,
        };
        return Post::Create { replacing };
    }
    if let Some(replacement) = &seen.replace {
        if p.should_create() {
            return Post::Create {
                replacing: Some(replacement.clone()),
            };
        }
        return Post::UpToDate;
    }
    if seen.up_to_date {
        return Post::UpToDate;
    }
    if !p.should_update() {
        return Post::UpdateNotAllowed;
    }
    Post::Update
}

/// Exponential per-object backoff after `failures` consecutive errors:
/// 1 s, 2 s, 4 s … capped at 60 s (crossplane-runtime's controller limiter).
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    Duration::from_secs(1u64 << exp).min(Duration::from_secs(60))
}

/// The poll interval with uniform jitter of ±`jitter` (a fraction) applied;
/// `random` is in [0, 1).
pub fn jittered(poll: Duration, jitter: f64, random: f64) -> Duration {
    let spread = poll.as_secs_f64() * jitter.clamp(0.0, 1.0);
    let offset = (random.clamp(0.0, 1.0) * 2.0 - 1.0) * spread;
    Duration::from_secs_f64((poll.as_secs_f64() + offset).max(0.0))
}

/// Parses a Go duration (`1h30m`, `90s`, `1.5h`, `500ms`).
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * unit;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apis::{DeletionPolicy, ManagementAction::*};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn view() -> View {
        View {
            deleting: false,
            paused_annotation: false,
            policies: Policies::new(&[All], None, true),
            other_finalizers: false,
            external_name: None,
            create_pending: None,
            create_succeeded: None,
            create_failed: None,
            superseded: None,
        }
    }

    fn seen(exists: bool, up_to_date: bool) -> Seen {
        Seen {
            exists,
            up_to_date,
            replace: None,
        }
    }

    const NOW: &str = "2026-01-01T12:00:00Z";
    const GRACE: Duration = Duration::from_secs(30);

    #[test]
    fn paused_by_annotation_or_empty_policies() {
        let mut v = view();
        v.paused_annotation = true;
        assert_eq!(before_observe(&v), Pre::Paused);
        let mut v = view();
        v.policies = Policies::new(&[], None, true);
        assert_eq!(before_observe(&v), Pre::Paused);
        // paused wins over deletion and over an incomplete create
        v.deleting = true;
        v.create_pending = Some(t(NOW));
        assert_eq!(before_observe(&v), Pre::Paused);
    }

    #[test]
    fn invalid_policy_is_reported_before_anything_else() {
        let mut v = view();
        v.policies = Policies::new(&[Create], None, true);
        assert!(matches!(before_observe(&v), Pre::InvalidPolicy(m) if m.contains("[Create]")));
    }

    #[test]
    fn orphan_skips_observe() {
        let mut v = view();
        v.deleting = true;
        v.policies = Policies::new(&[All], Some(DeletionPolicy::Orphan), true);
        assert_eq!(before_observe(&v), Pre::Orphan);
        v.policies = Policies::new(&[Observe], None, true);
        assert_eq!(before_observe(&v), Pre::Orphan);
        v.policies = Policies::new(&[All], Some(DeletionPolicy::Delete), true);
        assert_eq!(before_observe(&v), Pre::Proceed);
    }

    #[test]
    fn incomplete_create_guard() {
        let mut v = view();
        v.create_pending = Some(t("2026-01-01T11:00:00Z"));
        assert!(v.create_incomplete());
        assert_eq!(before_observe(&v), Pre::IncompleteCreate);
        v.create_succeeded = Some(t("2026-01-01T11:00:00Z"));
        assert!(!v.create_incomplete(), "same second counts as recorded");
        v.create_succeeded = Some(t("2026-01-01T10:00:00Z"));
        v.create_failed = Some(t("2026-01-01T11:00:01Z"));
        assert!(!v.create_incomplete());
        v.create_pending = Some(t("2026-01-01T11:00:02Z"));
        assert!(v.create_incomplete());
        // also while deleting: a human must decide
        v.deleting = true;
        assert_eq!(before_observe(&v), Pre::IncompleteCreate);
    }

    #[test]
    fn view_reads_annotations() {
        let meta = kube::api::ObjectMeta {
            annotations: Some(
                [
                    (ANN_PAUSED, "false"),
                    (ANN_EXTERNAL_NAME, "k123"),
                    (ANN_CREATE_PENDING, "2026-01-01T11:00:00Z"),
                    (ANN_CREATE_SUCCEEDED, "not a time"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ),
            finalizers: Some(vec![FINALIZER.into()]),
            ..Default::default()
        };
        let v = View::from_meta(&meta, Policies::new(&[All], None, true));
        assert!(!v.paused_annotation && !v.other_finalizers);
        assert_eq!(v.external_name.as_deref(), Some("k123"));
        assert!(
            v.create_incomplete(),
            "an unparsable succeeded time does not count"
        );
    }

    #[test]
    fn observe_only_never_creates_updates_or_deletes() {
        let mut v = view();
        v.policies = Policies::new(&[Observe], None, true);
        let now = t(NOW);
        assert_eq!(
            after_observe(&v, &seen(false, false), now, GRACE),
            Post::ObserveOnlyMissing
        );
        assert_eq!(
            after_observe(&v, &seen(true, false), now, GRACE),
            Post::UpdateNotAllowed
        );
        assert_eq!(
            after_observe(&v, &seen(true, true), now, GRACE),
            Post::UpToDate
        );
        let mut s = seen(true, true);
        s.replace = Some(Replacement {
            reason: "ExpiresSoon".into(),
            message: "m".into(),
        });
        assert_eq!(after_observe(&v, &s, now, GRACE), Post::UpToDate);
    }

    #[test]
    fn create_when_missing_and_recreate_after_404() {
        let now = t(NOW);
        let mut v = view();
        assert_eq!(
            after_observe(&v, &seen(false, false), now, GRACE),
            Post::Create { replacing: None }
        );
        v.external_name = Some("k1".into());
        v.create_succeeded = Some(t("2026-01-01T11:59:50Z"));
        assert_eq!(
            after_observe(&v, &seen(false, false), now, GRACE),
            Post::CreationGrace(Duration::from_secs(20))
        );
        v.create_succeeded = Some(t("2026-01-01T11:00:00Z"));
        match after_observe(&v, &seen(false, false), now, GRACE) {
            Post::Create { replacing: Some(r) } => {
                assert_eq!(r.reason, "NotFound");
                assert!(r.message.contains("k1"));
            }
            other => panic!("{other:?}"),
        }
        v.policies = Policies::new(&[Observe, Update], None, true);
        assert_eq!(
            after_observe(&v, &seen(false, false), now, GRACE),
            Post::MissingNoCreate
        );
    }

    #[test]
    fn replacement_creates_then_removes_the_superseded() {
        let now = t(NOW);
        let mut v = view();
        v.external_name = Some("old".into());
        let mut s = seen(true, true);
        s.replace = Some(Replacement {
            reason: "ExpiresSoon".into(),
            message: "m".into(),
        });
        assert!(matches!(
            after_observe(&v, &s, now, GRACE),
            Post::Create { replacing: Some(_) }
        ));
        // after the new key is recorded: revoke the old one first
        v.external_name = Some("new".into());
        v.superseded = Some("old".into());
        assert_eq!(
            after_observe(&v, &seen(true, true), now, GRACE),
            Post::RemoveSuperseded {
                name: "old".into(),
                revoke: true
            }
        );
        // without Delete in the policies the old one is only forgotten
        v.policies = Policies::new(&[Observe, Create, Update], None, true);
        assert_eq!(
            after_observe(&v, &seen(true, true), now, GRACE),
            Post::RemoveSuperseded {
                name: "old".into(),
                revoke: false
            }
        );
    }

    #[test]
    fn deletion_branch() {
        let now = t(NOW);
        let mut v = view();
        v.deleting = true;
        assert_eq!(
            after_observe(&v, &seen(true, true), now, GRACE),
            Post::Delete
        );
        assert_eq!(
            after_observe(&v, &seen(false, false), now, GRACE),
            Post::Finalize
        );
        v.other_finalizers = true;
        assert_eq!(
            after_observe(&v, &seen(true, true), now, GRACE),
            Post::DelayDeletion
        );
        v.superseded = Some("old".into());
        assert_eq!(
            after_observe(&v, &seen(true, true), now, GRACE),
            Post::RemoveSuperseded {
                name: "old".into(),
                revoke: true
            }
        );
        // no creation grace while deleting
        let mut v = view();
        v.deleting = true;
        v.create_succeeded = Some(t("2026-01-01T11:59:59Z"));
        assert_eq!(
            after_observe(&v, &seen(false, false), now, GRACE),
            Post::Finalize
        );
    }

    #[test]
    fn update_only_when_allowed() {
        let now = t(NOW);
        let v = view();
        assert_eq!(
            after_observe(&v, &seen(true, false), now, GRACE),
            Post::Update
        );
        assert_eq!(
            after_observe(&v, &seen(true, true), now, GRACE),
            Post::UpToDate
        );
        let mut v = view();
        v.policies = Policies::new(&[Observe, Create, Delete], None, true);
        assert_eq!(
            after_observe(&v, &seen(true, false), now, GRACE),
            Post::UpdateNotAllowed
        );
    }

    #[test]
    fn backoff_and_jitter() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(6), Duration::from_secs(32));
        assert_eq!(backoff(7), Duration::from_secs(60));
        assert_eq!(backoff(100), Duration::from_secs(60));
        let poll = Duration::from_secs(60);
        assert_eq!(jittered(poll, 0.1, 0.0), Duration::from_secs(54));
        assert_eq!(jittered(poll, 0.1, 0.5), Duration::from_secs(60));
        assert!(jittered(poll, 0.1, 0.999) <= Duration::from_secs(66));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("24h"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("h"), None);
        assert_eq!(parse_go_duration("3d"), None);
        assert_eq!(parse_go_duration(""), None);
    }
}
