import { RUN_STATUSES, type RunStatus } from '@scripthut/core';
import { command, numberFlag } from '../../command.js';
import { UsageError } from '../../errors.js';
import { renderRunTable } from '../../render.js';

export default command({
  meta: { name: 'list', description: 'List runs, newest first' },
  args: {
    limit: { type: 'string', description: 'How many runs', valueHint: 'n', default: '20' },
    status: {
      type: 'string',
      description: `Only runs with this status (${RUN_STATUSES.join(', ')})`,
      valueHint: 'status',
    },
    workflow: { type: 'string', description: 'Only runs of this workflow', valueHint: 'name' },
    backend: { type: 'string', description: 'Only runs on this backend', valueHint: 'name' },
  },
  access: 'read',
  complete: { workflow: 'workflows', backend: 'backends' },
  examples: ['scripthut run list', 'scripthut run list --status failed --limit 5 --json'],
  async run(args, ctx) {
    const limit = numberFlag('limit', args.limit, { min: 1, integer: true });
    if (args.status !== undefined && !RUN_STATUSES.includes(args.status as RunStatus)) {
      throw new UsageError(`unknown status "${args.status}"; statuses: ${RUN_STATUSES.join(', ')}`);
    }
    const api = await ctx.api();
    const page = await api.listRuns({
      ...(limit !== undefined ? { limit } : {}),
      ...(args.status ? { status: args.status as RunStatus } : {}),
      ...(args.workflow ? { workflow: args.workflow } : {}),
      ...(args.backend ? { backend: args.backend } : {}),
    });
    const filters = [
      args.status ? `--status ${args.status}` : null,
      args.workflow ? `--workflow ${args.workflow}` : null,
      args.backend ? `--backend ${args.backend}` : null,
    ].filter((f): f is string => f !== null);
    // With filters that match nothing, say so (and how many runs there are), not "no runs yet".
    const unfiltered = page.total === 0 && filters.length ? (await api.listRuns({ limit: 1 })).total : 0;
    ctx.out.result(page, () => {
      if (unfiltered > 0) {
        return `No runs match ${filters.join(' ')} (${unfiltered} run${unfiltered === 1 ? '' : 's'} in total; \`scripthut run list\` shows them).`;
      }
      const table = renderRunTable(page.items, ctx.out.style);
      const more =
        page.total > page.items.length
          ? `\n${page.items.length} of ${page.total} runs (use --limit to see more)`
          : '';
      return table + more;
    });
    return 0;
  },
});
