#!/usr/bin/env bash
# ensure-promtool.sh — make sure `promtool` (alert rule checks and unit tests) is on PATH.
# Installs Debian's `prometheus` package only when promtool is missing. The package would start a
# prometheus daemon through its init script: a temporary policy-rc.d forbids that during the install
# (when no policy-rc.d exists already), and any daemon that started anyway is stopped.
# Idempotent; prints one "promtool: ready" line. Exits non-zero with a message on failure.
set -euo pipefail
say() { printf 'promtool: %s\n' "$*"; }
if ! command -v promtool >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "promtool: ERROR: missing and apt-get is not available; install Prometheus' promtool" >&2; exit 1; }
  sudo=""; if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  say "installing Debian package prometheus (for promtool)"
  policy=/usr/sbin/policy-rc.d
  made_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" && made_policy=1
  fi
  cleanup() { if [ -n "$made_policy" ]; then $sudo rm -f "$policy"; fi; }
  trap cleanup EXIT
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # The daemon is not needed by the tests: stop it if the package started one regardless.
  if [ -x /etc/init.d/prometheus ]; then $sudo /etc/init.d/prometheus stop >/dev/null 2>&1 || true; fi
  command -v promtool >/dev/null 2>&1 || { echo "promtool: ERROR: package installed but promtool is not on PATH" >&2; exit 1; }
fi
say "ready ($(promtool --version 2>&1 | head -1 | awk '{print $3}'))"
