//! List-based observation shared by every Tunnel: per poll window, one
//! paginated list of the account's tunnels and one of each zone's DNS
//! records, reused by every resource observed in that window. Its cost grows
//! with pages, not with resources (1,000 tunnels observed one GET at a time
//! every minute would need ~8× Cloudflare's 1,200 requests / 5 minutes).
//!
//! A list is fetched by the first observer that finds it older than the
//! window; concurrent observers wait for that one fetch. The provider's own
//! writes are applied to the cached lists at once, so a resource never sees
//! its own create or delete undone by a stale list.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Mutex as AsyncMutex;

use super::client::{Client, CloudflareError};
use super::types::{DnsRecord, Tunnel};

struct Snapshot<T> {
    at: Instant,
    items: Arc<Vec<T>>,
}

type Slot<T> = Arc<AsyncMutex<Option<Snapshot<T>>>>;

/// The shared lists, keyed by token scope (and zone).
pub struct ObservationCache {
    window: Duration,
    tunnels: Mutex<HashMap<String, Slot<Tunnel>>>,
    records: Mutex<HashMap<String, Slot<DnsRecord>>>,
}

fn slot<T>(map: &Mutex<HashMap<String, Slot<T>>>, key: &str) -> Slot<T> {
    map.lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.to_string())
        .or_default()
        .clone()
}

impl ObservationCache {
    /// Lists are reused for `window` (the poll interval).
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            tunnels: Mutex::default(),
            records: Mutex::default(),
        }
    }

    async fn get<T, F, Fut>(&self, s: Slot<T>, fetch: F) -> Result<Arc<Vec<T>>, CloudflareError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<T>, CloudflareError>>,
    {
        let mut guard = s.lock().await;
        if let Some(snap) = guard.as_ref()
            && snap.at.elapsed() < self.window
        {
            return Ok(snap.items.clone());
        }
        let items = Arc::new(fetch().await?);
        *guard = Some(Snapshot {
            at: Instant::now(),
            items: items.clone(),
        });
        Ok(items)
    }

    async fn edit<T: Clone>(s: Slot<T>, f: impl FnOnce(&mut Vec<T>)) {
        let mut guard = s.lock().await;
        if let Some(snap) = guard.as_mut() {
            let mut items = (*snap.items).clone();
            f(&mut items);
            snap.items = Arc::new(items);
        }
    }

    fn tunnel_key(client: &Client) -> String {
        client.scope()
    }

    fn record_key(client: &Client, zone_id: &str) -> String {
        format!("{}/{zone_id}", client.scope())
    }

    /// The account's tunnels that are not deleted.
    pub async fn tunnels(&self, client: &Client) -> Result<Arc<Vec<Tunnel>>, CloudflareError> {
        let s = slot(&self.tunnels, &Self::tunnel_key(client));
        self.get(s, || client.list_tunnels(None)).await
    }

    /// Every record of a zone.
    pub async fn records(
        &self,
        client: &Client,
        zone_id: &str,
    ) -> Result<Arc<Vec<DnsRecord>>, CloudflareError> {
        let s = slot(&self.records, &Self::record_key(client, zone_id));
        self.get(s, || client.list_records(zone_id, &[])).await
    }

    pub async fn put_tunnel(&self, client: &Client, t: &Tunnel) {
        let s = slot(&self.tunnels, &Self::tunnel_key(client));
        Self::edit(s, |items| {
            items.retain(|x| x.id != t.id);
            items.push(t.clone());
        })
        .await;
    }

    pub async fn forget_tunnel(&self, client: &Client, id: &str) {
        let s = slot(&self.tunnels, &Self::tunnel_key(client));
        Self::edit(s, |items| items.retain(|x| x.id != id)).await;
    }

    pub async fn put_record(&self, client: &Client, zone_id: &str, r: &DnsRecord) {
        let s = slot(&self.records, &Self::record_key(client, zone_id));
        Self::edit(s, |items| {
            items.retain(|x| x.id != r.id);
            items.push(r.clone());
        })
        .await;
    }

    pub async fn forget_record(&self, client: &Client, zone_id: &str, id: &str) {
        let s = slot(&self.records, &Self::record_key(client, zone_id));
        Self::edit(s, |items| items.retain(|x| x.id != id)).await;
    }
}
