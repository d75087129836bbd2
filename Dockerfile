# syntax=docker/dockerfile:1
#
# One image for all six services; CO_SERVICE picks the one that runs.
#   docker build -t containerops .                        then: docker run -e CO_SERVICE=crew containerops
#   docker build --build-arg CO_SERVICE=crew -t co-crew .  (the choice baked in; what compose does)
ARG NODE_VERSION=20

# Every dependency, dev ones included: the build needs tsc and tsc-alias.
FROM node:${NODE_VERSION}-bookworm AS deps
WORKDIR /app
# better-sqlite3 compiles with node-gyp when no prebuilt binary can be fetched; the
# headers shipped in the image spare node-gyp a download from nodejs.org.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY libs ./libs
COPY services ./services
RUN npm run build

# Runtime dependencies only. This stage keeps the full bookworm image (python3, make,
# g++) so that better-sqlite3's native addon compiles against the same Node and glibc
# as the slim runtime below.
FROM node:${NODE_VERSION}-bookworm AS production-deps
WORKDIR /app
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# dockyard builds the official components' images from these Debian packages.
RUN apt-get update && apt-get install -y --no-install-recommends busybox-static git ca-certificates \
  && rm -rf /var/lib/apt/lists/*
COPY --from=production-deps /app/node_modules ./node_modules
COPY package.json ./
# The gRPC health service loads proto/grpc/health/v1/health.proto at start.
COPY proto ./proto
COPY --from=build /app/dist ./dist
# Application files stay root-owned (read-only to the service); only CO_DATA_DIR
# (./data by default) is writable.
RUN mkdir data && chown node:node data
USER node

# Declared last so that images for different services share every layer above.
ARG CO_SERVICE=
ENV CO_SERVICE=${CO_SERVICE}
# `exec` replaces the shell, so node is PID 1 and receives SIGTERM itself (the service
# drains requests and the bus before exiting).
CMD ["/bin/sh", "-c", "exec node -r ./dist/libs/telemetry/src/register.js \"dist/services/${CO_SERVICE:?must name the service to run: pilotage, crew, dockyard, nucleus, logarithm or assembling}/src/main.js\""]
