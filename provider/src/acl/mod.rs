//! AclFragment: many owners, one tailnet policy.
//!
//! [`merge`] is pure (document and live fragments in, document out);
//! [`hujson`] keeps the document's bytes; [`guardrails`] refuses fragments
//! before they reach the API.

pub mod api;
pub mod guardrails;
pub mod hujson;
pub mod merge;
pub mod policy;
pub mod writer;
