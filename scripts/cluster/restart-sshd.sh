#!/usr/bin/env bash
# Fault injection: kill an sshd instance of the test cluster (listener AND its live sessions, so
# clients really lose their connections) and start it again with the same configuration.
#   restart-sshd.sh [PORT] [--down-for SECONDS]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
port=$SLB_SSH_PORT
down_for=0
while (($#)); do
  case $1 in
  --down-for) down_for=$2; shift 2 ;;
  *) port=$1; shift ;;
  esac
done
max=$(cat "$SLB_RUN/sshd-$port.maxsessions" 2>/dev/null || true)
host_key=$(cat "$SLB_RUN/sshd-$port.hostkey" 2>/dev/null || true)
stop_sshd "$port"
sleep "$down_for"
start_sshd "$port" "$max" "$host_key"
slb_log "sshd on port $port restarted"
