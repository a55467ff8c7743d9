//! AKS spoke.
use super::Composition;
pub fn compose(_c: &mut Composition<'_>) {}
