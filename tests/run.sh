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
if [ -x tests/tools/peers.sh ] || [ -f tests/tools/peers.sh ]; then
  bash tests/tools/peers.sh
  # shellcheck disable=SC1091
  [ -f target/peers/env.sh ] && . target/peers/env.sh
fi
# The side-by-side bench's peers (function-patch-and-transform, the
# function-kcl attempt): its smoke run below keeps the comparison honest.
bash benches/side-by-side/peers.sh
# shellcheck disable=SC1091
. target/peers/side-by-side/env.sh
peers_done=$(date +%s)

# The Crossplane packages tests/packages.rs reads: release binaries, runtime
# images and `crossplane xpkg build` into target/xpkg/ (incremental).
bash tests/tools/xpkg.sh
xpkg_done=$(date +%s)
# tests/e2e/ runs the function as it ships: its release binary (xpkg.sh built it).
export HYBRID_SPOKE_E2E_FUNCTION_BIN=$PWD/target/release/function-hybrid-spoke

cargo test --workspace --locked "$@"
# One short round of benches/side_by_side.rs: each peer answers the same
# requests with the same desired resources as this function.
cargo test --locked -p function-hybrid-spoke --bench side_by_side
echo "tests/run.sh: peers $((peers_done - start))s, packages $((xpkg_done - peers_done))s, tests $(( $(date +%s) - xpkg_done ))s"
