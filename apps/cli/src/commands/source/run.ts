import { command, numberFlag } from '../../command.js';
import { reportStartedRun } from '../../watch.js';

export default command({
  meta: { name: 'run', description: "Start a run of one of a source's workflow files" },
  args: {
    source: { type: 'positional', description: 'Source name (see `scripthut source list`)' },
    file: {
      type: 'positional',
      description: 'Workflow file, relative to the source (e.g. .hut/workflows/train.json)',
    },
    backend: { type: 'string', description: "Use this backend instead of the source's", valueHint: 'name' },
    branch: {
      type: 'string',
      description: 'Git sources: run the file from this branch instead of the synced one (this run only)',
      valueHint: 'name',
    },
    commit: {
      type: 'string',
      description: 'Git sources: run the file from exactly this commit (full hash; this run only)',
      valueHint: 'sha',
    },
    resume: {
      type: 'boolean',
      description:
        'Reuse tasks completed by earlier runs of this workflow whose cache key matches and whose outputs exist (docs/resume.md)',
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
  complete: { source: 'sources', backend: 'backends' },
  examples: [
    'scripthut source run pipelines .hut/workflows/train.json --watch',
    'scripthut source run pipelines .hut/workflows/train.json --branch try-lr',
  ],
  async run(args, ctx) {
    const interval = numberFlag('interval', args.interval, { min: 0.2 });
    const api = await ctx.api();
    const summary = await api.runSourceWorkflow(args.source, args.file, {
      ...(args.backend ? { backend: args.backend } : {}),
      ...(args.resume ? { resume: true } : {}),
      ...(args.branch ? { branch: args.branch } : {}),
      ...(args.commit ? { commit: args.commit } : {}),
    });
    return reportStartedRun(api, ctx, summary, { watch: args.watch, intervalSeconds: interval });
  },
});
