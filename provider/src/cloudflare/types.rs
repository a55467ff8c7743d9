//! The Cloudflare objects the provider reads and writes (only the fields it
//! uses; unknown fields are ignored, nulls are `None`).

use serde::{Deserialize, Serialize};

use crate::apis::cloudflare::OriginRequest;

/// A `cfd_tunnel` (reference §2.2).
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Tunnel {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub created_at: Option<String>,
    /// Set once deleted: a deleted tunnel is gone (soft delete).
    #[serde(default)]
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub config_src: Option<String>,
    #[serde(default)]
    pub remote_config: Option<bool>,
    /// Deprecated in the current API (an empty array), kept by older ones.
    #[serde(default)]
    pub connections: Option<Vec<EdgeConnection>>,
}

/// One edge connection of a connector.
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
pub struct EdgeConnection {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub colo_name: Option<String>,
}

/// A connector (cloudflared instance) and its edge connections (§2.10).
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Connector {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub conns: Vec<EdgeConnection>,
}

/// A tunnel's remote configuration (`config` of §2.9).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct TunnelConfig {
    #[serde(default)]
    pub ingress: Vec<IngressRule>,
    #[serde(
        rename = "originRequest",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub origin_request: Option<OriginRequest>,
}

/// An ingress rule as the API has it: the catch-all has no hostname.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct IngressRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub service: String,
    #[serde(
        rename = "originRequest",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub origin_request: Option<OriginRequest>,
}

/// The `result` of GET/PUT `.../configurations`.
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ConfigurationResult {
    #[serde(default)]
    pub config: Option<TunnelConfig>,
    #[serde(default)]
    pub version: Option<i64>,
}

/// A zone (§3.1).
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Zone {
    pub id: String,
    pub name: String,
}

/// A DNS record (§3.2).
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
pub struct DnsRecord {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub proxied: Option<bool>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The body of a record create or patch: a proxied CNAME (ttl 1 = auto,
/// the only TTL a proxied record has).
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct CnameRecord {
    #[serde(rename = "type")]
    pub record_type: &'static str,
    pub name: String,
    pub content: String,
    pub proxied: bool,
    pub ttl: u32,
    pub comment: String,
}

impl CnameRecord {
    pub fn new(name: &str, content: &str, comment: &str) -> Self {
        Self {
            record_type: "CNAME",
            name: name.to_string(),
            content: content.to_string(),
            proxied: true,
            ttl: 1,
            comment: comment.to_string(),
        }
    }

    /// Whether `r` is this record (type, target, proxied, marker).
    pub fn matches(&self, r: &DnsRecord) -> bool {
        r.record_type == self.record_type
            && r.name.eq_ignore_ascii_case(&self.name)
            && r.content.eq_ignore_ascii_case(&self.content)
            && r.proxied == Some(true)
            && r.comment.as_deref() == Some(self.comment.as_str())
    }
}
