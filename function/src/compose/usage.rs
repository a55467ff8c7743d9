//! Deletion order. Crossplane deletes every composed resource of an XR at
//! once; a `Usage` makes it hold back the one in use until its user is gone,
//! so, e.g., an EKS cluster is not deleted under its node groups (which the
//! cloud refuses, leaving the deletion stuck retrying).

use serde::Serialize;

use super::managed::{Api, Labels, Selector};
use super::{Composition, Stage};

const GROUP_VERSION: &str = "protection.crossplane.io/v1beta1";

/// Records that the composed resource `by` uses the composed resource `of`,
/// as the composed Usage `usage-<by>`.
pub fn add(c: &mut Composition<'_>, stage: Stage, by: (&Api, &str), of: (&Api, &str)) {
    add_as(c, stage, &format!("usage-{}", by.1), by, of);
}

/// The same, for a resource that uses several others: the Usage's name is
/// given.
pub fn add_as(
    c: &mut Composition<'_>,
    stage: Stage,
    name: &str,
    by: (&Api, &str),
    of: (&Api, &str),
) {
    let spoke = c.spoke;
    let namespaced = spoke.namespace.is_some();
    let name = name.to_string();
    let usage = Usage {
        api_version: GROUP_VERSION,
        // A namespaced XR's resources are used within its namespace; a
        // legacy XR's resources are cluster-scoped.
        kind: if namespaced { "Usage" } else { "ClusterUsage" },
        metadata: Metadata {
            labels: Labels {
                finops: &spoke.labels,
                resource: name.clone(),
                role: None,
            },
        },
        spec: UsageSpec {
            of: Target {
                api_version: of.0.api_version(namespaced),
                kind: of.0.kind,
                resource_selector: Selector::resource(of.1),
            },
            by: Target {
                api_version: by.0.api_version(namespaced),
                kind: by.0.kind,
                resource_selector: Selector::resource(by.1),
            },
            // Retry the blocked deletion as soon as the user is gone.
            replay_deletion: true,
        },
    };
    c.add(stage, &name, &usage);
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Usage<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata<'a>,
    spec: UsageSpec,
}

#[derive(Serialize)]
struct Metadata<'a> {
    labels: Labels<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageSpec {
    of: Target,
    by: Target,
    replay_deletion: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    api_version: String,
    kind: &'static str,
    resource_selector: Selector,
}
