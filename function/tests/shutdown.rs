//! Shutdown, in-process: once the signal comes, a RunFunction call already
//! in flight still finishes and gets its answer, and the server returns when
//! it did; a call that outlasts the grace period does not hold the server
//! past it. (tests/server.rs shows health turning NOT_SERVING and open
//! Watch streams ending on a real SIGTERM to the binary; main.rs's tests
//! the 10 s default.)

use std::time::{Duration, Instant};

use function_hybrid_spoke::server::{Decoded, serve_until};
use function_sdk_rust::Args;
use function_sdk_rust::proto::v1::function_runner_service_client::FunctionRunnerServiceClient;
use function_sdk_rust::proto::v1::function_runner_service_server::FunctionRunnerService;
use function_sdk_rust::proto::v1::{
    RequestMeta, ResponseMeta, RunFunctionRequest, RunFunctionResponse,
};
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

/// A function that takes `0` to answer, echoing the request's tag.
struct Slow(Duration);

#[tonic::async_trait]
impl FunctionRunnerService for Slow {
    async fn run_function(
        &self,
        request: Request<RunFunctionRequest>,
    ) -> Result<Response<RunFunctionResponse>, Status> {
        tokio::time::sleep(self.0).await;
        let tag = request.into_inner().meta.map(|m| m.tag).unwrap_or_default();
        Ok(Response::new(RunFunctionResponse {
            meta: Some(ResponseMeta { tag, ttl: None }),
            ..Default::default()
        }))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

struct Running {
    port: u16,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Result<(), function_sdk_rust::Error>>,
}

async fn start(call_takes: Duration, grace: Duration) -> Running {
    let port = free_port();
    let args = Args {
        debug: false,
        address: format!("127.0.0.1:{port}"),
        tls_certs_dir: None,
        insecure: true,
        max_recv_message_size: None,
        metrics_address: String::new(),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        serve_until(
            Decoded(std::sync::Arc::new(Slow(call_takes))),
            &args,
            grace,
            async {
                let _ = stopped.await;
            },
        )
        .await
    });
    Running { port, stop, served }
}

async fn client(port: u16) -> FunctionRunnerServiceClient<tonic::transport::Channel> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match FunctionRunnerServiceClient::connect(format!("http://127.0.0.1:{port}")).await {
            Ok(client) => return client,
            Err(e) if Instant::now() > deadline => panic!("server never listened: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn tagged(tag: &str) -> RunFunctionRequest {
    RunFunctionRequest {
        meta: Some(RequestMeta {
            tag: tag.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_in_flight_call_finishes_after_the_signal() {
    let server = start(Duration::from_millis(800), Duration::from_secs(10)).await;
    let mut client = client(server.port).await;
    let call = tokio::spawn(async move { client.run_function(tagged("in-flight")).await });
    // Let the call reach the function before the signal.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    server.stop.send(()).expect("server is running");

    let answer = call
        .await
        .expect("call task")
        .expect("the in-flight call is answered");
    assert_eq!(
        answer.into_inner().meta.map(|m| m.tag).as_deref(),
        Some("in-flight")
    );
    let served = tokio::time::timeout(Duration::from_secs(5), server.served)
        .await
        .expect("the server returns once the call finished")
        .expect("serve task");
    assert!(served.is_ok(), "{served:?}");
    // It waited for the call (≈600 ms left), not for the 10 s grace period.
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(400),
        "returned before the call finished: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "waited for the grace period: {took:?}"
    );
}

#[tokio::test]
async fn no_new_calls_after_the_signal() {
    let server = start(Duration::from_millis(10), Duration::from_secs(10)).await;
    let mut client = client(server.port).await;
    client
        .run_function(tagged("before"))
        .await
        .expect("served before the signal");
    server.stop.send(()).expect("server is running");
    tokio::time::timeout(Duration::from_secs(5), server.served)
        .await
        .expect("the server returns")
        .expect("serve task")
        .expect("a clean stop");
    let after =
        FunctionRunnerServiceClient::connect(format!("http://127.0.0.1:{}", server.port)).await;
    assert!(
        after.is_err(),
        "a new connection was accepted after shutdown"
    );
}

#[tokio::test]
async fn a_call_longer_than_the_grace_period_does_not_hold_the_server() {
    let server = start(Duration::from_secs(30), Duration::from_millis(500)).await;
    let mut client = client(server.port).await;
    let _call = tokio::spawn(async move { client.run_function(tagged("too-slow")).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    server.stop.send(()).expect("server is running");
    let served = tokio::time::timeout(Duration::from_secs(5), server.served)
        .await
        .expect("the server returns after the grace period")
        .expect("serve task");
    assert!(served.is_ok(), "{served:?}");
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "returned after {took:?}, grace was 500 ms"
    );
}
