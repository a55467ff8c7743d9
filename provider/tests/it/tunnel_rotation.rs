//! `spec.rotation` on a Tunnel: once the tunnel secret is `rotation.every`
//! old, Observe reports drift and Update sets a new random secret
//! (`PATCH cfd_tunnel/{id}` with `tunnel_secret`, checked by the Cloudflare
//! fake against the vendored OpenAPI document), reads the new token and
//! returns it as the connection detail to publish, with
//! `status.atProvider.secretRotatedAt`. A running cloudflared keeps the
//! connections it made with the old secret and must be restarted with the
//! new token (docs/provider.md).

use crate::support;

use std::time::Duration;

use provider_hybrid_spoke::apis::cloudflare::{
    IngressRule, TunnelObservation, TunnelParameters, TunnelRotation, TunnelStatus, namespaced,
};
use provider_hybrid_spoke::apis::{
    LocalSecretReference, ManagementAction, TypedProviderConfigReference,
};
use provider_hybrid_spoke::cloudflare::tunnel::{
    self, CloudflareConnector, KEY_TOKEN, TunnelClient, rotation_due,
};
use provider_hybrid_spoke::cloudflare::{Client, ClientOptions};
use provider_hybrid_spoke::managed::{ExternalClient, Managed};
use serde_json::json;
use support::fake_cloudflare::{ACCOUNT, FakeCloudflare, base64};

const TOKEN: &str = "cf-token-rotation-test-0123456789";
const ZONE: &str = "example.com";

fn tunnel(every: Option<&str>) -> namespaced::Tunnel {
    let mut t = namespaced::Tunnel::new(
        "spoke",
        namespaced::TunnelSpec {
            rotation: every.map(|e| TunnelRotation { every: e.into() }),
            for_provider: TunnelParameters {
                zone: ZONE.into(),
                ingress: vec![IngressRule {
                    hostname: "app.example.com".into(),
                    service: "http://app:80".into(),
                    ..Default::default()
                }],
                catch_all: "http_status:404".into(),
                origin_request: None,
            },
            write_connection_secret_to_ref: Some(LocalSecretReference {
                name: "spoke-tunnel".into(),
            }),
            provider_config_ref: TypedProviderConfigReference::default(),
            management_policies: vec![ManagementAction::All],
        },
    );
    t.metadata.namespace = Some("spokes".into());
    t.metadata.uid = Some("00000000-0000-4000-8000-000000000001".into());
    t
}

async fn client(fake: &FakeCloudflare) -> TunnelClient {
    let connector = CloudflareConnector::new(tunnel::Options {
        client: ClientOptions::default(),
        // every observe lists again (the test ages tunnels in the fake)
        list_window: Duration::from_millis(1),
        check_interval: Duration::from_secs(3600),
    });
    let api = Client::new(
        reqwest::Client::new(),
        &fake.url,
        ACCOUNT,
        TOKEN,
        1200,
        Duration::from_secs(300),
        ClientOptions::default(),
    );
    connector.external(api)
}

/// The token the fake gives for the tunnel's current secret.
fn expected_token(fake: &FakeCloudflare, id: &str) -> Vec<u8> {
    let secret = fake.tunnel(id).expect("the tunnel").secret;
    base64(
        json!({"a": ACCOUNT, "t": id, "s": secret})
            .to_string()
            .as_bytes(),
    )
    .into_bytes()
}

/// Makes the tunnel (and the status' record of its secret) `age` old.
fn age(fake: &FakeCloudflare, mr: &mut namespaced::Tunnel, id: &str, age: Duration) {
    let then = jiff::Timestamp::now() - jiff::SignedDuration::try_from(age).expect("a duration");
    fake.with(|s| {
        if let Some(t) = s.tunnels.get_mut(id) {
            t.created_at = then;
        }
    });
    mr.status = Some(TunnelStatus {
        at_provider: Some(TunnelObservation {
            id: Some(id.into()),
            secret_rotated_at: Some(then.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    });
}

#[tokio::test]
async fn a_due_secret_is_rotated_once_and_its_new_token_published() {
    let fake = FakeCloudflare::start(TOKEN, &[ZONE]).await;
    let client = client(&fake).await;
    let mut mr = tunnel(Some("720h"));
    let created = client.create(&mr).await.expect("create");
    let id = created.external_name.clone();
    let first = created.connection_details[KEY_TOKEN].clone();
    assert_eq!(first, expected_token(&fake, &id));

    // fresh: nothing to do
    let o = client.observe(&mr, Some(&id)).await.expect("observe");
    assert!(o.exists && o.up_to_date, "{:?}", o.diff);

    // 31 days later (a provider started since, which lists the tunnels
    // afresh): due
    age(&fake, &mut mr, &id, Duration::from_secs(31 * 24 * 3600));
    let client = self::client(&fake).await;
    let o = client.observe(&mr, Some(&id)).await.expect("observe");
    assert!(!o.up_to_date);
    let diff = o.diff.unwrap_or_default();
    assert!(
        diff.contains("the tunnel secret")
            && diff.contains("due for rotation (rotation.every 720h)"),
        "{diff}"
    );
    assert!(
        !diff.contains(&fake.tunnel(&id).expect("tunnel").secret),
        "no secret in the diff"
    );

    let updated = client.update(&mr, &id).await.expect("update");
    let token = updated.connection_details[KEY_TOKEN].clone();
    assert_ne!(token, first, "a new token");
    assert_eq!(
        token,
        expected_token(&fake, &id),
        "the token of the new secret"
    );
    assert_eq!(fake.tunnel(&id).expect("tunnel").secret_changes, 1);
    let ap: TunnelObservation =
        serde_json::from_value(updated.at_provider.expect("atProvider")).expect("atProvider");
    let rotated: jiff::Timestamp = ap
        .secret_rotated_at
        .expect("secretRotatedAt")
        .parse()
        .expect("RFC 3339");
    assert!(jiff::Timestamp::now().duration_since(rotated).as_secs() < 60);

    // the reconciler writes that atProvider: the next observe is up to date
    // and publishes the new token; no second rotation
    mr.status = Some(TunnelStatus {
        at_provider: Some(TunnelObservation {
            secret_rotated_at: Some(rotated.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let o = client.observe(&mr, Some(&id)).await.expect("observe");
    assert!(o.up_to_date, "{:?}", o.diff);
    assert_eq!(o.connection_details[KEY_TOKEN], token);
    let at: TunnelObservation =
        serde_json::from_value(o.at_provider.expect("atProvider")).expect("atProvider");
    assert_eq!(at.secret_rotated_at, Some(rotated.to_string()));
    client.update(&mr, &id).await.expect("update");
    assert_eq!(fake.tunnel(&id).expect("tunnel").secret_changes, 1);

    // a new process (no memory of the rotation) goes by the status
    let restarted = self::client(&fake).await;
    let o = restarted.observe(&mr, Some(&id)).await.expect("observe");
    assert!(o.up_to_date, "{:?}", o.diff);

    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn without_rotation_an_old_secret_stays() {
    let fake = FakeCloudflare::start(TOKEN, &[ZONE]).await;
    let client = client(&fake).await;
    let mut mr = tunnel(None);
    let id = client.create(&mr).await.expect("create").external_name;
    age(&fake, &mut mr, &id, Duration::from_secs(400 * 24 * 3600));
    let client = self::client(&fake).await;
    let o = client.observe(&mr, Some(&id)).await.expect("observe");
    assert!(o.up_to_date, "{:?}", o.diff);
    client.update(&mr, &id).await.expect("update");
    assert_eq!(fake.tunnel(&id).expect("tunnel").secret_changes, 0);
}

#[tokio::test]
async fn a_rotation_period_must_be_a_duration_of_a_minute_or_more() {
    let fake = FakeCloudflare::start(TOKEN, &[ZONE]).await;
    let client = client(&fake).await;
    let mr = tunnel(Some("720h"));
    let id = client.create(&mr).await.expect("create").external_name;
    for every in ["30s", "soon"] {
        let e = client
            .observe(&tunnel(Some(every)), Some(&id))
            .await
            .expect_err("refused");
        assert_eq!(
            e.message,
            format!("rotation.every {every:?} must be a duration of at least 1m")
        );
    }
}

#[test]
fn due_once_the_period_has_passed() {
    let now: jiff::Timestamp = "2026-01-31T00:00:00Z".parse().expect("a time");
    let every = Duration::from_secs(24 * 3600);
    let at = |s: &str| Some(s.parse::<jiff::Timestamp>().expect("a time"));
    assert!(!rotation_due(every, at("2026-01-30T00:00:01Z"), now));
    assert!(rotation_due(every, at("2026-01-30T00:00:00Z"), now));
    assert!(rotation_due(every, None, now), "never set: due");
}

#[test]
fn the_crds_carry_spec_rotation_every() {
    for crd in provider_hybrid_spoke::crds::all() {
        if crd.spec.names.kind != "Tunnel" {
            continue;
        }
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).expect("schema");
        let every = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["rotation"]["properties"]
            ["every"];
        assert_eq!(every["type"], "string", "{}", crd.spec.group);
        assert!(every["pattern"].is_string(), "{}", crd.spec.group);
        let ap = &schema["openAPIV3Schema"]["properties"]["status"]["properties"]["atProvider"]["properties"]
            ["secretRotatedAt"];
        assert_eq!(ap["type"], "string");
    }
    // both flavours are Managed kinds with the same rotation
    fn managed<K: Managed>() {}
    managed::<namespaced::Tunnel>();
}
