//! One way for tests to wait: poll every [`POLL`] until a probe answers,
//! or fail after a deadline naming what was awaited and what was seen last.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use kube::api::Api;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub const POLL: Duration = Duration::from_millis(200);

/// Polls `probe` until it answers `Ok`; after `secs` seconds panics with
/// `not {what} after {secs}s: {seen}`, `seen` being the last `Err`.
pub async fn wait_until<T>(
    what: &str,
    secs: u64,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "not {what} after {secs}s: {seen}"
            ),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The object `name` of `api` once `pred` holds; the panic shows its
/// annotations, finalizers and status as last seen.
pub async fn wait_object<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    secs: u64,
    pred: impl Fn(&K) -> bool,
) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Serialize,
{
    wait_until(&format!("{name} {what}"), secs, async || {
        match api.get_opt(name).await {
            Ok(Some(o)) if pred(&o) => Ok(o),
            Ok(Some(o)) => Err(seen(&o)),
            Ok(None) => Err("gone".into()),
            Err(e) => Err(format!("cannot read it: {e}")),
        }
    })
    .await
}

/// Waits until `api` has no object `name`.
pub async fn wait_gone<K>(api: &Api<K>, name: &str, secs: u64)
where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Serialize,
{
    wait_until(&format!("{name} gone"), secs, async || {
        match api.get_opt(name).await {
            Ok(None) => Ok(()),
            Ok(Some(o)) => Err(seen(&o)),
            Err(e) => Err(format!("cannot read it: {e}")),
        }
    })
    .await
}

/// What a failed wait shows of an object.
fn seen<K: kube::Resource + Serialize>(o: &K) -> String {
    let status = serde_json::to_value(o)
        .ok()
        .and_then(|v| v.get("status").cloned())
        .unwrap_or_default();
    format!(
        "annotations {:?}, finalizers {:?}, status {status:#}",
        o.meta().annotations,
        o.meta().finalizers
    )
}
