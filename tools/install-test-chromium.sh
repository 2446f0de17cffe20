#!/usr/bin/env bash
# Install headless Chromium and its WebDriver for the HTML report's browser tests
# (tests/test_history_html_browser.py, bench/bench_history.py, tools/screenshot_history_report.py).
#
# Both come from Debian's packages (`chromium`, `chromium-driver`), installed with apt-get as CI
# does; nothing else is downloaded (Selenium is pointed at /usr/bin/chromedriver and never fetches
# a browser or driver of its own). Idempotent: installed packages are left alone.
# Exits non-zero if they are missing and cannot be installed (not root, no apt-get).
set -euo pipefail

log() { printf 'install-test-chromium: %s\n' "$*" >&2; }

chromium_bin() { command -v chromium || command -v chromium-browser || true; }

if [ -n "$(chromium_bin)" ] && [ -x /usr/bin/chromedriver ]; then
    log "$("$(chromium_bin)" --version 2>/dev/null || echo chromium) and /usr/bin/chromedriver already installed"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "chromium and chromium-driver are missing: install the Debian packages (apt-get install chromium chromium-driver) to run the HTML report's browser tests"
    exit 1
fi
log "installing chromium and chromium-driver (Debian packages)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
[ -n "$(chromium_bin)" ] && [ -x /usr/bin/chromedriver ] || { log "chromium installed but chromium or /usr/bin/chromedriver not found"; exit 1; }
log "installed $("$(chromium_bin)" --version 2>/dev/null || echo chromium)"
