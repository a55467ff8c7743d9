#!/usr/bin/env bash
# The project's one test command (README): builds and caches the real peers
# (tests/tools/peers.sh) and the packages (tests/tools/xpkg.sh), then runs
# every Rust test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d ../shared/vendor-crds ]; then
  echo "tests/run.sh: ../shared/vendor-crds is missing: the tests need the shared/ folder beside the repository" >&2
  exit 2
fi
command -v cargo >/dev/null || { echo "tests/run.sh: cargo is missing: install Rust (rustup)" >&2; exit 2; }

# Formatting first: it takes a second and names the file to fix.
if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all --check || { echo "tests/run.sh: run cargo fmt --all" >&2; exit 1; }
else
  echo "tests/run.sh: rustfmt is not installed (rustup component add rustfmt); formatting not checked" >&2
fi

start=$(date +%s)
# The Go peers (tests/tools/peers.sh, then the side-by-side bench's peers:
# function-patch-and-transform and the function-kcl attempt) build while
# cargo compiles the release binaries and the tests: on a cold machine both
# are minutes of compiling, and each leaves cores idle while it links.
# Their lines are prefixed "peers |".
mkdir -p target
peers_status=target/peers-build.status
rm -f "$peers_status"
(
  if { bash tests/tools/peers.sh && bash benches/side-by-side/peers.sh; } 2>&1 |
    sed -u 's/^/peers | /'; then
    echo 0 >"$peers_status"
  else
    echo 1 >"$peers_status"
  fi
) &
peers_pid=$!
# If a cargo step fails, the Go builds stop too (no orphan holds the output).
kill_tree() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
trap 'kill_tree "$peers_pid"' EXIT
cargo build --release --locked -p function-hybrid-spoke -p provider-hybrid-spoke --bins
cargo test --workspace --locked --no-run
# --workspace: the same feature set as the tests, so no dependency is built twice
cargo test --workspace --locked --bench side_by_side --no-run
built=$(date +%s)
wait "$peers_pid" || true
trap - EXIT
if [ "$(cat "$peers_status" 2>/dev/null)" != 0 ]; then
  echo "tests/run.sh: building the peers failed (the lines prefixed 'peers |' above say why)" >&2
  exit 2
fi
# shellcheck disable=SC1091
. target/peers/env.sh
# shellcheck disable=SC1091
. target/peers/side-by-side/env.sh
peers_done=$(date +%s)

# The Crossplane packages tests/packages.rs reads: release binaries (built
# above), runtime images and `crossplane xpkg build` into target/xpkg/.
bash tests/tools/xpkg.sh
xpkg_done=$(date +%s)
# tests/e2e/ runs the function as it ships: its release binary (xpkg.sh built it).
export HYBRID_SPOKE_E2E_FUNCTION_BIN=$PWD/target/release/function-hybrid-spoke

# Most tests wait on API servers, fakes and timers rather than compute:
# four at a time per test binary (two cores here) halves the provider's.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-4}
cargo test --workspace --locked "$@"
# One short round of benches/side_by_side.rs: each peer answers the same
# requests with the same desired resources as this function.
cargo test --workspace --locked --bench side_by_side
echo "tests/run.sh: builds $((built - start))s (peers alongside, ready at $((peers_done - start))s), packages $((xpkg_done - peers_done))s, tests $(( $(date +%s) - xpkg_done ))s"
