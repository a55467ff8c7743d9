//! Crossplane's conditions with their standard reasons and messages
//! (crossplane `apis/core/v2/condition.go`).

use crate::apis::Condition;

pub const TYPE_READY: &str = "Ready";
pub const TYPE_SYNCED: &str = "Synced";
/// Custom condition: the last time the external resource was replaced and why.
pub const TYPE_REPLACED: &str = "Replaced";

use super::reasons;

pub const MSG_PAUSED: &str =
    "Reconciliation is paused either through the `spec.managementPolicies` or the pause annotation";
pub const MSG_INCOMPLETE_CREATE: &str = "cannot determine creation result - remove the crossplane.io/external-create-pending annotation if it is safe to proceed";

fn cond(type_: &str, status: &str, reason: &str, message: Option<String>) -> Condition {
    Condition {
        type_: type_.into(),
        status: status.into(),
        last_transition_time: String::new(),
        reason: reason.into(),
        message,
        observed_generation: None,
    }
}

pub fn available() -> Condition {
    cond(TYPE_READY, "True", reasons::AVAILABLE, None)
}
pub fn unavailable(message: Option<String>) -> Condition {
    cond(TYPE_READY, "False", reasons::UNAVAILABLE, message)
}
pub fn creating(message: Option<String>) -> Condition {
    cond(TYPE_READY, "False", reasons::CREATING, message)
}
pub fn deleting() -> Condition {
    cond(TYPE_READY, "False", reasons::DELETING, None)
}
pub fn reconcile_success() -> Condition {
    cond(TYPE_SYNCED, "True", reasons::RECONCILE_SUCCESS, None)
}
pub fn reconcile_error(message: impl Into<String>) -> Condition {
    cond(
        TYPE_SYNCED,
        "False",
        reasons::RECONCILE_ERROR,
        Some(message.into()),
    )
}
/// Synced=False with one of this provider's own reasons (rate limited,
/// refused by a guardrail, blocked by something it does not own).
pub fn not_synced(reason: &str, message: impl Into<String>) -> Condition {
    cond(TYPE_SYNCED, "False", reason, Some(message.into()))
}
pub fn reconcile_paused() -> Condition {
    cond(
        TYPE_SYNCED,
        "False",
        reasons::RECONCILE_PAUSED,
        Some(MSG_PAUSED.into()),
    )
}
pub fn replaced(reason: &str, message: String) -> Condition {
    cond(TYPE_REPLACED, "True", reason, Some(message))
}

/// Whether two conditions say the same thing (Crossplane's `Equal`: ignores
/// the transition time).
pub fn same(a: &Condition, b: &Condition) -> bool {
    a.type_ == b.type_
        && a.status == b.status
        && a.reason == b.reason
        && a.message == b.message
        && a.observed_generation == b.observed_generation
}

/// Sets `new` in `conditions`, stamped with `generation`. Keeps the old
/// transition time when nothing but the time would change. Returns the
/// condition it replaced when it changed something (a transition).
pub fn set(
    conditions: &mut Vec<Condition>,
    mut new: Condition,
    generation: Option<i64>,
    now: &str,
) -> Option<Option<Condition>> {
    new.observed_generation = generation;
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) if same(old, &new) => None,
        Some(old) => {
            new.last_transition_time = if old.status == new.status {
                old.last_transition_time.clone()
            } else {
                now.to_string()
            };
            let previous = std::mem::replace(old, new);
            Some(Some(previous))
        }
        None => {
            new.last_transition_time = now.to_string();
            conditions.push(new);
            Some(None)
        }
    }
}

pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_reports_transitions_only() {
        let mut cs = Vec::new();
        assert_eq!(set(&mut cs, reconcile_success(), Some(1), "t1"), Some(None));
        assert_eq!(set(&mut cs, reconcile_success(), Some(1), "t2"), None);
        assert_eq!(cs[0].last_transition_time, "t1");
        let prev = set(&mut cs, reconcile_error("boom"), Some(1), "t3")
            .unwrap()
            .unwrap();
        assert_eq!(prev.reason, reasons::RECONCILE_SUCCESS);
        assert_eq!(cs[0].last_transition_time, "t3");
        // same status, new message: a change, but the transition time stays
        assert!(set(&mut cs, reconcile_error("other"), Some(1), "t4").is_some());
        assert_eq!(cs[0].last_transition_time, "t3");
        // a new generation is a change too
        assert!(set(&mut cs, reconcile_error("other"), Some(2), "t5").is_some());
        assert_eq!(cs.len(), 1);
    }
}
