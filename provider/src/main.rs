//! provider-hybrid-spoke: the controller manager. Runs with no arguments
//! inside a Crossplane package (in-cluster config, defaults below).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use provider_hybrid_spoke::managed::decide::parse_go_duration;
use provider_hybrid_spoke::managed::reconciler::Options;
use provider_hybrid_spoke::manager::{self, Settings, Shutdown};

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

/// Crossplane provider for hybrid spokes: TailnetKey (Tailscale API v2 or
/// Headscale).
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
    /// Time limit of each call to the tailnet API.
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

fn main() -> std::process::ExitCode {
    let flags = Flags::parse();
    let filter = if flags.debug {
        "debug,hyper=info,h2=info,tower=info,rustls=info,kube=info"
    } else {
        "info"
    };
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
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
        let client = match kube::Client::try_default().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(
                    "cannot build a Kubernetes client (in-cluster config or KUBECONFIG): {e}"
                );
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
