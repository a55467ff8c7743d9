//! Tunnel end to end on a real kube-apiserver + etcd (the test-peers crate;
//! `bash tests/tools/peers.sh && . target/peers/env.sh` first), the
//! controllers running in-process, the Cloudflare API played by the
//! OpenAPI-checking stateful fake (tests/support/fake_cloudflare.rs).

use crate::support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hybrid_spoke_test_peers::KubeApiServer;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use provider_hybrid_spoke::apis::cloudflare::{
    CloudflareCredentials, IngressRule, ProviderConfigSpec, RateLimit, TunnelParameters, cluster,
    namespaced, pc_cluster, pc_namespaced,
};
use provider_hybrid_spoke::apis::{
    Condition, DeletionPolicy, LocalSecretReference, ManagementAction, ProviderConfigReference,
    SecretKeySelector, SecretReference, TypedProviderConfigReference,
};
use provider_hybrid_spoke::cloudflare::ClientOptions;
use provider_hybrid_spoke::cloudflare::tunnel::{self, owner_comment};
use provider_hybrid_spoke::managed::reconciler::Options;
use provider_hybrid_spoke::manager::{Controllers, Settings, Shutdown};
use provider_hybrid_spoke::metrics::Metrics;
use serde_json::json;
use support::fake_cloudflare::{ACCOUNT, FakeCloudflare, FakeRecord, Faults};

const TOKEN: &str = "cf-api-token-peer-test-0123456789";
const NS: &str = "spokes";
const ZONE: &str = "example.com";

struct Env {
    _server: KubeApiServer,
    client: kube::Client,
    fake: FakeCloudflare,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn pc_spec(url: &str, limit: Option<RateLimit>) -> ProviderConfigSpec {
    ProviderConfigSpec {
        account_id: ACCOUNT.into(),
        base_url: Some(url.into()),
        credentials: CloudflareCredentials {
            api_token_secret_ref: SecretKeySelector {
                name: "cloudflare".into(),
                namespace: Some("crossplane-system".into()),
                key: "token".into(),
            },
        },
        rate_limit: limit,
    }
}

/// Fast timings: lists reused for 1 s, per-tunnel checks every 2 s.
fn settings(client: ClientOptions) -> Settings {
    Settings {
        reconcile: Options {
            poll: Duration::from_secs(1),
            poll_jitter: 0.1,
            creation_grace: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
            ..Options::default()
        },
        max_reconcile_rate: 50,
        poll_state_metric: Duration::from_millis(500),
        cloudflare: tunnel::Options {
            client,
            list_window: Duration::from_secs(1),
            check_interval: Duration::from_secs(2),
        },
        ..Settings::default()
    }
}

async fn setup(limit: Option<RateLimit>, client_opts: ClientOptions) -> Env {
    let (server, client) = support::cluster::provider_api_server(&[NS, "crossplane-system"]).await;
    let fake = FakeCloudflare::start(TOKEN, &[ZONE, "example.org"]).await;
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
    let cpc = pc_namespaced::ClusterProviderConfig::new(
        "default",
        pc_namespaced::ClusterProviderConfigSpec(pc_spec(&fake.url, limit.clone())),
    );
    Api::<pc_namespaced::ClusterProviderConfig>::all(client.clone())
        .create(&PostParams::default(), &cpc)
        .await
        .unwrap();
    let legacy = pc_cluster::ProviderConfig::new(
        "default",
        pc_cluster::ProviderConfigSpecCluster(pc_spec(&fake.url, limit)),
    );
    Api::<pc_cluster::ProviderConfig>::all(client.clone())
        .create(&PostParams::default(), &legacy)
        .await
        .unwrap();
    let controllers = Controllers::new(
        client.clone(),
        settings(client_opts),
        Arc::new(Metrics::new()),
    );
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(controllers.run(shutdown));
    Env {
        _server: server,
        client,
        fake,
        stop,
    }
}

fn rule(host: &str, service: &str) -> IngressRule {
    IngressRule {
        hostname: host.into(),
        service: service.into(),
        ..Default::default()
    }
}

fn ns_tunnel(name: &str, ingress: Vec<IngressRule>) -> namespaced::Tunnel {
    let mut t = namespaced::Tunnel::new(
        name,
        namespaced::TunnelSpec {
            rotation: None,
            for_provider: TunnelParameters {
                zone: ZONE.into(),
                ingress,
                catch_all: "http_status:404".into(),
                origin_request: None,
            },
            write_connection_secret_to_ref: Some(LocalSecretReference {
                name: format!("{name}-tunnel"),
            }),
            provider_config_ref: TypedProviderConfigReference::default(),
            management_policies: vec![ManagementAction::All],
        },
    );
    t.metadata.namespace = Some(NS.into());
    t
}

fn cond(conds: &[Condition], t: &str) -> Option<Condition> {
    conds.iter().find(|c| c.type_ == t).cloned()
}

fn is(t: &namespaced::Tunnel, kind: &str, status: &str) -> bool {
    let conds = t
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    cond(&conds, kind).is_some_and(|c| c.status == status)
}

async fn wait_for<T, F>(what: &str, secs: u64, mut probe: F) -> T
where
    F: AsyncFnMut() -> Option<T>,
{
    support::wait::wait_until(what, secs, async || probe().await.ok_or_else(String::new)).await
}

async fn wait_tunnel(
    api: &Api<namespaced::Tunnel>,
    name: &str,
    what: &str,
    pred: impl Fn(&namespaced::Tunnel) -> bool,
) -> namespaced::Tunnel {
    support::wait::wait_object(api, name, what, 120, pred).await
}

fn external_name(t: &namespaced::Tunnel) -> String {
    t.metadata.annotations.as_ref().unwrap()["crossplane.io/external-name"].clone()
}

/// The records carrying this resource's ownership marker.
fn owned(fake: &FakeCloudflare, marker: &str) -> Vec<FakeRecord> {
    fake.records()
        .into_iter()
        .filter(|r| r.comment.as_deref() == Some(marker))
        .collect()
}

fn hosts(records: &[FakeRecord]) -> Vec<String> {
    let mut h: Vec<String> = records.iter().map(|r| r.name.clone()).collect();
    h.sort();
    h
}

fn fake_ingress(fake: &FakeCloudflare, id: &str) -> Vec<(Option<String>, String)> {
    let cfg = fake.tunnel(id).unwrap().config.unwrap_or_default();
    cfg["ingress"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r["hostname"].as_str().map(String::from),
                r["service"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn token_in_secret(client: &kube::Client, name: &str) -> Option<String> {
    let s = Api::<Secret>::namespaced(client.clone(), NS)
        .get_opt(name)
        .await
        .unwrap()?;
    s.data?
        .get("token")
        .map(|b| String::from_utf8(b.0.clone()).unwrap())
}

/// The token the fake hands out for a tunnel.
fn fake_token(fake: &FakeCloudflare, id: &str) -> String {
    let t = fake.tunnel(id).unwrap();
    support::fake_cloudflare::base64(
        json!({"a": ACCOUNT, "t": t.id, "s": t.secret})
            .to_string()
            .as_bytes(),
    )
}

#[tokio::test]
async fn tunnel_lifecycle_drift_foreign_records_and_delete() {
    let env = setup(None, ClientOptions::default()).await;
    let fake = &env.fake;
    // someone else's records in the zone: never touched
    let foreign_other = fake.add_record(
        ZONE,
        "www.example.com",
        "CNAME",
        "elsewhere.example.net",
        Some("team web"),
    );
    let foreign_taken = fake.add_record(ZONE, "taken.example.com", "A", "198.51.100.9", None);
    let foreign_before: Vec<FakeRecord> = fake.records();

    let api = Api::<namespaced::Tunnel>::namespaced(env.client.clone(), NS);
    let spec = ns_tunnel(
        "eu-1",
        vec![
            rule("app.example.com", "http://app.default:80"),
            rule("api.example.com", "http://api.default:8080"),
        ],
    );
    api.create(&PostParams::default(), &spec).await.unwrap();

    // create -> Ready, token in the connection Secret, CNAMEs in place
    let t = wait_tunnel(&api, "eu-1", "Ready", |t| {
        is(t, "Ready", "True") && is(t, "Synced", "True")
    })
    .await;
    let id = external_name(&t);
    let ft = fake.tunnel(&id).expect("the tunnel exists");
    assert_eq!(ft.config_src, "cloudflare");
    assert_eq!(
        ft.name,
        format!("hybrid-spoke-{}", t.metadata.uid.clone().unwrap())
    );
    assert_eq!(fake.live_tunnels().len(), 1);
    assert_eq!(
        fake_ingress(fake, &id),
        vec![
            (
                Some("app.example.com".into()),
                "http://app.default:80".into()
            ),
            (
                Some("api.example.com".into()),
                "http://api.default:8080".into()
            ),
            (None, "http_status:404".into()),
        ]
    );
    assert_eq!(
        token_in_secret(&env.client, "eu-1-tunnel").await,
        Some(fake_token(fake, &id))
    );
    let marker = owner_comment(&t);
    let records = owned(fake, &marker);
    assert_eq!(hosts(&records), vec!["api.example.com", "app.example.com"]);
    for r in &records {
        assert_eq!(
            (r.record_type.as_str(), r.content.clone(), r.proxied),
            ("CNAME", format!("{id}.cfargotunnel.com"), true)
        );
    }
    let ap = t.status.as_ref().unwrap().at_provider.clone().unwrap();
    assert_eq!(ap.id.as_deref(), Some(id.as_str()));
    assert_eq!(ap.cname, Some(format!("{id}.cfargotunnel.com")));
    let mut status_ids: Vec<String> = ap.dns_records.iter().map(|r| r.id.clone()).collect();
    let mut record_ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    status_ids.sort();
    record_ids.sort();
    assert_eq!(status_ids, record_ids);

    // cloudflared connects: the status counts its connections
    fake.connect(&id, 2);
    wait_tunnel(&api, "eu-1", "showing 8 connections", |t| {
        t.status
            .as_ref()
            .and_then(|s| s.at_provider.as_ref())
            .and_then(|a| a.active_connections)
            == Some(8)
    })
    .await;

    // update of rules: a service changes, a hostname is added, one removed
    let mut changed = api.get("eu-1").await.unwrap();
    changed.spec.for_provider.ingress = vec![
        rule("app.example.com", "http://app.default:81"),
        rule("new.example.com", "https://new.default:443"),
    ];
    api.replace("eu-1", &PostParams::default(), &changed)
        .await
        .unwrap();
    wait_for("updated", 60, async || {
        let ingress = fake_ingress(fake, &id);
        let h = hosts(&owned(fake, &marker));
        (ingress.first()
            == Some(&(
                Some("app.example.com".into()),
                "http://app.default:81".into(),
            ))
            && h == vec!["app.example.com".to_string(), "new.example.com".to_string()])
        .then_some(())
    })
    .await;

    // drift 1: the configuration edited outside comes back
    fake.set_config(&id, json!({"ingress": [{"service": "http_status:503"}]}));
    wait_for("config restored", 60, async || {
        (fake_ingress(fake, &id).len() == 3).then_some(())
    })
    .await;
    assert_eq!(
        fake_ingress(fake, &id)[1],
        (
            Some("new.example.com".into()),
            "https://new.default:443".into()
        )
    );

    // drift 2: a deleted record comes back
    let app = owned(fake, &marker)
        .into_iter()
        .find(|r| r.name == "app.example.com")
        .unwrap();
    fake.remove_record(&app.id);
    let back = wait_for("record re-created", 60, async || {
        owned(fake, &marker)
            .into_iter()
            .find(|r| r.name == "app.example.com")
    })
    .await;
    assert_eq!(back.content, format!("{id}.cfargotunnel.com"));

    // drift 3: an altered record is corrected
    fake.edit_record(&back.id, |r| {
        r.content = "attacker.example.net".into();
        r.proxied = false;
    });
    wait_for("record corrected", 60, async || {
        fake.record(&back.id)
            .filter(|r| r.content == format!("{id}.cfargotunnel.com") && r.proxied)
            .map(|_| ())
    })
    .await;

    // a hostname whose record belongs to someone else: a clear condition, no overwrite
    let mut taken = api.get("eu-1").await.unwrap();
    taken
        .spec
        .for_provider
        .ingress
        .push(rule("taken.example.com", "http://taken.default:80"));
    api.replace("eu-1", &PostParams::default(), &taken)
        .await
        .unwrap();
    let t = wait_tunnel(&api, "eu-1", "Synced=False on the foreign record", |t| {
        let conds = t
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        cond(&conds, "Synced").is_some_and(|c| {
            c.status == "False" && c.message.unwrap_or_default().contains("taken.example.com")
        }) && cond(&conds, "Ready").is_some_and(|c| c.status == "False")
    })
    .await;
    // Ready=False and Synced=False say the same, in the operator's words
    let expected = format!(
        "DNS records for taken.example.com already exist and are not owned by this Tunnel (their comment is not {:?}); not overwritten: remove them or change the hostnames",
        owner_comment(&t)
    );
    let conds = t.status.clone().unwrap().conditions;
    let synced = cond(&conds, "Synced").unwrap();
    let ready = cond(&conds, "Ready").unwrap();
    assert_eq!(
        (synced.reason.as_str(), synced.message.as_deref()),
        ("Conflict", Some(expected.as_str()))
    );
    assert_eq!(
        (ready.reason.as_str(), ready.message.as_deref()),
        ("Unavailable", Some(expected.as_str()))
    );
    let events = Api::<Event>::namespaced(env.client.clone(), NS)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(events.items.iter().any(|e| {
        e.note
            .as_deref()
            .is_some_and(|n| n.contains("taken.example.com"))
    }));
    // removing the hostname again clears it
    let mut back_to = api.get("eu-1").await.unwrap();
    back_to.spec.for_provider.ingress.pop();
    api.replace("eu-1", &PostParams::default(), &back_to)
        .await
        .unwrap();
    wait_tunnel(&api, "eu-1", "Synced again", |t| {
        is(t, "Synced", "True") && is(t, "Ready", "True")
    })
    .await;

    // no secret in events, status or spec
    let events = serde_json::to_string(
        &Api::<Event>::all(env.client.clone())
            .list(&ListParams::default())
            .await
            .unwrap()
            .items,
    )
    .unwrap();
    let tunnels =
        serde_json::to_string(&api.list(&ListParams::default()).await.unwrap().items).unwrap();
    for secret in [fake_token(fake, &id), TOKEN.to_string()] {
        assert!(
            !events.contains(&secret) && !tunnels.contains(&secret),
            "a secret leaked"
        );
    }

    // delete: records, connections, then the tunnel; others' records stay
    api.delete("eu-1", &DeleteParams::default()).await.unwrap();
    wait_for("deleted", 60, async || {
        api.get_opt("eu-1").await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(fake.live_tunnels().is_empty(), "no live tunnel left");
    assert!(
        fake.tunnel(&id).unwrap().deleted_at.is_some(),
        "the tunnel reports deleted_at"
    );
    assert!(owned(fake, &marker).is_empty(), "no record of its own left");
    for r in foreign_before
        .iter()
        .filter(|r| [&foreign_other, &foreign_taken].contains(&&r.id))
    {
        assert_eq!(
            fake.record(&r.id).as_ref(),
            Some(r),
            "someone else's record was touched"
        );
    }
    assert!(
        token_in_secret(&env.client, "eu-1-tunnel").await.is_none(),
        "the connection Secret went with it"
    );
    // in order: records, connections, tunnel
    let log: Vec<String> = fake.with(|s| s.log.iter().cloned().collect());
    let last = |what: &str| {
        log.iter()
            .rposition(|l| l.starts_with(what) && l.ends_with("200"))
    };
    let first = |what: &str| {
        log.iter()
            .position(|l| l.starts_with(what) && l.ends_with("200"))
    };
    let records_done = last("DELETE /zones/").expect("records deleted");
    let connections = first(&format!(
        "DELETE /accounts/{ACCOUNT}/cfd_tunnel/{id}/connections"
    ))
    .expect("connections deleted");
    let tunnel_deleted = log
        .iter()
        .position(|l| *l == format!("DELETE /accounts/{ACCOUNT}/cfd_tunnel/{id} -> 200"))
        .expect("tunnel deleted");
    assert!(
        records_done < connections && connections < tunnel_deleted,
        "{log:#?}"
    );
    assert_eq!(
        fake.violations(),
        Vec::<String>::new(),
        "OpenAPI violations"
    );
}

#[tokio::test]
async fn legacy_tunnel_and_bad_zone() {
    let env = setup(None, ClientOptions::default()).await;
    let fake = &env.fake;
    let api = Api::<cluster::Tunnel>::all(env.client.clone());
    let t = cluster::Tunnel::new(
        "legacy-1",
        cluster::TunnelSpec {
            rotation: None,
            for_provider: TunnelParameters {
                zone: "example.org".into(),
                ingress: vec![rule("svc.example.org", "tcp://db.default:5432")],
                catch_all: "http_status:404".into(),
                origin_request: None,
            },
            write_connection_secret_to_ref: Some(SecretReference {
                name: "legacy-1-tunnel".into(),
                namespace: NS.into(),
            }),
            provider_config_ref: ProviderConfigReference::default(),
            management_policies: vec![ManagementAction::All],
            deletion_policy: DeletionPolicy::Delete,
        },
    );
    api.create(&PostParams::default(), &t).await.unwrap();
    let ready = wait_for("legacy Ready", 90, async || {
        let t = api.get("legacy-1").await.unwrap();
        let conds = t
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        cond(&conds, "Ready")
            .filter(|c| c.status == "True")
            .map(|_| t)
    })
    .await;
    let marker = owner_comment(&ready);
    assert_eq!(hosts(&owned(fake, &marker)), vec!["svc.example.org"]);
    assert!(
        token_in_secret(&env.client, "legacy-1-tunnel")
            .await
            .is_some()
    );

    // a zone the token cannot see: Synced=False with the reason
    let ns_api = Api::<namespaced::Tunnel>::namespaced(env.client.clone(), NS);
    let mut bad = ns_tunnel("nozone", vec![rule("a.example.net", "http://a:80")]);
    bad.spec.for_provider.zone = "example.net".into();
    ns_api.create(&PostParams::default(), &bad).await.unwrap();
    let t = wait_tunnel(&ns_api, "nozone", "Synced=False", |t| {
        is(t, "Synced", "False")
    })
    .await;
    let msg = cond(&t.status.unwrap().conditions, "Synced")
        .unwrap()
        .message
        .unwrap();
    assert!(msg.contains("zone example.net not found"), "{msg}");
    // a hostname outside the zone: refused with the reason
    let mut outside = ns_tunnel("outside", vec![rule("a.example.org", "http://a:80")]);
    outside.spec.for_provider.zone = ZONE.into();
    ns_api
        .create(&PostParams::default(), &outside)
        .await
        .unwrap();
    let t = wait_tunnel(&ns_api, "outside", "Synced=False", |t| {
        is(t, "Synced", "False")
    })
    .await;
    let msg = cond(&t.status.unwrap().conditions, "Synced")
        .unwrap()
        .message
        .unwrap();
    assert!(msg.contains("not in zone example.com"), "{msg}");
    // the zone is immutable (CEL)
    let e = ns_api
        .patch(
            "outside",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"forProvider": {"zone": "example.org"}}})),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("zone is immutable"), "{e}");

    // the tunnel deleted outside: a new one, the records follow it
    let old_id =
        ready.metadata.annotations.as_ref().unwrap()["crossplane.io/external-name"].clone();
    fake.delete_tunnel_outside(&old_id);
    let new_id = wait_for("re-created", 60, async || {
        let t = api.get("legacy-1").await.unwrap();
        let id = t.metadata.annotations.as_ref().unwrap()["crossplane.io/external-name"].clone();
        let repointed = owned(fake, &marker)
            .iter()
            .all(|r| r.content == format!("{id}.cfargotunnel.com"));
        // the status write (Replaced) follows the new external-name
        let told = t.status.as_ref().is_some_and(|s| {
            cond(&s.conditions, "Replaced")
                .and_then(|c| c.message)
                .is_some_and(|m| m.contains(&id))
        });
        (id != old_id && repointed && told).then_some(id)
    })
    .await;
    assert_eq!(
        fake.live_tunnels()
            .iter()
            .map(|t| t.id.clone())
            .collect::<Vec<_>>(),
        vec![new_id.clone()]
    );
    assert!(fake.tunnel(&old_id).unwrap().deleted_at.is_some());
    let t = api.get("legacy-1").await.unwrap();
    let conds = t
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    assert_eq!(
        cond(&conds, "Replaced").map(|c| c.reason),
        Some("NotFound".to_string())
    );

    // deleted while its tunnel is already gone: its records still go
    api.patch(
        "legacy-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"crossplane.io/paused": "true"}}})),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    fake.delete_tunnel_outside(&new_id);
    api.delete("legacy-1", &DeleteParams::default())
        .await
        .unwrap();
    api.patch(
        "legacy-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"crossplane.io/paused": null}}})),
    )
    .await
    .unwrap();
    wait_for("legacy deleted", 60, async || {
        api.get_opt("legacy-1")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(fake.live_tunnels().is_empty());
    assert!(owned(fake, &marker).is_empty());
    assert_eq!(fake.violations(), Vec::<String>::new());
}

/// 20 % 5xx, 10 % 429 with Retry-After, 5 % timeouts: every Tunnel
/// converges (create, update, delete), and the client never goes over the
/// budget the fake enforces.
#[tokio::test]
async fn converges_under_faults_within_the_rate_limit() {
    let limit = RateLimit {
        requests: 60,
        window_seconds: 5,
    };
    let opts = ClientOptions {
        request_timeout: Duration::from_millis(700),
        max_attempts: 8,
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(500),
        max_retry_after: Duration::from_secs(5),
        ..ClientOptions::default()
    };
    let env = setup(Some(limit), opts).await;
    let fake = &env.fake;
    fake.set_rate_limit(60, Duration::from_secs(5));
    fake.seed(7);
    fake.set_faults(Faults {
        server_errors: 0.20,
        too_many_requests: 0.10,
        timeouts: 0.05,
        timeout_delay: Duration::from_millis(1200),
        retry_after: 1,
    });
    let api = Api::<namespaced::Tunnel>::namespaced(env.client.clone(), NS);
    let names: Vec<String> = (0..6).map(|i| format!("faulty-{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        let t = ns_tunnel(
            n,
            vec![
                rule(&format!("h{i}.example.com"), "http://svc:80"),
                rule(&format!("g{i}.example.com"), "http://svc:81"),
            ],
        );
        api.create(&PostParams::default(), &t).await.unwrap();
    }
    let mut markers = Vec::new();
    for n in &names {
        let t = wait_tunnel(&api, n, "Ready under faults", |t| {
            is(t, "Ready", "True") && is(t, "Synced", "True")
        })
        .await;
        assert!(
            token_in_secret(&env.client, &format!("{n}-tunnel"))
                .await
                .is_some()
        );
        markers.push(owner_comment(&t));
    }
    assert_eq!(
        fake.live_tunnels().len(),
        names.len(),
        "one tunnel each, no duplicate"
    );
    for m in &markers {
        assert_eq!(owned(fake, m).len(), 2, "two records each, no duplicate");
    }
    // updates converge too: a new service on every first rule
    for n in &names {
        let mut t = api.get(n).await.unwrap();
        t.spec.for_provider.ingress[0].service = "http://svc:8080".into();
        api.replace(n, &PostParams::default(), &t).await.unwrap();
    }
    for n in &names {
        let id = external_name(&api.get(n).await.unwrap());
        wait_for("updated under faults", 120, async || {
            (fake_ingress(fake, &id).first().map(|r| r.1.as_str()) == Some("http://svc:8080"))
                .then_some(())
        })
        .await;
    }
    for n in &names {
        api.delete(n, &DeleteParams::default()).await.unwrap();
    }
    wait_for("all deleted", 180, async || {
        api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
            .then_some(())
    })
    .await;
    assert!(fake.live_tunnels().is_empty());
    for m in &markers {
        assert!(owned(fake, m).is_empty());
    }
    let c = fake.counters();
    eprintln!("faults: {c:?}");
    assert!(
        c.injected_5xx > 0 && c.injected_429 > 0 && c.injected_timeouts > 0,
        "faults were injected: {c:?}"
    );
    assert_eq!(
        c.rate_limited, 0,
        "the client went over the rate limit: {c:?}"
    );
    assert!(c.max_in_window <= 60, "{c:?}");
    assert_eq!(fake.violations(), Vec::<String>::new());
}

/// The notes of the events of `reason` about `name`.
/// A Tunnel's token Secret deleted, then edited: the same token is read
/// again and published, no new tunnel, an event says what happened.
#[tokio::test]
async fn a_deleted_token_secret_is_published_again() {
    let env = setup(None, ClientOptions::default()).await;
    let api = Api::<namespaced::Tunnel>::namespaced(env.client.clone(), NS);
    let secrets = Api::<Secret>::namespaced(env.client.clone(), NS);
    api.create(
        &PostParams::default(),
        &ns_tunnel("keep", vec![rule("keep.example.com", "http://keep:80")]),
    )
    .await
    .unwrap();
    let t = wait_tunnel(&api, "keep", "Ready", |t| {
        is(t, "Ready", "True") && is(t, "Synced", "True")
    })
    .await;
    let id = external_name(&t);
    let token = fake_token(&env.fake, &id);
    assert_eq!(
        token_in_secret(&env.client, "keep-tunnel").await.as_deref(),
        Some(token.as_str())
    );
    let creates = || {
        env.fake
            .counters()
            .by_route
            .iter()
            .filter(|(route, _)| route.starts_with("POST ") && route.ends_with("/cfd_tunnel"))
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let created = creates();
    assert_eq!(created, 1, "the create made one tunnel");

    secrets
        .delete("keep-tunnel", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the token published again", 30, async || {
        token_in_secret(&env.client, "keep-tunnel")
            .await
            .filter(|t| *t == token)
    })
    .await;
    wait_for("the event", 10, async || {
        support::event_notes(&env.client, NS, "keep", "RepublishedConnectionDetails")
            .await
            .contains(&format!(
                "the connection Secret {NS}/keep-tunnel is missing: wrote token again, as read from the API"
            ))
            .then_some(())
    })
    .await;

    // edited: the token emptied
    let mut s = secrets.get("keep-tunnel").await.unwrap();
    s.data
        .as_mut()
        .unwrap()
        .insert("token".into(), ByteString(Vec::new()));
    secrets
        .replace("keep-tunnel", &PostParams::default(), &s)
        .await
        .unwrap();
    wait_for("the token written back", 30, async || {
        token_in_secret(&env.client, "keep-tunnel")
            .await
            .filter(|t| *t == token)
    })
    .await;
    assert!(
        support::event_notes(&env.client, NS, "keep", "RepublishedConnectionDetails")
            .await
            .contains(&format!(
                "the connection Secret {NS}/keep-tunnel lacks token: wrote token again, as read from the API"
            ))
    );
    let t = api.get("keep").await.unwrap();
    assert_eq!(external_name(&t), id, "the same tunnel");
    assert_eq!(env.fake.live_tunnels().len(), 1);
    assert_eq!(creates(), created, "no tunnel created");
    assert!(is(&t, "Ready", "True") && is(&t, "Synced", "True"));
    assert_eq!(env.fake.violations(), Vec::<String>::new());
}

/// A 429 with Retry-After 15 s and 90 s (longer than the client's 5 s
/// in-call wait): the reconcile ends at once with Synced=False/RateLimited
/// naming service, endpoint and retry time, and no request reaches the API
/// before the retry time (the fake counts them). The two run side by side,
/// each on its own API server and fake.
#[tokio::test]
async fn a_rate_limit_is_a_condition_not_a_timeout() {
    futures::future::join(rate_limited_for(15), rate_limited_for(90)).await;
}

async fn rate_limited_for(retry: u64) {
    {
        let env = setup(None, ClientOptions::default()).await;
        env.fake.set_faults(Faults {
            too_many_requests: 1.0,
            retry_after: retry,
            ..Default::default()
        });
        let api = Api::<namespaced::Tunnel>::namespaced(env.client.clone(), NS);
        let name = format!("limited-{retry}");
        api.create(
            &PostParams::default(),
            &ns_tunnel(&name, vec![rule("limited.example.com", "http://l:80")]),
        )
        .await
        .unwrap();
        let started = Instant::now();
        let t = wait_tunnel(&api, &name, "RateLimited", |t| {
            let conds = t
                .status
                .as_ref()
                .map(|s| s.conditions.clone())
                .unwrap_or_default();
            cond(&conds, "Synced").is_some_and(|c| c.reason == "RateLimited")
        })
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "one reconcile, not the 60 s timeout: {:?}",
            started.elapsed()
        );
        env.fake.set_faults(Faults::default());
        let synced = cond(&t.status.unwrap().conditions, "Synced").unwrap();
        assert_eq!(synced.status, "False");
        let message = synced.message.unwrap();
        let (head, at) = message.rsplit_once(" (at ").expect("a retry time");
        assert_eq!(
            head,
            format!(
                "rate limited by Cloudflare: GET /accounts/{ACCOUNT}/cfd_tunnel answered HTTP 429: 971 Please wait and consider throttling your request speed; retrying after {retry}s"
            )
        );
        let at: jiff::Timestamp = at.trim_end_matches(')').parse().unwrap();
        let wait = at.duration_since(jiff::Timestamp::now()).as_secs_f64();
        assert!(
            wait > retry as f64 - 10.0 && wait <= retry as f64 + 1.0,
            "retry at {at}, {wait}s from now"
        );
        // the one 429 is all the API saw, though the resource was polled
        assert_eq!(env.fake.counters().requests, 1);
        assert_eq!(env.fake.counters().injected_429, 1);
        tokio::time::sleep(Duration::from_secs(8)).await;
        assert_eq!(
            env.fake.counters().requests,
            1,
            "no request before Retry-After: {:?}",
            env.fake.counters().by_route
        );
        assert!(
            support::event_notes(&env.client, NS, &name, "RateLimited")
                .await
                .iter()
                .any(|n| n.starts_with("rate limited by Cloudflare: GET /accounts/")),
            "a RateLimited Warning event"
        );
        if retry == 15 {
            // after Retry-After it carries on
            wait_tunnel(&api, &name, "Ready after Retry-After", |t| {
                is(t, "Ready", "True") && is(t, "Synced", "True")
            })
            .await;
            let waited = started.elapsed();
            assert!(waited >= Duration::from_secs(13), "{waited:?}");
        }
        assert_eq!(env.fake.violations(), Vec::<String>::new());
    }
}

/// The client-side budget used up: the requests it holds back are a
/// RateLimited state too (not a sleep until the reconcile's timeout), and
/// the API never sees more than the budget.
#[tokio::test]
async fn a_used_up_budget_is_a_condition() {
    let limit = RateLimit {
        requests: 4,
        window_seconds: 60,
    };
    let env = setup(Some(limit), ClientOptions::default()).await;
    env.fake.set_rate_limit(4, Duration::from_secs(60));
    let api = Api::<namespaced::Tunnel>::namespaced(env.client.clone(), NS);
    api.create(
        &PostParams::default(),
        &ns_tunnel("budget", vec![rule("budget.example.com", "http://b:80")]),
    )
    .await
    .unwrap();
    let t = wait_tunnel(&api, "budget", "RateLimited", |t| {
        let conds = t
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        cond(&conds, "Synced").is_some_and(|c| c.reason == "RateLimited")
    })
    .await;
    let message = cond(&t.status.unwrap().conditions, "Synced")
        .unwrap()
        .message
        .unwrap();
    let (head, _) = message.rsplit_once("; retrying after ").unwrap();
    assert!(
        head.starts_with("rate limited by Cloudflare: ")
            && head.ends_with(" not sent: the API token's budget of 4 requests per 60s is used up"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let c = env.fake.counters();
    assert_eq!(c.requests, 4, "{:?}", c.by_route);
    assert_eq!(c.rate_limited, 0, "the API never had to refuse");
}
