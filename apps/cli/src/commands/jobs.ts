import { command } from '../command.js';
import { formatAgo, renderTable, styleState } from '../format.js';

export default command({
  meta: {
    name: 'jobs',
    description: 'Jobs on every backend: tasks of runs (recent ones too) and other jobs of the cluster',
  },
  args: {
    mine: { type: 'boolean', description: 'Only jobs of settings.filter_user (and ScriptHut tasks)' },
    backend: { type: 'string', description: 'Only this backend', valueHint: 'name' },
  },
  access: 'read',
  complete: { backend: 'backends' },
  examples: ['scripthut jobs', 'scripthut jobs --mine --backend hpc'],
  async run(args, ctx) {
    const jobs = await (await ctx.api()).listJobs({
      ...(args.mine ? { mine: true } : {}),
      ...(args.backend ? { backend: args.backend } : {}),
    });
    const s = ctx.out.style;
    ctx.out.result(jobs, () =>
      renderTable(
        jobs,
        [
          { header: 'BACKEND', get: (j) => j.backend },
          { header: 'JOB', get: (j) => j.jobId ?? '-' },
          { header: 'NAME', get: (j) => j.name, max: 30 },
          { header: 'RUN', get: (j) => (j.runId ? `${j.runId}/${j.taskId ?? ''}` : '-'), max: 40 },
          { header: 'STATE', get: (j) => j.state, style: (v) => styleState(v, s) },
          { header: 'USER', get: (j) => j.user ?? '-' },
          { header: 'PARTITION', get: (j) => j.partition ?? '-' },
          { header: 'CPUS', get: (j) => (j.cpus === null ? '-' : String(j.cpus)), align: 'right' },
          { header: 'MEMORY', get: (j) => j.memory ?? '-', align: 'right' },
          { header: 'SUBMITTED', get: (j) => formatAgo(j.submittedAt) },
          { header: 'REASON', get: (j) => j.reason ?? '', max: 30 },
        ],
        s,
        'No jobs.',
      ),
    );
    return 0;
  },
});
