/**
 * Makes the fake EC2 instances REAL: when the fake says an instance is running, its user-data is
 * executed over SSH on the local test sshd (127.0.0.1:2222, user `hut`) with `/var/...` relocated
 * into a per-instance directory, `docker` replaced by a shim that runs `bash <script>` with the
 * `-e` variables, and `shutdown` by a shim that records the call. Terminating an instance kills its
 * process group.
 *
 * The instance's AMI model (FakeAws.amis) decides its PATH: `docker` has the docker shim and a
 * running daemon; `docker-in-repo` (the stock Amazon Linux 2023 AMI) has no docker but a `dnf`
 * that installs the shim, whose daemon runs once `systemctl start docker` was called; `no-docker`
 * has a `dnf` that finds no docker package. `aws` answers `ecr get-login-password`.
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { SshConnection } from '@scripthut/ssh';
import { connectTcp, type TunnelFactory, type TunnelTarget } from '../../src/index.js';
import type { FakeAws, FakeInstance } from '../fake-aws.js';

export interface ClusterEnv {
  host: string;
  port: number;
  user: string;
  key: string;
  home: string;
}

export function clusterEnv(): ClusterEnv {
  const e = process.env;
  const need = (k: string) => {
    const v = e[`SCRIPTHUT_TEST_${k}`];
    if (!v) throw new Error(`SCRIPTHUT_TEST_${k} is not set: run in the vitest "cluster" project`);
    return v;
  };
  return {
    host: need('SSH_HOST'),
    port: Number(need('SSH_PORT')),
    user: need('SSH_USER'),
    key: need('SSH_KEY'),
    home: need('HUT_HOME'),
  };
}

const DOCKER_SHIM = `#!/bin/bash
# Fake docker for the EC2 harness: "pull" is a no-op, "run" runs the command on the host with the
# -e variables exported and -v container paths mapped back to host paths. Like the real CLI it
# needs a running daemon ($SCRIPTHUT_FAKE_DIR/dockerd.running).
echo "docker $1" >> "$SCRIPTHUT_FAKE_DIR/docker.calls"
if [ ! -e "$SCRIPTHUT_FAKE_DIR/dockerd.running" ]; then
  echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
  exit 1
fi
case "$1" in
  info) exit 0 ;;
  login) shift; echo "$*" > "$SCRIPTHUT_FAKE_DIR/login.args"; cat > "$SCRIPTHUT_FAKE_DIR/login.stdin"; echo "Login Succeeded"; exit 0 ;;
  pull) echo "fake pull of $2"; exit 0 ;;
  run) shift ;;
  *) echo "fake docker: unsupported $1" >&2; exit 125 ;;
esac
declare -A map=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rm) shift ;;
    --gpus) shift 2 ;;
    -v) spec=$2; src=\${spec%%:*}; rest=\${spec#*:}; map["\${rest%%:*}"]=$src; shift 2 ;;
    -e) export "$2"; shift 2 ;;
    -*) echo "fake docker: unsupported option $1" >&2; exit 125 ;;
    *) break ;;
  esac
done
echo "$1" > "$SCRIPTHUT_FAKE_DIR/image"
shift
args=()
for a in "$@"; do
  if [ -n "\${map[$a]+x}" ]; then args+=("\${map[$a]}"); else args+=("$a"); fi
done
cd "$HOME"
exec "\${args[@]}"
`;

const SHUTDOWN_SHIM = `#!/bin/bash
echo "shutdown $*" >> "$SCRIPTHUT_FAKE_DIR/shutdown.calls"
`;

const SYSTEMCTL_SHIM = `#!/bin/bash
echo "systemctl $*" >> "$SCRIPTHUT_FAKE_DIR/systemctl.calls"
[ "$1 $2" = "start docker" ] && touch "$SCRIPTHUT_FAKE_DIR/dockerd.running"
exit 0
`;

const AWS_SHIM = `#!/bin/bash
echo "aws $*" >> "$SCRIPTHUT_FAKE_DIR/aws.calls"
[ "$1 $2" = "ecr get-login-password" ] && echo "ecr-token-of-the-instance-role"
exit 0
`;

/** dnf of an AMI whose repository has docker: installs the docker shim into the instance's bin. */
const DNF_INSTALLS_SHIM = `#!/bin/bash
echo "dnf $*" >> "$SCRIPTHUT_FAKE_DIR/dnf.calls"
if [ "$*" = "-y install docker" ]; then
  mkdir -p "$SCRIPTHUT_FAKE_DIR/bin" && cp "$SCRIPTHUT_SHIMS/bin-docker/docker" "$SCRIPTHUT_FAKE_DIR/bin/docker"
  echo "Installed: docker"
fi
`;

/** dnf of an AMI whose repository has no docker. */
const DNF_FAILS_SHIM = `#!/bin/bash
echo "dnf $*" >> "$SCRIPTHUT_FAKE_DIR/dnf.calls"
echo "Error: Unable to find a match: docker" >&2
exit 1
`;

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export class Ec2Harness {
  readonly env = clusterEnv();
  readonly base: string;
  readonly ssh: SshConnection;
  readonly pgids = new Map<string, number>();
  readonly userData = new Map<string, string>();
  /** Rewrite the safety timer (seconds) of the next instances; null keeps the user-data's value. */
  safetySeconds: number | null = null;
  readonly tunnelsOpened: TunnelTarget[] = [];
  /** Fail the next N tunnel opens (a dying SSM session). */
  failTunnels = 0;

  constructor() {
    this.base = `${this.env.home}/ec2-harness-${randomBytes(4).toString('hex')}`;
    this.ssh = new SshConnection({
      host: this.env.host,
      port: this.env.port,
      user: this.env.user,
      keyPath: this.env.key,
    });
  }

  dirOf(id: string): string {
    return `${this.base}/${id}`;
  }

  async setup(): Promise<void> {
    const dirs = ['bin-docker', 'bin-common', 'bin-dnf-installs', 'bin-dnf-fails'];
    await this.ssh.exec(`mkdir -p ${dirs.map((d) => q(`${this.base}/${d}`)).join(' ')}`);
    await this.ssh.upload(`${this.base}/bin-docker/docker`, DOCKER_SHIM, 0o755);
    await this.ssh.upload(`${this.base}/bin-common/shutdown`, SHUTDOWN_SHIM, 0o755);
    await this.ssh.upload(`${this.base}/bin-common/systemctl`, SYSTEMCTL_SHIM, 0o755);
    await this.ssh.upload(`${this.base}/bin-common/aws`, AWS_SHIM, 0o755);
    await this.ssh.upload(`${this.base}/bin-dnf-installs/dnf`, DNF_INSTALLS_SHIM, 0o755);
    await this.ssh.upload(`${this.base}/bin-dnf-fails/dnf`, DNF_FAILS_SHIM, 0o755);
  }

  /** PATH of an instance: what its AMI model has (see the module comment). */
  private pathOf(inst: FakeInstance, dir: string): string {
    const b = (d: string) => `${this.base}/${d}`;
    switch (inst.ami) {
      case 'docker':
        return `${b('bin-docker')}:${b('bin-common')}:$PATH`;
      case 'docker-in-repo':
        return `${dir}/bin:${b('bin-dnf-installs')}:${b('bin-common')}:/usr/bin:/bin`;
      case 'no-docker':
        return `${dir}/bin:${b('bin-dnf-fails')}:${b('bin-common')}:/usr/bin:/bin`;
    }
  }

  /** Attach to the fake: boot on running, kill on terminate. */
  attach(fake: FakeAws): void {
    fake.onRunning = (inst) => this.boot(inst);
    fake.onTerminate = (inst) => this.kill(inst.InstanceId!);
  }

  /** The user-data the instance got (decoded, gunzipped when needed). */
  static decodeUserData(inst: FakeInstance): string {
    const raw = Buffer.from(inst.userData, 'base64');
    return (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
  }

  async boot(inst: FakeInstance): Promise<void> {
    const id = inst.InstanceId!;
    const dir = this.dirOf(id);
    let script = Ec2Harness.decodeUserData(inst);
    this.userData.set(id, script);
    script = script
      .replace(/^SCRIPTHUT_RUN_DIR=\/var\//m, `SCRIPTHUT_RUN_DIR=${dir}/var/`)
      .replace(/^SCRIPTHUT_LOG_DIR=\/var\//m, `SCRIPTHUT_LOG_DIR=${dir}/var/`);
    if (this.safetySeconds !== null)
      script = script.replace(
        /^SCRIPTHUT_SAFETY_SECONDS=\d+$/m,
        `SCRIPTHUT_SAFETY_SECONDS=${this.safetySeconds}`,
      );
    await this.ssh.exec(`mkdir -p ${q(dir)}`);
    // An AMI with docker installed boots with its daemon running.
    if (inst.ami === 'docker') await this.ssh.exec(`touch ${q(`${dir}/dockerd.running`)}`);
    await this.ssh.upload(`${dir}/user-data.sh`, script, 0o700);
    // PATH is not quoted whole: `$PATH` must expand (the other parts are harness paths without spaces).
    const path = this.pathOf(inst, dir);
    const res = await this.ssh.exec(
      // `cd` on its own line: `a && b &` would background a subshell that holds the channel open.
      `cd ${q(dir)} || exit 1\nSCRIPTHUT_FAKE_DIR=${q(dir)} SCRIPTHUT_SHIMS=${q(this.base)} PATH=${path} setsid bash user-data.sh </dev/null >console.log 2>&1 &\necho $!`,
    );
    this.pgids.set(id, Number(res.stdout.trim()));
  }

  async kill(id: string): Promise<void> {
    const pgid = this.pgids.get(id);
    if (!pgid) return;
    this.pgids.delete(id);
    await this.ssh.exec(`kill -TERM -- -${pgid} 2>/dev/null; true`);
  }

  async read(path: string): Promise<string | null> {
    const res = await this.ssh.exec(`cat -- ${q(path)} 2>/dev/null || echo '<<missing>>'`);
    return res.stdout === '<<missing>>\n' ? null : res.stdout;
  }

  /** A tunnel factory whose "tunnels" are TCP sockets to the test sshd. */
  tunnelFactory(): TunnelFactory {
    return {
      open: async (target) => {
        this.tunnelsOpened.push(target);
        if (this.failTunnels > 0) {
          this.failTunnels--;
          throw new Error('SSM session ended unexpectedly (simulated)');
        }
        let alive = true;
        return {
          get alive() {
            return alive;
          },
          connect: () => connectTcp(this.env.port, this.env.host),
          close: async () => {
            alive = false;
          },
        };
      },
    };
  }

  async cleanup(): Promise<void> {
    for (const id of [...this.pgids.keys()]) await this.kill(id);
    await this.ssh.exec(`rm -rf -- ${q(this.base)}`);
    await this.ssh.close();
  }
}
