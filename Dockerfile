# syntax=docker/dockerfile:1
# MedSchedule image: one image for every component; the command picks it. Build:
#   docker build -t ghcr.io/medschedule/medschedule:0.1.0 .
#   docker build --target backup -t ghcr.io/medschedule/medschedule-backup:0.1.0 .
# Run: node dist/services/<scheduling|queue|lock|backup|patient>/main.js, node dist/gateway/main.js (default),
# node dist/services/backup/cli.js run postgres|redis (CronJobs), node dist/scripts/migrate.js (Job).
# Node 22 LTS on Debian bookworm; the code supports Node >= 20. Pinned by version tag.
ARG NODE_IMAGE=node:22.12.0-bookworm-slim

# --- build: all dependencies, TypeScript and the web app (npm ci runs the `prepare` build) ---------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build && rm -rf dist/test dist/bench

# --- base: production dependencies only, the build output, tini, a non-root user --------------------
FROM ${NODE_IMAGE} AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    DATA_DIR=/tmp/medschedule \
    TMPDIR=/tmp
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) already ran in the build stage.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
# Reflection serves the committed descriptor set from gen/descriptors.
COPY --from=build /app/gen/descriptors ./gen/descriptors
# Nothing under /app is written at run time: the root filesystem can be read-only (/tmp is a volume).
USER 10001:10001
EXPOSE 8080 8081 8082 8083 8084 8085 9464
# tini is PID 1: it forwards SIGTERM to node (graceful drain) and reaps children (pg_dump, redis-cli).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/gateway/main.js"]

# --- backup: the backup service with pg_dump / pg_restore / psql (PostgreSQL 15, the server's major
# version: k8s/ pins postgres 15), redis-cli / redis-check-rdb (Redis 7.0, the server's version) and
# redis-server (VerifyBackup loads an RDB into a scratch server) --------------------------------------
FROM base AS backup
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 redis-tools redis-server \
 && rm -rf /var/lib/apt/lists/*
USER 10001:10001
CMD ["node", "dist/services/backup/main.js"]

# --- service (default target): the gateway and the services ----------------------------------------
FROM base AS service
CMD ["node", "dist/gateway/main.js"]
