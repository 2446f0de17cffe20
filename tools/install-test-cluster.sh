#!/usr/bin/env bash
# Build a real kube-apiserver, etcd and kube-controller-manager for kubefort's cluster integration
# tests (the controller manager runs only the ClusterRole aggregation controller, in
# tests/test_rbac_sar.py).
#
# Both come from tools/testcluster (a wrapper Go module: it requires k8s.io/kubernetes and
# points each staging module k8s.io/<m> at its published v0.Y.Z), so they are built from
# the Go module proxy with the machine's Go, and nothing is downloaded any other way.
# Binaries are cached by version outside the repository:
#
#     ${KUBEFORT_TOOLS_DIR:-$HOME/.cache/kubefort/tools}/testcluster/<version>/{kube-apiserver,etcd,kube-controller-manager}
#
# Idempotent: an existing pair is reused. The first build takes 10-20 minutes on 2 cores.
# Prints the binary directory on its last line. Exits non-zero if the build fails.
set -euo pipefail

cd "$(dirname "$0")/testcluster"
K8S_VERSION="$(awk '{ if ($1 == "require") $1 = ""; $0 = $0 } $1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' go.mod)"
[ -n "$K8S_VERSION" ] || { echo "install-test-cluster: cannot read the k8s.io/kubernetes version from go.mod" >&2; exit 1; }
TOOLS_DIR="${KUBEFORT_TOOLS_DIR:-$HOME/.cache/kubefort/tools}"
OUT="$TOOLS_DIR/testcluster/$K8S_VERSION"

log() { printf 'install-test-cluster: %s\n' "$*" >&2; }

# the test fixture makes its certificates with openssl
if ! command -v openssl >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing openssl (Debian package)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
    else
        log "openssl is missing: install it to run the cluster tests"; exit 1
    fi
fi

if [ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/etcd" ] && [ -x "$OUT/kube-controller-manager" ]; then
    log "kube-apiserver $K8S_VERSION and etcd already built in $OUT"
    echo "$OUT"
    exit 0
fi
if ! command -v go >/dev/null 2>&1; then
    if [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; export PATH
    else log "go not found: cannot build the test cluster"; exit 1; fi
fi

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
log "building kube-apiserver $K8S_VERSION and etcd with $(go version) (first build: 10-20 min)"
mkdir -p "$OUT.tmp"
go build -trimpath -o "$OUT.tmp/" \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager ./cmd/etcd
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
log "built $OUT"
echo "$OUT"
