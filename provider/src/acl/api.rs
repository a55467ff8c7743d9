//! The policy endpoints of each backend: read (with a version), validate,
//! and a write that refuses to replace a policy someone else changed.
//!
//! - Tailscale API v2 and Headscale main `/api/v2`: `GET/POST
//!   /tailnet/{t}/acl` as HuJSON, `ETag` → `If-Match` (412 when stale),
//!   `POST /acl/validate` (200 with a `message` on failure).
//! - Headscale v0.29 `/api/v1/policy`: no ETag. Before a `PUT` the policy is
//!   read again and compared with the one the merge started from; a change
//!   counts as stale. A write landing between that read and the PUT is still
//!   lost (the window is one round trip); docs/provider.md says so.

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::managed::ExternalError;
use crate::tailscale::{TailnetApi, http_error, retry_after, v2::error_message};

/// A policy as read.
#[derive(Clone, Debug)]
pub struct Policy {
    pub text: String,
    /// The `ETag` exactly as the server sent it (`None` on Headscale v1).
    pub etag: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    Yes,
    /// Someone else changed the policy since it was read (412).
    Stale,
}

const HUJSON: &str = "application/hujson";

fn failure(
    service: &str,
    method: &str,
    path: &str,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    text: &str,
) -> ExternalError {
    http_error(
        service,
        method,
        path,
        status,
        &error_message(text),
        retry_after(headers),
    )
}

#[derive(Deserialize)]
struct V1Policy {
    #[serde(default)]
    policy: String,
}

pub async fn read(api: &TailnetApi) -> Result<Policy, ExternalError> {
    match api {
        TailnetApi::V2(c) => {
            let path = format!("{}/acl", c.tailnet_path());
            let (status, headers, text) = c
                .raw(Method::GET, &path, &[("accept", HUJSON)], None)
                .await?;
            if !status.is_success() {
                return Err(failure(c.service(), "GET", &path, status, &headers, &text));
            }
            let etag = headers
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if etag.is_none() {
                return Err(ExternalError::new(format!(
                    "GET {path}: the answer has no ETag, so a write could lose updates"
                )));
            }
            Ok(Policy { text, etag })
        }
        TailnetApi::HeadscaleV1(c) => {
            let path = "/api/v1/policy";
            let text = c.call(Method::GET, path, None).await?;
            let p: V1Policy = serde_json::from_str(&text)
                .map_err(|e| ExternalError::new(format!("GET {path}: unexpected response: {e}")))?;
            Ok(Policy {
                text: p.policy,
                etag: None,
            })
        }
    }
}

/// `Ok(Some(message))` when the server rejects the policy.
pub async fn validate(api: &TailnetApi, text: &str) -> Result<Option<String>, ExternalError> {
    match api {
        TailnetApi::V2(c) if c.is_headscale() => Ok(None), // no /acl/validate yet; the write validates
        TailnetApi::V2(c) => {
            let path = format!("{}/acl/validate", c.tailnet_path());
            let (status, headers, body) = c
                .raw(
                    Method::POST,
                    &path,
                    &[("accept", "application/json")],
                    Some((HUJSON, text.to_string())),
                )
                .await?;
            if status == StatusCode::BAD_REQUEST {
                let rendered = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| refusal(&v));
                return Ok(Some(rendered.unwrap_or_else(|| error_message(&body))));
            }
            if !status.is_success() {
                return Err(failure(c.service(), "POST", &path, status, &headers, &body));
            }
            let v: serde_json::Value = if body.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(&body).map_err(|e| {
                    ExternalError::new(format!("POST {path}: unexpected response: {e}"))
                })?
            };
            Ok(refusal(&v))
        }
        TailnetApi::HeadscaleV1(c) => {
            let path = "/api/v1/policy/check";
            match c
                .call(Method::POST, path, Some(&json!({ "policy": text })))
                .await
            {
                Ok(_) => Ok(None),
                Err(e) if matches!(e.status, Some(400 | 500)) => Ok(Some(server_words(&e))),
                Err(e) => Err(e),
            }
        }
    }
}

/// The server's own words of a refusal, without the `METHOD /path: HTTP
/// nnn: ` the client puts before them (a refused policy is not a failed
/// request: the message is for whoever wrote the policy).
pub fn server_words(e: &ExternalError) -> String {
    e.message
        .split_once(": HTTP ")
        .and_then(|(_, rest)| rest.split_once(": "))
        .map(|(_, words)| words.to_string())
        .unwrap_or_else(|| e.message.clone())
}

/// What a `/acl/validate` answer (200, or 400 when unparsable) says, for
/// people: `None` when the policy passes; else the message and each error
/// (with the test's user when there is one), e.g. `policy is invalid:
/// grants[0].src[0]: group not found: "group:admins"`. Warnings alone (e.g.
/// a group member not in the tailnet) do not stop a write, as they do not
/// stop Tailscale's own `POST /acl`.
fn refusal(v: &serde_json::Value) -> Option<String> {
    let message = v
        .get("message")
        .and_then(|m| m.as_str())
        .filter(|m| !m.is_empty())?;
    let items = v.get("data").and_then(|d| d.as_array());
    let texts = |item: &serde_json::Value, key: &str| -> Vec<String> {
        let user = item.get("user").and_then(|u| u.as_str());
        item.get(key)
            .and_then(|e| e.as_array())
            .into_iter()
            .flatten()
            .map(|e| {
                let e = e
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string());
                match user {
                    Some(u) if !u.is_empty() => format!("{u}: {e}"),
                    _ => e,
                }
            })
            .collect()
    };
    let errors: Vec<String> = items
        .into_iter()
        .flatten()
        .flat_map(|i| texts(i, "errors"))
        .collect();
    if message.starts_with("warning") && errors.is_empty() {
        let warnings: Vec<String> = items
            .into_iter()
            .flatten()
            .flat_map(|i| texts(i, "warnings"))
            .collect();
        tracing::info!(warnings = %warnings.join("; "), "the policy validates with warnings");
        return None;
    }
    if errors.is_empty() {
        return Some(message.to_string());
    }
    Some(format!("{message}: {}", errors.join("; ")))
}

/// Replaces `read` by `text`, unless the policy changed since `read`.
pub async fn write(
    api: &TailnetApi,
    read_from: &Policy,
    text: &str,
) -> Result<Written, ExternalError> {
    match api {
        TailnetApi::V2(c) => {
            let path = format!("{}/acl", c.tailnet_path());
            let Some(etag) = read_from.etag.as_deref() else {
                return Err(ExternalError::new(
                    "refusing to write the policy without If-Match",
                ));
            };
            let (status, headers, body) = c
                .raw(
                    Method::POST,
                    &path,
                    &[("if-match", etag), ("accept", HUJSON)],
                    Some((HUJSON, text.to_string())),
                )
                .await?;
            match status {
                StatusCode::PRECONDITION_FAILED => Ok(Written::Stale),
                s if s.is_success() => Ok(Written::Yes),
                _ => Err(failure(c.service(), "POST", &path, status, &headers, &body)),
            }
        }
        TailnetApi::HeadscaleV1(c) => {
            let now = read(api).await?;
            if now.text != read_from.text {
                return Ok(Written::Stale);
            }
            c.call(
                Method::PUT,
                "/api/v1/policy",
                Some(&json!({ "policy": text })),
            )
            .await?;
            Ok(Written::Yes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_answers() {
        assert_eq!(refusal(&json!({})), None);
        let failed = json!({"message": "test(s) failed", "data": [{"user": "a@example.com", "errors": ["address \"2.2.2.2:22\": want: Drop, got: Accept"]}]});
        assert_eq!(
            refusal(&failed).as_deref(),
            Some(r#"test(s) failed: a@example.com: address "2.2.2.2:22": want: Drop, got: Accept"#)
        );
        let refused = ExternalError::new(
            "POST /api/v1/policy/check: HTTP 400: parsing policy: dst=\"tag:x\": tag not found: \"tag:x\"",
        );
        assert_eq!(
            server_words(&refused),
            r#"parsing policy: dst="tag:x": tag not found: "tag:x""#
        );
        let invalid = json!({"message": "policy is invalid", "data": [{"errors": ["grants[0].src[0]: group not found: \"group:admins\"", "acls[1].dst[0]: tag not found: \"tag:x\""]}]});
        assert_eq!(
            refusal(&invalid).as_deref(),
            Some(
                r#"policy is invalid: grants[0].src[0]: group not found: "group:admins"; acls[1].dst[0]: tag not found: "tag:x""#
            )
        );
        let warned = json!({"message": "warning(s) found", "data": [{"user": "group:x", "warnings": ["group is not syncing from SCIM"]}]});
        assert_eq!(refusal(&warned), None);
    }
}
