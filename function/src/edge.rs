//! The spoke's public hostnames, checked before anything is composed: each
//! a valid DNS name inside the platform's Cloudflare zone, none twice, each
//! routed to a service URL cloudflared understands.

use std::collections::BTreeSet;

use crate::input::Input;
use crate::spoke::EdgeSpec;
use crate::validate::Invalid;

/// The services a remotely-managed tunnel's ingress rule may name
/// (cloudflared's origin kinds).
const SERVICE_SCHEMES: [&str; 7] = [
    "http://",
    "https://",
    "tcp://",
    "ssh://",
    "rdp://",
    "unix:",
    "http_status:",
];

#[derive(Clone, Debug, PartialEq)]
pub struct EdgePlan {
    /// The zone every hostname is in.
    pub zone: String,
    /// (hostname, service) in the claim's order.
    pub routes: Vec<(String, String)>,
}

impl EdgePlan {
    pub fn hostnames(&self) -> Vec<String> {
        self.routes.iter().map(|(h, _)| h.clone()).collect()
    }
}

pub fn plan(spec: &EdgeSpec, input: &Input) -> Result<EdgePlan, Vec<Invalid>> {
    let zone = input.edge.zone.to_ascii_lowercase();
    let mut errors = Vec::new();
    if zone.is_empty() {
        return Err(vec![Invalid::new(
            "spec.edge",
            "",
            "needs a Cloudflare zone, and this platform has none (input.edge.zone)",
        )]);
    }
    if spec.routes.is_empty() {
        errors.push(Invalid::new(
            "spec.edge.routes",
            "[]",
            "must list at least one route",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut routes = Vec::new();
    for (i, route) in spec.routes.iter().enumerate() {
        let field = format!("spec.edge.routes[{i}]");
        let (hostname, named) = match (&route.hostname, &route.subdomain) {
            (Some(h), None) => (h.to_ascii_lowercase(), format!("{field}.hostname")),
            (None, Some(s)) => (
                format!("{}.{zone}", s.to_ascii_lowercase()),
                format!("{field}.subdomain"),
            ),
            _ => {
                errors.push(Invalid::new(
                    field,
                    "",
                    "must set exactly one of hostname and subdomain",
                ));
                continue;
            }
        };
        if let Err(rule) = dns_name(&hostname) {
            errors.push(Invalid::new(named, &hostname, rule));
            continue;
        }
        if hostname != zone && !hostname.ends_with(&format!(".{zone}")) {
            errors.push(Invalid::new(
                named,
                &hostname,
                format!("is not in the platform's zone {zone} (input.edge.zone)"),
            ));
            continue;
        }
        if !seen.insert(hostname.clone()) {
            errors.push(Invalid::new(
                named,
                &hostname,
                "is routed by an earlier route: each hostname once",
            ));
            continue;
        }
        if !SERVICE_SCHEMES.iter().any(|s| route.service.starts_with(s)) {
            errors.push(Invalid::new(
                format!("{field}.service"),
                &route.service,
                "must be a URL cloudflared can serve: http://, https://, tcp://, ssh://, rdp://, unix: or http_status:",
            ));
            continue;
        }
        routes.push((hostname, route.service.clone()));
    }
    if errors.is_empty() {
        Ok(EdgePlan { zone, routes })
    } else {
        Err(errors)
    }
}

/// A DNS name: labels of 1-63 letters, digits and dashes (not at either
/// end), at most 253 characters; one leading `*.` wildcard allowed.
fn dns_name(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!(
            "is {} characters long: a DNS name has at most 253",
            name.len()
        ));
    }
    let rest = name.strip_prefix("*.").unwrap_or(name);
    for label in rest.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(format!(
                "is not a DNS name: the label {label:?} must be 1-63 letters, digits and dashes, not starting or ending with a dash"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_follow_the_label_rules() {
        assert!(dns_name("a.example.com").is_ok());
        assert!(dns_name("*.example.com").is_ok());
        for bad in [
            "-a.example.com",
            "a..example.com",
            "a_b.example.com",
            "a.*.example.com",
        ] {
            assert!(dns_name(bad).is_err(), "{bad}");
        }
        assert!(dns_name(&format!("{}.com", "a".repeat(64))).is_err());
    }
}
