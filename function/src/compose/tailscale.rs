//! The tailnet part of a spoke: its OAuth client (`TailnetKey`), ACL
//! fragment, the tailscale-operator Release and the subnet-router Connector.
//! Composed once the provider's tailnet kinds exist (issue 5 onward); until
//! then a spoke has no tailnet part and this step adds nothing.

use super::Composition;

pub fn compose(_composition: &mut Composition<'_>) {}
