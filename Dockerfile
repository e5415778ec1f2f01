# storycast: the gRPC server of `npm start` (TypeScript run by tsx, no build step).
#   docker build -t storycast .
#   docker run -p 50051:50051 storycast
# Several replicas on one redis: deploy/compose.yaml, deploy/kubernetes/storycast.yaml.

FROM node:20-bookworm-slim AS deps
# better-sqlite3 and sqlite3 download a prebuilt binary when one matches; these
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
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY strategies ./strategies
COPY src ./src
# The default store is sqlite://./data/storycast.sqlite: mount a volume here to keep it,
# or set STORYCAST_STORE=redis://... (required for several replicas).
RUN mkdir data && chown node:node data
USER node
EXPOSE 50051
# `npm start` without npm and tsx's supervising process in between: SIGTERM from
# `docker stop` or the kubelet reaches the server itself, which drains on it.
CMD ["node", "--import", "tsx", "src/main.ts"]
