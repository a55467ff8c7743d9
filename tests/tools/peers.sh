#!/usr/bin/env bash
# Builds the real peers the test suite runs against and writes
# target/peers/env.sh, which exports their paths (tests/run.sh sources it):
#
#   HYBRID_SPOKE_CRANK            crossplane CLI (crank) v2.2.1: `render`, `beta validate`
#   HYBRID_SPOKE_KUBE_APISERVER   kube-apiserver v1.35.4 (k8s.io/kubernetes)
#   HYBRID_SPOKE_ETCD             etcd v3.6.5 (go.etcd.io/etcd/server/v3, what k8s v1.35.4 pins)
#   HYBRID_SPOKE_HEADSCALE_V0_29  headscale v0.29.2 (/api/v1)
#   HYBRID_SPOKE_PYTHON           python of a venv with crossplane-function-sdk-python 0.15.1
#   HYBRID_SPOKE_BACKSTAGE_TOOLS  directory with node_modules of tests/tools/backstage/package.json
#                                 (@backstage/plugin-scaffolder-common 2.4.0, nunjitsu, ajv; npm ci)
#   HYBRID_SPOKE_OCIIMAGE         tests/tools/ociimage (go-containerregistry v0.22.1): writes the
#                                 packages' runtime images without Docker (tests/tools/xpkg.sh)
#   HYBRID_SPOKE_CROSSPLANE       Crossplane core v2.4.0 (cmd/crossplane): `internal render`,
#                                 `core init`, `core start`
#   HYBRID_SPOKE_KUBE_CONTROLLER_MANAGER  kube-controller-manager (same k8s.io/kubernetes pin)
#   HYBRID_SPOKE_PROVIDER_KUBERNETES      provider-kubernetes v1.2.1 (cmd/provider)
#   HYBRID_SPOKE_PROVIDER_HELM            provider-helm v1.0.6 (cmd/provider; built only with
#                                         HYBRID_SPOKE_BUILD_PROVIDER_HELM=1)
#
# Pins live beside this script: kube/, crank/, headscale/ are Go modules
# (go.mod + go.sum; each builds its `tool`), requirements.txt is hash-pinned.
# Builds are cached by version under target/peers/<name>-<version>/ and keyed
# by the pin files' hash (target/peers/*/bin/.pins); the Go module and build caches are under
# target/peers/go, so a warm run builds nothing.
#
# Not built (see docs/testing.md): crank v2.2.4 and Headscale main f20f1f12,
# which the Go module proxy reachable here refuses ("This module version is
# not available"); crank v2.2.1 has the same render and validate code.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TOOLS=$ROOT/tests/tools
# HYBRID_SPOKE_PEERS_DIR: another cache directory (e.g. to time a cold build).
PEERS=${HYBRID_SPOKE_PEERS_DIR:-$ROOT/target/peers}
mkdir -p "$PEERS"

die() { echo "tests/tools/peers.sh: $*" >&2; exit 2; }

# --- toolchains -------------------------------------------------------------
GO_MIN=1.26.4 # headscale v0.29.2's go directive; the others need less
command -v go >/dev/null ||
  die "go is missing: install Go >= $GO_MIN (the peers are built from source with it)"
go_version=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$GO_MIN" "$go_version" | sort -V | head -1)" != "$GO_MIN" ]; then
  die "go $go_version is too old: install Go >= $GO_MIN"
fi
command -v python3 >/dev/null ||
  die "python3 is missing: install Python >= 3.11 with venv (Debian: apt-get install python3 python3-venv)"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
  die "python3 $(python3 -c 'import platform; print(platform.python_version())') is too old: crossplane-function-sdk-python 0.15.1 needs Python >= 3.11"
python3 -c 'import venv, ensurepip' 2>/dev/null ||
  die "python3 has no venv/ensurepip: install it (Debian: apt-get install python3-venv)"

export GOPATH=$PEERS/go
export GOMODCACHE=$PEERS/go/pkg/mod
export GOCACHE=$PEERS/go/cache
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
export GOFLAGS="-mod=readonly -buildvcs=false"

pin_hash() { cat "$@" | sha256sum | cut -c1-16; }

# build_go NAME VERSION MODULE_DIR LDFLAGS BIN=PACKAGE...
# Builds each PACKAGE of the module in MODULE_DIR into
# target/peers/NAME-VERSION/bin/BIN unless that build is already there.
build_go() {
  local name=$1 version=$2 dir=$TOOLS/$3 ldflags=$4
  shift 4
  local out=$PEERS/$name-$version/bin stamp
  stamp=$(pin_hash "$dir/go.mod" "$dir/go.sum")
  local fresh=1 spec
  [ "$(cat "$out/.pins" 2>/dev/null)" = "$stamp" ] || fresh=0
  for spec in "$@"; do [ -x "$out/${spec%%=*}" ] || fresh=0; done
  if [ $fresh = 1 ]; then
    echo "peers: $name $version: cached in target/peers/$name-$version (0s)"
    return
  fi
  local start=$SECONDS
  echo "peers: $name $version: building (go $go_version)..."
  mkdir -p "$out"
  rm -f "$out/.pins"
  (
    cd "$dir"
    for spec in "$@"; do
      go build -p 2 -trimpath -ldflags="-s -w $ldflags" -o "$out/${spec%%=*}" "${spec#*=}"
    done
  ) || die "building $name $version failed (command: cd tests/tools/$3 && go build ${*#*=})"
  echo "$stamp" >"$out/.pins"
  echo "peers: $name $version: built in $((SECONDS - start))s"
}

mod_version() { # the version tests/tools/$1/go.mod requires of module $2
  awk -v m="$2" '$1 == m && $2 ~ /^v/ {print $2; exit}
    $1 == "require" && $2 == m && $3 ~ /^v/ {print $3; exit}' "$TOOLS/$1/go.mod"
}

total_start=$SECONDS

CRANK_VERSION=$(mod_version crank github.com/crossplane/crossplane/v2)
KUBE_VERSION=$(mod_version kube k8s.io/kubernetes)
ETCD_VERSION=$(mod_version kube go.etcd.io/etcd/server/v3)
HEADSCALE_VERSION=$(mod_version headscale github.com/juanfont/headscale)
GGCR_VERSION=$(mod_version ociimage github.com/google/go-containerregistry)

build_go crank "$CRANK_VERSION" crank \
  "-X github.com/crossplane/crossplane/v2/internal/version.version=$CRANK_VERSION" \
  crank=github.com/crossplane/crossplane/v2/cmd/crank

kv=k8s.io/component-base/version
kminor=$(echo "$KUBE_VERSION" | cut -d. -f2)
build_go kube "$KUBE_VERSION-etcd-$ETCD_VERSION" kube \
  "-X $kv.gitVersion=$KUBE_VERSION -X $kv.gitMajor=1 -X $kv.gitMinor=$kminor -X $kv.gitTreeState=clean" \
  kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
  etcd=go.etcd.io/etcd/server/v3

build_go headscale "$HEADSCALE_VERSION" headscale \
  "" \
  headscale=github.com/juanfont/headscale/cmd/headscale

build_go ociimage "ggcr-$GGCR_VERSION" ociimage \
  "" \
  ociimage=.
# Crossplane core: its version is baked in where crossplane-runtime reads it,
# or every package revision fails its Crossplane-version constraint.
CROSSPLANE_VERSION=$(mod_version crossplane github.com/crossplane/crossplane/v2)
build_go crossplane "$CROSSPLANE_VERSION" crossplane \
  "-X github.com/crossplane/crossplane-runtime/v2/pkg/version.version=$CROSSPLANE_VERSION" \
  crossplane=github.com/crossplane/crossplane/v2/cmd/crossplane

# The e2e stack (tests/e2e.rs): the hub's garbage collector and the two
# providers the function composes for, run out of cluster.
build_go kube-controller-manager "$KUBE_VERSION" kube \
  "-X $kv.gitVersion=$KUBE_VERSION -X $kv.gitMajor=1 -X $kv.gitMinor=$kminor -X $kv.gitTreeState=clean" \
  kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager
PROVIDER_KUBERNETES_VERSION=$(mod_version provider-kubernetes github.com/crossplane-contrib/provider-kubernetes)
build_go provider-kubernetes "$PROVIDER_KUBERNETES_VERSION" provider-kubernetes "" \
  provider=github.com/crossplane-contrib/provider-kubernetes/cmd/provider
# provider-helm: the e2e stack applies its CRDs (from the module) but does not
# run it yet (tests/e2e/stack.rs says why), so its binary, a few minutes of a
# cold run, is built only with HYBRID_SPOKE_BUILD_PROVIDER_HELM=1.
PROVIDER_HELM_VERSION=$(mod_version provider-helm github.com/crossplane-contrib/provider-helm)
if [ "${HYBRID_SPOKE_BUILD_PROVIDER_HELM:-0}" = 1 ]; then
  build_go provider-helm "$PROVIDER_HELM_VERSION" provider-helm "" \
    provider=github.com/crossplane-contrib/provider-helm/cmd/provider
else
  (cd "$TOOLS/provider-helm" && go mod download github.com/crossplane-contrib/provider-helm) ||
    die "go mod download of provider-helm $PROVIDER_HELM_VERSION failed (cd tests/tools/provider-helm)"
  echo "peers: provider-helm $PROVIDER_HELM_VERSION: module downloaded for its CRDs; not built (HYBRID_SPOKE_BUILD_PROVIDER_HELM=1 builds it)"
fi

# --- function-sdk-python ----------------------------------------------------
SDK_VERSION=$(awk -F'==' '/^crossplane-function-sdk-python==/ {sub(/[ \\].*/, "", $2); print $2}' "$TOOLS/requirements.txt")
venv=$PEERS/python-sdk-$SDK_VERSION
stamp=$(pin_hash "$TOOLS/requirements.txt")
if [ "$(cat "$venv/.pins" 2>/dev/null)" = "$stamp" ] && [ -x "$venv/bin/python" ]; then
  echo "peers: function-sdk-python $SDK_VERSION: cached in target/peers/python-sdk-$SDK_VERSION (0s)"
else
  start=$SECONDS
  echo "peers: function-sdk-python $SDK_VERSION: creating the venv..."
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed: install python3-venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --require-hashes --only-binary=:all: -r "$TOOLS/requirements.txt" ||
    die "pip install -r tests/tools/requirements.txt failed"
  "$venv/bin/python" -c 'import crossplane.function.proto.v1.run_function_pb2_grpc' ||
    die "crossplane-function-sdk-python is installed but its stubs do not import"
  echo "$stamp" >"$venv/.pins"
  echo "peers: function-sdk-python $SDK_VERSION: installed in $((SECONDS - start))s"
fi

# --- Backstage scaffolder packages (npm) -------------------------------------
command -v node >/dev/null && command -v npm >/dev/null ||
  die "node and npm are missing: install Node.js >= 20 (Debian: apt-get install nodejs npm)"
backstage=$PEERS/backstage-tools
stamp=$(pin_hash "$TOOLS/backstage/package.json" "$TOOLS/backstage/package-lock.json")
if [ "$(cat "$backstage/.pins" 2>/dev/null)" = "$stamp" ] && [ -d "$backstage/node_modules" ]; then
  echo "peers: backstage tools: cached in target/peers/backstage-tools (0s)"
else
  start=$SECONDS
  rm -rf "$backstage"
  mkdir -p "$backstage"
  cp "$TOOLS/backstage/package.json" "$TOOLS/backstage/package-lock.json" "$backstage/"
  (cd "$backstage" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error --cache "$PEERS/npm-cache") ||
    die "npm ci of tests/tools/backstage/package-lock.json failed"
  echo "$stamp" >"$backstage/.pins"
  echo "peers: backstage tools: installed in $((SECONDS - start))s"
fi

cat >"$PEERS/env.sh.tmp" <<EOF
# Written by tests/tools/peers.sh: the real peers the tests run against.
export HYBRID_SPOKE_CRANK='$PEERS/crank-$CRANK_VERSION/bin/crank'
export HYBRID_SPOKE_CRANK_VERSION='$CRANK_VERSION'
export HYBRID_SPOKE_KUBE_APISERVER='$PEERS/kube-$KUBE_VERSION-etcd-$ETCD_VERSION/bin/kube-apiserver'
export HYBRID_SPOKE_ETCD='$PEERS/kube-$KUBE_VERSION-etcd-$ETCD_VERSION/bin/etcd'
export HYBRID_SPOKE_HEADSCALE_V0_29='$PEERS/headscale-$HEADSCALE_VERSION/bin/headscale'
export HYBRID_SPOKE_PYTHON='$venv/bin/python'
export HYBRID_SPOKE_BACKSTAGE_TOOLS='$backstage'
export HYBRID_SPOKE_OCIIMAGE='$PEERS/ociimage-ggcr-$GGCR_VERSION/bin/ociimage'
export HYBRID_SPOKE_CROSSPLANE='$PEERS/crossplane-$CROSSPLANE_VERSION/bin/crossplane'
export HYBRID_SPOKE_CROSSPLANE_VERSION='$CROSSPLANE_VERSION'
# The module directories (CRDs, webhook configurations) of what the e2e stack runs.
export HYBRID_SPOKE_CROSSPLANE_MODULE='$GOMODCACHE/github.com/crossplane/crossplane/v2@$CROSSPLANE_VERSION'
export HYBRID_SPOKE_KUBE_CONTROLLER_MANAGER='$PEERS/kube-controller-manager-$KUBE_VERSION/bin/kube-controller-manager'
export HYBRID_SPOKE_PROVIDER_KUBERNETES='$PEERS/provider-kubernetes-$PROVIDER_KUBERNETES_VERSION/bin/provider'
export HYBRID_SPOKE_PROVIDER_KUBERNETES_MODULE='$GOMODCACHE/github.com/crossplane-contrib/provider-kubernetes@$PROVIDER_KUBERNETES_VERSION'
export HYBRID_SPOKE_PROVIDER_HELM='$PEERS/provider-helm-$PROVIDER_HELM_VERSION/bin/provider'
export HYBRID_SPOKE_PROVIDER_HELM_MODULE='$GOMODCACHE/github.com/crossplane-contrib/provider-helm@$PROVIDER_HELM_VERSION'
# HYBRID_SPOKE_HEADSCALE_MAIN (Headscale main f20f1f12, /api/v2) is not built
# here: the Go module proxy refuses that version. See docs/testing.md.
EOF
mv "$PEERS/env.sh.tmp" "$PEERS/env.sh"
echo "peers: all peers ready in $((SECONDS - total_start))s; wrote target/peers/env.sh"
