//! Crash points: the provider killed at random points during Tunnel create
//! and delete, on a real kube-apiserver + etcd against the Cloudflare fake.
//!
//! How a kill is modelled (in-process): a reconcile runs as a future; when
//! the fake has answered the N-th API call of the phase (N random, the
//! change applied, the answer possibly not yet read) the future is dropped
//! mid-flight — whatever it was doing (an API call, a Kubernetes write) is
//! abandoned, as when the process dies. The next reconciles run on a fresh
//! reconciler and connector (empty caches, no memory: a restarted
//! process), reading the resource back from the API server. At least 200
//! kills (100 in create, 100 in delete); after each phase the fake must
//! hold exactly one live tunnel and one record per hostname for the
//! resource (0 duplicates) and, after delete, none (0 leaks); a record of
//! someone else must be untouched. Every fourth resource is deleted right
//! after its create was killed, before it converged.
//!
//! Two workers share the API server, each with its own Cloudflare fake and
//! ClusterProviderConfig, so each fake's counters and tunnels belong to one
//! sequence of kills (reproducible from its seed) while the API server
//! serves both.

use crate::support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use provider_hybrid_spoke::apis::cloudflare::{
    CloudflareCredentials, IngressRule, ProviderConfigSpec, RateLimit, TunnelParameters,
    namespaced, pc_namespaced,
};
use provider_hybrid_spoke::apis::{
    LocalSecretReference, ManagementAction, SecretKeySelector, TypedProviderConfigReference,
};
use provider_hybrid_spoke::cloudflare::tunnel::{
    self, CloudflareConnector, owner_comment, tunnel_name,
};
use provider_hybrid_spoke::managed::ratelimit::GlobalLimiter;
use provider_hybrid_spoke::managed::reconciler::{Options, Reconciler};
use provider_hybrid_spoke::metrics::Metrics;
use serde_json::json;
use support::fake_cloudflare::{ACCOUNT, FakeCloudflare};

const TOKEN: &str = "cf-api-token-crash-test-0123456789";
const NS: &str = "spokes";
const ZONE: &str = "example.com";

type Rec = Reconciler<namespaced::Tunnel, CloudflareConnector>;

/// A fresh process: new reconciler, new connector (empty caches).
fn restart(client: &kube::Client) -> Rec {
    Reconciler::new(
        client.clone(),
        CloudflareConnector::new(tunnel::Options {
            list_window: Duration::from_secs(1),
            check_interval: Duration::from_secs(60),
            ..Default::default()
        }),
        Options {
            poll: Duration::from_secs(1),
            creation_grace: Duration::from_secs(2),
            timeout: Duration::from_secs(30),
            ..Options::default()
        },
        Arc::new(Metrics::new()),
        Arc::new(GlobalLimiter::new(10_000)),
    )
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Reconciles `name` until `done`; kills the reconcile running when the
/// fake answers call `kill_at` (absolute count). Returns whether it killed.
async fn drive(
    client: &kube::Client,
    fake: &FakeCloudflare,
    name: &str,
    kill_at: Option<u64>,
    done: impl Fn(Option<&namespaced::Tunnel>) -> bool,
) -> bool {
    let api = Api::<namespaced::Tunnel>::namespaced(client.clone(), NS);
    let mut rec = restart(client);
    let mut killed = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let obj = api.get_opt(name).await.unwrap();
        if done(obj.as_ref()) {
            return killed;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not converge: {:#?}",
            obj.map(|o| (o.metadata.annotations, o.status))
        );
        let Some(obj) = obj else { return killed };
        match kill_at.filter(|_| !killed) {
            Some(n) => {
                tokio::select! {
                    _ = rec.reconcile(Arc::new(obj)) => {}
                    _ = fake.answered(n) => {
                        killed = true;
                        rec = restart(client);
                    }
                }
            }
            None => {
                rec.reconcile(Arc::new(obj)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn tunnel(name: &str, provider_config: &str) -> namespaced::Tunnel {
    let mut t = namespaced::Tunnel::new(
        name,
        namespaced::TunnelSpec {
            rotation: None,
            for_provider: TunnelParameters {
                zone: ZONE.into(),
                ingress: vec![
                    IngressRule {
                        hostname: format!("{name}.example.com"),
                        service: "http://a:80".into(),
                        ..Default::default()
                    },
                    IngressRule {
                        hostname: format!("{name}-api.example.com"),
                        service: "http://b:80".into(),
                        ..Default::default()
                    },
                ],
                catch_all: "http_status:404".into(),
                origin_request: None,
            },
            write_connection_secret_to_ref: Some(LocalSecretReference {
                name: format!("{name}-tunnel"),
            }),
            provider_config_ref: TypedProviderConfigReference {
                name: provider_config.into(),
                ..Default::default()
            },
            management_policies: vec![ManagementAction::All],
        },
    );
    t.metadata.namespace = Some(NS.into());
    t
}

fn ready(t: Option<&namespaced::Tunnel>) -> bool {
    t.is_some_and(|t| {
        let conds = t
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        let ok = |k: &str| conds.iter().any(|c| c.type_ == k && c.status == "True");
        let ann = t.metadata.annotations.clone().unwrap_or_default();
        ok("Ready")
            && ok("Synced")
            && !ann.contains_key("hybridspoke.io/connection-details-pending")
    })
}

#[tokio::test]
async fn no_leak_no_duplicate_after_crashes_in_create_and_delete() {
    let (_server, client) = support::cluster::provider_api_server(&[NS, "crossplane-system"]).await;
    let s = Secret {
        metadata: ObjectMeta {
            name: Some("cloudflare".into()),
            namespace: Some("crossplane-system".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "token".to_string(),
            ByteString(TOKEN.as_bytes().to_vec()),
        )])),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), "crossplane-system")
        .create(&PostParams::default(), &s)
        .await
        .unwrap();
    let started = Instant::now();
    let (a, b) = futures::future::join(
        crash_worker(&client, "a", 0x5eed_1234_abcd_ef01),
        crash_worker(&client, "b", 0x0ddb_a11c_afe5_1ead),
    )
    .await;
    let (create_kills, delete_kills) = (a.0 + b.0, a.1 + b.1);
    eprintln!(
        "{} kills ({create_kills} in create, {delete_kills} in delete) over {} resources in {:?}; {} API calls; 0 leaked tunnels, 0 leaked records, 0 duplicates",
        create_kills + delete_kills,
        a.2 + b.2,
        started.elapsed(),
        a.3 + b.3
    );
    assert!(create_kills >= 100 && delete_kills >= 100);
}

/// One sequence of kills against its own fake: at least 50 in create and
/// 50 in delete. Returns (create kills, delete kills, resources, API calls).
async fn crash_worker(client: &kube::Client, worker: &str, seed: u64) -> (u32, u32, u32, u64) {
    let fake = FakeCloudflare::start(TOKEN, &[ZONE]).await;
    let spec = ProviderConfigSpec {
        account_id: ACCOUNT.into(),
        base_url: Some(fake.url.clone()),
        credentials: CloudflareCredentials {
            api_token_secret_ref: SecretKeySelector {
                name: "cloudflare".into(),
                namespace: Some("crossplane-system".into()),
                key: "token".into(),
            },
        },
        // hundreds of creates in minutes: far over Cloudflare's real budget
        rate_limit: Some(RateLimit {
            requests: 100_000,
            window_seconds: 300,
        }),
    };
    fake.set_rate_limit(100_000, Duration::from_secs(300));
    let cpc = pc_namespaced::ClusterProviderConfig::new(
        worker,
        pc_namespaced::ClusterProviderConfigSpec(spec),
    );
    Api::<pc_namespaced::ClusterProviderConfig>::all(client.clone())
        .create(&PostParams::default(), &cpc)
        .await
        .unwrap();
    let foreign = fake.add_record(
        ZONE,
        "www.example.com",
        "CNAME",
        "elsewhere.example.net",
        Some("someone else"),
    );
    let foreign_before = fake.record(&foreign);
    let api = Api::<namespaced::Tunnel>::namespaced(client.clone(), NS);
    let secrets = Api::<Secret>::namespaced(client.clone(), NS);

    // calls an uninterrupted create and delete make: the range of kill points
    let measure = |phase: &str| (phase.to_string(), fake.counters().answered);
    let (_, before) = measure("create");
    api.create(
        &PostParams::default(),
        &tunnel(&format!("{worker}-base"), worker),
    )
    .await
    .unwrap();
    drive(client, &fake, &format!("{worker}-base"), None, ready).await;
    let create_calls = fake.counters().answered - before;
    let before = fake.counters().answered;
    api.delete(&format!("{worker}-base"), &DeleteParams::default())
        .await
        .unwrap();
    drive(client, &fake, &format!("{worker}-base"), None, |t| {
        t.is_none()
    })
    .await;
    let delete_calls = fake.counters().answered - before;
    eprintln!("an uninterrupted create answers {create_calls} calls, a delete {delete_calls}");
    assert!(create_calls >= 5 && delete_calls >= 3);

    let mut rng = Rng(seed);
    let (mut create_kills, mut delete_kills) = (0, 0);
    let mut i = 0;
    while create_kills < 50 || delete_kills < 50 {
        i += 1;
        assert!(
            i < 200,
            "too few kills happened: {create_kills} + {delete_kills}"
        );
        let name = format!("{worker}{i}");
        let created = api
            .create(&PostParams::default(), &tunnel(&name, worker))
            .await
            .unwrap();
        let uid_name = tunnel_name(&created);
        let marker = owner_comment(&created);

        let kill = fake.counters().answered + 1 + rng.below(create_calls);
        if i % 4 == 0 {
            // killed during create, then deleted before it ever converged
            let killed = drive(client, &fake, &name, Some(kill), |t| {
                ready(t) || fake.counters().answered >= kill
            })
            .await;
            api.delete(&name, &DeleteParams::default()).await.unwrap();
            drive(client, &fake, &name, None, |t| t.is_none()).await;
            create_kills += u32::from(killed);
            assert!(
                fake.live_tunnels().is_empty(),
                "{name}: deleted mid-create, a tunnel leaked (kill at {kill})"
            );
            let left: Vec<_> = fake
                .records()
                .into_iter()
                .filter(|r| r.comment.as_deref() == Some(marker.as_str()))
                .collect();
            assert!(
                left.is_empty(),
                "{name}: deleted mid-create, records leaked: {left:?}"
            );
            continue;
        }
        create_kills += u32::from(drive(client, &fake, &name, Some(kill), ready).await);
        let live: Vec<_> = fake
            .live_tunnels()
            .into_iter()
            .filter(|t| t.name == uid_name)
            .collect();
        assert_eq!(
            live.len(),
            1,
            "{name}: one live tunnel, no duplicate (kill at {kill})"
        );
        assert_eq!(
            fake.live_tunnels().len(),
            1,
            "no tunnel of another resource left"
        );
        let mut owned: Vec<String> = fake
            .records()
            .into_iter()
            .filter(|r| r.comment.as_deref() == Some(marker.as_str()))
            .map(|r| r.name)
            .collect();
        owned.sort();
        assert_eq!(
            owned,
            vec![
                format!("{name}-api.example.com"),
                format!("{name}.example.com")
            ],
            "{name}: one record per hostname"
        );
        let t = api.get(&name).await.unwrap();
        let id = t.metadata.annotations.as_ref().unwrap()["crossplane.io/external-name"].clone();
        assert_eq!(
            id, live[0].id,
            "{name}: the recorded tunnel is the live one"
        );
        let token = secrets
            .get(&format!("{name}-tunnel"))
            .await
            .unwrap()
            .data
            .unwrap()["token"]
            .0
            .clone();
        let expected = support::fake_cloudflare::base64(
            json!({"a": ACCOUNT, "t": live[0].id, "s": live[0].secret})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(
            String::from_utf8(token).unwrap(),
            expected,
            "{name}: the Secret holds the live tunnel's token"
        );

        api.delete(&name, &DeleteParams::default()).await.unwrap();
        let kill = fake.counters().answered + 1 + rng.below(delete_calls);
        delete_kills += u32::from(drive(client, &fake, &name, Some(kill), |t| t.is_none()).await);
        assert!(
            fake.live_tunnels().is_empty(),
            "{name}: a tunnel leaked (kill at {kill})"
        );
        let left: Vec<_> = fake
            .records()
            .into_iter()
            .filter(|r| r.comment.as_deref() == Some(marker.as_str()))
            .collect();
        assert!(left.is_empty(), "{name}: records leaked: {left:?}");
        assert_eq!(
            fake.record(&foreign),
            foreign_before,
            "someone else's record was touched"
        );
    }
    assert_eq!(fake.violations(), Vec::<String>::new());
    (create_kills, delete_kills, i, fake.counters().requests)
}
