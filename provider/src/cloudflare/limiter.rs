//! The client-side request budget of one API token: at most `limit`
//! requests in any `window` (Cloudflare: 1,200 per 5 minutes per user,
//! reference §1.6), shared by every resource using the token.
//!
//! A request holds a [`Permit`] while in flight and is counted until
//! `window` after it completed. Counting in-flight requests and completion
//! times (not send times) makes the bound hold at the server whatever the
//! latency: any set of requests that arrive within one window of each other
//! were all in flight or completed within the window when the last of them
//! was sent, so there are at most `limit` of them.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct State {
    limit: usize,
    window: Duration,
    in_flight: usize,
    /// Completion times within the window, oldest first.
    done: VecDeque<Instant>,
    /// After a 429: nothing is sent before this.
    paused_until: Option<Instant>,
}

/// Why a request is held back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// The API answered 429: nothing goes before its `Retry-After`.
    Paused,
    /// The token's budget is used up.
    Budget { limit: usize, window: Duration },
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Held::Paused => f.write_str("not sent: the API answered 429 and asked to wait"),
            Held::Budget { limit, window } => write!(
                f,
                "not sent: the API token's budget of {limit} requests per {}s is used up",
                window.as_secs()
            ),
        }
    }
}

/// The budget of one token.
#[derive(Debug)]
pub struct Limiter {
    state: Mutex<State>,
}

/// One request's share of the budget; dropping it records the completion.
pub struct Permit {
    limiter: Arc<Limiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut s = self.limiter.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        s.done.push_back(Instant::now());
    }
}

impl Limiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                limit: limit.max(1) as usize,
                window,
                in_flight: 0,
                done: VecDeque::new(),
                paused_until: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the budget (a ProviderConfig was edited).
    pub fn set(&self, limit: u32, window: Duration) {
        let mut s = self.lock();
        s.limit = limit.max(1) as usize;
        s.window = window;
    }

    /// Holds every request back until `until` (the server said 429).
    pub fn pause_until(&self, until: Instant) {
        let mut s = self.lock();
        if s.paused_until.is_none_or(|p| p < until) {
            s.paused_until = Some(until);
        }
    }

    /// How long to wait before a request may go (and why), or `None` (and
    /// the slot is taken).
    fn try_take(&self, now: Instant) -> Option<(Duration, Held)> {
        let mut s = self.lock();
        if let Some(p) = s.paused_until {
            if p > now {
                return Some((p - now, Held::Paused));
            }
            s.paused_until = None;
        }
        let window = s.window;
        while s
            .done
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            s.done.pop_front();
        }
        if s.in_flight + s.done.len() < s.limit {
            s.in_flight += 1;
            return None;
        }
        // a slot frees when the oldest completion leaves the window
        let wait = match s.done.front() {
            Some(t) => (*t + window)
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)),
            None => Duration::from_millis(20),
        };
        Some((
            wait,
            Held::Budget {
                limit: s.limit,
                window,
            },
        ))
    }

    /// Waits for a slot.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            match self.try_take(Instant::now()) {
                None => {
                    return Permit {
                        limiter: self.clone(),
                    };
                }
                Some((wait, _)) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Waits for a slot, but not longer than `max` in all: when the next
    /// slot is further away, gives up at once with how long it is and why
    /// (the caller reports the rate limit instead of sleeping through it).
    pub async fn acquire_within(
        self: &Arc<Self>,
        max: Duration,
    ) -> Result<Permit, (Duration, Held)> {
        let start = Instant::now();
        loop {
            match self.try_take(Instant::now()) {
                None => {
                    return Ok(Permit {
                        limiter: self.clone(),
                    });
                }
                Some((wait, why)) if start.elapsed() + wait > max => return Err((wait, why)),
                Some((wait, _)) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Requests counted now (in flight + completed within the window).
    pub fn used(&self) -> usize {
        let now = Instant::now();
        let mut s = self.lock();
        let window = s.window;
        while s
            .done
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            s.done.pop_front();
        }
        s.in_flight + s.done.len()
    }
}

static LIMITERS: LazyLock<Mutex<HashMap<u64, Arc<Limiter>>>> = LazyLock::new(Default::default);

/// A hash naming a token (and API) without revealing it: the key of the
/// shared limiter and caches.
pub fn token_key(base_url: &str, token: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    base_url.hash(&mut h);
    token.hash(&mut h);
    h.finish()
}

/// The process-wide limiter of a token (created on first use; later calls
/// apply the latest budget).
pub fn for_token(key: u64, limit: u32, window: Duration) -> Arc<Limiter> {
    let mut map = LIMITERS.lock().unwrap_or_else(|e| e.into_inner());
    let l = map
        .entry(key)
        .or_insert_with(|| Arc::new(Limiter::new(limit, window)))
        .clone();
    l.set(limit, window);
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_limit_per_window() {
        let l = Arc::new(Limiter::new(3, Duration::from_secs(10)));
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..7 {
            let p = l.acquire().await;
            at.push(start.elapsed());
            drop(p);
        }
        // three at once, three after the first left the window, then one
        assert!(at[2] < Duration::from_secs(1));
        assert!(at[3] >= Duration::from_secs(10), "{at:?}");
        assert!(at[6] >= Duration::from_secs(20), "{at:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_requests_count() {
        let l = Arc::new(Limiter::new(2, Duration::from_secs(10)));
        let a = l.acquire().await;
        let _b = l.acquire().await;
        assert_eq!(l.used(), 2);
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move {
                l.acquire().await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!waiter.is_finished(), "both slots are still in flight");
        let released = Instant::now();
        drop(a);
        let got = waiter.await.unwrap();
        assert!(got.duration_since(released) >= Duration::from_secs(10));
    }

    #[tokio::test]
    async fn acquire_within_gives_up_at_once_when_the_wait_is_longer() {
        let l = Arc::new(Limiter::new(1, Duration::from_secs(10)));
        let start = Instant::now();
        l.pause_until(start + Duration::from_secs(90));
        let Err((wait, why)) = l.acquire_within(Duration::from_secs(5)).await else {
            panic!("a 90 s pause is longer than 5 s");
        };
        assert!(wait > Duration::from_secs(89) && wait <= Duration::from_secs(90));
        assert_eq!(why, Held::Paused);
        assert!(start.elapsed() < Duration::from_secs(1), "did not sleep");
        // the budget: one request per 10 s, the second is not waited for
        let l = Arc::new(Limiter::new(1, Duration::from_secs(10)));
        drop(l.acquire_within(Duration::from_secs(5)).await.unwrap());
        let Err((_, why)) = l.acquire_within(Duration::from_secs(5)).await else {
            panic!("the one slot of the window is taken");
        };
        assert_eq!(
            why.to_string(),
            "not sent: the API token's budget of 1 requests per 10s is used up"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_everything() {
        let l = Arc::new(Limiter::new(100, Duration::from_secs(10)));
        let start = Instant::now();
        l.pause_until(start + Duration::from_secs(5));
        drop(l.acquire().await);
        assert!(start.elapsed() >= Duration::from_secs(5));
    }
}
