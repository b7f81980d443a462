import { command } from '../../command.js';
import { DAEMON_STOP_TIMEOUT_MS, processAlive } from '../../daemon.js';
import { CliError } from '../../errors.js';
import { locate } from '../../locate.js';

export default command({
  meta: {
    name: 'stop',
    description: 'Stop the background daemon (SIGTERM; waits until it has exited and released the data dir)',
  },
  examples: ['scripthut daemon stop'],
  async run(_args, ctx) {
    const target = await locate(ctx.globals, ctx.env, ctx.cwd);
    const { readEngineLock, isEngineLockHeld } = await import('@scripthut/runtime');
    const holder = readEngineLock(target.dataDir);
    if (!holder) {
      ctx.out.result(
        { stopped: false, running: false, dataDir: target.dataDir },
        () => 'No ScriptHut daemon is running.',
      );
      return 0;
    }
    if (holder.role !== 'daemon' || holder.pid <= 0) {
      const what =
        holder.role === 'serve'
          ? '`scripthut serve`'
          : holder.role === 'cli'
            ? 'a `scripthut --no-daemon` command'
            : 'a ScriptHut process';
      throw new CliError(
        `the data dir ${target.dataDir} is held by ${what} (pid ${holder.pid}), not by the daemon`,
        {
          hint:
            holder.role === 'serve'
              ? 'stop it where it runs (Ctrl-C, or `systemctl --user stop scripthut`)'
              : `let it finish, or stop it with \`kill ${holder.pid}\``,
        },
      );
    }
    const started = Date.now();
    try {
      process.kill(holder.pid, 'SIGTERM');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
    // Done when the process is gone and the lock is free (its release is the last thing it does).
    while (processAlive(holder.pid) || isEngineLockHeld(target.dataDir)) {
      if (Date.now() - started > DAEMON_STOP_TIMEOUT_MS) {
        throw new CliError(
          `the ScriptHut daemon (pid ${holder.pid}) did not stop within ${DAEMON_STOP_TIMEOUT_MS / 1000} s`,
          { hint: `see its log (\`scripthut daemon logs\`); force it with \`kill -KILL ${holder.pid}\`` },
        );
      }
      await ctx.sleep(50);
    }
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    ctx.out.result(
      { stopped: true, pid: holder.pid, seconds, dataDir: target.dataDir },
      () => `Stopped the ScriptHut daemon (pid ${holder.pid}) in ${seconds.toFixed(1)} s.`,
    );
    return 0;
  },
});
