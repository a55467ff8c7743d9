#!/usr/bin/env bash
# Builds and caches the peer functions of the side-by-side bench under
# target/peers/side-by-side/ and writes target/peers/side-by-side/env.sh:
#
#   HYBRID_SPOKE_PANDT_BIN       function-patch-and-transform binary
#   HYBRID_SPOKE_PANDT_VERSION   which version it is and where it came from
#   HYBRID_SPOKE_KCL_STATUS      why function-kcl has no figure (empty if built)
#
# function-patch-and-transform: the newest version the Go module proxy serves
# (PANDT_TRY, newest first), else the source copy of v0.10.8 kept in
# ../shared/peers/ (the proxy refused every version on 2026-12-04).
# function-kcl: each version of KCL_TRY is tried once with `go mod download`;
# on 2026-12-04 all were refused (see docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${HYBRID_SPOKE_PEERS_DIR:-$ROOT/target/peers}/side-by-side
mkdir -p "$OUT"
export GOCACHE=${HYBRID_SPOKE_PEERS_DIR:-$ROOT/target/peers}/go/cache
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"

PANDT_MODULE=github.com/crossplane-contrib/function-patch-and-transform
PANDT_TRY="v0.11.0 v0.10.8"
PANDT_COPY=$ROOT/../shared/peers/function-patch-and-transform-v0.10.8
KCL_MODULE=github.com/crossplane-contrib/function-kcl
KCL_TRY="v0.12.0 v0.11.4 v0.11.0 v0.10.0"

# The first version of $2 the proxy serves, with its source directory; empty if none.
served() {
  local module=$1 version json dir
  shift
  for version in "$@"; do
    json=$(cd "$OUT" && GOFLAGS= go mod download -json "$module@$version" 2>/dev/null || true)
    dir=$(printf '%s' "$json" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    if [ -n "$dir" ] && [ -d "$dir" ]; then
      echo "$version $dir"
      return
    fi
    # What the proxy said, for the bench's table.
    printf '%s' "$json" | sed -n 's/^\t"Error": "\(.*\)",*$/\1/p' | sed 's/\\n.*//' | head -1 >"$OUT/refused-${module##*/}-$version"
  done
}

# --- function-patch-and-transform --------------------------------------------
pandt_bin=$OUT/function-patch-and-transform
if [ -x "$pandt_bin" ] && [ -f "$OUT/pandt.version" ]; then
  echo "side-by-side: function-patch-and-transform $(cat "$OUT/pandt.version"): cached"
else
  start=$SECONDS
  read -r version dir < <(served "$PANDT_MODULE" $PANDT_TRY || true) || true
  if [ -n "${dir:-}" ]; then
    label="$version (Go module proxy)"
  else
    [ -d "$PANDT_COPY" ] || { echo "side-by-side: no function-patch-and-transform: the proxy refused $PANDT_TRY and $PANDT_COPY is missing" >&2; exit 2; }
    dir=$PANDT_COPY
    label="v0.10.8 (source copy in ../shared/peers; the proxy refused $PANDT_TRY)"
  fi
  # Build from a writable copy (the module cache is read-only), as its Dockerfile does.
  rm -rf "$OUT/pandt-src" && cp -r "$dir" "$OUT/pandt-src" && chmod -R u+w "$OUT/pandt-src"
  (cd "$OUT/pandt-src" && go build -p 2 -trimpath -ldflags="-s -w" -o "$pandt_bin" .) ||
    { echo "side-by-side: building function-patch-and-transform $label failed" >&2; exit 2; }
  echo "$label" >"$OUT/pandt.version"
  echo "side-by-side: function-patch-and-transform $label: built in $((SECONDS - start))s"
fi

# --- function-kcl ---------------------------------------------------------------
kcl_status=""
if ! read -r kcl_version kcl_dir < <(served "$KCL_MODULE" $KCL_TRY); then
  reason=$(cat "$OUT/refused-function-kcl-${KCL_TRY%% *}" 2>/dev/null || true)
  kcl_status="the Go module proxy refused function-kcl $KCL_TRY on $(date -u +%F) (${reason:0:160})"
  echo "side-by-side: function-kcl: $kcl_status"
else
  kcl_status="function-kcl $kcl_version is served but the bench has no KCL program for it yet"
fi

cat >"$OUT/env.sh" <<EOF
export HYBRID_SPOKE_PANDT_BIN='$pandt_bin'
export HYBRID_SPOKE_PANDT_VERSION='$(cat "$OUT/pandt.version")'
export HYBRID_SPOKE_KCL_STATUS='${kcl_status//\'/}'
EOF
