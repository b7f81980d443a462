/**
 * The long-running control plane: a runtime that drives runs plus the HTTP server (API + web UI).
 * `scripthut serve` runs it in the foreground (systemd, tmux); `scripthut daemon run` is the same
 * process as the background daemon, started by `daemon start` or by any command that needs it.
 *
 * Order matters for the daemon: it takes the engine lock FIRST (two daemons started at once: one
 * wins, the other exits at once), then starts the engine, then listens, then writes its URL into the
 * lock, which is what the waiting commands look for.
 */
import type { LockInfo } from '@scripthut/runtime';
import type { CliContext } from './command.js';
import { CliError, ExitCode, errorCode } from './errors.js';
import { tokenFromFile } from './locate.js';
import { VERSION } from './version.js';

export interface ControlPlaneOptions {
  role: 'serve' | 'daemon';
  host: string | undefined;
  port: number | undefined;
}

function stamp(): string {
  return new Date().toISOString();
}

/** Run until Ctrl-C / SIGTERM; resolves to the exit code. */
export async function runControlPlane(ctx: CliContext, options: ControlPlaneOptions): Promise<number> {
  const [{ createRuntime, resolveAuthToken }, { startServer }] = await Promise.all([
    import('@scripthut/runtime'),
    import('@scripthut/server'),
  ]);
  const daemon = options.role === 'daemon';
  const logger = daemon
    ? {
        info: (m: string) => ctx.out.info(`${stamp()} ${m}`),
        warn: (m: string) => ctx.out.info(`${stamp()} warning: ${m}`),
        error: (m: string) => ctx.out.info(`${stamp()} error: ${m}`),
      }
    : {
        info: (m: string) => ctx.out.info(`[scripthut] ${m}`),
        warn: (m: string) => ctx.out.warn(m),
        error: (m: string) => ctx.out.error(m),
      };
  let runtime: Awaited<ReturnType<typeof createRuntime>>;
  try {
    runtime = await createRuntime({
      ...(ctx.globals.config ? { configPath: ctx.globals.config } : {}),
      cwd: ctx.cwd,
      ...(ctx.env.SCRIPTHUT_DATA_DIR ? { dataDir: ctx.env.SCRIPTHUT_DATA_DIR } : {}),
      role: options.role,
      logger,
    });
  } catch (e) {
    const holder = (e as { details?: Partial<LockInfo> }).details;
    if (errorCode(e) === 'conflict' && holder) {
      if (daemon && holder.serverUrl && (holder.role === 'daemon' || holder.role === 'serve')) {
        // Lost a start race (or a daemon already runs): the commands waiting will use the winner.
        logger.info(
          `ScriptHut (pid ${holder.pid}) already serves this data dir at ${holder.serverUrl}; exiting`,
        );
        return ExitCode.ok;
      }
      throw new CliError((e as Error).message, {
        hint:
          holder.role === 'daemon'
            ? 'the background daemon owns this data dir: stop it with `scripthut daemon stop` to serve in the foreground'
            : 'stop the other process first',
        cause: e,
      });
    }
    throw e;
  }
  let server: Awaited<ReturnType<typeof startServer>> | null = null;
  const aborted = new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  try {
    // A stop during a slow start (adoption over an unreachable SSH backend) must not wait for it.
    const started = runtime.start().then(() => true);
    started.catch(() => {}); // observed below; after a stop during start, close() makes it fail
    if (!(await Promise.race([started, aborted.then(() => false)]))) {
      logger.info('stopped while starting');
      return ExitCode.ok;
    }
    const host = options.host ?? runtime.settings.server_host;
    const port = options.port ?? runtime.settings.server_port;
    // A --token-file token is fixed; otherwise the server reads the token per request (settings,
    // SCRIPTHUT_TOKEN, <data_dir>/auth_token), so a config reload that changes it takes effect.
    const fileToken = tokenFromFile(ctx.globals, ctx.cwd);
    if (!fileToken) resolveAuthToken(runtime.dataDir, runtime.settings.auth_token, ctx.env); // create it now
    // The foreground server prints its one-time sign-in link on the terminal; the daemon never
    // writes one to its log file (`scripthut open` mints one on demand).
    const log = (m: string) => {
      if (!daemon && m.includes('Sign in')) ctx.out.info(`[scripthut] ${m}`);
    };
    const listen = (p: number) =>
      startServer(runtime, {
        host,
        port: p,
        version: VERSION,
        ...(fileToken ? { authToken: fileToken } : {}),
        env: ctx.env,
        log,
      });
    try {
      server = await listen(port);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      // The daemon's port is a convenience (a stable URL for the browser): when it is taken and
      // was not asked for explicitly, any free port will do; the lock records the URL.
      if (daemon && options.port === undefined) {
        server = await listen(0);
        logger.warn(`port ${port} on ${host} is in use; listening on ${server.url} instead`);
      } else {
        throw new CliError(`port ${port} on ${host} is already in use`, {
          hint: 'pick another with --port (or settings.server_port), or stop the other process',
        });
      }
    }
    runtime.setServerUrl(server.url);
    const config = runtime.configSource.kind === 'file' ? runtime.configSource.path : 'built-in demo config';
    if (!daemon) {
      ctx.out.result(
        { url: server.url, pid: process.pid, config, dataDir: runtime.dataDir, version: VERSION },
        () => server?.url ?? '',
      );
    }
    logger.info(
      `ScriptHut ${VERSION} ${daemon ? 'daemon' : 'server'} (pid ${process.pid}) on ${server.url} (config: ${config}; data: ${runtime.dataDir}); ` +
        (daemon ? 'stop it with `scripthut daemon stop`' : 'Ctrl-C to stop') +
        '; open the web UI with `scripthut open`',
    );
    await aborted;
    logger.info('shutting down…');
    return ExitCode.ok;
  } finally {
    const t0 = Date.now();
    await server?.close();
    await runtime.close();
    if (ctx.signal.aborted) logger.info(`stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}
