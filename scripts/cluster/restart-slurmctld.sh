#!/usr/bin/env bash
# Fault injection: kill slurmctld (by pid file) and start it again with the same configuration.
#   restart-slurmctld.sh [--down-for SECONDS]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
down_for=0
[[ ${1:-} == --down-for ]] && down_for=${2:-0}
pidfile="$SLB_SLURM/run/slurmctld.pid"
stop_pidfile "$pidfile" slurmctld
sleep "$down_for"
/usr/sbin/slurmctld || slb_die "slurmctld failed to start"
wait_for 30 slurmctld scontrol ping || slb_die "slurmctld not answering after restart"
slb_log "slurmctld restarted"
