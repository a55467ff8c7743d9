//! Leader election on a `coordination.k8s.io/v1` Lease (as controller-runtime
//! does it: one holder, renewed well before the lease runs out).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};

pub const LEASE_NAME: &str = "crossplane-leader-election-provider-hybrid-spoke";

#[derive(Clone, Debug)]
pub struct Elector {
    api: Api<Lease>,
    pub identity: String,
    pub lease_duration: Duration,
}

impl Elector {
    pub fn new(
        client: kube::Client,
        namespace: &str,
        identity: String,
        lease_duration: Duration,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            identity,
            lease_duration,
        }
    }

    /// Takes or renews the lease; `false` when someone else holds it.
    pub async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let now = MicroTime(jiff::Timestamp::now());
        let secs = i32::try_from(self.lease_duration.as_secs()).unwrap_or(60);
        match self.api.get_opt(LEASE_NAME).await? {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(LEASE_NAME.into()),
                        ..Default::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(secs),
                        acquire_time: Some(now.clone()),
                        renew_time: Some(now),
                        lease_transitions: Some(0),
                        ..Default::default()
                    }),
                };
                match self.api.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                    Err(e) => Err(e),
                }
            }
            Some(mut lease) => {
                let spec = lease.spec.get_or_insert_with(Default::default);
                let holder = spec.holder_identity.clone().unwrap_or_default();
                let duration = jiff::SignedDuration::from_secs(i64::from(
                    spec.lease_duration_seconds.unwrap_or(secs),
                ));
                let expired = spec
                    .renew_time
                    .as_ref()
                    .and_then(|t| t.0.checked_add(duration).ok())
                    .is_none_or(|until| until < now.0);
                if holder != self.identity && !holder.is_empty() && !expired {
                    return Ok(false);
                }
                if holder != self.identity {
                    spec.acquire_time = Some(now.clone());
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                    spec.holder_identity = Some(self.identity.clone());
                }
                spec.lease_duration_seconds = Some(secs);
                spec.renew_time = Some(now);
                match self
                    .api
                    .replace(LEASE_NAME, &PostParams::default(), &lease)
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Waits until this process holds the lease.
    pub async fn acquire(&self) {
        loop {
            match self.try_acquire().await {
                Ok(true) => return,
                Ok(false) => {
                    tracing::info!(identity = %self.identity, "waiting for the leader lease")
                }
                Err(e) => tracing::warn!("cannot take the leader lease: {e}"),
            }
            tokio::time::sleep(self.lease_duration / 6).await;
        }
    }

    /// Renews until the lease is lost (returns then).
    pub async fn hold(&self) {
        let renew_deadline = self.lease_duration * 5 / 6;
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.lease_duration / 6).await;
            match self.try_acquire().await {
                Ok(true) => last_ok = tokio::time::Instant::now(),
                Ok(false) => {
                    tracing::error!("lost the leader lease to another holder");
                    return;
                }
                Err(e) => {
                    tracing::warn!("cannot renew the leader lease: {e}");
                    if last_ok.elapsed() > renew_deadline {
                        tracing::error!("could not renew the leader lease in time");
                        return;
                    }
                }
            }
        }
    }
}
