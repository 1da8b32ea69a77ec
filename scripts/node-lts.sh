#!/usr/bin/env bash
# Cartable needs Node.js 22.12 or newer (Node.js 20 is past its end of life). On a machine whose
# node is older, this installs Node.js 24, the current LTS, from the npm registry's `node`
# package (it carries the official builds) under .cache/node, and puts it first on PATH; npm then
# runs on it too. Nothing is installed when the machine's node is recent enough.
#
#   source scripts/node-lts.sh    node and npm run on a supported Node.js in this shell
#   bash scripts/node-lts.sh      prints the directory to put first on PATH ("" if none is needed)

node_lts_major=24
node_lts_bin="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/node/node_modules/.bin"

# True when `node` on PATH is 22.12 or newer.
node_lts_recent() {
  local version major minor
  version=$(node -p 'process.versions.node' 2>/dev/null) || return 1
  IFS=. read -r major minor _ <<<"$version"
  ((major > 22 || (major == 22 && minor >= 12)))
}

node_lts_setup() {
  node_lts_recent && return 0
  command -v npm >/dev/null 2>&1 || {
    echo "node-lts: Node.js 22.12 or newer is needed, and npm is missing to fetch it: install Node.js 24 (e.g. with nvm)" >&2
    return 1
  }
  if [[ "$("$node_lts_bin/node" --version 2>/dev/null)" != v${node_lts_major}.* ]]; then
    echo "node-lts: $(node --version 2>/dev/null || echo 'no node') is too old; installing Node.js $node_lts_major from the npm registry into .cache/node" >&2
    npm install --prefix "${node_lts_bin%/node_modules/.bin}" --no-audit --no-fund --loglevel=error "node@$node_lts_major" >&2 || return 1
    [[ "$("$node_lts_bin/node" --version 2>/dev/null)" == v${node_lts_major}.* ]] || {
      echo "node-lts: the node package did not provide a Node.js $node_lts_major binary in .cache/node" >&2
      return 1
    }
  fi
  export PATH="$node_lts_bin:$PATH"
  echo "node-lts: using Node.js $(node --version) from .cache/node" >&2
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  node_lts_setup || exit 1
  [[ "$(command -v node)" == "$node_lts_bin/node" ]] && echo "$node_lts_bin" || echo ""
else
  node_lts_setup
fi
