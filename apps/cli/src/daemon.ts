/**
 * The per-user background daemon of a data directory: finding it, starting it, waiting for it,
 * stopping it. The daemon is `scripthut daemon run` in its own session (detached from the terminal),
 * its output appended to `<data_dir>/daemon.log` (0600). It takes the data dir's engine lock before
 * anything else, so when two commands start one at the same moment, one daemon wins the lock, the
 * other exits, and both commands end up talking to the winner (they wait for the URL the lock
 * names, not for the process they spawned).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import type { LockInfo } from '@scripthut/runtime';
import { CliError, ExitCode } from './errors.js';
import type { Target } from './locate.js';

/** Name of the daemon's log file inside the data directory. */
export const DAEMON_LOG_FILE = 'daemon.log';
/** How long a command waits for a daemon to start answering. */
export const DAEMON_START_TIMEOUT_MS = 60_000;
/** How long `daemon stop` waits for the daemon to exit after SIGTERM. */
export const DAEMON_STOP_TIMEOUT_MS = 15_000;
/** How long a command waits for a lock holder whose server does not answer before giving up. */
export const UNRESPONSIVE_WAIT_MS = 5_000;

export function daemonLogPath(dataDir: string): string {
  return join(dataDir, DAEMON_LOG_FILE);
}

/** A holder of the engine lock that serves HTTP. */
export type ServingHolder = LockInfo & { serverUrl: string };

/** What a health probe of a server found. */
export type Probe = 'ok' | 'unauthorized' | 'down';

/** GET /api/v1/health with the token; `down` on any network failure or a 2 s timeout. */
export async function probeServer(url: string, token: string | null): Promise<Probe> {
  try {
    const res = await fetch(`${url}/api/v1/health`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(2000),
    });
    await res.body?.cancel();
    if (res.status === 401) return 'unauthorized';
    return res.ok ? 'ok' : 'down';
  } catch {
    return 'down';
  }
}

/** The error for a daemon that refuses our token. */
export function tokenMismatch(holder: LockInfo, dataDir: string): CliError {
  return new CliError(
    `the ScriptHut server of ${dataDir} (pid ${holder.pid}, ${holder.serverUrl}) refused this command's token`,
    {
      exitCode: ExitCode.unreachable,
      hint:
        `it was started with another token (settings.auth_token, SCRIPTHUT_TOKEN or ${join(dataDir, 'auth_token')}); ` +
        (holder.role === 'daemon'
          ? 'restart it with `scripthut daemon stop` (the next command starts it again)'
          : 'give its token with --token-file FILE or SCRIPTHUT_TOKEN'),
    },
  );
}

/** True when a process with this pid exists (and is not a zombie). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return true; // no /proc (macOS): kill(0) is all we know
  }
}

/** The text appended to `path` since byte `from` (at most the last 4 KB). */
export function readLogSince(path: string, from: number): string {
  try {
    const size = statSync(path).size;
    const start = Math.max(from, size - 4096);
    if (size <= start) return '';
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

export interface SpawnOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  host?: string;
  port?: number;
}

/** The command line that runs this CLI again (same node, same loader flags, same entry script). */
export function selfCommand(): { file: string; args: string[] } {
  const entry = process.argv[1];
  if (!entry) throw new CliError('cannot tell how this scripthut was started, so it cannot start its daemon');
  // debugger/watch flags are for this process, not the daemon
  const flags = process.execArgv.filter((a) => !/^--(inspect|watch|test)/.test(a));
  return { file: process.execPath, args: [...flags, entry] };
}

/**
 * Start `scripthut daemon run` detached (its own session, no terminal), stdout/stderr appended to
 * `<data_dir>/daemon.log` (0600). Returns the child and the log size before it started.
 */
export function spawnDaemon(target: Target, options: SpawnOptions): { child: ChildProcess; logFrom: number } {
  mkdirSync(target.dataDir, { recursive: true, mode: 0o700 });
  const log = daemonLogPath(target.dataDir);
  const fd = openSync(log, 'a', 0o600);
  let logFrom = 0;
  try {
    const st = statSync(log);
    logFrom = st.size;
    if ((st.mode & 0o077) !== 0) chmodSync(log, 0o600);
    const self = selfCommand();
    const args = [
      ...self.args,
      'daemon',
      'run',
      '--no-color', // its output is a log file (the environment stays as it is: local tasks inherit it)
      ...(target.configPath ? ['--config', target.configPath] : []),
      ...(options.host !== undefined ? ['--host', options.host] : []),
      ...(options.port !== undefined ? ['--port', String(options.port)] : []),
    ];
    const env: NodeJS.ProcessEnv = { ...options.env, SCRIPTHUT_DATA_DIR: target.dataDir };
    // `pnpm scripthut` sets these; the daemon resolves paths from its own cwd and explicit flags.
    delete env.npm_lifecycle_event;
    delete env.INIT_CWD;
    delete env.SCRIPTHUT_NO_DAEMON;
    const child = spawn(self.file, args, {
      cwd: options.cwd,
      env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    child.unref();
    return { child, logFrom };
  } finally {
    closeSync(fd);
  }
}

export interface WaitOptions {
  /** The daemon this command spawned (its early exit without a winner is an error). */
  spawned?: { child: ChildProcess; logFrom: number };
  token: () => Promise<string | null>;
  sleep: (ms: number) => Promise<void>;
  timeoutMs?: number;
  /** Called once when the wait takes longer than 3 s (say what is going on). */
  onSlow?: (holder: LockInfo | null) => void;
}

/**
 * Wait until the data dir's lock names a server that answers its health route with our token.
 * Fails when the spawned daemon exited and nobody else holds the lock (with its log), on a token
 * mismatch, or after the timeout.
 */
export async function waitForServer(dataDir: string, options: WaitOptions): Promise<ServingHolder> {
  const { readEngineLock } = await import('@scripthut/runtime');
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? DAEMON_START_TIMEOUT_MS;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  options.spawned?.child.once('exit', (code, signal) => {
    exit = { code, signal };
  });
  let slowReported = false;
  for (;;) {
    const holder = readEngineLock(dataDir);
    if (holder?.serverUrl) {
      const probe = await probeServer(holder.serverUrl, await options.token());
      if (probe === 'ok') return holder as ServingHolder;
      if (probe === 'unauthorized') throw tokenMismatch(holder, dataDir);
    } else if (!holder && exit && options.spawned) {
      const e = exit as { code: number | null; signal: NodeJS.Signals | null };
      const log = daemonLogPath(dataDir);
      const said = readLogSince(log, options.spawned.logFrom).trim();
      throw new CliError(
        `the ScriptHut daemon exited before it was ready (${e.signal ? `signal ${e.signal}` : `exit code ${e.code}`})${said ? `:\n${said}` : ''}`,
        { hint: `full log: ${log}` },
      );
    } else if (holder && !holder.serverUrl && holder.role !== 'daemon' && holder.role !== 'serve') {
      throw new CliError(
        `another ScriptHut process (pid ${holder.pid}) took the engine lock of ${dataDir} and runs no server`,
        { hint: 'wait for that command to finish, then try again' },
      );
    }
    const elapsed = Date.now() - started;
    if (elapsed > timeoutMs) {
      throw new CliError(
        `the ScriptHut daemon${holder ? ` (pid ${holder.pid})` : ''} did not answer within ${Math.round(timeoutMs / 1000)} s`,
        { hint: `see ${daemonLogPath(dataDir)}; stop it with \`scripthut daemon stop\`` },
      );
    }
    if (elapsed > 3000 && !slowReported) {
      slowReported = true;
      options.onSlow?.(holder);
    }
    await options.sleep(100);
  }
}

/** The daemon's log file exists (for `daemon logs`). */
export function hasDaemonLog(dataDir: string): boolean {
  return existsSync(daemonLogPath(dataDir));
}
