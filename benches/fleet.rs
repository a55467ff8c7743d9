//! `cargo bench -p function-hybrid-spoke --bench fleet`: what the address
//! plan costs. For fleets of 100, 1,000 and 10,000 settled spokes offered as
//! required resources, prints the RunFunctionRequest size (protobuf bytes,
//! against gRPC's 4 MiB default receive limit) and the in-process
//! `function_hybrid_spoke::run` time of a new spoke taking its block
//! (target: ≤ 20 ms at 1,000, growing linearly). Without `--bench`
//! (`cargo test --benches`) it runs one iteration per size as a smoke test.

#[path = "support/fleet.rs"]
mod fleet;

use std::time::{Duration, Instant};

use fleet::request;
use prost::Message;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TARGET_AT_1000: Duration = Duration::from_millis(20);
const GRPC_DEFAULT_LIMIT: usize = 4 * 1024 * 1024;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let input = fleet::input();
    println!("fleet size | request size | vs 4 MiB | run (median) | per spoke");
    let mut at_1000 = None;
    for n in [100, 1_000, 10_000] {
        let req = request(n, &input);
        let size = req.encoded_len();
        let iterations = if full { (20_000 / n).clamp(5, 200) } else { 1 };
        let mut times: Vec<Duration> = (0..iterations)
            .map(|_| {
                let start = Instant::now();
                let rsp = function_hybrid_spoke::run(&req);
                let elapsed = start.elapsed();
                assert!(rsp.results.is_empty(), "{:?}", rsp.results);
                elapsed
            })
            .collect();
        times.sort();
        let median = times[times.len() / 2];
        if n == 1_000 {
            at_1000 = Some(median);
        }
        println!(
            "{n:>10} | {:>9.2} MiB | {:>7.0}% | {:>9.2} ms | {:>6.1} µs",
            size as f64 / 1048576.0,
            size as f64 * 100.0 / GRPC_DEFAULT_LIMIT as f64,
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e6 / n as f64,
        );
    }
    if let Some(t) = at_1000 {
        let verdict = if t <= TARGET_AT_1000 { "met" } else { "MISSED" };
        println!(
            "target: run ≤ {} ms at 1,000 spokes: {verdict} ({:.2} ms)",
            TARGET_AT_1000.as_millis(),
            t.as_secs_f64() * 1e3
        );
    }
}
