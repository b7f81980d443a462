# shellcheck shell=bash
# Shared helpers for the local test cluster scripts (sourced by up.sh, down.sh, restart-*.sh).
# Everything the cluster owns lives under $SLB_BASE; daemons write pid files to $SLB_BASE/run.

SLB_BASE=${SLB_BASE:-/var/lib/scripthut-cluster}
SLB_SSH_PORT=${SLB_SSH_PORT:-2222}
SLB_DB_PORT=${SLB_DB_PORT:-3307}
SLB_RUN="$SLB_BASE/run"
SLB_LOG="$SLB_BASE/log"
SLB_SSH="$SLB_BASE/ssh"
SLB_SLURM="$SLB_BASE/slurm"
SLB_NODE=$(hostname -s)
export SLB_BASE SLB_SSH_PORT SLB_DB_PORT

SLB_T0=$(date +%s.%N)
# Print a step message with the elapsed time since the script started.
slb_log() {
  local now
  now=$(date +%s.%N)
  printf '[cluster %6.2fs] %s\n' "$(awk -v a="$now" -v b="$SLB_T0" 'BEGIN { printf "%.2f", a - b }')" "$*"
}

slb_die() {
  echo "[cluster] ERROR: $*" >&2
  exit 1
}

# pid_alive PID -> 0 when the process exists and is not a zombie (PID 1 reaps slowly here).
pid_alive() {
  local pid=$1 state
  [[ -n $pid && $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z && $state != X ]]
}

# alive PIDFILE [NAME] -> 0 when the pid file names a live (non-zombie) process whose command
# line mentions NAME (guards against recycled pids from stale pid files).
alive() {
  local file=$1 name=${2:-} pid
  [[ -s $file ]] || return 1
  pid=$(tr -dc '0-9' <"$file")
  pid_alive "$pid" || return 1
  if [[ -n $name ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name" || return 1
  fi
  return 0
}

# stop_pidfile PIDFILE NAME [TIMEOUT_S] -> TERM the process, wait (zombie counts as stopped), KILL.
stop_pidfile() {
  local file=$1 name=$2 timeout=${3:-15} pid i
  if ! alive "$file" "$name"; then
    rm -f "$file"
    return 0
  fi
  pid=$(tr -dc '0-9' <"$file")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  if pid_alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$file"
}

# wait_for SECONDS DESCRIPTION CMD... -> poll CMD every 0.2 s until it succeeds.
wait_for() {
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

# children_of PID -> pids whose parent is PID (no procps needed).
children_of() {
  awk -v p="$1" '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); if (f[2] == p) print $1 }' /proc/[0-9]*/stat 2>/dev/null || true
}

sshd_pidfile() { echo "$SLB_RUN/sshd-${1:-$SLB_SSH_PORT}.pid"; }

# start_sshd PORT [MAX_SESSIONS] [HOST_KEY] -> start an sshd instance with the cluster's config on
# PORT; HOST_KEY (a private key file, mode 0600) is offered before the cluster's host key.
start_sshd() {
  local port=$1 max=${2:-} host_key=${3:-} pidfile args
  pidfile=$(sshd_pidfile "$port")
  alive "$pidfile" sshd && return 0
  mkdir -p /run/sshd && chmod 0755 /run/sshd
  args=(-f "$SLB_SSH/sshd_config" -o "Port=$port" -o "PidFile=$pidfile" -E "$SLB_LOG/sshd-$port.log")
  [[ -n $max ]] && args+=(-o "MaxSessions=$max")
  # Command-line host keys come first: for a key type both offer, the client gets this one.
  [[ -n $host_key ]] && args+=(-o "HostKey=$host_key")
  /usr/sbin/sshd "${args[@]}" 9>&- || slb_die "sshd on port $port failed to start (see $SLB_LOG/sshd-$port.log)"
  wait_for 10 "sshd pid file" alive "$pidfile" sshd || slb_die "sshd on port $port did not write $pidfile"
  # Remember how this instance was started, for restart-sshd.sh.
  echo "$max" >"$SLB_RUN/sshd-$port.maxsessions"
  echo "$host_key" >"$SLB_RUN/sshd-$port.hostkey"
}

# stop_sshd PORT [--keep-sessions] -> stop the listener and (by default) its live session processes.
stop_sshd() {
  local port=$1 keep=${2:-} pidfile pid children
  pidfile=$(sshd_pidfile "$port")
  if alive "$pidfile" sshd; then
    pid=$(tr -dc '0-9' <"$pidfile")
    children=$(children_of "$pid")
    stop_pidfile "$pidfile" sshd 10
    if [[ $keep != --keep-sessions && -n $children ]]; then
      # shellcheck disable=SC2086
      kill -TERM $children 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}
