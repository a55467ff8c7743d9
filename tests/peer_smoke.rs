//! One smoke test per real peer helper (hybrid-spoke-test-peers):
//!
//! - kube-apiserver + etcd: the CRD built from our XRD's schema (as
//!   Crossplane derives it) and the function's Input CRD become Established;
//!   the example XRs are accepted and read back unchanged; an XR breaking
//!   one of the XRD's CEL rules is refused by the real API server.
//! - Headscale v0.29.2: a pre-auth key is created and listed through
//!   `/api/v1`, and the policy is written and read back (database mode).
//! - Headscale main (f20f1f12): the same through the Tailscale-compatible
//!   `/api/v2`, and the policy is served with an ETag that `If-Match` honours.
//!   Ignored by default: the Go module proxy here does not serve that commit
//!   (docs/testing.md); run with `-- --ignored` and HYBRID_SPOKE_HEADSCALE_MAIN.
//!
//! Needs `bash tests/tools/peers.sh && . target/peers/env.sh`.

#[path = "support/examples.rs"]
mod examples;

use std::time::Duration;

use hybrid_spoke_test_peers::k8s_openapi::api::core::v1::Namespace;
use hybrid_spoke_test_peers::kube;
use hybrid_spoke_test_peers::{Headscale, HeadscaleVersion, KubeApiServer};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};

fn read_yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(examples::root().join(path))
        .unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

/// The CRD Crossplane derives from an XRD: the XRD's own schema (with its
/// CEL rules), plus the machinery fields Crossplane adds (open objects here;
/// `crossplane beta validate` in peer_render checks Crossplane's own
/// derivation) and `status.conditions`.
fn crd_from_xrd(xrd: &Value, claim: bool) -> Value {
    let open = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    let version = &xrd["spec"]["versions"][0];
    let mut schema = version["schema"]["openAPIV3Schema"].clone();
    let legacy = xrd["spec"]["scope"] == "LegacyCluster";
    let machinery: &[&str] = match (legacy, claim) {
        (false, _) => &["crossplane"],
        (true, false) => &[
            "claimRef",
            "compositionRef",
            "compositionSelector",
            "compositionRevisionRef",
            "compositionRevisionSelector",
            "compositionUpdatePolicy",
            "resourceRefs",
            "writeConnectionSecretToRef",
        ],
        (true, true) => &[
            "compositionRef",
            "compositionSelector",
            "compositionRevisionRef",
            "compositionRevisionSelector",
            "compositionUpdatePolicy",
            "resourceRef",
            "writeConnectionSecretToRef",
        ],
    };
    for field in machinery {
        schema["properties"]["spec"]["properties"][*field] = open.clone();
    }
    // crossplane-runtime's condition schema (pkg/xcrd/schemas.go).
    schema["properties"]["status"]["properties"]["conditions"] = json!({
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {
            "type": "object",
            "required": ["lastTransitionTime", "reason", "status", "type"],
            "properties": {
                "type": {"type": "string"},
                "status": {"type": "string"},
                "reason": {"type": "string"},
                "message": {"type": "string"},
                "lastTransitionTime": {"type": "string", "format": "date-time"},
                "observedGeneration": {"type": "integer", "format": "int64"},
            },
        },
    });
    let names = if claim {
        xrd["spec"]["claimNames"].clone()
    } else {
        xrd["spec"]["names"].clone()
    };
    let group = xrd["spec"]["group"].as_str().expect("an XRD group");
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{group}", names["plural"].as_str().expect("plural"))},
        "spec": {
            "group": group,
            "names": names,
            "scope": if legacy && !claim { "Cluster" } else { "Namespaced" },
            "versions": [{
                "name": version["name"],
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": schema},
                "subresources": {"status": {}},
            }],
        },
    })
}

fn api_for(client: &kube::Client, object: &Value, plural: &str) -> Api<DynamicObject> {
    let (group, version) = object["apiVersion"]
        .as_str()
        .and_then(|v| v.split_once('/'))
        .expect("a group/version");
    let gvk = GroupVersionKind::gvk(group, version, object["kind"].as_str().expect("a kind"));
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    match object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
    {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// The object as a user would `kubectl create` it (no uid).
fn to_create(mut object: Value) -> DynamicObject {
    if let Some(meta) = object["metadata"].as_object_mut() {
        meta.remove("uid");
    }
    serde_json::from_value(object).expect("a Kubernetes object")
}

/// Whether every field of `expected` is in `actual` with the same value
/// (`actual` may have more: the defaults the API server adds).
fn is_subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| is_subset(v, av))),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| is_subset(e, a))
        }
        _ => expected == actual,
    }
}

/// The namespaces of the example XRs and claims.
const NAMESPACES: [&str; 2] = ["team-payments", "team-analytics"];

async fn create_namespace(client: &kube::Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create a namespace");
}

#[tokio::test]
async fn api_server_accepts_the_xrd_derived_crd_and_the_example_xrs() {
    let server = KubeApiServer::start().await;
    eprintln!("kube-apiserver + etcd ready in {:?}", server.startup_time());
    assert!(
        server.startup_time() < Duration::from_secs(30),
        "startup took {:?}",
        server.startup_time()
    );
    let client = server.client().await;

    let xrd = read_yaml("package/configuration/namespaced/definition.yaml");
    let established = server.install_crds(&[crd_from_xrd(&xrd, false)]).await;
    assert_eq!(
        established[0].metadata.name.as_deref(),
        Some("xhybridspokes.platform.hybridspoke.io")
    );
    // The API server serves it as the XRD describes it.
    let served = &established[0].spec;
    assert_eq!(served.scope, "Namespaced");
    assert_eq!(served.names.kind, "XHybridSpoke");

    for ns in NAMESPACES {
        create_namespace(&client, ns).await;
    }
    for cloud in ["aws", "azure"] {
        let xr = read_yaml(&format!("examples/{cloud}/xr.yaml"));
        let api = api_for(&client, &xr, "xhybridspokes");
        let created = api
            .create(&PostParams::default(), &to_create(xr.clone()))
            .await
            .unwrap_or_else(|e| panic!("the API server refused examples/{cloud}/xr.yaml: {e}"));
        let name = created.metadata.name.clone().expect("a name");
        let read = api.get(&name).await.expect("read the XR back");
        assert!(
            is_subset(&xr["spec"], &read.data["spec"]),
            "{cloud}: every field of the example comes back unchanged:\nsent {}\nread {}",
            xr["spec"],
            read.data["spec"]
        );
        // The API server applied the XRD's structural defaults.
        assert_eq!(
            read.data["spec"]["providerConfigName"], "default",
            "{cloud}: defaulted"
        );
        assert!(read.metadata.uid.is_some() && read.metadata.resource_version.is_some());
    }
    let all: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("platform.hybridspoke.io", "v1alpha1", "XHybridSpoke"),
            "xhybridspokes",
        ),
    );
    let listed = all.list(&Default::default()).await.expect("list XRs");
    assert_eq!(listed.items.len(), 2);

    // The XRD's CEL rules run in the real API server: an AWS spoke that says
    // it is on Azure is refused with the rule's message.
    let mut bad = read_yaml("examples/aws/xr.yaml");
    bad["metadata"]["name"] = json!("wrong-cloud");
    bad["spec"]["cloud"] = json!("azure");
    let error = api_for(&client, &bad, "xhybridspokes")
        .create(&PostParams::default(), &to_create(bad.clone()))
        .await
        .expect_err("the API server must refuse an XR breaking a CEL rule");
    let text = error.to_string();
    assert!(
        text.contains("spec.azure is required when spec.cloud is azure"),
        "refused for the CEL rule: {text}"
    );
}

/// Crossplane installs the CRDs of a function package (its input types), so
/// the API server must accept package/function/input's CRD.
#[tokio::test]
async fn api_server_accepts_the_function_input_crd_and_the_platform_input() {
    let server = KubeApiServer::start().await;
    let client = server.client().await;
    let crds =
        KubeApiServer::read_crds(&[examples::root()
            .join("package/function/input/hybridspoke.fn.crossplane.io_inputs.yaml")]);
    assert_eq!(crds.len(), 1);
    server.install_crds(&crds).await;
    let mut input = read_yaml("examples/input.yaml");
    input["metadata"] = json!({"name": "platform", "namespace": "default"});
    api_for(&client, &input, "inputs")
        .create(&PostParams::default(), &to_create(input))
        .await
        .expect("the API server accepts examples/input.yaml under the Input CRD");
}

#[tokio::test]
async fn api_server_accepts_the_legacy_xr_and_its_claim() {
    let server = KubeApiServer::start().await;
    let client = server.client().await;
    let xrd = read_yaml("package/configuration/legacy/definition.yaml");
    server
        .install_crds(&[crd_from_xrd(&xrd, false), crd_from_xrd(&xrd, true)])
        .await;
    for ns in NAMESPACES {
        create_namespace(&client, ns).await;
    }
    for cloud in ["aws", "azure"] {
        let xr = read_yaml(&format!("examples/{cloud}/legacy-xr.yaml"));
        api_for(&client, &xr, "xhybridspokes")
            .create(&PostParams::default(), &to_create(xr))
            .await
            .unwrap_or_else(|e| {
                panic!("the API server refused examples/{cloud}/legacy-xr.yaml: {e}")
            });
        let claim = read_yaml(&format!("examples/{cloud}/claim.yaml"));
        api_for(&client, &claim, "hybridspokes")
            .create(&PostParams::default(), &to_create(claim))
            .await
            .unwrap_or_else(|e| panic!("the API server refused examples/{cloud}/claim.yaml: {e}"));
    }
}

// ---------------------------------------------------------------------------
// Headscale
// ---------------------------------------------------------------------------

/// An RFC 3339 time `hours` from now (Headscale treats a missing expiration
/// as already expired).
fn hours_from_now(hours: u64) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + hours * 3600;
    // days since epoch → civil date (Howard Hinnant's algorithm)
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

const POLICY: &str = r#"{
  // written by hybrid-spoke's peer smoke test
  "groups": {"group:platform": ["hybrid-spoke@"]},
  "tagOwners": {"tag:spoke": ["group:platform"]},
  "acls": [{"action": "accept", "src": ["tag:spoke"], "dst": ["tag:spoke:*"]}],
}"#;

#[test]
fn headscale_v0_29_creates_and_lists_a_preauth_key_and_stores_the_policy() {
    let headscale = Headscale::start(HeadscaleVersion::V0_29);
    let user_id = headscale.user_id();

    let created = headscale.request(
        "POST",
        "/api/v1/preauthkey",
        Some(&json!({
            "user": user_id,
            "reusable": true,
            "ephemeral": false,
            "expiration": hours_from_now(1),
        })),
    );
    assert_eq!(
        created.status, 200,
        "create a pre-auth key: {}",
        created.body
    );
    let key = created.json()["preAuthKey"].clone();
    let secret = key["key"].as_str().expect("the secret is shown once");
    assert!(secret.starts_with("hskey-auth-"), "{secret}");
    assert_eq!(key["reusable"], true);

    let listed = headscale.request("GET", "/api/v1/preauthkey", None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    let keys = listed.json()["preAuthKeys"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let found = keys
        .iter()
        .find(|k| k["id"] == key["id"])
        .unwrap_or_else(|| panic!("the new key is listed: {}", listed.body));
    assert_eq!(found["reusable"], true);
    assert_eq!(found["used"], false);

    // Unauthenticated requests are refused.
    let anonymous = hybrid_spoke_test_peers::http(
        "GET",
        &format!("{}/api/v1/preauthkey", headscale.url()),
        &[],
        None,
    );
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);

    // The policy (database mode) is written and read back as sent.
    let put = headscale.request("PUT", "/api/v1/policy", Some(&json!({"policy": POLICY})));
    assert_eq!(put.status, 200, "set the policy: {}", put.body);
    let got = headscale.request("GET", "/api/v1/policy", None);
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.json()["policy"], POLICY);
    assert!(got.json()["updatedAt"].is_string());
}

#[test]
#[ignore = "needs Headscale main f20f1f12 (HYBRID_SPOKE_HEADSCALE_MAIN), which the Go module proxy here refuses; see docs/testing.md"]
fn headscale_main_api_v2_keys_and_policy_etag() {
    let headscale = Headscale::start(HeadscaleVersion::Main);

    // /api/v1 still works on main.
    let v1 = headscale.request(
        "POST",
        "/api/v1/preauthkey",
        Some(&json!({"user": headscale.user_id(), "reusable": false, "expiration": hours_from_now(1)})),
    );
    assert_eq!(v1.status, 200, "/api/v1 pre-auth key: {}", v1.body);

    // Tailscale-compatible auth key.
    let created = headscale.request(
        "POST",
        "/api/v2/tailnet/-/keys",
        Some(&json!({
            "capabilities": {"devices": {"create": {"reusable": true, "ephemeral": false, "preauthorized": true, "tags": []}}},
            "expirySeconds": 3600,
            "description": "hybrid-spoke smoke",
        })),
    );
    assert!(
        created.status == 200 || created.status == 201,
        "create an auth key through /api/v2: {} {}",
        created.status,
        created.body
    );
    let key = created.json();
    let id = key["id"].as_str().expect("a key id").to_string();
    assert!(
        key["key"].as_str().is_some_and(|k| !k.is_empty()),
        "the secret is returned once: {key}"
    );
    assert_eq!(key["capabilities"]["devices"]["create"]["reusable"], true);

    let listed = headscale.request("GET", "/api/v2/tailnet/-/keys", None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    let keys = listed.json()["keys"]
        .as_array()
        .cloned()
        .expect("a keys envelope");
    assert!(
        keys.iter().any(|k| k["id"] == id),
        "the key is listed: {}",
        listed.body
    );
    let one = headscale.request("GET", &format!("/api/v2/tailnet/-/keys/{id}"), None);
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.json()["id"], id);

    // The policy with an ETag; If-Match guards writes.
    let set = headscale.request_with(
        "POST",
        "/api/v2/tailnet/-/acl",
        &[("Content-Type", "application/hujson")],
        Some(POLICY),
    );
    assert_eq!(
        set.status, 200,
        "set the policy through /api/v2: {}",
        set.body
    );
    let got = headscale.request_with(
        "GET",
        "/api/v2/tailnet/-/acl",
        &[("Accept", "application/hujson")],
        None,
    );
    assert_eq!(got.status, 200, "{}", got.body);
    let etag = got
        .header("ETag")
        .expect("the policy is served with an ETag")
        .to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10,
        "{etag}"
    );
    assert!(got.body.contains("tag:spoke"), "{}", got.body);

    let stale = headscale.request_with(
        "POST",
        "/api/v2/tailnet/-/acl",
        &[
            ("Content-Type", "application/hujson"),
            ("If-Match", "\"0000\""),
        ],
        Some(POLICY),
    );
    assert_eq!(
        stale.status, 412,
        "a stale If-Match is refused: {}",
        stale.body
    );
    let fresh = headscale.request_with(
        "POST",
        "/api/v2/tailnet/-/acl",
        &[("Content-Type", "application/hujson"), ("If-Match", &etag)],
        Some(POLICY),
    );
    assert_eq!(
        fresh.status, 200,
        "the current ETag is accepted: {}",
        fresh.body
    );

    let revoked = headscale.request("DELETE", &format!("/api/v2/tailnet/-/keys/{id}"), None);
    assert!(
        revoked.status == 200 || revoked.status == 204,
        "{}",
        revoked.body
    );
}
