//! The gRPC health service (`grpc.health.v1.Health`) for the whole server
//! and the function's service: `SERVING` while it serves, `NOT_SERVING` from
//! the moment it starts to shut down. Unlike tonic-health's, a `Watch`
//! stream ends right after it sent `NOT_SERVING`, so an open watch cannot
//! keep a stopping process alive.

use std::pin::Pin;

use futures_util::Stream;
use tokio::sync::watch;
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::server::SERVICE_NAME;

/// The status every client sees; send `NotServing` to begin the shutdown.
pub type StatusSender = watch::Sender<ServingStatus>;

/// The service, `SERVING`, and the handle that changes its status.
pub fn service() -> (StatusSender, HealthServer<HealthService>) {
    let (status, receiver) = watch::channel(ServingStatus::Serving);
    (
        status,
        HealthServer::new(HealthService { status: receiver }),
    )
}

pub struct HealthService {
    status: watch::Receiver<ServingStatus>,
}

/// The server as a whole (`""`) and the function's service are known; any
/// other name is not.
fn known(service: &str) -> bool {
    service.is_empty() || service == SERVICE_NAME
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: tonic_health::pb::health_check_response::ServingStatus::from(status) as i32,
    }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        if !known(&request.get_ref().service) {
            return Err(Status::not_found("service not registered"));
        }
        Ok(Response::new(response(*self.status.borrow())))
    }

    type WatchStream =
        Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send + 'static>>;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        if !known(&request.get_ref().service) {
            return Err(Status::not_found("service not registered"));
        }
        // The current status first, then every change; after NOT_SERVING the
        // stream ends.
        let stream = futures_util::stream::unfold(
            (self.status.clone(), true, false),
            |(mut status, first, done)| async move {
                if done {
                    return None;
                }
                if !first && status.changed().await.is_err() {
                    return None;
                }
                let now = *status.borrow_and_update();
                let done = now == ServingStatus::NotServing;
                Some((Ok(response(now)), (status, false, done)))
            },
        );
        Ok(Response::new(Box::pin(stream)))
    }
}
