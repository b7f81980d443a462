import { command } from '../../command.js';
import { renderTable } from '../../format.js';

export default command({
  meta: { name: 'list', description: 'List projects (git checkouts on a backend with sflow.json files)' },
  access: 'read',
  examples: ['scripthut project list'],
  async run(_args, ctx) {
    const projects = await (await ctx.api()).listProjects();
    ctx.out.result(projects, () =>
      renderTable(
        projects,
        [
          { header: 'NAME', get: (p) => p.name },
          { header: 'BACKEND', get: (p) => p.backend },
          { header: 'PATH', get: (p) => p.path, max: 60 },
          {
            header: 'MAX',
            get: (p) => (p.maxConcurrent === null ? '-' : String(p.maxConcurrent)),
            align: 'right',
          },
          { header: 'DESCRIPTION', get: (p) => p.description, max: 60 },
        ],
        ctx.out.style,
        'No projects configured. Add one under `projects:` in scripthut.yaml.',
      ),
    );
    return 0;
  },
});
