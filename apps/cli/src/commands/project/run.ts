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
  examples: ['scripthut project run my-project analysis/sflow.json --watch'],
  async run(args, ctx) {
    const interval = numberFlag('interval', args.interval, { min: 0.2 });
    const api = await ctx.api();
    const summary = await api.runProjectWorkflow(args.project, args.file);
    return reportStartedRun(api, ctx, summary, { watch: args.watch, intervalSeconds: interval });
  },
});
