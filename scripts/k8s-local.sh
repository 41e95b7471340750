#!/usr/bin/env bash
# k8s-local.sh: a real Kubernetes control plane (etcd + kube-apiserver) for
# tests, optionally with a real single node (controller manager, scheduler,
# kubelet, containerd) that runs pods; no kind, no docker, nothing pulled.
# The binaries come from scripts/k8s-build.sh (pinned, cached outside the
# repo); containerd, runc and the CNI plugins from Debian's packages.
#
# What it owns:
#   .run/k8s/ (or $K8S_LOCAL_DIR)   everything a cluster writes: pki, tokens,
#                        kubeconfigs, etcd data, containerd root/state/socket,
#                        the kubelet's root dir, logs; wiped on every start
#   the processes whose pids are in its pids/ dir, the containers of its
#   containerd, the mounts under the run dir, the CNI bridge $BRIDGE (with
#   --node) and the "kubepods" cgroups; nothing else.
#
# Usage: scripts/k8s-local.sh COMMAND
#   start [--node]       fresh cluster: etcd + kube-apiserver (~4 s); with
#                        --node also containerd, kube-controller-manager,
#                        kube-scheduler and a kubelet registering node
#                        "localhost" (Ready in ~10 s). No-op when already
#                        running in that shape. Builds missing binaries first
#                        (cold: ~20 min). Last stdout line: the admin
#                        kubeconfig path (.run/k8s/kubeconfig)
#   stop                 SIGTERM, wait, SIGKILL; with a node also kills pod
#                        processes, unmounts, deletes the CNI bridge
#   status               one line per process; exit 0 if all run, else 3
#   kubeconfig           print the admin kubeconfig path
#   env                  print `export` lines for a shell or a test runner:
#                        KUBECONFIG, LOGAGENT_TEST_KUBECONFIG,
#                        LOGAGENT_TEST_K8S_DIR, LOGAGENT_TEST_KUBECTL, ...
#   restart-apiserver    stop kube-apiserver and start it again on the same
#                        etcd data (tests of clients that must survive it)
#   import-image TAR...  load `docker save`/OCI tarballs into the node's
#                        containerd (pods then use imagePullPolicy: Never)
#   kubectl ARGS...      the cached kubectl with the admin kubeconfig
#
# Identities (static tokens; see docs/k8s-local.md):
#   admin       group system:masters   .run/k8s/kubeconfig, admin.token
#   restricted  no group but system:authenticated, so forbidden until RBAC
#               grants something: .run/k8s/kubeconfig-restricted, restricted.token
# Pods reach the host's loopback services only with hostNetwork: true (pod IPs
# live on the bridge, there is no kube-proxy, and services have no endpoints).
# Progress goes to stderr; only paths, status and env lines go to stdout.
#
# Environment:
#   K8S_LOCAL_DIR            run dir (.run/k8s)
#   K8S_LOCAL_PORT           kube-apiserver port (6443)
#   K8S_LOCAL_ETCD_PORT      etcd client port (2379); peer port +1
#   K8S_LOCAL_KUBELET_PORT   kubelet port (10250)
#   K8S_LOCAL_TIMEOUT        seconds to wait for readiness (90)
#   K8S_LOCAL_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL (15)
#   K8S_LOCAL_POD_SUBNET     pod addresses on the bridge (10.244.0.0/24)
#   K8S_LOCAL_NO_BUILD=1     fail instead of building missing binaries
#   LOGAGENT_CACHE_DIR       cache root of the binaries (~/.cache/logagent)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${K8S_LOCAL_DIR:-$ROOT/.run/k8s}"
case "$RUN_DIR" in /*) ;; *) RUN_DIR="$PWD/$RUN_DIR" ;; esac
RUN_DIR="${RUN_DIR%/}"
STATE="$RUN_DIR/cluster.env"
PKI="$RUN_DIR/pki"
PIDS="$RUN_DIR/pids"
LOGS="$RUN_DIR/logs"
CTR_DIR="$RUN_DIR/containerd"
SOCK="$CTR_DIR/containerd.sock"
TIMEOUT="${K8S_LOCAL_TIMEOUT:-90}"
STOP_TIMEOUT="${K8S_LOCAL_STOP_TIMEOUT:-15}"
CNI_BIN_DIR="${K8S_LOCAL_CNI_BIN_DIR:-/usr/lib/cni}"
# One bridge and one network name per machine: a second node on the same
# machine is refused (see guard_single_node), since the kubepods cgroups are
# machine-wide too.
BRIDGE="k8slocal0"
CNI_NET="logagent-k8s"
SERVICE_CIDR="10.96.0.0/16"
SERVICE_IP="10.96.0.1"
NODE_NAME="localhost"
# Debian's packages: containerd 1.6, runc 1.1, CNI plugins 1.1.
NODE_PACKAGES="containerd runc containernetworking-plugins"

# Recorded shape of the cluster (written by `start`, read by everything else).
BIN=""
NODE=0
API_PORT=""
ETCD_PORT=""
ETCD_PEER_PORT=""
KUBELET_PORT=""
POD_SUBNET=""
IP_FORWARD_BEFORE=""

log() { printf 'k8s-local: %s\n' "$*" >&2; }
# Set while start is bringing processes up: die() then stops them again, so a
# failed start leaves nothing running (its logs stay in the run dir).
CLEANUP_ON_DIE=0
die() {
  log "error: $*"
  if ((CLEANUP_ON_DIE)); then
    CLEANUP_ON_DIE=0
    log "stopping what this start launched (logs stay in $LOGS)"
    stop_everything || true
  fi
  exit 1
}

# ---------------------------------------------------------------- state
load_state() {
  [[ -f "$STATE" ]] || return 1
  # shellcheck disable=SC1090
  source "$STATE"
  [[ -n "$BIN" && -n "$API_PORT" ]]
}

save_state() {
  {
    printf 'BIN=%q\nNODE=%q\nAPI_PORT=%q\nETCD_PORT=%q\nETCD_PEER_PORT=%q\n' \
      "$BIN" "$NODE" "$API_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT"
    printf 'KUBELET_PORT=%q\nPOD_SUBNET=%q\nIP_FORWARD_BEFORE=%q\n' \
      "$KUBELET_PORT" "$POD_SUBNET" "$IP_FORWARD_BEFORE"
  } >"$STATE"
}

lock_run_dir() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock 9
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- processes
# Start order; stop goes backwards.
ALL_PROCS="etcd kube-apiserver containerd kube-controller-manager kube-scheduler kubelet"

# The pid of process NAME if it is alive and really is ours: its command line
# names its binary and this run dir (guards against recycled pids and against
# another cluster's processes).
proc_pid() {
  local f="$PIDS/$1.pid" pid cmd
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmd="$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)"
  [[ "$cmd" == *"$1"*"$RUN_DIR/"* ]] || return 1
  echo "$pid"
}
proc_alive() { proc_pid "$1" >/dev/null; }

# launch NAME CMD...: run CMD in its own session (so it outlives the caller's
# process group and its Ctrl-C) with stdio detached (so a caller reading our
# stdout is not held open), output appended to logs/NAME.log, and fd 9 (the
# run-dir lock) closed so the process does not hold the lock.
launch() {
  local name="$1" t=0
  shift
  rm -f "$PIDS/$name.pid"
  echo "---- $(date -u +%FT%TZ) starting $name" >>"$LOGS/$name.log"
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDS/$name.pid" "$@" \
    </dev/null >>"$LOGS/$name.log" 2>&1 9>&- &
  while [[ ! -s "$PIDS/$name.pid" ]] && ((t < 50)); do
    sleep 0.05
    t=$((t + 1))
  done
  [[ -s "$PIDS/$name.pid" ]] || die "$name did not start (no pid file)"
}

dump_log() {
  log "---- tail of $LOGS/$1.log"
  tail -n 30 "$LOGS/$1.log" >&2 2>/dev/null || true
}

# Fail fast when a process that should be up has exited.
expect_alive() {
  local p
  for p in "$@"; do
    if ! proc_alive "$p"; then
      dump_log "$p"
      die "$p exited during start-up (log: $LOGS/$p.log)"
    fi
  done
}

# SIGTERM the given processes, wait up to STOP_TIMEOUT, SIGKILL what is left.
stop_procs() {
  local p pid names=() pids=() deadline i
  for p in "$@"; do
    if pid="$(proc_pid "$p")"; then
      log "stopping $p (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      names+=("$p")
      pids+=("$pid")
    fi
  done
  deadline=$((SECONDS + STOP_TIMEOUT))
  for i in "${!names[@]}"; do
    while proc_alive "${names[$i]}" && ((SECONDS < deadline)); do sleep 0.1; done
    if proc_alive "${names[$i]}"; then
      log "${names[$i]} still running after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
      while [[ -e "/proc/${pids[$i]}" ]] && proc_alive "${names[$i]}"; do sleep 0.05; done
    fi
  done
  for p in "$@"; do rm -f "$PIDS/$p.pid"; done
}

# ---------------------------------------------------------------- binaries
ensure_bins() {
  local targets=(apiserver) t
  ((NODE)) && targets+=(node)
  for t in "${targets[@]}"; do
    if ! BIN="$(bash "$ROOT/scripts/k8s-build.sh" check "$t" 2>/dev/null)"; then
      [[ "${K8S_LOCAL_NO_BUILD:-0}" == 1 ]] && die "the $t binaries are not built (run: bash scripts/k8s-build.sh $t)"
      log "building the $t binaries first (cold: several minutes; log on stderr)"
      BIN="$(bash "$ROOT/scripts/k8s-build.sh" build "$t" | tail -n1)" || die "scripts/k8s-build.sh $t failed"
    fi
  done
}

need_node_tools() {
  local missing=() b
  for b in containerd containerd-shim-runc-v2 runc ctr; do command -v "$b" >/dev/null 2>&1 || missing+=("$b"); done
  [[ -x "$CNI_BIN_DIR/bridge" && -x "$CNI_BIN_DIR/host-local" && -x "$CNI_BIN_DIR/loopback" ]] || missing+=("CNI plugins in $CNI_BIN_DIR")
  ((${#missing[@]} == 0)) && return 0
  if [[ $EUID == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's $NODE_PACKAGES (missing: ${missing[*]})"
    # shellcheck disable=SC2086
    (apt-get install -y -qq $NODE_PACKAGES >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $NODE_PACKAGES >/dev/null; }) >&2 ||
      die "apt-get install $NODE_PACKAGES failed"
    return 0
  fi
  die "--node needs ${missing[*]} (apt-get install $NODE_PACKAGES)"
}

# ---------------------------------------------------------------- pki
# EC P-256 everywhere: key generation is instant, unlike RSA, and every
# component here accepts it (the service-account key signs ES256 tokens).
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# sign NAME SUBJECT EXTENSIONS: a leaf key+cert signed by the local CA.
sign() {
  local name="$1" subj="$2" ext="$3"
  new_key "$PKI/$name.key"
  printf '%b\n' "$ext" >"$PKI/$name.ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" 2>/dev/null |
    openssl x509 -req -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
      -days 365 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null ||
    die "openssl could not sign $name"
  rm -f "$PKI/$name.ext"
}

client_ext() { printf '%s' 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'; }

make_pki() {
  mkdir -p "$PKI"
  new_key "$PKI/ca.key"
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=logagent-local-ca" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/ca.crt" 2>/dev/null || die "openssl could not make the CA"
  sign apiserver "/CN=kube-apiserver" \
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  new_key "$PKI/sa.key"
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  if ((NODE)); then
    sign kube-controller-manager "/CN=system:kube-controller-manager" "$(client_ext)"
    sign kube-scheduler "/CN=system:kube-scheduler" "$(client_ext)"
    sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "$(client_ext)"
    # The API server's identity towards the kubelet (logs, exec, port-forward);
    # bound to system:kubelet-api-admin after start (bootstrap_rbac).
    sign apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client" "$(client_ext)"
    # The kubelet's serving cert, signed by the same CA, so the API server
    # verifies the kubelet (--kubelet-certificate-authority) instead of
    # trusting it blindly.
    sign kubelet-serving "/CN=$NODE_NAME" \
      "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:$NODE_NAME,IP:127.0.0.1"
  fi
  chmod 600 "$PKI"/*.key
}

make_tokens() {
  local admin restricted
  admin="$(openssl rand -hex 24)"
  restricted="$(openssl rand -hex 24)"
  printf '%s\n' "$admin" >"$RUN_DIR/admin.token"
  printf '%s\n' "$restricted" >"$RUN_DIR/restricted.token"
  # token,user,uid,"groups": admin is a cluster admin through system:masters;
  # restricted has no group, so only what RBAC grants it (tests grant per test).
  printf '%s,admin,logagent-admin,"system:masters"\n%s,restricted,logagent-restricted\n' \
    "$admin" "$restricted" >"$PKI/tokens.csv"
  chmod 600 "$PKI/tokens.csv" "$RUN_DIR/admin.token" "$RUN_DIR/restricted.token"
}

b64() { base64 -w0 <"$1"; }

# write_kubeconfig FILE USER token TOKEN | FILE USER cert NAME (pki/NAME.crt/.key)
# Certificates are embedded, so a kubeconfig can be copied elsewhere.
write_kubeconfig() {
  local file="$1" user="$2" kind="$3" val="$4" cred
  if [[ "$kind" == token ]]; then
    cred="    token: $val"
  else
    cred="    client-certificate-data: $(b64 "$PKI/$val.crt")
    client-key-data: $(b64 "$PKI/$val.key")"
  fi
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: logagent-local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $user
  user:
$cred
contexts:
- name: $user@logagent-local
  context:
    cluster: logagent-local
    user: $user
    namespace: default
current-context: $user@logagent-local
EOF
  chmod 600 "$file"
}

# ---------------------------------------------------------------- control plane
start_etcd() {
  launch etcd "$BIN/etcd" --name local --data-dir "$RUN_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "local=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
    --unsafe-no-fsync --log-level warn
  # ^ no fsync: test data that is wiped on every start needs no durability,
  # and fsync latency on a busy 2-core machine slows every API write.
}

start_apiserver() {
  local admission=(--enable-admission-plugins=NodeRestriction)
  # Without a controller manager nothing creates the "default" service
  # account, and the ServiceAccount plugin would reject every pod.
  ((NODE)) || admission+=(--disable-admission-plugins=ServiceAccount)
  local kubelet_flags=()
  if ((NODE)); then
    # Hostname first: the node's InternalIP is the machine's eth0 address
    # (the kubelet refuses loopback), but the kubelet listens on 127.0.0.1
    # only, and "localhost" resolves there; its cert names both.
    # shellcheck disable=SC2054 # the comma is part of a flag value
    kubelet_flags=(--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt"
      --kubelet-client-key="$PKI/apiserver-kubelet-client.key"
      --kubelet-certificate-authority="$PKI/ca.crt"
      --kubelet-preferred-address-types=Hostname,InternalIP)
  fi
  launch kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
    --authorization-mode=Node,RBAC --anonymous-auth=false \
    "${admission[@]}" "${kubelet_flags[@]}" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
    --endpoint-reconciler-type=none \
    --cert-dir="$PKI/apiserver-generated" --profiling=false --v=1
  # ^ endpoint-reconciler none: the "kubernetes" service would point at
  # 127.0.0.1, which endpoints may not hold, and nothing routes service IPs
  # here anyway (no kube-proxy).
}

# /readyz through the admin token; true once it answers "ok".
api_ready() {
  [[ "$(curl -s --max-time 2 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $(cat "$RUN_DIR/admin.token")" \
    "https://127.0.0.1:$API_PORT/readyz" 2>/dev/null)" == ok ]]
}

wait_api() {
  local deadline=$((SECONDS + TIMEOUT))
  until api_ready; do
    expect_alive etcd kube-apiserver
    if ((SECONDS >= deadline)); then
      dump_log etcd
      dump_log kube-apiserver
      die "kube-apiserver not ready within ${TIMEOUT}s"
    fi
    sleep 0.1
  done
}

kctl() { "$BIN/kubectl" --kubeconfig "$RUN_DIR/kubeconfig" "$@"; }

# ---------------------------------------------------------------- node
write_containerd_config() {
  mkdir -p "$CTR_DIR/root" "$CTR_DIR/state" "$RUN_DIR/cni/net.d" "$RUN_DIR/cni/ipam"
  cat >"$CTR_DIR/config.toml" <<EOF
# Generated by scripts/k8s-local.sh; rewritten on every start. A private
# containerd: own root, state and socket, never the system's /run/containerd.
version = 2
root = "$CTR_DIR/root"
state = "$CTR_DIR/state"
# Plugins that would touch host paths or are useless here.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$SOCK"

[plugins."io.containerd.grpc.v1.cri"]
  # Our own pause image, imported by start (nothing can be pulled).
  sandbox_image = "localhost/logagent/pause:1"
  # Root here may not lower its oom_score_adj; without this every sandbox
  # fails with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  # Pod network namespaces under our state dir, not /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # The kubelet uses cgroupfs too (there is no systemd here).
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$RUN_DIR/cni/net.d"
    max_conf_num = 1
EOF
  # bridge + host-local; containerd itself runs the "loopback" plugin from
  # bin_dir for every pod's lo. No ipMasq: nothing outside is reachable
  # anyway, so no NAT rules are added to the host.
  cat >"$RUN_DIR/cni/net.d/10-$CNI_NET.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NET",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$RUN_DIR/cni/ipam",
        "ranges": [[{ "subnet": "$POD_SUBNET" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    }
  ]
}
EOF
}

ctr_() { ctr --address "$SOCK" --namespace k8s.io "$@"; }

wait_containerd() {
  local deadline=$((SECONDS + TIMEOUT))
  until ctr_ version >/dev/null 2>&1; do
    expect_alive containerd
    ((SECONDS < deadline)) || {
      dump_log containerd
      die "containerd did not answer on $SOCK within ${TIMEOUT}s"
    }
    sleep 0.1
  done
}

import_tarballs() {
  local f
  for f in "$@"; do
    [[ -f "$f" ]] || die "no such image tarball: $f"
    log "importing $f"
    ctr_ images import "$f" >&2 || die "ctr images import $f failed"
  done
}

write_kubelet_config() {
  mkdir -p "$RUN_DIR/kubelet/root" "$RUN_DIR/kubelet/pki" "$RUN_DIR/kubelet/volume-plugins" "$LOGS/pods"
  cat >"$RUN_DIR/kubelet/config.yaml" <<EOF
# Generated by scripts/k8s-local.sh; rewritten on every start.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzPort: 0
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $PKI/ca.crt
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$SOCK
imageServiceEndpoint: unix://$SOCK
# cgroup v1 and no systemd on these machines; no swap check either.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
# ConfigMap/Secret volume updates show up in 1-2 s instead of ~1 min.
syncFrequency: 1s
nodeStatusUpdateFrequency: 4s
podLogsDir: $LOGS/pods
volumePluginDir: $RUN_DIR/kubelet/volume-plugins
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
# Leave the host's iptables alone (nothing here needs the kubelet's chains).
makeIPTablesUtilChains: false
# The shared test machine's disk and memory are not this node's to defend:
# only evict at the very end, and never garbage-collect the imported images
# (they cannot be pulled back).
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 50
EOF
}

start_node_daemons() {
  launch kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$RUN_DIR/kube-controller-manager.kubeconfig" \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --controllers='*,-service-lb-controller,-node-route-controller,-cloud-node-lifecycle-controller,-node-ipam-controller' \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --leader-elect=false --secure-port=0 --v=1
  # ^ secure-port 0: no health endpoint needed, and no port to collide with a
  # second cluster's.
  launch kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig="$RUN_DIR/kube-scheduler.kubeconfig" \
    --leader-elect=false --secure-port=0 --v=1
  launch kubelet "$BIN/kubelet" \
    --config="$RUN_DIR/kubelet/config.yaml" \
    --kubeconfig="$RUN_DIR/kubelet.kubeconfig" \
    --root-dir="$RUN_DIR/kubelet/root" --cert-dir="$RUN_DIR/kubelet/pki" \
    --hostname-override="$NODE_NAME" --v=1
}

# The API server's kubelet client may use the kubelet API (logs, exec).
bootstrap_rbac() {
  kctl apply -f - >/dev/null <<EOF || die "could not create the bootstrap RBAC"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: logagent-local:kube-apiserver-kubelet-client
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:kubelet-api-admin
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: kube-apiserver-kubelet-client
EOF
}

node_ready() {
  [[ "$(kctl get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

# Node Ready, then the "default" service account (pods are refused without it;
# the controller manager creates it once all its informers have synced, a few
# seconds after the node is Ready). $1: start time, for the progress line.
wait_node() {
  local deadline=$((SECONDS + TIMEOUT)) ready=0
  until ((ready)) && kctl -n default get serviceaccount default >/dev/null 2>&1; do
    expect_alive etcd kube-apiserver containerd kube-controller-manager kube-scheduler kubelet
    if ((!ready)) && node_ready; then
      ready=1
      log "node $NODE_NAME Ready in $(elapsed "$1")s"
      continue
    fi
    if ((SECONDS >= deadline)); then
      dump_log kubelet
      dump_log containerd
      dump_log kube-controller-manager
      die "node $NODE_NAME not Ready (or no default service account) within ${TIMEOUT}s"
    fi
    sleep 0.2
  done
}

# A second node on this machine would share the bridge and the kubepods
# cgroups with ours: refuse it.
other_kubelet() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd="$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null || true)"
    [[ "$cmd" == */kubelet\ * && "$cmd" == *--root-dir=* && "$cmd" != *"--root-dir=$RUN_DIR/"* ]] || continue
    echo "pid ${p#/proc/}: $cmd"
    return 0
  done
  return 1
}

guard_single_node() {
  local other
  if other="$(other_kubelet)"; then die "another kubelet runs on this machine ($other); stop that node first"; fi
}

# ---------------------------------------------------------------- node cleanup
# Everything a node leaves on the host, removed in dependency order. Safe to
# run when nothing is left; every step tolerates "already gone".
kill_containers() {
  local ids id t=0
  if proc_alive containerd; then
    # SIGKILL every task's processes, then delete the tasks (which unmounts
    # their rootfs and ends their shims).
    ids="$(ctr_ tasks ls -q 2>/dev/null || true)"
    if [[ -n "$ids" ]]; then
      log "killing $(wc -w <<<"$ids") container task(s)"
      for id in $ids; do ctr_ tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true; done
      for id in $ids; do
        while ((t < 50)) && ctr_ tasks ls 2>/dev/null | grep -q "^$id .*RUNNING"; do
          sleep 0.1
          t=$((t + 1))
        done
        ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true
      done
    fi
  fi
}

# Shims of our containerd that outlived it (a shim is made to survive its
# daemon), found by the socket address on their command line.
kill_shims() {
  local p cmd pids=()
  for p in /proc/[0-9]*; do
    cmd="$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null || true)"
    [[ "$cmd" == containerd-shim* && "$cmd" == *" $SOCK"* ]] && pids+=("${p#/proc/}")
  done
  ((${#pids[@]})) || return 0
  log "killing ${#pids[@]} leftover containerd shim(s): ${pids[*]}"
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

# Pod processes still alive in the kubepods cgroups (e.g. after a shim was
# killed), then the now empty cgroups. rmdir refuses a cgroup that still has
# processes, so this can never remove anything in use.
clean_cgroups() {
  local roots=() r f pid killed=0
  for r in /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods; do [[ -d "$r" ]] && roots+=("$r"); done
  ((${#roots[@]})) || return 0
  while IFS= read -r f; do
    while read -r pid; do
      [[ -n "$pid" ]] || continue
      kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
    done <"$f"
  done < <(find "${roots[@]}" -name cgroup.procs 2>/dev/null)
  ((killed == 0)) || {
    log "killed $killed leftover pod process(es)"
    sleep 0.3
  }
  find "${roots[@]}" -depth -type d -exec rmdir {} \; 2>/dev/null || true
}

# Mount points under the run dir, innermost (latest) first.
run_dir_mounts() {
  awk -v d="$RUN_DIR" '{ m = $5; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print m }' \
    /proc/self/mountinfo | tac
}

unmount_all() {
  local m round left
  for round in 1 2 3; do
    left="$(run_dir_mounts)"
    [[ -n "$left" ]] || return 0
    ((round > 1)) || log "unmounting $(wc -l <<<"$left") mount(s) under $RUN_DIR"
    while IFS= read -r m; do
      if ((round < 3)); then umount "$m" 2>/dev/null || true; else umount -l "$m" 2>/dev/null || true; fi
    done <<<"$left"
  done
  left="$(run_dir_mounts)"
  [[ -z "$left" ]] || log "warning: still mounted: $left"
}

clean_network() {
  local t rule chain chains
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    log "deleting bridge $BRIDGE"
    ip link delete "$BRIDGE" 2>/dev/null || true
  fi
  # CNI chains that carry our network's name (the bridge plugin only adds
  # them with ipMasq, which this conflist leaves off, but an older config or
  # a plugin chain may have).
  if command -v iptables >/dev/null 2>&1; then
    for t in nat filter; do
      chains=""
      while IFS= read -r rule; do
        chain="$(sed -n 's/.* -j \(CNI-[^ ]*\).*/\1/p' <<<"$rule")"
        # shellcheck disable=SC2086
        iptables -t "$t" ${rule/-A /-D } 2>/dev/null || true
        [[ -n "$chain" ]] && chains+=" $chain"
      done < <(iptables -t "$t" -S 2>/dev/null | grep -F "name: \\\"$CNI_NET\\\"" || true)
      for chain in $chains; do
        iptables -t "$t" -F "$chain" 2>/dev/null || true
        iptables -t "$t" -X "$chain" 2>/dev/null || true
      done
    done
  fi
  # libcni's result cache (not configurable through containerd 1.6): one
  # file per sandbox and network, left behind when a sandbox was killed
  # rather than torn down by the kubelet. Our sandboxes are the ones our
  # containerd's state dir knows.
  rm -f /var/lib/cni/results/"$CNI_NET"-* 2>/dev/null || true
  local sb
  for sb in "$CTR_DIR"/state/io.containerd.grpc.v1.cri/sandboxes/*/; do
    [[ -d "$sb" ]] || continue
    sb="$(basename "$sb")"
    rm -f /var/lib/cni/results/cni-loopback-"$sb"-* 2>/dev/null || true
  done
  # The bridge plugin turned on forwarding for its gateway; put it back.
  if [[ "$IP_FORWARD_BEFORE" == 0 && "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)" == 1 ]]; then
    echo 0 >/proc/sys/net/ipv4/ip_forward 2>/dev/null || true
  fi
}

stop_everything() {
  # Whatever shape is recorded, everything that has a pid file goes.
  load_state || true
  stop_procs kubelet kube-scheduler kube-controller-manager
  kill_containers
  stop_procs containerd
  kill_shims
  if [[ -d "$CTR_DIR" || -d "$RUN_DIR/kubelet" ]]; then
    # The kubepods cgroups and the bridge are machine-wide: leave them to a
    # node of another run dir if one runs (start refuses to run two).
    if other_kubelet >/dev/null; then
      log "another node runs on this machine: leaving the kubepods cgroups and $BRIDGE alone"
    else
      clean_cgroups
    fi
    unmount_all
    other_kubelet >/dev/null || clean_network
  fi
  stop_procs kube-apiserver etcd
  rm -f "$SOCK" "$SOCK.ttrpc"
}

# ---------------------------------------------------------------- commands
cmd_start() {
  local want_node=0
  while (($#)); do
    case "$1" in
      --node) want_node=1 ;;
      *) die "start: unknown argument '$1'" ;;
    esac
    shift
  done
  local want_api="${K8S_LOCAL_PORT:-6443}" want_etcd="${K8S_LOCAL_ETCD_PORT:-2379}"
  local want_kubelet="${K8S_LOCAL_KUBELET_PORT:-10250}"
  [[ "$want_api" =~ ^[0-9]+$ && "$want_etcd" =~ ^[0-9]+$ && "$want_kubelet" =~ ^[0-9]+$ ]] || die "ports must be numbers"
  command -v openssl >/dev/null 2>&1 || die "openssl not found"
  command -v curl >/dev/null 2>&1 || die "curl not found"

  lock_run_dir
  if load_state; then
    local p up=1
    for p in etcd kube-apiserver; do proc_alive "$p" || up=0; done
    if ((NODE)); then for p in containerd kube-controller-manager kube-scheduler kubelet; do proc_alive "$p" || up=0; done; fi
    if ((up)) && [[ "$NODE" == "$want_node" && "$API_PORT" == "$want_api" && "$ETCD_PORT" == "$want_etcd" ]] && api_ready; then
      log "already running ($( ((NODE)) && echo "with node" || echo "API server only")) on 127.0.0.1:$API_PORT"
      echo "$RUN_DIR/kubeconfig"
      return 0
    fi
  fi
  stop_everything

  NODE="$want_node"
  API_PORT="$want_api"
  ETCD_PORT="$want_etcd"
  ETCD_PEER_PORT="${K8S_LOCAL_ETCD_PEER_PORT:-$((want_etcd + 1))}"
  KUBELET_PORT="$want_kubelet"
  POD_SUBNET="${K8S_LOCAL_POD_SUBNET:-10.244.0.0/24}"
  IP_FORWARD_BEFORE="$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo 1)"
  ensure_bins
  if ((NODE)); then
    need_node_tools
    guard_single_node
  fi
  local p ports=("$API_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT")
  ((NODE)) && ports+=("$KUBELET_PORT")
  for p in "${ports[@]}"; do
    port_open "$p" && die "port $p on 127.0.0.1 is already in use by another process (see K8S_LOCAL_*PORT)"
  done
  local images=""
  if ((NODE)); then images="$(bash "$ROOT/scripts/k8s/images.sh" | tail -n1)" || die "could not build the pause/busybox images"; fi

  # Fresh data on every start; .lock stays (we hold it).
  find "$RUN_DIR" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
  mkdir -p "$PIDS" "$LOGS"
  save_state

  local t0n
  t0n="$(date +%s.%N)"
  make_pki
  make_tokens
  write_kubeconfig "$RUN_DIR/kubeconfig" admin token "$(cat "$RUN_DIR/admin.token")"
  write_kubeconfig "$RUN_DIR/kubeconfig-restricted" restricted token "$(cat "$RUN_DIR/restricted.token")"
  CLEANUP_ON_DIE=1
  start_etcd
  if ((NODE)); then
    write_kubeconfig "$RUN_DIR/kube-controller-manager.kubeconfig" system:kube-controller-manager cert kube-controller-manager
    write_kubeconfig "$RUN_DIR/kube-scheduler.kubeconfig" system:kube-scheduler cert kube-scheduler
    write_kubeconfig "$RUN_DIR/kubelet.kubeconfig" "system:node:$NODE_NAME" cert kubelet
    write_containerd_config
    write_kubelet_config
    # containerd comes up while the API server does.
    launch containerd containerd --config "$CTR_DIR/config.toml"
  fi
  start_apiserver
  log "etcd pid $(proc_pid etcd) on 127.0.0.1:$ETCD_PORT, kube-apiserver pid $(proc_pid kube-apiserver) on 127.0.0.1:$API_PORT"
  wait_api
  log "API server ready in $(elapsed "$t0n")s"
  if ((NODE)); then
    wait_containerd
    import_tarballs "$images/pause.tar" "$images/busybox.tar"
    start_node_daemons
    bootstrap_rbac
    wait_node "$t0n"
    log "default service account there, node usable in $(elapsed "$t0n")s (containerd socket $SOCK)"
  fi
  CLEANUP_ON_DIE=0
  log "logs: $LOGS/  restricted user: $RUN_DIR/kubeconfig-restricted"
  echo "$RUN_DIR/kubeconfig"
}

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

cmd_stop() {
  lock_run_dir
  stop_everything
  log "stopped"
}

cmd_status() {
  if ! load_state; then
    echo "stopped (no cluster in $RUN_DIR)"
    return 3
  fi
  local p pid rc=0 procs="etcd kube-apiserver"
  ((NODE)) && procs="$ALL_PROCS"
  for p in $procs; do
    if pid="$(proc_pid "$p")"; then
      echo "$p running pid=$pid log=$LOGS/$p.log"
    else
      echo "$p stopped log=$LOGS/$p.log"
      rc=3
    fi
  done
  ((rc)) || echo "kubeconfig=$RUN_DIR/kubeconfig api=https://127.0.0.1:$API_PORT node=$NODE"
  return "$rc"
}

cmd_kubeconfig() {
  load_state || die "no cluster recorded in $RUN_DIR (run start first)"
  echo "$RUN_DIR/kubeconfig"
}

cmd_env() {
  load_state || die "no cluster recorded in $RUN_DIR (run start first)"
  printf 'export KUBECONFIG=%q\n' "$RUN_DIR/kubeconfig"
  printf 'export LOGAGENT_TEST_KUBECONFIG=%q\n' "$RUN_DIR/kubeconfig"
  printf 'export LOGAGENT_TEST_K8S_DIR=%q\n' "$RUN_DIR"
  printf 'export LOGAGENT_TEST_KUBECTL=%q\n' "$BIN/kubectl"
  [[ -x "$BIN/helm" ]] && printf 'export LOGAGENT_TEST_HELM=%q\n' "$BIN/helm"
  printf 'export LOGAGENT_TEST_K8S_NODE=%q\n' "$NODE"
  ((NODE)) && printf 'export LOGAGENT_TEST_K8S_CONTAINERD=%q\n' "$SOCK"
  return 0
}

cmd_restart_apiserver() {
  lock_run_dir
  load_state || die "no cluster recorded in $RUN_DIR (run start first)"
  proc_alive etcd || die "etcd is not running in $RUN_DIR"
  local t0
  t0="$(date +%s.%N)"
  stop_procs kube-apiserver
  start_apiserver
  wait_api
  log "kube-apiserver restarted in $(elapsed "$t0") s (pid $(proc_pid kube-apiserver))"
}

cmd_import_image() {
  (($#)) || die "import-image needs a tarball (docker save or OCI layout)"
  load_state || die "no cluster recorded in $RUN_DIR (run start --node first)"
  if ! ((NODE)) || ! proc_alive containerd; then die "no node running in $RUN_DIR (run start --node)"; fi
  command -v ctr >/dev/null 2>&1 || die "ctr not found"
  import_tarballs "$@"
}

cmd_kubectl() {
  load_state || die "no cluster recorded in $RUN_DIR (run start first)"
  exec "$BIN/kubectl" --kubeconfig "$RUN_DIR/kubeconfig" "$@"
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; }

main() {
  local cmd="${1:-}"
  (($#)) && shift
  case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    kubeconfig) cmd_kubeconfig ;;
    env) cmd_env ;;
    restart-apiserver) cmd_restart_apiserver ;;
    import-image) cmd_import_image "$@" ;;
    kubectl) cmd_kubectl "$@" ;;
    -h | --help | help) usage ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
