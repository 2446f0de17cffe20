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

TOOL_LOG=install-test-tools
# shellcheck source=tools/go-install-lib.sh
. "$(dirname "$0")/go-install-lib.sh"

install_tool helm "$HELM_MODULE" "$HELM_PKG" "$HELM_VERSION" \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
install_tool kustomize "$KUSTOMIZE_MODULE" "$KUSTOMIZE_PKG" "$KUSTOMIZE_VERSION" \
    -ldflags "-s -w"

log "helm:      $("$BIN_DIR/helm" version --short 2>/dev/null || echo '?')"
log "kustomize: $("$BIN_DIR/kustomize" version 2>/dev/null || echo '?')"
log "done; binaries in $BIN_DIR (tests find them there, or set KUBEFORT_HELM / KUBEFORT_KUSTOMIZE)"
