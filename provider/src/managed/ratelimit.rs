//! A global token bucket (crossplane-runtime `ratelimiter.NewGlobal`: rate
//! r/s, burst 10×r) and per-object failure counts for exponential backoff.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct GlobalLimiter {
    rate: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

struct Bucket {
    /// Below zero: tokens already promised to limited objects.
    tokens: f64,
    last: Instant,
    /// Objects told to come back later: their token is reserved, so they
    /// pass when they do (crossplane-runtime `ratelimiter.Reconciler`).
    limited: HashSet<String>,
}

impl GlobalLimiter {
    /// `rate` reconciles per second, burst ten times that.
    pub fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        Self {
            rate,
            burst: rate * 10.0,
            state: Mutex::new(Bucket {
                tokens: rate * 10.0,
                last: Instant::now(),
                limited: HashSet::new(),
            }),
        }
    }

    /// Lets `key` reconcile now, or reserves it a token and says when to
    /// come back (`rate.Limiter.Reserve().Delay()`): waiting objects are
    /// served in order instead of all retrying at once.
    pub fn admit(&self, key: &str) -> Result<(), Duration> {
        let mut b = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if b.limited.remove(key) {
            return Ok(());
        }
        let now = Instant::now();
        b.tokens =
            (b.tokens + now.duration_since(b.last).as_secs_f64() * self.rate).min(self.burst) - 1.0;
        b.last = now;
        if b.tokens >= 0.0 {
            return Ok(());
        }
        b.limited.insert(key.to_string());
        Err(Duration::from_secs_f64(-b.tokens / self.rate))
    }

    /// Drops what is kept about a deleted object.
    pub fn forget(&self, key: &str) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .limited
            .remove(key);
    }
}

/// Consecutive failures per object UID.
#[derive(Default)]
pub struct Failures(Mutex<HashMap<String, u32>>);

impl Failures {
    /// Counts one more failure and returns the count.
    pub fn fail(&self, key: &str) -> u32 {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.to_string()).or_default();
        *n = n.saturating_add(1);
        *n
    }

    pub fn forget(&self, key: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_queues() {
        let limiter = GlobalLimiter::new(1);
        for i in 0..10 {
            assert!(limiter.admit(&format!("o{i}")).is_ok());
        }
        // the next ones wait in line, one second apart
        let first = limiter.admit("a").unwrap_err();
        let second = limiter.admit("b").unwrap_err();
        assert!(
            first > Duration::from_millis(900) && first <= Duration::from_secs(1),
            "{first:?}"
        );
        assert!(
            second > Duration::from_millis(1900) && second <= Duration::from_secs(2),
            "{second:?}"
        );
        // coming back, a limited object passes on its reserved token
        assert!(limiter.admit("a").is_ok());
        assert!(limiter.admit("c").unwrap_err() > second);
    }

    #[test]
    fn failures_count_and_reset() {
        let f = Failures::default();
        assert_eq!(f.fail("a"), 1);
        assert_eq!(f.fail("a"), 2);
        f.forget("a");
        assert_eq!(f.fail("a"), 1);
    }
}
