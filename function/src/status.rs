//! What the XR reports: the addressing in use, the cluster endpoint, and one
//! condition per stage of the spoke.

use function_sdk_rust::proto::v1::{Condition, Status};

use crate::compose::{Composition, Stage};
use crate::spoke::{NetworkStatus, SpokeStatus};

pub struct Report {
    pub status: SpokeStatus,
    pub conditions: Vec<Condition>,
}

/// Condition reasons, in Crossplane's vocabulary.
const REASON_AVAILABLE: &str = "Available";
const REASON_CREATING: &str = "Creating";

pub fn report(composition: &Composition<'_>) -> Report {
    let spoke = composition.spoke;
    let plan = &spoke.network;
    let mut status = composition.status.clone();
    status.network = Some(NetworkStatus {
        allocated: spoke.allocated.clone(),
        vpc_cidr: plan.vpc.to_string(),
        pod_cidr: plan.pods.map(|p| p.to_string()),
        service_cidr: plan.services.to_string(),
        zones: plan.zones.iter().map(|z| z.zone.clone()).collect(),
        public_subnet_cidrs: plan
            .zones
            .iter()
            .filter_map(|z| z.public_subnet)
            .map(|s| s.to_string())
            .collect(),
        private_subnet_cidrs: match plan.node_subnet {
            Some(subnet) => vec![subnet.to_string()],
            None => plan
                .zones
                .iter()
                .filter_map(|z| z.private_subnet)
                .map(|s| s.to_string())
                .collect(),
        },
    });

    let conditions = Stage::ALL
        .into_iter()
        .filter(|stage| composition.has_stage(*stage))
        .map(|stage| {
            let unready = composition.unready(stage);
            if unready.is_empty() {
                Condition {
                    r#type: stage.condition_type().to_string(),
                    status: Status::ConditionTrue as i32,
                    reason: REASON_AVAILABLE.to_string(),
                    message: None,
                    target: None,
                }
            } else {
                Condition {
                    r#type: stage.condition_type().to_string(),
                    status: Status::ConditionFalse as i32,
                    reason: REASON_CREATING.to_string(),
                    message: Some(format!("waiting for {}", unready.join(", "))),
                    target: None,
                }
            }
        })
        .collect();
    Report { status, conditions }
}
