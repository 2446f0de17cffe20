# Shared by the tools/install-test-*.sh scripts that build test tools with `go install` through
# the Go module proxy: sourced (not run) after setting TOOL_LOG (the prefix of log lines).
# Provides log, die, installed_version and install_tool, and sets up Go: on PATH (or
# /usr/local/go), GOBIN=$BIN_DIR, static binaries, modules only from the proxy, no toolchain
# download behind our back.

log() { printf '%s: %s\n' "$TOOL_LOG" "$*"; }
die() { printf '%s: error: %s\n' "$TOOL_LOG" "$*" >&2; exit 1; }

TOOLS_DIR="${KUBEFORT_TOOLS_DIR:-$HOME/.cache/kubefort/tools}"
BIN_DIR="$TOOLS_DIR/bin"

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

# installed_version BINARY MODULE -> the module version baked into the binary's build info
# (empty if the binary is absent or was built otherwise).
installed_version() {
    local bin="$1" module="$2"
    [ -x "$bin" ] || return 0
    go version -m "$bin" 2>/dev/null \
        | awk -v m="$module" '($1 == "mod" || $1 == "path") && $2 == m && $3 ~ /^v/ { print $3; exit }'
}

# install_tool NAME MODULE PKG VERSION [extra go install args...]: skipped when the binary
# already carries VERSION.
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
