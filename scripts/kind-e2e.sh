#!/usr/bin/env bash
# kind-e2e.sh: LogAgent's image and chart end to end in a kind cluster, for a
# user's CI (.github/workflows/kind.yml runs it) or a laptop with docker.
# kind cannot run on the project's own machines (its node image cannot be
# pulled there); their local twin is scripts/k8s-local.sh start --node, and
# every test file below runs there too:
#
#   1. a kind cluster (KIND_NODE_IMAGE picks its Kubernetes version, >= 1.29)
#      from test/kind/cluster.yaml: one node, port 30092 mapped to the host
#   2. the image from the Dockerfile and the example app's busybox, `kind
#      load`ed (pods use pullPolicy Never)
#   3. a one-broker Kafka (KRaft) from test/kind/kafka.yaml: kafka.kafka.svc:9092
#      in the cluster, 127.0.0.1:30092 from this machine
#   4. the chart tests against the cluster: test/integration/helm.test.ts and
#      helm-cluster.test.ts
#   5. the sidecar end to end: test/integration/k8s-sidecar.test.ts (pods on
#      the pod network; its Kafka-outage test needs a broker the pods reach
#      on the node's loopback and skips here, saying so)
#   6. `helm install` with the example workload as a user would
#      (test/kind/values.yaml)
#   7. the app's lines arrive in the topic; the pod is deleted, and every line
#      it wrote, up to its final one, is in the topic exactly once
#
# Needs docker, kind, kubectl, helm and Node.js 24 (`npm ci && npm run build` done) on PATH.
# Usage: scripts/kind-e2e.sh            (KIND_KEEP=1 keeps the cluster)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

CLUSTER="${KIND_CLUSTER:-logagent-e2e}"
NS=logagent-e2e
RELEASE=logagent
IMAGE=logagent:e2e
APP_IMAGE=busybox:1.37
TOPIC=app_log

log() { printf 'kind-e2e: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
for tool in docker kind kubectl helm node; do command -v "$tool" >/dev/null || die "$tool not found on PATH"; done

work="$(mktemp -d)"
export KUBECONFIG="$work/kubeconfig"
cleanup() {
  local rc=$?
  if ((rc != 0)); then
    log "failed; state of the cluster:"
    kubectl get pods -A -o wide >&2 || true
    kubectl -n "$NS" logs -l app.kubernetes.io/component=example --all-containers --tail=50 >&2 || true
  fi
  [[ "${KIND_KEEP:-0}" == 1 ]] || kind delete cluster --name "$CLUSTER" >&2 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

log "1. cluster $CLUSTER"
kind create cluster --name "$CLUSTER" --config test/kind/cluster.yaml ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} \
  --kubeconfig "$KUBECONFIG" --wait 180s

log "2. images $IMAGE and $APP_IMAGE"
docker build -t "$IMAGE" .
docker pull "$APP_IMAGE"
kind load docker-image "$IMAGE" "$APP_IMAGE" --name "$CLUSTER"

log "3. Kafka"
kubectl apply -f test/kind/kafka.yaml
kubectl -n kafka rollout status statefulset/kafka --timeout=300s

log "4. chart tests against the cluster"
LOGAGENT_TEST_HELM="$(command -v helm)" LOGAGENT_TEST_KUBECTL="$(command -v kubectl)" LOGAGENT_TEST_KUBECONFIG="$KUBECONFIG" \
  node --test --test-reporter=spec test/integration/helm.test.ts test/integration/helm-cluster.test.ts

log "5. the sidecar end to end (test/integration/k8s-sidecar.test.ts)"
LOGAGENT_TEST_HELM="$(command -v helm)" LOGAGENT_TEST_KUBECTL="$(command -v kubectl)" LOGAGENT_TEST_KUBECONFIG="$KUBECONFIG" \
  LOGAGENT_TEST_K8S_NODE=1 LOGAGENT_TEST_IMAGE="$IMAGE" LOGAGENT_TEST_APP_IMAGE="$APP_IMAGE" \
  LOGAGENT_TEST_POD_HOST_NETWORK=0 LOGAGENT_TEST_POD_BROKERS=kafka.kafka.svc:9092 KAFKA_BROKERS=127.0.0.1:30092 \
  node --test --test-reporter=spec test/integration/k8s-sidecar.test.ts

log "6. helm install with the example workload"
helm install "$RELEASE" helm/logagent --namespace "$NS" --create-namespace --values test/kind/values.yaml --wait --timeout 300s

# The topic as the broker has it: one line per message.
consume() {
  kubectl -n kafka exec kafka-0 -- /opt/kafka/bin/kafka-console-consumer.sh \
    --bootstrap-server localhost:9092 --topic "$TOPIC" --from-beginning --timeout-ms 10000 2>/dev/null || true
}
# seq numbers of one pod's lines, one per line, sorted (duplicates kept).
seqs_of() { grep " pod=$1 seq=" | sed -E 's/.* seq=([0-9]+).*/\1/' | sort -n; }

pod="$(kubectl -n "$NS" get pods -l app.kubernetes.io/component=example -o jsonpath='{.items[0].metadata.name}')"
log "7. lines of $pod in topic $TOPIC"
deadline=$((SECONDS + 120))
until (($(consume | seqs_of "$pod" | wc -l) >= 20)); do
  ((SECONDS < deadline)) || die "fewer than 20 lines of $pod in $TOPIC after 120 s"
  sleep 2
done

log "   deleting $pod: the app writes its final line, LogAgent ships it and exits"
kubectl -n "$NS" delete pod "$pod" --wait=true --timeout=120s
consume >"$work/topic.txt"
final="$(grep " pod=$pod seq=[0-9]* final" "$work/topic.txt" | sed -E 's/.* seq=([0-9]+).*/\1/' || true)"
[[ -n "$final" ]] || die "the final line of $pod is not in $TOPIC"
seqs_of "$pod" <"$work/topic.txt" >"$work/got.txt"
seq 1 "$final" >"$work/want.txt"
if ! diff -q "$work/want.txt" "$work/got.txt" >/dev/null; then
  log "lines of $pod: missing $(comm -23 <(sort "$work/want.txt") <(sort -u "$work/got.txt") | wc -l), repeated $(uniq -d "$work/got.txt" | wc -l)"
  die "the topic does not hold seq 1..$final of $pod exactly once"
fi
log "ok: $final lines of $pod in $TOPIC, each exactly once, the final one included"
