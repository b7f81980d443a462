import { command, numberFlag } from '../command.js';
import { runControlPlane } from '../control-plane.js';
import { CliError, ExitCode } from '../errors.js';

/** `--port` as a number (0 = any free port), with the range checked. */
export function portFlag(value: string | undefined): number | undefined {
  const port = numberFlag('port', value, { min: 0, integer: true });
  if (port !== undefined && port > 65535)
    throw new CliError(`--port must be ≤ 65535; got ${port}`, { exitCode: ExitCode.usage });
  return port;
}

export default command({
  meta: {
    name: 'serve',
    description:
      'Run the control plane (engine, API, web UI) in the foreground until Ctrl-C/SIGTERM (systemd, tmux)',
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
    return runControlPlane(ctx, { role: 'serve', host: args.host, port: portFlag(args.port) });
  },
});
