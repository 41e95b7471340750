#!/usr/bin/env bash
# debs.sh DEST PACKAGE...: unpacks Debian packages, with whichever of their
# dependencies the machine lacks, into DEST (dpkg-deb -x), without installing
# anything: no maintainer scripts run, so no system service is started or
# touched, and packages that conflict as installed packages (Debian's
# syslog-ng-core and rsyslog) can sit side by side. Idempotent: DEST/.stamp
# records the package list and versions; a matching stamp is a no-op.
# Prints DEST on success. Used by bench/contenders/{rsyslog,syslog-ng}.ts.
set -euo pipefail
dest="$1"
shift
(($#)) || {
  echo "usage: debs.sh DEST PACKAGE..." >&2
  exit 2
}
log() { printf 'debs.sh: %s\n' "$*" >&2; }

# What apt would install on top of this machine: the packages and their missing dependencies.
plan() { apt-get install -s -qq --no-install-recommends "$@" 2>/dev/null | sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1=\2/p'; }

want="$(plan "$@" || true)"
if [[ -z "$want" ]]; then
  log "apt knows none of $* (or all are installed); running apt-get update once"
  apt-get update -qq >&2
  want="$(plan "$@" || true)"
fi
stamp="$(printf '%s\n' "$@" "--" $want | sha256sum | cut -d' ' -f1)"
if [[ -f "$dest/.stamp" && "$(cat "$dest/.stamp")" == "$stamp" ]]; then
  echo "$dest"
  exit 0
fi
[[ -n "$want" ]] || {
  log "nothing to unpack for $* (already installed on this machine?)"
  mkdir -p "$dest"
  echo "$stamp" >"$dest/.stamp"
  echo "$dest"
  exit 0
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work" # apt-get download drops privileges to _apt
log "downloading $(echo $want)"
# shellcheck disable=SC2086
(cd "$work" && apt-get download -qq $want >&2)
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$dest.tmp"; done
echo "$stamp" >"$dest.tmp/.stamp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
log "unpacked into $dest"
echo "$dest"
