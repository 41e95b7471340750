#!/usr/bin/env bash
# kafka-local.sh: a real Apache Kafka 4.x cluster (KRaft, no ZooKeeper) for
# tests, run from Maven jars with the machine's Java 17; no Docker.
#
# What it owns:
#   scripts/kafka/pom.xml  the pinned broker/tools jars (kafka.version there)
#   .cache/kafka/lib/      those jars, copied by Maven (git-ignored; ~/.m2 is
#                          only Maven's download cache)
#   .run/kafka/            (or $KAFKA_LOCAL_DIR) per node: configs, data,
#                          server.log, pid file; wiped on every `start`
#   the java processes whose pids are in those pid files, and nothing else.
#
# Usage: scripts/kafka-local.sh COMMAND
#   fetch                     resolve the jars into .cache/kafka/lib (CI warm-up)
#   start [--brokers 1|3] [--secure]
#                             fresh cluster (formats storage); no-op if already
#                             running with that shape. Last stdout line is the
#                             bootstrap list (the plaintext listener), e.g.
#                             127.0.0.1:9092. --secure (or KAFKA_LOCAL_SECURE=1)
#                             adds the secured listeners, see below
#   stop                      SIGTERM, up to 20 s, then SIGKILL; pid files removed
#   status                    running/stopped per node; exit 0 if all run, else 3
#   bootstrap                 print the bootstrap list of the recorded cluster
#   stop-node N | kill-node N stop (SIGTERM) / SIGKILL one node, data kept
#   start-node N              restart one node on its data; waits until it rejoined
#   run-class CLASS [ARGS]    run a Kafka tool class on the same classpath, e.g.
#                             run-class org.apache.kafka.tools.TopicCommand --list
#                               --bootstrap-server 127.0.0.1:9092
#   secure-env                print the secured cluster's facts as KEY=VALUE lines
#                             (listeners, CA, client certificate, user, password file)
#   client-cert DIR [CN]      issue a new client certificate signed by the run's CA:
#                             DIR/client.crt and DIR/client.key (PKCS#8), for
#                             certificate rotation tests
# Every node is broker+controller; 3 nodes form a 3-voter controller quorum.
# Progress goes to stderr; only bootstrap lists (and status/run-class output)
# go to stdout.
#
# Secured mode (opt-in; the default cluster stays plaintext only). Beside the
# PLAINTEXT listener (inter-broker traffic and test consumers stay on it),
# node N gets:
#   SASL_SSL        port+10+N  PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER
#   SSL             port+20+N  TLS with a required client certificate (mTLS)
#   SASL_PLAINTEXT  port+30+N  the same SASL mechanisms without TLS
# Made at every start, in the run dir's secure/ (mode 0700):
#   ca.crt, ca.key              a throwaway CA (openssl)
#   broker.pem                  the brokers' key and certificate, SAN
#                               IP:127.0.0.1 and DNS:localhost
#   client.crt, client.key      a client certificate (CN=logagent-client)
#   password                    the SASL user's password
# The user (KAFKA_LOCAL_SASL_USER) exists for PLAIN (in the listeners' JAAS
# config) and for both SCRAM mechanisms (added when the storage is formatted,
# `kafka-storage format --add-scram`). OAUTHBEARER uses Kafka's unsecured
# validator, the broker's default when no validator class is configured: it
# accepts an unsigned JWT (header {"alg":"none"}) whose `sub` names the
# principal and whose `exp` is in the future. For tests only.
#
# Environment:
#   KAFKA_LOCAL_PORT             first broker port (9092); brokers on +0,+1,+2
#   KAFKA_LOCAL_CONTROLLER_PORT  first controller port (KAFKA_LOCAL_PORT+100)
#   KAFKA_LOCAL_DIR              run dir (.run/kafka), for parallel clusters
#   KAFKA_LOCAL_TIMEOUT          seconds to wait for readiness (90)
#   KAFKA_LOCAL_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL (20)
#   KAFKA_LOCAL_PROPS            extra server properties, whitespace-separated
#                                k=v pairs, appended to every node's config
#   KAFKA_LOCAL_SECURE           1: start in secured mode (as --secure)
#   KAFKA_LOCAL_SASL_USER        SASL user of secured mode (logagent)
#   KAFKA_LOCAL_SASL_PASSWORD    its password (default: random); letters, digits, . _ - only
#   KAFKA_HEAP                   heap flags per node (-Xmx512m; 3 nodes -Xmx384m)
#   KAFKA_LOCAL_JVM_OPTS         replaces the default GC/JIT flags
#   JAVA_HOME                    used when set, else `java` from PATH
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/scripts/kafka/pom.xml"
CACHE="$ROOT/.cache/kafka"
LIB="$CACHE/lib"
RUN_DIR="${KAFKA_LOCAL_DIR:-$ROOT/.run/kafka}"
case "$RUN_DIR" in /*) ;; *) RUN_DIR="$PWD/$RUN_DIR" ;; esac
STATE="$RUN_DIR/cluster.env"
TIMEOUT="${KAFKA_LOCAL_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_LOCAL_STOP_TIMEOUT:-20}"
if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA=java; fi

# Recorded shape of the cluster (written by `start`, read by everything else).
BROKERS=""
BASE_PORT=""
CTRL_PORT=""
CLUSTER_ID=""
SECURE=0
SASL_USER=""

log() { printf 'kafka-local: %s\n' "$*" >&2; }
# Nodes that a failing start/start-node launched: killed by die() so that a
# failed start leaves no half-up broker behind (their logs stay).
CLEANUP_NODES=""
die() {
  log "error: $*"
  if [[ -n "$CLEANUP_NODES" ]]; then
    local n="$CLEANUP_NODES"
    CLEANUP_NODES=""
    log "killing node(s) $n that did not come up"
    # shellcheck disable=SC2086
    kill_nodes $n || true
  fi
  exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH (needs: java 17+, mvn; openssl for --secure)"; }

# ---------------------------------------------------------------- jars
pom_stamp() { sha256sum "$POM" | cut -d' ' -f1; }

lib_ready() { [[ -f "$LIB/.stamp" && "$(cat "$LIB/.stamp")" == "$(pom_stamp)" ]]; }

ensure_lib() {
  if lib_ready; then
    [[ -f "$CACHE/tools-log4j2.xml" ]] || write_tools_log4j
    return 0
  fi
  need mvn
  mkdir -p "$CACHE"
  exec 8>"$CACHE/.lock"
  flock 8
  if ! lib_ready; then
    log "resolving Kafka jars with Maven into $LIB"
    local tmp
    tmp="$(mktemp -d "$CACHE/lib.tmp.XXXXXX")"
    if ! mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 | sed $'s/\x1b\\[[0-9;]*m//g' >&2; then
      rm -rf "$tmp"
      die "mvn could not resolve the jars of $POM"
    fi
    ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || {
      rm -rf "$tmp"
      die "mvn ran but no kafka_2.13 jar arrived in $tmp"
    }
    pom_stamp >"$tmp/.stamp"
    rm -rf "$LIB.old"
    [[ -d "$LIB" ]] && mv "$LIB" "$LIB.old"
    mv "$tmp" "$LIB"
    rm -rf "$LIB.old"
  fi
  write_tools_log4j
  flock -u 8
  exec 8>&-
}

# Quiet logging for the command-line tools: errors only, to stderr.
write_tools_log4j() {
  cat >"$CACHE/tools-log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="error">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="error"><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
EOF
}

# Run a Kafka tool class (short-lived JVM tuned for start-up time).
run_tool() {
  "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$CACHE/tools-log4j2.xml" \
    -cp "$LIB/*" "$@"
}

# ---------------------------------------------------------------- state
load_state() {
  [[ -f "$STATE" ]] || return 1
  # shellcheck disable=SC1090
  source "$STATE"
  [[ -n "$BROKERS" && -n "$BASE_PORT" && -n "$CTRL_PORT" ]]
}

node_dir() { echo "$RUN_DIR/node$1"; }
pid_file() { echo "$RUN_DIR/node$1/kafka.pid"; }
broker_port() { echo $((BASE_PORT + $1)); }
ctrl_port() { echo $((CTRL_PORT + $1)); }
sasl_ssl_port() { echo $((BASE_PORT + 10 + $1)); }
ssl_port() { echo $((BASE_PORT + 20 + $1)); }
sasl_plain_port() { echo $((BASE_PORT + 30 + $1)); }
secure_dir() { echo "$RUN_DIR/secure"; }

bootstrap_list() {
  local i out="" port_of="${1:-broker_port}"
  for ((i = 0; i < BROKERS; i++)); do out+="${out:+,}127.0.0.1:$("$port_of" "$i")"; done
  echo "$out"
}

# The pid of node N if that process is alive and really is our broker for this
# run dir (guards against a recycled pid); nothing otherwise.
node_pid() {
  local f pid cmd
  f="$(pid_file "$1")"
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmd="$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)"
  [[ "$cmd" == *kafka.Kafka*"$(node_dir "$1")/server.properties"* ]] || return 1
  echo "$pid"
}

node_alive() { node_pid "$1" >/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

lock_run_dir() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock 9
}

# ---------------------------------------------------------------- config
write_node_config() {
  local i="$1" dir voters="" j extra
  dir="$(node_dir "$i")"
  for ((j = 0; j < BROKERS; j++)); do voters+="${voters:+,}$j@127.0.0.1:$(ctrl_port "$j")"; done
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Generated by scripts/kafka-local.sh; rewritten on every start.
node.id=$i
process.roles=broker,controller
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$i"),CONTROLLER://127.0.0.1:$(ctrl_port "$i")$(secure_listeners "$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$i")$(secure_listeners "$i")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT$([[ "$SECURE" == 1 ]] && echo ",SASL_SSL:SASL_SSL,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT")
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.voters=$voters
log.dirs=$dir/data
auto.create.topics.enable=true
delete.topic.enable=true
num.partitions=1
default.replication.factor=$BROKERS
min.insync.replicas=1
offsets.topic.replication.factor=$BROKERS
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$BROKERS
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$BROKERS
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
  [[ "$SECURE" == 1 ]] && write_secure_config >>"$dir/server.properties"
  if [[ -n "${KAFKA_LOCAL_PROPS:-}" ]]; then
    echo "# KAFKA_LOCAL_PROPS" >>"$dir/server.properties"
    for extra in $KAFKA_LOCAL_PROPS; do echo "$extra" >>"$dir/server.properties"; done
  fi
  cat >"$dir/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <File name="server" fileName="$dir/server.log" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="org.apache.kafka.clients" level="warn"/>
    <Root level="info"><AppenderRef ref="server"/></Root>
  </Loggers>
</Configuration>
EOF
}

# ---------------------------------------------------------------- secured mode
# ",SASL_SSL://...,SSL://...,SASL_PLAINTEXT://..." for node N in secured mode.
secure_listeners() {
  [[ "$SECURE" == 1 ]] || return 0
  printf ',SASL_SSL://127.0.0.1:%s,SSL://127.0.0.1:%s,SASL_PLAINTEXT://127.0.0.1:%s' \
    "$(sasl_ssl_port "$1")" "$(ssl_port "$1")" "$(sasl_plain_port "$1")"
}

write_secure_config() {
  local sd pw l m
  sd="$(secure_dir)"
  pw="$(cat "$sd/password")"
  cat <<EOF
# Secured mode (--secure): TLS from PEM files, SASL users for tests.
ssl.keystore.type=PEM
ssl.keystore.location=$sd/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$sd/ca.crt
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
EOF
  for l in sasl_ssl sasl_plaintext; do
    echo "listener.name.$l.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER=\"$pw\";"
    for m in scram-sha-256 scram-sha-512; do
      echo "listener.name.$l.$m.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    done
    # No server callback handler configured: Kafka's unsecured JWT validator.
    echo "listener.name.$l.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"kafka\";"
  done
}

# A key and a certificate signed by the run's CA: $1 output prefix, $2 CN, $3 extensions.
issue_cert() {
  local out="$1" cn="$2" ext="$3" sd
  sd="$(secure_dir)"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$out.key.tmp" -subj "/CN=$cn" -out "$out.csr" 2>/dev/null ||
    die "openssl could not make a key for $cn"
  # Kafka's PEM keystore wants PKCS#8; Node reads it too.
  openssl pkcs8 -topk8 -nocrypt -in "$out.key.tmp" -out "$out.key" || die "openssl could not convert the key of $cn"
  printf '%s\n' "$ext" >"$out.ext"
  openssl x509 -req -in "$out.csr" -CA "$sd/ca.crt" -CAkey "$sd/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$out.ext" -out "$out.crt" 2>/dev/null || die "openssl could not sign the certificate of $cn"
  rm -f "$out.key.tmp" "$out.csr" "$out.ext"
  chmod 600 "$out.key"
}

# CA, broker and client certificates and the SASL password: new at every start.
make_secure_material() {
  local sd pw
  sd="$(secure_dir)"
  rm -rf "$sd"
  mkdir -p "$sd"
  chmod 700 "$sd"
  pw="${KAFKA_LOCAL_SASL_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')}"
  [[ "$pw" =~ ^[A-Za-z0-9._-]+$ ]] || die "KAFKA_LOCAL_SASL_PASSWORD may hold letters, digits, . _ - only"
  [[ "$SASL_USER" =~ ^[A-Za-z0-9._-]+$ ]] || die "KAFKA_LOCAL_SASL_USER may hold letters, digits, . _ - only"
  (umask 077 && printf '%s' "$pw" >"$sd/password")
  log "secured mode: making a CA and certificates with openssl in $sd"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$sd/ca.key" -subj "/CN=kafka-local test CA" \
    -days 30 -sha256 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$sd/ca.crt" 2>/dev/null || die "openssl could not make the CA"
  chmod 600 "$sd/ca.key"
  issue_cert "$sd/broker" localhost "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth"
  cat "$sd/broker.key" "$sd/broker.crt" >"$sd/broker.pem"
  chmod 600 "$sd/broker.pem"
  issue_cert "$sd/client" logagent-client "extendedKeyUsage=clientAuth"
}

write_secure_env() {
  local sd
  sd="$(secure_dir)"
  cat >"$RUN_DIR/secure.env" <<EOF
KAFKA_LOCAL_PLAINTEXT=$(bootstrap_list)
KAFKA_LOCAL_SASL_SSL=$(bootstrap_list sasl_ssl_port)
KAFKA_LOCAL_SSL=$(bootstrap_list ssl_port)
KAFKA_LOCAL_SASL_PLAINTEXT=$(bootstrap_list sasl_plain_port)
KAFKA_LOCAL_CA_FILE=$sd/ca.crt
KAFKA_LOCAL_CLIENT_CERT_FILE=$sd/client.crt
KAFKA_LOCAL_CLIENT_KEY_FILE=$sd/client.key
KAFKA_LOCAL_SASL_USER=$SASL_USER
KAFKA_LOCAL_SASL_PASSWORD_FILE=$sd/password
EOF
}

format_storage() {
  local i pids=() rc=0
  local scram=()
  if [[ "$SECURE" == 1 ]]; then
    local pw
    pw="$(cat "$(secure_dir)/password")"
    scram=(--add-scram "SCRAM-SHA-256=[name=\"$SASL_USER\",password=\"$pw\"]" --add-scram "SCRAM-SHA-512=[name=\"$SASL_USER\",password=\"$pw\"]")
  fi
  log "formatting KRaft storage (cluster id $CLUSTER_ID)"
  for ((i = 0; i < BROKERS; i++)); do
    run_tool kafka.tools.StorageTool format --cluster-id "$CLUSTER_ID" "${scram[@]}" \
      --config "$(node_dir "$i")/server.properties" >"$(node_dir "$i")/format.log" 2>&1 9>&- &
    pids+=("$!")
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      log "formatting node$i failed:"
      cat "$(node_dir "$i")/format.log" >&2
      rc=1
    fi
  done
  return "$rc"
}

new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* && ${#id} -eq 22 ]] && break
  done
  echo "$id"
}

heap_flags() {
  if [[ -n "${KAFKA_HEAP:-}" ]]; then
    echo "$KAFKA_HEAP"
  elif ((BROKERS > 1)); then
    echo "-Xmx384m -Xms128m"
  else
    echo "-Xmx512m -Xms128m"
  fi
}

launch_node() {
  local i="$1" dir heap jvm
  dir="$(node_dir "$i")"
  heap="$(heap_flags)"
  jvm="${KAFKA_LOCAL_JVM_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError}"
  rm -f "$dir/kafka.pid"
  echo "---- $(date -u +%FT%TZ) starting node$i" >>"$dir/stdout.log"
  # A new session so the broker outlives the caller's process group and its
  # Ctrl-C; stdio detached so callers reading our stdout are not held open;
  # fd 9 (the run-dir lock) closed so the broker does not hold the lock.
  # shellcheck disable=SC2086
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/kafka.pid" \
    "$JAVA" $heap $jvm -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.xml" -Dkafka.logs.dir="$dir" \
    -cp "$LIB/*" kafka.Kafka "$dir/server.properties" \
    </dev/null >>"$dir/stdout.log" 2>&1 9>&- &
  local t=0
  while [[ ! -s "$dir/kafka.pid" ]] && ((t < 50)); do
    sleep 0.1
    t=$((t + 1))
  done
  [[ -s "$dir/kafka.pid" ]] || die "node$i did not start (no pid file)"
}

dump_node() {
  local dir
  dir="$(node_dir "$1")"
  log "---- tail of $dir/server.log"
  tail -n 40 "$dir/server.log" >&2 2>/dev/null || true
  if [[ -s "$dir/stdout.log" ]]; then
    log "---- tail of $dir/stdout.log"
    tail -n 20 "$dir/stdout.log" >&2 || true
  fi
}

# Node ids that the cluster's metadata lists as live brokers (one per line).
registered_ids() {
  local out
  out="$(timeout 30 "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$CACHE/tools-log4j2.xml" -cp "$LIB/*" \
    org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$1" \
    --command-config "$RUN_DIR/tools.properties" 2>/dev/null 9>&-)" || true
  sed -n 's/.*(id: \([0-9][0-9]*\) rack.*/\1/p' <<<"$out" | sort -u
}

# Wait until the nodes in "$@" are alive, listening, and all listed in the
# cluster's broker metadata.
wait_ready() {
  local deadline=$((SECONDS + TIMEOUT)) i n ids missing bs
  printf 'request.timeout.ms=5000\ndefault.api.timeout.ms=10000\n' >"$RUN_DIR/tools.properties"
  for i in "$@"; do
    while ! port_open "$(broker_port "$i")"; do
      if ! node_alive "$i"; then
        log "node$i exited during start-up"
        dump_node "$i"
        die "node$i failed to start"
      fi
      if ((SECONDS >= deadline)); then
        dump_node "$i"
        die "node$i did not open port $(broker_port "$i") within ${TIMEOUT}s"
      fi
      sleep 0.2
    done
  done
  bs="$(bootstrap_list)"
  while :; do
    ids="$(registered_ids "$bs")"
    missing=""
    for i in "$@"; do grep -qx "$i" <<<"$ids" || missing+=" $i"; done
    [[ -z "$missing" ]] && return 0
    for n in "$@"; do
      if ! node_alive "$n"; then
        dump_node "$n"
        die "node$n exited before it registered"
      fi
    done
    if ((SECONDS >= deadline)); then
      for n in $missing; do dump_node "$n"; done
      die "node(s)$missing not registered as brokers within ${TIMEOUT}s (metadata lists: $(echo $ids))"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- stop
# SIGTERM the given nodes, wait, then SIGKILL the stragglers.
stop_nodes() {
  local i pid pids=() nodes=() deadline
  for i in "$@"; do
    if pid="$(node_pid "$i")"; then
      log "stopping node$i (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      nodes+=("$i")
    fi
  done
  deadline=$((SECONDS + STOP_TIMEOUT))
  for i in "${!pids[@]}"; do
    while [[ -e "/proc/${pids[$i]}" ]] && node_alive "${nodes[$i]}" && ((SECONDS < deadline)); do sleep 0.2; done
    if node_alive "${nodes[$i]}"; then
      log "node${nodes[$i]} still running after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
  done
  for i in "${!pids[@]}"; do
    while node_alive "${nodes[$i]}"; do sleep 0.1; done
  done
  for i in "$@"; do rm -f "$(pid_file "$i")"; done
}

kill_nodes() {
  local i pid
  for i in "$@"; do
    if pid="$(node_pid "$i")"; then
      log "killing node$i (pid $pid)"
      kill -KILL "$pid" 2>/dev/null || true
      while node_alive "$i"; do sleep 0.1; done
    fi
    rm -f "$(pid_file "$i")"
  done
}

all_nodes() {
  local i
  for ((i = 0; i < BROKERS; i++)); do echo "$i"; done
}

# Any node pid files left in the run dir, whatever the recorded shape says.
stop_everything() {
  local d n=()
  for d in "$RUN_DIR"/node*; do
    [[ -d "$d" ]] && n+=("${d##*/node}")
  done
  ((${#n[@]})) || return 0
  # node_pid needs no shape, only the run dir.
  stop_nodes "${n[@]}"
}

# ---------------------------------------------------------------- commands
cmd_fetch() {
  need "$JAVA"
  ensure_lib
  log "jars ready: $(ls "$LIB"/*.jar | wc -l) in $LIB ($(basename "$(ls "$LIB"/kafka_2.13-*.jar)"))"
}

cmd_start() {
  local want=1 want_secure="${KAFKA_LOCAL_SECURE:-0}"
  while (($#)); do
    case "$1" in
      --brokers) want="${2:-}"; shift 2 || die "--brokers needs a value" ;;
      --brokers=*) want="${1#*=}"; shift ;;
      --secure) want_secure=1; shift ;;
      *) die "start: unknown argument '$1'" ;;
    esac
  done
  [[ "$want" == 1 || "$want" == 3 ]] || die "--brokers must be 1 or 3 (got '$want')"
  [[ "$want_secure" == 0 || "$want_secure" == 1 ]] || die "KAFKA_LOCAL_SECURE must be 0 or 1 (got '$want_secure')"
  local want_port="${KAFKA_LOCAL_PORT:-9092}"
  local want_ctrl="${KAFKA_LOCAL_CONTROLLER_PORT:-$((want_port + 100))}"
  [[ "$want_port" =~ ^[0-9]+$ && "$want_ctrl" =~ ^[0-9]+$ ]] || die "ports must be numbers"

  need "$JAVA"
  [[ "$want_secure" == 1 ]] && need openssl
  ensure_lib
  lock_run_dir

  if load_state; then
    local i up=0
    for ((i = 0; i < BROKERS; i++)); do node_alive "$i" && up=$((up + 1)); done
    if ((up == BROKERS)) && [[ "$BROKERS" == "$want" && "$BASE_PORT" == "$want_port" && "$CTRL_PORT" == "$want_ctrl" && "$SECURE" == "$want_secure" ]]; then
      log "already running ($BROKERS node(s)); logs: $(for ((i = 0; i < BROKERS; i++)); do printf '%s ' "$(node_dir "$i")/server.log"; done)"
      bootstrap_list
      return 0
    fi
    if ((up > 0)); then
      log "running cluster is $up/$BROKERS node(s) on port $BASE_PORT; restarting as $want node(s) on $want_port"
    fi
  fi
  stop_everything

  BROKERS="$want"
  BASE_PORT="$want_port"
  CTRL_PORT="$want_ctrl"
  CLUSTER_ID="$(new_cluster_id)"
  SECURE="$want_secure"
  SASL_USER="${KAFKA_LOCAL_SASL_USER:-logagent}"
  local i p ports
  for ((i = 0; i < BROKERS; i++)); do
    ports="$(broker_port "$i") $(ctrl_port "$i")"
    [[ "$SECURE" == 1 ]] && ports+=" $(sasl_ssl_port "$i") $(ssl_port "$i") $(sasl_plain_port "$i")"
    for p in $ports; do
      port_open "$p" && die "port $p on 127.0.0.1 is already in use by another process (set KAFKA_LOCAL_PORT / KAFKA_LOCAL_CONTROLLER_PORT)"
    done
  done

  rm -rf "$RUN_DIR"/node* "$RUN_DIR/secure.env"
  printf 'BROKERS=%s\nBASE_PORT=%s\nCTRL_PORT=%s\nCLUSTER_ID=%s\nSECURE=%s\nSASL_USER=%s\n' \
    "$BROKERS" "$BASE_PORT" "$CTRL_PORT" "$CLUSTER_ID" "$SECURE" "$SASL_USER" >"$STATE"
  [[ "$SECURE" == 1 ]] && make_secure_material
  for ((i = 0; i < BROKERS; i++)); do write_node_config "$i"; done
  format_storage || die "storage format failed"
  local t0=$SECONDS
  CLEANUP_NODES="$(all_nodes | tr '\n' ' ')"
  for ((i = 0; i < BROKERS; i++)); do
    launch_node "$i"
    log "node$i pid $(cat "$(pid_file "$i")"): broker 127.0.0.1:$(broker_port "$i"), controller 127.0.0.1:$(ctrl_port "$i")"
  done
  # shellcheck disable=SC2046
  wait_ready $(all_nodes)
  CLEANUP_NODES=""
  log "cluster up in $((SECONDS - t0))s with $BROKERS broker(s) registered"
  for ((i = 0; i < BROKERS; i++)); do log "log: $(node_dir "$i")/server.log"; done
  if [[ "$SECURE" == 1 ]]; then
    write_secure_env
    log "secured listeners: SASL_SSL $(bootstrap_list sasl_ssl_port), SSL (client certificate) $(bootstrap_list ssl_port), SASL_PLAINTEXT $(bootstrap_list sasl_plain_port); details: $RUN_DIR/secure.env"
  fi
  bootstrap_list
}

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
  local i pid all=0
  for ((i = 0; i < BROKERS; i++)); do
    if pid="$(node_pid "$i")"; then
      echo "node$i running pid=$pid broker=127.0.0.1:$(broker_port "$i") controller=127.0.0.1:$(ctrl_port "$i") log=$(node_dir "$i")/server.log"
    else
      echo "node$i stopped broker=127.0.0.1:$(broker_port "$i") log=$(node_dir "$i")/server.log"
      all=3
    fi
  done
  return "$all"
}

node_arg() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] || die "expected a node number, got '${1:-}'"
  load_state || die "no cluster recorded in $RUN_DIR (run start first)"
  (($1 < BROKERS)) || die "node $1 does not exist (cluster has $BROKERS node(s))"
}

cmd_stop_node() {
  node_arg "${1:-}"
  lock_run_dir
  stop_nodes "$1"
}

cmd_kill_node() {
  node_arg "${1:-}"
  lock_run_dir
  kill_nodes "$1"
}

cmd_start_node() {
  node_arg "${1:-}"
  need "$JAVA"
  ensure_lib
  lock_run_dir
  local i="$1"
  if node_alive "$i"; then
    log "node$i already running"
  else
    [[ -f "$(node_dir "$i")/data/meta.properties" ]] || die "node$i has no formatted storage; use start"
    port_open "$(broker_port "$i")" && die "port $(broker_port "$i") is in use by another process"
    CLEANUP_NODES="$i"
    launch_node "$i"
    log "node$i pid $(cat "$(pid_file "$i")") restarted on its data"
  fi
  wait_ready "$i"
  CLEANUP_NODES=""
  log "node$i is registered again; log: $(node_dir "$i")/server.log"
  bootstrap_list
}

cmd_bootstrap() {
  load_state || die "no cluster recorded in $RUN_DIR"
  bootstrap_list
}

cmd_secure_env() {
  load_state || die "no cluster recorded in $RUN_DIR"
  [[ "$SECURE" == 1 && -f "$RUN_DIR/secure.env" ]] || die "the cluster in $RUN_DIR is not in secured mode (start --secure)"
  cat "$RUN_DIR/secure.env"
}

cmd_client_cert() {
  local out="${1:-}" cn="${2:-logagent-client}"
  [[ -n "$out" ]] || die "client-cert needs an output directory"
  [[ "$cn" =~ ^[A-Za-z0-9._-]+$ ]] || die "the CN may hold letters, digits, . _ - only"
  load_state || die "no cluster recorded in $RUN_DIR"
  [[ "$SECURE" == 1 && -f "$(secure_dir)/ca.key" ]] || die "the cluster in $RUN_DIR is not in secured mode (start --secure)"
  need openssl
  mkdir -p "$out"
  # The CA's serial file is shared by concurrent callers.
  exec 9>"$RUN_DIR/.cert-lock"
  flock 9
  issue_cert "$out/client" "$cn" "extendedKeyUsage=clientAuth"
  log "issued $out/client.crt and $out/client.key (CN=$cn)"
}

cmd_run_class() {
  (($#)) || die "run-class needs a class name"
  need "$JAVA"
  ensure_lib
  run_tool "$@"
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; }

main() {
  local cmd="${1:-}"
  (($#)) && shift
  case "$cmd" in
    fetch) cmd_fetch "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    bootstrap) cmd_bootstrap ;;
    stop-node) cmd_stop_node "$@" ;;
    start-node) cmd_start_node "$@" ;;
    kill-node) cmd_kill_node "$@" ;;
    run-class) cmd_run_class "$@" ;;
    secure-env) cmd_secure_env ;;
    client-cert) cmd_client_cert "$@" ;;
    -h | --help | help) usage ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
