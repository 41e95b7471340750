# LogAgent container image. docs/image.md explains every choice below.
#
#   docker build -t logagent .
#   docker run --read-only -v /var/log/app:/logs:ro -v logagent-state:/var/lib/logagent \
#     -e KAFKA_BROKERS=kafka:9092 -e LOGAGENT_PATHS='/logs/*.log' -e LOGAGENT_TOPIC=web_log logagent
#
# - Base images are build arguments. The defaults are the official images
#   users pull: node:24-bookworm-slim to build, Google's distroless Node 24
#   (Debian 12, the same glibc as the build stage, no shell, no package
#   manager) to run. The tests pass stand-ins made offline
#   (scripts/image/standin-base.sh); any Node 24 image works as the runtime
#   (node:24-alpine, node:24-bookworm-slim): PATH below covers their layouts,
#   and the runtime stage runs no command, so it needs no shell.
# - The app is an esbuild bundle (scripts/bundle.ts): ~0.5 MB of JavaScript
#   plus kafkajs, snappyjs and lz4js as real packages (src/sink loads them
#   with createRequire and patches kafkajs's internals through require.cache),
#   instead of ~93 MB of production node_modules.
# - Runs as uid/gid 10001:10001 (numeric: no passwd entry needed). The log
#   volume must be readable by that uid: world-readable files, or group 10001
#   (Kubernetes: securityContext.fsGroup: 10001, or supplementalGroups).
# - Read-only root filesystem: the only writes go to the checkpoint volume
#   /var/lib/logagent. Nothing uses a temp directory (no TMPDIR needed).
# - node is PID 1 (exec-form ENTRYPOINT, no shell, no init): `run` handles
#   SIGTERM/SIGINT itself (stop reading, drain, checkpoint, exit 0) and
#   starts no child processes, so there are no zombies to reap. A PID 1
#   without a handler ignores SIGTERM; for the short-lived commands
#   (consume, check-config) use `docker run --init`.

ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# Dependencies first: this layer is reused until the lock file changes.
# --ignore-scripts: no package needs its install script for the bundle
# (esbuild finds its binary through its platform package).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY scripts/bundle.ts ./scripts/
COPY src ./src
# Bundles into /out/app and checks it (a createRequire'd package that is not
# shipped fails the build; `cli.js --help` and every chunk must load).
RUN node scripts/bundle.ts --outdir /out/app \
 && mkdir -p /out/state

FROM ${RUNTIME_IMAGE}
ARG RUNTIME_IMAGE
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="logagent" \
      org.opencontainers.image.description="Sidecar that tails log files and produces every line to Apache Kafka" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
# /nodejs/bin: distroless; /usr/local/bin: the official node images.
ENV PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin \
    NODE_ENV=production \
    LOGAGENT_CHECKPOINT_DIR=/var/lib/logagent \
    LOGAGENT_HTTP_HOST=0.0.0.0 \
    LOGAGENT_HTTP_PORT=9464
# App files belong to root: the agent cannot change its own code.
COPY --from=build /out/app /app
# The checkpoint directory belongs to the agent's uid; a new named volume
# mounted here inherits that ownership (a bind mount keeps the host's).
COPY --from=build --chown=10001:10001 /out/state /var/lib/logagent
WORKDIR /app
USER 10001:10001
EXPOSE 9464
VOLUME ["/var/lib/logagent"]
# The flags of the bin's shebang: --max-semi-space-size=1 is measured (lower
# peak RSS at the same CPU per line, src/cli.ts, docs/benchmarks.md); kafkajs's harmless
# TimeoutNegativeWarning stays out of the logs. --enable-source-maps: stack
# traces name src/ files and lines of the bundle.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--disable-warning=TimeoutNegativeWarning", "--enable-source-maps", "/app/cli.js"]
CMD ["run"]
