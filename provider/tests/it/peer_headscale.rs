//! TailnetKey against a real Headscale v0.29.2 (`/api/v1`, found by the
//! `Auto` probe) on a real kube-apiserver. Headscale main's `/api/v2` is not
//! built here (see docs/testing.md), so that flavour runs only against the
//! Tailscale fake.

use crate::support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hybrid_spoke_test_peers::{Headscale, HeadscaleVersion};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use provider_hybrid_spoke::apis::tailnet::{
    HeadscaleApi, KeyType, TailnetKeyParameters, namespaced, pc_namespaced,
};
use provider_hybrid_spoke::apis::{
    LocalSecretReference, ManagementAction, SecretKeySelector, TypedProviderConfigReference,
};
use provider_hybrid_spoke::managed::reconciler::Options;
use provider_hybrid_spoke::manager::{Controllers, Settings, Shutdown};
use provider_hybrid_spoke::metrics::Metrics;
use serde_json::{Value, json};

const NS: &str = "team-hs";

fn key(name: &str, tags: Vec<String>) -> namespaced::TailnetKey {
    let mut k = namespaced::TailnetKey::new(
        name,
        namespaced::TailnetKeySpec {
            for_provider: TailnetKeyParameters {
                key_type: KeyType::Auth,
                tags,
                reusable: true,
                expiry_seconds: 3600,
                ..Default::default()
            },
            rotation: None,
            write_connection_secret_to_ref: Some(LocalSecretReference {
                name: format!("{name}-conn"),
            }),
            provider_config_ref: TypedProviderConfigReference::default(),
            management_policies: vec![ManagementAction::All],
        },
    );
    k.metadata.namespace = Some(NS.into());
    k
}

fn status(k: &namespaced::TailnetKey, t: &str) -> Option<(String, String, String)> {
    let c = k
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == t)?;
    Some((
        c.status.clone(),
        c.reason.clone(),
        c.message.clone().unwrap_or_default(),
    ))
}

async fn wait(
    api: &Api<namespaced::TailnetKey>,
    name: &str,
    what: &str,
    pred: impl Fn(&namespaced::TailnetKey) -> bool,
) -> namespaced::TailnetKey {
    support::wait::wait_object(api, name, what, 90, pred).await
}

fn preauth_keys(hs: &Headscale) -> Vec<Value> {
    let r = hs.request("GET", "/api/v1/preauthkey", None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["preAuthKeys"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn find(hs: &Headscale, id: &str) -> Option<Value> {
    preauth_keys(hs).into_iter().find(|k| {
        k["id"].as_str() == Some(id)
            || k["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id)
    })
}

fn expired(k: &Value) -> bool {
    k["expiration"]
        .as_str()
        .and_then(|e| e.parse::<jiff::Timestamp>().ok())
        .is_some_and(|e| e <= jiff::Timestamp::now())
}

#[tokio::test]
async fn tailnet_key_on_headscale_v0_29() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let hs = Headscale::start(HeadscaleVersion::V0_29);
    // a policy that owns tag:spoke (tagged pre-auth keys need an owner)
    let policy = json!({"tagOwners": {"tag:spoke": [format!("{}@", hs.user()["name"].as_str().unwrap())]}, "acls": []});
    let r = hs.request(
        "PUT",
        "/api/v1/policy",
        Some(&json!({"policy": policy.to_string()})),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let (_server, client) = support::cluster::provider_api_server(&[NS]).await;
    let cpc =
        support::cluster::headscale_provider_config(&client, &hs, NS, HeadscaleApi::Auto).await;
    let settings = Settings {
        reconcile: Options {
            poll: Duration::from_secs(1),
            creation_grace: Duration::from_secs(5),
            ..Options::default()
        },
        max_reconcile_rate: 50,
        ..Settings::default()
    };
    let controllers = Controllers::new(client.clone(), settings, Arc::new(Metrics::new()));
    let reconciler = controllers.namespaced_keys.clone();
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(controllers.run(shutdown));

    let api = Api::<namespaced::TailnetKey>::namespaced(client.clone(), NS);
    api.create(&PostParams::default(), &key("plain", vec![]))
        .await
        .unwrap();
    api.create(
        &PostParams::default(),
        &key("tagged", vec!["tag:spoke".into()]),
    )
    .await
    .unwrap();
    let mut ids = BTreeMap::new();
    for name in ["plain", "tagged"] {
        let k = wait(&api, name, "Ready", |k| {
            status(k, "Ready").is_some_and(|s| s.0 == "True")
        })
        .await;
        let id = k.metadata.annotations.unwrap()["crossplane.io/external-name"].clone();
        assert_eq!(
            k.status.unwrap().at_provider.unwrap().api.as_deref(),
            Some("headscale/v1")
        );
        let data = Api::<Secret>::namespaced(client.clone(), NS)
            .get(&format!("{name}-conn"))
            .await
            .unwrap()
            .data
            .unwrap();
        let authkey = String::from_utf8(data["authkey"].0.clone()).unwrap();
        assert!(
            authkey.starts_with("hskey-auth-"),
            "a Headscale pre-auth key"
        );
        let hk = find(&hs, &id).expect("the key exists in Headscale");
        assert!(hk["reusable"].as_bool().unwrap() && !expired(&hk));
        ids.insert(name, id);
    }
    assert_eq!(
        find(&hs, &ids["tagged"]).unwrap()["aclTags"],
        json!(["tag:spoke"])
    );

    // The connection Secret deleted: a new pre-auth key is minted through
    // the rotation path and the old one expired; Headscale holds exactly
    // one valid key of the resource after.
    Api::<Secret>::namespaced(client.clone(), NS)
        .delete("tagged-conn", &DeleteParams::default())
        .await
        .unwrap();
    let old = ids["tagged"].clone();
    let k = wait(&api, "tagged", "given a new key", |k| {
        let name = &k.metadata.annotations.as_ref().unwrap()["crossplane.io/external-name"];
        *name != old
            && status(k, "Ready").is_some_and(|s| s.0 == "True")
            // the status write comes after the new external-name
            && status(k, "Replaced").is_some_and(|s| s.2.contains(name.as_str()))
    })
    .await;
    let new = k.metadata.annotations.clone().unwrap()["crossplane.io/external-name"].clone();
    let (_, reason, message) = status(&k, "Replaced").unwrap();
    assert_eq!(reason, "ConnectionSecretLost");
    let expected = format!(
        "the connection Secret {NS}/tagged-conn is missing, and the secret of {old} cannot be read back from the API; created a new one ({old} -> {new} at "
    );
    assert!(message.starts_with(&expected), "{message}");
    let data = Api::<Secret>::namespaced(client.clone(), NS)
        .get("tagged-conn")
        .await
        .unwrap()
        .data
        .unwrap();
    let authkey = String::from_utf8(data["authkey"].0.clone()).unwrap();
    assert!(
        authkey.starts_with("hskey-auth-"),
        "a new pre-auth key published"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let valid: Vec<Value> = preauth_keys(&hs)
            .into_iter()
            .filter(|k| k["aclTags"] == json!(["tag:spoke"]) && !expired(k))
            .collect();
        let id_of = |k: &Value| {
            k["id"]
                .as_str()
                .map(str::to_string)
                .unwrap_or(k["id"].to_string())
        };
        if valid.len() == 1 && id_of(&valid[0]) == new {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "valid tagged keys: {valid:?}, want only {new}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(find(&hs, &old).is_none_or(|k| expired(&k)));
    ids.insert("tagged", new);

    // Headscale v0.29 takes unowned tags on a pre-auth key (it checks them
    // when a node registers), so there is no create error for them here.
    // Bad credentials: Headscale's own answer, in Synced.
    let wrong = Secret {
        metadata: ObjectMeta {
            name: Some("wrong".into()),
            namespace: Some(NS.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "token".to_string(),
            ByteString(b"hskey-api-wrong-000000".to_vec()),
        )])),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &wrong)
        .await
        .unwrap();
    let mut wrong_spec = cpc.spec.0.clone();
    wrong_spec.headscale_api = HeadscaleApi::V1;
    wrong_spec.credentials.api_key_secret_ref = Some(SecretKeySelector {
        name: "wrong".into(),
        namespace: None,
        key: "token".into(),
    });
    let pc = pc_namespaced::ProviderConfig::new(
        "wrong",
        pc_namespaced::ProviderConfigSpecNs(wrong_spec),
    );
    Api::<pc_namespaced::ProviderConfig>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &pc)
        .await
        .unwrap();
    let mut bad = key("bad-creds", vec![]);
    bad.spec.provider_config_ref = TypedProviderConfigReference {
        kind: "ProviderConfig".into(),
        name: "wrong".into(),
    };
    api.create(&PostParams::default(), &bad).await.unwrap();
    let k = wait(&api, "bad-creds", "Synced=False", |k| {
        status(k, "Synced").is_some_and(|s| s.0 == "False")
    })
    .await;
    let (_, _, m) = status(&k, "Synced").unwrap();
    assert!(
        m.starts_with("create failed: POST /api/v1/preauthkey: HTTP 401"),
        "{m}"
    );
    assert!(!m.contains("hskey-api-wrong"), "{m}");

    // expired (revoked) outside -> replaced
    let before_expiry = api.get("plain").await.unwrap();
    let r = hs.request(
        "POST",
        "/api/v1/preauthkey/expire",
        Some(&json!({"id": ids["plain"]})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let k = wait(&api, "plain", "replaced", |k| {
        k.metadata.annotations.as_ref().unwrap()["crossplane.io/external-name"] != ids["plain"]
            && status(k, "Replaced").is_some()
            && status(k, "Ready").is_some_and(|s| s.0 == "True")
    })
    .await;
    assert_eq!(status(&k, "Replaced").unwrap().1, "Expired");
    // A reconcile that starts from a stale cached copy (the cache has seen the
    // new external-name but not yet the status write) must not erase the
    // Replaced condition: under load this lost it for good.
    let mut stale = k.clone();
    stale.status = before_expiry.status.clone();
    stale.metadata.resource_version = before_expiry.metadata.resource_version.clone();
    reconciler.reconcile(Arc::new(stale)).await;
    let k = api.get("plain").await.unwrap();
    assert_eq!(
        status(&k, "Replaced").map(|s| s.1).as_deref(),
        Some("Expired"),
        "{:?}",
        k.status
    );
    let new_id = k.metadata.annotations.unwrap()["crossplane.io/external-name"].clone();

    // delete -> expired and removed in Headscale
    for name in ["plain", "tagged", "bad-creds"] {
        api.delete(name, &DeleteParams::default()).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    while !api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty()
    {
        assert!(Instant::now() < deadline, "TailnetKeys not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for id in [&new_id, &ids["tagged"]] {
        assert!(
            find(&hs, id).is_none_or(|k| expired(&k)),
            "key {id} is still valid after delete"
        );
    }
    // the API key never shows up in the provider's objects
    let all = serde_json::to_string(&api.list(&Default::default()).await.unwrap().items).unwrap();
    assert!(!all.contains(hs.api_key()));
    let _ = stop.send(true);
}
