//! The gRPC server Crossplane runs a function as: `FunctionRunnerService`
//! beside the gRPC health service (SERVING) and server reflection (v1 and
//! v1alpha), mTLS unless `--insecure`, and the Go SDK's `grpc_server_*`
//! metrics at `--metrics-address`.
//!
//! This is function-sdk-rust's `Server` with two differences: RunFunction
//! responses are written by [`crate::wire::Encoding`] instead of prost,
//! which measures each composed resource once instead of once per nesting
//! level, and a request reaches the function as its bytes, so that it can
//! read the observed resources in place (`request.rs`; docs/performance.md).
//! The SDK's `Server` takes a `FunctionRunnerService` and builds its own
//! service with prost's codec, so using another codec means serving the
//! routes here; [`Decoded`] still serves any SDK `FunctionRunnerService`. Everything else —
//! the command-line [`Args`], the protocol types, the descriptor set served
//! by reflection, the errors — is the SDK's.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use function_sdk_rust::proto::v1::function_runner_service_server::FunctionRunnerService;
use function_sdk_rust::proto::v1::{RunFunctionRequest, RunFunctionResponse};
use function_sdk_rust::{Args, Error};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::BoxFuture;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;

use crate::health;

use crate::metrics;
use crate::wire::Encoding;

/// The fully qualified name of the service a composition function serves.
pub const SERVICE_NAME: &str = "apiextensions.fn.proto.v1.FunctionRunnerService";

/// The HTTP/2 path of its one method.
pub const RUN_FUNCTION_PATH: &str = "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction";

/// How long in-flight calls may take after SIGTERM unless told otherwise.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// What the server calls for each RunFunction request, given its bytes as
/// received.
pub trait RunFunctionBytes: Send + Sync + 'static {
    fn run_function_bytes(
        &self,
        request: Request<Bytes>,
    ) -> BoxFuture<Response<RunFunctionResponse>, Status>;
}

/// An SDK `FunctionRunnerService`, called with each request decoded by
/// prost (a request prost refuses is answered INTERNAL, as tonic does).
pub struct Decoded<F>(pub Arc<F>);

impl<F: FunctionRunnerService> RunFunctionBytes for Decoded<F> {
    fn run_function_bytes(
        &self,
        request: Request<Bytes>,
    ) -> BoxFuture<Response<RunFunctionResponse>, Status> {
        let function = self.0.clone();
        Box::pin(async move {
            let (metadata, extensions, bytes) = request.into_parts();
            let decoded =
                RunFunctionRequest::decode(bytes).map_err(|e| Status::internal(e.to_string()))?;
            function
                .run_function(Request::from_parts(metadata, extensions, decoded))
                .await
        })
    }
}

/// Serves `function` as `args` say until SIGTERM or SIGINT, then shuts down
/// gracefully within [`DEFAULT_GRACE_PERIOD`].
pub async fn serve<F: RunFunctionBytes>(function: F, args: &Args) -> Result<(), Error> {
    serve_with_grace(function, args, DEFAULT_GRACE_PERIOD).await
}

/// Serves until SIGTERM or SIGINT. Then, in order: health turns
/// `NOT_SERVING` (every open health `Watch` stream gets it and ends), no new
/// calls are taken, in-flight RunFunction calls finish, and the process
/// returns once they did or `grace` has passed, whichever comes first.
pub async fn serve_with_grace<F: RunFunctionBytes>(
    function: F,
    args: &Args,
    grace: Duration,
) -> Result<(), Error> {
    serve_until(function, args, grace, shutdown_signal()).await
}

/// As [`serve_with_grace`], shutting down when `signal` completes instead of
/// on SIGTERM: tests stop a server in-process this way.
pub async fn serve_until<F: RunFunctionBytes>(
    function: F,
    args: &Args,
    grace: Duration,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let address: SocketAddr = args.address.parse()?;

    let mut builder = tonic::transport::Server::builder();
    if !args.insecure {
        let dir = args
            .tls_certs_dir
            .as_deref()
            .ok_or(Error::MissingTlsCertsDir)?;
        builder = builder.tls_config(tls_config(dir)?)?;
    }

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(function_sdk_rust::proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(function_sdk_rust::proto::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    // SERVING before the server listens, so no probe sees anything else.
    let (health_status, health_service) = health::service();
    let stopping = Arc::new(tokio::sync::Notify::new());
    let shutdown = {
        let stopping = stopping.clone();
        async move {
            signal.await;
            health_status.send_replace(ServingStatus::NotServing);
            stopping.notify_one();
        }
    };

    // Like the Go SDK's, the metrics listener runs beside the gRPC server,
    // and failing to serve it is logged, never the function's failure.
    if !args.metrics_address.is_empty() {
        let metrics_address = args.metrics_address.clone();
        tokio::spawn(async move {
            if let Err(e) = metrics::serve(&metrics_address).await {
                tracing::error!(error = %e, address = %metrics_address, "cannot serve metrics");
            }
        });
    }

    tracing::info!(%address, insecure = args.insecure, "serving FunctionRunnerService");
    let server = builder
        .layer(metrics::Layer)
        .add_service(RunFunctionService {
            function: Arc::new(function),
            max_decoding_message_size: args.max_recv_message_size,
        })
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_shutdown(address, shutdown);
    tokio::pin!(server);
    let grace_over = async {
        stopping.notified().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = &mut server => served?,
        () = grace_over => {
            tracing::warn!(grace = ?grace, "grace period over: closing the calls still open");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// mTLS with the files Crossplane mounts: the server's `tls.crt` and
/// `tls.key`, and `ca.crt` that every client certificate must chain to.
fn tls_config(dir: &Path) -> Result<ServerTlsConfig, Error> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| Error::ReadCertificate { path, source })
    };
    Ok(ServerTlsConfig::new()
        .identity(Identity::from_pem(read("tls.crt")?, read("tls.key")?))
        .client_ca_root(Certificate::from_pem(read("ca.crt")?))
        .client_auth_optional(false))
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM; stop with SIGINT");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}

/// `FunctionRunnerService` as an HTTP/2 service: what tonic generates for
/// it, with [`WireCodec`] in place of prost's codec.
struct RunFunctionService<F> {
    function: Arc<F>,
    max_decoding_message_size: Option<usize>,
}

impl<F> Clone for RunFunctionService<F> {
    fn clone(&self) -> Self {
        RunFunctionService {
            function: self.function.clone(),
            max_decoding_message_size: self.max_decoding_message_size,
        }
    }
}

impl<F> tonic::server::NamedService for RunFunctionService<F> {
    const NAME: &'static str = SERVICE_NAME;
}

impl<F: RunFunctionBytes> tower_service::Service<http::Request<tonic::body::Body>>
    for RunFunctionService<F>
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if request.uri().path() != RUN_FUNCTION_PATH {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        }
        let method = RunFunction(self.function.clone());
        let mut grpc = tonic::server::Grpc::new(WireCodec)
            .apply_max_message_size_config(self.max_decoding_message_size, None);
        Box::pin(async move {
            let mut response = grpc.unary(method, request).await;
            resource_exhausted_for_oversized(&mut response);
            Ok(response)
        })
    }
}

/// tonic refuses a request over the size limit with OUT_OF_RANGE; grpc-go,
/// which Crossplane and the Go SDK's functions use, with RESOURCE_EXHAUSTED,
/// and that is what `--max-recv-message-size` promises. RunFunction itself
/// never answers OUT_OF_RANGE (only OK, or INTERNAL should it panic), so a
/// trailers-only OUT_OF_RANGE here is that refusal.
fn resource_exhausted_for_oversized(response: &mut http::Response<tonic::body::Body>) {
    let headers = response.headers_mut();
    let out_of_range = headers
        .get(Status::GRPC_STATUS)
        .is_some_and(|code| code.as_bytes() == b"11");
    if out_of_range {
        headers.insert(
            Status::GRPC_STATUS,
            http::HeaderValue::from(tonic::Code::ResourceExhausted as i32),
        );
    }
}

/// The one unary method, calling the function.
struct RunFunction<F>(Arc<F>);

impl<F: RunFunctionBytes> tonic::server::UnaryService<Bytes> for RunFunction<F> {
    type Response = RunFunctionResponse;
    type Future = BoxFuture<Response<RunFunctionResponse>, Status>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        self.0.run_function_bytes(request)
    }
}

/// Requests passed on as their bytes; responses written by [`Encoding`].
#[derive(Clone, Copy, Default)]
struct WireCodec;

impl Codec for WireCodec {
    type Encode = RunFunctionResponse;
    type Decode = Bytes;
    type Encoder = ResponseEncoder;
    type Decoder = RequestBytes;

    fn encoder(&mut self) -> Self::Encoder {
        ResponseEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestBytes
    }
}

/// The message's bytes as tonic framed them (no copy: they are split off
/// its receive buffer).
struct RequestBytes;

impl Decoder for RequestBytes {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

struct ResponseEncoder;

impl Encoder for ResponseEncoder {
    type Item = RunFunctionResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        let encoding = Encoding::new(item);
        dst.reserve(encoding.len());
        encoding.write(dst);
        Ok(())
    }
}
