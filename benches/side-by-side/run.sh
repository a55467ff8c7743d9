#!/usr/bin/env bash
# The side-by-side bench (issue 20), one command:
#   bash benches/side-by-side/run.sh
# builds and caches the peers (tests/tools/peers.sh for the Python venv,
# benches/side-by-side/peers.sh for function-patch-and-transform and the
# function-kcl attempt), builds the bench in the release profile, then runs it
# with this load client on core 0 (each server is put on core 1) and prints
# one table per request with this function's figures as a multiple of each
# peer's.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tests/tools/peers.sh >/dev/null
bash benches/side-by-side/peers.sh
# shellcheck disable=SC1091
. target/peers/env.sh
# shellcheck disable=SC1091
. target/peers/side-by-side/env.sh
cargo bench --locked -p function-hybrid-spoke --bench side_by_side --no-run
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
exec "${pin[@]}" cargo bench --locked -p function-hybrid-spoke --bench side_by_side -- --bench "$@"
