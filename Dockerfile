# syntax=docker/dockerfile:1
# Vonage voice-bot media gateway. Validated by test/deploy/deploy.test.ts (parsed, not built: no Docker engine in CI).
# Both stages use the same pinned base image, so the native bits built against it match at run time.

# ---- build stage: compile TypeScript with the dev dependencies ------------------------------------------------------
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.sdk.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json && npx tsc -p tsconfig.sdk.json

# ---- runtime stage: production dependencies only, non-root, no compilers or build tools -----------------------------
FROM node:24.22.3-bookworm-slim AS runtime
# pocketsphinx + its US English model: the offline ASR of the built-in bot (ASR_ADAPTER=auto finds it).
# tini: PID 1 that forwards SIGTERM to Node and reaps the orphaned `cat` of each pocketsphinx pipe
# (Node as PID 1 would leave them as zombies).
RUN apt-get update \
 && apt-get install -y --no-install-recommends pocketsphinx pocketsphinx-en-us tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no third-party install scripts; bufferutil loads its prebuilt binary at run time, and where none
# matches the platform `ws` falls back to plain JavaScript instead of needing a compiler here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
# The console page (CONSOLE_ENABLED): static files the gateway serves from <package root>/console.
COPY console ./console
# The example bots: examples/sidecar-bot.mjs runs as the sidecar bot (same image, another command).
COPY examples ./examples
# Numeric uid/gid of the image's `node` user, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form throughout: tini (PID 1) hands SIGTERM straight to Node, which drains live calls
# (DRAIN_TIMEOUT_MS) before it exits. A shell in between would swallow the signal.
ENTRYPOINT ["/usr/bin/tini", "--"]
# WORKERS defaults to `auto`: one gateway process per core the container may use (`docker run --cpus=N` caps it through
# the cgroup CPU quota), sharing port 8080 (docs/operations.md "All cores"). The Kubernetes ConfigMap sets WORKERS=1: pods scale.
# A 32 MiB young generation: per-call audio that lives ~1 s is then collected young, without long scavenges; an old
# generation limit 3 x what is live, so V8 does not start a full GC again right after each one (bench/README.md).
CMD ["node", "--max-semi-space-size=32", "--heap-growing-percent=200", "dist/src/main.js"]
