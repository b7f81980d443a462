import { command } from '../../command.js';
import { renderTable } from '../../format.js';

export default command({
  meta: { name: 'list', description: 'List configured workflows (and workflow files discovered in sources)' },
  access: 'read',
  examples: ['scripthut workflow list'],
  async run(_args, ctx) {
    const workflows = await (await ctx.api()).listWorkflows();
    ctx.out.result(workflows, () =>
      renderTable(
        workflows,
        [
          { header: 'NAME', get: (w) => w.name, max: 50 },
          { header: 'KIND', get: (w) => w.kind },
          { header: 'BACKEND', get: (w) => w.backend },
          {
            header: 'MAX',
            get: (w) => (w.maxConcurrent === null ? '-' : String(w.maxConcurrent)),
            align: 'right',
          },
          {
            header: 'DESCRIPTION',
            get: (w) => w.description || (w.git ? `${w.git.repo} (${w.git.branch})` : ''),
            max: 70,
          },
        ],
        ctx.out.style,
        'No workflows configured. Add one under `workflows:` in scripthut.yaml.',
      ),
    );
    return 0;
  },
});
