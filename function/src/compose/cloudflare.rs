//! The edge part of a spoke: its Cloudflare `Tunnel` and the cloudflared
//! Deployment in the spoke. Composed once the provider's Tunnel kind exists
//! (issue 7); until then a spoke has no edge part and this step adds nothing.

use super::Composition;

pub fn compose(_composition: &mut Composition<'_>) {}
