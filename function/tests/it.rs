//! The function's integration tests, one module per file, in one test
//! binary: the function and its dependencies are linked once instead of
//! once per file, and the harness runs tests of every file side by side.
//!
//! `cargo test -p function-hybrid-spoke --test it wire::` runs one file's
//! tests.

mod bad_input;
mod claim_types;
mod compose_variants;
mod edge_variants;
mod fleet;
mod names;
mod pipelines;
mod server;
mod shutdown;
mod strict_input;
mod tailnet_variants;
mod view_equivalence;
mod wire;
mod zones;
