//! provider-hybrid-spoke: the controller manager. Runs with no arguments
//! inside a Crossplane package (in-cluster config, defaults below).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use provider_hybrid_spoke::managed::decide::parse_go_duration;
use provider_hybrid_spoke::managed::reconciler::Options;
use provider_hybrid_spoke::manager::{self, Settings, Shutdown};

/// glibc's allocator gives threads arenas of their own (up to eight per
/// core) and keeps what they freed: memory one thread freed is not reused by
/// another, and the peak of every arena adds up. Two arenas, and what is
/// free given back every [`TRIM_EVERY`], keep the provider's RSS near its
/// live heap (scale bench, docs/performance.md). Other C libraries: nothing.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod malloc {
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
        fn malloc_trim(pad: usize) -> i32;
    }
    /// glibc `M_ARENA_MAX`.
    const M_ARENA_MAX: i32 = -8;

    pub fn limit_arenas(n: i32) {
        // SAFETY: mallopt only sets an allocator parameter; called before
        // any other thread exists.
        unsafe {
            mallopt(M_ARENA_MAX, n);
        }
    }

    pub fn trim() {
        // SAFETY: malloc_trim only returns free memory to the system.
        unsafe {
            malloc_trim(0);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod malloc {
    pub fn limit_arenas(_: i32) {}
    pub fn trim() {}
}

/// How often free heap memory is given back to the system.
const TRIM_EVERY: Duration = Duration::from_secs(10);

fn duration(s: &str) -> Result<Duration, String> {
    parse_go_duration(s).ok_or_else(|| format!("{s:?} is not a duration such as 1m, 90s or 1h30m"))
}

/// A listen address; empty or `0`: do not listen.
#[derive(Clone, Copy, Debug)]
struct Bind(Option<SocketAddr>);

fn address(s: &str) -> Result<Bind, String> {
    if s.is_empty() || s == "0" {
        return Ok(Bind(None));
    }
    let s = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    };
    s.parse()
        .map(|a| Bind(Some(a)))
        .map_err(|e| format!("{s:?}: {e}"))
}

/// Crossplane provider for hybrid spokes. Kinds: TailnetKey (auth keys and
/// OAuth clients) and AclFragment (entries of the tailnet policy) on
/// Tailscale (SaaS, API v2) or Headscale; Tunnel (a Cloudflare Tunnel with
/// its DNS records) on Cloudflare.
#[derive(Parser, Debug)]
#[command(name = "provider-hybrid-spoke", version)]
struct Flags {
    /// Run with debug logging.
    #[arg(short, long, env = "DEBUG")]
    debug: bool,
    /// How often an up-to-date external resource is checked for drift.
    #[arg(long, default_value = "10m", value_parser = duration)]
    poll: Duration,
    /// Jitter of the poll interval, in percent (±).
    #[arg(long, default_value_t = 10)]
    poll_jitter_percentage: u8,
    /// Every managed resource is reconciled at least this often.
    #[arg(short, long, default_value = "1h", value_parser = duration)]
    sync: Duration,
    /// Reconciles per second overall (burst 10×), and concurrent reconciles
    /// per controller. 100 as provider-kubernetes and provider-helm; 1,000
    /// new TailnetKeys take ~190 s at 10 (docs/performance.md).
    #[arg(long, default_value_t = 100)]
    max_reconcile_rate: u32,
    /// Use leader election (a Lease) so only one replica reconciles.
    #[arg(short, long, env = "LEADER_ELECTION")]
    leader_election: bool,
    /// How long a leader's Lease lasts without renewal (renewed every sixth).
    #[arg(long, default_value = "60s", value_parser = duration)]
    leader_election_lease_duration: Duration,
    /// Allow spec.managementPolicies other than ["*"] and [].
    #[arg(long, env = "ENABLE_MANAGEMENT_POLICIES", default_value_t = true, action = clap::ArgAction::Set)]
    enable_management_policies: bool,
    /// Time limit of every external operation (one observe, create, update
    /// or delete, with its retries) on every service: Tailscale or
    /// Headscale, and Cloudflare; also of each single Tailscale/Headscale
    /// request (a Cloudflare request has its own 30 s).
    #[arg(long, default_value = "1m", value_parser = duration)]
    timeout: Duration,
    /// Where /metrics is served (empty: nowhere).
    #[arg(long, default_value = ":8080", value_parser = address)]
    metrics_bind_address: Bind,
    /// Where /healthz and /readyz are served (empty: nowhere).
    #[arg(long, default_value = ":8081", value_parser = address)]
    health_probe_bind_addr: Bind,
    /// How often the crossplane_managed_resource_{exists,ready,synced} gauges
    /// are refreshed.
    #[arg(long, default_value = "5s", value_parser = duration)]
    poll_state_metric: Duration,
    /// How long a tailnet's policy writer collects AclFragment changes
    /// before one read-merge-write.
    #[arg(long, default_value = "1s", value_parser = duration)]
    acl_write_window: Duration,
}

/// The in-cluster config in a pod, else the kubeconfig; a kubeconfig that
/// is not there is named plainly (the client library's message quotes the
/// path twice: `'"/path"'`).
async fn kube_client() -> Result<kube::Client, String> {
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    if !in_cluster {
        let paths: Vec<std::path::PathBuf> = match std::env::var_os("KUBECONFIG") {
            Some(v) if !v.is_empty() => std::env::split_paths(&v).collect(),
            _ => std::env::var_os("HOME")
                .map(|h| vec![std::path::Path::new(&h).join(".kube").join("config")])
                .unwrap_or_default(),
        };
        let from = if std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty()) {
            "KUBECONFIG"
        } else {
            "the default path"
        };
        if let Some(missing) = paths.iter().find(|p| !p.exists()) {
            return Err(format!(
                "no kubeconfig at {} (from {from}) and not running in a pod (KUBERNETES_SERVICE_HOST is not set)",
                missing.display()
            ));
        }
    }
    kube::Client::try_default()
        .await
        .map_err(|e| e.to_string().replace("'\"", "'").replace("\"'", "'"))
}

fn main() -> std::process::ExitCode {
    malloc::limit_arenas(2);
    let flags = Flags::parse();
    let filter = if flags.debug {
        "debug,hyper=info,h2=info,tower=info,rustls=info,kube=info"
    } else {
        "info"
    };
    tracing_subscriber::fmt()
        .json()
        // each line of a reconcile names its resource (the `reconcile` span:
        // kind, namespace, name, external name)
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| filter.into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let client = match kube_client().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("cannot build a Kubernetes client: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let identity = format!(
            "{}_{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "provider-hybrid-spoke".into()),
            std::process::id()
        );
        let settings = Settings {
            reconcile: Options {
                poll: flags.poll,
                poll_jitter: f64::from(flags.poll_jitter_percentage) / 100.0,
                timeout: flags.timeout,
                management_policies: flags.enable_management_policies,
                ..Options::default()
            },
            sync: flags.sync,
            max_reconcile_rate: flags.max_reconcile_rate,
            leader_election: flags.leader_election,
            lease_duration: flags.leader_election_lease_duration,
            leader_namespace: std::env::var("POD_NAMESPACE")
                .unwrap_or_else(|_| "crossplane-system".into()),
            identity,
            metrics_addr: flags.metrics_bind_address.0,
            health_addr: flags.health_probe_bind_addr.0,
            poll_state_metric: flags.poll_state_metric,
            // one tunnel list and one record list per zone per poll; the
            // per-tunnel configuration, connections and token every sync
            cloudflare: provider_hybrid_spoke::cloudflare::tunnel::Options {
                list_window: flags.poll,
                check_interval: flags.sync,
                ..Default::default()
            },
            acl_write_window: flags.acl_write_window,
        };
        tokio::spawn(async {
            loop {
                tokio::time::sleep(TRIM_EVERY).await;
                malloc::trim();
            }
        });
        let (stop_tx, shutdown) = Shutdown::new();
        tokio::spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
        });
        tracing::info!(?settings, "starting provider-hybrid-spoke");
        match manager::run(client, settings, shutdown).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}
