import { command } from '../../command.js';
import { runControlPlane } from '../../control-plane.js';
import { portFlag } from '../serve.js';

export default command({
  meta: {
    name: 'run',
    description:
      'Be the daemon in this process (what `daemon start` runs in the background; like `serve`, but a taken default port falls back to a free one)',
  },
  args: {
    host: {
      type: 'string',
      description: 'Interface to bind (default: settings.server_host)',
      valueHint: 'host',
    },
    port: {
      type: 'string',
      alias: 'p',
      description: 'Port (default: settings.server_port, or any free port when that one is taken)',
      valueHint: 'port',
    },
  },
  async run(args, ctx) {
    return runControlPlane(ctx, { role: 'daemon', host: args.host, port: portFlag(args.port) });
  },
});
