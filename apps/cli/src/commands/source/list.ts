import { command } from '../../command.js';
import { formatAgo, renderTable } from '../../format.js';

export default command({
  meta: {
    name: 'list',
    description: 'List workflow sources with their sync state and discovered workflow files',
  },
  access: 'read',
  examples: ['scripthut source list'],
  async run(_args, ctx) {
    const sources = await (await ctx.api()).listSources();
    ctx.out.result(sources, () =>
      renderTable(
        sources,
        [
          { header: 'NAME', get: (s) => s.name },
          { header: 'TYPE', get: (s) => s.type },
          { header: 'BACKEND', get: (s) => s.backend },
          { header: 'LOCATION', get: (s) => `${s.location}${s.branch ? ` (${s.branch})` : ''}`, max: 60 },
          { header: 'COMMIT', get: (s) => (s.commit ? s.commit.slice(0, 12) : '-') },
          { header: 'SYNCED', get: (s) => (s.lastSyncAt ? formatAgo(s.lastSyncAt) : 'never') },
          {
            header: 'WORKFLOWS',
            get: (s) =>
              s.error ? `error: ${s.error}` : s.workflows.map((w) => w.file ?? w.name).join(', ') || '-',
            max: 60,
          },
        ],
        ctx.out.style,
        'No sources configured. Add one under `sources:` in scripthut.yaml.',
      ),
    );
    return 0;
  },
});
