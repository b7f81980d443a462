import { command } from '../../command.js';
import { daemonStatus, renderDaemonStatus } from '../../daemon-status.js';
import { ExitCode } from '../../errors.js';
import { localToken, locate } from '../../locate.js';

export default command({
  meta: {
    name: 'status',
    description: 'Is the daemon running: pid, URL, uptime, data dir, config (exit 3 when not running)',
  },
  examples: ['scripthut daemon status', 'scripthut daemon status --json'],
  async run(_args, ctx) {
    const target = await locate(ctx.globals, ctx.env, ctx.cwd);
    const status = await daemonStatus(
      target.dataDir,
      await localToken(target, ctx.globals, ctx.env, ctx.cwd),
    );
    ctx.out.result(status, () => renderDaemonStatus(status, ctx.out.style));
    return status.running && status.responding ? ExitCode.ok : ExitCode.unreachable;
  },
});
