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
#   trivy     github.com/aquasecurity/trivy (the scanner `kubefort images --scan-with trivy` runs;
#             the tests use its offline secret scanner, which needs no vulnerability database)
#
# Binaries go to ${KUBEFORT_TOOLS_DIR:-$HOME/.cache/kubefort/tools}/bin. Idempotent: a tool whose
# binary already carries the pinned module version is skipped. Override the pins with
# KUBEFORT_REGISTRY_VERSION, KUBEFORT_CRANE_VERSION, KUBEFORT_COSIGN_VERSION, KUBEFORT_TRIVY_VERSION. Exits non-zero if
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

TRIVY_MODULE="github.com/aquasecurity/trivy"
TRIVY_PKG="github.com/aquasecurity/trivy/cmd/trivy"
TRIVY_VERSION="${KUBEFORT_TRIVY_VERSION:-v0.74.0}"

TOOL_LOG=install-test-registry
# shellcheck source=tools/go-install-lib.sh
. "$(dirname "$0")/go-install-lib.sh"

install_tool registry "$REGISTRY_MODULE" "$REGISTRY_PKG" "$REGISTRY_VERSION" -ldflags "-s -w"
install_tool crane "$CRANE_MODULE" "$CRANE_PKG" "$CRANE_VERSION" -ldflags "-s -w"
install_tool cosign "$COSIGN_MODULE" "$COSIGN_PKG" "$COSIGN_VERSION" -ldflags "-s -w"
# trivy v0.74 imports encoding/json/v2, which Go 1.26 ships behind this experiment (~7 min to build)
(export GOEXPERIMENT=jsonv2; install_tool trivy "$TRIVY_MODULE" "$TRIVY_PKG" "$TRIVY_VERSION" -ldflags "-s -w") || exit 1
log "done; binaries in $BIN_DIR (tests find them there)"
