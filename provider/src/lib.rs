//! provider-hybrid-spoke: a Crossplane managed-resource provider in Rust.
pub mod apis;
pub mod crds;
