//! Cloudflare API v4: tunnels (`cfd_tunnel`), zones and DNS records
//! (shared/reference/cloudflare.md).
//!
//! - [`client`]: reqwest, the `{success, errors, result, result_info}`
//!   envelope, pagination, retries (5xx, timeouts, 429 + `Retry-After`).
//! - [`limiter`]: the client-side request budget, one per API token.
//! - [`cache`]: list-based observation shared by every Tunnel.
//! - [`types`]: the API's objects.
//! - [`tunnel`]: the Tunnel kind; [`config`]: its ProviderConfigs.

pub mod cache;
pub mod client;
pub mod config;
pub mod limiter;
pub mod tunnel;
pub mod types;

pub use client::{Client, ClientOptions, CloudflareError};
