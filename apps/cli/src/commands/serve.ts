import { command, numberFlag } from '../command.js';
import { CliError, ExitCode } from '../errors.js';
import { VERSION } from '../version.js';

export default command({
  meta: {
    name: 'serve',
    description: 'Start the ScriptHut server (API + web UI) and drive runs until Ctrl-C',
  },
  args: {
    host: {
      type: 'string',
      description: 'Interface to bind (default: settings.server_host, 127.0.0.1)',
      valueHint: 'host',
    },
    port: {
      type: 'string',
      alias: 'p',
      description: 'Port (default: settings.server_port, 8000; 0 = any free port)',
      valueHint: 'port',
    },
  },
  examples: ['scripthut serve', 'scripthut serve --port 9000 --config deploy/scripthut.yaml'],
  async run(args, ctx) {
    const port = numberFlag('port', args.port, { min: 0, integer: true });
    if (port !== undefined && port > 65535)
      throw new CliError(`--port must be ≤ 65535; got ${port}`, { exitCode: ExitCode.usage });
    const [{ createRuntime }, { startServer }] = await Promise.all([
      import('@scripthut/runtime'),
      import('@scripthut/server'),
    ]);
    const runtime = await createRuntime({
      ...(ctx.globals.config ? { configPath: ctx.globals.config } : {}),
      cwd: ctx.cwd,
      ...(ctx.env.SCRIPTHUT_DATA_DIR ? { dataDir: ctx.env.SCRIPTHUT_DATA_DIR } : {}),
      logger: {
        info: (m) => ctx.out.info(`[scripthut] ${m}`),
        warn: (m) => ctx.out.warn(m),
        error: (m) => ctx.out.error(m),
      },
    });
    let server: Awaited<ReturnType<typeof startServer>> | null = null;
    try {
      await runtime.start();
      const host = args.host ?? runtime.settings.server_host;
      // The server resolves the token itself (settings.auth_token, SCRIPTHUT_TOKEN, <data_dir>/auth_token)
      // on every request, so a config reload can rotate it; --token only overrides it.
      const token = ctx.globals.token;
      try {
        server = await startServer(runtime, {
          host,
          port: port ?? runtime.settings.server_port,
          version: VERSION,
          env: ctx.env,
          ...(token ? { authToken: token } : {}),
        });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new CliError(`port ${port ?? runtime.settings.server_port} on ${host} is already in use`, {
            hint: 'pick another with --port (or settings.server_port), or stop the other process',
          });
        }
        throw e;
      }
      runtime.setServerUrl(server.url);
      const config =
        runtime.configSource.kind === 'file' ? runtime.configSource.path : 'built-in demo config';
      ctx.out.result(
        { url: server.url, pid: process.pid, config, dataDir: runtime.dataDir, version: VERSION },
        () => server?.url ?? '',
      );
      ctx.out.info(
        `ScriptHut ${VERSION} serving on ${server.url} (config: ${config}; data: ${runtime.dataDir}). Ctrl-C to stop.`,
      );
      ctx.out.info(`Sign in from a browser: ${server.loginUrl()} (one-time link, valid 10 minutes)`);
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      ctx.out.info('shutting down…');
      return ExitCode.ok;
    } finally {
      await server?.close();
      await runtime.close();
    }
  },
});
