#!/usr/bin/env bash
# image-tar.sh: pack a directory as a single-layer container image tarball in
# `docker save` format (manifest.json + config + layer.tar), which
# `ctr images import` and `docker load` both read. Nothing can be pulled here,
# and no docker daemon is needed for this: the files are written by hand.
#
# Usage: scripts/k8s/image-tar.sh --ref REF --rootfs DIR --out FILE
#          [--entrypoint ARG]... [--cmd ARG]... [--env K=V]... [--workdir DIR]
#   REF         image reference, e.g. localhost/logagent/pause:1 (a name with a
#               host part, so containerd does not rename it under docker.io)
#   DIR         the image's root file system, packed as the only layer: owner
#               root, mtime 0, sorted, so equal input gives an equal image
#   --entrypoint/--cmd may repeat: one argument each
# Last stdout line: FILE.
set -euo pipefail

log() { printf 'image-tar: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# JSON string literal of $1 (refs, paths and arguments are plain text here, but
# quotes and backslashes are still escaped so a cmd like sh -c '...' works).
jstr() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\t'/\\t}"
  printf '"%s"' "$s"
}
jarr() {
  local out="" a
  for a in "$@"; do out+="${out:+,}$(jstr "$a")"; done
  printf '[%s]' "$out"
}

ref="" rootfs="" out="" workdir="/"
entry=() cmd=() env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
while (($#)); do
  case "$1" in
    --ref) ref="$2" ;;
    --rootfs) rootfs="$2" ;;
    --out) out="$2" ;;
    --entrypoint) entry+=("$2") ;;
    --cmd) cmd+=("$2") ;;
    --env) env+=("$2") ;;
    --workdir) workdir="$2" ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift 2 || die "$1 needs a value"
done
[[ -n "$ref" && -n "$rootfs" && -n "$out" ]] || die "--ref, --rootfs and --out are required"
[[ -d "$rootfs" ]] || die "no directory $rootfs"
[[ "$ref" == *:* ]] || ref="$ref:latest"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Entries named "bin/sh", not "./bin/sh", like docker's own layers.
mapfile -t top < <(ls -A "$rootfs")
((${#top[@]})) || die "$rootfs is empty"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu \
  -C "$rootfs" -cf "$work/layer.tar" -- "${top[@]}"
layer_sha="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"

arch="$(uname -m)"
case "$arch" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
esac

config="{\"architecture\":\"$arch\",\"os\":\"linux\",\"created\":\"1970-01-01T00:00:00Z\",\"config\":{"
config+="\"Env\":$(jarr "${env[@]}"),\"WorkingDir\":$(jstr "$workdir")"
((${#entry[@]})) && config+=",\"Entrypoint\":$(jarr "${entry[@]}")"
((${#cmd[@]})) && config+=",\"Cmd\":$(jarr "${cmd[@]}")"
config+="},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$layer_sha\"]},"
config+="\"history\":[{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"scripts/k8s/image-tar.sh\"}]}"
printf '%s' "$config" >"$work/config.json"
config_sha="$(sha256sum "$work/config.json" | cut -d' ' -f1)"

mkdir -p "$work/out/$layer_sha"
mv "$work/layer.tar" "$work/out/$layer_sha/layer.tar"
mv "$work/config.json" "$work/out/$config_sha.json"
printf '[{"Config":"%s.json","RepoTags":[%s],"Layers":["%s/layer.tar"]}]' \
  "$config_sha" "$(jstr "$ref")" "$layer_sha" >"$work/out/manifest.json"
# The legacy index that older `docker load` versions still look for.
name="${ref%:*}"
printf '{%s:{%s:"%s"}}' "$(jstr "$name")" "$(jstr "${ref##*:}")" "$layer_sha" >"$work/out/repositories"

mkdir -p "$(dirname "$out")"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/out" -cf "$out.tmp" \
  manifest.json repositories "$config_sha.json" "$layer_sha"
mv -f "$out.tmp" "$out"
log "$ref -> $out (config sha256:${config_sha:0:12}, $(du -h "$out" | cut -f1))"
echo "$out"
