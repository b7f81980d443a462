import { command, numberFlag } from '../../command.js';
import { UsageError } from '../../errors.js';
import { reportStartedRun } from '../../watch.js';

export default command({
  meta: {
    name: 'rerun',
    description:
      'Start a new run with the same tasks (or, with --failed-only, only the ones that did not complete)',
  },
  args: {
    id: { type: 'positional', description: 'Run id' },
    'failed-only': {
      type: 'boolean',
      description: 'Keep completed tasks; run only the failed, cancelled and never-run ones again',
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
    if (args['failed-only'] && args.resume)
      throw new UsageError('--failed-only and --resume cannot be combined');
    const summary = await api.rerunRun(
      args.id,
      args.resume ? 'resume' : args['failed-only'] ? 'failed' : 'all',
    );
    return reportStartedRun(api, ctx, summary, { watch: args.watch, intervalSeconds: interval });
  },
});
