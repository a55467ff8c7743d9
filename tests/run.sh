#!/usr/bin/env bash
# The project's one test command (README): builds and caches the real peers
# (tests/tools/peers.sh), then runs every Rust test of the workspace.
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
peers_done=$(date +%s)

cargo test --workspace --locked "$@"
echo "tests/run.sh: peers $((peers_done - start))s, tests $(( $(date +%s) - peers_done ))s"
