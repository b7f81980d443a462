import { command, numberFlag } from '../../command.js';
import { reportStartedRun } from '../../watch.js';

export default command({
  meta: { name: 'run', description: 'Start a run of a configured workflow' },
  args: {
    name: { type: 'positional', description: 'Workflow name (see `scripthut workflow list`)' },
    backend: {
      type: 'string',
      description: 'Use this backend instead of the configured one',
      valueHint: 'name',
    },
    'max-concurrent': {
      type: 'string',
      description: 'Cap on tasks of this run in flight at once',
      valueHint: 'n',
    },
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
  complete: { name: 'workflows', backend: 'backends' },
  examples: [
    'scripthut workflow run sweep --resume --watch',
    'scripthut workflow run demo --watch',
    'scripthut workflow run nightly --backend hpc --json',
  ],
  async run(args, ctx) {
    const maxConcurrent = numberFlag('max-concurrent', args['max-concurrent'], { min: 1, integer: true });
    const interval = numberFlag('interval', args.interval, { min: 0.2 });
    const api = await ctx.api();
    const summary = await api.runWorkflow(args.name, {
      ...(args.backend ? { backend: args.backend } : {}),
      ...(maxConcurrent !== undefined ? { maxConcurrent } : {}),
      ...(args.resume ? { resume: true } : {}),
      ...(args.branch ? { branch: args.branch } : {}),
      ...(args.commit ? { commit: args.commit } : {}),
    });
    return reportStartedRun(api, ctx, summary, { watch: args.watch, intervalSeconds: interval });
  },
});
