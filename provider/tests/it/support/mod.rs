#![allow(dead_code)]
pub mod cluster;
pub mod fake_cloudflare;
pub mod fake_policy;
pub mod fake_tailscale;
pub mod openapi;
pub mod wait;

/// The notes of the events about object `name` in `namespace` with `reason`.
pub async fn event_notes(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    reason: &str,
) -> Vec<String> {
    use k8s_openapi::api::events::v1::Event;
    use kube::api::{Api, ListParams};
    Api::<Event>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
        })
        .filter_map(|e| e.note)
        .collect()
}
