import { command, numberFlag } from '../../command.js';
import { reportStartedRun } from '../../watch.js';

export default command({
  meta: { name: 'run', description: "Start a run of a project's sflow.json" },
  args: {
    project: { type: 'positional', description: 'Project name (see `scripthut project list`)' },
    file: {
      type: 'positional',
      description: 'sflow.json path relative to the project (e.g. analysis/sflow.json)',
    },
    branch: {
      type: 'string',
      description:
        "Run the file from this branch of the project's repository (a clone; the working tree is untouched; this run only)",
      valueHint: 'name',
    },
    commit: {
      type: 'string',
      description:
        "Run the file from exactly this commit of the project's repository (full hash; this run only)",
      valueHint: 'sha',
    },
    watch: {
      type: 'boolean',
      alias: 'w',
      description: 'Follow the run until it ends (exit 5 if it does not complete)',
    },
    interval: {
      type: 'string',
      description: 'Seconds between refreshes while watching',
      valueHint: 'seconds',
      default: '1',
    },
  },
  examples: [
    'scripthut project run my-project analysis/sflow.json --watch',
    'scripthut project run my-project analysis/sflow.json --branch experiment',
  ],
  async run(args, ctx) {
    const interval = numberFlag('interval', args.interval, { min: 0.2 });
    const api = await ctx.api();
    const summary = await api.runProjectWorkflow(args.project, args.file, {
      ...(args.branch ? { branch: args.branch } : {}),
      ...(args.commit ? { commit: args.commit } : {}),
    });
    return reportStartedRun(api, ctx, summary, { watch: args.watch, intervalSeconds: interval });
  },
});
