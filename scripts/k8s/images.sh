#!/usr/bin/env bash
# images.sh: the two images the local node needs, made offline (nothing can
# be pulled here) and cached outside the repo:
#   pause.tar    localhost/logagent/pause:1    the pod sandbox (scripts/k8s/pause)
#   busybox.tar  localhost/logagent/busybox:1  Debian's busybox-static binary
#                with a symlink per applet, /tmp, and root/nobody in /etc
# Both are `docker save` tarballs written by scripts/k8s/image-tar.sh, for
# `scripts/k8s-local.sh import-image` (start --node imports both itself).
#
# Usage: scripts/k8s/images.sh      builds what is missing; the last stdout
#                                   line is the directory holding both tarballs
# The cache key hashes the pause sources, the packing scripts, the Go version
# and the busybox binary, so a change to any of them makes new tarballs.
# Needs: go (the pause build takes seconds), /bin/busybox from Debian's
# busybox-static (installed here when missing and apt-get is there).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/k8s"
CACHE_ROOT="${LOGAGENT_CACHE_DIR:-$HOME/.cache/logagent}"
# The machine's Go lives in /usr/local/go; a non-login shell (CI) may not
# have it on PATH.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then PATH="/usr/local/go/bin:$PATH"; fi
PAUSE_REF="localhost/logagent/pause:1"
BUSYBOX_REF="localhost/logagent/busybox:1"
BUSYBOX_BIN="${K8S_BUSYBOX_BIN:-/bin/busybox}"

log() { printf 'k8s-images: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Debian's busybox (the dynamic one) would need libc inside the image: only
# the static build from busybox-static will do.
static_busybox() {
  [[ -x "$BUSYBOX_BIN" ]] && ! LC_ALL=C readelf -l "$BUSYBOX_BIN" 2>/dev/null | grep -q 'INTERP'
}
if ! static_busybox; then
  if [[ "$BUSYBOX_BIN" == /bin/busybox ]] && command -v apt-get >/dev/null 2>&1 && [[ $EUID == 0 ]]; then
    log "installing Debian's busybox-static for the busybox test image"
    (apt-get install -y -qq busybox-static >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null; }) >&2
  fi
  static_busybox || die "$BUSYBOX_BIN is not a static busybox (apt-get install busybox-static)"
fi

command -v go >/dev/null 2>&1 || die "go not found on PATH"
key="$({
  echo "refs=$PAUSE_REF $BUSYBOX_REF go=$(GOTOOLCHAIN=local go env GOVERSION) arch=$(uname -m)"
  cat "$HERE/pause/main.go" "$HERE/pause/go.mod" "$HERE/image-tar.sh" "${BASH_SOURCE[0]}" "$BUSYBOX_BIN"
} | sha256sum | cut -c1-16)"
out="$CACHE_ROOT/k8s/images/$key"
if [[ -s "$out/pause.tar" && -s "$out/busybox.tar" ]]; then
  echo "$out"
  exit 0
fi

mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log "building the pause image"
mkdir -p "$work/pause"
(cd "$HERE/pause" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
  go build -trimpath -ldflags '-s -w' -o "$work/pause/pause" .) >&2 || die "go build of pause failed"
bash "$HERE/image-tar.sh" --ref "$PAUSE_REF" --rootfs "$work/pause" --out "$out/pause.tar" \
  --entrypoint /pause >/dev/null

log "building the busybox image from $BUSYBOX_BIN"
rb="$work/busybox"
mkdir -p "$rb/bin" "$rb/etc" "$rb/tmp" "$rb/root" "$rb/proc" "$rb/sys" "$rb/dev"
chmod 1777 "$rb/tmp"
cp "$BUSYBOX_BIN" "$rb/bin/busybox"
# One symlink per applet, all in /bin (PATH has it), so `sh`, `sleep`, `cat`
# and `trap` work as in the upstream busybox image.
"$BUSYBOX_BIN" --list | while read -r applet; do
  [[ "$applet" == busybox || -e "$rb/bin/$applet" ]] || ln -s busybox "$rb/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rb/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$rb/etc/group"
bash "$HERE/image-tar.sh" --ref "$BUSYBOX_REF" --rootfs "$rb" --out "$out/busybox.tar" \
  --cmd sh >/dev/null
echo "$out"
