#!/bin/sh
# Prod lock Redis (3 pods, Sentinel failover). A pod starts as a replica of the master the Sentinels
# name; only when no Sentinel knows a master yet (first start) does redis-0 start as the master.
# Pods announce their stable DNS names (redis-N.redis-headless), as the Sentinels do.
set -eu
self="${POD_NAME}.redis-headless.${POD_NAMESPACE}.svc.cluster.local"
master=""
for i in 0 1 2; do
  s="redis-sentinel-${i}.redis-sentinel.${POD_NAMESPACE}.svc.cluster.local"
  master="$(timeout 3 redis-cli -h "$s" -p 26379 --raw sentinel get-master-addr-by-name medschedule 2>/dev/null | head -n 1 || true)"
  if [ -n "$master" ]; then break; fi
done
if [ -z "$master" ] && [ "${POD_NAME##*-}" != "0" ]; then
  master="redis-0.redis-headless.${POD_NAMESPACE}.svc.cluster.local"
fi
set -- /etc/redis/redis.conf --dir /data --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD" \
  --replica-announce-ip "$self"
if [ -n "$master" ] && [ "$master" != "$self" ]; then
  set -- "$@" --replicaof "$master" 6379
fi
exec redis-server "$@"
