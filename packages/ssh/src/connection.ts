/**
 * One persistent SSH connection per backend, shared by all of the backend's commands.
 *
 * - commands run on channels of the single connection, at most `maxChannels` at once (below
 *   OpenSSH's default `MaxSessions 10`); a channel the server refuses is retried, never fatal;
 * - on connection loss the next command reconnects with exponential backoff and full jitter;
 *   commands issued while disconnected wait for the reconnect, bounded by their timeout;
 * - authentication and host-key problems are permanent {@link BackendError}s, everything else
 *   (network, timeouts) is transient.
 *
 * This module runs commands and terminals on the connection; keeping the client connected is in
 * `client-keeper.ts`, what a login presents and accepts in `login.ts`, and what a command's end
 * means for its caller in `exec-outcome.ts`.
 */
import type { Duplex } from 'node:stream';
import {
  BackendError,
  type BackendHealth,
  type CommandLogEntry,
  type CommandRunner,
  type ExecResult,
  shellQuotePath,
} from '@scripthut/core';
import { type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js';
import { ClientKeeper, sleep } from './client-keeper.js';
import { type RunningExec, startExec } from './exec-channel.js';
import { awaitExecOutcome, truncateForLog } from './exec-outcome.js';
import { BOOTSTRAP_COMMAND, type FramedProgram, frameProgram, OutputFramer } from './framing.js';
import { errorMessage, type SshTarget } from './login.js';
import { uploadFile, withRemoteTempFile } from './remote-upload.js';
import { Semaphore } from './semaphore.js';
import { openPtyChannel, type ShellChannel, type ShellOptions } from './shell-channel.js';

export { isUnresolvableHost, type SshTarget } from './login.js';

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
  /** The ssh2 client, (re)connected on demand; closing it ends the connection for good. */
  private readonly link: ClientKeeper;
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
    this.link = new ClientKeeper(target, {
      endpoint: this.endpoint,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      keepaliveIntervalMs: this.opts.keepaliveIntervalMs,
      backoff: this.opts.backoff,
      onWarning: this.opts.onWarning,
      connectSocket: this.opts.connectSocket,
    });
  }

  /** Connects now (exec() connects on demand). Rejects with a BackendError. */
  async connect(): Promise<void> {
    await this.link.waitForClient(Date.now() + this.opts.connectTimeoutMs);
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
        stdout: truncateForLog(result.stdout),
        stderr: truncateForLog(result.stderr),
      });
      return result;
    } catch (err) {
      this.record({
        at: at.toISOString(),
        command: shown,
        exitCode: null,
        durationMs: Date.now() - at.getTime(),
        stdout: '',
        stderr: truncateForLog(errorMessage(err)),
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
      const client = await this.link.waitForClient(deadline, shown);
      const release = await this.acquireChannel(shown);
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
    return { connected: this.link.current !== null, lastError: this.link.lastError, endpoint: this.endpoint };
  }

  /**
   * Closes the connection at once: commands waiting for a (re)connect or a channel are rejected
   * now, a connection attempt in progress is abandoned, the reconnect backoff is cut short, and
   * running commands end as their channels close. Every call after this fails. Errors caused by
   * the close are transient (see {@link ClientKeeper.closedError}).
   */
  async close(): Promise<void> {
    await this.link.close();
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

  /**
   * Waits for one of the `maxChannels` channel slots; the returned function hands it back. A close
   * while waiting rejects at once (the slot is handed back when it is granted later).
   */
  private async acquireChannel(shown: string): Promise<() => void> {
    const acquiring = this.sem.acquire();
    try {
      return await Promise.race([acquiring, this.link.closedSignal]);
    } catch {
      void acquiring.then((r) => r()); // closed while waiting: hand the slot back when granted
      throw this.link.closedError(shown, false);
    }
  }

  private async run(
    framed: FramedProgram,
    shown: string,
    options: SshExecOptions,
    timeoutMs: number,
  ): Promise<ExecResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const client = await this.link.waitForClient(deadline, shown);
      const release = await this.acquireChannel(shown);
      if (this.link.closed) {
        release();
        throw this.link.closedError(shown, false);
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
        if (
          /open fail|channel open failure/i.test(message) &&
          this.link.current === client &&
          !this.link.closed
        ) {
          // MaxSessions reached (possibly by other clients): wait a little and try again.
          if (Date.now() + 100 < deadline) {
            await sleep(100 + Math.random() * 200);
            continue;
          }
        } else if (
          !this.link.closed &&
          (this.link.current !== client || /not connected|no response/i.test(message))
        ) {
          // The connection died under us before the command started: safe to reconnect and retry.
          this.link.dropClient(client, message);
          if (Date.now() < deadline) continue;
        }
        if (this.link.closed) throw this.link.closedError(shown, false);
        throw new BackendError(`cannot start command on ${this.endpoint}: ${message}`, {
          transient: true,
          command: shown,
          cause: e,
          details: { started: false },
        });
      }
      try {
        const result = await awaitExecOutcome(running, {
          endpoint: this.endpoint,
          shown,
          timeoutMs,
          marker: framed.marker,
        });
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
}
