//! The XHybridSpoke composition function: a pure `compose` step over typed
//! models, served over gRPC by the `function-hybrid-spoke` binary.

use function_sdk_rust::proto::v1::{RunFunctionRequest, RunFunctionResponse};
use function_sdk_rust::response;

/// Runs one composition step. Pure: no I/O, never panics on input.
pub fn run(req: &RunFunctionRequest) -> RunFunctionResponse {
    // Placeholder until the compose module lands: pass desired state through.
    response::to(req, response::DEFAULT_TTL)
}
