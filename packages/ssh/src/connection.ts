/**
 * One persistent SSH connection per backend, shared by all of the backend's commands.
 *
 * - commands run on channels of the single connection, at most `maxChannels` at once (below
 *   OpenSSH's default `MaxSessions 10`); a channel the server refuses is retried, never fatal;
 * - on connection loss the next command reconnects with exponential backoff and full jitter;
 *   commands issued while disconnected wait for the reconnect, bounded by their timeout;
 * - authentication and host-key problems are permanent {@link BackendError}s, everything else
 *   (network, timeouts) is transient.
 */
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import {
  BackendError,
  type BackendHealth,
  type CommandLogEntry,
  type CommandRunner,
  type ExecResult,
  shellExport,
  shellQuotePath,
} from '@scripthut/core';
import type { AuthenticationType, Client, ConnectConfig, ParsedKey } from 'ssh2';
import ssh2 from 'ssh2';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import { type CertIdentity, installCertAuth, loadCertIdentity } from './cert-auth.js';
import { type RunningExec, startExec } from './exec-channel.js';
import { type KnownHostEntry, knownKeyTypes, parseKnownHosts, verifyHostKey } from './known-hosts.js';
import { uploadFile, withRemoteTempFile } from './remote-upload.js';
import { Semaphore } from './semaphore.js';

/** Where and as whom to connect. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Private key file (OpenSSH or PEM format, unencrypted). */
  keyPath: string;
  /** OpenSSH certificate for the key (`*-cert.pub`), tried before the plain key. */
  certPath?: string | null;
  /** OpenSSH known_hosts file; when unset the host key is NOT verified (one warning). */
  knownHostsPath?: string | null;
}

/** Tuning of an {@link SshConnection}. */
export interface SshConnectionOptions {
  /** Concurrent channels (commands) on the connection. Default 8, below OpenSSH MaxSessions 10. */
  maxChannels?: number;
  /** SSH keepalive interval; 3 unanswered keepalives drop the connection. Default 30000. */
  keepaliveIntervalMs?: number;
  /** Handshake + authentication timeout of one connection attempt. Default 15000. */
  connectTimeoutMs?: number;
  /** Default per-command timeout. Default 60000. */
  defaultTimeoutMs?: number;
  /** Entries kept by {@link SshConnection.commandLog}. Default 200. */
  commandLogSize?: number;
  /** Reconnect backoff (full jitter). Default 500 ms initial, 60 s cap. */
  backoff?: BackoffOptions;
  /** Called with non-fatal warnings (e.g. host key not verified). */
  onWarning?: (message: string) => void;
  /** Custom socket factory (EC2 uses an SSM tunnel); default TCP to host:port. */
  connectSocket?: () => Promise<Duplex>;
}

/** Options of {@link SshConnection.exec}. */
export interface SshExecOptions {
  /** Written to the command's stdin, then stdin is closed. */
  stdin?: string | Buffer;
  /**
   * Runtime limit once the channel is open (the command is killed and a transient BackendError
   * thrown). Waiting for a reconnect is bounded by the same amount. Default `defaultTimeoutMs`.
   */
  timeoutMs?: number;
  /** Working directory, applied as `cd <quoted> && ...` (`~/` is expanded remotely). */
  cwd?: string;
  /** Exported before the command as `export K='v';` (never sent as SSH env requests). */
  env?: Record<string, string>;
  /** Streamed stdout (UTF-8, split on character boundaries). */
  onStdout?: (chunk: string) => void;
  /** Streamed stderr. */
  onStderr?: (chunk: string) => void;
  /** Text shown in the command log and errors instead of the command (redaction). */
  logAs?: string;
}

const LOG_OUTPUT_LIMIT = 2048;
const HOST_KEY_ALGOS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];
function sleep(ms: number, unref = false): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, Math.max(0, ms));
    if (unref) t.unref();
  });
}

function truncate(text: string): string {
  if (text.length <= LOG_OUTPUT_LIMIT) return text;
  return `${text.slice(0, LOG_OUTPUT_LIMIT)}… [${text.length - LOG_OUTPUT_LIMIT} more chars]`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A persistent ssh2 connection that runs commands for one backend.
 *
 * @example
 * ```ts
 * const ssh = new SshConnection({ host: 'login.hpc.example', port: 22, user: 'me',
 *   keyPath: '~/.ssh/id_ed25519', knownHostsPath: '/home/me/.ssh/known_hosts' });
 * const { stdout } = await ssh.exec('squeue --me -h', { timeoutMs: 30_000 });
 * await ssh.close();
 * ```
 */
export class SshConnection implements CommandRunner {
  readonly remote = true as const;
  private readonly sem: Semaphore;
  private readonly opts: Required<Omit<SshConnectionOptions, 'onWarning' | 'connectSocket'>> &
    Pick<SshConnectionOptions, 'onWarning' | 'connectSocket'>;
  private readonly endpoint: string;
  private client: Client | null = null;
  private loop: Promise<Client> | null = null;
  private waiters = 0;
  private failures = 0;
  private nextAttemptAt = 0;
  private lastError: string | null = null;
  private closed = false;
  private warnedNoKnownHosts = false;
  private readonly log: CommandLogEntry[] = [];

  constructor(
    readonly target: SshTarget,
    options: SshConnectionOptions = {},
  ) {
    this.opts = {
      maxChannels: options.maxChannels ?? 8,
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 30_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
      defaultTimeoutMs: options.defaultTimeoutMs ?? 60_000,
      commandLogSize: options.commandLogSize ?? 200,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      onWarning: options.onWarning,
      connectSocket: options.connectSocket,
    };
    this.sem = new Semaphore(this.opts.maxChannels);
    this.endpoint = `${target.user}@${target.host}:${target.port}`;
  }

  /** Connects now (exec() connects on demand). Rejects with a BackendError. */
  async connect(): Promise<void> {
    await this.waitForClient(Date.now() + this.opts.connectTimeoutMs);
  }

  /**
   * Runs `command` in the remote login shell (bash on supported clusters). A non-zero exit code is
   * returned, not thrown; timeouts and connection problems throw a BackendError.
   */
  async exec(command: string, options: SshExecOptions = {}): Promise<ExecResult> {
    const shown = options.logAs ?? this.describe(command, options);
    const full = this.buildCommand(command, options);
    const timeoutMs = options.timeoutMs ?? this.opts.defaultTimeoutMs;
    const at = new Date();
    try {
      const result = await this.run(full, shown, options, timeoutMs);
      this.record({
        at: at.toISOString(),
        command: shown,
        exitCode: result.exitCode,
        durationMs: Date.now() - at.getTime(),
        stdout: truncate(result.stdout),
        stderr: truncate(result.stderr),
      });
      return result;
    } catch (err) {
      this.record({
        at: at.toISOString(),
        command: shown,
        exitCode: null,
        durationMs: Date.now() - at.getTime(),
        stdout: '',
        stderr: truncate(errorMessage(err)),
      });
      throw err;
    }
  }

  /**
   * Writes `content` to `remotePath` (created with `umask 077` in a temp file next to it, then
   * chmod `mode` and renamed into place). The content travels over stdin, never a command line.
   */
  async upload(remotePath: string, content: Buffer | string, mode = 0o600): Promise<void> {
    await uploadFile((c, o) => this.exec(c, o), this.endpoint, remotePath, content, mode);
  }

  /**
   * Uploads `content` to a fresh `mktemp` file (mode 0600), runs `fn` with its path and removes
   * the file afterwards, also when `fn` throws.
   */
  async withTempFile<T>(content: Buffer | string, fn: (remotePath: string) => Promise<T>): Promise<T> {
    return withRemoteTempFile((c, o) => this.exec(c, o), this.endpoint, content, fn, this.opts.onWarning);
  }

  /** Recent commands, oldest first (outputs truncated to 2 KB; stdin is never recorded). */
  commandLog(): CommandLogEntry[] {
    return this.log.map((e) => ({ ...e }));
  }

  /** Connection state for the UI. */
  health(): BackendHealth {
    return { connected: this.client !== null, lastError: this.lastError, endpoint: this.endpoint };
  }

  /** Closes the connection; later calls fail with a permanent BackendError. */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    if (!client) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000);
      t.unref();
      client.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      client.end();
    });
  }

  // ---------------------------------------------------------------------------------------------

  private record(entry: CommandLogEntry): void {
    this.log.push(entry);
    while (this.log.length > this.opts.commandLogSize) this.log.shift();
  }

  private describe(command: string, options: SshExecOptions): string {
    let text = command;
    if (options.cwd !== undefined) text = `cd ${shellQuotePath(options.cwd)} && ${text}`;
    const names = Object.keys(options.env ?? {});
    if (names.length > 0) text = `[env ${names.join(',')}] ${text}`;
    return text;
  }

  private buildCommand(command: string, options: SshExecOptions): string {
    let body = command;
    if (options.cwd !== undefined) {
      const cd = `cd ${shellQuotePath(options.cwd)}`;
      body = command.trim() === '' ? cd : `${cd} && {\n${command}\n}`;
    }
    const exports = Object.entries(options.env ?? {}).map(([k, v]) => `${shellExport(k, v)};`);
    return exports.length > 0 ? `${exports.join(' ')}\n${body}` : body;
  }

  private async run(
    full: string,
    shown: string,
    options: SshExecOptions,
    timeoutMs: number,
  ): Promise<ExecResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const client = await this.waitForClient(deadline, shown);
      const release = await this.sem.acquire();
      let running: RunningExec;
      try {
        running = await startExec(client, full, options.stdin, options);
      } catch (err) {
        release();
        const message = errorMessage(err);
        if (/open fail|channel open failure/i.test(message) && this.client === client && !this.closed) {
          // MaxSessions reached (possibly by other clients): wait a little and try again.
          if (Date.now() + 100 < deadline) {
            await sleep(100 + Math.random() * 200);
            continue;
          }
        } else if (!this.closed && (this.client !== client || /not connected|no response/i.test(message))) {
          // The connection died under us before the command started: safe to reconnect and retry.
          this.dropClient(client, message);
          if (Date.now() < deadline) continue;
        }
        throw new BackendError(`cannot start command on ${this.endpoint}: ${message}`, {
          transient: !this.closed,
          command: shown,
          cause: err,
        });
      }
      try {
        return await this.awaitOutcome(running, shown, timeoutMs);
      } finally {
        release();
      }
    }
  }

  /** Waits for the command to end; on timeout kills it and throws a transient error. */
  private async awaitOutcome(running: RunningExec, shown: string, timeoutMs: number): Promise<ExecResult> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([running.outcome, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      running.kill();
      throw new BackendError(`command timed out after ${timeoutMs} ms on ${this.endpoint}: ${shown}`, {
        transient: true,
        command: shown,
        output: truncate(running.stderrSoFar()),
      });
    }
    switch (outcome.kind) {
      case 'exited':
        return { stdout: outcome.stdout, stderr: outcome.stderr, exitCode: outcome.exitCode };
      case 'error':
        throw new BackendError(`command failed on ${this.endpoint}: ${outcome.error.message}`, {
          transient: true,
          command: shown,
          cause: outcome.error,
        });
      case 'vanished':
        throw new BackendError(`connection to ${this.endpoint} lost while running: ${shown}`, {
          transient: true,
          command: shown,
          output: truncate(outcome.stderr),
        });
    }
  }

  private dropClient(client: Client, reason: string): void {
    if (this.client === client) {
      this.client = null;
      this.lastError = reason;
    }
    client.end();
  }

  /** Resolves to a ready client, waiting for a (re)connect at most until `deadline`. */
  private async waitForClient(deadline: number, shown?: string): Promise<Client> {
    if (this.closed) {
      throw new BackendError(`SSH connection to ${this.endpoint} is closed`, {
        transient: false,
        command: shown,
      });
    }
    if (this.client) return this.client;
    if (!this.loop) {
      const loop = this.connectLoop().finally(() => {
        if (this.loop === loop) this.loop = null;
      });
      loop.catch(() => {}); // waiters handle the rejection; nobody may be left waiting
      this.loop = loop;
    }
    const loop = this.loop;
    this.waiters++;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        loop,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new BackendError(
                  `not connected to ${this.endpoint} (gave up waiting for the connection: ${this.lastError ?? 'connecting'})`,
                  { transient: true, command: shown },
                ),
              ),
            Math.max(0, deadline - Date.now()),
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.waiters--;
    }
  }

  private async connectLoop(): Promise<Client> {
    for (;;) {
      const wait = this.nextAttemptAt - Date.now();
      if (wait > 0) await sleep(wait, true);
      if (this.closed) {
        throw new BackendError(`SSH connection to ${this.endpoint} is closed`, { transient: false });
      }
      try {
        const client = await this.attempt();
        this.failures = 0;
        this.nextAttemptAt = 0;
        return client;
      } catch (err) {
        const be =
          err instanceof BackendError
            ? err
            : new BackendError(`cannot connect to ${this.endpoint}: ${errorMessage(err)}`, {
                transient: true,
                cause: err,
              });
        this.lastError = be.message;
        if (!be.transient) throw be;
        this.nextAttemptAt = Date.now() + backoffDelay(this.failures, this.opts.backoff);
        this.failures++;
        if (this.waiters === 0) throw be;
      }
    }
  }

  private async readLocal(path: string, what: string): Promise<Buffer> {
    try {
      return await readFile(path);
    } catch (err) {
      throw new BackendError(`cannot read ${what} ${path}: ${errorMessage(err)}`, {
        transient: false,
        cause: err,
      });
    }
  }

  private async attempt(): Promise<Client> {
    const t = this.target;
    const key = await this.readLocal(t.keyPath, 'SSH key');
    let cert: CertIdentity | null = null;
    if (t.certPath) {
      const certText = (await this.readLocal(t.certPath, 'SSH certificate')).toString('utf8');
      try {
        cert = loadCertIdentity(key, certText);
      } catch (err) {
        throw new BackendError(`SSH certificate ${t.certPath}: ${errorMessage(err)}`, {
          transient: false,
          cause: err,
        });
      }
    }
    let known: KnownHostEntry[] | null = null;
    if (t.knownHostsPath) {
      known = parseKnownHosts((await this.readLocal(t.knownHostsPath, 'known_hosts file')).toString('utf8'));
    } else if (!this.warnedNoKnownHosts) {
      this.warnedNoKnownHosts = true;
      this.opts.onWarning?.(
        `no known_hosts configured for ${this.endpoint}: the server's host key is NOT verified`,
      );
    }

    const methods: Array<{ type: 'publickey'; username: string; key: ParsedKey | Buffer }> = [];
    if (cert) methods.push({ type: 'publickey', username: t.user, key: cert.key });
    methods.push({ type: 'publickey', username: t.user, key });

    let hostKeyError: string | null = null;
    const config: ConnectConfig = {
      host: t.host,
      port: t.port,
      username: t.user,
      readyTimeout: this.opts.connectTimeoutMs,
      keepaliveInterval: this.opts.keepaliveIntervalMs,
      keepaliveCountMax: 3,
      authHandler: (_left: AuthenticationType[], _partial: boolean, next: (m: unknown) => void) => {
        next(methods.shift() ?? false);
      },
    } as ConnectConfig;
    if (known) {
      const entries = known;
      const path = t.knownHostsPath!;
      config.hostVerifier = (blob: Buffer) => {
        const verdict = verifyHostKey(entries, t.host, t.port, blob, path);
        if (!verdict.ok) hostKeyError = verdict.message;
        return verdict.ok;
      };
      const preferred = knownKeyTypes(entries, t.host, t.port).flatMap((k) =>
        k === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [k],
      );
      const order = [...preferred.filter((a) => HOST_KEY_ALGOS.includes(a))];
      for (const a of HOST_KEY_ALGOS) if (!order.includes(a)) order.push(a);
      config.algorithms = {
        serverHostKey: order as NonNullable<ConnectConfig['algorithms']>['serverHostKey'],
      };
    }
    if (this.opts.connectSocket) {
      try {
        config.sock = await this.opts.connectSocket();
      } catch (err) {
        throw new BackendError(`cannot open a socket to ${this.endpoint}: ${errorMessage(err)}`, {
          transient: true,
          cause: err,
        });
      }
    }

    const client = new ssh2.Client();
    return await new Promise<Client>((resolve, reject) => {
      let settled = false;
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        if (this.closed) {
          client.end();
          reject(new BackendError(`SSH connection to ${this.endpoint} is closed`, { transient: false }));
          return;
        }
        this.client = client;
        this.lastError = null;
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string }) => {
        if (settled) {
          // after 'ready': a connection-level error; 'close' follows and marks us disconnected
          this.lastError = `connection to ${this.endpoint} failed: ${err.message}`;
          return;
        }
        settled = true;
        client.end();
        reject(this.classify(err, hostKeyError, cert !== null));
      });
      client.on('close', () => {
        if (this.client === client) {
          this.client = null;
          this.lastError ??= `connection to ${this.endpoint} closed`;
        }
        if (!settled) {
          settled = true;
          reject(
            new BackendError(`connection to ${this.endpoint} closed during the handshake`, {
              transient: true,
            }),
          );
        }
      });
      try {
        client.connect(config);
        if (cert) installCertAuth(client, cert);
      } catch (err) {
        settled = true;
        client.end();
        reject(
          new BackendError(`cannot connect to ${this.endpoint}: ${errorMessage(err)}`, { transient: false }),
        );
      }
    });
  }

  private classify(
    err: Error & { level?: string },
    hostKeyError: string | null,
    usedCert: boolean,
  ): BackendError {
    if (hostKeyError) return new BackendError(hostKeyError, { transient: false, cause: err });
    if (err.level === 'client-authentication') {
      const what = usedCert
        ? `key ${this.target.keyPath} with certificate ${this.target.certPath}`
        : `key ${this.target.keyPath}`;
      return new BackendError(`SSH authentication failed for ${this.endpoint} (${what}): ${err.message}`, {
        transient: false,
        cause: err,
      });
    }
    if (err.level === 'client-timeout') {
      return new BackendError(`timed out connecting to ${this.endpoint}: ${err.message}`, {
        transient: true,
        cause: err,
      });
    }
    return new BackendError(`cannot connect to ${this.endpoint}: ${err.message}`, {
      transient: true,
      cause: err,
    });
  }
}
