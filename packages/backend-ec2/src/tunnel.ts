/**
 * The network path to a task instance's sshd. The default {@link SsmTunnelFactory} runs
 * `aws ssm start-session --document-name AWS-StartPortForwardingSession` (which needs the
 * `session-manager-plugin`) and forwards a free local port to the instance's port 22; tests replace
 * the whole thing with a factory that returns plain TCP sockets.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** What a tunnel connects to. */
export interface TunnelTarget {
  instanceId: string;
  region: string;
  /** AWS CLI profile (`--profile`), or null for the default chain. */
  profile: string | null;
  /** Port on the instance (22). */
  remotePort: number;
}

/** An open path to one instance; {@link Tunnel.connect} may be called once per SSH connection. */
export interface Tunnel {
  /** Opens a byte stream to the instance's sshd. */
  connect(): Promise<Duplex>;
  /** False once the tunnel died (the session calls the factory again). */
  readonly alive: boolean;
  /** Tears the tunnel down (idempotent). */
  close(): Promise<void>;
}

/** Opens tunnels. Replaceable (tests, other transports). */
export interface TunnelFactory {
  open(target: TunnelTarget): Promise<Tunnel>;
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** Opens a TCP connection to 127.0.0.1:port. */
export function connectTcp(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timed out connecting to ${host}:${port}`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The `aws` arguments of a port-forwarding session. */
export function ssmSessionArgs(target: TunnelTarget, localPort: number): string[] {
  const args = [
    'ssm',
    'start-session',
    '--target',
    target.instanceId,
    '--document-name',
    'AWS-StartPortForwardingSession',
    '--parameters',
    `portNumber=${target.remotePort},localPortNumber=${localPort}`,
    '--region',
    target.region,
  ];
  if (target.profile) args.push('--profile', target.profile);
  return args;
}

/** Options of {@link SsmTunnelFactory}. */
export interface SsmTunnelOptions {
  /** The AWS CLI executable (default `aws`). */
  awsCli?: string;
  /** How long to wait for the local port to accept connections (default 45 s). */
  readyTimeoutMs?: number;
}

/**
 * Signals a whole process group. `aws ssm start-session` runs `session-manager-plugin` as a child
 * that holds the local listener and the SSM session: signalling `aws` alone leaves the plugin (and
 * the session) running, so the tunnel is spawned as its own process group and the group is signalled.
 */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** True while any process of the group is alive. */
function groupAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

class SsmTunnel implements Tunnel {
  private exited = false;
  constructor(
    private readonly child: ChildProcess,
    private readonly port: number,
  ) {
    child.once('exit', () => {
      this.exited = true;
      // The plugin may outlive `aws`: never leave an orphaned listener behind.
      killGroup(child.pid, 'SIGTERM');
    });
  }
  get alive(): boolean {
    return !this.exited;
  }
  async connect(): Promise<Duplex> {
    if (this.exited) throw new Error('the SSM session has ended');
    return connectTcp(this.port);
  }
  /** Terminates the whole process group (`aws` and `session-manager-plugin`), SIGKILL after 5 s. */
  async close(): Promise<void> {
    const pid = this.child.pid;
    killGroup(pid, 'SIGTERM');
    const deadline = Date.now() + 5000;
    while (groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (groupAlive(pid)) killGroup(pid, 'SIGKILL');
  }
}

/**
 * Tunnels through SSM Session Manager: spawns `aws ssm start-session ... --parameters
 * portNumber=22,localPortNumber=<free port>` and waits until the local port accepts connections.
 */
export class SsmTunnelFactory implements TunnelFactory {
  constructor(private readonly options: SsmTunnelOptions = {}) {}

  async open(target: TunnelTarget): Promise<Tunnel> {
    const port = await freePort();
    // Its own process group, so that close() also stops session-manager-plugin (see killGroup).
    const child = spawn(this.options.awsCli ?? 'aws', ssmSessionArgs(target, port), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-2000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const tunnel = new SsmTunnel(child, port);
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 45_000);
    let spawnError: Error | null = null;
    child.once('error', (err) => {
      spawnError = err;
    });
    for (;;) {
      if (spawnError || !tunnel.alive) {
        await tunnel.close();
        const why = spawnError ? (spawnError as Error).message : output.trim() || 'exited';
        throw new Error(
          `aws ssm start-session for ${target.instanceId} failed: ${why} (needs the aws CLI and session-manager-plugin on PATH)`,
        );
      }
      if (/Waiting for connections/i.test(output)) return tunnel;
      try {
        const probe = await connectTcp(port, '127.0.0.1', 1000);
        probe.destroy();
        return tunnel;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await tunnel.close();
        throw new Error(
          `SSM port forward to ${target.instanceId} not ready after ${this.options.readyTimeoutMs ?? 45_000} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
