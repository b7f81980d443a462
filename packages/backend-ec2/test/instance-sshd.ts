/**
 * The task instances of {@link FakeAws}, reachable the way the backend reaches real ones: a fake SSM
 * tunnel to a real SSH server (ssh2's, on 127.0.0.1) that plays each instance's sshd with EC2
 * Instance Connect's rules, and runs commands with the local bash. What an instance did lives in
 * `<root>/<instance id>/var/...`: the backend's `instancePathPrefix` seam points there.
 *
 * - The tunnel opens only to an instance the fake says is `running` (SSM answers TargetNotConnected
 *   otherwise); a terminated instance's connections are refused.
 * - Authentication succeeds only with the key last pushed for that instance and OS user with
 *   SendSSHPublicKey, signed by its private key (EC2 Instance Connect; its 60-s validity is not
 *   modelled: the backend pushes before every connection anyway).
 *
 * It does not run the user-data (the cluster harness does, on the real sshd): a test writes the
 * instance's files, e.g. with {@link FakeInstanceSshd.writeLog} and {@link FakeInstanceSshd.exit}.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import { connectTcp, SENTINEL_PATH, TASK_LOG_PATH, type Tunnel, type TunnelFactory } from '../src/index.js';
import type { FakeAws } from './fake-aws.js';

export class FakeInstanceSshd {
  /** The SSH protocol side; sockets come from {@link listener}, so that stop() can destroy them. */
  private readonly ssh: ssh2.Server;
  private readonly listener: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  /** Client-side port of each tunnelled TCP connection → the instance it is for. */
  private readonly instanceOfPort = new Map<number, string>();
  /** Commands run on instances so far. */
  commands = 0;
  /** Tunnels opened so far. */
  tunnelsOpened = 0;

  constructor(
    private readonly fake: FakeAws,
    /** Where the instances' files live: `<root>/<instance id>/var/...`. */
    readonly root: string,
  ) {
    const hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
    this.ssh = new ssh2.Server({ hostKeys: [hostKey] }, (client, info) => this.serve(client, info.port));
    this.listener = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      this.ssh.injectSocket(socket);
    });
  }

  /** Listens on a free port of 127.0.0.1. */
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.listener.listen(0, '127.0.0.1', resolve));
    this.port = (this.listener.address() as { port: number }).port;
  }

  /** Stops listening and drops every connection at once. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** The backend's `instancePathPrefix`. */
  readonly prefixOf = (instanceId: string): string => join(this.root, instanceId);

  /** The fake SSM port forwarding: to the instance's sshd while it runs. */
  readonly tunnelFactory: TunnelFactory = {
    open: async (target) => {
      const state = () => this.fake.instances.get(target.instanceId)?.State?.Name;
      if (state() !== 'running')
        throw new Error(
          `An error occurred (TargetNotConnected) when calling the StartSession operation: ${target.instanceId} is not connected.`,
        );
      this.tunnelsOpened++;
      let open = true;
      const tunnel: Tunnel = {
        get alive() {
          return open && state() === 'running';
        },
        connect: async (): Promise<Duplex> => {
          if (!tunnel.alive) throw new Error('the SSM session has ended');
          const socket = await connectTcp(this.port);
          this.instanceOfPort.set(socket.localPort!, target.instanceId);
          return socket;
        },
        close: async () => {
          open = false;
        },
      };
      return tunnel;
    },
  };

  /** The instance's task log (what `docker run ... | tee` wrote): these lines. */
  writeLog(instanceId: string, lines: string[]): void {
    this.writeAtomically(instanceId, TASK_LOG_PATH, lines.map((l) => `${l}\n`).join(''));
  }

  /** The task ended with `exitCode`: the user-data writes the sentinel, last and atomically. */
  exit(instanceId: string, exitCode: number): void {
    this.writeAtomically(instanceId, SENTINEL_PATH, `${exitCode}\n`);
  }

  private writeAtomically(instanceId: string, path: string, content: string): void {
    const file = `${this.prefixOf(instanceId)}${path}`;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, content);
    renameSync(`${file}.tmp`, file);
  }

  /** The public key the instance accepts for `user` now, if any: the last one pushed. */
  private acceptedKey(instanceId: string, user: string): ssh2.ParsedKey | null {
    const pushes = this.fake.pushedKeys.filter(
      (p) => p.InstanceId === instanceId && p.InstanceOSUser === user,
    );
    const last = pushes.at(-1)?.SSHPublicKey;
    if (!last) return null;
    const key = ssh2.utils.parseKey(last);
    return key instanceof Error ? null : key;
  }

  private serve(client: ssh2.Connection, clientPort: number): void {
    client.on('error', () => undefined);
    // Looked up when used: the server may accept the socket before the tunnel has recorded its port.
    const instanceId = () => this.instanceOfPort.get(clientPort);
    const running = () => {
      const id = instanceId();
      return !!id && this.fake.instances.get(id)?.State?.Name === 'running';
    };
    client.on('authentication', (ctx) => {
      const id = instanceId();
      const key = id && running() ? this.acceptedKey(id, ctx.username) : null;
      if (
        ctx.method !== 'publickey' ||
        !key ||
        ctx.key.algo !== key.type ||
        !ctx.key.data.equals(key.getPublicSSH())
      )
        return ctx.reject(['publickey']);
      // Without a signature the client only asks whether the key would do.
      if (ctx.signature && key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true)
        return ctx.reject(['publickey']);
      ctx.accept();
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, reject, info) => {
          if (!running()) return reject();
          this.commands++;
          const channel = accept();
          // As OpenSSH does: the login shell runs the command; the channel's data is its stdin.
          const child = spawn('bash', ['-c', info.command], { stdio: ['pipe', 'pipe', 'pipe'] });
          channel.pipe(child.stdin).on('error', () => undefined);
          child.stdout.on('data', (d: Buffer) => channel.write(d));
          child.stderr.on('data', (d: Buffer) => channel.stderr.write(d));
          child.on('close', (code, signal) => {
            if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
            else channel.exit(code ?? 1);
            channel.end();
          });
        });
      });
    });
  }
}
