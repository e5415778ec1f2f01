# storycast: the gRPC server of `npm start` (TypeScript run by tsx, no build step).
#   docker build -t storycast .
#   docker run -p 50051:50051 storycast
# Several replicas on one redis: deploy/compose.yaml, deploy/kubernetes/storycast.yaml.

# The image's health check: grpc-health-probe, built static (same version as `npm run setup` installs).
FROM golang:1.26-bookworm AS probe
RUN CGO_ENABLED=0 GOBIN=/out go install github.com/grpc-ecosystem/grpc-health-probe@v0.4.62

FROM node:20-bookworm-slim AS deps
# better-sqlite3 downloads a prebuilt binary when one matches; these
# compile it when none does (another architecture, no network to GitHub).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# tsx is a runtime dependency; the dev ones (buf, biome, vitest...) stay out of the image.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
# A container is reached from outside itself: listen on every interface, not the default 127.0.0.1.
ENV NODE_ENV=production \
    STORYCAST_HOST=0.0.0.0 \
    STORYCAST_PORT=50051
COPY --from=probe /out/grpc-health-probe /usr/local/bin/grpc-health-probe
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY strategies ./strategies
COPY src ./src
# The default store is sqlite://./data/storycast.sqlite: mount a volume here to keep it,
# or set STORYCAST_STORE=redis://... (required for several replicas).
RUN mkdir data && chown node:node data
USER node
EXPOSE 50051
# SERVING once the server listens; NOT_SERVING (unhealthy) while it drains. Shell form, so a changed STORYCAST_PORT is followed.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD grpc-health-probe -addr=127.0.0.1:${STORYCAST_PORT} -connect-timeout=3s -rpc-timeout=3s
# The production command (`npm start` runs the same, through exec): node is the first
# process, so SIGTERM from `docker stop` or the kubelet reaches the server itself, which
# drains on it. No tsx supervisor in between (it would take the signal and orphan the server).
CMD ["node", "--import", "tsx", "src/main.ts"]
