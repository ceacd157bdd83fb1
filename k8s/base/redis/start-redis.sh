#!/bin/sh
# Starts the lock Redis with the password from the environment (never on disk).
set -eu
exec redis-server /etc/redis/redis.conf --dir /data --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD"
