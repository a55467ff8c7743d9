#!/usr/bin/env bash
# Builds the four Crossplane packages into target/xpkg/, without Docker:
#
#   function-hybrid-spoke-<version>.xpkg                    (Function, runtime image embedded)
#   provider-hybrid-spoke-<version>.xpkg                    (Provider, runtime image embedded)
#   configuration-hybrid-spoke-namespaced-<version>.xpkg    (Configuration, Crossplane v2)
#   configuration-hybrid-spoke-legacy-<version>.xpkg        (Configuration, v1-style claims)
#
# 1. `cargo build --release` of function-hybrid-spoke and provider-hybrid-spoke.
# 2. A distroless-style base: the pinned Debian bookworm packages below
#    (sha256-checked, cached in target/xpkg/debs/) extracted into one
#    directory, without docs and iconv modules, plus /etc/passwd and
#    /etc/group with the `nonroot` user (65532, as distroless), /tmp and the
#    CA bundle update-ca-certificates would write.
# 3. Each runtime image = base layer + one layer with the binary, written by
#    tests/tools/ociimage (go-containerregistry v0.22.1) as an image tarball:
#    entrypoint the binary with no arguments, user 65532, ports 9443 and 8080.
# 4. `crossplane xpkg build` (crank, tests/tools/crank) for each package,
#    embedding the runtime image with --embed-runtime-image-tarball.
#
# Needs HYBRID_SPOKE_CRANK and HYBRID_SPOKE_OCIIMAGE (tests/tools/peers.sh
# builds both and exports them in target/peers/env.sh; this script sources
# it when they are unset). Everything is rebuilt only when its inputs change.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/target/xpkg
mkdir -p "$OUT"

die() { echo "tests/tools/xpkg.sh: $*" >&2; exit 2; }

if [ -z "${HYBRID_SPOKE_CRANK:-}" ] || [ -z "${HYBRID_SPOKE_OCIIMAGE:-}" ]; then
  env_sh=${HYBRID_SPOKE_PEERS_DIR:-$ROOT/target/peers}/env.sh
  # shellcheck disable=SC1090
  [ -f "$env_sh" ] && . "$env_sh"
fi
[ -x "${HYBRID_SPOKE_CRANK:-}" ] || die "HYBRID_SPOKE_CRANK is not set: run bash tests/tools/peers.sh first"
[ -x "${HYBRID_SPOKE_OCIIMAGE:-}" ] || die "HYBRID_SPOKE_OCIIMAGE is not set: run bash tests/tools/peers.sh first"

VERSION=$(awk -F'"' '/^version = / {print $2; exit}' Cargo.toml)
[ -n "$VERSION" ] || die "no workspace version in Cargo.toml"
TAG=v$VERSION
REGISTRY=ghcr.io/hybrid-spoke

# --- 1. release binaries ------------------------------------------------------
start=$SECONDS
cargo build --release --locked -p function-hybrid-spoke -p provider-hybrid-spoke --bins
echo "xpkg: release binaries ready in $((SECONDS - start))s"

# --- 2. the base: pinned Debian packages -------------------------------------
# Debian bookworm (what distroless cc-debian12 is built from): package,
# archive (debian or debian-security), Filename, SHA256. A pin that the
# mirror has superseded fails the download: take the new Version, Filename
# and SHA256 from `apt-cache show <package>` on bookworm. Superseded files
# leave deb.debian.org but stay on snapshot.debian.org, tried second (at a
# time the pins were current; not reachable from the development machine).
MIRROR=https://deb.debian.org
SNAPSHOT_TIME=20261204T000000Z
DEBS=(
  "libc6 debian pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb ba4f88f73dbc3ae9055f3c20f4523bfdbaf1ad13ff95e258924f77d20b4fbedf"
  "libgcc-s1 debian pool/main/g/gcc-12/libgcc-s1_12.2.0-14+deb12u1_amd64.deb 3016e62cb4b7cd8038822870601f5ed131befe942774d0f745622cc77d8a88f7"
  "ca-certificates debian-security pool/updates/main/c/ca-certificates/ca-certificates_20250419~deb12u2_all.deb b9f76b5271a7ac373fd5e7e1b5b826a71ddd702b42a0d104955ecb1acfffc94b"
)
mkdir -p "$OUT/debs"
base_key=$( (printf '%s\n' "${DEBS[@]}"; sed -n '/^# --- 2/,/^# --- 3/p' "$0") | sha256sum | cut -c1-16)
BASE=$OUT/rootfs/base
if [ "$(cat "$BASE.key" 2>/dev/null)" != "$base_key" ]; then
  rm -rf "$BASE" "$BASE.key"
  mkdir -p "$BASE"
  for deb in "${DEBS[@]}"; do
    read -r pkg archive path sum <<<"$deb"
    url=$MIRROR/$archive/$path
    file=$OUT/debs/$(basename "$path")
    if ! echo "$sum  $file" | sha256sum --check --status 2>/dev/null; then
      snapshot=https://snapshot.debian.org/archive/$archive/$SNAPSHOT_TIME/$path
      curl --fail --silent --show-error --location --retry 3 -o "$file.part" "$url" ||
        curl --fail --silent --show-error --location --retry 3 -o "$file.part" "$snapshot" ||
        die "downloading $pkg ($url, then $snapshot) failed: update the pin, see the comment above DEBS"
      echo "$sum  $file.part" | sha256sum --check --status ||
        die "$pkg: sha256 of $url is not the pinned $sum"
      mv "$file.part" "$file"
    fi
    # A .deb is an ar archive; its data.tar.* holds the files.
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb --fsys-tarfile "$file" | tar -x -C "$BASE"
    else
      command -v ar >/dev/null || die "neither dpkg-deb nor ar (binutils) is installed"
      member=$(ar t "$file" | grep '^data\.tar')
      ar p "$file" "$member" | tar -x -C "$BASE" --auto-compress 2>/dev/null ||
        ar p "$file" "$member" | xz -d | tar -x -C "$BASE"
    fi
  done
  # What distroless leaves out too: documentation; and the iconv modules,
  # which nothing in a Rust binary loads.
  rm -rf "$BASE"/usr/share/{doc,man,info,lintian} "$BASE"/usr/lib/x86_64-linux-gnu/gconv
  # update-ca-certificates' bundle: every certificate ca-certificates ships.
  mkdir -p "$BASE/etc/ssl/certs"
  find "$BASE/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | xargs cat >"$BASE/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$BASE/usr/sbin" "$BASE/etc/ca-certificates.conf" # update-ca-certificates itself needs a shell
  cat >"$BASE/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$BASE/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
  echo 'hosts: files dns' >"$BASE/etc/nsswitch.conf"
  mkdir -p "$BASE/tmp" "$BASE/home/nonroot" "$BASE/root"
  chmod 1777 "$BASE/tmp"
  chmod 0700 "$BASE/root"
  echo "$base_key" >"$BASE.key"
  echo "xpkg: base assembled from ${#DEBS[@]} Debian packages"
fi

# --- 3. runtime images ---------------------------------------------------------
# image NAME: target/xpkg/images/NAME.tar from the base and target/release/NAME.
image() {
  local name=$1 app=$OUT/rootfs/$1
  rm -rf "$app"
  mkdir -p "$app" "$OUT/images"
  install -m 0755 "$ROOT/target/release/$name" "$app/$name"
  "$HYBRID_SPOKE_OCIIMAGE" \
    --out "$OUT/images/$name.tar" --tag "$REGISTRY/$name:$TAG" \
    --layer "$BASE" --layer "$app" \
    --owner home/nonroot=65532:65532 \
    --entrypoint "/$name" --user 65532:65532 \
    --expose 9443/tcp --expose 8080/tcp \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --label "org.opencontainers.image.source=https://github.com/hybrid-spoke/hybrid-spoke" \
    --label "org.opencontainers.image.version=$TAG" \
    --label "org.opencontainers.image.licenses=Apache-2.0"
}
image function-hybrid-spoke
image provider-hybrid-spoke

# --- 4. packages -------------------------------------------------------------------
# The examples layer: none for the runtime packages, the GitOps claims for
# the namespaced configuration (they are namespaced XHybridSpokes).
mkdir -p "$OUT/no-examples"
xpkg() { # xpkg NAME PACKAGE_ROOT EXAMPLES [crank flags...]
  local name=$1 root=$2 examples=$3
  shift 3
  "$HYBRID_SPOKE_CRANK" xpkg build --package-root="$root" --examples-root="$examples" \
    --package-file="$OUT/$name-$TAG.xpkg" "$@" ||
    die "crossplane xpkg build of $name failed"
}
xpkg function-hybrid-spoke package/function "$OUT/no-examples" \
  --embed-runtime-image-tarball="$OUT/images/function-hybrid-spoke.tar"
xpkg provider-hybrid-spoke package/provider "$OUT/no-examples" \
  --embed-runtime-image-tarball="$OUT/images/provider-hybrid-spoke.tar"
xpkg configuration-hybrid-spoke-namespaced package/configuration/namespaced examples/gitops/claims
xpkg configuration-hybrid-spoke-legacy package/configuration/legacy "$OUT/no-examples"

ls -l "$OUT"/*.xpkg
echo "xpkg: packages written to target/xpkg/ in $((SECONDS - start))s"
