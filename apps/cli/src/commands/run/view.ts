import { runUsageSummary, taskUsageFigures } from '@scripthut/core';
import { command } from '../../command.js';
import { renderRunView } from '../../render.js';
import { renderRunUsage } from '../../render-usage.js';

export default command({
  meta: { name: 'view', description: 'Show a run and its tasks' },
  args: { id: { type: 'positional', description: 'Run id (see `scripthut run list`)' } },
  access: 'read',
  complete: { id: 'runs' },
  examples: [
    'scripthut run view 1a2b3c4d',
    'scripthut run view 1a2b3c4d --json | jq .tasks',
    'scripthut run view 1a2b3c4d --json | jq .usage.advice',
  ],
  async run(args, ctx) {
    const api = await ctx.api();
    const summary = await api.getRun(args.id);
    const tasks = (await api.listTasks(args.id)).items;
    const usage = runUsageSummary(tasks);
    ctx.out.result(
      { ...summary, usage, tasks: tasks.map((t) => ({ ...t, figures: taskUsageFigures(t) })) },
      () => {
        const text = renderRunView(summary, tasks, ctx.out.style);
        const block = renderRunUsage(usage, ctx.out.style);
        return block ? `${text}\n\n${block}` : text;
      },
    );
    return 0;
  },
});
