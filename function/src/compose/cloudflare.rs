//! The edge part of a spoke, read top to bottom:
//!
//! 1. in the hub, the spoke's Cloudflare `Tunnel` (this project's provider):
//!    one ingress rule per public hostname, the `http_status:404` catch-all
//!    last, proxied CNAMEs, the token to a connection Secret;
//! 2. once the token is published and the spoke's ProviderConfigs exist, in
//!    the spoke: the `edge` Namespace, the token as a Secret (copied by
//!    provider-kubernetes, or through External Secrets), cloudflared (a
//!    Deployment, 2 replicas spread over zones, `/ready` probes) and its
//!    PodDisruptionBudget;
//! 3. deletion: cloudflared goes before the Tunnel (a Usage), so the tunnel's
//!    delete path (connections, DNS records, tunnel) runs last.
//!
//! Everything carries the spoke's own FinOps labels: the tenant pays for
//! its public traffic.

use serde::Serialize;

use super::managed::{Api, Config, Domain, ManagedResource};
use super::object::{self, Manifest, ManifestMetadata, OBJECT, Object};
use super::workload::{
    Container, ContainerPort, DeploymentSpec, EnvVar, HttpGet, LabelSelector,
    PodDisruptionBudgetSpec, PodMetadata, PodSecurityContext, PodSpec, PodTemplate, Probe, Spec,
    TopologySpread,
};
use super::{Composition, Stage, names, secrets, target, usage};
use crate::input::SecretsMode;
use crate::spoke::EdgeStatus;

pub const TUNNEL: Api = Api::new(
    Domain::HybridSpoke,
    "cloudflare",
    "Tunnel",
    "v1alpha1",
    "v1alpha1",
);
/// Requests for a hostname no rule names.
const CATCH_ALL: &str = "http_status:404";
/// The connection Secret key our provider writes the token under
/// (provider/src/cloudflare/tunnel.rs).
const KEY_TOKEN: &str = "token";
/// Names in the spoke.
const CLOUDFLARED: &str = "cloudflared";
const TOKEN_SECRET: &str = "cloudflared-token";
/// cloudflared's metrics listener, which also serves `/ready` (200 with at
/// least one edge connection).
const METRICS_PORT: u16 = 2000;
/// The distroless image's `nonroot` user.
const NONROOT: u32 = 65532;

pub fn compose(c: &mut Composition<'_>) {
    let Some(edge) = c.spoke.edge.as_ref() else {
        return;
    };
    tunnel(c, edge);
    if !target::ready(c) {
        c.wait(Stage::Edge, "the spoke's ProviderConfigs");
        return;
    }
    if !c
        .observed(names::TUNNEL)
        .is_some_and(|t| t.has_connection_detail(KEY_TOKEN))
    {
        c.wait(Stage::Edge, "the tunnel's token");
        return;
    }
    let spoke = c.spoke;
    object::namespace(
        c,
        Stage::Edge,
        names::EDGE_NAMESPACE,
        &spoke.input.edge.namespace,
        &spoke.labels,
    );
    token(c);
    cloudflared(c);
}

// --- 1. In the hub ---------------------------------------------------------

fn tunnel(c: &mut Composition<'_>, edge: &crate::edge::EdgePlan) {
    let spoke = c.spoke;
    let tunnel = ManagedResource::new(
        spoke,
        TUNNEL,
        names::TUNNEL,
        TunnelParameters {
            zone: &edge.zone,
            ingress: edge
                .routes
                .iter()
                .map(|(hostname, service)| IngressRule { hostname, service })
                .collect(),
            catch_all: CATCH_ALL,
        },
    )
    .provider_config(spoke, Config::Cloudflare)
    .connection_secret(spoke, secrets::connection_secret_name(spoke, names::TUNNEL));
    c.add(Stage::Edge, names::TUNNEL, &tunnel);
    if spoke.input.secrets.mode == SecretsMode::ExternalSecrets {
        secrets::push(
            c,
            Stage::Edge,
            names::EDGE_TOKEN_PUSH,
            names::TUNNEL,
            &[KEY_TOKEN],
            &spoke.labels,
        );
    }
    c.status.edge = Some(EdgeStatus {
        hostnames: edge.hostnames(),
        tunnel_id: c
            .observed_str(names::TUNNEL, "/status/atProvider/id")
            .map(String::from),
    });
}

// --- 2. In the spoke -------------------------------------------------------

/// The token as a Secret in the spoke, for `TUNNEL_TOKEN`.
fn token(c: &mut Composition<'_>) {
    let spoke = c.spoke;
    let secret = secrets::SpokeSecret {
        name: names::EDGE_TOKEN,
        from: names::TUNNEL,
        keys: &[KEY_TOKEN],
        target: TOKEN_SECRET,
        namespace: &spoke.input.edge.namespace,
        labels: &spoke.labels,
    };
    match spoke.input.secrets.mode {
        SecretsMode::ConnectionSecrets => secrets::copy(c, Stage::Edge, &secret),
        SecretsMode::ExternalSecrets => secrets::pull(c, Stage::Edge, &secret),
    }
}

fn cloudflared(c: &mut Composition<'_>) {
    let spoke = c.spoke;
    let settings = &spoke.input.edge;
    let labels = &spoke.labels;
    let ready = || Probe {
        http_get: HttpGet {
            path: "/ready",
            port: METRICS_PORT,
        },
        initial_delay_seconds: 10,
        period_seconds: 10,
        failure_threshold: 3,
    };
    let container = Container {
        name: CLOUDFLARED,
        image: &settings.image,
        // Global flags before `run`, or cloudflared restarts in a loop.
        args: vec![
            "tunnel",
            "--no-autoupdate",
            "--metrics",
            "0.0.0.0:2000",
            "run",
        ],
        env: vec![EnvVar::from_secret("TUNNEL_TOKEN", TOKEN_SECRET, KEY_TOKEN)],
        ports: vec![ContainerPort {
            name: "metrics",
            container_port: METRICS_PORT,
        }],
        liveness_probe: Some(ready()),
        readiness_probe: Some(ready()),
        resources: &settings.resources,
    };
    let deployment = DeploymentSpec {
        replicas: settings.replicas,
        selector: LabelSelector::app(CLOUDFLARED),
        template: PodTemplate {
            metadata: PodMetadata::new(labels, CLOUDFLARED),
            spec: PodSpec {
                security_context: Some(PodSecurityContext {
                    run_as_non_root: true,
                    run_as_user: NONROOT,
                }),
                containers: vec![container],
                topology_spread_constraints: vec![TopologySpread::zones(CLOUDFLARED)],
            },
        },
    };
    let manifest = |api_version, kind, body| Manifest {
        api_version,
        kind,
        metadata: ManifestMetadata {
            name: CLOUDFLARED.to_string(),
            namespace: Some(settings.namespace.clone()),
            labels,
        },
        body,
    };
    c.add(
        Stage::Edge,
        names::CLOUDFLARED,
        &Object::new(
            spoke,
            names::CLOUDFLARED,
            labels,
            manifest("apps/v1", "Deployment", Spec { spec: deployment }),
        ),
    );
    let budget = PodDisruptionBudgetSpec {
        min_available: 1,
        selector: LabelSelector::app(CLOUDFLARED),
    };
    c.add(
        Stage::Edge,
        names::CLOUDFLARED_BUDGET,
        &Object::new(
            spoke,
            names::CLOUDFLARED_BUDGET,
            labels,
            Manifest {
                api_version: "policy/v1",
                kind: "PodDisruptionBudget",
                metadata: ManifestMetadata {
                    name: CLOUDFLARED.to_string(),
                    namespace: Some(settings.namespace.clone()),
                    labels,
                },
                body: Spec { spec: budget },
            },
        ),
    );
    // cloudflared stops before its tunnel is deleted, and before its namespace.
    usage::add_as(
        c,
        Stage::Edge,
        &format!("usage-{}-tunnel", names::CLOUDFLARED),
        (&OBJECT, names::CLOUDFLARED),
        (&TUNNEL, names::TUNNEL),
    );
    usage::add_as(
        c,
        Stage::Edge,
        &format!("usage-{}-namespace", names::CLOUDFLARED),
        (&OBJECT, names::CLOUDFLARED),
        (&OBJECT, names::EDGE_NAMESPACE),
    );
}

// --- Shapes: this project's Tunnel -------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TunnelParameters<'a> {
    zone: &'a str,
    ingress: Vec<IngressRule<'a>>,
    catch_all: &'static str,
}

#[derive(Serialize)]
struct IngressRule<'a> {
    hostname: &'a str,
    service: &'a str,
}
