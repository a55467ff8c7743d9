#![allow(dead_code)]
pub mod cluster;
pub mod fake_cloudflare;
pub mod fake_policy;
pub mod fake_tailscale;
pub mod openapi;
pub mod wait;
