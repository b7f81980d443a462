/**
 * Connecting the CLI to ScriptHut. Both modes end in the same place — the server's typed client —
 * so every command behaves identically:
 *
 * - server mode (`--server URL` or `SCRIPTHUT_SERVER`): the client talks HTTP to that server;
 * - in-process mode (default): a runtime is created and started here, wrapped in the server's app,
 *   and the client's `fetch` calls `app.fetch` directly. If another process holds the data dir's
 *   engine lock and advertises its server URL, the CLI switches to server mode with a notice.
 */
import { randomBytes } from 'node:crypto';
import type { CliApi } from './api.js';
import { createClientApi } from './client-api.js';
import { CliError, errorCode, networkFailureReason, UnreachableError } from './errors.js';
import type { Output } from './output.js';
import type { GlobalArgs } from './parse.js';

export interface Session {
  api: CliApi;
  mode: 'in-process' | 'server';
  url: string | null;
  close(): Promise<void>;
}

export interface SessionOptions {
  globals: GlobalArgs;
  env: NodeJS.ProcessEnv;
  cwd: string;
  out: Output;
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

async function serverSession(url: string, token: string | undefined): Promise<Session> {
  const { createClient } = await import('@scripthut/server/client');
  const client = createClient(url, { ...(token ? { token } : {}), fetch: guardedFetch(url) });
  return { api: createClientApi(client), mode: 'server', url, close: async () => {} };
}

/** The token the server of this data dir generated (`<data_dir>/auth_token`), if any. */
async function dataDirToken(
  globals: GlobalArgs,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<string | undefined> {
  const [{ loadConfig }, { readAuthTokenFile }] = await Promise.all([
    import('@scripthut/config'),
    import('@scripthut/runtime'),
  ]);
  const dataDir =
    env.SCRIPTHUT_DATA_DIR ||
    (await loadConfig({ ...(globals.config ? { path: globals.config } : {}), cwd })).config.settings.data_dir;
  return readAuthTokenFile(dataDir) ?? undefined;
}

/** Open a session for one CLI invocation. */
export async function openSession({ globals, env, cwd, out }: SessionOptions): Promise<Session> {
  const server = globals.server ?? (env.SCRIPTHUT_SERVER || undefined);
  const token = globals.token ?? (env.SCRIPTHUT_TOKEN || undefined);
  if (server) return serverSession(normaliseServerUrl(server), token);

  const [{ createRuntime }, { createApp }, { createClient }] = await Promise.all([
    import('@scripthut/runtime'),
    import('@scripthut/server'),
    import('@scripthut/server/client'),
  ]);
  let runtime: Awaited<ReturnType<typeof createRuntime>>;
  try {
    runtime = await createRuntime({
      ...(globals.config ? { configPath: globals.config } : {}),
      cwd,
      ...(env.SCRIPTHUT_DATA_DIR ? { dataDir: env.SCRIPTHUT_DATA_DIR } : {}),
      logger: {
        info: () => {},
        warn: (m) => out.warn(m),
        error: (m) => out.error(m),
      },
    });
  } catch (e) {
    const details = (e as { details?: { serverUrl?: unknown; pid?: unknown } }).details;
    if (errorCode(e) === 'conflict' && details) {
      if (typeof details.serverUrl === 'string' && details.serverUrl) {
        out.info(
          `note: a ScriptHut server (pid ${String(details.pid)}) owns this data dir; using it at ${details.serverUrl}`,
        );
        return serverSession(
          normaliseServerUrl(details.serverUrl),
          token ?? (await dataDirToken(globals, env, cwd)),
        );
      }
      throw new CliError((e as Error).message, {
        hint: 'wait for the other scripthut command to finish, or run `scripthut serve` and point commands at it with --server',
        cause: e,
      });
    }
    throw e;
  }
  try {
    await runtime.start();
  } catch (e) {
    await runtime.close().catch(() => {});
    throw e;
  }
  const authToken = randomBytes(16).toString('hex');
  const app = createApp(runtime, { authToken });
  const inProcessFetch = (async (input: string | URL | Request, init?: RequestInit) =>
    app.fetch(input instanceof Request ? input : new Request(input, init))) as typeof fetch;
  const client = createClient('http://scripthut.in-process', { token: authToken, fetch: inProcessFetch });
  let closed = false;
  return {
    api: createClientApi(client),
    mode: 'in-process',
    url: null,
    close: async () => {
      if (closed) return;
      closed = true;
      await runtime.close();
    },
  };
}
