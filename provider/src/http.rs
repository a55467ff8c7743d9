//! What every HTTP client of the provider shares.

use std::time::Duration;

/// `Retry-After` in seconds or as an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let secs = when
        .duration_since(jiff::Timestamp::now())
        .as_secs_f64()
        .max(0.0);
    Some(Duration::from_secs_f64(secs))
}
