#!/usr/bin/env bash
# standin-base.sh: the two base images the Dockerfile is built on in the
# tests, made offline (nothing can be pulled here) and imported into the
# engine of scripts/docker-local.sh. Names of our own, never an official
# image's name:
#
#   logagent-test/node-build:24   stands in for node:24-bookworm-slim (the
#                                 Dockerfile's BUILD_IMAGE): node at
#                                 /usr/local/bin, npm, a busybox shell
#   logagent-test/node-base:24    stands in for
#                                 gcr.io/distroless/nodejs24-debian12 (the
#                                 default RUNTIME_IMAGE): node at
#                                 /nodejs/bin/node, its shared libraries, CA
#                                 certificates, passwd/group with root, nobody
#                                 and nonroot (65532) as distroless has them,
#                                 /tmp, and no shell: a Dockerfile step that
#                                 needs one in the runtime stage fails here too
#
# Both are made from this machine's files: the Node 24 binary the bootstrap
# installed (the node on PATH after scripts/env.sh), the shared libraries ldd
# names, a static busybox from Debian's busybox-static package (installed, or
# downloaded with `apt-get download` into the cache and unpacked; the system
# is not changed), npm from the machine's npm installation (the npm on PATH,
# 10 or newer) or else `npm pack npm@11`, and the host's CA bundle with
# NODE_EXTRA_CA_CERTS pointing at it: package downloads inside a build go
# through a TLS chain only that bundle trusts. An image built on these
# carries that bundle, so both are labelled test-only
# (org.logagent.test-only) and the label is inherited by what is built on them.
#
# Usage: scripts/image/standin-base.sh [--force]
#   Needs DOCKER_HOST (scripts/docker-local.sh start prints it). Rebuilds only
#   when an image is missing or was made from different inputs (node version,
#   this script): a stamp label records them. --force rebuilds anyway.
#   Last stdout lines: BUILD_IMAGE=... and RUNTIME_IMAGE=...
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_TAG="logagent-test/node-build:24"
RUNTIME_TAG="logagent-test/node-base:24"
CACHE_ROOT="${LOGAGENT_CACHE_DIR:-${HOME:-/root}/.cache/logagent}"
CACHE="$CACHE_ROOT/standin"
export DOCKER_BUILDKIT=0

log() { printf 'standin-base: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) die "unknown argument '$1' (usage: standin-base.sh [--force])" ;;
esac

[[ -n "${DOCKER_HOST:-}" ]] || die "DOCKER_HOST is not set (run: export \"\$(bash scripts/docker-local.sh start | tail -n1)\")"
command -v docker >/dev/null 2>&1 || die "the docker CLI is not on PATH"
# shellcheck disable=SC1091 # scripts/env.sh
source "$ROOT/scripts/env.sh"

NODE_BIN="$(command -v node)"
NODE_VERSION="$("$NODE_BIN" --version)"
[[ "$NODE_VERSION" == v24.* ]] || die "node on PATH is $NODE_VERSION, not 24 ($NODE_BIN)"
NODE_BIN="$(readlink -f "$NODE_BIN")"
STAMP="$(
  {
    echo "$NODE_VERSION"
    sha256sum "$NODE_BIN" | cut -d' ' -f1
    sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1
  } | sha256sum | cut -c1-16
)"

image_stamp() { docker image inspect --format '{{ index .Config.Labels "org.logagent.standin.stamp" }}' "$1" 2>/dev/null || true; }

if ((force == 0)) && [[ "$(image_stamp "$BUILD_TAG")" == "$STAMP" && "$(image_stamp "$RUNTIME_TAG")" == "$STAMP" ]]; then
  log "up to date ($NODE_VERSION, stamp $STAMP)"
  echo "BUILD_IMAGE=$BUILD_TAG"
  echo "RUNTIME_IMAGE=$RUNTIME_TAG"
  exit 0
fi

mkdir -p "$CACHE"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/logagent-standin.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# ------------------------------------------------------------ inputs
busybox_static() {
  if dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
    echo /bin/busybox
    return
  fi
  local unpacked="$CACHE/busybox-static"
  if [[ ! -x "$unpacked/bin/busybox" ]]; then
    log "downloading Debian's busybox-static (apt-get download; not installed)"
    local dl="$WORK/deb"
    mkdir -p "$dl"
    chmod 0755 "$WORK" "$dl" # apt-get download drops privileges to _apt
    (cd "$dl" && apt-get download busybox-static >&2) ||
      { apt-get update -qq >&2 && (cd "$dl" && apt-get download busybox-static >&2); } ||
      die "apt-get download busybox-static failed"
    rm -rf "$unpacked"
    mkdir -p "$unpacked"
    dpkg-deb -x "$dl"/busybox-static_*.deb "$unpacked"
  fi
  echo "$unpacked/bin/busybox"
}

# npm's package directory: the machine's npm when it is 10 or newer (npm is
# self-contained: its dependencies are bundled in its own node_modules),
# else npm@11 from the registry, unpacked once into the cache.
npm_dir() {
  local npm_cli dir major
  if npm_cli="$(command -v npm)"; then
    dir="$(dirname "$(dirname "$(readlink -f "$npm_cli")")")"
    major="$("$NODE_BIN" -p "require('$dir/package.json').version.split('.')[0]" 2>/dev/null || echo 0)"
    if [[ -f "$dir/bin/npm-cli.js" ]] && ((major >= 10)); then
      echo "$dir"
      return
    fi
  fi
  local cached="$CACHE/npm"
  if [[ ! -f "$cached/bin/npm-cli.js" ]]; then
    log "fetching npm@11 with npm pack"
    (cd "$WORK" && npm pack --silent npm@11 >/dev/null) || die "npm pack npm@11 failed"
    rm -rf "$cached"
    mkdir -p "$cached"
    tar -xzf "$WORK"/npm-*.tgz -C "$cached" --strip-components=1
  fi
  echo "$cached"
}

BUSYBOX="$(busybox_static)"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic' ||
  die "$BUSYBOX is not statically linked"
NPM_DIR="$(npm_dir)"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
[[ -s "$CA_BUNDLE" ]] || die "no CA bundle at $CA_BUNDLE"

# ------------------------------------------------------------ rootfs
# The node binary and every shared library ldd resolves for it, at the same
# paths (glibc 2.34+ has the files/dns NSS modules built in, so nothing is
# dlopen'ed for name resolution).
add_node() {
  local rootfs="$1" dest="$2" lib
  install -D -m 0755 "$NODE_BIN" "$rootfs$dest"
  while read -r lib; do
    [[ -n "$lib" ]] || continue
    install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
  done < <(ldd "$NODE_BIN" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }')
  # The loader is looked up at its canonical path.
  [[ -e "$rootfs/lib64/ld-linux-x86-64.so.2" ]] || die "ldd did not name the loader"
}

add_common() {
  local rootfs="$1"
  mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/tmp" "$rootfs/root" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
  chmod 1777 "$rootfs/tmp"
  chmod 0700 "$rootfs/root"
  install -m 0644 "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  : >"$rootfs/etc/hosts"
  : >"$rootfs/etc/resolv.conf"
}

make_build_rootfs() {
  local rootfs="$WORK/build"
  add_node "$rootfs" /usr/local/bin/node
  add_common "$rootfs"
  mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/bin" "$rootfs/usr/bin" "$rootfs/sbin" "$rootfs/usr/sbin" "$rootfs/home/node"
  cp -a "$NPM_DIR" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  install -m 0755 "$BUSYBOX" "$rootfs/bin/busybox"
  local applet
  for applet in $("$BUSYBOX" --list); do
    [[ "$applet" == busybox ]] && continue
    [[ -e "$rootfs/bin/$applet" ]] || ln -s busybox "$rootfs/bin/$applet"
  done
  ln -s /bin/env "$rootfs/usr/bin/env"
  # As in node:24-bookworm-slim: root and a `node` user 1000.
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnode:x:1000:1000::/home/node:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nnode:x:1000:\n' >"$rootfs/etc/group"
  chown 1000:1000 "$rootfs/home/node"
}

make_runtime_rootfs() {
  local rootfs="$WORK/runtime"
  add_node "$rootfs" /nodejs/bin/node
  add_common "$rootfs"
  mkdir -p "$rootfs/home/nonroot"
  # As in distroless: root, nobody, nonroot (65532). No entry for the
  # agent's uid 10001, so the tests prove it runs without one.
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
  chown 65532:65532 "$rootfs/home/nonroot"
}

import_rootfs() {
  local rootfs="$1" tag="$2" what="$3" path="$4"
  shift 4
  tar --numeric-owner -C "$rootfs" -c . |
    docker import \
      --change "ENV PATH=$path" \
      --change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" \
      --change "LABEL org.logagent.test-only=\"stand-in base made offline from this machine's files, with this machine's CA bundle trusted: for tests only, never for production\"" \
      --change "LABEL org.logagent.standin.stands-in-for=\"$what\"" \
      --change "LABEL org.logagent.standin.node-version=\"$NODE_VERSION\"" \
      --change "LABEL org.logagent.standin.stamp=\"$STAMP\"" \
      "$@" \
      --message "logagent stand-in for $what" \
      - "$tag" >/dev/null
  log "$tag ($what): $(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
}

log "building the stand-in bases from node $NODE_VERSION ($NODE_BIN), busybox $BUSYBOX, npm $NPM_DIR"
make_build_rootfs
make_runtime_rootfs
import_rootfs "$WORK/build" "$BUILD_TAG" "node:24-bookworm-slim" \
  /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --change 'CMD ["node"]'
import_rootfs "$WORK/runtime" "$RUNTIME_TAG" "gcr.io/distroless/nodejs24-debian12" \
  /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --change 'ENTRYPOINT ["/nodejs/bin/node"]'
echo "BUILD_IMAGE=$BUILD_TAG"
echo "RUNTIME_IMAGE=$RUNTIME_TAG"
