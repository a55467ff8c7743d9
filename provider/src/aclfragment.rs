//! AclFragment on the generic managed reconciler: its entries are merged
//! into the tailnet policy by the tailnet's [`Writers`] task; observe reads
//! the policy and compares the entries marked as the fragment's with its
//! spec.

use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;

use crate::acl::guardrails::{self, AclGuardrails};
use crate::acl::merge::{self, Fragment};
use crate::acl::policy::{Entry, PolicyFragment};
use crate::acl::writer::{Change, Outcome, Writers};
use crate::apis::acl::{AclFragmentObservation, cluster, namespaced};
use crate::apis::tailnet::{pc_cluster, pc_namespaced};
use crate::apis::{
    Condition, DeletionPolicy, ManagementAction, ProviderConfigReference,
    TypedProviderConfigReference,
};
use crate::managed::usage::{resource_ref, usage_meta};
use crate::managed::{
    Connector, Creation, ErrorKind, ExternalClient, ExternalError, Managed, Observation, Readiness,
    Updated,
};
use crate::providerconfig;
use crate::tailnetkey::TailnetConnector;
use crate::tailscale::TailnetApi;

/// Both AclFragment flavours.
pub trait AclFragmentResource: Managed {
    fn policy(&self) -> &PolicyFragment;
    /// The fragment's id in the policy document: `namespace/name`, or
    /// `name` for the cluster-scoped flavour.
    fn fragment_id(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{ns}/{}", self.name_any()),
            None => self.name_any(),
        }
    }
}

macro_rules! managed_common {
    () => {
        fn management_policies(&self) -> &[ManagementAction] {
            &self.spec.management_policies
        }
        fn conditions(&self) -> Vec<Condition> {
            self.status
                .as_ref()
                .map(|s| s.conditions.clone())
                .unwrap_or_default()
        }
        fn at_provider(&self) -> Option<serde_json::Value> {
            let ap = self.status.as_ref()?.at_provider.as_ref()?;
            serde_json::to_value(ap).ok()
        }
        fn connection_secret(&self) -> Option<(String, String)> {
            None
        }
    };
}

impl Managed for namespaced::AclFragment {
    type Usage = pc_namespaced::ProviderConfigUsage;
    managed_common!();

    fn deletion_policy(&self) -> Option<DeletionPolicy> {
        None
    }
    fn provider_config_ref(&self) -> (String, String) {
        let r = &self.spec.provider_config_ref;
        (r.kind.clone(), r.name.clone())
    }
    fn usage(&self) -> Option<Self::Usage> {
        let (kind, name) = self.provider_config_ref();
        Some(pc_namespaced::ProviderConfigUsage {
            metadata: usage_meta(self, &kind, &name)?,
            spec: pc_namespaced::ProviderConfigUsageFields {
                provider_config_ref: TypedProviderConfigReference { kind, name },
                resource_ref: resource_ref(self),
            },
        })
    }
    fn api(client: &kube::Client, namespace: Option<&str>) -> Api<Self> {
        Api::namespaced(client.clone(), namespace.unwrap_or("default"))
    }
    fn usage_api(client: &kube::Client, namespace: Option<&str>) -> Api<Self::Usage> {
        Api::namespaced(client.clone(), namespace.unwrap_or("default"))
    }
}

impl AclFragmentResource for namespaced::AclFragment {
    fn policy(&self) -> &PolicyFragment {
        &self.spec.for_provider
    }
}

impl Managed for cluster::AclFragment {
    type Usage = pc_cluster::ProviderConfigUsage;
    managed_common!();

    fn deletion_policy(&self) -> Option<DeletionPolicy> {
        Some(self.spec.deletion_policy)
    }
    fn provider_config_ref(&self) -> (String, String) {
        (
            "ProviderConfig".into(),
            self.spec.provider_config_ref.name.clone(),
        )
    }
    fn usage(&self) -> Option<Self::Usage> {
        let name = self.spec.provider_config_ref.name.clone();
        Some(pc_cluster::ProviderConfigUsage {
            metadata: usage_meta(self, "ProviderConfig", &name)?,
            spec: pc_cluster::ProviderConfigUsageFields {
                provider_config_ref: ProviderConfigReference { name },
                resource_ref: resource_ref(self),
            },
        })
    }
    fn api(client: &kube::Client, _: Option<&str>) -> Api<Self> {
        Api::all(client.clone())
    }
    fn usage_api(client: &kube::Client, _: Option<&str>) -> Api<Self::Usage> {
        Api::all(client.clone())
    }
}

impl AclFragmentResource for cluster::AclFragment {
    fn policy(&self) -> &PolicyFragment {
        &self.spec.for_provider
    }
}

/// Connects AclFragments to their tailnet and its policy writer.
#[derive(Clone)]
pub struct AclConnector {
    tailnets: TailnetConnector,
    writers: Writers,
}

impl AclConnector {
    /// `window`: how long a tailnet's writer collects changes before writing.
    pub fn new(tailnets: TailnetConnector, window: Duration) -> Self {
        Self {
            tailnets,
            writers: Writers::new(window),
        }
    }
}

/// Refuses a fragment that breaks a guardrail (before any API call).
pub fn check_guardrails(
    p: &PolicyFragment,
    g: Option<&AclGuardrails>,
    what: &str,
) -> Result<(), ExternalError> {
    let problems = guardrails::check(p, &g.cloned().unwrap_or_default());
    if problems.is_empty() {
        return Ok(());
    }
    Err(ExternalError::of_kind(
        ErrorKind::Guardrail,
        format!(
            "refused by the guardrails of {what}: {}",
            problems.join("; ")
        ),
    ))
}

impl<K: AclFragmentResource> Connector<K> for AclConnector {
    type Client = AclFragmentClient;

    async fn connect(
        &self,
        kube: &kube::Client,
        mr: &K,
    ) -> Result<AclFragmentClient, ExternalError> {
        let (kind, name) = mr.provider_config_ref();
        let resolved = providerconfig::resolve(
            kube,
            self.tailnets.watched(),
            mr.meta().namespace.as_deref(),
            &kind,
            &name,
        )
        .await?;
        check_guardrails(
            mr.policy(),
            resolved.spec.acl_guardrails.as_ref(),
            &resolved.what,
        )?;
        let base = resolved
            .spec
            .base_url
            .clone()
            .unwrap_or_else(|| "https://api.tailscale.com".into());
        Ok(AclFragmentClient {
            api: self.tailnets.api_for(kube, &resolved).await?,
            tailnet: format!("{base}|{}", resolved.spec.tailnet),
            writers: self.writers.clone(),
        })
    }
}

/// The external client of one AclFragment.
pub struct AclFragmentClient {
    api: TailnetApi,
    /// The writer's key: backend URL and tailnet.
    tailnet: String,
    writers: Writers,
}

fn describe(e: &Entry) -> String {
    format!(
        "{}[{}]",
        e.section.name(),
        serde_json::Value::from(e.key.as_str())
    )
}

impl AclFragmentClient {
    async fn submit(&self, change: Change) -> Result<(), ExternalError> {
        match self
            .writers
            .submit(&self.tailnet, self.api.clone(), change)
            .await?
        {
            Outcome::Applied => Ok(()),
            Outcome::Conflict(msgs) => Err(ExternalError::of_kind(
                ErrorKind::Conflict,
                format!("conflict, nothing written: {}", msgs.join("; ")),
            )),
            Outcome::Rejected(msg) => Err(ExternalError::new(format!(
                "the server refused the merged policy, which was left as it was: {msg}"
            ))),
        }
    }
}

impl<K: AclFragmentResource> ExternalClient<K> for AclFragmentClient {
    async fn observe(
        &self,
        mr: &K,
        external_name: Option<&str>,
    ) -> Result<Observation, ExternalError> {
        let Some(id) = external_name else {
            if mr.meta().deletion_timestamp.is_some() {
                // Never written (refused or in conflict): forget it, so it
                // stops conflicting with the others.
                self.submit(Change::Remove(mr.fragment_id())).await?;
            }
            return Ok(Observation::default());
        };
        if let Some(msgs) = self.writers.held(&self.tailnet, id) {
            // Another fragment now disagrees with this one: let update say so.
            return Ok(Observation {
                exists: true,
                up_to_date: false,
                diff: Some(format!("held back: {}", msgs.join("; "))),
                ..Default::default()
            });
        }
        let policy = self.writers.read(&self.tailnet, &self.api).await?;
        let bad = |e: merge::MergeError| ExternalError::new(format!("the tailnet policy: {e}"));
        let entries = mr.policy().entries();
        let owned = merge::owned_by(&policy.text, id).map_err(bad)?;
        let up_to_date = merge::up_to_date(&policy.text, id, &entries).map_err(bad)?;
        let at_provider = AclFragmentObservation {
            id: Some(id.to_string()),
            owned_entries: owned.iter().map(describe).collect(),
            api: Some(self.api.name().to_string()),
        };
        Ok(Observation {
            exists: up_to_date || !owned.is_empty(),
            up_to_date,
            ready: Readiness::Available,
            at_provider: serde_json::to_value(at_provider).ok(),
            diff: (!up_to_date).then(|| "the policy's entries differ from the spec".to_string()),
            ..Default::default()
        })
    }

    async fn create(&self, mr: &K) -> Result<Creation, ExternalError> {
        let id = mr.fragment_id();
        self.submit(Change::Apply(Fragment {
            id: id.clone(),
            entries: mr.policy().entries(),
        }))
        .await?;
        Ok(Creation {
            external_name: id,
            ..Default::default()
        })
    }

    async fn update(&self, mr: &K, external_name: &str) -> Result<Updated, ExternalError> {
        self.submit(Change::Apply(Fragment {
            id: external_name.to_string(),
            entries: mr.policy().entries(),
        }))
        .await?;
        Ok(Updated::default())
    }

    async fn delete(&self, _mr: &K, external_name: &str) -> Result<(), ExternalError> {
        self.submit(Change::Remove(external_name.to_string())).await
    }

    /// The id is derived from the resource's name, so an unrecorded create
    /// is found again by the next merge: creating again is safe.
    async fn recover_incomplete_create(
        &self,
        _mr: &K,
        _pending: jiff::Timestamp,
    ) -> Result<Option<crate::managed::Recovery>, ExternalError> {
        Ok(Some(crate::managed::Recovery::NothingCreated))
    }
}
