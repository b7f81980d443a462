import { command, numberFlag } from '../../command.js';
import { UsageError } from '../../errors.js';
import { reportStartedRun } from '../../watch.js';

export default command({
  meta: {
    name: 'rerun',
    description:
      'Run a finished run again: as a new run (all tasks; --failed-only: completed ones kept; --resume: matching ones reused), --new: tasks generated again, or --in-place: the same run id again',
  },
  args: {
    id: { type: 'positional', description: 'Run id' },
    'failed-only': {
      type: 'boolean',
      alias: 'failed',
      description: 'Keep completed tasks; run only the failed, cancelled and never-run ones again',
    },
    all: {
      type: 'boolean',
      description: 'Every task runs again (the default; with --in-place: completed tasks too)',
    },
    'in-place': {
      type: 'boolean',
      description:
        'Rerun in place: the same run (same id) again instead of a new run; every attempt stays in the task history (run view --json). Refused while the run is active',
    },
    new: {
      type: 'boolean',
      description:
        "Run the generator again (git: at the run's commit and branch) and start a new run from its fresh tasks",
    },
    resume: {
      type: 'boolean',
      description:
        'Run the same tasks with --resume: tasks whose cache key and declared outputs still match are reused (docs/resume.md)',
    },
    watch: {
      type: 'boolean',
      alias: 'w',
      description: 'Follow the run until it ends (exit 5 if it does not complete)',
    },
    interval: {
      type: 'string',
      description: 'Seconds between refreshes while watching',
      valueHint: 'seconds',
      default: '1',
    },
  },
  complete: { id: 'runs' },
  examples: [
    'scripthut run rerun 1a2b3c4d --failed-only --watch',
    'scripthut run rerun 1a2b3c4d --in-place --failed',
    'scripthut run rerun 1a2b3c4d --resume',
  ],
  async run(args, ctx) {
    const interval = numberFlag('interval', args.interval, { min: 0.2 });
    const api = await ctx.api();
    if (args['failed-only'] && args.all) throw new UsageError('choose one of --failed-only and --all');
    if (args['in-place']) {
      if (args.new || args.resume)
        throw new UsageError(
          '--in-place reruns the stored tasks: it cannot be combined with --new or --resume',
        );
      const summary = await api.rerunRun(args.id, args['failed-only'] ? 'in-place-failed' : 'in-place-all');
      return reportStartedRun(api, ctx, summary, {
        watch: args.watch,
        intervalSeconds: interval,
        inPlace: true,
      });
    }
    const modes = [args['failed-only'] && 'failed', args.resume && 'resume', args.new && 'new'].filter(
      (m): m is 'failed' | 'resume' | 'new' => typeof m === 'string',
    );
    if (modes.length > 1) throw new UsageError('choose one of --failed-only, --resume and --new');
    if (args.all && modes.length)
      throw new UsageError(
        `--all cannot be combined with --${modes[0] === 'failed' ? 'failed-only' : modes[0]}`,
      );
    const summary = await api.rerunRun(args.id, modes[0] ?? 'all');
    return reportStartedRun(api, ctx, summary, { watch: args.watch, intervalSeconds: interval });
  },
});
