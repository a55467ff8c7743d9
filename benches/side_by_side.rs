//! `bash benches/side-by-side/run.sh`: this function against its peers on the
//! same composition work, in one run, with ratios (issue 20).
//!
//! Each function is a server process on loopback (plaintext gRPC, one
//! HTTP/2 connection as Crossplane keeps) and gets the request Crossplane
//! sends for the AWS example at three stages: the first reconcile (the XR,
//! nothing observed), cluster-ready (the XR with the 44 observed resources
//! of `examples/aws/observed/cluster-ready` and their connection details) and
//! all-ready (every part of the spoke observed ready; this function only, as
//! the P&T Composition has no tailnet, edge or Argo CD part), and a new spoke
//! beside fleets of 100 and 1,000 required spokes (this function only; the
//! in-process fleet bench `benches/fleet.rs` goes to 10,000). Under each
//! table, this function's figures against issue 22's targets.
//! function-patch-and-transform and the Python function get that request with
//! the P&T Input `benches/side-by-side/pandt-<stage>.yaml` (generated once from
//! this function's output, reviewed); this function gets it with
//! `examples/input.yaml`. Before measuring, the bench checks that each peer
//! composes the same resources as this function (every composed resource
//! equal as JSON); a peer that does not is reported, not measured.
//!
//! Every server is started first (pinned to core 1 with taskset; run.sh pins
//! this load client to core 0), then rounds alternate between them: each
//! round warms up, sends requests 1 in flight (p50/p99, and the server's CPU
//! time, user + system from /proc, per 1,000 requests), then 16 in flight
//! (requests/s). RSS is read idle (before any request) and after the load.
//! The table ends with this function's figures as a multiple of each peer's.
//!
//! The peers come from `benches/side-by-side/peers.sh` (P&T, the function-kcl
//! attempt) and `tests/tools/peers.sh` (the Python venv); run.sh sources their
//! env files. A peer that is not there is printed as such, not measured.
//! Without `--bench` (`cargo test --bench side_by_side`, as tests/run.sh runs
//! it) it is a smoke run: one short round, and it fails unless P&T and the
//! Python function are there and compose the same resources.

#[path = "support/fleet.rs"]
mod fleet;
#[path = "support/grpc.rs"]
mod grpc;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use function_sdk_rust::proto::v1::{RunFunctionRequest, RunFunctionResponse};
use function_sdk_rust::resource::{json_to_struct, struct_to_json};
use grpc::{Error, Server, SummaryClient, fmt, percentile};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_function-hybrid-spoke");
const IN_FLIGHT: usize = 16;

struct Plan {
    smoke: bool,
    rounds: usize,
    latency_for: Duration,
    latency_max: usize,
    throughput_for: Duration,
    warmup: usize,
}

/// One request, as each kind of function gets it.
struct Stage {
    name: &'static str,
    ours: RunFunctionRequest,
    /// `None` where no peer can do the same work (the address plan).
    peers: Option<RunFunctionRequest>,
    /// This function's composed resources for it, as JSON by name.
    expected: BTreeMap<String, Value>,
    /// The observed resources' metadata, by composition-resource name.
    observed: BTreeMap<String, Value>,
    /// What this function must reach on it (issue 22).
    targets: Targets,
}

/// Targets for this function's figures on one request; `None`: no target.
#[derive(Clone, Copy, Default)]
struct Targets {
    cpu_per_request: Option<Duration>,
    p99: Option<Duration>,
    rate: Option<f64>,
}

/// One function under test.
struct Contender {
    name: String,
    program: String,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    /// Gets the P&T Input (else this function's own Input).
    pandt_input: bool,
}

#[derive(Clone, Copy)]
struct Figures {
    cpu_per_1000: Duration,
    p50: Duration,
    p99: Duration,
    rate: f64,
    idle_rss_mib: f64,
    rss_mib: f64,
}

fn main() -> ExitCode {
    let full = std::env::args().any(|a| a == "--bench");
    let plan = if full {
        Plan {
            smoke: false,
            rounds: 5,
            latency_for: Duration::from_secs(1),
            latency_max: 2_000,
            throughput_for: Duration::from_secs(1),
            warmup: 50,
        }
    } else {
        Plan {
            smoke: true,
            rounds: 1,
            latency_for: Duration::from_millis(300),
            latency_max: 20,
            throughput_for: Duration::from_millis(300),
            warmup: 3,
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(&plan)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(plan: &Plan) -> Result<(), Error> {
    let mut not_measured = Vec::new();
    let stages = [
        stage("first reconcile", None, "initial")?,
        stage("cluster-ready", Some("cluster-ready"), "cluster-ready")?,
        stage("all-ready", Some("all-ready"), "")?,
        fleet_stage(100),
        fleet_stage(1_000),
    ];
    let (contenders, absent) = contenders();
    for stage in &stages {
        println!(
            "\n== {} — this function composes {} resources; request {} bytes (this function), {} bytes (P&T Input)",
            stage.name,
            stage.expected.len(),
            prost::Message::encoded_len(&stage.ours),
            stage
                .peers
                .as_ref()
                .map_or("no".into(), |p| prost::Message::encoded_len(p).to_string()),
        );
        // Every server up first, each checked to compose the same resources;
        // then rounds alternate between them so drift on a shared machine
        // (other load, frequency) hits every function alike.
        let mut running = Vec::new();
        let mut rows: Vec<(String, Result<Figures, String>)> = Vec::new();
        for contender in &contenders {
            if contender.pandt_input && stage.peers.is_none() {
                continue;
            }
            match Running::start(contender, stage).await {
                Ok(r) => running.push(r),
                Err(e) => rows.push((contender.name.clone(), Err(e.to_string()))),
            }
        }
        for _ in 0..plan.rounds {
            for r in &mut running {
                r.round(plan).await?;
            }
        }
        let mut measured: Vec<(String, Result<Figures, String>)> = running
            .iter()
            .map(|r| (r.name.clone(), r.figures().map_err(|e| e.to_string())))
            .collect();
        not_measured.extend(
            rows.iter()
                .map(|(name, _)| format!("{name} ({})", stage.name)),
        );
        measured.append(&mut rows);
        print_table(&measured, &absent);
        if let Some((_, Ok(ours))) = measured.first() {
            print_targets(ours, &stage.targets);
        }
    }
    // The smoke run (tests/run.sh) fails when a peer that should be there is
    // not, or composes something else: the comparison cannot rot silently.
    if plan.smoke {
        not_measured.extend(
            absent
                .iter()
                .filter(|(name, _)| name != "function-kcl")
                .map(|(name, why)| format!("{name}: {why}")),
        );
        if !not_measured.is_empty() {
            return Err(format!("not compared: {}", not_measured.join("; ")).into());
        }
    }
    Ok(())
}

/// A contender's server with what its rounds measured so far.
struct Running {
    name: String,
    server: Server,
    client: SummaryClient,
    request: RunFunctionRequest,
    idle_rss_mib: f64,
    latencies: Vec<Duration>,
    cpu: Duration,
    cpu_requests: u32,
    throughput_requests: u64,
    throughput_time: Duration,
}

impl Running {
    async fn start(contender: &Contender, stage: &Stage) -> Result<Self, Error> {
        // The server on core 1, the load client (this process, pinned by
        // run.sh) on core 0, where taskset exists.
        let mut args: Vec<&str> = contender.args.iter().map(String::as_str).collect();
        let pinned = Path::new("/usr/bin/taskset").exists();
        let program = if pinned {
            args.splice(0..0, ["-c", "1", contender.program.as_str()]);
            "/usr/bin/taskset"
        } else {
            contender.program.as_str()
        };
        let envs: Vec<(&str, &str)> = contender
            .envs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut server = Server::start(program, &args, &envs)?;
        server.wait_listening().await?;
        let request = match (contender.pandt_input, &stage.peers) {
            (true, Some(peers)) => peers.clone(),
            (true, None) => return Err("no equivalent of this request".into()),
            (false, _) => stage.ours.clone(),
        };
        let idle_rss_mib = server.rss_mib()?;
        let client = SummaryClient::new(server.channel().await?, stage.expected.len());
        same_work(&client, &request, stage).await?;
        Ok(Self {
            name: contender.name.clone(),
            server,
            client,
            request,
            idle_rss_mib,
            latencies: Vec::new(),
            cpu: Duration::ZERO,
            cpu_requests: 0,
            throughput_requests: 0,
            throughput_time: Duration::ZERO,
        })
    }

    /// One round: warm-up, 1 in flight (latency and CPU), then 16 in flight.
    async fn round(&mut self, plan: &Plan) -> Result<(), Error> {
        let mut one = self.client.clone();
        for _ in 0..plan.warmup {
            one.run_function(self.request.clone()).await?;
        }
        let cpu_before = self.server.cpu_time()?;
        let started = Instant::now();
        let mut count = 0;
        while count < plan.latency_max && started.elapsed() < plan.latency_for {
            let request = self.request.clone();
            let start = Instant::now();
            one.run_function(request).await?;
            self.latencies.push(start.elapsed());
            count += 1;
        }
        self.cpu += self.server.cpu_time()? - cpu_before;
        self.cpu_requests += count as u32;

        let deadline = Instant::now() + plan.throughput_for;
        let started = Instant::now();
        let workers: Vec<_> = (0..IN_FLIGHT)
            .map(|_| {
                let mut client = self.client.clone();
                let request = self.request.clone();
                tokio::spawn(async move {
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        client.run_function(request.clone()).await?;
                        done += 1;
                    }
                    Ok::<u64, tonic::Status>(done)
                })
            })
            .collect();
        for worker in workers {
            self.throughput_requests += worker.await??;
        }
        self.throughput_time += started.elapsed();
        Ok(())
    }

    fn figures(&self) -> Result<Figures, Error> {
        Ok(Figures {
            cpu_per_1000: self.cpu * 1000 / self.cpu_requests.max(1),
            p50: percentile(&self.latencies, 0.5),
            p99: percentile(&self.latencies, 0.99),
            rate: self.throughput_requests as f64 / self.throughput_time.as_secs_f64().max(1e-9),
            idle_rss_mib: self.idle_rss_mib,
            rss_mib: self.server.rss_mib()?,
        })
    }
}

/// The same work: every composed resource equal (as JSON, keys sorted) to
/// this function's. The one difference allowed: P&T copies an observed
/// resource's name and namespace into its desired state (Crossplane keeps
/// them either way), where this function leaves them to Crossplane.
async fn same_work(
    client: &SummaryClient,
    request: &RunFunctionRequest,
    stage: &Stage,
) -> Result<(), Error> {
    let expected = &stage.expected;
    let full: RunFunctionResponse = client.clone().call(request.clone()).await?;
    let mut got = composed(&full);
    for (name, resource) in &mut got {
        let (Some(observed), Some(want)) = (stage.observed.get(name), expected.get(name)) else {
            continue;
        };
        for field in ["name", "namespace"] {
            let absent = want.pointer(&format!("/metadata/{field}")).is_none();
            if let Some(metadata) = resource.get_mut("metadata").and_then(Value::as_object_mut)
                && absent
                && metadata.get(field).is_some()
                && metadata.get(field) == observed.get(field)
            {
                metadata.remove(field);
            }
        }
    }
    let differing: Vec<&String> = expected
        .iter()
        .filter(|(name, want)| got.get(*name) != Some(want))
        .map(|(name, _)| name)
        .chain(got.keys().filter(|name| !expected.contains_key(*name)))
        .collect();
    let Some(first) = differing.first() else {
        return Ok(());
    };
    Err(format!(
        "composes different resources ({} of {} differ, e.g. {first}: got {}, want {})",
        differing.len(),
        expected.len(),
        got.get(*first).map_or("nothing".into(), Value::to_string),
        expected
            .get(*first)
            .map_or("nothing".into(), Value::to_string),
    )
    .into())
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn documents(path: &Path) -> Result<Vec<Value>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value: Value = serde::Deserialize::deserialize(document)?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

/// The request for a stage (observed set under examples/aws/observed/), with
/// this function's Input and with the P&T Input (`pandt` names it; "" when
/// the peers have none: the all-ready spoke's tailnet, edge and Argo CD
/// parts are not in the P&T Composition); and what this function composes.
fn stage(name: &'static str, observed: Option<&str>, pandt: &str) -> Result<Stage, Error> {
    let root = root();
    let xr = documents(&root.join("examples/aws/xr.yaml"))?.remove(0);
    let input = documents(&root.join("examples/input.yaml"))?.remove(0);
    let observed = match observed {
        Some(dir) => documents(&root.join(format!("examples/aws/observed/{dir}/resources.yaml")))?
            .into_iter()
            .chain(
                documents(&root.join(format!(
                    "examples/aws/observed/{dir}/connection-secrets.yaml"
                )))
                .unwrap_or_default(),
            )
            .collect(),
        None => Vec::new(),
    };
    let xr_object = xr
        .as_object()
        .ok_or("examples/aws/xr.yaml is not a mapping")?;
    let (ours, _) = function_hybrid_spoke::render::request_for(xr_object, &xr, &observed, &input)?;
    let peers = if pandt.is_empty() {
        None
    } else {
        let path = root.join(format!("benches/side-by-side/pandt-{pandt}.yaml"));
        let Value::Object(pandt_map) = documents(&path)?.remove(0) else {
            return Err(format!("{}: the P&T Input is not a mapping", path.display()).into());
        };
        let mut peers = ours.clone();
        peers.input = Some(json_to_struct(&pandt_map));
        Some(peers)
    };
    let response = function_hybrid_spoke::run(&ours);
    let observed = ours
        .observed
        .iter()
        .flat_map(|o| o.resources.iter())
        .filter_map(|(name, r)| {
            let object = struct_to_json(r.resource.as_ref()?);
            Some((name.clone(), object.get("metadata")?.clone()))
        })
        .collect();
    // Issue 22's targets, on this machine size with one core for the server.
    let targets = match name {
        "cluster-ready" => Targets {
            cpu_per_request: Some(Duration::from_micros(250)),
            p99: Some(Duration::from_micros(500)),
            rate: Some(4_000.0),
        },
        "all-ready" => Targets {
            cpu_per_request: Some(Duration::from_micros(350)),
            ..Targets::default()
        },
        _ => Targets::default(),
    };
    Ok(Stage {
        name,
        ours,
        peers,
        expected: composed(&response),
        observed,
        targets,
    })
}

/// A new spoke beside `spokes` settled spokes offered as required
/// resources (benches/fleet.rs): only this function plans addresses, so it
/// is measured alone, beside the peers' figures for the other requests.
fn fleet_stage(spokes: usize) -> Stage {
    let ours = fleet::request(spokes, &fleet::input());
    let response = function_hybrid_spoke::run(&ours);
    Stage {
        name: match spokes {
            100 => "a new spoke beside 100 required spokes (address plan; no peer plans addresses)",
            1_000 => {
                "a new spoke beside 1,000 required spokes (address plan; no peer plans addresses)"
            }
            _ => "a new spoke beside a fleet of required spokes",
        },
        ours,
        peers: None,
        expected: composed(&response),
        observed: BTreeMap::new(),
        // ≤ 20 ms per request at 1,000 spokes (the fleet issue).
        targets: Targets {
            cpu_per_request: (spokes == 1_000).then_some(Duration::from_millis(20)),
            ..Targets::default()
        },
    }
}

fn composed(response: &RunFunctionResponse) -> BTreeMap<String, Value> {
    response
        .desired
        .iter()
        .flat_map(|d| d.resources.iter())
        .filter_map(|(name, r)| Some((name.clone(), struct_to_json(r.resource.as_ref()?))))
        .collect()
}

fn contenders() -> (Vec<Contender>, Vec<(String, String)>) {
    let mut found = vec![Contender {
        name: "function-hybrid-spoke (this)".into(),
        program: BINARY.into(),
        args: [
            "--insecure",
            "--address",
            "127.0.0.1:{port}",
            "--metrics-address",
            "127.0.0.1:0",
        ]
        .map(String::from)
        .to_vec(),
        envs: Vec::new(),
        pandt_input: false,
    }];
    let mut absent = Vec::new();
    let version = std::env::var("HYBRID_SPOKE_PANDT_VERSION").unwrap_or_default();
    println!("function-patch-and-transform measured: {version}");
    match std::env::var("HYBRID_SPOKE_PANDT_BIN") {
        Ok(bin) if Path::new(&bin).exists() => found.push(Contender {
            name: format!(
                "function-patch-and-transform {}",
                version
                    .split_whitespace()
                    .next()
                    .unwrap_or("(unknown version)")
            ),
            program: bin,
            args: ["--insecure", "--address", "127.0.0.1:{port}"]
                .map(String::from)
                .to_vec(),
            envs: Vec::new(),
            pandt_input: true,
        }),
        _ => absent.push((
            "function-patch-and-transform".into(),
            "not built: run benches/side-by-side/peers.sh (HYBRID_SPOKE_PANDT_BIN)".into(),
        )),
    }
    absent.push((
        "function-kcl".into(),
        std::env::var("HYBRID_SPOKE_KCL_STATUS")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "not tried: run benches/side-by-side/peers.sh".into()),
    ));
    match std::env::var("HYBRID_SPOKE_PYTHON") {
        Ok(python) if Path::new(&python).exists() => found.push(Contender {
            name: "function-sdk-python 0.15.1 (P&T Input in Python)".into(),
            program: python,
            args: vec![
                root().join("benches/side-by-side/python_function.py").display().to_string(),
                "--address".into(),
                "127.0.0.1:{port}".into(),
            ],
            envs: vec![("PYTHONDONTWRITEBYTECODE".into(), "1".into())],
            pandt_input: true,
        }),
        _ => absent.push((
            "function-sdk-python".into(),
            "no venv: run tests/tools/peers.sh and source target/peers/env.sh (HYBRID_SPOKE_PYTHON)".into(),
        )),
    }
    (found, absent)
}

fn print_table(rows: &[(String, Result<Figures, String>)], absent: &[(String, String)]) {
    let ours = rows.first().and_then(|(_, f)| f.as_ref().ok()).copied();
    println!(
        "{:<52} {:>9} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "function", "p50", "p99", "req/s@16", "RSS idle", "RSS load", "CPU/1000 req"
    );
    for (name, figures) in rows {
        match figures {
            Ok(f) => println!(
                "{name:<52} {:>9} {:>9} {:>9.0} {:>8.1}M {:>8.1}M {:>12}",
                fmt(f.p50),
                fmt(f.p99),
                f.rate,
                f.idle_rss_mib,
                f.rss_mib,
                fmt(f.cpu_per_1000)
            ),
            Err(e) => println!("{name:<52} not measured: {e}"),
        }
    }
    for (name, why) in absent {
        println!("{name:<52} no figure: {why}");
    }
    let Some(o) = ours else { return };
    println!("this function against each peer (how many times better; > 1 is better):");
    for (name, figures) in rows.iter().skip(1) {
        if let Ok(f) = figures {
            println!(
                "  vs {name:<47} p50 {:>6.1}x  p99 {:>6.1}x  throughput {:>6.1}x  RSS {:>5.1}x  CPU {:>6.1}x",
                ratio(f.p50, o.p50),
                ratio(f.p99, o.p99),
                o.rate / f.rate.max(1e-9),
                f.rss_mib / o.rss_mib.max(1e-9),
                ratio(f.cpu_per_1000, o.cpu_per_1000)
            );
        }
    }
}

/// This function's figures against the stage's targets: `MISSED` where
/// missed (reported, not failed: the machine is shared).
fn print_targets(ours: &Figures, targets: &Targets) {
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    let cpu = ours.cpu_per_1000 / 1000;
    if let Some(target) = targets.cpu_per_request {
        println!(
            "target: CPU per request {} ≤ {}: {}",
            fmt(cpu),
            fmt(target),
            verdict(cpu <= target)
        );
    }
    if let Some(target) = targets.p99 {
        println!(
            "target: p99 at 1 in flight {} ≤ {}: {}",
            fmt(ours.p99),
            fmt(target),
            verdict(ours.p99 <= target)
        );
    }
    if let Some(target) = targets.rate {
        println!(
            "target: requests/s at {IN_FLIGHT} in flight {:.0} ≥ {target:.0}: {}",
            ours.rate,
            verdict(ours.rate >= target)
        );
    }
    if targets.cpu_per_request.is_some() || targets.p99.is_some() {
        println!(
            "target: idle RSS {:.1} MiB ≤ 20 MiB: {}",
            ours.idle_rss_mib,
            verdict(ours.idle_rss_mib <= 20.0)
        );
    }
}

fn ratio(theirs: Duration, ours: Duration) -> f64 {
    theirs.as_secs_f64() / ours.as_secs_f64().max(1e-9)
}
