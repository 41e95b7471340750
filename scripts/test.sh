#!/usr/bin/env bash
# The whole test suite: build, unit tests, then integration tests against a
# real Kafka broker. Starts the local broker when none answers on
# KAFKA_BROKERS (default 127.0.0.1:9092) and stops it again at the end if it
# started it. Usage: scripts/test.sh [unit|integration] [node --test args...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh

which="${1:-all}"
[[ $# -gt 0 ]] && shift

[[ -d node_modules ]] || npm ci --no-audit --no-fund
npm run --silent build

status=0
if [[ "$which" == all || "$which" == unit ]]; then
  node --test --test-reporter=spec "$@" 'test/unit/**/*.test.ts' || status=1
fi

if [[ "$which" == all || "$which" == integration ]]; then
  started_broker=0
  export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
  if ! bash scripts/kafka-local.sh status >/dev/null 2>&1; then
    echo "test: starting a local Kafka broker" >&2
    KAFKA_BROKERS="$(bash scripts/kafka-local.sh start)"
    export KAFKA_BROKERS
    started_broker=1
  fi
  cleanup() { [[ $started_broker == 1 ]] && bash scripts/kafka-local.sh stop >&2 || true; }
  trap cleanup EXIT
  # One file at a time: several tests stop brokers or measure memory.
  node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec "$@" 'test/integration/**/*.test.ts' || status=1
fi
exit $status
