import { command } from '../../command.js';
import { formatAgo, renderTable } from '../../format.js';
import { backendStatusText } from './status.js';

export default command({
  meta: { name: 'list', description: 'List configured backends with their health' },
  examples: ['scripthut backend list', 'scripthut backend list --json'],
  async run(_args, ctx) {
    const backends = await (await ctx.api()).listBackends();
    const s = ctx.out.style;
    ctx.out.result(backends, () =>
      renderTable(
        backends,
        [
          { header: 'NAME', get: (b) => b.name },
          { header: 'TYPE', get: (b) => b.type },
          {
            header: 'STATUS',
            get: (b) => backendStatusText(b),
            style: (v) => (v === 'ok' ? s.green(v) : s.red(v)),
          },
          { header: 'IN FLIGHT', get: (b) => String(b.inFlight), align: 'right' },
          { header: 'MAX', get: (b) => String(b.maxConcurrent), align: 'right' },
          { header: 'LAST POLL', get: (b) => (b.lastPollAt ? formatAgo(b.lastPollAt) : 'never') },
          { header: 'ENDPOINT', get: (b) => b.health.endpoint, max: 50 },
        ],
        s,
        'No backends configured. Add one under `backends:` in scripthut.yaml.',
      ),
    );
    return 0;
  },
});
