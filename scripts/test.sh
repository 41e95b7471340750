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
  # Local Kubernetes (scripts/k8s-local.sh, API server + node) when its
  # binaries are built or LOGAGENT_TEST_K8S=1 (which builds them); =0 never.
  # The k8s tests read LOGAGENT_TEST_KUBECONFIG & co. and skip without them.
  started_k8s=0
  # shellcheck disable=SC2317 # run by the EXIT trap
  cleanup() {
    if [[ $started_broker == 1 ]]; then bash scripts/kafka-local.sh stop >&2 || true; fi
    if [[ $started_k8s == 1 ]]; then bash scripts/k8s-local.sh stop >&2 || true; fi
  }
  trap cleanup EXIT
  if [[ -n "${LOGAGENT_TEST_KUBECONFIG:-}" ]]; then
    echo "test: using the Kubernetes of LOGAGENT_TEST_KUBECONFIG=$LOGAGENT_TEST_KUBECONFIG" >&2
  elif [[ "${LOGAGENT_TEST_K8S:-}" == 0 ]]; then
    echo "test: LOGAGENT_TEST_K8S=0: Kubernetes tests will be skipped" >&2
  elif [[ "${LOGAGENT_TEST_K8S:-}" == 1 ]] || { bash scripts/k8s-build.sh check apiserver && bash scripts/k8s-build.sh check node; } >/dev/null 2>&1; then
    k8s_was_up=0
    bash scripts/k8s-local.sh status 2>/dev/null | grep -q 'node=1$' && k8s_was_up=1
    [[ $k8s_was_up == 1 ]] || started_k8s=1
    echo "test: starting the local Kubernetes (API server + node)" >&2
    if bash scripts/k8s-local.sh start --node >/dev/null; then
      eval "$(bash scripts/k8s-local.sh env | grep '^export LOGAGENT_TEST_')"
    else
      echo "test: the local Kubernetes did not start: Kubernetes tests will be skipped" >&2
      status=1
    fi
  else
    echo "test: Kubernetes binaries not built (bash scripts/k8s-build.sh all): Kubernetes tests will be skipped" >&2
  fi
  # Docker engine for the image tests (scripts/docker-local.sh: a private
  # dockerd on a socket of its own) when dockerd is installed, or installed
  # first with LOGAGENT_TEST_DOCKER=1; =0 never. A DOCKER_HOST already set is
  # used as it is. The image tests read DOCKER_HOST and skip without it. An
  # engine started here is stopped at exit, after what cleanup stops.
  if [[ -n "${DOCKER_HOST:-}" ]]; then
    echo "test: using the Docker engine of DOCKER_HOST=$DOCKER_HOST" >&2
  elif [[ "${LOGAGENT_TEST_DOCKER:-}" == 0 ]]; then
    echo "test: LOGAGENT_TEST_DOCKER=0: image tests will be skipped" >&2
  elif [[ "${LOGAGENT_TEST_DOCKER:-}" == 1 ]] || command -v dockerd >/dev/null 2>&1; then
    docker_was_up=0
    bash scripts/docker-local.sh status >/dev/null 2>&1 && docker_was_up=1
    echo "test: starting the local Docker engine" >&2
    if docker_host="$(bash scripts/docker-local.sh start | tail -n1)" && [[ "$docker_host" == DOCKER_HOST=* ]]; then
      export "${docker_host?}"
      [[ $docker_was_up == 1 ]] || trap 'cleanup; bash scripts/docker-local.sh stop >&2 || true' EXIT
      bash scripts/image/standin-base.sh >/dev/null || status=1
    else
      echo "test: dockerd did not start (see .run/docker/dockerd.log): image tests will be skipped" >&2
    fi
  else
    echo "test: dockerd is not installed (LOGAGENT_TEST_DOCKER=1 installs docker.io): image tests will be skipped" >&2
  fi
  # helm for the chart tests (test/integration/helm*.test.ts) whenever it is
  # built, even without the Kubernetes binaries; they skip without it.
  if [[ -z "${LOGAGENT_TEST_HELM:-}" ]] && helm_dir="$(bash scripts/k8s-build.sh check helm 2>/dev/null | tail -n1)"; then
    export LOGAGENT_TEST_HELM="$helm_dir/helm"
  fi
  # One file at a time: several tests stop brokers or measure memory.
  node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec "$@" 'test/integration/**/*.test.ts' || status=1
fi
exit $status
