import type { WorkflowView } from '@scripthut/runtime';
import { command } from '../command.js';
import { UsageError } from '../errors.js';
import { escapeControl } from '../output.js';
import { renderEstimate, renderRunCost } from '../render.js';

export default command({
  meta: { name: 'cost', description: 'Cost estimate of a workflow (upper bound), or the cost of a run' },
  args: {
    workflow: {
      type: 'positional',
      required: false,
      description: 'Workflow name, or <source>/<file>, or <project>/<file>',
    },
    run: { type: 'string', description: 'Cost of this run instead', valueHint: 'id' },
    backend: {
      type: 'string',
      description: 'Estimate on this backend instead of the configured one',
      valueHint: 'name',
    },
  },
  access: (args) => (args.run !== undefined ? 'read' : 'engine'),
  complete: { workflow: 'workflows', run: 'runs', backend: 'backends' },
  examples: ['scripthut cost demo', 'scripthut cost --run 1a2b3c4d --json'],
  async run(args, ctx) {
    if ((args.workflow === undefined) === (args.run === undefined)) {
      throw new UsageError(
        'give either a WORKFLOW or --run ID',
        'e.g. `scripthut cost demo` or `scripthut cost --run 1a2b3c4d`',
      );
    }
    const api = await ctx.api();
    if (args.run !== undefined) {
      const runId = (await api.getRun(args.run)).run.id; // ID may be a prefix
      const cost = await api.runCost(runId);
      ctx.out.result({ runId, ...cost }, () => renderRunCost(runId, cost));
      return 0;
    }
    const name = args.workflow as string;
    let kind: WorkflowView['kind'] = 'workflow';
    const known = (await api.listWorkflows()).find((w) => w.name === name);
    if (known) kind = known.kind;
    else if (name.includes('/')) {
      const head = name.slice(0, name.indexOf('/'));
      if ((await api.listProjects()).some((p) => p.name === head)) kind = 'project';
      else if ((await api.listSources()).some((s) => s.name === head)) kind = 'source';
    }
    const estimate = await api.estimateWorkflow(kind, name, args.backend ? { backend: args.backend } : {});
    ctx.out.result(
      { workflow: name, kind, ...estimate },
      () => `${escapeControl(name, { singleLine: true })}: ${renderEstimate(estimate)}`,
    );
    return 0;
  },
});
