import { command } from '../../command.js';
import { renderRunView } from '../../render.js';

export default command({
  meta: { name: 'view', description: 'Show a run and its tasks' },
  args: { id: { type: 'positional', description: 'Run id (see `scripthut run list`)' } },
  access: 'read',
  complete: { id: 'runs' },
  examples: ['scripthut run view 1a2b3c4d', 'scripthut run view 1a2b3c4d --json | jq .tasks'],
  async run(args, ctx) {
    const api = await ctx.api();
    const summary = await api.getRun(args.id);
    const tasks = (await api.listTasks(args.id)).items;
    ctx.out.result({ ...summary, tasks }, () => renderRunView(summary, tasks, ctx.out.style));
    return 0;
  },
});
