//! AclFragment against a real Headscale v0.29.2 (`/api/v1/policy`, policy in
//! database mode; no ETag, so the provider compares the policy it read with
//! the current one just before its PUT) on a real kube-apiserver. Headscale
//! main's `/api/v2` cannot be built here (docs/testing.md): untested.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hybrid_spoke_test_peers::{Headscale, HeadscaleVersion};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use provider_hybrid_spoke::acl::hujson;
use provider_hybrid_spoke::acl::merge::owned_by;
use provider_hybrid_spoke::acl::policy::{AclRule, PolicyFragment};
use provider_hybrid_spoke::apis::acl::namespaced;
use provider_hybrid_spoke::apis::tailnet::HeadscaleApi;
use provider_hybrid_spoke::apis::{ManagementAction, TypedProviderConfigReference};
use provider_hybrid_spoke::managed::reconciler::Options;
use provider_hybrid_spoke::manager::{Controllers, Settings, Shutdown};
use provider_hybrid_spoke::metrics::Metrics;
use serde_json::{Value, json};

const NS: &str = "team-hs";

fn hand_written(user: &str) -> String {
    format!(
        r#"// Headscale policy, edited by hand.
{{
  // People.
  "groups": {{
    "group:admins": ["{user}"], // on call
  }},
  "tagOwners": {{
    "tag:ci": ["group:admins"],
  }},
  "acls": [
    /* Admins reach everything. */
    {{"action": "accept", "src": ["group:admins"], "dst": ["*:*"]}},
  ],
}}
"#
    )
}

fn team(n: &str, user: &str) -> PolicyFragment {
    let tag = format!("tag:{n}");
    let group = format!("group:{n}");
    PolicyFragment {
        tag_owners: [(tag.clone(), vec![group.clone()])].into(),
        groups: [(group.clone(), vec![user.to_string()])].into(),
        acls: vec![AclRule {
            action: "accept".into(),
            src: vec![group],
            dst: vec![format!("{tag}:443")],
            proto: None,
            src_posture: vec![],
        }],
        ..Default::default()
    }
}

fn fragment(name: &str, p: PolicyFragment) -> namespaced::AclFragment {
    let mut f = namespaced::AclFragment::new(
        name,
        namespaced::AclFragmentSpec {
            for_provider: p,
            provider_config_ref: TypedProviderConfigReference {
                kind: "ClusterProviderConfig".into(),
                name: "default".into(),
            },
            management_policies: vec![ManagementAction::All],
        },
    );
    f.metadata.namespace = Some(NS.into());
    f
}

fn policy(hs: &Headscale) -> String {
    let r = hs.request("GET", "/api/v1/policy", None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["policy"].as_str().unwrap_or_default().to_string()
}

async fn wait_policy(hs: &Headscale, what: &str, pred: impl Fn(&str, &Value) -> bool) -> String {
    support::wait::wait_until(&format!("policy {what}"), 90, async || {
        let text = policy(hs);
        let v = hujson::parse(&text)
            .map(|n| n.to_value())
            .unwrap_or(Value::Null);
        if pred(&text, &v) {
            Ok(text)
        } else {
            Err(format!("\n{text}"))
        }
    })
    .await
}

async fn wait_message(api: &Api<namespaced::AclFragment>, name: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let f = api.get(name).await.unwrap();
        let synced = f
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Synced").cloned());
        if let Some(c) = &synced
            && c.status == "False"
            && c.message.as_deref().unwrap_or("").contains(want)
        {
            return c.message.clone().unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "{name}: no Synced=False with {want:?}: {synced:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acl_fragments_on_headscale_v0_29() {
    let hs = Headscale::start(HeadscaleVersion::V0_29);
    let user = format!("{}@", hs.user()["name"].as_str().unwrap());
    let original = hand_written(&user);
    let r = hs.request(
        "PUT",
        "/api/v1/policy",
        Some(&json!({ "policy": original })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        policy(&hs),
        original,
        "Headscale keeps the policy text as written"
    );

    let (_server, client) = support::cluster::provider_api_server(&[NS]).await;
    support::cluster::headscale_provider_config(&client, &hs, NS, HeadscaleApi::V1).await;
    let settings = Settings {
        reconcile: Options {
            poll: Duration::from_secs(1),
            creation_grace: Duration::from_secs(5),
            ..Options::default()
        },
        max_reconcile_rate: 50,
        acl_write_window: Duration::from_millis(200),
        ..Settings::default()
    };
    let controllers = Controllers::new(client.clone(), settings, Arc::new(Metrics::new()));
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(controllers.run(shutdown));
    let api = Api::<namespaced::AclFragment>::namespaced(client.clone(), NS);
    let pp = PostParams::default();

    // Create two: the union, the hand-written parts and comments kept.
    api.create(&pp, &fragment("web", team("web", &user)))
        .await
        .unwrap();
    api.create(&pp, &fragment("db", team("db", &user)))
        .await
        .unwrap();
    let text = wait_policy(&hs, "with both fragments", |t, _| {
        owned_by(t, "team-hs/web").is_ok_and(|e| e.len() == 3)
            && owned_by(t, "team-hs/db").is_ok_and(|e| e.len() == 3)
    })
    .await;
    for c in [
        "// Headscale policy, edited by hand.",
        "// People.",
        "// on call",
        "/* Admins reach everything. */",
    ] {
        assert!(text.contains(c), "lost {c:?}:\n{text}");
    }

    // Update.
    let patch = json!({"spec": {"forProvider": {"hosts": {"web-lb": "100.64.0.10"}}}});
    api.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    wait_policy(&hs, "with the host", |_, v| {
        v["hosts"]["web-lb"] == json!("100.64.0.10")
    })
    .await;

    // Refused by Headscale's policy check: the message reaches the condition.
    let before = policy(&hs);
    let bad = PolicyFragment {
        acls: vec![AclRule {
            action: "accept".into(),
            src: vec!["group:admins".into()],
            dst: vec!["tag:nobody:22".into()],
            proto: None,
            src_posture: vec![],
        }],
        ..Default::default()
    };
    api.create(&pp, &fragment("bad", bad)).await.unwrap();
    let msg = wait_message(&api, "bad", "refused the merged policy").await;
    assert_eq!(
        msg,
        r#"create failed: the server refused the merged policy, which was left as it was: parsing policy: dst="tag:nobody": tag not found: "tag:nobody""#,
        "Headscale's words, without the HTTP request around them"
    );
    assert_eq!(policy(&hs), before, "the policy is left as it was");
    api.delete("bad", &DeleteParams::default()).await.unwrap();

    // A hand edit through the API meanwhile is kept.
    let edited = policy(&hs).replacen(
        "\"tag:ci\": [\"group:admins\"],",
        "\"tag:ci\": [\"group:admins\"],\n    \"tag:manual\": [\"group:admins\"], // by hand",
        1,
    );
    let r = hs.request("PUT", "/api/v1/policy", Some(&json!({ "policy": edited })));
    assert_eq!(r.status, 200, "{}", r.body);

    // Delete: exactly the fragments' entries go.
    api.delete("web", &DeleteParams::default()).await.unwrap();
    api.delete("db", &DeleteParams::default()).await.unwrap();
    let text = wait_policy(&hs, "without fragments", |t, _| {
        !t.contains("hybrid-spoke:")
    })
    .await;
    let expected = original.replacen(
        "\"tag:ci\": [\"group:admins\"],",
        "\"tag:ci\": [\"group:admins\"],\n    \"tag:manual\": [\"group:admins\"], // by hand",
        1,
    );
    // (the `hosts` section the provider created for web went with it)
    assert_eq!(
        text, expected,
        "hand-written text and the hand edit kept byte for byte"
    );
    let _ = stop.send(true);
}

/// Headscale v0.29 has no ETag: a write whose base is no longer the current
/// policy is detected by reading again just before the PUT, and refused.
#[tokio::test]
async fn a_stale_write_is_detected_on_headscale_v0_29() {
    use provider_hybrid_spoke::acl::api::{self, Written};
    use provider_hybrid_spoke::tailscale::{TailnetApi, headscale, http_client};

    let hs = Headscale::start(HeadscaleVersion::V0_29);
    let user = format!("{}@", hs.user()["name"].as_str().unwrap());
    let original = hand_written(&user);
    assert_eq!(
        hs.request(
            "PUT",
            "/api/v1/policy",
            Some(&json!({ "policy": original }))
        )
        .status,
        200
    );
    let api = TailnetApi::HeadscaleV1(headscale::Client::new(
        http_client(Duration::from_secs(5)),
        hs.url(),
        hs.api_key().to_string(),
        None,
    ));

    let read = api::read(&api).await.unwrap();
    assert_eq!(read.text, original);
    assert!(read.etag.is_none());
    // Someone edits the policy after our read.
    let theirs = original.replacen(
        "\"tag:ci\": [\"group:admins\"],",
        "\"tag:ci\": [\"group:admins\"],\n    \"tag:theirs\": [\"group:admins\"],",
        1,
    );
    assert_eq!(
        hs.request("PUT", "/api/v1/policy", Some(&json!({ "policy": theirs })))
            .status,
        200
    );
    let ours = original.replacen(
        "\"tag:ci\": [\"group:admins\"],",
        "\"tag:ci\": [\"group:admins\"],\n    \"tag:ours\": [\"group:admins\"],",
        1,
    );
    assert_eq!(
        api::write(&api, &read, &ours).await.unwrap(),
        Written::Stale
    );
    assert_eq!(policy(&hs), theirs, "their edit is kept");
    // From a fresh read the write goes through.
    let fresh = api::read(&api).await.unwrap();
    assert_eq!(api::write(&api, &fresh, &ours).await.unwrap(), Written::Yes);
    assert_eq!(policy(&hs), ours);
    // A policy Headscale refuses is reported by the check, not written.
    let refused = api::validate(
        &api,
        "{\"acls\": [{\"action\": \"accept\", \"src\": [\"group:nobody\"], \"dst\": [\"*:*\"]}]}",
    )
    .await
    .unwrap();
    assert!(
        refused.is_some_and(|m| m.contains("group:nobody")),
        "Headscale's own message"
    );
    assert_eq!(policy(&hs), ours);
}
