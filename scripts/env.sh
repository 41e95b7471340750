# Sourced by every script: puts Node.js 24 first on PATH (installing it when
# needed) and the project's local bins after it.
_logagent_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_logagent_node_bin="$(bash "$_logagent_root/scripts/bootstrap-node.sh")" || return 1
export PATH="$_logagent_node_bin:$_logagent_root/node_modules/.bin:$PATH"
unset _logagent_node_bin
