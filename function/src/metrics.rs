//! The gRPC server metrics every Crossplane function serves, as
//! function-sdk-go (go-grpc-prometheus) and function-sdk-rust name them:
//! `grpc_server_started_total`, `grpc_server_handled_total`,
//! `grpc_server_msg_received_total` and `grpc_server_msg_sent_total`, with
//! the labels `grpc_type`, `grpc_service`, `grpc_method` (and `grpc_code`),
//! so the same dashboards and alerts work for every function.
//!
//! As under the Go SDK's unary-only interceptor, unary calls are counted
//! (RunFunction and health Check) and every method of every served service
//! exists as a zero series from the start. `/metrics` answers OpenMetrics
//! 1.0, or the classic Prometheus text format to a scraper that asks for
//! `text/plain` and not OpenMetrics.

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::SERVICE_NAME;

const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    grpc_type: &'static str,
    grpc_service: &'static str,
    grpc_method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandledLabels {
    grpc_type: &'static str,
    grpc_service: &'static str,
    grpc_method: &'static str,
    grpc_code: &'static str,
}

/// The four counter families, and the registry /metrics renders.
struct Series {
    started: Family<MethodLabels, Counter>,
    handled: Family<HandledLabels, Counter>,
    msg_received: Family<MethodLabels, Counter>,
    msg_sent: Family<MethodLabels, Counter>,
    registry: Registry,
}

static SERIES: LazyLock<Series> = LazyLock::new(|| {
    let (started, handled, msg_received, msg_sent) = Default::default();
    let mut series = Series {
        started,
        handled,
        msg_received,
        msg_sent,
        registry: Registry::default(),
    };
    let registry = &mut series.registry;
    // Registered without `_total` and without the help's final period: the
    // OpenMetrics encoder adds the suffix, and the Go help strings end in a
    // period the encoder would double.
    registry.register(
        "grpc_server_started",
        "Total number of RPCs started on the server",
        series.started.clone(),
    );
    registry.register(
        "grpc_server_handled",
        "Total number of RPCs completed on the server, regardless of success or failure",
        series.handled.clone(),
    );
    registry.register(
        "grpc_server_msg_received",
        "Total number of RPC stream messages received on the server",
        series.msg_received.clone(),
    );
    registry.register(
        "grpc_server_msg_sent",
        "Total number of gRPC stream messages sent by the server",
        series.msg_sent.clone(),
    );
    let served: [(&'static str, &'static str, &'static str); 5] = [
        ("unary", SERVICE_NAME, "RunFunction"),
        ("unary", HEALTH_SERVICE, "Check"),
        ("server_stream", HEALTH_SERVICE, "Watch"),
        (
            "bidi_stream",
            "grpc.reflection.v1.ServerReflection",
            "ServerReflectionInfo",
        ),
        (
            "bidi_stream",
            "grpc.reflection.v1alpha.ServerReflection",
            "ServerReflectionInfo",
        ),
    ];
    for (grpc_type, grpc_service, grpc_method) in served {
        let method = MethodLabels {
            grpc_type,
            grpc_service,
            grpc_method,
        };
        let _ = series.started.get_or_create(&method);
        let _ = series.msg_received.get_or_create(&method);
        let _ = series.msg_sent.get_or_create(&method);
        for grpc_code in CODES {
            let _ = series.handled.get_or_create(&HandledLabels {
                grpc_type,
                grpc_service,
                grpc_method,
                grpc_code,
            });
        }
    }
    series
});

/// gRPC status codes by number, named as grpc-go's `codes.Code` prints them.
const CODES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

const UNKNOWN: u32 = 2;

/// The unary method an HTTP/2 path calls, if it is one that is counted.
fn unary_method(path: &str) -> Option<MethodLabels> {
    let (grpc_service, grpc_method) = match path {
        crate::server::RUN_FUNCTION_PATH => (SERVICE_NAME, "RunFunction"),
        "/grpc.health.v1.Health/Check" => (HEALTH_SERVICE, "Check"),
        _ => return None,
    };
    Some(MethodLabels {
        grpc_type: "unary",
        grpc_service,
        grpc_method,
    })
}

/// One counted call: started and received when it arrives, handled (and
/// sent, when OK) once its status is known. Dropped without a status, the
/// caller went away: Canceled, as the Go interceptor saw a canceled context.
struct Call {
    method: MethodLabels,
    reported: bool,
}

impl Call {
    fn start(method: MethodLabels) -> Self {
        SERIES.started.get_or_create(&method).inc();
        SERIES.msg_received.get_or_create(&method).inc();
        Call {
            method,
            reported: false,
        }
    }

    fn finish(&mut self, code: u32) {
        if std::mem::replace(&mut self.reported, true) {
            return;
        }
        let grpc_code = CODES.get(code as usize).copied().unwrap_or("Unknown");
        let MethodLabels {
            grpc_type,
            grpc_service,
            grpc_method,
        } = self.method;
        SERIES
            .handled
            .get_or_create(&HandledLabels {
                grpc_type,
                grpc_service,
                grpc_method,
                grpc_code,
            })
            .inc();
        if code == 0 {
            SERIES.msg_sent.get_or_create(&self.method).inc();
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish(1);
    }
}

/// A numeric `grpc-status` in headers or trailers.
fn grpc_status(map: &http::HeaderMap) -> Option<u32> {
    map.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// The tower layer around every gRPC service of the server.
#[derive(Clone, Copy, Default)]
pub struct Layer;

impl<S> tower_layer::Layer<S> for Layer {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted { inner }
    }
}

#[derive(Clone)]
pub struct Counted<S> {
    inner: S,
}

impl<S, B> tower_service::Service<http::Request<B>> for Counted<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<CountedBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let mut call = unary_method(request.uri().path()).map(Call::start);
        // The service that was polled ready takes the call (tower's contract).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let response = inner.call(request).await?;
            let (parts, body) = response.into_parts();
            // A refusal is trailers-only: its status is in the headers.
            if let Some(code) = grpc_status(&parts.headers)
                && let Some(mut finished) = call.take()
            {
                finished.finish(code);
            }
            Ok(http::Response::from_parts(
                parts,
                CountedBody { inner: body, call },
            ))
        })
    }
}

/// A response body that reports its call's status when the trailers that
/// carry it pass by.
pub struct CountedBody {
    inner: tonic::body::Body,
    call: Option<Call>,
}

impl http_body::Body for CountedBody {
    type Data = <tonic::body::Body as http_body::Body>::Data;
    type Error = <tonic::body::Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let frame = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(call) = this.call.as_mut() {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(trailers) = frame.trailers_ref() {
                        call.finish(grpc_status(trailers).unwrap_or(UNKNOWN));
                    }
                }
                // A broken body, or one that ends without a status.
                Some(Err(_)) | None => call.finish(UNKNOWN),
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The series as OpenMetrics 1.0 text.
pub fn openmetrics() -> String {
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &SERIES.registry);
    text
}

/// The classic Prometheus text format of the same samples: a counter's
/// HELP and TYPE lines name it with `_total`, and there is no `# EOF`.
pub fn prometheus_text() -> String {
    let mut text = String::new();
    for line in openmetrics().lines() {
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let (name, rest) = line.strip_prefix(prefix)?.split_once(' ')?;
            name.starts_with("grpc_server_")
                .then(|| format!("{prefix}{name}_total {rest}"))
        });
        match renamed {
            Some(line) => text.push_str(&line),
            None if line == "# EOF" => continue,
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

/// Whether an HTTP request head asks for the classic format: it accepts
/// `text/plain` and not OpenMetrics (no Accept, or `*/*`, gets OpenMetrics).
fn wants_prometheus_text(head: &str) -> bool {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("accept"))
        .is_some_and(|(_, accept)| {
            accept.contains("text/plain") && !accept.contains("application/openmetrics-text")
        })
}

/// Serves `/metrics` over plain HTTP at `address` (`:PORT` is every
/// interface, as in Go) until the process ends.
pub async fn serve(address: &str) -> std::io::Result<()> {
    let address = match address.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => address.to_string(),
    };
    let listener = tokio::net::TcpListener::bind(&address).await?;
    tracing::info!(%address, "serving metrics at /metrics");
    loop {
        let (mut connection, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!(error = %e, "cannot accept a metrics connection");
                continue;
            }
        };
        tokio::spawn(async move {
            let mut head = [0u8; 4096];
            let read = connection.read(&mut head).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&head[..read]);
            let path = head.split_whitespace().nth(1).unwrap_or_default();
            let answer = if path == "/metrics" {
                let (body, content_type) = if wants_prometheus_text(&head) {
                    (prometheus_text(), PROMETHEUS_TEXT)
                } else {
                    (openmetrics(), OPENMETRICS)
                };
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = connection.write_all(answer.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_method_starts_as_a_zero_series() {
        let text = openmetrics();
        for want in [
            "grpc_server_started_total{grpc_type=\"unary\",grpc_service=\"apiextensions.fn.proto.v1.FunctionRunnerService\",grpc_method=\"RunFunction\"}",
            "grpc_server_handled_total{grpc_type=\"unary\",grpc_service=\"grpc.health.v1.Health\",grpc_method=\"Check\",grpc_code=\"NotFound\"} 0",
            "grpc_server_msg_sent_total{grpc_type=\"bidi_stream\",grpc_service=\"grpc.reflection.v1.ServerReflection\",grpc_method=\"ServerReflectionInfo\"} 0",
            "# HELP grpc_server_started Total number of RPCs started on the server.",
            "# TYPE grpc_server_handled counter",
        ] {
            assert!(text.contains(want), "no {want} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn the_classic_format_names_counters_with_total() {
        let text = prometheus_text();
        assert!(
            text.contains("# TYPE grpc_server_started_total counter\n"),
            "{text}"
        );
        assert!(text.contains(
            "# HELP grpc_server_msg_received_total Total number of RPC stream messages received on the server.\n"
        ));
        assert!(!text.contains("# EOF"));
        assert!(!text.contains("# TYPE grpc_server_started counter"));
    }

    #[test]
    fn a_call_dropped_before_its_status_is_canceled() {
        let method = MethodLabels {
            grpc_type: "unary",
            grpc_service: HEALTH_SERVICE,
            grpc_method: "Check",
        };
        let canceled = HandledLabels {
            grpc_type: "unary",
            grpc_service: HEALTH_SERVICE,
            grpc_method: "Check",
            grpc_code: "Canceled",
        };
        let before = SERIES.handled.get_or_create(&canceled).get();
        drop(Call::start(method));
        assert_eq!(SERIES.handled.get_or_create(&canceled).get(), before + 1);
    }

    #[test]
    fn accept_headers() {
        let head = |accept: &str| format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{accept}\r\n\r\n");
        assert!(!wants_prometheus_text(&head("")));
        assert!(!wants_prometheus_text(&head("Accept: */*")));
        assert!(wants_prometheus_text(&head(
            "accept: text/plain;version=0.0.4"
        )));
        assert!(!wants_prometheus_text(&head(
            "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
        )));
    }
}
