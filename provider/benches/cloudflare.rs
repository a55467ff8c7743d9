//! What observing Tunnels costs in Cloudflare API requests, against the
//! stateful fake (tests/support/fake_cloudflare.rs, every body checked
//! against the vendored OpenAPI document), with the clock scaled so the run
//! stays short: every duration (rate-limit window, poll interval, sync
//! interval) is divided by `BENCH_SCALE` (default 100), so the budget of
//! 1,200 requests per 5 minutes becomes 1,200 per 3 s.
//!
//! Prints: requests per tunnel to create; requests per poll cycle in steady
//! state at 10, 100 and 1,000 tunnels; the per-tunnel checks; the budget
//! used per 5 minutes; 429 answers (must be 0).
//!
//! `cargo bench -p provider-hybrid-spoke --bench cloudflare`

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use provider_hybrid_spoke::apis::cloudflare::{IngressRule, TunnelParameters, namespaced};
use provider_hybrid_spoke::apis::{
    LocalSecretReference, ManagementAction, TypedProviderConfigReference,
};
use provider_hybrid_spoke::cloudflare::tunnel::{self, CloudflareConnector, TunnelClient};
use provider_hybrid_spoke::cloudflare::{Client, ClientOptions};
use provider_hybrid_spoke::managed::ExternalClient;
use support::fake_cloudflare::{ACCOUNT, FakeCloudflare};

const TOKEN: &str = "cf-token-bench";
const BUDGET: u64 = 1200;
const BUDGET_WINDOW: Duration = Duration::from_secs(300);
/// The provider's defaults: --poll 10m, --sync 1h; and the 1-minute poll
/// of the example.
const POLLS: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(600)];
const SYNC: Duration = Duration::from_secs(3600);
/// Concurrent observes (--max-reconcile-rate 10).
const CONCURRENCY: usize = 10;

fn tunnel(i: usize) -> namespaced::Tunnel {
    let mut t = namespaced::Tunnel::new(
        &format!("spoke-{i}"),
        namespaced::TunnelSpec {
            rotation: None,
            for_provider: TunnelParameters {
                zone: "example.com".into(),
                ingress: vec![
                    IngressRule {
                        hostname: format!("app-{i}.example.com"),
                        service: "http://app:80".into(),
                        ..Default::default()
                    },
                    IngressRule {
                        hostname: format!("api-{i}.example.com"),
                        service: "http://api:80".into(),
                        ..Default::default()
                    },
                ],
                catch_all: "http_status:404".into(),
                origin_request: None,
            },
            write_connection_secret_to_ref: Some(LocalSecretReference {
                name: format!("spoke-{i}"),
            }),
            provider_config_ref: TypedProviderConfigReference::default(),
            management_policies: vec![ManagementAction::All],
        },
    );
    t.metadata.namespace = Some("spokes".into());
    t.metadata.uid = Some(format!("00000000-0000-4000-8000-{i:012}"));
    t
}

async fn observe_all(client: &Arc<TunnelClient>, mrs: &[(namespaced::Tunnel, String)]) {
    futures::stream::iter(mrs.iter())
        .for_each_concurrent(CONCURRENCY, |(mr, id)| {
            let client = client.clone();
            async move {
                let o = client.observe(mr, Some(id)).await.expect("observe");
                assert!(o.exists && o.up_to_date, "{:?}", o.diff);
            }
        })
        .await;
}

#[tokio::main]
async fn main() {
    let scale: u32 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let window = BUDGET_WINDOW / scale;
    let poll = POLLS[0] / scale;
    let sync = SYNC / scale;
    let fake = FakeCloudflare::start(TOKEN, &["example.com"]).await;
    fake.set_rate_limit(BUDGET as usize, window);
    let connector = CloudflareConnector::new(tunnel::Options {
        client: ClientOptions::default(),
        list_window: poll,
        check_interval: sync,
    });
    let api = Client::new(
        reqwest::Client::new(),
        &fake.url,
        ACCOUNT,
        TOKEN,
        BUDGET as u32,
        window,
        ClientOptions::default(),
    );
    let client = Arc::new(connector.external(api));
    println!(
        "Cloudflare observation cost (clock scaled 1/{scale}: budget {BUDGET} requests per {window:?}, poll {poll:?}, sync {sync:?})"
    );

    // create
    let started = Instant::now();
    let mut mrs = Vec::new();
    let before = fake.counters().requests;
    for i in 0..10 {
        let mr = tunnel(i);
        let c = client.create(&mr).await.expect("create");
        mrs.push((mr, c.external_name));
    }
    let per_create = (fake.counters().requests - before) as f64 / 10.0;
    println!(
        "create: {per_create:.1} API requests per tunnel (2 hostnames: tunnel lookup, create, configuration, zone records, 2 CNAMEs, token)"
    );
    for i in 10..1000 {
        let mr = tunnel(i);
        let c = client.create(&mr).await.expect("create");
        mrs.push((mr, c.external_name));
    }
    println!(
        "created 1000 tunnels (2,000 CNAMEs) in {:?}",
        started.elapsed()
    );

    // steady state: one poll cycle = every tunnel observed once, lists older than the window
    let mut rows = Vec::new();
    for n in [10usize, 100, 1000] {
        let subset = &mrs[..n];
        observe_all(&client, subset).await; // warm: lists fetched
        tokio::time::sleep(poll).await;
        let before = fake.counters().requests;
        observe_all(&client, subset).await;
        let per_cycle = fake.counters().requests - before;
        rows.push((n, per_cycle));
    }
    // the per-tunnel checks (configuration, connections, token), due every --sync
    tokio::time::sleep(sync).await;
    let before = fake.counters().requests;
    observe_all(&client, &mrs).await;
    let check_cycle = fake.counters().requests - before;
    let per_tunnel_check = (check_cycle as f64 - rows[2].1 as f64) / 1000.0;

    println!();
    println!(
        "| tunnels | requests per poll cycle (lists) | per-tunnel checks per --sync | requests / 5 min at --poll 1m | at --poll 10m (default) | budget |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut worst = 0.0f64;
    for (n, per_cycle) in &rows {
        let checks =
            *n as f64 * per_tunnel_check * BUDGET_WINDOW.as_secs_f64() / SYNC.as_secs_f64();
        let per5: Vec<f64> = POLLS
            .iter()
            .map(|p| *per_cycle as f64 * BUDGET_WINDOW.as_secs_f64() / p.as_secs_f64() + checks)
            .collect();
        worst = worst.max(per5[0]);
        println!(
            "| {n} | {per_cycle} | {:.0} | {:.0} | {:.0} | {BUDGET} |",
            *n as f64 * per_tunnel_check,
            per5[0],
            per5[1]
        );
    }
    let naive = 1000.0 * (BUDGET_WINDOW.as_secs_f64() / 60.0) * 2.0;
    println!();
    println!(
        "per-tunnel check: {per_tunnel_check:.1} requests (configuration, connections, token) once per --sync"
    );
    println!(
        "for comparison, 1,000 tunnels observed one tunnel GET + one record GET each per minute: {naive:.0} requests / 5 min ({:.1}x the budget)",
        naive / BUDGET as f64
    );
    let c = fake.counters();
    println!(
        "responses with status 429: {} (rate-limit refusals {}, most requests of the token in one window {} of {BUDGET})",
        c.rate_limited + c.injected_429,
        c.rate_limited,
        c.max_in_window
    );
    let violations = fake.violations();
    println!("OpenAPI violations: {}", violations.len());
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(c.rate_limited, 0);
    assert!(worst <= BUDGET as f64, "1,000 tunnels over budget: {worst}");
}
