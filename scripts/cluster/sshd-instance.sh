#!/usr/bin/env bash
# Start or stop an extra sshd instance with the test cluster's config on another port, e.g. for
# tests that need OpenSSH's default MaxSessions 10, another host key, or that kill the server.
#   sshd-instance.sh start PORT [MAX_SESSIONS] [HOST_KEY]   (MAX_SESSIONS may be '' for the default)
#   sshd-instance.sh stop PORT
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
cmd=${1:?usage: sshd-instance.sh start|stop PORT [MAX_SESSIONS] [HOST_KEY]}
port=${2:?port required}
case $cmd in
start) start_sshd "$port" "${3:-}" "${4:-}" ;;
stop) stop_sshd "$port"; rm -f "$SLB_RUN/sshd-$port.maxsessions" "$SLB_RUN/sshd-$port.hostkey" ;;
*) slb_die "unknown command $cmd" ;;
esac
