//! `function-hybrid-spoke`: the XHybridSpoke composition function served
//! over gRPC, exactly as Crossplane runs a function package.
//!
//! With no arguments it listens on TCP 9443 with mTLS from
//! `TLS_SERVER_CERTS_DIR` (`tls.crt`, `tls.key`, `ca.crt`; client
//! certificates required), serves the gRPC health service (SERVING) and
//! server reflection beside `apiextensions.fn.proto.v1.FunctionRunnerService`,
//! and Prometheus metrics at `:8080/metrics`. `--insecure` serves plaintext
//! for local use (`crossplane render` with the Development runtime).
//!
//! The server is [`function_hybrid_spoke::server`] (function-sdk-rust's
//! server with a faster response encoder); this binary only parses the
//! flags of function-template-go (see [`Cli`]) and calls the pure
//! [`function_hybrid_spoke::run`] for every request.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use clap::Parser;
use function_hybrid_spoke::server::RunFunctionBytes;
use function_sdk_rust::proto::v1::{RunFunctionRequest, RunFunctionResponse, Severity};
use function_sdk_rust::{Args, logging};
use tonic::codegen::BoxFuture;
use tonic::{Request, Response, Status};

// mimalloc: composing a spoke is mostly allocating small strings and maps
// (halves the compose time against glibc's malloc). Its arena is committed
// on demand, not eagerly (.cargo/config.toml), to keep idle memory small.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One MiB: function-template-go's `--max-recv-message-size` unit.
const MIB: usize = 1024 * 1024;

/// Largest `--max-recv-message-size` value read as MiB. Protobuf messages
/// cannot exceed 2 GiB, and a limit of a few KiB makes no sense for
/// Crossplane requests, so every value is unambiguous: up to 2048 it is MiB
/// (function-template-go, function-sdk-python), above it bytes
/// (function-sdk-rust's own `Args`).
const MAX_MIB_VALUE: u64 = 2048;

/// The command line of function-template-go (`--debug`, `--address`,
/// `--tls-certs-dir`, `--insecure`, `--max-recv-message-size`) plus the
/// SDK's `--metrics-address`, mapped onto [`function_sdk_rust::Args`].
///
/// Differences from the SDK's `Args`, all so that flags written for Go
/// functions (e.g. in a DeploymentRuntimeConfig) mean the same here:
/// - `--address` also takes Go's `:PORT` form (every interface) and
///   `host:port` names, which are resolved once at startup; the default is
///   `:9443` = `0.0.0.0:9443`, the SDK's default.
/// - `--max-recv-message-size` is in MiB like function-template-go
///   (default 4); a value above 2048 is taken as bytes, the SDK's unit, so
///   `16` and `16777216` both mean 16 MiB.
#[derive(Parser, Debug)]
#[command(
    name = "function-hybrid-spoke",
    version,
    about = "Crossplane composition function: one XHybridSpoke becomes a whole EKS or AKS spoke"
)]
struct Cli {
    /// Emit debug logs (human-readable, one line per RunFunction request).
    #[arg(short, long, env = "DEBUG", default_value_t = false)]
    debug: bool,

    /// Address at which to listen for gRPC connections: `:PORT` (every
    /// interface), `IP:PORT` or `HOST:PORT`.
    #[arg(long, default_value = ":9443")]
    address: String,

    /// Directory containing tls.crt, tls.key and ca.crt; serve using mTLS
    /// and require client certificates signed by ca.crt.
    #[arg(long, env = "TLS_SERVER_CERTS_DIR")]
    tls_certs_dir: Option<PathBuf>,

    /// Run without mTLS credentials. If set, --tls-certs-dir is ignored.
    #[arg(long, default_value_t = false)]
    insecure: bool,

    /// Maximum size of received messages in MiB (values above 2048 are
    /// taken as bytes). Requests larger than this fail with RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    max_recv_message_size: u64,

    /// Address at which to serve Prometheus metrics at /metrics (`:8080`
    /// means every interface); empty disables them.
    #[arg(long, env = "METRICS_ADDRESS", default_value = ":8080")]
    metrics_address: String,

    /// Seconds in-flight calls may take after SIGTERM. Health turns
    /// NOT_SERVING at once and open health watches end; the process exits
    /// when the calls finished or this has passed.
    #[arg(long, default_value_t = 10)]
    grace_period_seconds: u64,
}

impl Cli {
    /// The SDK's arguments, or why the command line cannot be served.
    fn into_args(self) -> Result<Args, String> {
        Ok(Args {
            debug: self.debug,
            address: listen_address(&self.address)?.to_string(),
            tls_certs_dir: self.tls_certs_dir,
            insecure: self.insecure,
            max_recv_message_size: Some(max_recv_bytes(self.max_recv_message_size)?),
            metrics_address: self.metrics_address,
        })
    }
}

/// Resolves `:PORT`, `IP:PORT` and `HOST:PORT` to one socket address.
fn listen_address(address: &str) -> Result<SocketAddr, String> {
    let address = address.trim();
    let full = if address.starts_with(':') {
        format!("0.0.0.0{address}")
    } else {
        address.to_string()
    };
    if let Ok(parsed) = full.parse() {
        return Ok(parsed);
    }
    full.to_socket_addrs()
        .map_err(|e| format!("cannot resolve --address {address:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("--address {address:?} resolves to no address"))
}

/// `--max-recv-message-size` in bytes: MiB up to [`MAX_MIB_VALUE`], bytes above.
fn max_recv_bytes(value: u64) -> Result<usize, String> {
    let bytes = if value <= MAX_MIB_VALUE {
        value.checked_mul(MIB as u64)
    } else {
        Some(value)
    };
    bytes
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("--max-recv-message-size {value} is too large"))
}

/// The RunFunction handler: every request runs the pure composition inline
/// (it is CPU-only and takes microseconds, far less than a `spawn_blocking`
/// hand-off would add), reading the observed resources in place from the
/// request's bytes.
struct HybridSpoke;

impl RunFunctionBytes for HybridSpoke {
    fn run_function_bytes(
        &self,
        request: Request<Bytes>,
    ) -> BoxFuture<Response<RunFunctionResponse>, Status> {
        let bytes = request.into_inner();
        Box::pin(std::future::ready(run_function(&bytes).map(Response::new)))
    }
}

fn run_function(bytes: &[u8]) -> Result<RunFunctionResponse, Status> {
    let started = std::time::Instant::now();
    // What prost would refuse is refused as tonic refuses it: INTERNAL.
    let req = function_hybrid_spoke::request::parse(bytes)
        .map_err(|e| Status::internal(e.to_string()))?;
    // `run` never panics by contract; should it ever, Crossplane gets an
    // INTERNAL status naming the cause instead of a reset connection.
    let rsp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        function_hybrid_spoke::run_in_place(&req)
    }))
    .map_err(|panic| {
        let cause = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        tracing::error!(tag = tag(&req.head), %cause, "the composition panicked");
        Status::internal(format!("function-hybrid-spoke panicked: {cause}"))
    })?;
    tracing::debug!(
        tag = tag(&req.head),
        desired_in = desired_count(req.head.desired.as_ref()),
        desired_out = desired_count(rsp.desired.as_ref()),
        results = rsp.results.len(),
        fatal = rsp
            .results
            .iter()
            .any(|r| r.severity == Severity::Fatal as i32),
        micros = started.elapsed().as_micros() as u64,
        "RunFunction"
    );
    Ok(rsp)
}

fn tag(req: &RunFunctionRequest) -> &str {
    req.meta
        .as_ref()
        .map(|m| m.tag.as_str())
        .unwrap_or_default()
}

fn desired_count(state: Option<&function_sdk_rust::proto::v1::State>) -> usize {
    state.map(|s| s.resources.len()).unwrap_or_default()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::configure(cli.debug);
    let grace = std::time::Duration::from_secs(cli.grace_period_seconds);
    let args = match cli.into_args() {
        Ok(args) => args,
        Err(e) => {
            tracing::error!(error = %e, "invalid arguments");
            return ExitCode::from(2);
        }
    };
    match function_hybrid_spoke::server::serve_with_grace(HybridSpoke, &args, grace).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "cannot serve the function");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_addresses() {
        assert_eq!(
            listen_address(":9443").unwrap(),
            "0.0.0.0:9443".parse().unwrap()
        );
        assert_eq!(
            listen_address("127.0.0.1:1").unwrap(),
            "127.0.0.1:1".parse().unwrap()
        );
        assert_eq!(
            listen_address("[::1]:2").unwrap(),
            "[::1]:2".parse().unwrap()
        );
        assert!(listen_address("localhost:3").unwrap().ip().is_loopback());
        assert!(listen_address("no port").is_err());
    }

    #[test]
    fn message_size_in_mib_or_bytes() {
        assert_eq!(max_recv_bytes(4).unwrap(), 4 * MIB);
        assert_eq!(max_recv_bytes(2048).unwrap(), 2048 * MIB);
        assert_eq!(max_recv_bytes(16 * MIB as u64).unwrap(), 16 * MIB);
    }

    #[test]
    fn defaults_are_crossplanes() {
        let args = Cli::parse_from(["function-hybrid-spoke"])
            .into_args()
            .unwrap();
        assert_eq!(args.address, "0.0.0.0:9443");
        assert_eq!(args.max_recv_message_size, Some(4 * MIB));
        assert_eq!(args.metrics_address, ":8080");
        assert!(!args.insecure);
    }

    #[test]
    fn grace_period_defaults_to_ten_seconds() {
        let cli = Cli::parse_from(["function-hybrid-spoke"]);
        assert_eq!(cli.grace_period_seconds, 10);
        assert_eq!(
            std::time::Duration::from_secs(cli.grace_period_seconds),
            function_hybrid_spoke::server::DEFAULT_GRACE_PERIOD
        );
    }
}
