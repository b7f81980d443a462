import { command, numberFlag } from '../../command.js';
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
  examples: ['scripthut run rerun 1a2b3c4d --failed-only --watch'],
  async run(args, ctx) {
    const interval = numberFlag('interval', args.interval, { min: 0.2 });
    const api = await ctx.api();
    const summary = await api.rerunRun(args.id, args['failed-only'] ? 'failed' : 'all');
    return reportStartedRun(api, ctx, summary, { watch: args.watch, intervalSeconds: interval });
  },
});
