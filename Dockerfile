# LogAgent container image: Node.js 24 LTS, production dependencies only,
# runs as the unprivileged `node` user. Checkpoints live in
# /var/lib/logagent: mount a volume there (the Helm chart does) so that a
# restarted container resumes where it stopped.
#
#   docker build -t logagent .
#   docker run -v /var/log/app:/logs:ro -v logagent-state:/var/lib/logagent \
#     -e KAFKA_BROKERS=kafka:9092 -e LOGAGENT_PATHS='/logs/*.log' -e LOGAGENT_TOPIC=web_log logagent

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    LOGAGENT_CHECKPOINT_DIR=/var/lib/logagent \
    LOGAGENT_HTTP_HOST=0.0.0.0 \
    LOGAGENT_HTTP_PORT=9464
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
RUN mkdir -p /var/lib/logagent && chown node:node /var/lib/logagent
USER node
EXPOSE 9464
VOLUME ["/var/lib/logagent"]
# exec form: node is PID 1 and gets SIGTERM itself (no shell in between);
# the agent handles it, so it drains and checkpoints before the container stops.
# --max-semi-space-size=8: the same V8 setting as the bin's shebang (see src/cli.ts).
ENTRYPOINT ["node", "--max-semi-space-size=8", "/app/dist/cli.js"]
CMD ["run"]
