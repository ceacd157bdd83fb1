#!/bin/sh
# Redis Sentinel for the lock Redis (master name "medschedule", quorum 2 of 3). The config is written
# to /data (Sentinel rewrites it) with the Redis password from the environment (auth-pass). Sentinel
# itself takes no password (ioredis asks it without one); Istio admits only the mesh callers.
set -eu
conf=/data/sentinel.conf
self="${POD_NAME}.redis-sentinel.${POD_NAMESPACE}.svc.cluster.local"
if [ ! -s "$conf" ]; then
  master="redis-0.redis-headless.${POD_NAMESPACE}.svc.cluster.local"
  for i in 0 1 2; do
    s="redis-sentinel-${i}.redis-sentinel.${POD_NAMESPACE}.svc.cluster.local"
    if [ "$s" = "$self" ]; then continue; fi
    m="$(timeout 3 redis-cli -h "$s" -p 26379 --raw sentinel get-master-addr-by-name medschedule 2>/dev/null | head -n 1 || true)"
    if [ -n "$m" ]; then master="$m"; break; fi
  done
  cat > "$conf" <<CONF
port 26379
dir /data
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip ${self}
sentinel monitor medschedule ${master} 6379 2
sentinel auth-pass medschedule ${REDIS_PASSWORD}
sentinel down-after-milliseconds medschedule 5000
sentinel failover-timeout medschedule 60000
sentinel parallel-syncs medschedule 1
CONF
fi
exec redis-server "$conf" --sentinel
