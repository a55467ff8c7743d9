//! Real peers for integration tests, started on loopback and torn down when
//! dropped (also when a test panics):
//!
//! - [`KubeApiServer`]: etcd + kube-apiserver with a temporary data dir, a
//!   kubeconfig and a [`kube::Client`], CRD installation.
//! - [`Headscale`]: Headscale (sqlite, policy in database mode, no DERP or
//!   internet) with a user and an API key.
//! - [`FunctionServer`]: the built `function-hybrid-spoke` binary, insecure
//!   or with Crossplane-shaped mTLS certificates ([`Pki`]).
//! - [`crank`], [`python`]: the crossplane CLI and function-sdk-python's
//!   interpreter.
//! - [`crossplane`], [`internal_render`]: Crossplane core and its real
//!   composition engine (`crossplane internal render`).
//! - [`CrossplaneCore`], [`KubeControllerManager`]: Crossplane core and
//!   kube-controller-manager out of cluster against a [`KubeApiServer`].
//!
//! The peer binaries come from `bash tests/tools/peers.sh`, which writes
//! `target/peers/env.sh` exporting their paths (`HYBRID_SPOKE_*`); a missing
//! one is a panic naming the variable and that command, never a skip.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod crossplane;
pub mod crossplane_core;
mod function;
mod headscale;
mod kube_apiserver;
mod kube_controller_manager;
pub mod providers;

/// The kube client and Kubernetes types the helpers use, for tests.
pub use k8s_openapi;
pub use kube;

pub use crossplane::{
    CompositeInput, CompositeOutput, EngineRender, FunctionInput, crossplane, crossplane_version,
    from_struct, internal_render, to_struct,
};
pub use crossplane_core::CrossplaneCore;
pub use function::{CertKey, FunctionServer, Pki};
pub use headscale::{Headscale, HeadscaleVersion};
pub use kube_apiserver::KubeApiServer;
pub use kube_controller_manager::KubeControllerManager;

// ---------------------------------------------------------------------------
// Where things are
// ---------------------------------------------------------------------------

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

/// `../shared` beside the repository: vendored upstream CRDs and references.
pub fn shared_dir() -> PathBuf {
    let shared = repo_root().join("../shared");
    assert!(
        shared.join("vendor-crds").is_dir(),
        "{} is missing: the tests need the project's shared/ folder (vendor-crds/, reference/) \
         checked out beside the repository, as ../shared",
        shared.display()
    );
    shared.canonicalize().expect("../shared resolves")
}

/// The path in environment variable `var`, which `tests/tools/peers.sh`
/// exports in `target/peers/env.sh`. Panics with how to get it.
pub fn peer_binary(var: &str) -> PathBuf {
    let how = format!(
        "run `bash tests/tools/peers.sh && . target/peers/env.sh` first \
         (tests/run.sh does both), or set {var} to the binary"
    );
    let Some(path) = std::env::var_os(var).filter(|v| !v.is_empty()) else {
        panic!("{var} is not set: this test needs a real peer; {how}");
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{var}={} does not exist; {how}",
        path.display()
    );
    path
}

/// The crossplane CLI (`crank`, pinned in `tests/tools/crank/go.mod`).
pub fn crank() -> PathBuf {
    peer_binary("HYBRID_SPOKE_CRANK")
}

/// The python of the venv holding function-sdk-python
/// (`tests/tools/requirements.txt`).
pub fn python() -> PathBuf {
    peer_binary("HYBRID_SPOKE_PYTHON")
}

/// The built `function-hybrid-spoke` binary: `HYBRID_SPOKE_FUNCTION_BIN`, or
/// the one cargo built beside the running test (`cargo test --workspace`
/// builds it; alone: `cargo build -p function-hybrid-spoke`).
pub fn function_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("HYBRID_SPOKE_FUNCTION_BIN").filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test>-<hash> → target/<profile>/function-hybrid-spoke
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    let binary = profile_dir.join("function-hybrid-spoke");
    assert!(
        binary.is_file(),
        "{} is missing: build it with `cargo build -p function-hybrid-spoke` \
         (`cargo test --workspace` builds it), or set HYBRID_SPOKE_FUNCTION_BIN",
        binary.display()
    );
    binary
}

// ---------------------------------------------------------------------------
// Processes, ports, scratch directories
// ---------------------------------------------------------------------------

/// A scratch directory, removed on drop unless `KEEP_TEST_FILES` is set.
pub struct TempDir(Option<tempfile::TempDir>);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("hybrid-spoke-{prefix}-"))
            .tempdir()
            .expect("create a temporary directory");
        Self(Some(dir))
    }

    pub fn path(&self) -> &Path {
        self.0.as_ref().expect("not dropped").path()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take()
            && std::env::var_os("KEEP_TEST_FILES").is_some()
        {
            eprintln!("KEEP_TEST_FILES: kept {}", dir.keep().display());
        }
    }
}

/// A loopback port nothing listens on, never handed out twice by this
/// process (tests run in parallel). It is taken below the kernel's
/// ephemeral range (`ip_local_port_range`), which every outgoing connection
/// and every `bind(:0)` on the machine draws from: a port from that range
/// can be taken by anyone between this check and the peer's bind ("address
/// already in use" under a loaded CI), one below it only by another
/// explicit choice. Each test process starts at its own offset.
pub fn free_port() -> u16 {
    static NEXT: std::sync::Mutex<Option<u32>> = std::sync::Mutex::new(None);
    const LOW: u32 = 10_000;
    let high = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .filter(|h| *h > LOW + 1_000)
        .unwrap_or(32_768);
    let span = high - LOW;
    let mut next = NEXT.lock().unwrap_or_else(|e| e.into_inner());
    let mut candidate = next.unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        (std::process::id().wrapping_mul(7_919) ^ nanos) % span
    });
    for _ in 0..span {
        let port = (LOW + candidate % span) as u16;
        candidate = (candidate + 1) % span;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            *next = Some(candidate);
            return port;
        }
    }
    panic!("no free loopback port between {LOW} and {high}");
}

/// A child process in its own process group, its stdout and stderr in a log
/// file. Dropping it kills the whole group and reaps it; the kernel also
/// kills it if the thread that started it dies first (`PR_SET_PDEATHSIG`),
/// so a test binary that is itself killed leaves no server behind.
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    pub fn spawn(name: &str, mut command: Command, log: PathBuf) -> Self {
        use std::os::unix::process::CommandExt as _;
        let file = std::fs::File::create(&log).expect("create a log file");
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone the log file"))
            .stderr(file)
            .process_group(0);
        // SAFETY: prctl and getppid are async-signal-safe.
        unsafe {
            let parent = libc::getpid();
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    libc::_exit(1); // the parent is already gone
                }
                Ok(())
            });
        }
        let program = command.get_program().to_owned();
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({}): {e}", program.display()));
        Self {
            name: name.to_string(),
            child,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Panics (with its log) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("poll a child process") {
            panic!(
                "{} exited with {status}; its output ({}):\n{}",
                self.name,
                self.log.display(),
                tail(&self.log(), 60)
            );
        }
    }

    /// Polls `ready` every 50 ms until it returns true; panics with the log
    /// when the process exits or `timeout` passes.
    pub fn wait_until(&mut self, what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            self.assert_running();
            if ready() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} not {what} after {timeout:?}; its output ({}):\n{}",
                    self.name,
                    self.log.display(),
                    tail(&self.log(), 60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let group = self.child.id() as libc::pid_t;
        // SAFETY: signals our own child's process group.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// Runs a command to completion; panics with its output unless it succeeds.
pub fn run(what: &str, command: &mut Command) -> String {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

// ---------------------------------------------------------------------------
// A plain HTTP/1.1 client for loopback servers
// ---------------------------------------------------------------------------

/// A response from [`http`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics with the body if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not JSON ({e}):\n{}",
                self.status, self.body
            )
        })
    }
}

/// One HTTP/1.1 request to a plain-HTTP loopback server (`http://127.0.0.1:PORT/...`).
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> HttpResponse {
    try_http(method, url, headers, body).unwrap_or_else(|e| panic!("{method} {url} failed: {e}"))
}

/// [`http`], returning transport errors.
pub fn try_http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<HttpResponse> {
    let rest = url
        .strip_prefix("http://")
        .expect("only plain http:// URLs");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nUser-Agent: hybrid-spoke-test-peers\r\n"
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw).ok_or_else(|| {
        std::io::Error::other(format!(
            "malformed HTTP response: {}",
            String::from_utf8_lossy(&raw)
        ))
    })
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
        body = out;
    }
    Some(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: \"x\"\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let response = parse_response(raw).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, "abcde");
        assert_eq!(response.header("etag"), Some("\"x\""));
    }
}
