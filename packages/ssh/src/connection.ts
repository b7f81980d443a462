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
  shellQuotePath,
} from '@scripthut/core';
import type { AuthenticationType, Client, ConnectConfig, ParsedKey } from 'ssh2';
import ssh2 from 'ssh2';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import { type CertIdentity, installCertAuth, loadCertIdentity } from './cert-auth.js';
import { type RunningExec, startExec } from './exec-channel.js';
import { BOOTSTRAP_COMMAND, type FramedProgram, frameProgram, OutputFramer } from './framing.js';
import { fingerprintSha256, PinnedHostKeys } from './host-key-pins.js';
import {
  type KnownHostEntry,
  keyTypeOfBlob,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  verifyHostKey,
} from './known-hosts.js';
import { uploadFile, withRemoteTempFile } from './remote-upload.js';
import { Semaphore } from './semaphore.js';
import { openPtyChannel, type ShellChannel, type ShellOptions } from './shell-channel.js';

/** Where and as whom to connect. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Private key file (OpenSSH or PEM format, unencrypted). */
  keyPath: string;
  /** OpenSSH certificate for the key (`*-cert.pub`), tried before the plain key. */
  certPath?: string | null;
  /** OpenSSH known_hosts file: the host key must be listed there (strict checking). */
  knownHostsPath?: string | null;
  /**
   * Used when `knownHostsPath` is unset: a ScriptHut-owned known_hosts file for trust on first use.
   * The first connection pins the host's key there (one warning naming its `SHA256:` fingerprint);
   * a different key later is a permanent error saying how to accept it (`ssh-keygen -R`).
   * With neither file the host key is NOT verified (one warning; only for hosts reached through an
   * authenticated tunnel, such as EC2 instances over SSM).
   */
  pinnedKnownHostsPath?: string | null;
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
  /** Called with non-fatal warnings (a host key pinned on first use, or not verified). */
  onWarning?: (message: string) => void;
  /** Custom socket factory (EC2 uses an SSM tunnel); default TCP to host:port. */
  connectSocket?: () => Promise<Duplex>;
  /**
   * Terminals ({@link SshConnection.openShell}) open at once. Each holds one of the `maxChannels`
   * channels for its whole life, so this stays below it. Default `max(1, maxChannels - 4)`.
   */
  maxShells?: number;
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
  /** Working directory, applied as `cd -- <quoted> || exit` (`~/` is expanded remotely). */
  cwd?: string;
  /** Exported before the command as `export K='v'` (never sent as SSH env requests). */
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

/**
 * True when `err` (or its cause chain) says the host name does not resolve (`getaddrinfo
 * ENOTFOUND`). Not worth retrying within a user's command; the background poller still retries
 * with backoff, since DNS can come back. `EAI_AGAIN` (a temporary resolver failure) is not included.
 */
export function isUnresolvableHost(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { code?: unknown; details?: { reason?: unknown }; cause?: unknown };
    if (e.code === 'ENOTFOUND' || e.details?.reason === 'host_not_found') return true;
    current = e.cause;
  }
  return false;
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
  private readonly opts: Required<Omit<SshConnectionOptions, 'onWarning' | 'connectSocket' | 'maxShells'>> &
    Pick<SshConnectionOptions, 'onWarning' | 'connectSocket'>;
  private readonly maxShells: number;
  private shells = 0;
  private readonly endpoint: string;
  private client: Client | null = null;
  private loop: Promise<Client> | null = null;
  private waiters = 0;
  private failures = 0;
  private nextAttemptAt = 0;
  private lastError: string | null = null;
  private closed = false;
  /** Settles (rejects) when {@link close} is called: every wait races against it. */
  private readonly closedSignal: Promise<never>;
  private rejectClosed!: (e: BackendError) => void;
  /** The client of a connection attempt in progress (destroyed by {@link close}). */
  private connecting: Client | null = null;
  /** The last attempt failed because the host name does not resolve (see {@link isUnresolvableHost}). */
  private unresolvable: BackendError | null = null;
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
    this.maxShells = Math.min(
      this.opts.maxChannels,
      Math.max(1, options.maxShells ?? this.opts.maxChannels - 4),
    );
    this.endpoint = `${target.user}@${target.host}:${target.port}`;
    this.closedSignal = new Promise<never>((_, reject) => {
      this.rejectClosed = reject;
    });
    this.closedSignal.catch(() => {}); // only ever observed through races
  }

  /**
   * The error of a command cut short by {@link close}. Transient on purpose: the connection was
   * closed by us (shutdown), which says nothing about the command, so a submission interrupted this
   * way is reconciled by its tag on the next start instead of failing its task.
   */
  private closedError(command?: string, started?: false): BackendError {
    return new BackendError(`SSH connection to ${this.endpoint} was closed (ScriptHut is shutting down)`, {
      transient: true,
      ...(command !== undefined ? { command } : {}),
      ...(started === false ? { details: { started: false } } : {}),
    });
  }

  /** Connects now (exec() connects on demand). Rejects with a BackendError. */
  async connect(): Promise<void> {
    await this.waitForClient(Date.now() + this.opts.connectTimeoutMs);
  }

  /**
   * Runs `command` with `/bin/bash` on the remote host, whatever the user's login shell is (see
   * `framing.ts`): the login shell only `exec`s bash, the command travels on stdin, and anything the
   * login shell's rc files print before it starts is dropped from stdout and stderr. A command of
   * exactly `bash -s` with `stdin` runs `stdin` as the program. A non-zero exit code is returned,
   * not thrown; timeouts and connection problems throw a BackendError (`details.started` tells
   * whether the command had started: then it may have done its work, and `details.stdout` holds
   * what it had printed).
   */
  async exec(command: string, options: SshExecOptions = {}): Promise<ExecResult> {
    const shown = options.logAs ?? this.describe(command, options);
    const framed = frameProgram({
      command,
      stdin: options.stdin,
      cwd: options.cwd,
      env: options.env,
    });
    const timeoutMs = options.timeoutMs ?? this.opts.defaultTimeoutMs;
    const at = new Date();
    try {
      const result = await this.run(framed, shown, options, timeoutMs);
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

  /**
   * Opens an interactive PTY channel (a terminal) on this connection: the login shell, or
   * `options.command` on a PTY. It holds one of the `maxChannels` channel slots until it closes, and
   * at most `maxShells` terminals are open at once (beyond that: a BackendError, at once). Start and
   * end are recorded in the command log (never what is typed or shown).
   *
   * @throws BackendError when not connected within `connectTimeoutMs`, over the terminal limit, or
   *   when the server refuses the channel; RangeError for a bad size or TERM.
   */
  async openShell(options: ShellOptions): Promise<ShellChannel> {
    const shown =
      options.logAs ??
      (options.command !== undefined ? `terminal: ${options.command}` : 'terminal: login shell');
    if (this.shells >= this.maxShells) {
      throw new BackendError(
        `too many terminals open on ${this.endpoint} (at most ${this.maxShells}); close one first`,
        { transient: true, command: shown, details: { started: false, reason: 'terminal_limit' } },
      );
    }
    this.shells++;
    let counted = true;
    const uncount = () => {
      if (counted) this.shells--;
      counted = false;
    };
    const at = new Date();
    try {
      const deadline = Date.now() + this.opts.connectTimeoutMs;
      const client = await this.waitForClient(deadline, shown);
      const acquiring = this.sem.acquire();
      let release: () => void;
      try {
        release = await Promise.race([acquiring, this.closedSignal]);
      } catch {
        void acquiring.then((r) => r());
        throw this.closedError(shown, false);
      }
      let channel: ShellChannel;
      try {
        channel = await openPtyChannel(client, options, (exit) => {
          release();
          uncount();
          this.record({
            at: new Date().toISOString(),
            command: `${shown} (ended)`,
            exitCode: exit.exitCode,
            durationMs: Date.now() - at.getTime(),
            stdout: '',
            stderr: exit.signal ? `signal ${exit.signal}` : '',
          });
        });
      } catch (e) {
        release();
        if (e instanceof RangeError) throw e;
        throw new BackendError(`cannot open a terminal on ${this.endpoint}: ${errorMessage(e)}`, {
          transient: true,
          command: shown,
          cause: e,
          details: { started: false },
        });
      }
      this.record({
        at: at.toISOString(),
        command: `${shown} (started)`,
        exitCode: null,
        durationMs: 0,
        stdout: '',
        stderr: '',
      });
      return channel;
    } catch (e) {
      uncount();
      throw e;
    }
  }

  /** Terminals open now ({@link openShell}). */
  get openShells(): number {
    return this.shells;
  }

  /** Recent commands, oldest first (outputs truncated to 2 KB; stdin is never recorded). */
  commandLog(): CommandLogEntry[] {
    return this.log.map((e) => ({ ...e }));
  }

  /** Connection state for the UI. */
  health(): BackendHealth {
    return { connected: this.client !== null, lastError: this.lastError, endpoint: this.endpoint };
  }

  /**
   * Closes the connection at once: commands waiting for a (re)connect or a channel are rejected
   * now, a connection attempt in progress is abandoned, the reconnect backoff is cut short, and
   * running commands end as their channels close. Every call after this fails. Errors caused by
   * the close are transient (see {@link closedError}).
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.rejectClosed(this.closedError());
    }
    const connecting = this.connecting;
    this.connecting = null;
    connecting?.destroy();
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

  private async run(
    framed: FramedProgram,
    shown: string,
    options: SshExecOptions,
    timeoutMs: number,
  ): Promise<ExecResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const client = await this.waitForClient(deadline, shown);
      const acquiring = this.sem.acquire();
      let release: () => void;
      try {
        release = await Promise.race([acquiring, this.closedSignal]);
      } catch {
        void acquiring.then((r) => r()); // closed while waiting: hand the slot back when granted
        throw this.closedError(shown, false);
      }
      if (this.closed) {
        release();
        throw this.closedError(shown, false);
      }
      const out = new OutputFramer(framed.marker);
      const err = new OutputFramer(framed.marker);
      const streams = {
        onStdout: options.onStdout
          ? (chunk: string) => {
              const text = out.push(chunk);
              if (text) options.onStdout!(text);
            }
          : undefined,
        onStderr: options.onStderr
          ? (chunk: string) => {
              const text = err.push(chunk);
              if (text) options.onStderr!(text);
            }
          : undefined,
      };
      let running: RunningExec;
      try {
        running = await startExec(client, BOOTSTRAP_COMMAND, framed.program, streams);
      } catch (e) {
        release();
        const message = errorMessage(e);
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
        if (this.closed) throw this.closedError(shown, false);
        throw new BackendError(`cannot start command on ${this.endpoint}: ${message}`, {
          transient: true,
          command: shown,
          cause: e,
          details: { started: false },
        });
      }
      try {
        const result = await this.awaitOutcome(running, shown, timeoutMs, framed.marker);
        // Streamed output held back while waiting for a marker that never came (bash did not
        // start): pass it on as it is.
        const tailOut = out.end();
        const tailErr = err.end();
        if (tailOut) options.onStdout?.(tailOut);
        if (tailErr) options.onStderr?.(tailErr);
        return result;
      } finally {
        release();
      }
    }
  }

  /**
   * Waits for the command to end; on timeout kills it and throws a transient error. Output before
   * the begin marker (login-shell noise) is dropped. Errors raised once the command was started
   * carry `details.started: true`: the command may have done (part of) its work.
   */
  private async awaitOutcome(
    running: RunningExec,
    shown: string,
    timeoutMs: number,
    marker: string,
  ): Promise<ExecResult> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([running.outcome, timedOut]);
    clearTimeout(timer);
    // What the command printed before it was lost: a batch program's answer lines so far.
    const started = (stdout: string) => ({ started: true, stdout: OutputFramer.strip(stdout, marker).text });
    if (outcome === 'timeout') {
      running.kill();
      throw new BackendError(`command timed out after ${timeoutMs} ms on ${this.endpoint}: ${shown}`, {
        transient: true,
        command: shown,
        output: truncate(OutputFramer.strip(running.stderrSoFar(), marker).text),
        details: started(running.stdoutSoFar()),
      });
    }
    switch (outcome.kind) {
      case 'exited':
        return {
          stdout: OutputFramer.strip(outcome.stdout, marker).text,
          stderr: OutputFramer.strip(outcome.stderr, marker).text,
          exitCode: outcome.exitCode,
        };
      case 'error':
        throw new BackendError(`command failed on ${this.endpoint}: ${outcome.error.message}`, {
          transient: true,
          command: shown,
          cause: outcome.error,
          details: started(running.stdoutSoFar()),
        });
      case 'vanished':
        throw new BackendError(`connection to ${this.endpoint} lost while running: ${shown}`, {
          transient: true,
          command: shown,
          output: truncate(OutputFramer.strip(outcome.stderr, marker).text),
          details: started(outcome.stdout),
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
    if (this.closed) throw this.closedError(shown);
    if (this.client) return this.client;
    // A host name that did not resolve a moment ago fails at once until the next attempt is due,
    // instead of holding every command for its whole timeout.
    if (this.unresolvable && !this.loop && Date.now() < this.nextAttemptAt) {
      throw new BackendError(this.unresolvable.message, {
        transient: true,
        ...(shown !== undefined ? { command: shown } : {}),
        cause: this.unresolvable,
      });
    }
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
        this.closedSignal,
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
      if (wait > 0) await Promise.race([sleep(wait, true), this.closedSignal]);
      if (this.closed) throw this.closedError();
      try {
        const client = await this.attempt();
        this.failures = 0;
        this.nextAttemptAt = 0;
        this.unresolvable = null;
        return client;
      } catch (err) {
        if (this.closed) throw this.closedError();
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
        // Retrying cannot help a name that does not resolve within a user's command: fail the
        // waiters now (the next command after the backoff tries again).
        this.unresolvable = isUnresolvableHost(be) ? be : null;
        if (this.waiters === 0 || this.unresolvable) throw be;
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
    const pins =
      t.knownHostsPath || !t.pinnedKnownHostsPath ? null : new PinnedHostKeys(t.pinnedKnownHostsPath);
    if (t.knownHostsPath) {
      known = parseKnownHosts((await this.readLocal(t.knownHostsPath, 'known_hosts file')).toString('utf8'));
    } else if (pins) {
      try {
        known = await pins.load();
      } catch (err) {
        throw new BackendError(
          `cannot read ScriptHut's known_hosts file ${pins.path}: ${errorMessage(err)}`,
          {
            transient: false,
            cause: err,
          },
        );
      }
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
    /** A key seen for the first time (TOFU): pinned once the connection is ready. */
    let toPin: Buffer | null = null;
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
      if (pins) {
        config.hostVerifier = (blob: Buffer) => {
          const verdict = pins.check(entries, t.host, t.port, blob);
          if (verdict.kind === 'refused') hostKeyError = verdict.message;
          else if (verdict.kind === 'new') toPin = Buffer.from(blob);
          return verdict.kind !== 'refused';
        };
      } else {
        const path = t.knownHostsPath!;
        config.hostVerifier = (blob: Buffer) => {
          const verdict = verifyHostKey(entries, t.host, t.port, blob, path);
          if (!verdict.ok) hostKeyError = verdict.message;
          return verdict.ok;
        };
      }
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

    if (this.closed) {
      (config.sock as Duplex | undefined)?.destroy();
      throw this.closedError();
    }
    const client = new ssh2.Client();
    this.connecting = client;
    return await new Promise<Client>((resolve, reject) => {
      let settled = false;
      let gone = false;
      const done = () => {
        settled = true;
        if (this.connecting === client) this.connecting = null;
      };
      const ready = () => {
        if (gone) {
          reject(
            new BackendError(`connection to ${this.endpoint} closed right after login`, { transient: true }),
          );
          return;
        }
        if (this.closed) {
          client.end();
          reject(this.closedError());
          return;
        }
        this.client = client;
        this.lastError = null;
        resolve(client);
      };
      client.on('ready', () => {
        if (settled) return;
        done();
        // The key is pinned only now: its signature was verified and the login succeeded.
        if (pins && toPin)
          this.pinHostKey(pins, toPin).then(ready, (err: BackendError) => {
            client.end();
            reject(err);
          });
        else ready();
      });
      client.on('error', (err: Error & { level?: string }) => {
        if (settled) {
          // after 'ready': a connection-level error; 'close' follows and marks us disconnected
          this.lastError = `connection to ${this.endpoint} failed: ${err.message}`;
          return;
        }
        done();
        client.end();
        reject(this.closed ? this.closedError() : this.classify(err, hostKeyError, cert !== null));
      });
      client.on('close', () => {
        gone = true;
        if (this.client === client) {
          this.client = null;
          this.lastError ??= `connection to ${this.endpoint} closed`;
        }
        if (!settled) {
          done();
          reject(
            this.closed
              ? this.closedError()
              : new BackendError(`connection to ${this.endpoint} closed during the handshake`, {
                  transient: true,
                }),
          );
        }
      });
      try {
        client.connect(config);
        if (cert) installCertAuth(client, cert);
      } catch (err) {
        done();
        client.end();
        reject(
          new BackendError(`cannot connect to ${this.endpoint}: ${errorMessage(err)}`, { transient: false }),
        );
      }
    });
  }

  /** Writes a first-seen host key to the pin file and warns once naming its fingerprint. */
  private async pinHostKey(pins: PinnedHostKeys, blob: Buffer): Promise<void> {
    const t = this.target;
    let outcome: Awaited<ReturnType<PinnedHostKeys['pin']>>;
    try {
      outcome = await pins.pin(t.host, t.port, blob);
    } catch (err) {
      throw new BackendError(
        `cannot pin the host key of ${knownHostsName(t.host, t.port)} in ${pins.path}: ${errorMessage(err)}`,
        { transient: false, cause: err },
      );
    }
    if ('kind' in outcome) {
      if (outcome.kind === 'refused') throw new BackendError(outcome.message, { transient: false });
      return;
    }
    if (outcome.pinned) {
      this.opts.onWarning?.(
        `first connection to ${knownHostsName(t.host, t.port)}: pinned its host key ` +
          `${keyTypeOfBlob(blob) ?? 'unknown'} ${fingerprintSha256(blob)} in ${pins.path} ` +
          '(trust on first use; compare the fingerprint with the one your cluster publishes, or set ' +
          'ssh.known_hosts to check against your own known_hosts file). A different key will be refused.',
      );
    }
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
    if (isUnresolvableHost(err)) {
      return new BackendError(
        `cannot connect to ${this.endpoint}: host "${this.target.host}" not found (DNS: ${err.message})`,
        { transient: true, cause: err, details: { reason: 'host_not_found', host: this.target.host } },
      );
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
