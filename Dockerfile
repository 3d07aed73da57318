# syntax=docker/dockerfile:1
# Driftwatch image: docker build -t driftwatch:0.1.0 .
# Runs as an unprivileged user with a read-only root filesystem; the SQLite store lives in the
# /data volume (store.path /data/driftwatch.db; ./data is a link to it, so the default works too).

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: compile TypeScript and better-sqlite3's native binding ----
FROM ${NODE_IMAGE} AS build
# better-sqlite3 builds from source when no prebuilt binary matches: it needs python3, make, g++.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies first, so source edits don't redo them. Lifecycle scripts are skipped here
# because `prepare` would build before the sources are copied; better-sqlite3's own install
# script is then run explicitly.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && node -e "new (require('better-sqlite3'))(':memory:').close()"

# ---- runtime ----
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
RUN groupadd --system --gid 10001 driftwatch \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin driftwatch \
 && mkdir -p /data \
 && chown 10001:10001 /data
WORKDIR /app
# The application stays owned by root: the process can read its code but never change it.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY manifest.yml ./manifest.yml
RUN ln -s /data /app/data
USER 10001:10001
VOLUME /data
# 9090: /healthz /readyz /metrics (server.port); 3000: Slack HTTP mode (slack.port).
EXPOSE 9090 3000
# Slim images have no curl: ask with Node's own fetch. Assumes the default server.port 9090.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/driftwatch.js"]
CMD ["run"]
