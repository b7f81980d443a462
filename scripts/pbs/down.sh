#!/usr/bin/env bash
# Stop what scripts/pbs/up.sh started: its sshd (by pid file). With --pbs, also the OpenPBS the
# vendored up.sh started (its own down.sh, which stops PBS only if its up.sh started it).
#   PBS_TEST_BASE (default /var/lib/scripthut-pbs), SCRIPTHUT_OPENPBS_DIR as for up.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENDOR=${SCRIPTHUT_OPENPBS_DIR:-$ROOT/../shared/vendor/openpbs}
BASE=${PBS_TEST_BASE:-/var/lib/scripthut-pbs}
[[ $(id -u) -eq 0 ]] || { echo "scripts/pbs/down.sh must run as root" >&2; exit 1; }
PIDFILE=$BASE/run/sshd.pid
if [[ -s $PIDFILE ]]; then
  pid=$(tr -dc '0-9' <"$PIDFILE")
  if [[ -n $pid && -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$BASE/ssh/sshd_config"; then
    kill -TERM "$pid"
    echo "[pbs] stopped sshd (pid $pid)"
  fi
  rm -f "$PIDFILE"
fi
if [[ ${1:-} == --pbs ]]; then
  [[ -f $VENDOR/down.sh ]] || { echo "no $VENDOR/down.sh" >&2; exit 1; }
  bash "$VENDOR/down.sh"
fi
