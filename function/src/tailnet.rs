//! The spoke's place on the tailnet, checked before anything is composed:
//! its tags, the routes its router advertises, its hostnames and who pays.
//! Every failure names the field (claim or Input), the value and the rule.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;

use crate::input::{
    AdvertisedRange, FinOpsTenant, GLOBAL_TENANT, Input, SPOKE_PLACEHOLDER, SecretsMode,
    TailnetBackend,
};
use crate::naming;
use crate::network::NetworkPlan;
use crate::spoke::{ApiServerProxy, TailnetSpec};
use crate::validate::Invalid;

#[derive(Clone, Debug, PartialEq)]
pub struct TailnetPlan {
    /// The OAuth client's and the operator's tag.
    pub operator_tag: String,
    /// The routers' and proxies' tag, owned by the operator tag.
    pub proxy_tag: String,
    /// What the spoke's router advertises, in order: its ranges, then the
    /// claim's legacy routes.
    pub routes: Vec<String>,
    /// Hostname prefix of the routers; the operator's is `<prefix>-operator`.
    pub hostname: String,
    /// FinOps labels of everything the tailnet part composes.
    pub labels: BTreeMap<String, String>,
}

impl TailnetPlan {
    pub fn operator_hostname(&self) -> String {
        suffixed(&self.hostname, "operator")
    }

    pub fn api_server_hostname(&self) -> String {
        suffixed(&self.hostname, "api")
    }
}

/// `<hostname>-<suffix>`, a DNS label: shortened (prefix and hash) when the
/// suffix does not fit.
fn suffixed(hostname: &str, suffix: &str) -> String {
    let name = format!("{hostname}-{suffix}");
    naming::DNS_LABEL.fit(&name).unwrap_or(name)
}

/// Checks the claim's tailnet settings against the Input and plans them.
pub fn plan(
    cluster_name: &str,
    spec: &TailnetSpec,
    network: &NetworkPlan,
    spoke_labels: &BTreeMap<String, String>,
    input: &Input,
) -> Result<TailnetPlan, Vec<Invalid>> {
    let settings = &input.tailnet;
    let mut errors = Vec::new();

    let tag = |field: &str, template: &str, errors: &mut Vec<Invalid>| {
        let tag = template.replace(SPOKE_PLACEHOLDER, cluster_name);
        if !is_tag(&tag) {
            errors.push(Invalid::new(
                field,
                template,
                format!(
                    "gives the tag {tag} for this spoke, which is not a tailnet tag: tag: followed by a letter, then letters, digits and dashes \
                     ({{spoke}} is the cluster name {cluster_name}, from the claim's metadata.namespace and metadata.name: \
                     a name starting with a letter, or a template with a letter before {{spoke}}, fits)"
                ),
            ));
        }
        tag
    };
    let operator_tag = tag(
        "input.tailnet.tags.operator",
        &settings.tags.operator,
        &mut errors,
    );
    let proxy_tag = tag(
        "input.tailnet.tags.proxy",
        &settings.tags.proxy,
        &mut errors,
    );
    if operator_tag == proxy_tag {
        errors.push(Invalid::new(
            "input.tailnet.tags.proxy",
            &settings.tags.proxy,
            "must differ from input.tailnet.tags.operator: the operator tag owns the proxy tag",
        ));
    }
    if settings.admins.is_empty() {
        errors.push(Invalid::new(
            "input.tailnet.admins",
            "[]",
            "must name who owns the spokes' operator tags (e.g. autogroup:admin)",
        ));
    }

    match settings.backend {
        TailnetBackend::Headscale => {
            if settings
                .login_server
                .as_deref()
                .unwrap_or_default()
                .is_empty()
            {
                errors.push(Invalid::new(
                    "input.tailnet.loginServer",
                    "",
                    "is required with input.tailnet.backend Headscale: it is the URL the spoke's router joins",
                ));
            }
            if spec.api_server != ApiServerProxy::None {
                errors.push(Invalid::new(
                    "spec.tailnet.apiServer",
                    spec.api_server.as_str(),
                    "needs the tailscale-operator's ProxyGroup, which this platform's tailnet (Headscale, input.tailnet.backend) cannot run: use none",
                ));
            }
        }
        TailnetBackend::Tailscale => {}
    }
    if let Some(url) = &settings.login_server
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        errors.push(Invalid::new(
            "input.tailnet.loginServer",
            url,
            "must be an http:// or https:// URL",
        ));
    }
    if input.secrets.mode == SecretsMode::ExternalSecrets
        && input.secrets.cluster_secret_store.is_empty()
    {
        errors.push(Invalid::new(
            "input.secrets.clusterSecretStore",
            "",
            "is required with input.secrets.mode ExternalSecrets",
        ));
    }
    if settings.proxy.replicas == 0 {
        errors.push(Invalid::new(
            "input.tailnet.proxy.replicas",
            0,
            "must be at least 1: the spoke needs a router",
        ));
    }

    let mut routes = Vec::new();
    for range in &settings.advertise {
        let route = match range {
            AdvertisedRange::Vpc => Some(network.vpc.to_string()),
            AdvertisedRange::Pods => network.pods.map(|p| p.to_string()),
            AdvertisedRange::Services => Some(network.services.to_string()),
        };
        if let Some(route) = route
            && !routes.contains(&route)
        {
            routes.push(route);
        }
    }
    let mut seen = BTreeSet::new();
    for (i, route) in spec.legacy_routes.iter().enumerate() {
        let field = format!("spec.tailnet.legacyRoutes[{i}]");
        match route.parse::<IpNet>() {
            Err(_) => errors.push(Invalid::new(
                field,
                route,
                "is not an IPv4 or IPv6 CIDR (e.g. 192.168.10.0/24)",
            )),
            Ok(net) if net.prefix_len() == 0 => errors.push(Invalid::new(
                field,
                route,
                "is a default route: a spoke router advertises subnets, not an exit node",
            )),
            Ok(net) if net.trunc() != net => errors.push(Invalid::new(
                field,
                route,
                format!("has host bits set: write {}", net.trunc()),
            )),
            Ok(net) if !seen.insert(net) || routes.contains(&net.to_string()) => errors.push(
                Invalid::new(field, route, "is already advertised by this spoke"),
            ),
            Ok(net) => routes.push(net.to_string()),
        }
    }

    let mut labels = spoke_labels.clone();
    if settings.finops_tenant == FinOpsTenant::Global {
        labels.insert(input.label_keys.tenant.clone(), GLOBAL_TENANT.to_string());
    }

    if errors.is_empty() {
        Ok(TailnetPlan {
            operator_tag,
            proxy_tag,
            routes,
            hostname: naming::HOSTNAME_PREFIX
                .fit(cluster_name)
                .unwrap_or_else(|| cluster_name.to_string()),
            labels,
        })
    } else {
        Err(errors)
    }
}

/// `tag:` followed by a letter, then letters, digits and dashes (the
/// operator CRDs' pattern).
pub fn is_tag(tag: &str) -> bool {
    tag.strip_prefix("tag:").is_some_and(|name| {
        name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_operator_crd_pattern() {
        for good in ["tag:eu-payments", "tag:a", "tag:Team-1"] {
            assert!(is_tag(good), "{good}");
        }
        for bad in ["eu-payments", "tag:", "tag:1team", "tag:team_a", "tag:a.b"] {
            assert!(!is_tag(bad), "{bad}");
        }
    }

    #[test]
    fn suffixed_hostnames_stay_dns_labels() {
        assert_eq!(suffixed("abc", "operator"), "abc-operator");
        let long = suffixed(&"a".repeat(62), "operator");
        assert_eq!(long.len(), 63);
        assert!(long.starts_with("aaaa"), "{long}");
    }
}
