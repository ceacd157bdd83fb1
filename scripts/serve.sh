#!/usr/bin/env bash
# npm run serve -- <scheduling|queue|lock|backup|patient|gateway>: one component as its own process (real mode).
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-}"
case "$name" in
  scheduling|queue|lock|backup|patient) exec node dist/services/"$name"/main.js ;;
  gateway) exec node dist/gateway/main.js ;;
  *) echo "usage: npm run serve -- <scheduling|queue|lock|backup|patient|gateway>" >&2; exit 2 ;;
esac
