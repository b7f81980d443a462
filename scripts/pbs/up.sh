#!/usr/bin/env bash
# Bring up the REAL OpenPBS for ScriptHut's `real-pbs` test group, plus an sshd for its user:
#   1. the vendored OpenPBS bring-up (`up.sh` next to the unmodified source tarball: build into
#      /opt/pbs when missing, ~2.5 min on 2 cores, then configure and start; idempotent), in the job
#      history mode asked for (PBS_JOB_HISTORY=0 stock/off, 1 on; re-running switches);
#   2. a queue `scripthutlimq` with a per-user limit of 1 queued job (PBS Pro `max_queued`), so the
#      tests can hit "would exceed queue …'s per-user limit" for real;
#   3. an sshd for `pbsuser` only, on 127.0.0.1 and a free port, with its own host key and a client
#      key generated here; login sessions get /opt/pbs/bin on PATH and a non-UTC time zone
#      (Asia/Kolkata, so a client that forgets `TZ=UTC qstat` reads dates 5.5 h off);
#   4. $PBS_TEST_BASE/pbs.env with what the tests need (see README.md in this directory).
# Runs as root on Debian 12. Idempotent (~5 s when everything is up).
#
#   SCRIPTHUT_OPENPBS_DIR  the vendored OpenPBS (default: ../shared/vendor/openpbs next to the repo)
#   PBS_JOB_HISTORY        0 (default, the stock setting) or 1
#   PBS_TEST_BASE          state: keys, sshd config, pid file, logs (default /var/lib/scripthut-pbs)
#   SCRIPTHUT_OPENPBS_LOCK_HELD=1  the caller already holds /tmp/scripthut-openpbs.lock
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENDOR=${SCRIPTHUT_OPENPBS_DIR:-$ROOT/../shared/vendor/openpbs}
BASE=${PBS_TEST_BASE:-/var/lib/scripthut-pbs}
HISTORY=${PBS_JOB_HISTORY:-0}
PBSUSER=pbsuser
LOGIN_TZ=Asia/Kolkata
LIMIT_QUEUE=scripthutlimq
LOCK=/tmp/scripthut-openpbs.lock
T0=$(date +%s)

say() { printf '[pbs %3ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() {
  echo "[pbs] ERROR: $*" >&2
  exit 1
}

[[ $(id -u) -eq 0 ]] || die "scripts/pbs/up.sh must run as root"
[[ $HISTORY == 0 || $HISTORY == 1 ]] || die "PBS_JOB_HISTORY must be 0 or 1, not '$HISTORY'"
[[ -f $VENDOR/up.sh ]] || die "the OpenPBS source is not there: $VENDOR/up.sh (set SCRIPTHUT_OPENPBS_DIR)"

# One user of the shared OpenPBS at a time.
if [[ ${SCRIPTHUT_OPENPBS_LOCK_HELD:-} != 1 ]]; then
  exec 8>"$LOCK"
  flock -w 1800 8 || die "could not take $LOCK"
fi

# Run a command with only stdin, stdout and stderr open. Daemons started here must not inherit
# other descriptors: pbs_sched keeps inherited ones open for its whole life, so a lock descriptor
# (`flock LOCK cmd` without -o hands one down) would hold the OpenPBS lock until PBS stops.
without_fds() {
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec "$@"
  )
}

mkdir -p "$BASE/run" "$BASE/log" "$BASE/ssh/authorized_keys"
chmod 0755 "$BASE" "$BASE/run" "$BASE/log" "$BASE/ssh" "$BASE/ssh/authorized_keys"

# ---------------------------------------------------------------------------------------------
# 1. OpenPBS (build on first use, start, history mode)
say "OpenPBS bring-up ($VENDOR/up.sh, PBS_JOB_HISTORY=$HISTORY; the first build takes minutes)"
if ! PBS_JOB_HISTORY=$HISTORY SKIP_SMOKE=1 without_fds bash "$VENDOR/up.sh" >"$BASE/log/openpbs-up.log" 2>&1; then
  tail -40 "$BASE/log/openpbs-up.log" >&2
  die "the OpenPBS bring-up failed (log: $BASE/log/openpbs-up.log, build log: /tmp/openpbs-up.log)"
fi
sed 's/^/  /' "$BASE/log/openpbs-up.log" | grep -E 'build|started|running|state|up:' || true
QMGR=/opt/pbs/bin/qmgr
want=$([[ $HISTORY == 1 ]] && echo True || echo False)
have=$(/opt/pbs/bin/qstat -Bf | sed -n 's/^ *job_history_enable = //p')
[[ ${have:-False} == "$want" ]] || die "job_history_enable is '${have:-unset}', expected $want"

# ---------------------------------------------------------------------------------------------
# 2. A queue with a per-user limit of one queued job
if ! $QMGR -c "list queue $LIMIT_QUEUE" >/dev/null 2>&1; then
  $QMGR -c "create queue $LIMIT_QUEUE queue_type=execution"
  $QMGR -c "set queue $LIMIT_QUEUE max_queued = [u:PBS_GENERIC=1]"
  $QMGR -c "set queue $LIMIT_QUEUE enabled=True"
  $QMGR -c "set queue $LIMIT_QUEUE started=True"
  say "created queue $LIMIT_QUEUE (max_queued = [u:PBS_GENERIC=1])"
fi

# ---------------------------------------------------------------------------------------------
# 3. sshd for pbsuser ('*' password field: sshd with UsePAM no refuses a locked '!' account)
id "$PBSUSER" >/dev/null 2>&1 || die "user $PBSUSER missing after the OpenPBS bring-up"
if [[ $(getent shadow "$PBSUSER" | cut -d: -f2) != "*" ]]; then usermod -p '*' "$PBSUSER"; fi
PBS_HOME_DIR=$(getent passwd "$PBSUSER" | cut -d: -f6)
SSH=$BASE/ssh
[[ -f $SSH/ssh_host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -C scripthut-pbs-host -f "$SSH/ssh_host_ed25519_key"
[[ -f $SSH/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C scripthut-pbs-test -f "$SSH/id_ed25519"
install -m 0644 "$SSH/id_ed25519.pub" "$SSH/authorized_keys/$PBSUSER"
PIDFILE=$BASE/run/sshd.pid

sshd_alive() {
  local pid
  [[ -s $PIDFILE ]] || return 1
  pid=$(tr -dc '0-9' <"$PIDFILE")
  [[ -n $pid && -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$SSH/sshd_config"
}
port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
write_sshd_config() {
  cat >"$SSH/sshd_config" <<EOF
# Generated by scripthut scripts/pbs/up.sh
Port $1
ListenAddress 127.0.0.1
HostKey $SSH/ssh_host_ed25519_key
PidFile $PIDFILE
AuthorizedKeysFile $SSH/authorized_keys/%u
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $PBSUSER
MaxStartups 100:30:200
MaxSessions 100
LogLevel INFO
Subsystem sftp internal-sftp
SetEnv PATH=/opt/pbs/bin:/usr/local/bin:/usr/bin:/bin TZ=$LOGIN_TZ
EOF
}

if sshd_alive; then
  PORT=$(sed -n 's/^Port //p' "$SSH/sshd_config")
else
  mkdir -p /run/sshd && chmod 0755 /run/sshd
  PORT=
  for p in $(shuf -i 20000-39999 -n 40); do
    port_free "$p" || continue
    write_sshd_config "$p"
    /usr/sbin/sshd -t -f "$SSH/sshd_config" || die "invalid $SSH/sshd_config"
    if without_fds /usr/sbin/sshd -f "$SSH/sshd_config" -E "$BASE/log/sshd.log"; then
      for _ in $(seq 1 50); do sshd_alive && break; sleep 0.1; done
      if sshd_alive; then PORT=$p; break; fi
    fi
  done
  [[ -n $PORT ]] || die "could not start sshd on a free port (see $BASE/log/sshd.log)"
  say "sshd for $PBSUSER started on 127.0.0.1:$PORT"
fi
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1-2 "$SSH/ssh_host_ed25519_key.pub")" >"$SSH/known_hosts"
# World-readable copies of the throwaway client key for test runners that are not root.
install -d -m 0755 "$SSH/readable"
for f in id_ed25519 id_ed25519.pub known_hosts; do install -m 0644 "$SSH/$f" "$SSH/readable/$f"; done

# ---------------------------------------------------------------------------------------------
# 4. pbs.env + smoke test over SSH (the history mode as pbsuser sees it)
VERSION=$(/opt/pbs/bin/qstat --version | sed -n 's/^pbs_version = //p')
cat >"$BASE/pbs.env.tmp" <<EOF
PBS_TEST_BASE=$BASE
SSH_HOST=127.0.0.1
SSH_PORT=$PORT
SSH_USER=$PBSUSER
SSH_KEY=$SSH/id_ed25519
SSH_KNOWN_HOSTS=$SSH/known_hosts
SSH_READABLE_KEYS_DIR=$SSH/readable
USER_HOME=$PBS_HOME_DIR
LOGIN_TZ=$LOGIN_TZ
PBS_VERSION=$VERSION
PBS_SERVER=$(sed -n 's/^PBS_SERVER=//p' /etc/pbs.conf)
PBS_JOB_HISTORY=$HISTORY
PBS_DEFAULT_QUEUE=workq
PBS_SHORT_QUEUE=shortq
PBS_SHORT_QUEUE_MAX_WALLTIME=00:10:00
PBS_LIMIT_QUEUE=$LIMIT_QUEUE
PBS_CPUS=$(/opt/pbs/bin/pbsnodes -a | sed -n 's/^ *resources_available.ncpus = //p' | head -1)
EOF
mv -f "$BASE/pbs.env.tmp" "$BASE/pbs.env"

out=$(ssh -F none -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=5 -i "$SSH/id_ed25519" \
  -o UserKnownHostsFile="$SSH/known_hosts" -o StrictHostKeyChecking=yes -p "$PORT" "$PBSUSER@127.0.0.1" \
  'h=$(qstat -Bf | sed -n "s/^ *job_history_enable = //p"); echo "history=${h:-False} TZ=$TZ"' 2>&1 </dev/null) ||
  { echo "$out" >&2; die "ssh smoke test failed (see $BASE/log/sshd.log)"; }
grep -qx "history=$want TZ=$LOGIN_TZ" <<<"$out" || { echo "$out" >&2; die "over SSH: '$out', expected history=$want TZ=$LOGIN_TZ"; }
say "OpenPBS $VERSION up (job history $([[ $HISTORY == 1 ]] && echo on || echo off)); ssh $PBSUSER@127.0.0.1:$PORT"
echo "$BASE/pbs.env"
