# One image for every process of the fleet: the worker (the default command), the HTTP API
# (node dist/producer/api/main.js) and the KIE callback receiver (node dist/worker/webhookServer/main.js).
#
#   docker build -t sora-batch .                                      runtime (the default target)
#   docker build --target runtime-posters -t sora-batch:posters .     the same plus ffmpeg, for posters
#
# Node 22 LTS (24 works too: --build-arg NODE_IMAGE=node:24-bookworm-slim). Checked in CI without
# Docker: scripts/lintDockerfile.ts, and scripts/replayRuntimeStage.ts runs the runtime stage's steps.
ARG NODE_IMAGE=node:22-bookworm-slim

# Build: every dependency and the compiler; only dist/ leaves this stage.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# Runtime: production dependencies (npm ci --omit=dev: no compiler, test tools, simulator or S3
# stand-in) and the build, run by a non-root user under tini.
FROM ${NODE_IMAGE} AS runtime-base
# tini as PID 1 hands SIGTERM to node, so the worker's graceful shutdown runs, and reaps zombies.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Optional packages left out too: the lock has only msgpackr's native decoder (BullMQ packs, the
# pure-JS decoder suffices) and TypeScript, an optional peer of valibot under bull-board.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
RUN ln -s /app/bin/sora-batch /usr/local/bin/sora-batch
# In a container every server listens on all interfaces; the worker serves /healthz and /metrics.
ENV HTTP_HOST=0.0.0.0 \
  HTTP_PORT=3000 \
  WORKER_HTTP=true
USER node
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/worker/main.js"]
# The worker, the API and the callback receiver all answer GET /healthz on HTTP_PORT (503 without Redis).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.HTTP_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Posters (a frame of each video) need ffmpeg; no other target carries it.
FROM runtime-base AS runtime-posters
USER root
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg \
  && rm -rf /var/lib/apt/lists/*
USER node

# The default target: the last stage.
FROM runtime-base AS runtime
