//! The workspace's integration tests (the renderer CLI, examples, goldens,
//! packages, GitOps and Backstage files, the real peers), one module per
//! file, in one test binary: linked once instead of once per file, tests of
//! every file run side by side. tests/e2e/ is its own binary (its main runs
//! the scenarios in order on one shared stack).
//!
//! `cargo test --test it golden::` runs one file's tests.

mod backstage;
mod crd_schema_selftest;
mod crd_validation;
mod edge_and_argocd;
mod engine_parity;
mod fleet_cli;
mod generated;
mod gitops;
mod golden;
mod packages;
mod peer_embedded;
mod peer_python_sdk;
mod peer_render;
mod peer_smoke;
mod stages;
mod strict_render;
mod tailnet;
