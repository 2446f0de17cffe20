#!/usr/bin/env bash
# Install the real helm and kustomize binaries used by tests/test_render.py.
#
# Both are built from source with `go install` through the Go module proxy
# (no other download is needed). Binaries go to a cache directory outside the
# repository:
#
#     ${KUBEFORT_TOOLS_DIR:-$HOME/.cache/kubefort/tools}/bin
#
# The script is idempotent: a tool whose binary already carries the pinned
# module version is skipped. Override the pins with KUBEFORT_HELM_VERSION /
# KUBEFORT_KUSTOMIZE_VERSION. Exits non-zero if any tool cannot be installed.
set -euo pipefail

HELM_MODULE="helm.sh/helm/v3"
HELM_PKG="helm.sh/helm/v3/cmd/helm"
# Newest helm 3.x (go.mod: go 1.26.0).
HELM_VERSION="${KUBEFORT_HELM_VERSION:-v3.22.0}"

KUSTOMIZE_MODULE="sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_PKG="sigs.k8s.io/kustomize/kustomize/v5"
# v5.8.3 needs go >= 1.27; v5.8.2 is the newest that builds with go 1.26.
KUSTOMIZE_VERSION="${KUBEFORT_KUSTOMIZE_VERSION:-v5.8.2}"

TOOLS_DIR="${KUBEFORT_TOOLS_DIR:-$HOME/.cache/kubefort/tools}"
BIN_DIR="$TOOLS_DIR/bin"

log() { printf 'install-test-tools: %s\n' "$*"; }
die() { printf 'install-test-tools: error: %s\n' "$*" >&2; exit 1; }

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
# Pure-Go static binaries; no C toolchain needed.
export CGO_ENABLED=0
# Modules must come from the proxy; never fall back to VCS downloads.
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
# A newer toolchain must not be downloaded behind our back.
export GOTOOLCHAIN=local

# installed_version BINARY MODULE -> prints the module version baked into the
# binary's build info (empty if the binary is absent or was built otherwise).
installed_version() {
    local bin="$1" module="$2"
    [ -x "$bin" ] || return 0
    go version -m "$bin" 2>/dev/null \
        | awk -v m="$module" '($1 == "mod" || $1 == "path") && $2 == m && $3 ~ /^v/ { print $3; exit }'
}

# install NAME MODULE PKG VERSION [extra go install args...]
install_tool() {
    local name="$1" module="$2" pkg="$3" version="$4"
    shift 4
    local bin="$BIN_DIR/$name"
    local have
    have="$(installed_version "$bin" "$module")"
    if [ "$have" = "$version" ]; then
        log "$name $version already installed at $bin (skipped)"
        return 0
    fi
    if [ -n "$have" ]; then
        log "$name: found $have at $bin, want $version; rebuilding"
    fi
    log "building $name $version ($pkg@$version) ..."
    local start end
    start=$(date +%s)
    if ! go install -trimpath "$@" "$pkg@$version"; then
        die "go install $pkg@$version failed"
    fi
    end=$(date +%s)
    have="$(installed_version "$bin" "$module")"
    [ "$have" = "$version" ] || die "$name built but $bin reports version '${have:-unknown}', want $version"
    log "installed $name $version at $bin in $((end - start))s"
}

install_tool helm "$HELM_MODULE" "$HELM_PKG" "$HELM_VERSION" \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
install_tool kustomize "$KUSTOMIZE_MODULE" "$KUSTOMIZE_PKG" "$KUSTOMIZE_VERSION" \
    -ldflags "-s -w"

log "helm:      $("$BIN_DIR/helm" version --short 2>/dev/null || echo '?')"
log "kustomize: $("$BIN_DIR/kustomize" version 2>/dev/null || echo '?')"
log "done; binaries in $BIN_DIR (tests find them there, or set KUBEFORT_HELM / KUBEFORT_KUSTOMIZE)"
