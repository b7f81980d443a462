/**
 * Commands through the user's own OpenSSH ControlMaster connection (`ssh.control_path`), for
 * clusters that want a password and a second factor at every login: the user opens the master once
 * (`ssh -M -S <path> -fN …`, answering the prompts), and every command of the backend runs as a
 * session of that connection through the system `ssh` client:
 *
 *     ssh -S <path> -o ControlMaster=no -o BatchMode=yes -o ProxyCommand=false … -p PORT -l USER -- HOST \
 *       'exec timeout -k 5 <secs> /bin/bash -s'
 *
 * - `ssh` is spawned with an argv array, never through a local shell;
 * - the program (exports, `cd`, the command, and the command's stdin as base64 in a heredoc) goes
 *   on stdin: no value ever appears on a command line (local or remote `ps`), and the remote
 *   command line is the same for every call;
 * - `ProxyCommand=false` makes ssh fail at once when the master is gone instead of falling back to
 *   a fresh login (which would fail without the second factor and count as a failed login);
 * - the remote side runs under `timeout -k`, so a timed-out command really ends (killing the local
 *   client does not end a remote command that has no terminal); GNU `timeout` and `/bin/bash` are
 *   required on the login node;
 * - a begin marker printed by the program tells "never started" (the session could not be opened:
 *   safe to retry) from "started and then lost", and drops what the login shell's rc files print;
 * - at most `maxSessions` sessions at once (OpenSSH's `MaxSessions` is 10 per connection, shared
 *   with the user's own sessions on the same master);
 * - `ssh -O check` runs before the first command and after any failure; while the master is gone
 *   every command fails at once with a transient `BackendError` whose message is the command to log
 *   in again, so the engine keeps its tasks and resumes when the socket is back.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  BackendError,
  type BackendHealth,
  type CommandLogEntry,
  type ExecResult,
  shellQuotePath,
} from '@scripthut/core';
import type { BackendExecOptions, BackendSsh } from './backend-connection.js';
import {
  type ControlPathContext,
  expandControlPath,
  MAX_SOCKET_PATH_BYTES,
  masterCheckArgs,
  masterLoginCommand,
} from './control-path.js';
import { runSsh, type SshOutcome, type SshProcessHost, sshProgram } from './openssh-process.js';
import { truncateOutput } from './remote-files.js';
import { uploadFile, withRemoteTempFile } from './remote-upload.js';
import { Semaphore } from './semaphore.js';
import type { ShellChannel, ShellOptions } from './shell-channel.js';

/** Where to run commands: the destination and the master's socket. */
export interface OpenSshTarget {
  host: string;
  port: number;
  user: string;
  /**
   * `ssh.control_path` as configured (`~`, `${VAR}`, `%r %h %p %C …`). It is passed to `ssh -S`
   * as written, so ssh expands it exactly as for the login command the user runs.
   */
  controlPath: string;
}

/** Tuning of an {@link OpenSshTransport}. */
export interface OpenSshTransportOptions {
  /** Sessions (commands) at once on the master. Default 6 (leaves room in `MaxSessions 10`). */
  maxSessions?: number;
  /** Default per-command timeout. Default 60000. */
  defaultTimeoutMs?: number;
  /** Seconds between the remote `timeout`'s TERM and its KILL. Default 5. */
  killAfterSeconds?: number;
  /** Entries kept by {@link OpenSshTransport.commandLog}. Default 200. */
  commandLogSize?: number;
  /** The OpenSSH client. Default `ssh` (looked up on PATH). */
  sshCommand?: string;
  /** Backend name, for messages (`scripthut login <name>`). */
  backendName?: string;
  /** Called with non-fatal warnings. */
  onWarning?: (message: string) => void;
  /** Local facts used to show the expanded socket path (tests). */
  pathContext?: Omit<ControlPathContext, 'host' | 'port' | 'user'>;
}

/** Options of {@link OpenSshTransport.exec}: {@link BackendExecOptions} with binary stdin allowed. */
export interface OpenSshExecOptions extends Omit<BackendExecOptions, 'stdin'> {
  /** The command's stdin, or the program itself when the command is exactly `bash -s`. */
  stdin?: string | Buffer;
}

const LOG_OUTPUT_LIMIT = 2048;
/** ssh's own exit status for its errors (also what a remote command may return itself). */
const SSH_ERROR = 255;
/** Options that keep the user's ssh_config from changing what a session does. */
const SESSION_OPTIONS = [
  '-T',
  '-o',
  'ControlMaster=no',
  '-o',
  'BatchMode=yes',
  '-o',
  'ProxyCommand=false',
  '-o',
  'RemoteCommand=none',
  '-o',
  'ClearAllForwardings=yes',
  '-o',
  'ForwardAgent=no',
  '-o',
  'ForwardX11=no',
  '-o',
  'PermitLocalCommand=no',
  '-o',
  'LogLevel=ERROR',
];

function truncate(text: string): string {
  if (text.length <= LOG_OUTPUT_LIMIT) return text;
  return `${text.slice(0, LOG_OUTPUT_LIMIT)}… [${text.length - LOG_OUTPUT_LIMIT} more chars]`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs a backend's commands through an OpenSSH ControlMaster socket. Satisfies {@link BackendSsh},
 * so the Slurm and PBS backends use it like the built-in ssh2 connection.
 *
 * @example
 * ```ts
 * // once, in a terminal: ssh -M -S '~/.ssh/cm-%r@%h:%p' -o ControlPersist=yes -fN -p 22 me@login.hpc.edu
 * const ssh = new OpenSshTransport(
 *   { host: 'login.hpc.edu', port: 22, user: 'me', controlPath: '~/.ssh/cm-%r@%h:%p' },
 *   { backendName: 'hpc' },
 * );
 * const { stdout } = await ssh.exec('squeue --me -h', { timeoutMs: 30_000 });
 * console.log(ssh.health()); // { connected: true, lastError: null, endpoint: 'me@login.hpc.edu:22 …' }
 * ```
 */
export class OpenSshTransport implements BackendSsh {
  readonly remote = true as const;
  /** The socket path as ssh will expand it (for messages). */
  readonly socketPath: string;
  private readonly sem: Semaphore;
  private readonly opts: Required<
    Omit<OpenSshTransportOptions, 'onWarning' | 'pathContext' | 'backendName'>
  > &
    Pick<OpenSshTransportOptions, 'onWarning' | 'backendName'>;
  private readonly endpoint: string;
  private master: 'unknown' | 'up' | 'down' = 'unknown';
  private checking: Promise<boolean> | null = null;
  private lastError: string | null = null;
  /** Set when the ssh client itself cannot be run: a setup problem, not a missing master. */
  private clientMissing = false;
  private closed = false;
  private readonly running = new Set<ChildProcess>();
  private readonly host: SshProcessHost;
  private readonly log: CommandLogEntry[] = [];

  /**
   * @throws BackendError (permanent) when the control path is invalid or too long for a socket.
   */
  constructor(
    readonly target: OpenSshTarget,
    options: OpenSshTransportOptions = {},
  ) {
    this.opts = {
      maxSessions: options.maxSessions ?? 6,
      defaultTimeoutMs: options.defaultTimeoutMs ?? 60_000,
      killAfterSeconds: options.killAfterSeconds ?? 5,
      commandLogSize: options.commandLogSize ?? 200,
      sshCommand: options.sshCommand ?? 'ssh',
      onWarning: options.onWarning,
      backendName: options.backendName,
    };
    this.sem = new Semaphore(this.opts.maxSessions);
    this.host = { sshCommand: this.opts.sshCommand, running: this.running, isClosed: () => this.closed };
    try {
      this.socketPath = expandControlPath(target.controlPath, {
        ...options.pathContext,
        host: target.host,
        port: target.port,
        user: target.user,
      });
    } catch (err) {
      throw new BackendError(errorMessage(err), { transient: false, cause: err });
    }
    if (Buffer.byteLength(this.socketPath) > MAX_SOCKET_PATH_BYTES)
      throw new BackendError(
        `control path ${this.socketPath} is ${Buffer.byteLength(this.socketPath)} bytes long; a Unix socket path may have at most ${MAX_SOCKET_PATH_BYTES} (use a shorter directory or %C)`,
        { transient: false },
      );
    this.endpoint = `${target.user}@${target.host}:${target.port}`;
  }

  /** The command that opens the master connection (shown when it is gone). */
  loginCommand(): string {
    return masterLoginCommand(this.target);
  }

  /**
   * Asks the master whether it is running (`ssh -O check`, local only) and updates
   * {@link health}. Concurrent calls share one check.
   */
  check(): Promise<boolean> {
    if (!this.checking) {
      const p = this.runCheck().finally(() => {
        if (this.checking === p) this.checking = null;
      });
      this.checking = p;
    }
    return this.checking;
  }

  /**
   * Runs `command` with `/bin/bash` on the login node through the master. A command of exactly
   * `bash -s` with `stdin` runs `stdin` as the program; otherwise `stdin` (or nothing) is the
   * command's stdin. A non-zero exit code is returned, not thrown; a missing master, a lost
   * session and timeouts throw a transient {@link BackendError} (`details.started` tells whether
   * the command had started), unusable setups (no `ssh`, no `timeout` on the login node) a
   * permanent one.
   */
  async exec(command: string, options: OpenSshExecOptions = {}): Promise<ExecResult> {
    const shown = options.logAs ?? this.describe(command, options);
    const timeoutMs = options.timeoutMs ?? this.opts.defaultTimeoutMs;
    const at = Date.now();
    try {
      const result = await this.run(command, options, shown, timeoutMs);
      this.record(at, shown, result.exitCode, result.stdout, result.stderr);
      return result;
    } catch (err) {
      this.record(at, shown, null, '', errorMessage(err));
      throw err;
    }
  }

  /** Writes `content` to `remotePath` (mode `mode`, default 0600) through stdin. */
  async upload(remotePath: string, content: Buffer | string, mode = 0o600): Promise<void> {
    await uploadFile((c, o) => this.exec(c, o), this.endpoint, remotePath, content, mode);
  }

  /** Uploads `content` to a fresh 0600 temp file, runs `fn` with its path, removes it afterwards. */
  withTempFile<T>(content: Buffer | string, fn: (remotePath: string) => Promise<T>): Promise<T> {
    return withRemoteTempFile((c, o) => this.exec(c, o), this.endpoint, content, fn, this.opts.onWarning);
  }

  /**
   * Terminals are not offered on this transport: a PTY through the master needs a local
   * pseudo-terminal for `ssh -tt` to follow window size changes, which Node cannot create without a
   * native module. Always rejects with a permanent {@link BackendError} saying so.
   */
  async openShell(_options: ShellOptions): Promise<ShellChannel> {
    throw new BackendError(
      `terminal unavailable on this transport: backend ${this.opts.backendName ?? this.endpoint} uses an OpenSSH ControlMaster (ssh.control_path); open a terminal with: ssh -S ${this.socketPath} -p ${this.target.port} ${this.target.user}@${this.target.host}`,
      { transient: false, details: { started: false, reason: 'terminal_unavailable' } },
    );
  }

  /** Recent commands, oldest first (outputs truncated to 2 KB; stdin is never recorded). */
  commandLog(): CommandLogEntry[] {
    return this.log.map((e) => ({ ...e }));
  }

  /** Master state for the UI: `lastError` holds the login command while the master is gone. */
  health(): BackendHealth {
    return {
      connected: this.master === 'up',
      lastError: this.lastError,
      endpoint: `${this.endpoint} (OpenSSH master ${this.socketPath})`,
    };
  }

  /**
   * Stops using the master (which keeps running: it belongs to the user). Commands in flight are
   * ended and fail with a transient error; later calls fail with a permanent one.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const child of this.running) child.kill('SIGTERM');
  }

  // ---------------------------------------------------------------------------------------------

  private record(at: number, command: string, exitCode: number | null, stdout: string, stderr: string): void {
    this.log.push({
      at: new Date(at).toISOString(),
      command,
      exitCode,
      durationMs: Date.now() - at,
      stdout: truncate(stdout),
      stderr: truncate(stderr),
    });
    while (this.log.length > this.opts.commandLogSize) this.log.shift();
  }

  private describe(command: string, options: OpenSshExecOptions): string {
    let text = command;
    if (options.cwd !== undefined) text = `cd ${shellQuotePath(options.cwd)} && ${text}`;
    const names = Object.keys(options.env ?? {});
    if (names.length > 0) text = `[env ${names.join(',')}] ${text}`;
    return text;
  }

  private closedError(shown: string): BackendError {
    return new BackendError(`OpenSSH transport to ${this.endpoint} is closed`, {
      transient: false,
      command: shown,
    });
  }

  /** The error of a command that found no master (transient) or no ssh client (permanent). */
  private notRunningError(shown: string): BackendError {
    return new BackendError(this.lastError ?? `OpenSSH master to ${this.endpoint} is not running`, {
      transient: !this.clientMissing,
      command: shown,
      details: { started: false },
    });
  }

  private disconnectedMessage(detail: string): string {
    const name = this.opts.backendName;
    return [
      `OpenSSH master connection${name ? ` of backend ${name}` : ''} to ${this.endpoint} is not running`,
      `(control socket ${this.socketPath}${detail ? `: ${detail}` : ''}).`,
      `Log in again with: ${this.loginCommand()}${name ? ` (or: scripthut login ${name})` : ''}`,
    ].join(' ');
  }

  private async runCheck(): Promise<boolean> {
    const args = masterCheckArgs(this.target);
    const outcome = await runSsh(this.host, args, '', 10_000, null);
    if (outcome.kind === 'exited' && outcome.code === 0) {
      this.master = 'up';
      this.lastError = null;
      this.clientMissing = false;
      return true;
    }
    this.master = 'down';
    this.clientMissing = outcome.kind === 'spawn-error';
    if (outcome.kind === 'spawn-error') {
      this.lastError = `cannot run ${this.opts.sshCommand} (is the OpenSSH client installed?): ${outcome.error.message}`;
    } else {
      const detail =
        outcome.kind === 'exited'
          ? outcome.stderr.trim().split('\n').pop()!.trim()
          : 'ssh -O check did not answer';
      this.lastError = this.disconnectedMessage(detail);
    }
    return false;
  }

  private destination(): string[] {
    return ['-p', String(this.target.port), '-l', this.target.user, '--', this.target.host];
  }

  private async run(
    command: string,
    options: OpenSshExecOptions,
    shown: string,
    timeoutMs: number,
  ): Promise<ExecResult> {
    const deadline = Date.now() + timeoutMs;
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const remote = `exec timeout -k ${this.opts.killAfterSeconds} ${seconds} /bin/bash -s`;
    for (;;) {
      if (this.closed) throw this.closedError(shown);
      if (this.master !== 'up' && !(await this.check())) throw this.notRunningError(shown);
      const marker = `@@SCRIPTHUT-BEGIN-${randomBytes(8).toString('hex')}@@`;
      const args = ['-S', this.target.controlPath, ...SESSION_OPTIONS, ...this.destination(), remote];
      const release = await this.sem.acquire();
      let outcome: SshOutcome;
      try {
        if (this.closed) throw this.closedError(shown);
        outcome = await runSsh(
          this.host,
          args,
          sshProgram({ command, ...options }, marker),
          timeoutMs,
          marker,
        );
      } finally {
        release();
      }
      switch (outcome.kind) {
        case 'spawn-error':
          throw new BackendError(
            `cannot run ${this.opts.sshCommand} (is the OpenSSH client installed?): ${outcome.error.message}`,
            { transient: false, command: shown, cause: outcome.error },
          );
        case 'closed':
          throw new BackendError(`OpenSSH transport to ${this.endpoint} is shutting down: ${shown}`, {
            transient: true,
            command: shown,
            details: { started: outcome.started },
          });
        case 'timeout':
          throw new BackendError(`command timed out after ${timeoutMs} ms on ${this.endpoint}: ${shown}`, {
            transient: true,
            command: shown,
            output: truncate(outcome.stderr),
            details: { started: outcome.started },
          });
        case 'killed':
          throw new BackendError(
            `ssh was killed by ${outcome.signal} while running on ${this.endpoint}: ${shown}`,
            {
              transient: true,
              command: shown,
              output: truncate(outcome.stderr),
              details: { started: outcome.started },
            },
          );
        case 'exited':
          break;
      }
      if (outcome.started && outcome.code !== SSH_ERROR)
        return { stdout: outcome.stdout, stderr: outcome.stderr, exitCode: outcome.code };
      if (outcome.started) {
        // 255: the command's own exit status, or the session died under it.
        if (await this.check())
          return { stdout: outcome.stdout, stderr: outcome.stderr, exitCode: outcome.code };
        throw new BackendError(
          `connection to ${this.endpoint} lost while running: ${shown}. ${this.lastError}`,
          {
            transient: true,
            command: shown,
            output: truncate(outcome.stderr),
            details: { started: true },
          },
        );
      }
      const stderr = outcome.stderr.trim();
      if (outcome.code !== SSH_ERROR) {
        // ssh reached the login node but bash never started under `timeout`.
        throw new BackendError(
          `cannot start /bin/bash under timeout on ${this.endpoint} (GNU coreutils timeout and /bin/bash are required on the login node; exit ${outcome.code}): ${truncateOutput(stderr, 500)}`,
          { transient: false, command: shown, output: truncate(stderr), details: { started: false } },
        );
      }
      if (!(await this.check())) throw this.notRunningError(shown);
      if (
        /session open refused|session request failed|administratively prohibited|open failed/i.test(stderr)
      ) {
        // MaxSessions reached (possibly by the user's own sessions): wait a little and try again.
        if (Date.now() + 100 < deadline) {
          await sleep(100 + Math.random() * 200);
          continue;
        }
      }
      throw new BackendError(`cannot start command on ${this.endpoint}: ${truncateOutput(stderr, 500)}`, {
        transient: true,
        command: shown,
        output: truncate(stderr),
        details: { started: false },
      });
    }
  }
}
