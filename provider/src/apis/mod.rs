//! The provider's Kubernetes API types, generated into CRDs by [`crate::crds`].
//!
//! Two flavours of every managed resource, as Crossplane v2 providers ship
//! them (shared/reference/crossplane-provider.md §3.1): namespaced MRs in
//! `tailnet.m.hybridspoke.io` (`providerConfigRef{kind,name}`, no
//! `deletionPolicy`) and legacy cluster-scoped MRs in `tailnet.hybridspoke.io`
//! (`providerConfigRef{name}`, `deletionPolicy`).

// kube's `printcolumn(name, type_, json_path)` repeats `type_` per column,
// which clippy takes for a duplicated attribute.
#![allow(clippy::duplicated_attributes)]

pub mod acl;
pub mod cloudflare;
pub mod common;
pub mod tailnet;

pub use common::*;

/// The legacy (cluster-scoped) API group.
pub const GROUP_LEGACY: &str = "tailnet.hybridspoke.io";
/// The namespaced (Crossplane v2) API group.
pub const GROUP_NAMESPACED: &str = "tailnet.m.hybridspoke.io";
/// The one version of every kind.
pub const VERSION: &str = "v1alpha1";
