# syntax=docker/dockerfile:1
# keyless-worker: two images from one file. The default target is the worker (`keyless run`, and the operator
# commands `doctor`, `send`, `dlq` …) with only its own dependencies; `--target stack` adds the local platform
# (`keyless stack`, docker-compose.yml's platform service).
#
# Node 24 runs the TypeScript sources directly (type stripping), so there is no build step for our code.
# Node refuses to strip types from files under node_modules, which is why the app lives in /app as plain
# sources and is not installed as a package.

ARG NODE_IMAGE=node:24-bookworm-slim

# --- the worker's dependencies: production only, from the lockfile ------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
# --workspaces=false: the repo's workspaces — the local platform (src/local) and the Entra token checks for APIs
# (src/entra-auth) — and their dependencies (fastify, @peculiar/x509, reflect-metadata …) stay out of the worker.
# --ignore-scripts: no dependency needs an install script at run time (protobufjs' postinstall only prints a
# notice), and skipping them keeps the build free of arbitrary code. It also skips our own postinstall, so it runs
# by name: patch-package applies patches/ (rhea's disposition fix, docs/upstream.md) and fails the build if a
# patch no longer applies.
RUN npm ci --omit=dev --workspaces=false --ignore-scripts --no-audit --no-fund && npm run postinstall && npm cache clean --force

# --- the local platform's dependencies as well (the stack target) ----------------------------------------------
FROM ${NODE_IMAGE} AS stack-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY src/local/package.json ./src/local/
COPY src/entra-auth/package.json ./src/entra-auth/
COPY patches ./patches
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm run postinstall && npm cache clean --force

# --- what both images share ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS base
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY bin ./bin
# `keyless <command>` on PATH, so `docker exec <container> keyless doctor` works like on a laptop.
RUN ln -s /app/bin/keyless /usr/local/bin/keyless

# --- stack: `keyless stack` (docker-compose's platform service; docker build --target stack .) ----------------
FROM base AS stack
COPY --from=stack-deps /app/node_modules ./node_modules
COPY src ./src
# `keyless stack` keeps its development CA under .keyless/ca (relative to /app); the node user must own it.
RUN mkdir -p /app/.keyless/ca && chown -R node:node /app/.keyless
USER node
ENTRYPOINT ["/app/bin/keyless"]
CMD ["stack"]

# --- the worker: the default target ----------------------------------------------------------------------------
# Every folder of src but the two workspaces (test/deployment checks that none is forgotten).
FROM base AS worker
COPY --from=deps /app/node_modules ./node_modules
COPY src/cli ./src/cli
COPY src/handlers ./src/handlers
COPY src/identity ./src/identity
COPY src/operator ./src/operator
COPY src/shared ./src/shared
COPY src/telemetry ./src/telemetry
COPY src/worker ./src/worker
# Commands that trust the development CA (keyless send in docker-compose) read it from here.
RUN mkdir -p /app/.keyless/ca /app/.node-compile-cache && chown -R node:node /app/.keyless /app/.node-compile-cache
USER node
# Node's compile cache (bin/keyless), filled now as the node user: a new container's first start strips no
# TypeScript and compiles nothing it has seen here (~20 MB less resident memory, a faster start).
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN node bin/fill-compile-cache.ts
# The worker's health server (WORKER_HEALTH_PORT, default 8080): /healthz liveness, /readyz readiness.
EXPOSE 8080
# No curl in slim images: Node's fetch does the probe. Only `keyless run` serves /healthz; compose overrides
# or disables this check for the other commands.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.WORKER_HEALTH_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# package.json's "keyless" bin: it runs Node with the worker's flags (bin/node-flags) and compile cache. It execs
# Node, so Node is PID 1 and handles SIGTERM itself: the worker drains within WORKER_SHUTDOWN_GRACE_MS.
ENTRYPOINT ["/app/bin/keyless"]
CMD ["run"]
