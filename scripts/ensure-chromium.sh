#!/usr/bin/env bash
# ensure-chromium.sh — make sure Debian's headless-capable Chromium is at /usr/bin/chromium for the
# browser tests (playwright-core drives it; playwright never downloads a browser of its own).
# Installs the Debian `chromium` package when it is missing (apt-get, so run as root);
# idempotent; prints one "chromium: ready" line. Exits non-zero with a message on failure.
set -euo pipefail

say() { printf 'chromium: %s\n' "$*"; }
die() { printf 'chromium: ERROR: %s\n' "$*" >&2; exit 1; }

BIN=/usr/bin/chromium
if [[ ! -x "$BIN" ]]; then
  command -v apt-get >/dev/null 2>&1 || die "$BIN is missing and apt-get is not available: install Chromium so that $BIN exists"
  say "installing the Debian chromium package"
  export DEBIAN_FRONTEND=noninteractive
  # apt may be held by a parallel install (ensure-postgres/redis run before us, but other
  # processes may use it): wait for the lock rather than fail.
  apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null || die "apt-get update failed"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null \
    || die "apt-get install chromium failed"
  [[ -x "$BIN" ]] || die "installed chromium but $BIN is still missing"
fi
say "ready ($("$BIN" --version 2>/dev/null | head -1 || echo "version unknown"))"
