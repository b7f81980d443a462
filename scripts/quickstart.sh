#!/usr/bin/env bash
# One command from a fresh clone to a running ScriptHut: installs pnpm (pinned) and the dependencies,
# then starts the server with the embedded default (a local backend, the `demo` workflow, SQLite in
# ~/.cache/scripthut) on http://127.0.0.1:8000. Extra arguments go to `scripthut serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v pnpm >/dev/null 2>&1; then
  npm install -g "pnpm@$(node -p "require('./package.json').packageManager.split('@')[1]")"
fi
pnpm install --frozen-lockfile
exec pnpm start "$@"
