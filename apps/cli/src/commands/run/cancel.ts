import { command } from '../../command.js';
import { formatCounts } from '../../format.js';

export default command({
  meta: {
    name: 'cancel',
    description: 'Cancel a run: pending tasks never start, running jobs are cancelled',
  },
  args: { id: { type: 'positional', description: 'Run id' } },
  complete: { id: 'runs' },
  examples: ['scripthut run cancel 1a2b3c4d'],
  async run(args, ctx) {
    const summary = await (await ctx.api()).cancelRun(args.id);
    ctx.out.result(
      summary,
      () =>
        `Cancelled run ${summary.run.id} (${summary.status}): ${formatCounts(summary.counts, ctx.out.style)}`,
    );
    return 0;
  },
});
