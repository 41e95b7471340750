#!/usr/bin/env bash
# k8s-build.sh: pinned Kubernetes, etcd and Helm binaries for the tests, built
# from the Go module proxy (no release tarballs can be fetched here) and
# cached outside the repo, so a fresh clone or a `git clean` costs nothing.
#
# What it owns:
#   scripts/k8s/go.mod, go.sum   k8s.io/kubernetes at K8S_VERSION, its staging
#                                modules replaced by their published v0.x
#   scripts/k8s/etcd/            a tiny main over go.etcd.io/etcd/server/v3
#   $LOGAGENT_CACHE_DIR/k8s/<key>/bin   the binaries (default cache dir
#                                ~/.cache/logagent); <key> hashes the module
#                                files, the Go version and the pins below, so
#                                a changed pin builds into a new directory
#
# Usage: scripts/k8s-build.sh [COMMAND] [TARGET]
#   build [TARGET]  build what TARGET lacks, then print the bin dir (default)
#   check [TARGET]  print the bin dir and exit 0 if TARGET is complete there,
#                   else exit 1 without building (for "skip unless built")
#   dir             print the bin dir, whatever it holds
#   TARGET is one of
#     apiserver     etcd, kube-apiserver, kubectl
#     node          kubelet, kube-scheduler, kube-controller-manager
#     helm          helm
#     all           all of the above (default)
# Progress goes to stderr; the last stdout line is the bin dir.
# A cold `all` takes ~15-20 min and ~2 GB of RAM on 2 cores; a warm call
# returns at once. Go's module and build caches speed a rebuild up but are
# not needed: an empty cache only means downloading the modules again.
#
# Environment:
#   LOGAGENT_CACHE_DIR   cache root (~/.cache/logagent)
#   K8S_BUILD_PARALLEL   go build -p (2): more parallel compiles need more
#                        RAM, and linking kubelet/apiserver needs ~1 GB each
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOD_DIR="$ROOT/scripts/k8s"
ETCD_DIR="$MOD_DIR/etcd"

# The pins. K8S_VERSION must equal the require line in scripts/k8s/go.mod (and
# the staging replaces there must be v0.<minor>.<patch> of it); checked below.
K8S_VERSION="v1.34.4"
HELM_VERSION="v3.22.0"
# Bump when the way of building changes (flags, layout), to force new binaries.
RECIPE=1

CACHE_ROOT="${LOGAGENT_CACHE_DIR:-$HOME/.cache/logagent}"
# The machine's Go lives in /usr/local/go; a non-login shell (CI) may not
# have it on PATH.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then PATH="/usr/local/go/bin:$PATH"; fi
PARALLEL="${K8S_BUILD_PARALLEL:-2}"

# A Go that matches the one hashed into the key: never let the go command
# switch toolchains on its own (that would download one and bypass the key).
export GOTOOLCHAIN=local
export GOFLAGS="-buildvcs=false -trimpath -p=$PARALLEL"
# Static binaries: no C toolchain needed, and the kubelet runs anywhere here.
export CGO_ENABLED=0

log() { printf 'k8s-build: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

target_bins() {
  case "$1" in
    apiserver) echo "etcd kube-apiserver kubectl" ;;
    node) echo "kubelet kube-scheduler kube-controller-manager" ;;
    helm) echo "helm" ;;
    all) echo "etcd kube-apiserver kubectl kubelet kube-scheduler kube-controller-manager helm" ;;
    *) die "unknown target '$1' (apiserver|node|helm|all)" ;;
  esac
}

go_version() {
  command -v go >/dev/null 2>&1 || die "go not found on PATH (Go 1.26 is needed)"
  go env GOVERSION
}

# Everything that decides what the binaries are. Comments in this script do
# not count, so editing them does not cost a 20-minute rebuild.
cache_key() {
  {
    echo "recipe=$RECIPE k8s=$K8S_VERSION helm=$HELM_VERSION go=$(go_version) cgo=$CGO_ENABLED"
    echo "goarch=$(go env GOARCH) goos=$(go env GOOS)"
    cat "$MOD_DIR/go.mod" "$MOD_DIR/go.sum" "$ETCD_DIR/go.mod" "$ETCD_DIR/go.sum" "$ETCD_DIR/main.go"
  } | sha256sum | cut -c1-16
}

key_dir() { echo "$CACHE_ROOT/k8s/$(cache_key)"; }

missing_bins() {
  local bin="$1" b out=""
  shift
  for b in "$@"; do [[ -x "$bin/$b" ]] || out+="$b "; done
  echo "$out"
}

check_pins() {
  # (go mod tidy marks it "// indirect": tools count as indirect requires.)
  grep -qE "^(require)?\s*k8s.io/kubernetes $K8S_VERSION( |\$)" "$MOD_DIR/go.mod" ||
    die "scripts/k8s/go.mod does not require k8s.io/kubernetes $K8S_VERSION (keep the two pins equal)"
  local staging="v0.${K8S_VERSION#v1.}"
  if grep -E '^\s+k8s.io/[a-z-]+ => ' "$MOD_DIR/go.mod" | grep -vq " $staging\$"; then
    die "a staging replace in scripts/k8s/go.mod is not at $staging"
  fi
}

# -X flags that make `kubectl version` & co. report the pinned release instead
# of v0.0.0-master (the module zip has no git metadata to derive them from).
k8s_ldflags() {
  local minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  local date
  # The release's publication time from the proxy's .info, for a reproducible
  # build date; the epoch when that file is not in the module cache.
  date="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' \
    "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.info" 2>/dev/null || true)"
  local flags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit= -X $pkg.buildDate=${date:-1970-01-01T00:00:00Z}"
  done
  echo "$flags"
}

# Build into a private temp dir, then move each binary into place: an
# interrupted build never leaves a half-written binary that looks complete.
install_bins() {
  local tmp="$1" bin="$2" b
  shift 2
  for b in "$@"; do
    [[ -x "$tmp/$b" ]] || die "build produced no $b"
    mv -f "$tmp/$b" "$bin/$b"
  done
}

build_k8s() {
  local bin="$1" tmp pkgs=() b t0=$SECONDS
  shift
  for b in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  tmp="$(mktemp -d "$bin/.tmp.XXXXXX")"
  log "building $* from k8s.io/kubernetes $K8S_VERSION (go build -p $PARALLEL; cold: 10-20 min)"
  # One go build for all of them: the shared packages compile once.
  (cd "$MOD_DIR" && go mod download k8s.io/kubernetes && go build -ldflags "$(k8s_ldflags)" -o "$tmp/" "${pkgs[@]}") >&2 ||
    {
      rm -rf "$tmp"
      die "go build of $* failed"
    }
  install_bins "$tmp" "$bin" "$@"
  rm -rf "$tmp"
  log "built $* in $((SECONDS - t0))s"
}

build_etcd() {
  local bin="$1" tmp t0=$SECONDS
  tmp="$(mktemp -d "$bin/.tmp.XXXXXX")"
  log "building etcd ($(grep -E '^require go.etcd.io/etcd/server/v3 ' "$ETCD_DIR/go.mod" | cut -d' ' -f3))"
  (cd "$ETCD_DIR" && go build -ldflags "-s -w" -o "$tmp/etcd" .) >&2 || {
    rm -rf "$tmp"
    die "go build of etcd failed"
  }
  install_bins "$tmp" "$bin" etcd
  rm -rf "$tmp"
  log "built etcd in $((SECONDS - t0))s"
}

build_helm() {
  local bin="$1" tmp gomod cg major minor t0=$SECONDS
  tmp="$(mktemp -d "$bin/.tmp.XXXXXX")"
  log "building helm $HELM_VERSION"
  # Helm's Makefile stamps the Kubernetes version its client libraries speak
  # (from its client-go require) into `helm template`'s default capabilities;
  # do the same, or charts would be rendered for a made-up cluster version.
  gomod="$(cd "$tmp" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  cg="$(sed -n 's/^\s*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod" | head -n1)"
  [[ -n "$cg" ]] || die "could not read helm's client-go version from $gomod"
  major=1
  minor="$cg"
  (cd "$tmp" && GOBIN="$tmp" GOFLAGS="$GOFLAGS" go install -ldflags "-s -w \
    -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
    -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$major \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$major \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") >&2 || {
    rm -rf "$tmp"
    die "go install of helm $HELM_VERSION failed"
  }
  install_bins "$tmp" "$bin" helm
  rm -rf "$tmp"
  log "built helm in $((SECONDS - t0))s"
}

cmd_build() {
  local target="$1" dir bin missing k8s=() b
  check_pins
  dir="$(key_dir)"
  bin="$dir/bin"
  # shellcheck disable=SC2046
  missing="$(missing_bins "$bin" $(target_bins "$target"))"
  if [[ -z "$missing" ]]; then
    echo "$bin"
    return 0
  fi
  mkdir -p "$bin"
  # One builder per key at a time (CI and a developer's shell may race); the
  # second one finds the binaries built when it gets the lock.
  exec 8>"$dir/.lock"
  if ! flock -n 8; then
    log "another build holds $dir/.lock; waiting for it"
    flock 8
  fi
  # shellcheck disable=SC2046
  missing="$(missing_bins "$bin" $(target_bins "$target"))"
  log "cache $dir; missing: $missing"
  {
    echo "k8s=$K8S_VERSION helm=$HELM_VERSION go=$(go_version) recipe=$RECIPE"
    echo "etcd: $(grep -E '^require go.etcd.io/etcd/server/v3 ' "$ETCD_DIR/go.mod")"
  } >"$dir/PINS"
  for b in $missing; do
    case "$b" in
      etcd) build_etcd "$bin" ;;
      helm) build_helm "$bin" ;;
      *) k8s+=("$b") ;;
    esac
  done
  ((${#k8s[@]} == 0)) || build_k8s "$bin" "${k8s[@]}"
  flock -u 8
  exec 8>&-
  echo "$bin"
}

cmd_check() {
  local bin missing
  check_pins
  bin="$(key_dir)/bin"
  # shellcheck disable=SC2046
  missing="$(missing_bins "$bin" $(target_bins "$1"))"
  if [[ -n "$missing" ]]; then
    log "not built yet in $bin: $missing(run scripts/k8s-build.sh $1)"
    return 1
  fi
  echo "$bin"
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; }

main() {
  local cmd="${1:-build}"
  case "$cmd" in
    build | check | dir) (($#)) && shift ;;
    apiserver | node | helm | all) cmd=build ;;
    -h | --help | help)
      usage
      return 0
      ;;
    *)
      usage
      exit 2
      ;;
  esac
  local target="${1:-all}"
  target_bins "$target" >/dev/null
  case "$cmd" in
    build) cmd_build "$target" ;;
    check) cmd_check "$target" ;;
    dir) echo "$(key_dir)/bin" ;;
  esac
}

main "$@"
