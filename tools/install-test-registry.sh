#!/usr/bin/env bash
# Build the real OCI registry, crane and cosign used by the image-signature tests
# (tests/test_images_signatures.py).
#
# All three come from source through the Go module proxy (no other download), as the test
# cluster does; Go builds test infrastructure only, kubefort itself is pure Python:
#
#   registry  github.com/distribution/distribution/v3 (the CNCF distribution registry, served
#             on 127.0.0.1 with TLS by the tests)
#   crane     github.com/google/go-containerregistry (pushes test images)
#   cosign    github.com/sigstore/cosign/v2 (signs them with generated key pairs)
#
# Binaries go to ${KUBEFORT_TOOLS_DIR:-$HOME/.cache/kubefort/tools}/bin. Idempotent: a tool whose
# binary already carries the pinned module version is skipped. Override the pins with
# KUBEFORT_REGISTRY_VERSION, KUBEFORT_CRANE_VERSION, KUBEFORT_COSIGN_VERSION. Exits non-zero if
# any tool cannot be installed.
set -euo pipefail

REGISTRY_MODULE="github.com/distribution/distribution/v3"
REGISTRY_PKG="github.com/distribution/distribution/v3/cmd/registry"
REGISTRY_VERSION="${KUBEFORT_REGISTRY_VERSION:-v3.0.0}"

CRANE_MODULE="github.com/google/go-containerregistry"
CRANE_PKG="github.com/google/go-containerregistry/cmd/crane"
CRANE_VERSION="${KUBEFORT_CRANE_VERSION:-v0.22.1}"

COSIGN_MODULE="github.com/sigstore/cosign/v2"
COSIGN_PKG="github.com/sigstore/cosign/v2/cmd/cosign"
# the newest v2 (v3 changes the default signature format to bundles in the referrers API)
COSIGN_VERSION="${KUBEFORT_COSIGN_VERSION:-v2.6.5}"

TOOLS_DIR="${KUBEFORT_TOOLS_DIR:-$HOME/.cache/kubefort/tools}"
BIN_DIR="$TOOLS_DIR/bin"

log() { printf 'install-test-registry: %s\n' "$*"; }
die() { printf 'install-test-registry: error: %s\n' "$*" >&2; exit 1; }

if ! command -v go >/dev/null 2>&1; then
    if [ -x /usr/local/go/bin/go ]; then
        PATH="/usr/local/go/bin:$PATH"
        export PATH
    else
        die "go not found on PATH nor at /usr/local/go/bin/go"
    fi
fi
log "using $(go version)"

mkdir -p "$BIN_DIR"
export GOBIN="$BIN_DIR"
export CGO_ENABLED=0
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
export GOTOOLCHAIN=local

installed_version() {
    local bin="$1" module="$2"
    [ -x "$bin" ] || return 0
    go version -m "$bin" 2>/dev/null \
        | awk -v m="$module" '($1 == "mod" || $1 == "path") && $2 == m && $3 ~ /^v/ { print $3; exit }'
}

install_tool() {
    local name="$1" module="$2" pkg="$3" version="$4"
    local bin="$BIN_DIR/$name"
    local have
    have="$(installed_version "$bin" "$module")"
    if [ "$have" = "$version" ]; then
        log "$name $version already installed at $bin (skipped)"
        return 0
    fi
    log "building $name $version ($pkg@$version) ..."
    local start
    start=$(date +%s)
    go install -trimpath -ldflags "-s -w" "$pkg@$version" || die "go install $pkg@$version failed"
    have="$(installed_version "$bin" "$module")"
    [ "$have" = "$version" ] || die "$name built but $bin reports version '${have:-unknown}', want $version"
    log "installed $name $version at $bin in $(($(date +%s) - start))s"
}

install_tool registry "$REGISTRY_MODULE" "$REGISTRY_PKG" "$REGISTRY_VERSION"
install_tool crane "$CRANE_MODULE" "$CRANE_PKG" "$CRANE_VERSION"
install_tool cosign "$COSIGN_MODULE" "$COSIGN_PKG" "$COSIGN_VERSION"
log "done; binaries in $BIN_DIR (tests find them there)"
