/**
 * One SSH session to one task instance: a tunnel (re-opened when it dies), an ephemeral ed25519 key
 * pushed with EC2 Instance Connect before every connection (it is valid for 60 s), and an
 * {@link SshConnection} whose reconnects back off with jitter. Errors are transient: a broken tunnel
 * never fails a task by itself.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecResult } from '@scripthut/core';
import { BackendError, shellQuotePath } from '@scripthut/core';
import { SshConnection } from '@scripthut/ssh';
import { generateEphemeralKey } from './keys.js';
import type { Tunnel, TunnelFactory, TunnelTarget } from './tunnel.js';

/** What a session needs from the backend. */
export interface SessionDeps {
  tunnelFactory: TunnelFactory;
  target: TunnelTarget;
  sshUser: string;
  /** Pushes the public key (EC2 Instance Connect SendSSHPublicKey). */
  pushKey: (publicKey: string) => Promise<void>;
  /** Authenticate with this key file instead of the ephemeral one (tests). */
  keyPathOverride?: string | null;
  onWarning?: (message: string) => void;
  connectTimeoutMs?: number;
}

/** A range of a remote file, read byte-exactly. */
export interface RemoteRange {
  missing: boolean;
  /** File size at read time. */
  size: number;
  data: Buffer;
}

export class InstanceSession {
  private tunnel: Tunnel | null = null;
  private readonly ssh: SshConnection;
  private readonly keyDir: string;
  private closed = false;
  lastUsed = Date.now();

  constructor(private readonly deps: SessionDeps) {
    const key = generateEphemeralKey(`scripthut-${deps.target.instanceId}`);
    this.keyDir = mkdtempSync(join(tmpdir(), 'scripthut-ec2-'));
    const keyPath = join(this.keyDir, 'id_ed25519');
    writeFileSync(keyPath, key.privateKey, { mode: 0o600 });
    const publicKey = key.publicKey;
    this.ssh = new SshConnection(
      {
        host: deps.target.instanceId,
        port: deps.target.remotePort,
        user: deps.sshUser,
        keyPath: deps.keyPathOverride ?? keyPath,
      },
      {
        maxChannels: 4,
        connectTimeoutMs: deps.connectTimeoutMs ?? 30_000,
        backoff: { initialMs: 1000, maxMs: 30_000 },
        // Task instances are ephemeral: their host keys cannot be known in advance. The path to
        // them is an authenticated SSM session, not the open network.
        onWarning: (m) => {
          if (!/known_hosts/.test(m)) deps.onWarning?.(m);
        },
        connectSocket: async () => {
          if (this.closed) throw new Error('session closed');
          if (!this.tunnel?.alive) {
            await this.tunnel?.close().catch(() => undefined);
            this.tunnel = null;
            this.tunnel = await deps.tunnelFactory.open(deps.target);
          }
          await deps.pushKey(publicKey);
          try {
            return await this.tunnel.connect();
          } catch (err) {
            await this.tunnel.close().catch(() => undefined);
            this.tunnel = null;
            throw err;
          }
        },
      },
    );
  }

  /** Runs a command on the instance (transient BackendError on connection problems). */
  exec(command: string, timeoutMs = 30_000): Promise<ExecResult> {
    this.lastUsed = Date.now();
    return this.ssh.exec(command, { timeoutMs });
  }

  /** Reads `[offset, offset+max)` of a remote file, base64 on the wire so bytes are exact. */
  async readRange(path: string, offset: number, max: number, timeoutMs = 60_000): Promise<RemoteRange> {
    const off = Math.max(0, Math.floor(offset));
    const cmd = [
      `f=${shellQuotePath(path)}`,
      'if [ ! -f "$f" ]; then echo MISSING; exit 0; fi',
      'echo "SIZE $(stat -c %s -- "$f")"',
      `tail -c +${off + 1} -- "$f" | head -c ${Math.max(0, Math.floor(max))} | base64 -w0`,
      'echo',
    ].join('\n');
    const res = await this.exec(cmd, timeoutMs);
    if (res.exitCode !== 0) {
      throw new BackendError(
        `reading ${path} on ${this.deps.target.instanceId} failed: ${res.stderr.trim()}`,
        {
          transient: true,
        },
      );
    }
    const [first = '', second = ''] = res.stdout.split('\n');
    if (first.trim() === 'MISSING') return { missing: true, size: 0, data: Buffer.alloc(0) };
    const size = Number(/^SIZE (\d+)/.exec(first)?.[1] ?? 0);
    return { missing: false, size, data: Buffer.from(second.trim(), 'base64') };
  }

  /** Closes SSH and the tunnel, removes the key (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ssh.close().catch(() => undefined);
    await this.tunnel?.close().catch(() => undefined);
    this.tunnel = null;
    rmSync(this.keyDir, { recursive: true, force: true });
  }
}
