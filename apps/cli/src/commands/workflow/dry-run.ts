import { command } from '../../command.js';
import { renderDryRun } from '../../render.js';

export default command({
  meta: {
    name: 'dry-run',
    description: 'Run the workflow command and show the tasks it would submit (nothing is submitted)',
  },
  args: {
    name: { type: 'positional', description: 'Workflow name (see `scripthut workflow list`)' },
    backend: {
      type: 'string',
      description: 'Use this backend instead of the configured one',
      valueHint: 'name',
    },
    scripts: { type: 'boolean', description: 'Also print the job script of every task' },
    branch: {
      type: 'string',
      description: 'Git workflows: clone this branch instead of the configured one (this run only)',
      valueHint: 'name',
    },
    commit: {
      type: 'string',
      description: 'Git workflows: clone exactly this commit (full hash; this run only)',
      valueHint: 'sha',
    },
    resume: {
      type: 'boolean',
      description:
        'Show which tasks --resume would reuse, and for the others why not (which key part changed)',
    },
  },
  complete: { name: 'workflows', backend: 'backends' },
  examples: [
    'scripthut workflow dry-run demo',
    'scripthut workflow dry-run demo --scripts',
    'scripthut workflow dry-run sweep --resume',
  ],
  async run(args, ctx) {
    const result = await (await ctx.api()).dryRunWorkflow(args.name, {
      ...(args.backend ? { backend: args.backend } : {}),
      ...(args.resume ? { resume: true } : {}),
      ...(args.branch ? { branch: args.branch } : {}),
      ...(args.commit ? { commit: args.commit } : {}),
    });
    ctx.out.result(result, () => renderDryRun(result, ctx.out.style, { scripts: args.scripts }));
    return 0;
  },
});
