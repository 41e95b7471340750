#!/usr/bin/env bash
# The main job on a laptop or a fresh machine: installs what is missing
# (Node 24, npm packages, Kafka jars), starts a local Kafka, writes a sample
# log that keeps growing, runs the agent on it and shows what arrives in
# Kafka. Ctrl-C (or DEMO_SECONDS=N) stops the writer, drains the agent
# (SIGTERM: ship, wait for acks, checkpoint) and stops the broker it started.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh

[[ -d node_modules ]] || npm ci --no-audit --no-fund
npm run --silent build

work="${DEMO_DIR:-$root/.run/demo}"
rm -rf "$work"
mkdir -p "$work/logs"
topic="${DEMO_TOPIC:-web_log}"

started_broker=0
if bash scripts/kafka-local.sh status >/dev/null 2>&1; then
  brokers="$(bash scripts/kafka-local.sh bootstrap)"
else
  echo "demo: starting a local Kafka broker (first run downloads its jars)" >&2
  brokers="$(bash scripts/kafka-local.sh start)"
  started_broker=1
fi

writer_pid=""
agent_pid=""
consumer_pid=""
cleanup() {
  trap - INT TERM EXIT
  [[ -n "$writer_pid" ]] && kill "$writer_pid" 2>/dev/null || true
  [[ -n "$consumer_pid" ]] && kill "$consumer_pid" 2>/dev/null || true
  if [[ -n "$agent_pid" ]]; then
    echo "demo: stopping the agent (SIGTERM: drain, ack, checkpoint)" >&2
    kill -TERM "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null && echo "demo: agent exited cleanly" >&2 || echo "demo: agent exited with status $?" >&2
  fi
  echo "demo: checkpoint: $(cat "$work/checkpoints/checkpoints.json" 2>/dev/null || echo none)" >&2
  if [[ $started_broker == 1 ]]; then bash scripts/kafka-local.sh stop >&2 || true; fi
}
trap cleanup INT TERM EXIT

# A sample access log: 5 lines now, then one more every half second.
sample_line() { printf '127.0.0.1 - - [%s] "GET /item/%d HTTP/1.1" 200 %d\n' "$(date -u +%d/%b/%Y:%H:%M:%S)" "$1" $((RANDOM % 5000)); }
for i in 1 2 3 4 5; do sample_line "$i" >>"$work/logs/access.log"; done
(i=6; while true; do sample_line "$i" >>"$work/logs/access.log"; i=$((i + 1)); sleep 0.5; done) &
writer_pid=$!

KAFKA_BROKERS="$brokers" \
  LOGAGENT_TOPIC="$topic" \
  LOGAGENT_PATHS="$work/logs/*.log" \
  LOGAGENT_START_AT=beginning \
  LOGAGENT_CHECKPOINT_DIR="$work/checkpoints" \
  LOGAGENT_HTTP_HOST=127.0.0.1 \
  LOGAGENT_HTTP_PORT="${LOGAGENT_HTTP_PORT:-9464}" \
  dist/cli.js run 2>"$work/agent.log" &
agent_pid=$!
echo "demo: agent running (logs: $work/agent.log, metrics: http://127.0.0.1:${LOGAGENT_HTTP_PORT:-9464}/metrics)" >&2
echo "demo: lines arriving in Kafka topic '$topic' (partition offset key value); Ctrl-C to stop" >&2

dist/cli.js consume --brokers "$brokers" --topic "$topic" --from-beginning --timeout-ms "${DEMO_SECONDS:-86400}000" &
consumer_pid=$!
if [[ -n "${DEMO_SECONDS:-}" ]]; then
  sleep "$DEMO_SECONDS"
else
  wait "$consumer_pid" || true
fi
