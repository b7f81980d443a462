#!/usr/bin/env bash
# Bring up a single-node Slurm cluster (munge, private MariaDB, slurmdbd, slurmctld, slurmd) and an
# OpenSSH server on 127.0.0.1:2222 for ScriptHut's integration tests. Idempotent: a second run when
# everything is up only checks and exits (~1 s). Runs as root on Debian 12.
#
#   SLB_BASE=/var/lib/scripthut-cluster  state, keys, logs, pid files
#   SLB_SSH_PORT=2222 SLB_DB_PORT=3307
#
# Writes $SLB_BASE/cluster.env (see README in this directory). Stop with down.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

[[ $(id -u) -eq 0 ]] || slb_die "up.sh must run as root"

mkdir -p "$SLB_BASE"
chmod 0755 "$SLB_BASE"
# Serialise concurrent bring-ups (several vitest runs may start at once). fd 9 is closed for daemons.
exec 9>"$SLB_BASE/.up.lock"
flock -w 600 9 || slb_die "could not take $SLB_BASE/.up.lock"

# ---------------------------------------------------------------------------------------------
# 1. Packages
PKGS=(slurmctld slurmd slurm-client munge openssh-server openssh-client slurmdbd mariadb-server tcsh)
missing=()
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PKGS[@]}" 2>/dev/null || true)
for p in "${PKGS[@]}"; do
  if ! grep -qx "$p install ok installed" <<<"$installed"; then missing+=("$p"); fi
done
if ((${#missing[@]})); then
  slb_log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  created_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  need_update=0
  for p in "${missing[@]}"; do
    cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ { print $2 }')
    if [[ -z $cand || $cand == "(none)" ]]; then need_update=1; fi
  done
  if ((need_update)); then
    slb_log "apt-get update"
    apt-get update -qq
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$SLB_BASE/apt.log" 2>&1 ||
    { tail -30 "$SLB_BASE/apt.log" >&2; slb_die "apt-get install failed"; }
  if ((created_policy)); then rm -f /usr/sbin/policy-rc.d; fi
  slb_log "packages installed"
fi

mkdir -p "$SLB_RUN" "$SLB_LOG" "$SLB_SSH" "$SLB_SLURM"
chmod 0755 "$SLB_RUN" "$SLB_LOG"

# ---------------------------------------------------------------------------------------------
# 2. User hut (password field '*': a locked '!' makes sshd refuse the account with UsePAM no)
if ! id hut >/dev/null 2>&1; then
  useradd -m -s /bin/bash hut
  slb_log "created user hut"
fi
if [[ $(getent shadow hut | cut -d: -f2) != "*" ]]; then usermod -p '*' hut; fi
HUT_HOME=$(getent passwd hut | cut -d: -f6)
HUT_BIN="$HUT_HOME/bin"
if [[ ! -d $HUT_BIN ]]; then
  install -d -o hut -g hut -m 0755 "$HUT_BIN"
fi

# Users whose login is not like hut's, as on real sites (never change hut itself):
#  - hutnoisy: bash, whose ~/.bashrc prints banners on stdout and stderr, exports SBATCH_*/SQUEUE_*/
#    SLURM_* settings that would rewrite ScriptHut's commands, and an exported squeue() function;
#  - hutcsh: login shell tcsh, whose ~/.cshrc prints a banner and sets the same variables.
# Both put ~/bin first on PATH (tests install command shims there).
for u in hutnoisy:/bin/bash hutcsh:/usr/bin/tcsh; do
  name=${u%%:*} shell=${u#*:}
  if ! id "$name" >/dev/null 2>&1; then
    useradd -m -s "$shell" "$name"
    slb_log "created user $name ($shell)"
  fi
  [[ $(getent passwd "$name" | cut -d: -f7) == "$shell" ]] || usermod -s "$shell" "$name"
  if [[ $(getent shadow "$name" | cut -d: -f2) != "*" ]]; then usermod -p '*' "$name"; fi
  home=$(getent passwd "$name" | cut -d: -f6)
  [[ -d $home/bin ]] || install -d -o "$name" -g "$name" -m 0755 "$home/bin"
done
NOISY_HOME=$(getent passwd hutnoisy | cut -d: -f6)
CSH_HOME=$(getent passwd hutcsh | cut -d: -f6)
install -o hutnoisy -g hutnoisy -m 0644 /dev/stdin "$NOISY_HOME/.bashrc" <<'RCEOF'
# ScriptHut test user: a noisy login that sets variables which would rewrite Slurm commands.
echo "*** Welcome to the ScriptHut test cluster (banner from ~/.bashrc) ***"
echo "module: loading default environment (stderr noise from ~/.bashrc)" >&2
printf 'no newline at the end of this banner'
export PATH="$HOME/bin:$PATH"
export SBATCH_PARTITION=long SBATCH_TIMELIMIT=1 SBATCH_EXPORT=NONE
export SQUEUE_PARTITION=long SQUEUE_FORMAT='%i %T' SQUEUE_SORT=-i
export SACCT_FORMAT=JobID,State SLURM_TIME_FORMAT=relative SLURM_CLUSTERS=localcluster
squeue() { echo "squeue is hijacked by a shell function"; }
export -f squeue
case $- in *i*) ;; *) return ;; esac
RCEOF
install -o hutcsh -g hutcsh -m 0644 /dev/stdin "$CSH_HOME/.cshrc" <<'RCEOF'
# ScriptHut test user: tcsh login, noisy, with variables that would rewrite Slurm commands.
echo "*** Welcome, tcsh user (banner from ~/.cshrc) ***"
set path = ( $HOME/bin $path )
setenv SBATCH_PARTITION long
setenv SBATCH_TIMELIMIT 1
setenv SQUEUE_PARTITION long
setenv SQUEUE_FORMAT '%i %T'
setenv SLURM_TIME_FORMAT relative
RCEOF

# ---------------------------------------------------------------------------------------------
# 3. munge
if [[ ! -s /etc/munge/munge.key ]]; then
  install -d -o munge -g munge -m 0700 /etc/munge
  if command -v mungekey >/dev/null; then
    mungekey --create --keyfile=/etc/munge/munge.key --force
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0711 /var/lib/munge
install -d -o munge -g munge -m 0700 /var/log/munge
install -d -o munge -g munge -m 0755 "$SLB_RUN/munge" "$SLB_LOG/munge"
MUNGE_PID="$SLB_RUN/munge/munged.pid"
if ! alive "$MUNGE_PID" munged; then
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PID" --log-file="$SLB_LOG/munge/munged.log" --force 9>&- ||
    slb_die "munged failed (see $SLB_LOG/munge/munged.log)"
  wait_for 10 munged sh -c 'munge -n | unmunge' || slb_die "munge does not work"
  slb_log "munged started"
fi

# ---------------------------------------------------------------------------------------------
# 4. Private MariaDB on 127.0.0.1:$SLB_DB_PORT
DB_DIR="$SLB_BASE/mysql"
DB_PASS_FILE="$SLB_BASE/dbpass"
if [[ ! -s $DB_PASS_FILE ]]; then
  (umask 077 && head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$DB_PASS_FILE")
fi
DB_PASS=$(cat "$DB_PASS_FILE")
if [[ ! -d $DB_DIR/mysql ]]; then
  rm -rf "$DB_DIR" "$SLB_BASE/.accounting-ready"
  install -d -o mysql -g mysql -m 0750 "$DB_DIR"
  mariadb-install-db --no-defaults --user=mysql --datadir="$DB_DIR" --auth-root-authentication-method=socket \
    --skip-test-db >"$SLB_LOG/mariadb-install.log" 2>&1 || { tail -20 "$SLB_LOG/mariadb-install.log" >&2; slb_die "mariadb-install-db failed"; }
  slb_log "mariadb datadir initialised"
fi
install -d -o mysql -g mysql -m 0755 "$SLB_RUN/mysql"
DB_SOCK="$SLB_RUN/mysql/mysqld.sock"
DB_PID="$SLB_RUN/mysql/mariadbd.pid"
if ! alive "$DB_PID" mariadbd; then
  rm -f "$DB_SOCK"
  setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$DB_DIR" --bind-address=127.0.0.1 \
    --port="$SLB_DB_PORT" --socket="$DB_SOCK" --pid-file="$DB_PID" --log-error="$SLB_LOG/mariadb.log" \
    --innodb-buffer-pool-size=64M --performance-schema=OFF --skip-name-resolve \
    </dev/null >/dev/null 2>&1 9>&- &
  wait_for 60 mariadb mariadb --no-defaults -S "$DB_SOCK" -uroot -e 'SELECT 1' ||
    { tail -20 "$SLB_LOG/mariadb.log" >&2; slb_die "mariadbd did not come up"; }
  mariadb --no-defaults -S "$DB_SOCK" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '${DB_PASS}';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '${DB_PASS}';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
  slb_log "mariadbd started on 127.0.0.1:$SLB_DB_PORT"
fi

# ---------------------------------------------------------------------------------------------
# 5. Slurm configuration
install -d -o slurm -g slurm -m 0755 "$SLB_SLURM" "$SLB_SLURM/state" "$SLB_SLURM/log" "$SLB_SLURM/run"
install -d -o root -g root -m 0755 "$SLB_SLURM/spool"
install -d -m 0755 /etc/slurm
# The node offers at least 8 CPU slots (SlurmdParameters=config_overrides lets it offer more than the
# machine has): test jobs mostly sleep, and with 2 slots on a 2-core machine a 100-task test waits
# on Slurm's per-job start/stop overhead two jobs at a time. SCRIPTHUT_TEST_SLURM_SLOTS overrides.
CPUS=${SCRIPTHUT_TEST_SLURM_SLOTS:-$(($(nproc) > 8 ? $(nproc) : 8))}
[[ $CPUS =~ ^[1-9][0-9]{0,3}$ ]] || { echo "up.sh: SCRIPTHUT_TEST_SLURM_SLOTS must be a number of CPU slots, got '$CPUS'" >&2; exit 2; }
MEM_MB=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
changed_conf=0

# write_if_changed FILE MODE OWNER <content on stdin> -> sets changed_conf=1 when content changed.
write_if_changed() {
  local file=$1 mode=$2 owner=$3 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [[ -f $file ]] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
  else
    install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$tmp" "$file"
    rm -f "$tmp"
    changed_conf=1
  fi
}

write_if_changed /etc/slurm/slurmdbd.conf 0600 slurm:slurm <<EOF
# Generated by scripthut scripts/cluster/up.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
PidFile=$SLB_SLURM/run/slurmdbd.pid
LogFile=$SLB_SLURM/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$SLB_DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
dbd_changed=$changed_conf
changed_conf=0

write_if_changed /etc/slurm/slurm.conf 0644 root:root <<EOF
# Generated by scripthut scripts/cluster/up.sh
ClusterName=localcluster
SlurmctldHost=$SLB_NODE(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
SlurmdParameters=config_overrides
StateSaveLocation=$SLB_SLURM/state
SlurmdSpoolDir=$SLB_SLURM/spool
SlurmctldPidFile=$SLB_SLURM/run/slurmctld.pid
SlurmdPidFile=$SLB_SLURM/run/slurmd.pid
SlurmctldLogFile=$SLB_SLURM/log/slurmctld.log
SlurmdLogFile=$SLB_SLURM/log/slurmd.log
KillWait=5
MinJobAge=300
InactiveLimit=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
NodeName=$SLB_NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB Features=scripthut_feat State=UNKNOWN
PartitionName=normal Nodes=$SLB_NODE Default=YES MaxTime=1-00:00:00 DefaultTime=01:00:00 DefMemPerCPU=256 State=UP
PartitionName=long Nodes=$SLB_NODE Default=NO MaxTime=7-00:00:00 DefaultTime=01:00:00 DefMemPerCPU=256 State=UP
EOF
conf_changed=$changed_conf

DBD_PID="$SLB_SLURM/run/slurmdbd.pid"
CTLD_PID="$SLB_SLURM/run/slurmctld.pid"
SLURMD_PID="$SLB_SLURM/run/slurmd.pid"
if ((dbd_changed)); then stop_pidfile "$DBD_PID" slurmdbd; fi
if ((conf_changed)); then
  stop_pidfile "$SLURMD_PID" slurmd
  stop_pidfile "$CTLD_PID" slurmctld
fi

# ---------------------------------------------------------------------------------------------
# 6. slurmdbd + accounting objects
if ! alive "$DBD_PID" slurmdbd; then
  /usr/sbin/slurmdbd 9>&- || slb_die "slurmdbd failed (see $SLB_SLURM/log/slurmdbd.log)"
  wait_for 30 slurmdbd sacctmgr -n -P list cluster || { tail -20 "$SLB_SLURM/log/slurmdbd.log" >&2; slb_die "slurmdbd not answering"; }
  slb_log "slurmdbd started"
fi
ACCT_MARK="$SLB_BASE/.accounting-ready"
if [[ ! -f $ACCT_MARK ]]; then
  if ! sacctmgr -n -P list cluster format=cluster | grep -qx localcluster; then
    sacctmgr -i add cluster localcluster >/dev/null
  fi
  if ! sacctmgr -n -P list account format=account | grep -qx default; then
    sacctmgr -i add account default Cluster=localcluster Description=default Organization=scripthut >/dev/null
  fi
  for u in root hut; do
    if ! sacctmgr -n -P list assoc users="$u" account=default format=user | grep -qx "$u"; then
      sacctmgr -i add user "$u" Account=default DefaultAccount=default Cluster=localcluster >/dev/null
    fi
  done
  touch "$ACCT_MARK"
  slb_log "accounting: cluster localcluster, account default (root, hut)"
fi
# Test users of noisy/non-bash logins, and a QOS for site-policy tests (idempotent, checked each run).
for u in hutnoisy hutcsh; do
  if ! sacctmgr -n -P list assoc users="$u" account=default format=user | grep -qx "$u"; then
    sacctmgr -i add user "$u" Account=default DefaultAccount=default Cluster=localcluster >/dev/null
    slb_log "accounting: user $u"
  fi
done
if ! sacctmgr -n -P list qos format=name | grep -qx scripthut_test; then
  sacctmgr -i add qos scripthut_test >/dev/null
  slb_log "accounting: qos scripthut_test"
fi
for u in root hut hutnoisy hutcsh; do
  if ! sacctmgr -n -P list assoc users="$u" format=qos | tr ',' '\n' | grep -qx scripthut_test; then
    sacctmgr -i modify user where name="$u" set qos+=scripthut_test >/dev/null
  fi
done

# ---------------------------------------------------------------------------------------------
# 7. slurmctld + slurmd
if ! alive "$CTLD_PID" slurmctld; then
  /usr/sbin/slurmctld 9>&- || slb_die "slurmctld failed (see $SLB_SLURM/log/slurmctld.log)"
  wait_for 30 slurmctld scontrol ping || { tail -20 "$SLB_SLURM/log/slurmctld.log" >&2; slb_die "slurmctld not answering"; }
  slb_log "slurmctld started"
fi
if ! alive "$SLURMD_PID" slurmd; then
  /usr/sbin/slurmd 9>&- || slb_die "slurmd failed (see $SLB_SLURM/log/slurmd.log)"
  slb_log "slurmd started"
fi
node_ready() {
  local st
  st=$(sinfo -h -n "$SLB_NODE" -o '%t' 2>/dev/null | head -1)
  case $st in
  idle | mix | alloc | comp) return 0 ;;
  drain* | down* | drng | fail*) scontrol update NodeName="$SLB_NODE" State=RESUME >/dev/null 2>&1 || true; return 1 ;;
  *) return 1 ;;
  esac
}
wait_for 60 "node idle" node_ready || { sinfo >&2; slb_die "node $SLB_NODE did not become idle"; }
wait_for 30 "sacct" sacct -n -X -S now || slb_die "sacct does not work"

# ---------------------------------------------------------------------------------------------
# 8. SSH: keys, CA, certificate, sshd on 127.0.0.1:$SLB_SSH_PORT
install -d -m 0755 "$SLB_SSH" "$SLB_SSH/ca" "$SLB_SSH/authorized_keys" "$SLB_SSH/readable"
[[ -f $SLB_SSH/ssh_host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -C scripthut-test-host -f "$SLB_SSH/ssh_host_ed25519_key"
[[ -f $SLB_SSH/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C scripthut-test-key -f "$SLB_SSH/id_ed25519"
[[ -f $SLB_SSH/ca/ca ]] || ssh-keygen -q -t ed25519 -N '' -C scripthut-test-ca -f "$SLB_SSH/ca/ca"
cp -f "$SLB_SSH/ca/ca.pub" "$SLB_SSH/ca.pub"
[[ -f $SLB_SSH/cert_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C scripthut-test-cert -f "$SLB_SSH/cert_ed25519"
for u in hutnoisy hutcsh; do
  [[ -f $SLB_SSH/id_$u ]] || ssh-keygen -q -t ed25519 -N '' -C "scripthut-test-$u" -f "$SLB_SSH/id_$u"
  install -m 0644 "$SLB_SSH/id_$u.pub" "$SLB_SSH/authorized_keys/$u"
done
if [[ ! -f $SLB_SSH/cert_ed25519-cert.pub ]]; then
  ssh-keygen -q -s "$SLB_SSH/ca/ca" -I scripthut-test -n hut,root -V -1d:+3650d "$SLB_SSH/cert_ed25519.pub"
fi
for u in hut root; do
  install -m 0644 "$SLB_SSH/id_ed25519.pub" "$SLB_SSH/authorized_keys/$u"
done
echo "[127.0.0.1]:$SLB_SSH_PORT $(cut -d' ' -f1-2 "$SLB_SSH/ssh_host_ed25519_key.pub")" >"$SLB_SSH/known_hosts"
# World-readable copies of the throwaway client keys for tests that do not run as root.
for f in id_ed25519 id_ed25519.pub cert_ed25519 cert_ed25519.pub cert_ed25519-cert.pub known_hosts id_hutnoisy id_hutcsh; do
  install -m 0644 "$SLB_SSH/$f" "$SLB_SSH/readable/$f"
done
cat >"$SLB_SSH/config" <<EOF
Host slurm-local
  HostName 127.0.0.1
  Port $SLB_SSH_PORT
  User hut
  IdentityFile $SLB_SSH/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $SLB_SSH/known_hosts
  StrictHostKeyChecking yes
EOF
SSHD_CONF_NEW=$(
  cat <<EOF
# Generated by scripthut scripts/cluster/up.sh
Port $SLB_SSH_PORT
ListenAddress 127.0.0.1
HostKey $SLB_SSH/ssh_host_ed25519_key
PidFile $(sshd_pidfile "$SLB_SSH_PORT")
AuthorizedKeysFile $SLB_SSH/authorized_keys/%u .ssh/authorized_keys
TrustedUserCAKeys $SLB_SSH/ca.pub
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers hut root hutnoisy hutcsh
MaxStartups 200:30:400
MaxSessions 200
LogLevel INFO
Subsystem sftp internal-sftp
Match User hut
  SetEnv PATH=$HUT_BIN:/usr/local/bin:/usr/bin:/bin:/usr/games
EOF
)
sshd_changed=0
if [[ ! -f $SLB_SSH/sshd_config ]] || [[ $(cat "$SLB_SSH/sshd_config") != "$SSHD_CONF_NEW" ]]; then
  printf '%s\n' "$SSHD_CONF_NEW" >"$SLB_SSH/sshd_config"
  sshd_changed=1
fi
mkdir -p /run/sshd && chmod 0755 /run/sshd
/usr/sbin/sshd -t -f "$SLB_SSH/sshd_config" || slb_die "invalid sshd_config"
if ((sshd_changed)); then stop_sshd "$SLB_SSH_PORT" --keep-sessions; fi
if ! alive "$(sshd_pidfile "$SLB_SSH_PORT")" sshd; then
  start_sshd "$SLB_SSH_PORT"
  slb_log "sshd started on 127.0.0.1:$SLB_SSH_PORT"
fi

# ---------------------------------------------------------------------------------------------
# 9. cluster.env + smoke test
cat >"$SLB_BASE/cluster.env.tmp" <<EOF
SLB_BASE=$SLB_BASE
SSH_HOST=127.0.0.1
SSH_PORT=$SLB_SSH_PORT
SSH_USER=hut
SSH_ROOT_USER=root
SSH_KEY=$SLB_SSH/id_ed25519
SSH_CERT_KEY=$SLB_SSH/cert_ed25519
SSH_CERT=$SLB_SSH/cert_ed25519-cert.pub
SSH_CA_KEY=$SLB_SSH/ca/ca
SSH_KNOWN_HOSTS=$SLB_SSH/known_hosts
SSH_HOST_KEY_PUB=$SLB_SSH/ssh_host_ed25519_key.pub
SSH_READABLE_KEYS_DIR=$SLB_SSH/readable
SSH_CONFIG=$SLB_SSH/config
SSHD_CONFIG=$SLB_SSH/sshd_config
HUT_HOME=$HUT_HOME
HUT_BIN=$HUT_BIN
SLURM_CLUSTER=localcluster
SLURM_NODE=$SLB_NODE
SLURM_PARTITIONS=normal,long
SLURM_DEFAULT_PARTITION=normal
SLURM_CPUS=$CPUS
SLURM_MEM_MB=$MEM_MB
SCRIPTS_DIR=$HERE
NOISY_USER=hutnoisy
NOISY_KEY=$SLB_SSH/id_hutnoisy
NOISY_HOME=$NOISY_HOME
CSH_USER=hutcsh
CSH_KEY=$SLB_SSH/id_hutcsh
CSH_HOME=$CSH_HOME
SLURM_TEST_QOS=scripthut_test
SLURM_TEST_FEATURE=scripthut_feat
EOF
mv -f "$SLB_BASE/cluster.env.tmp" "$SLB_BASE/cluster.env"

smoke() {
  ssh -F none -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=5 -i "$SLB_SSH/id_ed25519" \
    -o UserKnownHostsFile="$SLB_SSH/known_hosts" -o StrictHostKeyChecking=yes -p "$SLB_SSH_PORT" hut@127.0.0.1 \
    'sinfo -h -o %t' 9>&-
}
out=$(smoke 2>&1) || { echo "$out" >&2; slb_die "ssh smoke test failed (see $SLB_LOG/sshd-$SLB_SSH_PORT.log)"; }
slb_log "cluster up: ssh hut@127.0.0.1:$SLB_SSH_PORT sinfo -> $(echo "$out" | tr '\n' ' ')"
echo "$SLB_BASE/cluster.env"
