//! The provider's integration tests, one module per file, in one test
//! binary: the fakes and helpers under `support/` are compiled and linked
//! once instead of once per file, and the harness runs tests of every file
//! side by side (most wait on an API server, a fake or a timer).
//!
//! `cargo test -p provider-hybrid-spoke --test it peer_cloudflare::` runs
//! one file's tests.

mod support;

mod acl_tailscale;
mod binary;
mod cloudflare_client;
mod crds;
mod peer_acl_headscale;
mod peer_aclfragment;
mod peer_cloudflare;
mod peer_cloudflare_crash;
mod peer_composed_tailnet;
mod peer_headscale;
mod peer_tailnetkey;
mod reasons;
mod reconciler_table;
mod release_binary;
mod safe_start;
mod tailscale_client;
mod tunnel_rotation;
