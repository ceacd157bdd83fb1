#!/usr/bin/env bash
# ensure-test-deps.sh — everything `npm test` needs from the machine (run as "pretest").
# Each component prints one line ("postgres: ready at ...") and more only when it changes
# something. Postgres and Redis run one after the other: both may need apt, which locks.
# Add further system tools here (chromium for browser tests, ...) as ensure-*.sh scripts.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
t0=$SECONDS
bash "$here/ensure-postgres.sh"
bash "$here/ensure-redis.sh"
bash "$here/ensure-chromium.sh"
bash "$here/ensure-promtool.sh"
if (( SECONDS - t0 > 5 )); then echo "test deps: ready in $((SECONDS - t0)) s"; fi
