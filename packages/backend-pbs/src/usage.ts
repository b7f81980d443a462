/**
 * Resource usage of ended PBS jobs from `qstat -f` records (PBS Pro with job history: `qstat -x -f`;
 * Torque: completed jobs while `keep_completed` keeps them): `resources_used.{walltime,cput,mem,ncpus}`,
 * `exec_host`, `stime` and `obittime`/`mtime` (Torque: `start_time`/`comp_time`), `Resource_List.mem`.
 */
import { BackendError, parseMemoryBytes, type TrackedJob, type UsageReport } from '@scripthut/core';
import { splitSections, truncateOutput as truncate } from '@scripthut/ssh';
import {
  attr,
  displayJobNumber,
  execHosts,
  isValidPbsJobId,
  type PbsJobRecord,
  parseDuration,
  parseQstatText,
  pbsTimeToIso,
} from './parse.js';
import { buildStatusProgram, onlyGoneJobErrors } from './programs.js';
import type { StatusContext } from './status.js';

/** `7412kb`, `100mb`, `2gb`, `1024b`, `512w`(words are rare; not read) → bytes; null otherwise. */
export function pbsMemoryBytes(text: string | undefined): number | null {
  return parseMemoryBytes((text ?? '').trim(), 'B');
}

const num = (text: string | undefined): number | null => {
  const v = (text ?? '').trim();
  return /^\d+$/.test(v) ? Number(v) : null;
};

/** Usage of ONE job from its record; `pending` while it has not finished. */
export function pbsUsage(rec: PbsJobRecord): UsageReport {
  const state = (attr(rec, 'job_state') ?? '').trim();
  if (state !== 'F' && state !== 'C')
    return { kind: 'pending', reason: `qstat still shows job ${rec.id} in state ${state || '?'}` };
  const startedAt = pbsTimeToIso(attr(rec, 'stime') ?? attr(rec, 'start_time'));
  if (!startedAt) return { kind: 'unavailable', reason: `job ${rec.id} never started` };
  const finishedAt = pbsTimeToIso(attr(rec, 'obittime') ?? attr(rec, 'comp_time') ?? attr(rec, 'mtime'));
  const rss = pbsMemoryBytes(attr(rec, 'resources_used.mem'));
  // The MOM samples a job's processes every $min_check_poll..$max_check_poll seconds (10..120 by
  // default) and takes no sample when a job ends: a job it never sampled shows mem 0kb and cput 0,
  // which mean "not measured", not "used nothing". One sample sets both, so mem tells them apart.
  const sampled = rss !== null && rss > 0;
  return {
    kind: 'ok',
    node: execHosts(attr(rec, 'exec_host')),
    startedAt,
    finishedAt,
    elapsedSec: parseDuration(attr(rec, 'resources_used.walltime')),
    allocCpus: num(attr(rec, 'resources_used.ncpus')) ?? num(attr(rec, 'Resource_List.ncpus')),
    cpuTimeSec: sampled ? parseDuration(attr(rec, 'resources_used.cput')) : null,
    maxRssBytes: sampled ? rss : null,
    reqMemBytes: pbsMemoryBytes(attr(rec, 'Resource_List.mem')),
    note: sampled
      ? null
      : 'resources_used (CPU time, memory) not sampled by the PBS MOM: the job ended before its next sample (every 10-120 s by default)',
  };
}

/**
 * The usage query of one backend: ONE `qstat -f` (text; `-x` with job history) over every ended
 * job, whatever their number (the status program, without markers).
 */
export function createUsageQuery(
  ctx: StatusContext,
): (jobs: TrackedJob[]) => Promise<Map<string, UsageReport>> {
  return async (jobs) => {
    const out = new Map<string, UsageReport>();
    const valid = jobs.filter((j) => isValidPbsJobId(j.jobId));
    for (const j of jobs)
      if (!isValidPbsJobId(j.jobId)) out.set(j.jobId, { kind: 'unavailable', reason: 'invalid PBS job id' });
    if (!valid.length) return out;
    const { flavour, history } = await ctx.server();
    const ids = [...new Set(valid.map((j) => j.jobId))];
    const r = await ctx.run('bash -s', {
      stdin: buildStatusProgram({
        flavour,
        ids,
        markerDir: ctx.markerDir,
        tags: [],
        format: 'text',
        history,
      }),
      timeoutMs: 60_000 + 10 * ids.length,
      logAs: `TZ=UTC qstat -f${flavour === 'pro' && history ? ' -x' : ''} <${ids.length} ids> (usage: resources_used)`,
    });
    const s = splitSections(r.stdout);
    const rc = Number((s.get('rc') ?? '').trim());
    const stderr = s.get('err') ?? '';
    if (!s.has('end') || !Number.isFinite(rc) || (rc !== 0 && !onlyGoneJobErrors(stderr))) {
      throw new BackendError(
        `usage query (qstat) failed on backend ${ctx.name}: ${truncate(stderr.trim(), 300)}`,
        {
          transient: true,
          output: truncate(r.stderr),
        },
      );
    }
    const answeredHistory = (s.get('history') ?? '').trim() === '1';
    const byNumber = new Map(
      parseQstatText(s.get('out') ?? '').map((rec) => [displayJobNumber(rec.id), rec]),
    );
    for (const job of valid) {
      const rec = byNumber.get(displayJobNumber(job.jobId));
      if (rec) out.set(job.jobId, pbsUsage(rec));
      else if (flavour === 'pro' && !answeredHistory)
        out.set(job.jobId, {
          kind: 'unavailable',
          reason:
            'the PBS server keeps no job history (job_history_enable is off): the resources a finished job used cannot be read',
        });
      else out.set(job.jobId, { kind: 'pending', reason: `qstat does not list job ${job.jobId} (any more)` });
    }
    return out;
  };
}
