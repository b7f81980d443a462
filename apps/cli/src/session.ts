/**
 * Connecting the CLI to ScriptHut. Every mode ends in the same place — the server's typed client —
 * so every command behaves identically:
 *
 * - server (`--server URL` or `SCRIPTHUT_SERVER`): HTTP to that server;
 * - daemon (default): HTTP to the data dir's running control plane (the engine lock names its URL:
 *   a daemon, or a `scripthut serve`); when none runs, a command that needs the engine starts the
 *   daemon in the background and waits for it;
 * - read-only: commands that only read (`run list/view/logs`, `jobs`, `cost --run`, `workflow list`)
 *   never start anything: without a reachable server they read the SQLite store directly (WAL allows
 *   readers next to a running engine, e.g. a `--no-daemon --watch` in another terminal);
 * - in-process (`--no-daemon`, `SCRIPTHUT_NO_DAEMON=1`): the engine runs inside this command, as
 *   long as it runs (scripts, tests).
 */
import { randomBytes } from 'node:crypto';
import type { LockInfo } from '@scripthut/runtime';
import type { CliApi } from './api.js';
import { createClientApi } from './client-api.js';
import {
  daemonLogPath,
  probeServer,
  type ServingHolder,
  spawnDaemon,
  tokenMismatch,
  UNRESPONSIVE_WAIT_MS,
  waitForServer,
} from './daemon.js';
import { CliError, errorCode, networkFailureReason, UnreachableError } from './errors.js';
import { localToken, locate, noDaemonFromEnv, remoteToken, type Target } from './locate.js';
import type { Output } from './output.js';
import type { GlobalArgs } from './parse.js';

/**
 * What a command needs from ScriptHut:
 * - `read`: only reads; never starts a daemon (the store is read directly when no server answers);
 * - `drive`: reads something that must keep progressing (`run watch`, `run logs -f`): like `read`
 *   while another process drives the runs, else like `engine`;
 * - `engine`: starts or changes runs, runs generators, asks backends: needs the engine.
 */
export type Access = 'read' | 'drive' | 'engine';

export interface Session {
  api: CliApi;
  mode: 'in-process' | 'server' | 'read-only';
  url: string | null;
  /** The token sent to `url` (server mode). */
  token: string | null;
  close(): Promise<void>;
}

export interface SessionOptions {
  globals: GlobalArgs;
  env: NodeJS.ProcessEnv;
  cwd: string;
  out: Output;
  access?: Access;
  /** Abortable sleep (Ctrl-C ends waits). */
  sleep?: (ms: number) => Promise<void>;
}

/** A fetch that turns network failures into {@link UnreachableError} (exit 3). */
export function guardedFetch(url: string, base: typeof fetch = fetch): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    try {
      return await base(input, init);
    } catch (e) {
      const reason = networkFailureReason(e);
      if (reason !== null) throw new UnreachableError(url, reason);
      throw e;
    }
  }) as typeof fetch;
}

/** Normalise a server URL: must be http(s); trailing slashes dropped. */
export function normaliseServerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`invalid server URL "${raw}"`, {
      exitCode: 2,
      hint: 'use e.g. --server http://127.0.0.1:8000',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`invalid server URL "${raw}": only http:// and https:// are supported`, {
      exitCode: 2,
    });
  }
  return url.toString().replace(/\/+$/, '');
}

async function serverSession(url: string, token: string | null | undefined): Promise<Session> {
  const { createClient } = await import('@scripthut/server/client');
  const client = createClient(url, { ...(token ? { token } : {}), fetch: guardedFetch(url) });
  return { api: createClientApi(client), mode: 'server', url, token: token ?? null, close: async () => {} };
}

/** The API of a runtime inside this process, through the same app and client as a server. */
async function appSession(
  runtime: import('@scripthut/runtime').Runtime,
  mode: 'in-process' | 'read-only',
): Promise<Session> {
  const [{ createApp }, { createClient }] = await Promise.all([
    import('@scripthut/server'),
    import('@scripthut/server/client'),
  ]);
  const authToken = randomBytes(16).toString('hex');
  const app = createApp(runtime, { authToken });
  const inProcessFetch = (async (input: string | URL | Request, init?: RequestInit) =>
    app.fetch(input instanceof Request ? input : new Request(input, init))) as typeof fetch;
  const client = createClient('http://scripthut.in-process', { token: authToken, fetch: inProcessFetch });
  let closed = false;
  return {
    api: createClientApi(client),
    mode,
    url: null,
    token: null,
    close: async () => {
      if (closed) return;
      closed = true;
      await runtime.close();
    },
  };
}

function runtimeLogger(out: Output) {
  return { info: () => {}, warn: (m: string) => out.warn(m), error: (m: string) => out.error(m) };
}

/** Read the data dir's store without an engine. */
async function readOnlySession(
  target: Target,
  options: SessionOptions,
  noteUndriven: boolean,
): Promise<Session> {
  const { createRuntime } = await import('@scripthut/runtime');
  const runtime = await createRuntime({
    ...(target.configPath ? { configPath: target.configPath } : {}),
    cwd: options.cwd,
    dataDir: target.dataDir,
    readOnly: true,
    logger: runtimeLogger(options.out),
  });
  if (noteUndriven) {
    const waiting = runtime.store.listUnfinishedRunIds().length;
    if (waiting > 0) {
      options.out.info(
        `note: no ScriptHut daemon is running, so ${waiting} unfinished run${waiting === 1 ? ' is' : 's are'} not progressing; \`scripthut daemon start\` resumes ${waiting === 1 ? 'it' : 'them'}`,
      );
    }
  }
  return appSession(runtime, 'read-only');
}

/** Run the engine in this process (`--no-daemon`). */
async function inProcessSession(target: Target, options: SessionOptions): Promise<Session> {
  const { createRuntime } = await import('@scripthut/runtime');
  let runtime: Awaited<ReturnType<typeof createRuntime>>;
  try {
    runtime = await createRuntime({
      ...(target.configPath ? { configPath: target.configPath } : {}),
      cwd: options.cwd,
      dataDir: target.dataDir,
      role: 'cli',
      logger: runtimeLogger(options.out),
    });
  } catch (e) {
    const details = (e as { details?: Partial<LockInfo> }).details;
    if (errorCode(e) === 'conflict' && details) {
      // Somebody took the lock between our look and our attempt.
      return connectToHolder(target, options, details as LockInfo);
    }
    throw e;
  }
  try {
    await runtime.start();
  } catch (e) {
    await runtime.close().catch(() => {});
    throw e;
  }
  return appSession(runtime, 'in-process');
}

function describeHolder(h: LockInfo): string {
  const what =
    h.role === 'daemon'
      ? 'the ScriptHut daemon'
      : h.role === 'serve'
        ? '`scripthut serve`'
        : h.role === 'cli'
          ? 'a `scripthut --no-daemon` command'
          : 'a ScriptHut process';
  return `${what} (pid ${h.pid})`;
}

/** Note when the control plane runs another config than the one this command found. */
function noteConfig(holder: LockInfo, target: Target, out: Output): void {
  if (target.configPath && holder.configPath !== target.configPath) {
    out.info(
      `note: ${describeHolder(holder)} uses ${holder.configPath ?? 'the built-in demo config'}, not ${target.configPath}` +
        (holder.role === 'daemon'
          ? '; to switch, run `scripthut daemon stop` (the next command starts it again)'
          : ''),
    );
  }
}

/**
 * Talk to the holder of the engine lock: its server if it answers (waiting briefly when it is
 * starting or stopping); otherwise read the store (read access) or explain what to do.
 */
async function connectToHolder(target: Target, options: SessionOptions, first: LockInfo): Promise<Session> {
  const { readEngineLock } = await import('@scripthut/runtime');
  const access = options.access ?? 'engine';
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const token = () => localToken(target, options.globals, options.env, options.cwd);
  let holder: LockInfo | null = first;
  // A daemon that is still starting has no URL yet: wait for it as for one we started.
  if ((holder.role === 'daemon' || holder.role === 'serve') && !holder.serverUrl) {
    const serving = await waitForServer(target.dataDir, { token, sleep });
    noteConfig(serving, target, options.out);
    return serverSession(serving.serverUrl, await token());
  }
  if (!holder.serverUrl) {
    if (access !== 'engine') return readOnlySession(target, options, false);
    throw new CliError(`${describeHolder(holder)} is driving runs in ${target.dataDir} and runs no server`, {
      hint:
        holder.role === 'cli'
          ? 'wait for that command to finish (reading works meanwhile: `scripthut run list`), or stop it; then run this again'
          : 'stop that process, or run this command against its server with --server URL',
      details: holder,
    });
  }
  const deadline = Date.now() + UNRESPONSIVE_WAIT_MS;
  for (;;) {
    if (holder?.serverUrl) {
      const probe = await probeServer(holder.serverUrl, await token());
      if (probe === 'ok') {
        noteConfig(holder, target, options.out);
        return serverSession(holder.serverUrl, await token());
      }
      if (probe === 'unauthorized') throw tokenMismatch(holder, target.dataDir);
    }
    if (!holder) return openLocal(target, options); // it went away: start over
    if (Date.now() > deadline) break;
    await sleep(200);
    holder = readEngineLock(target.dataDir);
  }
  if (access !== 'engine') return readOnlySession(target, options, false);
  throw new CliError(
    `${describeHolder(holder)} holds the engine lock of ${target.dataDir}, but its server at ${holder.serverUrl} does not answer`,
    {
      exitCode: 3,
      hint:
        holder.role === 'daemon'
          ? `it may be stuck: \`scripthut daemon stop\` (or \`kill ${holder.pid}\`), then run this again; its log: ${daemonLogPath(target.dataDir)}`
          : `it may be starting, stopping or stuck: wait, or stop it (\`kill ${holder.pid}\`)`,
    },
  );
}

/**
 * Start the daemon (or join one that another command is starting at the same moment) and wait
 * until it answers. `started` is true when the daemon that answers is the one spawned here.
 */
export async function startDaemon(
  target: Target,
  options: SessionOptions & { host?: string; port?: number },
): Promise<{ holder: ServingHolder; started: boolean }> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const token = () => localToken(target, options.globals, options.env, options.cwd);
  const spawned = spawnDaemon(target, {
    cwd: options.cwd,
    env: options.env,
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
  });
  const holder = await waitForServer(target.dataDir, {
    spawned,
    token,
    sleep,
    onSlow: () =>
      options.out.info(`waiting for the ScriptHut daemon to start (log: ${daemonLogPath(target.dataDir)})…`),
  });
  return { holder, started: holder.pid === spawned.child.pid };
}

async function daemonSession(target: Target, options: SessionOptions): Promise<Session> {
  const { holder, started } = await startDaemon(target, options);
  if (started) {
    options.out.info(
      `started the ScriptHut daemon (pid ${holder.pid}) at ${holder.serverUrl}; log: ${daemonLogPath(target.dataDir)}; stop it with \`scripthut daemon stop\``,
    );
  } else {
    noteConfig(holder, target, options.out);
  }
  return serverSession(holder.serverUrl, await localToken(target, options.globals, options.env, options.cwd));
}

async function openLocal(target: Target, options: SessionOptions): Promise<Session> {
  const { readEngineLock } = await import('@scripthut/runtime');
  const access = options.access ?? 'engine';
  const holder = readEngineLock(target.dataDir);
  if (holder) return connectToHolder(target, options, holder);
  if (access === 'read') return readOnlySession(target, options, true);
  const noDaemon = !options.globals.daemon || noDaemonFromEnv(options.env);
  return noDaemon ? inProcessSession(target, options) : daemonSession(target, options);
}

/** Open a session for one CLI invocation. */
export async function openSession(options: SessionOptions): Promise<Session> {
  const { globals, env, cwd } = options;
  const server = globals.server ?? (env.SCRIPTHUT_SERVER || undefined);
  if (server) return serverSession(normaliseServerUrl(server), remoteToken(globals, env, cwd));
  return openLocal(await locate(globals, env, cwd), options);
}
