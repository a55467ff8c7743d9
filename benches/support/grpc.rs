#![allow(dead_code)] // each bench uses a different part of this module
//! What the gRPC benches share: a function server process (killed on drop)
//! with its CPU time and memory read from /proc, a RunFunction client that
//! decodes only what it checks, and the figures' arithmetic.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use function_sdk_rust::proto::v1::{
    ResponseMeta, Result as FnResult, RunFunctionRequest, Severity,
};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What this client reads of a `RunFunctionResponse`: the meta and results
/// in full, the desired resources as raw bytes. Crossplane decodes the whole
/// response, but here the client shares the two cores with the server, and
/// turning ~60 KB of `Struct`s into maps would measure the client.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseSummary {
    #[prost(message, optional, tag = "1")]
    pub meta: Option<ResponseMeta>,
    #[prost(message, optional, tag = "2")]
    pub desired: Option<StateSummary>,
    #[prost(message, repeated, tag = "3")]
    pub results: Vec<FnResult>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StateSummary {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub composite: Option<Vec<u8>>,
    #[prost(map = "string, bytes", tag = "2")]
    pub resources: HashMap<String, Vec<u8>>,
}

const RUN_FUNCTION: &str = "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction";

/// A RunFunction client that decodes responses as [`ResponseSummary`] and
/// checks each one: the tag echoed, no FATAL, every resource present.
#[derive(Clone)]
pub struct SummaryClient {
    grpc: tonic::client::Grpc<tonic::transport::Channel>,
    expected_resources: usize,
}

impl SummaryClient {
    pub fn new(channel: tonic::transport::Channel, expected_resources: usize) -> Self {
        SummaryClient {
            grpc: tonic::client::Grpc::new(channel).max_decoding_message_size(64 << 20),
            expected_resources,
        }
    }

    pub async fn run_function(
        &mut self,
        request: RunFunctionRequest,
    ) -> Result<ResponseSummary, tonic::Status> {
        let tag = request
            .meta
            .as_ref()
            .map(|m| m.tag.clone())
            .unwrap_or_default();
        let response: ResponseSummary = self.call(request).await?;
        let echoed = response.meta.as_ref().map(|m| m.tag.as_str()) == Some(tag.as_str());
        let fatal = response
            .results
            .iter()
            .find(|r| r.severity == Severity::Fatal as i32);
        let resources = response.desired.as_ref().map_or(0, |d| d.resources.len());
        if !echoed || fatal.is_some() || resources != self.expected_resources {
            return Err(tonic::Status::internal(format!(
                "unexpected response: tag echoed {echoed}, fatal {:?}, {resources} of {} resources",
                fatal.map(|f| f.message.as_str()),
                self.expected_resources
            )));
        }
        Ok(response)
    }

    /// One call decoded as `T` (e.g. the whole `RunFunctionResponse`).
    pub async fn call<T: prost::Message + Default + Send + 'static>(
        &mut self,
        request: RunFunctionRequest,
    ) -> Result<T, tonic::Status> {
        self.grpc
            .ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(RUN_FUNCTION);
        let codec = tonic_prost::ProstCodec::<RunFunctionRequest, T>::default();
        Ok(self
            .grpc
            .unary(tonic::Request::new(request), path, codec)
            .await?
            .into_inner())
    }
}

/// A function server process on a loopback port, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// Starts `command` with `{port}` in its arguments replaced by a free port.
    pub fn start(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<Self, Error> {
        let port = free_port()?;
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{port}", &port.to_string()))
            .collect();
        let child = Command::new(program)
            .args(&args)
            .envs(envs.iter().copied())
            .env_remove("DEBUG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        Ok(Self { child, port })
    }

    pub async fn wait_listening(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("the server exited with {status}").into());
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("the server is not listening after 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn channel(&self) -> Result<tonic::transport::Channel, Error> {
        Ok(
            tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", self.port))?
                .connect()
                .await?,
        )
    }

    /// A `/proc/<pid>/status` field in KiB.
    pub fn status_field(&self, field: &str) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    pub fn rss_mib(&self) -> Result<f64, Error> {
        self.status_field("VmRSS")
            .map(|kib| kib / 1024.0)
            .ok_or_else(|| "cannot read VmRSS from /proc".into())
    }

    /// User + system CPU time of the process (all its threads) so far.
    pub fn cpu_time(&self) -> Result<Duration, Error> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .ok_or("bad /proc stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat(5); 12 and 13 here.
        let ticks: u64 = fields.get(11).ok_or("no utime")?.parse::<u64>()?
            + fields.get(12).ok_or("no stime")?.parse::<u64>()?;
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc_sysconf_clk_tck() };
        Ok(Duration::from_secs_f64(ticks as f64 / per_second as f64))
    }
}

unsafe extern "C" {
    fn sysconf(name: i32) -> i64;
}

/// `sysconf(_SC_CLK_TCK)` (2 on Linux).
unsafe fn libc_sysconf_clk_tck() -> i64 {
    // SAFETY: the caller's; sysconf only reads.
    let ticks = unsafe { sysconf(2) };
    if ticks > 0 { ticks } else { 100 }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub fn percentile(times: &[Duration], q: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    sorted
        .get(((sorted.len().saturating_sub(1)) as f64 * q).round() as usize)
        .copied()
        .unwrap_or_default()
}

pub fn fmt(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1_000.0 {
        format!("{micros:.1} µs")
    } else {
        format!("{:.2} ms", micros / 1_000.0)
    }
}
