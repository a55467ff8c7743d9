//! Management policies and the legacy deletionPolicy, resolved as
//! crossplane-runtime's `ManagementPoliciesResolver` /
//! `LegacyManagementPoliciesResolver` do (shared/reference/crossplane-provider.md §1.5).

use std::collections::BTreeSet;

use crate::apis::{DeletionPolicy, ManagementAction};

use ManagementAction::{All, Create, Delete, LateInitialize as LateInit, Observe, Update};

/// The resolved policies of one managed resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policies {
    set: BTreeSet<ManagementAction>,
    /// `Some` for legacy (cluster-scoped) MRs.
    deletion_policy: Option<DeletionPolicy>,
    /// `--enable-management-policies`.
    enabled: bool,
}

/// The 15 sets crossplane-runtime accepts with management policies on.
fn supported() -> Vec<BTreeSet<ManagementAction>> {
    let sets: [&[ManagementAction]; 15] = [
        &[All],
        &[Observe, Create, Update, Delete, LateInit],
        &[Observe],
        &[],
        &[Observe, Create, Update, Delete],
        &[Observe, Create, Update, LateInit],
        &[Observe, Create, Update],
        &[Observe, Create, Delete, LateInit],
        &[Observe, Create, LateInit],
        &[Observe, Create, Delete],
        &[Observe, Create],
        &[Observe, Delete],
        &[Observe, Update],
        &[Observe, LateInit],
        &[Observe, Update, LateInit],
    ];
    sets.iter().map(|s| s.iter().copied().collect()).collect()
}

impl Policies {
    pub fn new(
        list: &[ManagementAction],
        deletion_policy: Option<DeletionPolicy>,
        enabled: bool,
    ) -> Self {
        Self {
            set: list.iter().copied().collect(),
            deletion_policy,
            enabled,
        }
    }

    fn is_default(&self) -> bool {
        self.set.len() == 1 && self.set.contains(&All)
    }

    fn has(&self, action: ManagementAction) -> bool {
        self.set.contains(&All) || self.set.contains(&action)
    }

    /// An error message when the combination is not one Crossplane supports.
    pub fn validate(&self) -> Result<(), String> {
        if !self.enabled {
            if self.is_default() || self.set.is_empty() {
                return Ok(());
            }
            return Err(format!(
                "spec.managementPolicies is set to a non-default value {} but the feature is not enabled (--enable-management-policies)",
                self.describe()
            ));
        }
        if supported().contains(&self.set) {
            Ok(())
        } else {
            Err(format!(
                "spec.managementPolicies {} is not a supported combination of management policies",
                self.describe()
            ))
        }
    }

    fn describe(&self) -> String {
        let names: Vec<String> = self
            .set
            .iter()
            .map(|a| match a {
                All => "*".to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        format!("[{}]", names.join(", "))
    }

    /// `managementPolicies: []` pauses reconciliation (with the feature on).
    pub fn is_paused(&self) -> bool {
        self.enabled && self.set.is_empty()
    }

    /// Exactly `[Observe]`.
    pub fn observe_only(&self) -> bool {
        self.set.len() == 1 && self.set.contains(&Observe)
    }

    pub fn should_create(&self) -> bool {
        self.has(Create)
    }

    pub fn should_update(&self) -> bool {
        self.has(Update)
    }

    pub fn should_late_initialize(&self) -> bool {
        self.has(LateInit)
    }

    /// Whether deleting the MR deletes the external resource. Legacy MRs: the
    /// deletionPolicy decides under default policies, a non-default policy
    /// list wins otherwise.
    pub fn should_delete(&self) -> bool {
        let has_delete = self.has(Delete);
        match self.deletion_policy {
            None => has_delete,
            Some(policy) if !self.enabled => policy == DeletionPolicy::Delete,
            Some(policy) if self.is_default() => policy == DeletionPolicy::Delete,
            Some(_) => has_delete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(list: &[ManagementAction]) -> Policies {
        Policies::new(list, None, true)
    }

    #[test]
    fn exactly_the_fifteen_sets_validate() {
        assert!(p(&[All]).validate().is_ok());
        assert!(p(&[Observe]).validate().is_ok());
        assert!(p(&[]).validate().is_ok());
        assert!(p(&[Observe, Update, LateInit]).validate().is_ok());
        // order and duplicates do not matter
        assert!(p(&[Create, Observe, Create]).validate().is_ok());
        let err = p(&[Create]).validate().unwrap_err();
        assert!(err.contains("[Create]"), "{err}");
        assert!(p(&[Observe, Update, Delete]).validate().is_err());
        assert!(p(&[All, Observe]).validate().is_err());
        assert_eq!(supported().len(), 15);
    }

    #[test]
    fn feature_off_allows_only_default_and_empty() {
        assert!(Policies::new(&[All], None, false).validate().is_ok());
        assert!(Policies::new(&[], None, false).validate().is_ok());
        let err = Policies::new(&[Observe], None, false)
            .validate()
            .unwrap_err();
        assert!(err.contains("not enabled"), "{err}");
        assert!(!Policies::new(&[], None, false).is_paused());
    }

    #[test]
    fn modern_should_x() {
        assert!(p(&[All]).should_create() && p(&[All]).should_delete());
        let obs = p(&[Observe]);
        assert!(obs.observe_only());
        assert!(!obs.should_create() && !obs.should_update() && !obs.should_delete());
        let ocu = p(&[Observe, Create, Update]);
        assert!(ocu.should_create() && ocu.should_update() && !ocu.should_delete());
        assert!(p(&[]).is_paused());
    }

    #[test]
    fn legacy_deletion_policy_against_policies() {
        let legacy = |list: &[ManagementAction], dp| Policies::new(list, Some(dp), true);
        use DeletionPolicy::{Delete as D, Orphan as O};
        // default policies: the deletionPolicy decides
        assert!(legacy(&[All], D).should_delete());
        assert!(!legacy(&[All], O).should_delete());
        // non-default policies win
        assert!(legacy(&[Observe, Delete], O).should_delete());
        assert!(!legacy(&[Observe, Create], D).should_delete());
        // feature off: only the deletionPolicy
        assert!(!Policies::new(&[All], Some(O), false).should_delete());
        assert!(Policies::new(&[All], Some(D), false).should_delete());
    }
}
