//! The whole spoke on a real Crossplane (issue 17, tier 2). One stack is
//! started for all scenarios and torn down at the end (nothing is left
//! running: every process dies with this one):
//!
//! - the hub: kube-apiserver + etcd, and kube-controller-manager (its
//!   garbage collector deletes what an XR composed once the XR is gone);
//! - Crossplane core v2.4.0 out of cluster, webhooks on, package runtime
//!   External, the `function-hybrid-spoke` Function from a digest-pinned
//!   package in its xpkg cache;
//! - the function binary serving mTLS signed by Crossplane's root CA;
//! - the spoke: a second kube-apiserver + etcd, reached through the
//!   kubeconfig connection Secret the cloud stand-in writes;
//! - the cloud stand-in (cloud.rs): plays AWS/Azure for the upjet kinds.
//!
//! All of it runs in a private network namespace with only loopback
//! (`unshare -n`, needs root; CI runs as root), since core's and the
//! providers' ports bind every interface. `HYBRID_SPOKE_E2E_NETNS=host`
//! runs it in the host's namespace instead.
//!
//! Run one scenario: `cargo test --test e2e -- <name substring>`; keep the
//! stack up afterwards to look at it: `HYBRID_SPOKE_E2E_KEEP=1` (docs/testing.md).

/// Evaluates `$check` (an `Option`, may `.await`) every 250 ms until it is
/// `Some(value)` → `Ok(value)`, or `$timeout` passes → `Err(message)`.
macro_rules! poll {
    ($what:expr, $timeout:expr, $check:expr) => {{
        let timeout: std::time::Duration = $timeout;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(found) = $check {
                break Ok(found);
            }
            if std::time::Instant::now() > deadline {
                break Err(format!("{}: not within {:?}", $what, timeout));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }};
}

mod cloud;
mod scenarios;
mod stack;

use std::process::{Command, ExitCode};
use std::time::Instant;

/// Environment variable: `private` inside the namespace this test made,
/// `host` to run without one.
const NETNS: &str = "HYBRID_SPOKE_E2E_NETNS";

fn main() -> ExitCode {
    // The function binary of the stack: the release build tests/run.sh
    // makes, else the one cargo built for the tests.
    if let Some(bin) = std::env::var_os("HYBRID_SPOKE_E2E_FUNCTION_BIN") {
        // SAFETY: first thing in main, before any other thread exists.
        unsafe { std::env::set_var("HYBRID_SPOKE_FUNCTION_BIN", bin) };
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in scenarios::ALL {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    // libtest flags cargo may pass (--quiet, --test-threads=N, ...) are
    // ignored; a free argument selects scenarios by substring.
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected: Vec<_> = scenarios::ALL
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    if selected.is_empty() {
        println!("e2e: no scenario matches {filters:?}");
        return ExitCode::SUCCESS;
    }

    match std::env::var(NETNS).as_deref() {
        Ok("private") | Ok("host") => {}
        _ => return reexec_in_private_netns(&args),
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(selected))
}

/// Runs this binary again under `unshare -n` with loopback up.
fn reexec_in_private_netns(args: &[String]) -> ExitCode {
    let exe = std::env::current_exe().expect("the test's own path");
    let status = Command::new("unshare")
        .args([
            "--net",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
        ])
        .arg(&exe)
        .args(args)
        .env(NETNS, "private")
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!(
                "e2e: failed ({s}). If `unshare -n` itself was refused, run as root (CI does) \
                 or set {NETNS}=host to use the host's network namespace"
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("e2e: cannot run unshare (util-linux) for a private network namespace: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(selected: Vec<&(&str, scenarios::Scenario)>) -> ExitCode {
    let started = Instant::now();
    let mut stack = stack::Stack::start().await;
    println!(
        "e2e: stack up in {:.1}s ({})",
        started.elapsed().as_secs_f64(),
        stack.startup_report()
    );
    let mut failed = Vec::new();
    let mut todos = Vec::new();
    for (name, scenario) in selected {
        let t = Instant::now();
        println!("e2e: {name} ...");
        let outcome = scenario(&mut stack).await;
        let secs = t.elapsed().as_secs_f64();
        match outcome {
            Ok(report) => {
                println!("e2e: {name} ok in {secs:.1}s");
                for todo in report.todo {
                    todos.push(format!("{name}: {todo}"));
                }
            }
            Err(e) => {
                println!("e2e: {name} FAILED in {secs:.1}s: {e}");
                failed.push(*name);
            }
        }
        stack.assert_running();
    }
    println!("e2e: peak RSS per process:\n{}", stack.peak_rss_report());
    for todo in &todos {
        println!("e2e: TODO (not checked): {todo}");
    }
    println!("e2e: total {:.1}s", started.elapsed().as_secs_f64());
    if std::env::var_os("HYBRID_SPOKE_E2E_KEEP").is_some() {
        stack.keep_up().await;
    }
    drop(stack);
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("e2e: failed: {failed:?}");
        ExitCode::FAILURE
    }
}
