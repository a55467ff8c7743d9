//! Tunnel: a remotely-managed Cloudflare Tunnel (`config_src: cloudflare`),
//! its ingress configuration and a proxied CNAME per hostname, on the
//! generic managed reconciler.
//!
//! - The tunnel is named from the resource's UID (`hybrid-spoke-<uid>`), so
//!   a create interrupted before its ID was recorded is found (and adopted)
//!   by name, never duplicated: names are unique among live tunnels.
//! - DNS records are marked by a `comment` naming the resource's UID; only
//!   records carrying it are ever changed or deleted (checked on a fresh
//!   read right before), and a record of someone else on a hostname is
//!   reported, not overwritten.
//! - Observation is list-based ([`ObservationCache`]); the per-tunnel
//!   configuration, connections and token are read at most every
//!   `check_interval` (and whenever the desired configuration changed).

use crate::watched::Watched;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use kube::Resource;
use serde_json::Value;

use super::cache::ObservationCache;
use super::client::{Client, ClientOptions, CloudflareError, DEFAULT_BASE_URL};
use super::config::Cloudflare;
use super::types::{CnameRecord, DnsRecord, IngressRule, Tunnel, TunnelConfig, Zone};
use crate::apis::cloudflare::{
    DnsRecordStatus, TunnelObservation, TunnelParameters, TunnelRotation, cluster, namespaced,
    pc_cluster, pc_namespaced,
};
use crate::managed::decide::parse_go_duration;
use crate::managed::{
    ConnectionDetails, Connector, Creation, ErrorKind, ExternalClient, ExternalError, Managed,
    Observation, Readiness, Recovery, Updated,
};
use crate::providerconfig;

/// Connection Secret key of the connector token (cloudflared `TUNNEL_TOKEN`).
pub const KEY_TOKEN: &str = "token";
/// Where every tunnel's hostnames point: `<id>.cfargotunnel.com`.
pub const CNAME_DOMAIN: &str = "cfargotunnel.com";
/// API error codes (reference §1.7).
pub const CODE_TUNNEL_NAME_TAKEN: i64 = 1013;
pub const CODES_RECORD_EXISTS: [i64; 4] = [81053, 81054, 81057, 81058];

/// Both Tunnel flavours.
pub trait TunnelResource: Managed {
    fn params(&self) -> &TunnelParameters;
    fn rotation(&self) -> Option<&TunnelRotation>;
    /// `status.atProvider.secretRotatedAt`.
    fn secret_rotated_at(&self) -> Option<&str>;
}

crate::managed::impl_managed_namespaced!(
    namespaced::Tunnel,
    pc_namespaced::ProviderConfigUsage,
    pc_namespaced::ProviderConfigUsageFields
);

/// [`TunnelResource`] for a Tunnel flavour (both have the same spec and
/// status fields).
macro_rules! impl_tunnel_resource {
    ($kind:path) => {
        impl TunnelResource for $kind {
            fn params(&self) -> &TunnelParameters {
                &self.spec.for_provider
            }
            fn rotation(&self) -> Option<&TunnelRotation> {
                self.spec.rotation.as_ref()
            }
            fn secret_rotated_at(&self) -> Option<&str> {
                self.status
                    .as_ref()?
                    .at_provider
                    .as_ref()?
                    .secret_rotated_at
                    .as_deref()
            }
        }
    };
}

impl_tunnel_resource!(namespaced::Tunnel);

crate::managed::impl_managed_cluster!(
    cluster::Tunnel,
    pc_cluster::ProviderConfigUsage,
    pc_cluster::ProviderConfigUsageFields
);

impl_tunnel_resource!(cluster::Tunnel);

// ---------------------------------------------------------------------------
// What a Tunnel's spec asks for
// ---------------------------------------------------------------------------

fn uid<K: Resource>(mr: &K) -> String {
    mr.meta().uid.clone().unwrap_or_default()
}

/// The tunnel's name: deterministic, unique per resource.
pub fn tunnel_name<K: Resource>(mr: &K) -> String {
    format!("hybrid-spoke-{}", uid(mr))
}

/// The ownership marker of this resource's DNS records.
pub fn owner_comment<K: Resource>(mr: &K) -> String {
    format!("managed by hybrid-spoke Tunnel uid={}", uid(mr))
}

pub fn cname_target(tunnel_id: &str) -> String {
    format!("{tunnel_id}.{CNAME_DOMAIN}")
}

/// The remote configuration: the rules in order, then the catch-all.
pub fn desired_config(p: &TunnelParameters) -> TunnelConfig {
    let mut ingress: Vec<IngressRule> = p
        .ingress
        .iter()
        .map(|r| IngressRule {
            hostname: Some(r.hostname.to_ascii_lowercase()),
            path: r.path.clone().filter(|p| !p.is_empty()),
            service: r.service.clone(),
            origin_request: r.origin_request.clone(),
        })
        .collect();
    ingress.push(IngressRule {
        hostname: None,
        path: None,
        service: p.catch_all.clone(),
        origin_request: None,
    });
    TunnelConfig {
        ingress,
        origin_request: p.origin_request.clone(),
    }
}

/// The distinct hostnames (lowercase) that get a CNAME.
pub fn hostnames(p: &TunnelParameters) -> BTreeSet<String> {
    p.ingress
        .iter()
        .map(|r| r.hostname.to_ascii_lowercase())
        .collect()
}

/// Spec errors the schema cannot express.
pub fn validate(p: &TunnelParameters) -> Result<(), ExternalError> {
    let zone = p.zone.to_ascii_lowercase();
    for h in hostnames(p) {
        if h != zone && !h.ends_with(&format!(".{zone}")) {
            return Err(ExternalError::new(format!(
                "ingress hostname {h} is not in zone {zone}: every hostname must be the zone or a name under it"
            )));
        }
    }
    Ok(())
}

/// JSON without nulls, empty objects and empty `path`s: what the API may
/// add or drop without changing the configuration's meaning.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let v = normalized(v);
                let empty = v.is_null()
                    || v.as_object().is_some_and(|o| o.is_empty())
                    || (k == "path" && v == "");
                if !empty {
                    out.insert(k.clone(), v);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// Whether the remote configuration is the desired one.
pub fn same_config(desired: &TunnelConfig, remote: Option<&TunnelConfig>) -> bool {
    let d = normalized(&serde_json::to_value(desired).unwrap_or(Value::Null));
    let r = normalized(&serde_json::to_value(remote).unwrap_or(Value::Null));
    d == r
}

fn config_hash(c: &TunnelConfig) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    normalized(&serde_json::to_value(c).unwrap_or(Value::Null))
        .to_string()
        .hash(&mut h);
    h.finish()
}

// ---------------------------------------------------------------------------
// Connector and shared state
// ---------------------------------------------------------------------------

/// How the Cloudflare kinds behave (per process).
#[derive(Clone, Debug)]
pub struct Options {
    pub client: ClientOptions,
    /// How long a list is reused: the poll interval.
    pub list_window: Duration,
    /// How often each tunnel's configuration, connections and token are
    /// read (they have no list).
    pub check_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            client: ClientOptions::default(),
            list_window: Duration::from_secs(60),
            check_interval: Duration::from_secs(3600),
        }
    }
}

/// The last per-tunnel check.
#[derive(Clone)]
struct Check {
    at: Instant,
    /// Hash of the desired configuration the remote one matched (0: none).
    config: u64,
    connections: Option<i64>,
    token: Option<String>,
}

#[derive(Default)]
struct Shared {
    zones: Mutex<HashMap<String, Zone>>,
    checks: Mutex<HashMap<String, Check>>,
    /// Tunnel ID -> when this process last set its secret.
    rotated: Mutex<HashMap<String, Timestamp>>,
}

/// The shortest `rotation.every`.
pub const MIN_ROTATION: Duration = Duration::from_secs(60);

/// `rotation.every` as a duration, or why it is not one.
pub fn rotation_every(r: &TunnelRotation) -> Result<Duration, ExternalError> {
    parse_go_duration(&r.every)
        .filter(|d| *d >= MIN_ROTATION)
        .ok_or_else(|| {
            ExternalError::new(format!(
                "rotation.every {:?} must be a duration of at least 1m",
                r.every
            ))
        })
}

/// Whether a secret set at `last` is due for rotation every `every` at `now`.
pub fn rotation_due(every: Duration, last: Option<Timestamp>, now: Timestamp) -> bool {
    last.is_none_or(|l| now.as_second() - l.as_second() >= every.as_secs() as i64)
}

/// A new tunnel secret: 32 random bytes, base64 (what Cloudflare asks for).
fn new_tunnel_secret() -> Result<String, ExternalError> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| ExternalError::new(format!("cannot make a tunnel secret: {e}")))?;
    Ok(base64(&bytes))
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Connects Tunnels to their ProviderConfig's account.
#[derive(Clone)]
pub struct CloudflareConnector {
    http: reqwest::Client,
    opts: Options,
    cache: Arc<ObservationCache>,
    shared: Arc<Shared>,
    /// ProviderConfigs and credential Secrets, watched (no GET per poll).
    watched: Watched,
}

impl CloudflareConnector {
    pub fn new(opts: Options) -> Self {
        Self {
            http: crate::tailscale::http_client(opts.client.request_timeout),
            cache: Arc::new(ObservationCache::new(opts.list_window)),
            shared: Arc::default(),
            watched: Watched::default(),
            opts,
        }
    }

    /// The external client of a Tunnel using `api` (sharing this
    /// connector's lists and checks).
    pub fn external(&self, api: Client) -> TunnelClient {
        TunnelClient {
            api,
            cache: self.cache.clone(),
            shared: self.shared.clone(),
            check_interval: self.opts.check_interval,
        }
    }

    /// The API client a resolved ProviderConfig describes.
    pub async fn client_for(
        &self,
        kube: &kube::Client,
        resolved: &super::config::Resolved,
    ) -> Result<Client, ExternalError> {
        let spec = &resolved.spec;
        let token = providerconfig::read_secret(
            kube,
            &self.watched,
            resolved,
            &spec.credentials.api_token_secret_ref,
        )
        .await?;
        let rl = spec.rate_limit.clone().unwrap_or_default();
        Ok(Client::new(
            self.http.clone(),
            spec.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL),
            &spec.account_id,
            &token,
            rl.requests,
            Duration::from_secs(u64::from(rl.window_seconds)),
            self.opts.client.clone(),
        ))
    }
}

impl<K: TunnelResource> Connector<K> for CloudflareConnector {
    type Client = TunnelClient;

    async fn connect(&self, kube: &kube::Client, mr: &K) -> Result<TunnelClient, ExternalError> {
        let (kind, name) = mr.provider_config_ref();
        let resolved = providerconfig::resolve_in::<Cloudflare>(
            kube,
            &self.watched,
            mr.meta().namespace.as_deref(),
            &kind,
            &name,
        )
        .await?;
        Ok(self.external(self.client_for(kube, &resolved).await?))
    }
}

/// The external client of one Tunnel.
pub struct TunnelClient {
    pub api: Client,
    cache: Arc<ObservationCache>,
    shared: Arc<Shared>,
    check_interval: Duration,
}

/// What [`TunnelClient::ensure_dns`] found.
#[derive(Default)]
struct DnsOutcome {
    records: Vec<DnsRecordStatus>,
    /// Hostnames with a record someone else owns.
    foreign: Vec<String>,
}

fn foreign_message(hosts: &[String], marker: &str) -> String {
    format!(
        "DNS records for {} already exist and are not owned by this Tunnel (their comment is not {marker:?}); not overwritten: remove them or change the hostnames",
        hosts.join(", ")
    )
}

impl TunnelClient {
    /// The zone named `name` (looked up once per process), `None` if the
    /// token sees no such zone.
    async fn find_zone(&self, name: &str) -> Result<Option<Zone>, ExternalError> {
        let key = format!("{}/{}", self.api.scope(), name.to_ascii_lowercase());
        if let Some(z) = self
            .shared
            .zones
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(Some(z.clone()));
        }
        let Some(zone) = self.api.find_zone(name).await? else {
            return Ok(None);
        };
        self.shared
            .zones
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, zone.clone());
        Ok(Some(zone))
    }

    async fn zone(&self, name: &str) -> Result<Zone, ExternalError> {
        self.find_zone(name).await?.ok_or_else(|| {
            ExternalError::new(format!(
                "zone {name} not found: the API token cannot see a zone of that name"
            ))
        })
    }

    /// Whether records with this resource's marker are left in its zone.
    async fn owns_records<K: TunnelResource>(&self, mr: &K) -> Result<bool, ExternalError> {
        let Some(zone) = self.find_zone(&mr.params().zone).await? else {
            return Ok(false);
        };
        let marker = owner_comment(mr);
        let records = self.cache.records(&self.api, &zone.id).await?;
        Ok(records
            .iter()
            .any(|r| r.comment.as_deref() == Some(marker.as_str())))
    }

    fn check(&self, id: &str) -> Option<Check> {
        self.shared
            .checks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    fn set_check(&self, id: &str, c: Check) {
        self.shared
            .checks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), c);
    }

    /// The live tunnel named `name` (a fresh read, not the cache).
    async fn find_by_name(&self, name: &str) -> Result<Option<Tunnel>, CloudflareError> {
        let found = self.api.list_tunnels(Some(name)).await?;
        Ok(found
            .into_iter()
            .find(|t| t.name == name && t.deleted_at.is_none()))
    }

    /// Reads the configuration, connections and token of a tunnel.
    async fn full_check(
        &self,
        id: &str,
        desired: &TunnelConfig,
    ) -> Result<(Check, bool), ExternalError> {
        let remote = self.api.get_config(id).await?;
        let conns = self.api.connections(id).await?;
        let token = self.api.tunnel_token(id).await?;
        let same = same_config(desired, remote.config.as_ref());
        let check = Check {
            at: Instant::now(),
            config: if same { config_hash(desired) } else { 0 },
            connections: Some(conns.iter().map(|c| c.conns.len() as i64).sum()),
            token: Some(token),
        };
        self.set_check(id, check.clone());
        Ok((check, same))
    }

    /// Makes every hostname's CNAME point at the tunnel, and removes the
    /// records this resource owns for hostnames it no longer has. Records
    /// of others are left alone and reported.
    async fn ensure_dns<K: TunnelResource>(
        &self,
        mr: &K,
        tunnel_id: &str,
    ) -> Result<DnsOutcome, ExternalError> {
        let p = mr.params();
        let zone = self.zone(&p.zone).await?;
        let marker = owner_comment(mr);
        let target = cname_target(tunnel_id);
        let records = self.cache.records(&self.api, &zone.id).await?;
        let wanted = hostnames(p);
        let mut out = DnsOutcome::default();
        for host in &wanted {
            let want = CnameRecord::new(host, &target, &marker);
            let same_name: Vec<&DnsRecord> = records
                .iter()
                .filter(|r| r.name.eq_ignore_ascii_case(host))
                .collect();
            let ours = same_name
                .iter()
                .find(|r| r.comment.as_deref() == Some(marker.as_str()));
            let record = match ours {
                Some(r) if want.matches(r) => Some((*r).clone()),
                Some(r) => self.patch_owned(&zone.id, &r.id, &want, &marker).await?,
                None if !same_name.is_empty() => None,
                None => self.create_owned(&zone.id, &want, &marker).await?,
            };
            match record {
                Some(r) => out.records.push(DnsRecordStatus {
                    hostname: host.clone(),
                    id: r.id,
                }),
                None => out.foreign.push(host.clone()),
            }
        }
        for stale in records.iter().filter(|r| {
            r.comment.as_deref() == Some(marker.as_str())
                && !wanted.contains(&r.name.to_ascii_lowercase())
        }) {
            self.delete_owned(&zone.id, &stale.id, &marker).await?;
        }
        Ok(out)
    }

    /// Patches a record after a fresh read shows it is still ours; `None`
    /// when it no longer is.
    async fn patch_owned(
        &self,
        zone: &str,
        id: &str,
        want: &CnameRecord,
        marker: &str,
    ) -> Result<Option<DnsRecord>, ExternalError> {
        match self.api.get_record(zone, id).await? {
            Some(r) if r.comment.as_deref() == Some(marker) => {
                let r = self.api.patch_record(zone, id, want).await?;
                self.cache.put_record(&self.api, zone, &r).await;
                Ok(Some(r))
            }
            Some(r) => {
                self.cache.put_record(&self.api, zone, &r).await;
                Ok(None)
            }
            None => {
                self.cache.forget_record(&self.api, zone, id).await;
                self.create_owned(zone, want, marker).await
            }
        }
    }

    /// Creates a record; if one appeared meanwhile (or a lost answer made
    /// it), takes it only if it is ours.
    async fn create_owned(
        &self,
        zone: &str,
        want: &CnameRecord,
        marker: &str,
    ) -> Result<Option<DnsRecord>, ExternalError> {
        match self.api.create_record(zone, want).await {
            Ok(r) => {
                self.cache.put_record(&self.api, zone, &r).await;
                Ok(Some(r))
            }
            Err(e) if CODES_RECORD_EXISTS.iter().any(|c| e.has_code(*c)) => {
                let existing = self
                    .api
                    .list_records(zone, &[("name", want.name.clone())])
                    .await?;
                for r in &existing {
                    self.cache.put_record(&self.api, zone, r).await;
                }
                match existing
                    .iter()
                    .find(|r| r.comment.as_deref() == Some(marker))
                {
                    Some(r) if want.matches(r) => Ok(Some(r.clone())),
                    Some(r) => {
                        let r = self.api.patch_record(zone, &r.id, want).await?;
                        self.cache.put_record(&self.api, zone, &r).await;
                        Ok(Some(r))
                    }
                    None => Ok(None),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a record after a fresh read shows it is still ours.
    async fn delete_owned(&self, zone: &str, id: &str, marker: &str) -> Result<(), ExternalError> {
        match self.api.get_record(zone, id).await? {
            Some(r) if r.comment.as_deref() == Some(marker) => {
                self.api.delete_record(zone, id).await?;
                self.cache.forget_record(&self.api, zone, id).await;
            }
            Some(r) => self.cache.put_record(&self.api, zone, &r).await,
            None => self.cache.forget_record(&self.api, zone, id).await,
        }
        Ok(())
    }

    fn observation(
        t: &Tunnel,
        zone: Option<&Zone>,
        records: Vec<DnsRecordStatus>,
        check: Option<&Check>,
    ) -> TunnelObservation {
        TunnelObservation {
            id: Some(t.id.clone()),
            name: Some(t.name.clone()),
            cname: Some(cname_target(&t.id)),
            zone_id: zone.map(|z| z.id.clone()),
            dns_records: records,
            active_connections: check.and_then(|c| c.connections),
            status: t.status.clone(),
            created_at: t.created_at.clone(),
            secret_rotated_at: t.created_at.clone(),
        }
    }

    /// When the tunnel's secret was last set: by this process, as the
    /// status recorded, or when the tunnel was created.
    fn secret_set_at<K: TunnelResource>(
        &self,
        mr: &K,
        id: &str,
        created_at: Option<&str>,
    ) -> Option<Timestamp> {
        let mine = self
            .shared
            .rotated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .copied();
        let recorded = mr.secret_rotated_at().and_then(|t| t.parse().ok());
        let created = created_at.and_then(|t| t.parse().ok());
        [mine, recorded, created].into_iter().flatten().max()
    }

    /// Sets a new secret on the tunnel and reads its new token.
    async fn rotate_secret(&self, id: &str) -> Result<(Check, Timestamp), ExternalError> {
        let secret = new_tunnel_secret()?;
        self.api.set_tunnel_secret(id, &secret).await?;
        let now = Timestamp::now();
        self.shared
            .rotated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), now);
        let token = self.api.tunnel_token(id).await?;
        let mut check = self.check(id).unwrap_or(Check {
            at: Instant::now(),
            config: 0,
            connections: None,
            token: None,
        });
        check.token = Some(token);
        self.set_check(id, check.clone());
        Ok((check, now))
    }

    fn details(check: Option<&Check>) -> ConnectionDetails {
        let mut d = ConnectionDetails::new();
        if let Some(token) = check.and_then(|c| c.token.clone()) {
            d.insert(KEY_TOKEN.into(), token.into_bytes());
        }
        d
    }
}

impl<K: TunnelResource> ExternalClient<K> for TunnelClient {
    async fn observe(
        &self,
        mr: &K,
        external_name: Option<&str>,
    ) -> Result<Observation, ExternalError> {
        let p = mr.params();
        validate(p)?;
        let deleting = mr.meta().deletion_timestamp.is_some();
        let tunnels = self.cache.tunnels(&self.api).await?;
        let name = tunnel_name(mr);
        let found = match external_name {
            Some(id) => tunnels
                .iter()
                .find(|t| t.id == id && t.deleted_at.is_none()),
            // deleting before the ID was recorded: whatever a create made
            None if deleting => tunnels
                .iter()
                .find(|t| t.name == name && t.deleted_at.is_none()),
            None => None,
        };
        let Some(t) = found else {
            // the tunnel went (e.g. deleted outside): its records still
            // have to go with the resource
            let leftovers = deleting && self.owns_records(mr).await?;
            return Ok(Observation {
                exists: leftovers,
                ..Default::default()
            });
        };
        if deleting {
            return Ok(Observation {
                exists: true,
                ..Default::default()
            });
        }
        let zone = self.zone(&p.zone).await?;
        let records = self.cache.records(&self.api, &zone.id).await?;
        let marker = owner_comment(mr);
        let target = cname_target(&t.id);
        let wanted = hostnames(p);
        let mut diffs = Vec::new();
        let mut foreign = Vec::new();
        let mut owned = Vec::new();
        for host in &wanted {
            let want = CnameRecord::new(host, &target, &marker);
            let same_name: Vec<&DnsRecord> = records
                .iter()
                .filter(|r| r.name.eq_ignore_ascii_case(host))
                .collect();
            match same_name
                .iter()
                .find(|r| r.comment.as_deref() == Some(marker.as_str()))
            {
                Some(r) if want.matches(r) => owned.push(DnsRecordStatus {
                    hostname: host.clone(),
                    id: r.id.clone(),
                }),
                Some(r) => diffs.push(format!("DNS record {host} ({}) was changed", r.id)),
                None if same_name.is_empty() => diffs.push(format!("DNS record {host} is missing")),
                None => foreign.push(host.clone()),
            }
        }
        for r in records
            .iter()
            .filter(|r| r.comment.as_deref() == Some(marker.as_str()))
        {
            if !wanted.contains(&r.name.to_ascii_lowercase()) {
                diffs.push(format!(
                    "DNS record {} ({}) is no longer wanted",
                    r.name, r.id
                ));
            }
        }
        if !foreign.is_empty() {
            diffs.push(foreign_message(&foreign, &marker));
        }
        let desired = desired_config(p);
        let mut check = self.check(&t.id);
        let due = check.as_ref().is_none_or(|c| {
            c.config != config_hash(&desired) || c.at.elapsed() >= self.check_interval
        });
        if due {
            let (c, same) = self.full_check(&t.id, &desired).await?;
            if !same {
                diffs.push("the ingress configuration differs from the spec".into());
            }
            check = Some(c);
        }
        let rotated_at = self.secret_set_at(mr, &t.id, t.created_at.as_deref());
        if let Some(r) = mr.rotation() {
            let every = rotation_every(r)?;
            if rotation_due(every, rotated_at, Timestamp::now()) {
                diffs.push(format!(
                    "the tunnel secret (set {}) is due for rotation (rotation.every {})",
                    rotated_at.map(|t| t.to_string()).unwrap_or_default(),
                    r.every
                ));
            }
        }
        let ready = if foreign.is_empty() {
            Readiness::Available
        } else {
            Readiness::Unavailable(Some(foreign_message(&foreign, &marker)))
        };
        Ok(Observation {
            exists: true,
            up_to_date: diffs.is_empty(),
            ready,
            replace: None,
            connection_details: Self::details(check.as_ref()),
            at_provider: serde_json::to_value(TunnelObservation {
                secret_rotated_at: rotated_at.map(|t| t.to_string()),
                ..Self::observation(t, Some(&zone), owned, check.as_ref())
            })
            .ok(),
            diff: (!diffs.is_empty()).then(|| diffs.join("; ")),
        })
    }

    async fn create(&self, mr: &K) -> Result<Creation, ExternalError> {
        let p = mr.params();
        validate(p)?;
        // a zone the token cannot see fails before anything is made
        let zone = self.zone(&p.zone).await?;
        let name = tunnel_name(mr);
        // an interrupted create (or a lost answer) may have made it already
        let tunnel = match self.find_by_name(&name).await? {
            Some(t) => t,
            None => match self.api.create_tunnel(&name).await {
                Ok(t) => t,
                Err(e) if e.has_code(CODE_TUNNEL_NAME_TAKEN) || e.status() == Some(409) => self
                    .find_by_name(&name)
                    .await?
                    .ok_or_else(|| ExternalError::from(e))?,
                Err(e) => return Err(e.into()),
            },
        };
        self.cache.put_tunnel(&self.api, &tunnel).await;
        let desired = desired_config(p);
        self.api.put_config(&tunnel.id, &desired).await?;
        // another resource's record on a hostname is reported by Observe
        let dns = self.ensure_dns(mr, &tunnel.id).await?;
        let token = self.api.tunnel_token(&tunnel.id).await?;
        let check = Check {
            at: Instant::now(),
            config: config_hash(&desired),
            connections: None,
            token: Some(token),
        };
        self.set_check(&tunnel.id, check.clone());
        Ok(Creation {
            external_name: tunnel.id.clone(),
            connection_details: Self::details(Some(&check)),
            at_provider: serde_json::to_value(Self::observation(
                &tunnel,
                Some(&zone),
                dns.records,
                Some(&check),
            ))
            .ok(),
        })
    }

    async fn update(&self, mr: &K, external_name: &str) -> Result<Updated, ExternalError> {
        let p = mr.params();
        validate(p)?;
        let desired = desired_config(p);
        let fresh = self
            .check(external_name)
            .is_some_and(|c| c.config == config_hash(&desired));
        if !fresh {
            self.api.put_config(external_name, &desired).await?;
            let mut c = self.check(external_name).unwrap_or(Check {
                at: Instant::now(),
                config: 0,
                connections: None,
                token: None,
            });
            c.config = config_hash(&desired);
            c.at = Instant::now();
            self.set_check(external_name, c);
        }
        let dns = self.ensure_dns(mr, external_name).await?;
        if !dns.foreign.is_empty() {
            return Err(ExternalError::of_kind(
                ErrorKind::Conflict,
                foreign_message(&dns.foreign, &owner_comment(mr)),
            ));
        }
        let mut at_provider = None;
        if let Some(r) = mr.rotation() {
            let every = rotation_every(r)?;
            let mut last = self.secret_set_at(mr, external_name, None);
            if last.is_none() {
                let t = self.api.get_tunnel(external_name).await?;
                last = self.secret_set_at(
                    mr,
                    external_name,
                    t.as_ref().and_then(|t| t.created_at.as_deref()),
                );
            }
            if rotation_due(every, last, Timestamp::now()) {
                let (_, at) = self.rotate_secret(external_name).await?;
                let mut ap: TunnelObservation = mr
                    .at_provider()
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or_default();
                ap.secret_rotated_at = Some(at.to_string());
                at_provider = serde_json::to_value(ap).ok();
            }
        }
        Ok(Updated {
            connection_details: Self::details(self.check(external_name).as_ref()),
            at_provider,
        })
    }

    /// Its DNS records, its connections, then the tunnel.
    async fn delete(&self, mr: &K, external_name: &str) -> Result<(), ExternalError> {
        let id = if external_name.is_empty() {
            self.find_by_name(&tunnel_name(mr)).await?.map(|t| t.id)
        } else {
            Some(external_name.to_string())
        };
        let marker = owner_comment(mr);
        // a zone the token cannot see holds no record of ours
        if let Some(zone) = self.find_zone(&mr.params().zone).await? {
            let owned = self
                .api
                .list_records(&zone.id, &[("comment", marker.clone())])
                .await?;
            for r in owned
                .iter()
                .filter(|r| r.comment.as_deref() == Some(marker.as_str()))
            {
                self.api.delete_record(&zone.id, &r.id).await?;
                self.cache.forget_record(&self.api, &zone.id, &r.id).await;
            }
        }
        // a tunnel that reports deleted_at (or 404) is gone
        let live = match &id {
            Some(id) => self
                .api
                .get_tunnel(id)
                .await?
                .is_some_and(|t| t.deleted_at.is_none()),
            None => false,
        };
        if let Some(id) = id.filter(|_| live) {
            self.api.delete_connections(&id).await?;
            self.api.delete_tunnel(&id).await?;
            self.cache.forget_tunnel(&self.api, &id).await;
            self.shared
                .checks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        }
        Ok(())
    }

    fn connection_keys(&self, _mr: &K) -> Vec<&'static str> {
        vec![KEY_TOKEN]
    }

    /// The token can be read again at any time: a lost Secret gets the same
    /// token back, no new tunnel.
    async fn reread_connection_details(
        &self,
        _mr: &K,
        external_name: &str,
    ) -> Result<Option<ConnectionDetails>, ExternalError> {
        let token = self.api.tunnel_token(external_name).await?;
        let mut check = self.check(external_name).unwrap_or(Check {
            at: Instant::now(),
            config: 0,
            connections: None,
            token: None,
        });
        check.token = Some(token);
        self.set_check(external_name, check.clone());
        Ok(Some(Self::details(Some(&check))))
    }

    /// An interrupted create is found by the tunnel's name; creating again
    /// adopts it (its token can be read again: nothing is lost).
    async fn recover_incomplete_create(
        &self,
        mr: &K,
        _pending: jiff::Timestamp,
    ) -> Result<Option<Recovery>, ExternalError> {
        Ok(Some(match self.find_by_name(&tunnel_name(mr)).await? {
            Some(t) => Recovery::Adopted(vec![t.id]),
            None => Recovery::NothingCreated,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apis::cloudflare::{IngressRule as Rule, OriginRequest};

    fn params() -> TunnelParameters {
        TunnelParameters {
            zone: "example.com".into(),
            ingress: vec![
                Rule {
                    hostname: "App.example.com".into(),
                    service: "http://app:80".into(),
                    ..Default::default()
                },
                Rule {
                    hostname: "app.example.com".into(),
                    path: Some("^/api".into()),
                    service: "http://api:80".into(),
                    origin_request: Some(OriginRequest {
                        no_tls_verify: Some(true),
                        ..Default::default()
                    }),
                },
            ],
            catch_all: "http_status:404".into(),
            origin_request: None,
        }
    }

    #[test]
    fn config_ends_with_the_catch_all() {
        let c = desired_config(&params());
        assert_eq!(c.ingress.len(), 3);
        assert_eq!(c.ingress[2].hostname, None);
        assert_eq!(c.ingress[2].service, "http_status:404");
        assert_eq!(
            hostnames(&params()).into_iter().collect::<Vec<_>>(),
            vec!["app.example.com"]
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["ingress"][1]["originRequest"]["noTLSVerify"], true);
    }

    #[test]
    fn remote_defaults_do_not_count_as_drift() {
        let desired = desired_config(&params());
        let mut remote: TunnelConfig =
            serde_json::from_value(serde_json::to_value(&desired).unwrap()).unwrap();
        remote.ingress[0].path = Some(String::new());
        remote.origin_request = Some(OriginRequest::default());
        assert!(same_config(&desired, Some(&remote)));
        remote.ingress[0].service = "http://other:80".into();
        assert!(!same_config(&desired, Some(&remote)));
        assert!(!same_config(&desired, None));
    }

    #[test]
    fn hostnames_must_be_in_the_zone() {
        let mut p = params();
        assert!(validate(&p).is_ok());
        p.ingress[0].hostname = "app.example.org".into();
        assert!(
            validate(&p)
                .unwrap_err()
                .message
                .contains("not in zone example.com")
        );
        p.ingress[0].hostname = "badexample.com".into();
        assert!(validate(&p).is_err());
    }
}
