//! provider-hybrid-spoke: a Crossplane managed-resource provider in Rust.
//!
//! - [`apis`]: the Kubernetes types (both API flavours); [`crds`] generates
//!   the package's CRDs from them.
//! - [`managed`]: one generic managed reconciler with Crossplane's semantics.
//! - [`tailscale`]: clients of the Tailscale API v2 and Headscale.
//! - [`tailnetkey`]: the TailnetKey kind on top of both.
//! - [`cloudflare`]: the Cloudflare API client and the Tunnel kind.
//! - [`providerconfig`]: ProviderConfig usage accounting and credentials.
//! - [`manager`]: controllers, leader election, metrics and probes.
//! - [`watched`]: watched ProviderConfigs, credential and connection Secrets.
//! - [`http`]: what the HTTP clients share (`Retry-After`).
//! - [`acl`], [`aclfragment`]: tailnet policy fragments and their kind.
pub mod acl;
pub mod aclfragment;
pub mod apis;
pub mod cloudflare;
pub mod crds;
pub mod http;
pub mod leader;
pub mod managed;
pub mod manager;
pub mod metrics;
pub mod providerconfig;
pub mod tailnetkey;
pub mod tailscale;
pub mod watched;
