/**
 * The Slurm backend: submits batches of tasks with one SSH round trip, polls many jobs with one
 * `squeue` per cluster (plus one `sacct` for jobs that left the queue), learns completions from
 * exit-marker files, and reads logs and cluster information over the same SSH connection.
 *
 * Every program starts with {@link SLURM_ENV_RESET}: the user's `SBATCH_*`/`SQUEUE_*`/`SLURM_*`
 * settings and shell functions cannot change what ScriptHut's commands do.
 */
import {
  type Backend,
  BackendError,
  type ClusterInfo,
  type ExecResult,
  type ExternalJob,
  type JobStatus,
  type SitePolicy,
  type SubmitRequest,
  shellQuote,
  type TrackedJob,
  type UsageReport,
} from '@scripthut/core';
import {
  type BackendExecOptions,
  backendExec,
  DEFAULT_MARKER_DIR,
  markerCleanup,
  markerPathIn,
  readExitMarkers,
  remoteHome,
  type SchedulerBackendOptions,
  splitSections,
  sshBackendMembers,
  truncateOutput as truncate,
} from '@scripthut/ssh';
import { createSlurmArrays } from './array-submission.js';
import {
  formatJobRef,
  parseDfPk,
  parseExternalJobs,
  parseJobRef,
  parsePendingReasons,
  parseSacct,
  parseSinfoNodeCpus,
  parseSinfoPartitions,
  parseSqueueStatus,
  type SlurmJobRef,
  SQUEUE_EXTERNAL_FORMAT,
  sacctVerdict,
} from './parse.js';
import {
  buildCancelProgram,
  buildClusterInfoProgram,
  buildSacctProgram,
  buildStatusProgram,
  parseCancelAnswer,
  parseSacctAnswer,
  parseStatusAnswer,
  SLURM_ENV_RESET,
} from './programs.js';
import { renderSlurmScript, TAG_RE } from './script.js';
import { createSubmission } from './submission.js';
import { SACCT_USAGE_FIELDS, sacctUsage } from './usage.js';
import { fallbackVerdict, queueVerdict, withMarker } from './verdicts.js';

/** Options of {@link createSlurmBackend} (`account` is `--account`; arrays are `sbatch --array`). */
export interface SlurmBackendOptions extends SchedulerBackendOptions {
  /** Max ids per sacct call. Default 500. */
  sacctChunkSize?: number;
  /** Site policy of every job: qos, constraint, reservation, exclusive, clusters, extra directives. */
  policy?: SitePolicy;
  /**
   * How often running jobs' exit markers are read (ms, default 2000). Each read opens one small
   * file per running job on the login node's file system (an NFS lookup on most clusters).
   */
  markerPollIntervalMs?: number;
}

/**
 * How long a job may still appear after an ambiguous submission. sbatch retries a busy controller
 * (`EAGAIN`, queue full) up to 15 times, sleeping 1, 2, … 15 s (`MAX_RETRIES` and `sleep(++retries)`
 * in src/sbatch/sbatch.c): 120 s of sleeps plus one controller answer per attempt. An sbatch still in
 * that loop when its answer was lost can create the job up to then.
 */
export const SBATCH_RETRY_WINDOW_MS = 180_000;

/** Queued jobs whose markers one `quickStatus` reads at most (in rotation over the queue). */
export const QUEUED_MARKERS_PER_READ = 500;

/** A Slurm backend, with path helpers for its callers. */
export type SlurmBackend = Backend & {
  /** Resolve a `~`/relative path against the (cached) home directory. */
  resolvePath(path: string): string;
  readonly markerDir: string;
};

/**
 * Create a Slurm backend over an SSH connection.
 *
 * @example
 * ```ts
 * const ssh = new SshConnection({ host: 'login.hpc.edu', port: 22, user: 'me', keyPath: '~/.ssh/id_ed25519' });
 * const slurm = createSlurmBackend({ name: 'hpc', ssh, maxConcurrent: 100, account: 'pi-lab',
 *   policy: { qos: 'normal', constraint: 'cpu' } });
 * const [outcome] = await slurm.submit([request]); // one SSH round trip for the whole batch
 * const statuses = await slurm.status(tracked);    // one squeue (+ one sacct for jobs that left it)
 * ```
 */
export function createSlurmBackend(options: SlurmBackendOptions): SlurmBackend {
  const { ssh } = options;
  const markerDir = options.markerDir ?? DEFAULT_MARKER_DIR;
  const cloneDir = options.cloneDir ?? '~/scripthut-repos';
  const chunkSize = Math.max(1, options.submitChunkSize ?? 100);
  const policy = options.policy ?? {};
  const markerPath = (tag: string) => markerPathIn(markerDir, tag);
  /** Clusters to search when a tag is looked up: the configured ones and every one seen in answers. */
  const knownClusters = new Set<string>(policy.clusters ? policy.clusters.split(',') : []);
  /** Markers of jobs whose final verdict was reported: removed by the next program. */
  const finishedTags = new Set<string>();

  const exec = backendExec(ssh, options.name);
  /** Every Slurm program starts with the environment reset. */
  const run = (command: string, opts: BackendExecOptions = {}): Promise<ExecResult> =>
    command.trim() === 'bash -s' && opts.stdin !== undefined
      ? exec(command, { ...opts, stdin: `${SLURM_ENV_RESET}\n${opts.stdin}` })
      : exec(`${SLURM_ENV_RESET}\n${command}`, { ...opts, logAs: opts.logAs ?? command });

  const home = remoteHome(run, options.name);
  const { resolvePath, homeDir } = home;

  const scriptOptions = () => ({
    account: options.account ?? null,
    loginShell: options.loginShell ?? false,
    resolvePath,
    policy,
  });
  const render = (request: SubmitRequest): string =>
    renderSlurmScript(request, { ...scriptOptions(), exitMarkerPath: resolvePath(markerPath(request.tag)) });

  /**
   * Run `fn` with the cleanup of the reported markers as program text to run first; the tags are
   * forgotten once a program ran (kept for the next one when `fn` throws).
   */
  async function withCleanup<T>(fn: (cleanup: string) => Promise<T>): Promise<T> {
    const tags = [...finishedTags];
    finishedTags.clear();
    try {
      return await fn(tags.length ? markerCleanup(markerDir, tags) : '');
    } catch (e) {
      for (const t of tags) finishedTags.add(t);
      throw e;
    }
  }

  const { submit, findByTags } = createSubmission({
    name: options.name,
    run,
    render,
    resolvePath,
    homeDir,
    markerDir,
    markerPath,
    chunkSize,
    knownClusters,
  });

  const arrays =
    options.arrays !== true
      ? undefined
      : createSlurmArrays({
          name: options.name,
          run,
          scriptOptions,
          resolvePath,
          homeDir,
          markerDir,
          markerPath,
          findByTags,
          knownClusters,
        });

  async function status(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    const result = new Map<string, JobStatus>();
    const valid: { job: TrackedJob; ref: SlurmJobRef }[] = [];
    for (const job of jobs) {
      const ref = parseJobRef(job.jobId);
      if (ref) valid.push({ job, ref });
      else result.set(job.jobId, { jobId: job.jobId, state: 'unknown', reason: 'invalid job id' });
    }
    if (!valid.length) return result;
    const seen = new Set<string>();
    const queries = valid
      .filter(({ job }) => !seen.has(job.jobId) && seen.add(job.jobId))
      .map(({ job, ref }) => ({
        cluster: ref.cluster,
        id: ref.id,
        tag: TAG_RE.test(job.tag) ? job.tag : null,
      }));
    const r = await withCleanup((cleanup) =>
      run('bash -s', {
        stdin: buildStatusProgram(queries, markerDir, cleanup),
        timeoutMs: 60_000,
        logAs: `SLURM_TIME_FORMAT=standard TZ=UTC squeue -h -t all -u $USER -o '%i|%T|%r|%N|%S' (${queries.length} ids filtered); read the markers of ended jobs`,
      }),
    );
    const answer = parseStatusAnswer(r.stdout);
    if (!answer.complete) {
      throw new BackendError(`status program failed on backend ${options.name}`, {
        transient: true,
        output: truncate(r.stderr),
      });
    }
    const rowOf = new Map<string, ReturnType<typeof parseSqueueStatus>[number]>();
    for (const [cluster, section] of answer.squeue) {
      if (section.rc !== 0) {
        throw new BackendError(
          `squeue failed on backend ${options.name}${cluster === '-' ? '' : ` (cluster ${cluster})`}: ${truncate(r.stderr.trim(), 500)}`,
          { transient: true, command: 'squeue -h -t all -u $USER …', output: truncate(r.stderr) },
        );
      }
      for (const row of parseSqueueStatus(section.rows)) rowOf.set(`${cluster}|${row.jobId}`, row);
    }
    const markerOf = (job: TrackedJob) => (TAG_RE.test(job.tag) ? answer.markers.get(job.tag) : undefined);
    const needAccounting: { job: TrackedJob; ref: SlurmJobRef }[] = [];
    const fallback = new Map<string, JobStatus>();
    for (const entry of valid) {
      const { job, ref } = entry;
      const row = rowOf.get(`${ref.cluster ?? '-'}|${ref.id}`);
      const marker = markerOf(job);
      if (!row) {
        needAccounting.push(entry);
        continue;
      }
      const fromQueue = { ...queueVerdict(row, marker), jobId: job.jobId };
      if (row.state === 'failed' && marker === undefined) {
        // Killed before the end of the script (signal, memory, missing log dir): accounting has
        // the exit code and signal; the queue's verdict is the fallback.
        fallback.set(job.jobId, fromQueue);
        needAccounting.push(entry);
        continue;
      }
      result.set(job.jobId, fromQueue);
    }
    if (needAccounting.length) {
      const accounted = await accounting(needAccounting);
      for (const { job } of needAccounting) {
        const fromSacct = accounted.get(job.jobId);
        const marker = markerOf(job);
        const queued = fallback.get(job.jobId);
        if (fromSacct) result.set(job.jobId, withMarker(fromSacct, marker));
        else if (queued) result.set(job.jobId, queued);
        else result.set(job.jobId, fallbackVerdict(job, marker));
      }
    }
    for (const { job } of valid) {
      const st = result.get(job.jobId);
      if (st?.final && TAG_RE.test(job.tag)) finishedTags.add(job.tag);
    }
    return result;
  }

  async function accounting(jobs: { job: TrackedJob; ref: SlurmJobRef }[]): Promise<Map<string, JobStatus>> {
    const out = new Map<string, JobStatus>();
    const times = jobs
      .map(({ job }) => (job.submittedAt ? Date.parse(job.submittedAt) : Number.NaN))
      .filter((t) => Number.isFinite(t));
    const starttime = times.length
      ? new Date(Math.min(...times) - 3600_000).toISOString().slice(0, 19)
      : null;
    const stderrPaths = new Map<string, string>();
    for (const { job, ref } of jobs) if (job.stderrPath) stderrPaths.set(ref.id, resolvePath(job.stderrPath));
    const queries = [...new Map(jobs.map(({ ref }) => [formatJobRef(ref), ref])).values()];
    let r: ExecResult;
    try {
      r = await run('bash -s', {
        stdin: buildSacctProgram(queries, starttime, stderrPaths),
        timeoutMs: 40_000,
        logAs: `SLURM_TIME_FORMAT=standard TZ=UTC sacct -n -P --format=JobID,State,ExitCode,Start,End,NodeList,Reason (${queries.length} ids)${starttime ? ` --starttime=${starttime}` : ''}`,
      });
    } catch {
      return out; // accounting is best effort: these jobs stay unknown this poll
    }
    const answer = parseSacctAnswer(r.stdout);
    for (const { job, ref } of jobs) {
      const section = answer.sacct.get(ref.cluster ?? '-');
      if (section?.rc !== 0) continue;
      const rows = parseSacct(section.rows).get(ref.id);
      if (!rows) continue;
      const verdict = sacctVerdict(ref.id, rows, { memoryExceeded: answer.oom.has(ref.id) });
      if (verdict) out.set(job.jobId, { ...verdict, jobId: job.jobId });
    }
    return out;
  }

  /**
   * Usage of ended jobs: ONE `sacct` program for all of them (by id; beyond
   * {@link SACCT_BY_ID_LIMIT} ids, the user's jobs since the earliest submission, filtered).
   */
  async function fetchUsage(jobs: TrackedJob[]): Promise<Map<string, UsageReport>> {
    const out = new Map<string, UsageReport>();
    const valid: { job: TrackedJob; ref: SlurmJobRef }[] = [];
    for (const job of jobs) {
      const ref = parseJobRef(job.jobId);
      if (ref) valid.push({ job, ref });
      else out.set(job.jobId, { kind: 'unavailable', reason: `invalid Slurm job id ${job.jobId}` });
    }
    if (!valid.length) return out;
    const times = valid
      .map(({ job }) => (job.submittedAt ? Date.parse(job.submittedAt) : Number.NaN))
      .filter((t) => Number.isFinite(t));
    const starttime = times.length
      ? new Date(Math.min(...times) - 3600_000).toISOString().slice(0, 19)
      : null;
    const queries = [...new Map(valid.map(({ ref }) => [formatJobRef(ref), ref])).values()];
    const r = await run('bash -s', {
      stdin: buildSacctProgram(queries, starttime, new Map(), 25, SACCT_USAGE_FIELDS),
      timeoutMs: 40_000,
      logAs: `SLURM_TIME_FORMAT=standard TZ=UTC sacct -n -P --format=${SACCT_USAGE_FIELDS.join(',')} (${queries.length} ids, usage)${starttime ? ` --starttime=${starttime}` : ''}`,
    });
    const answer = parseSacctAnswer(r.stdout);
    if (!answer.complete) {
      throw new BackendError(`usage query (sacct) failed on backend ${options.name}`, {
        transient: true,
        output: truncate(r.stderr),
      });
    }
    for (const { job, ref } of valid) {
      const section = answer.sacct.get(ref.cluster ?? '-');
      if (section?.rc !== 0) {
        const why = r.stderr.trim().split('\n').slice(-1)[0] ?? '';
        if (/accounting storage is disabled|not running a supported accounting_storage/i.test(r.stderr))
          out.set(job.jobId, {
            kind: 'unavailable',
            reason: `Slurm accounting is disabled: ${truncate(why, 200)}`,
          });
        else out.set(job.jobId, { kind: 'pending', reason: `sacct failed: ${truncate(why, 200)}` });
        continue;
      }
      const rows = parseSacct(section.rows, SACCT_USAGE_FIELDS).get(ref.id);
      out.set(
        job.jobId,
        rows
          ? sacctUsage(ref.id, rows)
          : { kind: 'pending', reason: `sacct has no record of job ${job.jobId}` },
      );
    }
    return out;
  }

  /**
   * Markers of the jobs that may have ended: every job not seen queued, plus at most
   * {@link QUEUED_MARKERS_PER_READ} of the queued ones in rotation (a short job can start and end
   * between two scheduler polls; reading every queued job's marker every 2 s would cost a big
   * queue's NFS server thousands of lookups per second).
   */
  let queuedCursor = 0;
  async function quickStatus(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    const queued = jobs.filter((j) => j.lastState === 'pending');
    let sample = queued;
    if (queued.length > QUEUED_MARKERS_PER_READ) {
      const start = queuedCursor % queued.length;
      sample = [...queued, ...queued].slice(start, start + QUEUED_MARKERS_PER_READ);
      queuedCursor = start + QUEUED_MARKERS_PER_READ;
    }
    const candidates = [...jobs.filter((j) => j.lastState !== 'pending'), ...sample];
    const found = await withCleanup((cleanup) =>
      readExitMarkers(run, markerDir, candidates, (tag) => TAG_RE.test(tag), cleanup),
    );
    for (const job of candidates) if (found.has(job.jobId)) finishedTags.add(job.tag);
    return found;
  }

  async function cancel(jobs: TrackedJob[]): Promise<void> {
    const refs = [
      ...new Map(
        jobs
          .map((j) => parseJobRef(j.jobId))
          .filter((r): r is SlurmJobRef => r !== null)
          .map((r) => [formatJobRef(r), r]),
      ).values(),
    ];
    if (!refs.length) return;
    const r = await run('bash -s', {
      stdin: buildCancelProgram(refs),
      timeoutMs: 30_000 + 10_000 * Math.ceil(refs.length / 1000),
      logAs: `scancel ${refs.length <= 20 ? refs.map((x) => formatJobRef(x)).join(' ') : `<${refs.length} jobs>`}`,
    });
    const answer = parseCancelAnswer(r.stdout);
    const meaningful = answer.calls
      .filter((c) => c.rc !== 0)
      .flatMap((c) => c.output.split('\n'))
      .filter((l) => l.trim())
      .filter((l) => !/already completing or completed|Invalid job id|Job\/step already/i.test(l));
    if (meaningful.length || !answer.complete) {
      throw new BackendError(
        `scancel failed on backend ${options.name}: ${truncate(meaningful.join('\n') || r.stderr.trim(), 500)}`,
        { transient: true, command: `scancel (${refs.length} jobs)`, output: truncate(r.stderr) },
      );
    }
  }

  async function clusterInfo(): Promise<ClusterInfo> {
    const cluster = policy.clusters && !policy.clusters.includes(',') ? policy.clusters : null;
    const r = await run('bash -s', {
      stdin: buildClusterInfoProgram(cloneDir, cluster),
      timeoutMs: 60_000,
      logAs: `sinfo -h -o '%P|%a|%D|%t|%C|%l'; sinfo -h -N -o '%N|%C'; squeue -h -t PD -o '%r'; df -Pk ${cloneDir}`,
    });
    const s = splitSections(r.stdout);
    if (!s.has('end')) {
      throw new BackendError(`cluster information failed on backend ${options.name}`, {
        transient: true,
        output: truncate(r.stderr),
      });
    }
    const partitions = parseSinfoPartitions(s.get('sinfo') ?? '');
    const totals = parseSinfoNodeCpus(s.get('nodes') ?? '');
    const disk = parseDfPk(s.get('df') ?? '', cloneDir);
    return {
      cpusIdle:
        totals?.cpusIdle ?? (partitions.length ? Math.max(...partitions.map((p) => p.cpusIdle)) : null),
      cpusTotal:
        totals?.cpusTotal ?? (partitions.length ? Math.max(...partitions.map((p) => p.cpusTotal)) : null),
      partitions,
      pendingReasons: parsePendingReasons(s.get('pd') ?? ''),
      disk,
    };
  }

  async function externalJobs(user: string | null): Promise<ExternalJob[]> {
    const who = user ?? options.user ?? null;
    const filter = who ? `-u ${shellQuote(who)}` : '-u "$(id -un)"';
    const r = await run(
      `SLURM_TIME_FORMAT=standard TZ=UTC squeue -h ${filter} -o ${shellQuote(SQUEUE_EXTERNAL_FORMAT)}`,
      { timeoutMs: 30_000 },
    );
    if (r.exitCode !== 0) {
      throw new BackendError(`squeue failed on backend ${options.name}: ${truncate(r.stderr.trim(), 500)}`, {
        transient: true,
        output: truncate(r.stderr),
      });
    }
    return parseExternalJobs(r.stdout);
  }

  return {
    name: options.name,
    type: 'slurm',
    maxConcurrent: options.maxConcurrent,
    pollIntervalMs: options.pollIntervalMs,
    quickStatusIntervalMs: Math.max(200, options.markerPollIntervalMs ?? 2000),
    submitRetryWindowMs: SBATCH_RETRY_WINDOW_MS,
    markerDir,
    resolvePath,
    renderScript: render,
    submit,
    status,
    quickStatus,
    fetchUsage,
    findByTags,
    arrays,
    cancel,
    clusterInfo,
    externalJobs,
    ...sshBackendMembers({ name: options.name, ssh, run, resolvePath, homeDir }),
  };
}
