import { command, numberFlag } from '../../command.js';
import { UsageError } from '../../errors.js';
import { reportStartedRun } from '../../watch.js';

export default command({
  meta: {
    name: 'rerun',
    description:
      'Start a new run: the same tasks (all; --failed-only: completed ones kept; --resume: matching ones reused), or --new: tasks generated again',
  },
  args: {
    id: { type: 'positional', description: 'Run id' },
    'failed-only': {
      type: 'boolean',
      description: 'Keep completed tasks; run only the failed, cancelled and never-run ones again',
    },
    new: {
      type: 'boolean',
      description:
        "Run the generator again (git workflows: at the run's commit) and start a new run from its fresh tasks",
    },
    resume: {
      type: 'boolean',
      description:
        'Run the same tasks with --resume: tasks whose cache key and declared outputs still match are reused (docs/resume.md)',
    },
    watch: {
      type: 'boolean',
      alias: 'w',
      description: 'Follow the new run until it ends (exit 5 if it does not complete)',
    },
    interval: {
      type: 'string',
      description: 'Seconds between refreshes while watching',
      valueHint: 'seconds',
      default: '1',
    },
  },
  complete: { id: 'runs' },
  examples: ['scripthut run rerun 1a2b3c4d --failed-only --watch', 'scripthut run rerun 1a2b3c4d --resume'],
  async run(args, ctx) {
    const interval = numberFlag('interval', args.interval, { min: 0.2 });
    const api = await ctx.api();
    const modes = [args['failed-only'] && 'failed', args.resume && 'resume', args.new && 'new'].filter(
      (m): m is 'failed' | 'resume' | 'new' => typeof m === 'string',
    );
    if (modes.length > 1) throw new UsageError('choose one of --failed-only, --resume and --new');
    const summary = await api.rerunRun(args.id, modes[0] ?? 'all');
    return reportStartedRun(api, ctx, summary, { watch: args.watch, intervalSeconds: interval });
  },
});
