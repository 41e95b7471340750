#!/usr/bin/env bash
# docker-local.sh: a private Docker engine for the tests (Debian's docker.io:
# dockerd + the containerd it spawns), on a unix socket of its own, with no
# bridge and no iptables rules: containers run with --network=host. Nothing
# is pulled; images come from `docker import` (scripts/image/standin-base.sh)
# and `docker build` with the classic builder (DOCKER_BUILDKIT=0).
#
# What it owns:
#   .run/docker/            (or $DOCKER_LOCAL_DIR) the run dir: docker.sock,
#                           dockerd.pid, dockerd.log, daemon.json, exec root
#                           (containerd's sockets and state), the CLI's config
#   $LOGAGENT_CACHE_DIR/docker   (default ~/.cache/logagent/docker) the data
#                           root: images, layers, build cache. Outside the
#                           repo on purpose: the stand-in base and the build
#                           cache survive `git clean` and fresh clones, so a
#                           rebuild takes seconds. One engine at a time may use
#                           it (checked at start). Delete it to reclaim space.
#   the dockerd whose pid is in dockerd.pid, the containerd it spawned and the
#   containerd-shims serving its containers, and nothing else.
#
# Usage: scripts/docker-local.sh COMMAND
#   install   apt-get install docker.io (only when dockerd is missing)
#   start     install if missing, start the engine (no-op when it already
#             runs), wait until it answers. Last stdout line:
#             DOCKER_HOST=unix://<run dir>/docker.sock
#   stop      SIGTERM dockerd (it stops its containers and containerd), up to
#             30 s, then SIGKILL it and whatever it left of ours
#   status    running/stopped; exit 0 when it answers, else 3
#   env       DOCKER_BUILDKIT=0 and DOCKER_HOST=... lines for
#             `export $(bash scripts/docker-local.sh env)`
# Progress goes to stderr; only the env lines (and status) go to stdout.
#
# Environment:
#   DOCKER_LOCAL_DIR       run dir (.run/docker)
#   LOGAGENT_CACHE_DIR     cache root (~/.cache/logagent); data root is its docker/
#   DOCKER_LOCAL_DATA_ROOT overrides the data root itself
#   DOCKER_LOCAL_TIMEOUT   seconds to wait for the engine to answer (30)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${DOCKER_LOCAL_DIR:-$ROOT/.run/docker}"
case "$RUN_DIR" in /*) ;; *) RUN_DIR="$PWD/$RUN_DIR" ;; esac
CACHE_ROOT="${LOGAGENT_CACHE_DIR:-${HOME:-/root}/.cache/logagent}"
DATA_ROOT="${DOCKER_LOCAL_DATA_ROOT:-$CACHE_ROOT/docker}"
SOCK="$RUN_DIR/docker.sock"
PID_FILE="$RUN_DIR/dockerd.pid"
LOG_FILE="$RUN_DIR/dockerd.log"
TIMEOUT="${DOCKER_LOCAL_TIMEOUT:-30}"

log() { printf 'docker-local: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# containerd's sockets live in the exec root; a unix socket path must fit in
# 108 bytes, and containerd adds ~60 to the exec root (its shims' sockets are
# hashed under /run/containerd/s/ by containerd itself). A deep checkout
# gets a short exec root under /tmp, named after the run dir.
exec_root() {
  local e="$RUN_DIR/exec"
  if ((${#e} > 48)); then
    e="/tmp/logagent-docker-$(printf '%s' "$RUN_DIR" | sha256sum | cut -c1-12)"
  fi
  echo "$e"
}
EXEC_ROOT="$(exec_root)"

# The pid of our dockerd if it is alive and really is the one serving our
# socket (guards against a recycled pid); nothing otherwise.
dockerd_pid() {
  local pid cmd
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmd="$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)"
  [[ "$cmd" == *dockerd*"--pidfile=$PID_FILE"* ]] || return 1
  echo "$pid"
}

# Pids of processes whose command line mentions our exec root: the containerd
# dockerd spawned and the shims of our containers (they outlive a SIGKILLed
# dockerd). Never matched by name alone.
our_leftovers() {
  local d pid cmd
  for d in /proc/[0-9]*; do
    pid="${d#/proc/}"
    cmd="$({ tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null || true)"
    case "$cmd" in
      *containerd*"$EXEC_ROOT/"*) echo "$pid" ;;
    esac
  done
}

answers() { DOCKER_HOST="unix://$SOCK" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

cmd_install() {
  if command -v dockerd >/dev/null 2>&1; then
    return 0
  fi
  [[ "$(id -u)" == 0 ]] || die "dockerd is missing and installing docker.io needs root"
  log "installing Debian's docker.io (dockerd, containerd, runc)"
  # A policy-rc.d that denies start keeps the package's init script from
  # starting a system-wide dockerd (we start our own); only when the machine
  # has none, and removed again.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    made_policy=1
  fi
  local rc=0
  {
    apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io
  } >&2 || rc=$?
  ((made_policy)) && rm -f "$policy"
  ((rc == 0)) || die "apt-get install docker.io failed (exit $rc)"
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is not on PATH"
}

# The pid of a dockerd that uses our data root but is not ours (another run
# dir, another clone); nothing otherwise.
other_data_root_user() {
  local d cmd
  for d in /proc/[0-9]*; do
    cmd="$({ tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null || true)"
    case "$cmd" in
      *dockerd*"--data-root=$DATA_ROOT "*)
        [[ "$cmd" == *"--pidfile=$PID_FILE"* ]] && continue
        echo "${d#/proc/}"
        return 0
        ;;
    esac
  done
  return 1
}

# Two engines on one data root would corrupt it: refuse.
check_data_root_free() {
  local pid
  if pid="$(other_data_root_user)"; then
    die "data root $DATA_ROOT is in use by dockerd pid $pid (another run dir); stop it or set DOCKER_LOCAL_DATA_ROOT"
  fi
}

cmd_start() {
  cmd_install
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock 9
  local pid
  if pid="$(dockerd_pid)"; then
    if answers; then
      log "already running (pid $pid); log: $LOG_FILE"
      echo "DOCKER_HOST=unix://$SOCK"
      return 0
    fi
    log "dockerd pid $pid does not answer: restarting it"
    stop_engine
  fi
  check_data_root_free
  reap_leftovers
  mkdir -p "$DATA_ROOT" "$EXEC_ROOT" "$RUN_DIR/cli"
  rm -f "$SOCK" "$PID_FILE"
  # Our own daemon.json (an empty one) so that the machine's
  # /etc/docker/daemon.json does not apply; our own CLI config dir so that
  # no user's credential helpers are consulted.
  echo '{}' >"$RUN_DIR/daemon.json"
  [[ -f "$RUN_DIR/cli/config.json" ]] || echo '{}' >"$RUN_DIR/cli/config.json"
  echo "---- $(date -u +%FT%TZ) starting dockerd" >>"$LOG_FILE"
  # A new session so the engine outlives the caller's process group and its
  # Ctrl-C; stdio detached; fd 9 (the lock) closed.
  setsid dockerd \
    --config-file="$RUN_DIR/daemon.json" \
    --data-root="$DATA_ROOT" \
    --exec-root="$EXEC_ROOT" \
    --pidfile="$PID_FILE" \
    --host="unix://$SOCK" \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --bridge=none \
    --userland-proxy=false \
    --log-level=warn \
    </dev/null >>"$LOG_FILE" 2>&1 9>&- &
  local launcher=$! t0=$SECONDS
  while :; do
    if answers && dockerd_pid >/dev/null; then break; fi
    if ! kill -0 "$launcher" 2>/dev/null && ! dockerd_pid >/dev/null; then
      tail -n 30 "$LOG_FILE" >&2 || true
      die "dockerd exited during start-up (log: $LOG_FILE)"
    fi
    if ((SECONDS - t0 >= TIMEOUT)); then
      tail -n 30 "$LOG_FILE" >&2 || true
      stop_engine
      die "dockerd did not answer on $SOCK within ${TIMEOUT}s"
    fi
    sleep 0.1
  done
  log "dockerd pid $(dockerd_pid) up in $((SECONDS - t0))s; data root $DATA_ROOT; log: $LOG_FILE"
  echo "DOCKER_HOST=unix://$SOCK"
}

# Mounts dockerd left under our directories (after a SIGKILL), and the bind
# mount of the data root onto itself it makes: deepest first.
unmount_ours() {
  local m data_root="$DATA_ROOT"
  # Another engine on the same data root (refused at start, but started by
  # hand maybe) keeps its mounts there.
  other_data_root_user >/dev/null && data_root=/nonexistent
  while read -r m; do
    [[ -n "$m" ]] || continue
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v a="$data_root" -v b="$EXEC_ROOT" \
    '$5 == a || index($5, a "/") == 1 || $5 == b || index($5, b "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
}

# What a dockerd that was SIGKILLed (or crashed) leaves behind: containers
# still running under their shims (runc, which knows them by the state in
# our exec root, kills every process of each), the shims and containerd
# (found by our exec root in their command lines, never by name), and
# mounts under our directories. dockerd cleans all of it up itself when it
# stops normally; this is for when it could not.
reap_leftovers() {
  local state="$EXEC_ROOT/runtime-runc/moby" d id leftovers
  if [[ -d "$state" ]] && command -v runc >/dev/null 2>&1; then
    for d in "$state"/*/; do
      [[ -f "$d/state.json" ]] || continue
      id="$(basename "$d")"
      log "killing container ${id:0:12}, left running by a dockerd that did not stop it"
      runc --root "$state" kill --all "$id" KILL 2>/dev/null || true
      runc --root "$state" delete --force "$id" >/dev/null 2>&1 || true
    done
  fi
  leftovers="$(our_leftovers | tr '\n' ' ')"
  if [[ -n "${leftovers// /}" ]]; then
    sleep 1 # dockerd was just told to stop: give containerd a moment
    leftovers="$(our_leftovers | tr '\n' ' ')"
  fi
  if [[ -n "${leftovers// /}" ]]; then
    log "killing what dockerd left behind: $leftovers"
    # shellcheck disable=SC2086
    kill -KILL $leftovers 2>/dev/null || true
  fi
  unmount_ours
}

stop_engine() {
  local pid deadline
  if pid="$(dockerd_pid)"; then
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 30))
    while dockerd_pid >/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if dockerd_pid >/dev/null; then
      log "dockerd still running after 30s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while [[ -e "/proc/$pid" ]] && dockerd_pid >/dev/null; do sleep 0.1; done
    fi
  fi
  reap_leftovers
  rm -f "$PID_FILE" "$SOCK"
}

cmd_stop() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock 9
  stop_engine
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(dockerd_pid)" && answers; then
    echo "running pid=$pid DOCKER_HOST=unix://$SOCK data-root=$DATA_ROOT log=$LOG_FILE"
    return 0
  fi
  echo "stopped (run dir $RUN_DIR)"
  return 3
}

cmd_env() {
  echo "DOCKER_BUILDKIT=0"
  echo "DOCKER_CONFIG=$RUN_DIR/cli"
  echo "DOCKER_HOST=unix://$SOCK"
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; }

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  -h | --help | help) usage ;;
  *)
    usage
    exit 2
    ;;
esac
