#!/usr/bin/env bash
# Source to export the test cluster's settings:   source scripts/cluster/env.sh
# Or run to print them (KEY=VALUE lines):          scripts/cluster/env.sh
_slb_env="${SLB_BASE:-/var/lib/scripthut-cluster}/cluster.env"
if [[ ! -f $_slb_env ]]; then
  echo "cluster not set up: $_slb_env missing (run scripts/cluster/up.sh as root)" >&2
  return 1 2>/dev/null || exit 1
fi
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
  set -a
  # shellcheck disable=SC1090
  source "$_slb_env"
  set +a
else
  cat "$_slb_env"
fi
unset _slb_env
