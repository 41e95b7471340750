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
#   start [--brokers 1|3]     fresh cluster (formats storage); no-op if already
#                             running with that shape. Last stdout line is the
#                             bootstrap list, e.g. 127.0.0.1:9092
#   stop                      SIGTERM, up to 20 s, then SIGKILL; pid files removed
#   status                    running/stopped per node; exit 0 if all run, else 3
#   bootstrap                 print the bootstrap list of the recorded cluster
#   stop-node N | kill-node N stop (SIGTERM) / SIGKILL one node, data kept
#   start-node N              restart one node on its data; waits until it rejoined
#   run-class CLASS [ARGS]    run a Kafka tool class on the same classpath, e.g.
#                             run-class org.apache.kafka.tools.TopicCommand --list
#                               --bootstrap-server 127.0.0.1:9092
# Every node is broker+controller; 3 nodes form a 3-voter controller quorum.
# Progress goes to stderr; only bootstrap lists (and status/run-class output)
# go to stdout.
#
# Environment:
#   KAFKA_LOCAL_PORT             first broker port (9092); brokers on +0,+1,+2
#   KAFKA_LOCAL_CONTROLLER_PORT  first controller port (KAFKA_LOCAL_PORT+100)
#   KAFKA_LOCAL_DIR              run dir (.run/kafka), for parallel clusters
#   KAFKA_LOCAL_TIMEOUT          seconds to wait for readiness (90)
#   KAFKA_LOCAL_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL (20)
#   KAFKA_LOCAL_PROPS            extra server properties, whitespace-separated
#                                k=v pairs, appended to every node's config
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
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH (needs: java 17+, mvn)"; }

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

bootstrap_list() {
  local i out=""
  for ((i = 0; i < BROKERS; i++)); do out+="${out:+,}127.0.0.1:$(broker_port "$i")"; done
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
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$i"),CONTROLLER://127.0.0.1:$(ctrl_port "$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$i")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
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

format_storage() {
  local i pids=() rc=0
  log "formatting KRaft storage (cluster id $CLUSTER_ID)"
  for ((i = 0; i < BROKERS; i++)); do
    run_tool kafka.tools.StorageTool format --cluster-id "$CLUSTER_ID" \
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
  local want=1
  while (($#)); do
    case "$1" in
      --brokers) want="${2:-}"; shift 2 || die "--brokers needs a value" ;;
      --brokers=*) want="${1#*=}"; shift ;;
      *) die "start: unknown argument '$1'" ;;
    esac
  done
  [[ "$want" == 1 || "$want" == 3 ]] || die "--brokers must be 1 or 3 (got '$want')"
  local want_port="${KAFKA_LOCAL_PORT:-9092}"
  local want_ctrl="${KAFKA_LOCAL_CONTROLLER_PORT:-$((want_port + 100))}"
  [[ "$want_port" =~ ^[0-9]+$ && "$want_ctrl" =~ ^[0-9]+$ ]] || die "ports must be numbers"

  need "$JAVA"
  ensure_lib
  lock_run_dir

  if load_state; then
    local i up=0
    for ((i = 0; i < BROKERS; i++)); do node_alive "$i" && up=$((up + 1)); done
    if ((up == BROKERS)) && [[ "$BROKERS" == "$want" && "$BASE_PORT" == "$want_port" && "$CTRL_PORT" == "$want_ctrl" ]]; then
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
  local i p
  for ((i = 0; i < BROKERS; i++)); do
    for p in "$(broker_port "$i")" "$(ctrl_port "$i")"; do
      port_open "$p" && die "port $p on 127.0.0.1 is already in use by another process (set KAFKA_LOCAL_PORT / KAFKA_LOCAL_CONTROLLER_PORT)"
    done
  done

  rm -rf "$RUN_DIR"/node*
  printf 'BROKERS=%s\nBASE_PORT=%s\nCTRL_PORT=%s\nCLUSTER_ID=%s\n' \
    "$BROKERS" "$BASE_PORT" "$CTRL_PORT" "$CLUSTER_ID" >"$STATE"
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
    -h | --help | help) usage ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
