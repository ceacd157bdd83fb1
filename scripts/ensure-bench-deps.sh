#!/usr/bin/env bash
# ensure-bench-deps.sh — everything `npm run bench` needs from the machine.
#
# The transport benchmark drives the servers with h2load (Debian package `nghttp2-client`).
# If h2load is on PATH nothing is changed; otherwise it is installed with apt-get (as root, or
# through passwordless sudo). Idempotent; prints one "h2load: ready" line; exits non-zero with a
# message (and what to run by hand) on failure.
set -euo pipefail

say() { printf 'h2load: %s\n' "$*"; }
die() { printf 'h2load: ERROR: %s\n' "$*" >&2; exit 1; }

if command -v h2load >/dev/null 2>&1; then
  say "ready ($(h2load --version 2>/dev/null | head -n 1))"
  exit 0
fi

SUDO=()
if [[ $EUID -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    die "h2load is missing and installing it needs root; run: sudo apt-get update && sudo apt-get install -y nghttp2-client"
  fi
fi
command -v apt-get >/dev/null 2>&1 \
  || die "h2load is missing and this is not a Debian/Ubuntu machine; install nghttp2's h2load by hand"

APT_LOG="${TMPDIR:-/tmp}/medschedule-apt-bench.log"
exec 9>/tmp/.medschedule-ensure-bench.lock
flock -w 300 9 || die "timed out waiting for another ensure-bench-deps.sh run"
if command -v h2load >/dev/null 2>&1; then say "ready ($(h2load --version | head -n 1))"; exit 0; fi

say "installing nghttp2-client (apt)..."
t0=$SECONDS
stamp=/tmp/.medschedule-apt-updated
# One `apt-get update` per ~10 minutes is enough when several ensure-* scripts install.
if [[ ! -f $stamp ]] || [[ -n "$(find "$stamp" -mmin +10 2>/dev/null)" ]]; then
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=120 update >"$APT_LOG" 2>&1 \
    || { tail -n 20 "$APT_LOG" >&2; die "apt-get update failed (log: $APT_LOG)"; }
  touch "$stamp" 2>/dev/null || true
fi
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=120 install nghttp2-client >>"$APT_LOG" 2>&1 \
  || { tail -n 20 "$APT_LOG" >&2; die "apt-get install nghttp2-client failed (log: $APT_LOG)"; }
command -v h2load >/dev/null 2>&1 || die "apt installed nghttp2-client but h2load is not on PATH"
say "installed in $((SECONDS - t0)) s; ready ($(h2load --version | head -n 1))"
