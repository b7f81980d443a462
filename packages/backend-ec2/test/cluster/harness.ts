/**
 * Makes the fake EC2 instances REAL: when the fake says an instance is running, its user-data is
 * executed over SSH on the local test sshd (127.0.0.1:2222, user `hut`) with `/var/...` relocated
 * into a per-instance directory, `docker` replaced by a shim that runs `bash <script>` with the
 * `-e` variables, and `shutdown` by a shim that records the call. Terminating an instance kills its
 * process group.
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
# -e variables exported and -v container paths mapped back to host paths.
echo "docker $1" >> "$SCRIPTHUT_FAKE_DIR/docker.calls"
case "$1" in
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
    await this.ssh.exec(`mkdir -p ${q(`${this.base}/bin`)}`);
    await this.ssh.upload(`${this.base}/bin/docker`, DOCKER_SHIM, 0o755);
    await this.ssh.upload(`${this.base}/bin/shutdown`, SHUTDOWN_SHIM, 0o755);
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
    await this.ssh.upload(`${dir}/user-data.sh`, script, 0o700);
    const res = await this.ssh.exec(
      // `cd` on its own line: `a && b &` would background a subshell that holds the channel open.
      `cd ${q(dir)} || exit 1\nSCRIPTHUT_FAKE_DIR=${q(dir)} PATH=${q(`${this.base}/bin`)}:$PATH setsid bash user-data.sh </dev/null >console.log 2>&1 &\necho $!`,
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
