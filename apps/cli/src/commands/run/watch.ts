import { command, numberFlag } from '../../command.js';
import { exitForRun, intervalMs, watchRun } from '../../watch.js';

export default command({
  meta: {
    name: 'watch',
    description: 'Follow a run until it ends: live progress on stderr, final view on stdout',
  },
  args: {
    id: { type: 'positional', description: 'Run id' },
    'exit-status': {
      type: 'boolean',
      description: 'Exit 5 when the run did not complete (failed or cancelled)',
    },
    interval: {
      type: 'string',
      description: 'Seconds between refreshes',
      valueHint: 'seconds',
      default: '2',
    },
  },
  access: 'drive',
  complete: { id: 'runs' },
  examples: ['scripthut run watch 1a2b3c4d --exit-status'],
  async run(args, ctx) {
    const interval = numberFlag('interval', args.interval, { min: 0.2 });
    const api = await ctx.api();
    const final = await watchRun(api, args.id, ctx, { intervalMs: intervalMs(interval, 2) });
    return args['exit-status'] ? exitForRun(final) : 0;
  },
});
