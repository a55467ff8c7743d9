//! The Cloudflare client against the stateful fake, which checks every
//! request and response against the vendored OpenAPI document.

use crate::support;

use std::time::{Duration, Instant};

use provider_hybrid_spoke::cloudflare::types::{CnameRecord, IngressRule, TunnelConfig};
use provider_hybrid_spoke::cloudflare::{Client, ClientOptions};
use serde_json::json;
use support::fake_cloudflare::{ACCOUNT, FakeCloudflare, Faults, spec_path};
use support::openapi::OpenApi;

const TOKEN: &str = "cf-token-client-test-0123456789abcdef";

fn client(fake: &FakeCloudflare, token: &str, opts: ClientOptions) -> Client {
    let http = reqwest::Client::new();
    Client::new(
        http,
        &fake.url,
        ACCOUNT,
        token,
        1200,
        Duration::from_secs(300),
        opts,
    )
}

fn fast() -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_secs(2),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(100),
        ..ClientOptions::default()
    }
}

fn config(rules: &[(&str, &str)], catch_all: &str) -> TunnelConfig {
    let mut ingress: Vec<IngressRule> = rules
        .iter()
        .map(|(h, s)| IngressRule {
            hostname: Some(h.to_string()),
            service: s.to_string(),
            ..Default::default()
        })
        .collect();
    ingress.push(IngressRule {
        service: catch_all.into(),
        ..Default::default()
    });
    TunnelConfig {
        ingress,
        origin_request: None,
    }
}

#[tokio::test]
async fn the_validator_is_strict() {
    let mut spec = OpenApi::load(&spec_path());
    support::fake_cloudflare::overlay(&mut spec.doc);
    let (_, create) = spec.operation("POST", "/accounts/a/cfd_tunnel").unwrap();
    let schema = spec.request_schema(create).unwrap();
    assert!(
        spec.validate_request(
            schema,
            &json!({"name": "x", "config_src": "cloudflare"}),
            "r"
        )
        .is_empty()
    );
    assert!(
        !spec
            .validate_request(schema, &json!({"name": 1}), "r")
            .is_empty()
    );
    assert!(
        !spec
            .validate_request(schema, &json!({"name": "x", "config_src": "remote"}), "r")
            .is_empty()
    );
    assert!(
        !spec
            .validate_request(schema, &json!({"name": "x", "colour": "red"}), "r")
            .is_empty()
    );
    let (_, rec) = spec.operation("POST", "/zones/z/dns_records").unwrap();
    let schema = spec.request_schema(rec).unwrap();
    let good = json!({"type": "CNAME", "name": "a.example.com", "content": "t.cfargotunnel.com", "proxied": true, "ttl": 1, "comment": "c"});
    assert_eq!(
        spec.validate_request(schema, &good, "r"),
        Vec::<String>::new()
    );
    let response = spec.response_schema(rec, 200).unwrap();
    // a record answer without its read-only fields is not what the API sends
    assert!(
        !spec
            .validate(
                response,
                &json!({"success": true, "errors": [], "messages": [], "result": good}),
                "r"
            )
            .is_empty()
    );
}

#[tokio::test]
async fn tunnels_configuration_token_and_soft_delete() {
    let fake = FakeCloudflare::start(TOKEN, &["example.com"]).await;
    let api = client(&fake, TOKEN, fast());
    let t = api.create_tunnel("hybrid-spoke-one").await.unwrap();
    assert_eq!(fake.tunnel(&t.id).unwrap().config_src, "cloudflare");
    // names are unique among live tunnels: 409 with code 1013
    let dup = api.create_tunnel("hybrid-spoke-one").await.unwrap_err();
    assert_eq!(dup.status(), Some(409));
    assert!(dup.has_code(1013), "{dup}");
    assert!(
        dup.to_string()
            .contains("You already have a tunnel with this name"),
        "{dup}"
    );
    let listed = api.list_tunnels(Some("hybrid-spoke-one")).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        vec![t.id.clone()]
    );

    let token = api.tunnel_token(&t.id).await.unwrap();
    assert!(token.starts_with("eyJ"), "base64 of a JSON object: {token}");

    let c = config(&[("app.example.com", "http://app:80")], "http_status:404");
    api.put_config(&t.id, &c).await.unwrap();
    assert_eq!(api.get_config(&t.id).await.unwrap().config, Some(c));
    // the API refuses a configuration without the catch-all, with its message
    let bad = TunnelConfig {
        ingress: config(&[("app.example.com", "http://app:80")], "x").ingress[..1].to_vec(),
        origin_request: None,
    };
    let e = api.put_config(&t.id, &bad).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("The last ingress rule must match all URLs"),
        "{e}"
    );

    // delete is refused while connectors are attached (1022)
    fake.connect(&t.id, 2);
    assert_eq!(
        api.connections(&t.id)
            .await
            .unwrap()
            .iter()
            .map(|c| c.conns.len())
            .sum::<usize>(),
        8
    );
    let e = api.delete_tunnel(&t.id).await.unwrap_err();
    assert!(e.has_code(1022), "{e}");
    api.delete_connections(&t.id).await.unwrap();
    api.delete_tunnel(&t.id).await.unwrap();
    // soft delete: still readable with deleted_at, gone from the live list, name free
    let gone = api.get_tunnel(&t.id).await.unwrap().unwrap();
    assert!(gone.deleted_at.is_some());
    assert!(api.list_tunnels(None).await.unwrap().is_empty());
    api.delete_tunnel(&t.id).await.unwrap();
    let again = api.create_tunnel("hybrid-spoke-one").await.unwrap();
    assert_ne!(again.id, t.id);
    assert!(
        api.get_tunnel("00000000-0000-4000-8000-000000000000")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn dns_records_conflicts_and_pagination() {
    let fake = FakeCloudflare::start(TOKEN, &["example.com", "example.org"]).await;
    let api = client(
        &fake,
        TOKEN,
        ClientOptions {
            records_per_page: 5,
            ..fast()
        },
    );
    let zone = api.find_zone("example.com").await.unwrap().unwrap();
    assert_eq!(zone.id, fake.zone_id("example.com"));
    assert!(api.find_zone("example.net").await.unwrap().is_none());
    let want = CnameRecord::new("app.example.com", "abc.cfargotunnel.com", "mine");
    let r = api.create_record(&zone.id, &want).await.unwrap();
    assert!(want.matches(&r), "{r:?}");
    let e = api
        .create_record(
            &zone.id,
            &CnameRecord::new("app.example.com", "other.cfargotunnel.com", "theirs"),
        )
        .await
        .unwrap_err();
    assert!(e.has_code(81053), "{e}");
    for i in 0..11 {
        fake.add_record(
            "example.com",
            &format!("h{i}.example.com"),
            "A",
            "198.51.100.1",
            None,
        );
    }
    // 12 records in pages of 5
    let all = api.list_records(&zone.id, &[]).await.unwrap();
    assert_eq!(all.len(), 12);
    let by_route = fake.counters().by_route;
    assert_eq!(by_route["GET /zones/{zone_id}/dns_records"], 3);
    let mine = api
        .list_records(&zone.id, &[("comment", "mine".into())])
        .await
        .unwrap();
    assert_eq!(
        mine.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![r.id.clone()]
    );
    let patched = api
        .patch_record(
            &zone.id,
            &r.id,
            &CnameRecord::new("app.example.com", "def.cfargotunnel.com", "mine"),
        )
        .await
        .unwrap();
    assert_eq!(patched.content, "def.cfargotunnel.com");
    assert_eq!(
        api.get_record(&zone.id, &r.id)
            .await
            .unwrap()
            .unwrap()
            .content,
        "def.cfargotunnel.com"
    );
    api.delete_record(&zone.id, &r.id).await.unwrap();
    api.delete_record(&zone.id, &r.id).await.unwrap();
    assert!(api.get_record(&zone.id, &r.id).await.unwrap().is_none());
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn errors_carry_the_api_message_never_the_token() {
    let fake = FakeCloudflare::start(TOKEN, &["example.com"]).await;
    let wrong = "cf-token-wrong-SECRET-value";
    let e = client(&fake, wrong, fast())
        .list_tunnels(None)
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("HTTP 403") && text.contains("10000 Authentication error"),
        "{text}"
    );
    assert!(!text.contains("SECRET") && !format!("{e:?}").contains("SECRET"));
    assert!(!format!("{:?}", client(&fake, wrong, fast())).contains("SECRET"));
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let fake = FakeCloudflare::start(TOKEN, &["example.com"]).await;
    let api = client(
        &fake,
        TOKEN,
        ClientOptions {
            max_attempts: 3,
            ..fast()
        },
    );
    fake.set_faults(Faults {
        server_errors: 1.0,
        ..Default::default()
    });
    let e = api.list_tunnels(None).await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert!(e.to_string().contains("1000 Internal server error"), "{e}");
    assert_eq!(fake.counters().injected_5xx, 3);
    // half of the answers failing: a call still succeeds
    fake.set_faults(Faults {
        server_errors: 0.5,
        ..Default::default()
    });
    let api = client(
        &fake,
        TOKEN,
        ClientOptions {
            max_attempts: 12,
            ..fast()
        },
    );
    for _ in 0..10 {
        api.list_tunnels(None).await.unwrap();
    }
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn timeouts_are_retried() {
    let fake = FakeCloudflare::start(TOKEN, &["example.com"]).await;
    let api = client(
        &fake,
        TOKEN,
        ClientOptions {
            request_timeout: Duration::from_millis(200),
            max_attempts: 20,
            ..fast()
        },
    );
    fake.set_faults(Faults {
        timeouts: 0.5,
        timeout_delay: Duration::from_millis(400),
        ..Default::default()
    });
    for i in 0..5 {
        // a POST whose answer was lost is seen as a name conflict next time
        match api.create_tunnel(&format!("t{i}")).await {
            Ok(_) => {}
            Err(e) => assert!(e.has_code(1013), "{e}"),
        }
    }
    assert!(fake.counters().injected_timeouts > 0);
    assert_eq!(fake.live_tunnels().len(), 5);
}

#[tokio::test]
async fn too_many_requests_waits_retry_after_for_everyone() {
    let fake = FakeCloudflare::start(TOKEN, &["example.com"]).await;
    let api = client(&fake, TOKEN, fast());
    fake.set_faults(Faults {
        too_many_requests: 1.0,
        retry_after: 1,
        ..Default::default()
    });
    let started = Instant::now();
    let waiting = {
        let api = api.clone();
        tokio::spawn(async move { api.list_tunnels(None).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    fake.set_faults(Faults::default());
    waiting.await.unwrap().unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After"
    );
    // a Retry-After longer than the client waits goes back to the caller
    fake.set_faults(Faults {
        too_many_requests: 1.0,
        retry_after: 120,
        ..Default::default()
    });
    let e = client(&fake, "other-token", fast())
        .list_tunnels(None)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(429));
    match &e {
        provider_hybrid_spoke::cloudflare::CloudflareError::RateLimited { wait, .. } => {
            assert_eq!(*wait, Duration::from_secs(120))
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        e.to_string(),
        format!(
            "GET /accounts/{ACCOUNT}/cfd_tunnel: answered HTTP 429: 971 Please wait and consider throttling your request speed; retry after 120s"
        )
    );
    // what the reconciler shows: service, endpoint, retry time
    let shown = provider_hybrid_spoke::managed::ExternalError::from(e);
    assert_eq!(
        shown.kind,
        provider_hybrid_spoke::managed::ErrorKind::RateLimited
    );
    assert!(
        shown.message.starts_with(&format!(
            "rate limited by Cloudflare: GET /accounts/{ACCOUNT}/cfd_tunnel answered HTTP 429: 971 Please wait and consider throttling your request speed; retrying after 120s (at "
        )),
        "{}",
        shown.message
    );
    // the token's requests are held, none is sent: the same state at once
    let before = fake.counters().requests;
    let e = client(&fake, "other-token", fast())
        .list_tunnels(None)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("not sent: the API answered 429 and asked to wait; retry after 120s"),
        "{e}"
    );
    assert_eq!(fake.counters().requests, before, "nothing sent");
}

#[tokio::test]
async fn the_budget_is_shared_by_every_client_of_a_token() {
    let fake = FakeCloudflare::start(TOKEN, &["example.com"]).await;
    let token = "cf-token-budget-test";
    fake.with(|s| s.tokens.push(token.into()));
    fake.set_rate_limit(10, Duration::from_secs(2));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..30 {
        // separate clients (as separate resources have), one token
        let api = Client::new(
            reqwest::Client::new(),
            &fake.url,
            ACCOUNT,
            token,
            10,
            Duration::from_secs(2),
            fast(),
        );
        tasks.push(tokio::spawn(async move {
            api.list_tunnels(Some(&format!("n{i}"))).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let c = fake.counters();
    assert_eq!(c.rate_limited, 0, "the fake never had to refuse");
    assert!(c.max_in_window <= 10, "{c:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "30 requests at 10 per 2 s"
    );
}
