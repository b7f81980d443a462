import { command } from '../../command.js';
import { daemonStatus, renderDaemonStatus } from '../../daemon-status.js';
import { CliError } from '../../errors.js';
import { localToken, locate } from '../../locate.js';
import { startDaemon } from '../../session.js';
import { portFlag } from '../serve.js';

export default command({
  meta: {
    name: 'start',
    description: 'Start the background daemon of the data dir (nothing to do when it runs already)',
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
  examples: ['scripthut daemon start', 'scripthut daemon start --port 8080'],
  async run(args, ctx) {
    const port = portFlag(args.port);
    const target = await locate(ctx.globals, ctx.env, ctx.cwd);
    const token = () => localToken(target, ctx.globals, ctx.env, ctx.cwd);
    const { readEngineLock } = await import('@scripthut/runtime');
    const holder = readEngineLock(target.dataDir);
    let note: string;
    if (holder) {
      if (holder.role === 'cli' || holder.role === 'embedded') {
        throw new CliError(
          `a ScriptHut process (pid ${holder.pid}) without a server is driving runs in ${target.dataDir}`,
          { hint: 'wait for that `--no-daemon` command to finish (or stop it), then start the daemon' },
        );
      }
      note = `already running (pid ${holder.pid})`;
    } else {
      const started = await startDaemon(target, {
        globals: ctx.globals,
        env: ctx.env,
        cwd: ctx.cwd,
        out: ctx.out,
        sleep: ctx.sleep,
        ...(args.host !== undefined ? { host: args.host } : {}),
        ...(port !== undefined ? { port } : {}),
      });
      note = started.started
        ? `started (pid ${started.holder.pid})`
        : `already running (pid ${started.holder.pid})`;
    }
    const status = await daemonStatus(target.dataDir, await token());
    ctx.out.info(`ScriptHut daemon ${note}`);
    ctx.out.result(status, () => renderDaemonStatus(status, ctx.out.style));
    return 0;
  },
});
