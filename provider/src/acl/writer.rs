//! One writer per tailnet. Reconciles hand their fragment's change to the
//! writer of its tailnet and wait; the writer collects every change that
//! arrives within a short window, then does one read → merge → validate →
//! write (guarded by `If-Match`), re-reading and re-merging when the policy
//! changed underneath, and answers each waiting reconcile.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::api::{self, Written};
use super::merge::{self, Fragment};
use crate::managed::ExternalError;
use crate::tailscale::TailnetApi;

/// A fragment's change.
#[derive(Clone, Debug)]
pub enum Change {
    /// The fragment's entries, as they should be.
    Apply(Fragment),
    /// The fragment is gone: remove its entries.
    Remove(String),
}

impl Change {
    fn id(&self) -> &str {
        match self {
            Change::Apply(f) => &f.id,
            Change::Remove(id) => id,
        }
    }
}

/// What became of a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The policy holds the fragment's entries (or, for a removal, none).
    Applied,
    /// Held back: it disagrees with another fragment or a foreign entry.
    Conflict(Vec<String>),
    /// The server refused the policy it would make; the policy is unchanged.
    Rejected(String),
}

struct Job {
    api: TailnetApi,
    change: Change,
    reply: oneshot::Sender<Result<Outcome, ExternalError>>,
}

/// How many times a stale write is retried before giving up for this batch.
const MAX_STALE_RETRIES: usize = 20;
/// How many 429 answers in a row are waited out.
const MAX_RATE_LIMITED: usize = 5;
/// The longest `Retry-After` waited out inside a write; a longer one ends
/// the batch with the rate limit (each reconcile shows it and comes back
/// after it).
const MAX_IN_CALL_WAIT: Duration = Duration::from_secs(5);

/// The writers of every tailnet this process manages.
#[derive(Clone)]
pub struct Writers {
    window: Duration,
    tailnets: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Job>>>>,
    /// Per tailnet, the fragments the last merge held back, and why.
    held: Held,
    /// Per tailnet, the policy as last read for an observe, and when.
    reads: Reads,
}

type Reads = Arc<Mutex<HashMap<String, (std::time::Instant, api::Policy)>>>;

/// How long observes share one read of a tailnet's policy (observes of many
/// fragments would otherwise each GET the whole document).
const READ_TTL: Duration = Duration::from_secs(1);

type Held = Arc<Mutex<HashMap<String, BTreeMap<String, Vec<String>>>>>;

impl Writers {
    /// `window`: how long a writer waits for more changes before writing.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            tailnets: Arc::default(),
            held: Arc::default(),
            reads: Arc::default(),
        }
    }

    /// Hands `change` to the writer of `tailnet` (e.g. backend URL + tailnet)
    /// and waits for the outcome.
    pub async fn submit(
        &self,
        tailnet: &str,
        api: TailnetApi,
        change: Change,
    ) -> Result<Outcome, ExternalError> {
        let (reply, answer) = oneshot::channel();
        let mut job = Job { api, change, reply };
        for _ in 0..2 {
            let tx = {
                let mut map = self.tailnets.lock().unwrap_or_else(|e| e.into_inner());
                map.entry(tailnet.to_string())
                    .or_insert_with(|| {
                        let (tx, rx) = mpsc::unbounded_channel();
                        tokio::spawn(run(
                            tailnet.to_string(),
                            rx,
                            self.window,
                            self.held.clone(),
                            self.reads.clone(),
                        ));
                        tx
                    })
                    .clone()
            };
            match tx.send(job) {
                Ok(()) => {
                    return answer.await.map_err(|_| {
                        ExternalError::new(format!("the policy writer of {tailnet} stopped"))
                    })?;
                }
                Err(mpsc::error::SendError(j)) => {
                    // The writer ended (its runtime went away): start another.
                    job = j;
                    self.tailnets
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(tailnet);
                }
            }
        }
        Err(ExternalError::new(format!(
            "no policy writer for {tailnet}"
        )))
    }

    /// The policy of `tailnet` for an observe: one read shared for
    /// [`READ_TTL`], forgotten whenever this process writes the policy.
    pub async fn read(
        &self,
        tailnet: &str,
        api: &TailnetApi,
    ) -> Result<api::Policy, ExternalError> {
        if let Some((at, p)) = self
            .reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(tailnet)
            && at.elapsed() < READ_TTL
        {
            return Ok(p.clone());
        }
        let p = api::read(api).await?;
        self.reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tailnet.to_string(), (std::time::Instant::now(), p.clone()));
        Ok(p)
    }

    /// Why the last merge of `tailnet` held fragment `id` back, if it did
    /// (e.g. a fragment created later disagrees with it).
    pub fn held(&self, tailnet: &str, id: &str) -> Option<Vec<String>> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.get(tailnet)?.get(id).cloned()
    }
}

/// What the writer knows: the live fragments it has been told about, and the
/// removed ones whose entries may still be in the document.
#[derive(Clone, Default)]
struct Known {
    live: BTreeMap<String, Fragment>,
    removed: BTreeSet<String>,
}

impl Known {
    fn apply(&mut self, change: &Change) {
        match change {
            Change::Apply(f) => {
                self.removed.remove(&f.id);
                self.live.insert(f.id.clone(), f.clone());
            }
            Change::Remove(id) => {
                self.live.remove(id);
                self.removed.insert(id.clone());
            }
        }
    }

    fn merge(&self, text: &str) -> Result<merge::Merged, ExternalError> {
        let live: Vec<Fragment> = self.live.values().cloned().collect();
        let removed: Vec<String> = self.removed.iter().cloned().collect();
        merge::merge(text, &live, &removed).map_err(|e| ExternalError::new(e.to_string()))
    }
}

async fn run(
    tailnet: String,
    mut rx: mpsc::UnboundedReceiver<Job>,
    window: Duration,
    held: Held,
    reads: Reads,
) {
    let mut known = Known::default();
    while let Some(first) = rx.recv().await {
        tokio::time::sleep(window).await;
        let mut batch = vec![first];
        while let Ok(job) = rx.try_recv() {
            batch.push(job);
        }
        let api = batch[batch.len() - 1].api.clone();
        let changes: Vec<Change> = batch.iter().map(|j| j.change.clone()).collect();
        let result = cycle(&api, &mut known, &changes).await;
        reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&tailnet);
        tracing::debug!(
            tailnet,
            changes = changes.len(),
            ok = result.is_ok(),
            "policy batch done"
        );
        if let Ok(outcomes) = &result {
            let now: BTreeMap<String, Vec<String>> = outcomes
                .iter()
                .filter_map(|(id, o)| match o {
                    Outcome::Conflict(m) => Some((id.clone(), m.clone())),
                    _ => None,
                })
                .collect();
            held.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(tailnet.clone(), now);
        }
        for job in batch {
            let answer = match &result {
                Ok(outcomes) => Ok(outcomes
                    .get(job.change.id())
                    .cloned()
                    .unwrap_or(Outcome::Applied)),
                Err(e) => Err(e.clone()),
            };
            let _ = job.reply.send(answer);
        }
    }
}

/// Retries a call the server rate-limited, after a short `Retry-After`.
async fn patiently<T, F, Fut>(mut f: F) -> Result<T, ExternalError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ExternalError>>,
{
    let mut tries = 0;
    loop {
        match f().await {
            Err(e)
                if e.status == Some(429)
                    && tries < MAX_RATE_LIMITED
                    && e.retry_after.is_none_or(|w| w <= MAX_IN_CALL_WAIT) =>
            {
                tries += 1;
                tokio::time::sleep(e.retry_after.unwrap_or(Duration::from_secs(1))).await;
            }
            other => return other,
        }
    }
}

/// One batch: returns the outcome per fragment id; `known` becomes what the
/// policy now holds.
async fn cycle(
    api: &TailnetApi,
    known: &mut Known,
    changes: &[Change],
) -> Result<BTreeMap<String, Outcome>, ExternalError> {
    let before = known.clone();
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut next = before.clone();
    for c in changes {
        next.apply(c);
    }
    for _ in 0..MAX_STALE_RETRIES {
        let policy = patiently(|| api::read(api)).await?;
        let mut merged = next.merge(&policy.text)?;
        if merged.changed
            && let Some(message) = patiently(|| api::validate(api, &merged.text)).await?
        {
            // Find the changes the server refuses: add them one by one.
            tracing::info!(%message, "merged policy refused; checking changes one by one");
            let mut accepted = before.clone();
            for c in changes {
                let mut trial = accepted.clone();
                trial.apply(c);
                let m = trial.merge(&policy.text)?;
                match (m.changed, patiently(|| api::validate(api, &m.text)).await?) {
                    (true, Some(msg)) => {
                        outcomes.insert(c.id().to_string(), Outcome::Rejected(msg));
                    }
                    _ => accepted = trial,
                }
            }
            next = accepted;
            merged = next.merge(&policy.text)?;
        }
        if merged.changed {
            match patiently(|| api::write(api, &policy, &merged.text)).await {
                Ok(Written::Stale) => continue,
                Ok(Written::Yes) => {}
                Err(e) if e.status == Some(400) => {
                    // Validated by the write itself (no validate endpoint).
                    *known = before;
                    return Ok(changes
                        .iter()
                        .map(|c| (c.id().to_string(), Outcome::Rejected(api::server_words(&e))))
                        .collect());
                }
                Err(e) => return Err(e),
            }
        }
        for (id, msgs) in &merged.conflicts {
            outcomes
                .entry(id.clone())
                .or_insert_with(|| Outcome::Conflict(msgs.clone()));
        }
        next.removed.clear();
        *known = next;
        return Ok(outcomes);
    }
    Err(ExternalError::new(format!(
        "the policy changed under every one of {MAX_STALE_RETRIES} writes; trying again later"
    )))
}
