/**
 * The Slurm backend: submits batches of tasks with one SSH round trip, polls many jobs with one
 * `squeue` (plus one `sacct` for jobs that left the queue), learns completions within a second from
 * exit-marker files, and reads logs and cluster information over the same SSH connection.
 */
import {
  type Backend,
  BackendError,
  type ClusterInfo,
  type ExecResult,
  type ExternalJob,
  type JobStatus,
  type LogChunk,
  type LogReadOptions,
  type LogRequest,
  type SubmitOutcome,
  type SubmitRequest,
  shellQuote,
  type TrackedJob,
} from '@scripthut/core';
import {
  type BackendExecOptions,
  type BackendSsh,
  backendExec,
  chunkSubmitRequests,
  prepareSubmission,
  readExitMarkers,
  readRemoteFile,
  readRemoteLog,
  remoteHome,
  splitSections,
  truncateOutput as truncate,
} from '@scripthut/ssh';
import {
  isInvalidJobIdError,
  isTerminalJobState,
  isValidJobId,
  parseDfPk,
  parseExternalJobs,
  parsePendingReasons,
  parseSacct,
  parseSbatchOutput,
  parseSinfoNodeCpus,
  parseSinfoPartitions,
  parseSqueueStatus,
  parseTagRows,
  SQUEUE_EXTERNAL_FORMAT,
  sacctVerdict,
} from './parse.js';
import {
  buildClusterInfoProgram,
  buildSacctProgram,
  buildStatusProgram,
  buildSubmitProgram,
  parseSacctAnswer,
  parseStatusAnswer,
  parseSubmitAnswer,
} from './programs.js';
import { renderSlurmScript, TAG_RE } from './script.js';

/** Options accepted by the SSH connection's `exec` (see `BackendExecOptions` in `@scripthut/ssh`). */
export type SlurmExecOptions = BackendExecOptions;

/** What the backend needs from its SSH connection (`SshConnection` from `@scripthut/ssh` fits). */
export type SlurmSsh = BackendSsh;

/** Options of {@link createSlurmBackend}. */
export interface SlurmBackendOptions {
  /** Backend name from the configuration. */
  name: string;
  /** Connection to the login node. The backend owns it: `close()` closes it. */
  ssh: SlurmSsh;
  /** `--account` for every job (null/absent: none). */
  account?: string | null;
  /** Job scripts start with `#!/bin/bash -l`. */
  loginShell?: boolean;
  /** Max concurrent jobs across all runs on this backend. */
  maxConcurrent: number;
  /** Directory whose disk usage {@link Backend.clusterInfo} reports. Default `~/scripthut-repos`. */
  cloneDir?: string;
  /** Login user (for {@link Backend.externalJobs} defaults); otherwise `--me`. */
  user?: string;
  /** Where job scripts leave `<tag>.rc` exit-code markers. Default `~/.cache/scripthut/markers`. */
  markerDir?: string;
  /** Max tasks per submission round trip. Default 100. */
  submitChunkSize?: number;
  /** Max ids per sacct call. Default 500. */
  sacctChunkSize?: number;
  /** Preferred poll interval (ms). */
  pollIntervalMs?: number;
}

const DEFAULT_MARKER_DIR = '~/.cache/scripthut/markers';
const SUBMIT_STDIN_LIMIT = 4 * 1024 * 1024;

/** sbatch messages that mean "try again later" rather than "this request is wrong". */
const TRANSIENT_SBATCH =
  /Socket timed out|Unable to contact slurm controller|Connection refused|Resource temporarily unavailable|Slurm temporarily unable|slurm_persist_conn|Job violates accounting\/QOS policy \(job submit limit|QOSMaxSubmitJob|AssocMaxSubmitJob|Zero Bytes were transmitted/i;

/**
 * Create a Slurm backend over an SSH connection.
 *
 * @example
 * ```ts
 * const ssh = new SshConnection({ host: 'login.hpc.edu', port: 22, user: 'me', keyPath: '~/.ssh/id_ed25519' });
 * const slurm = createSlurmBackend({ name: 'hpc', ssh, maxConcurrent: 100, account: 'pi-lab' });
 * const [outcome] = await slurm.submit([request]); // one SSH round trip for the whole batch
 * const statuses = await slurm.status(tracked);    // one squeue (+ one sacct for jobs that left it)
 * ```
 */
export function createSlurmBackend(options: SlurmBackendOptions): Backend & {
  /** Resolve a `~`/relative path against the (cached) home directory. */
  resolvePath(path: string): string;
  readonly markerDir: string;
} {
  const { ssh } = options;
  const markerDir = options.markerDir ?? DEFAULT_MARKER_DIR;
  const cloneDir = options.cloneDir ?? '~/scripthut-repos';
  const chunkSize = Math.max(1, options.submitChunkSize ?? 100);
  const sacctChunk = Math.max(1, Math.min(500, options.sacctChunkSize ?? 500));
  const markerPath = (tag: string) => `${markerDir.replace(/\/+$/, '')}/${tag}.rc`;

  const run = backendExec(ssh, options.name);

  const home = remoteHome(run, options.name);
  const { resolvePath, homeDir } = home;

  const render = (request: SubmitRequest): string =>
    renderSlurmScript(request, {
      account: options.account ?? null,
      loginShell: options.loginShell ?? false,
      exitMarkerPath: markerPath(request.tag),
      resolvePath,
    });

  async function findByTags(tags: string[]): Promise<Map<string, string>> {
    const valid = [...new Set(tags.filter((t) => TAG_RE.test(t)))];
    const found = new Map<string, string>();
    if (!valid.length) return found;
    // Job names are `<tag>-<task name>`: list the user's jobs and keep the lines that mention a tag
    // (server-side, the tags travel on stdin), then match names exactly here.
    const program = [
      "__scripthut_tags() { cat <<'SCRIPTHUT_TAGS'",
      ...valid,
      'SCRIPTHUT_TAGS',
      '}',
      `printf '@@squeue\\n'`,
      `squeue --me -h -t all -o '%i|%j' | grep -F -f <(__scripthut_tags)`,
      `printf '\\n@@sacct\\n'`,
      `timeout 25 sacct -n -P -X -u "$(id -un)" --format=JobIDRaw,JobName --starttime now-7days | grep -F -f <(__scripthut_tags)`,
      'true',
    ].join('\n');
    const r = await run('bash -s', {
      stdin: program,
      timeoutMs: 40_000,
      logAs: `squeue --me + sacct -u $USER (7 days), names matching ${valid.length} tags`,
    });
    const sections = splitSections(r.stdout);
    const set = new Set(valid);
    parseTagRows(sections.get('squeue') ?? '', set, found);
    parseTagRows(sections.get('sacct') ?? '', set, found);
    return found;
  }

  async function submitChunk(
    requests: SubmitRequest[],
    offset: number,
    outcomes: SubmitOutcome[],
  ): Promise<void> {
    const { items, scripts, dirs } = prepareSubmission(requests, offset, outcomes, render, resolvePath);
    if (!items.length) return;
    const program = buildSubmitProgram(items, dirs, markerDir);
    const r = await run('bash -s', {
      stdin: program,
      timeoutMs: 60_000 + 2_000 * items.length,
      logAs: `sbatch --parsable × ${items.length} (batch submission program on stdin)`,
    });
    const answer = parseSubmitAnswer(r.stdout);
    const unanswered: number[] = [];
    for (const item of items) {
      const req = requests[item.index - offset]!;
      const script = scripts.get(item.index)!;
      const line = answer.tasks.get(item.index);
      if (!line) {
        unanswered.push(item.index);
        continue;
      }
      if (line.rc !== 0) {
        const msg = (
          line.stderr.trim() ||
          line.stdout.trim() ||
          `sbatch exited with code ${line.rc}`
        ).replace(/\s+$/, '');
        outcomes[item.index] = {
          taskId: req.taskId,
          ok: false,
          error: truncate(msg),
          transient: TRANSIENT_SBATCH.test(msg),
          script,
        };
        continue;
      }
      const parsed = parseSbatchOutput(line.stdout);
      if (!parsed || !isValidJobId(parsed.jobId)) {
        outcomes[item.index] = {
          taskId: req.taskId,
          ok: false,
          error: truncate(
            `sbatch succeeded but printed no job id: ${line.stdout.trim()} ${line.stderr.trim()}`.trim(),
          ),
          transient: false,
          script,
        };
        continue;
      }
      if (answer.verified && !parsed.cluster && !answer.verified.has(parsed.jobId)) {
        outcomes[item.index] = {
          taskId: req.taskId,
          ok: false,
          error: `sbatch returned job ${parsed.jobId} but squeue does not know it; the job likely never entered the queue (${truncate(line.stderr.trim(), 500)})`,
          transient: false,
          script,
        };
        continue;
      }
      const meta: Record<string, unknown> = { tag: req.tag, markerPath: markerPath(req.tag) };
      if (parsed.cluster) meta.cluster = parsed.cluster;
      if (line.stderr.trim()) meta.sbatchWarning = truncate(line.stderr.trim(), 500);
      outcomes[item.index] = { taskId: req.taskId, ok: true, jobId: parsed.jobId, script, meta };
    }
    if (unanswered.length) {
      // The program stopped early: some of these may have been submitted. Look them up by tag so a
      // task never gets two jobs.
      let byTag = new Map<string, string>();
      try {
        byTag = await findByTags(unanswered.map((i) => requests[i - offset]!.tag));
      } catch {
        /* leave byTag empty */
      }
      for (const index of unanswered) {
        const req = requests[index - offset]!;
        const jobId = byTag.get(req.tag);
        outcomes[index] = jobId
          ? {
              taskId: req.taskId,
              ok: true,
              jobId,
              script: scripts.get(index)!,
              meta: { tag: req.tag, markerPath: markerPath(req.tag), recovered: true },
            }
          : {
              taskId: req.taskId,
              ok: false,
              transient: true,
              script: scripts.get(index),
              error: `the submission program ended before submitting this task (exit ${r.exitCode}): ${truncate(r.stderr.trim(), 500)}`,
            };
      }
    }
  }

  async function submit(requests: SubmitRequest[]): Promise<SubmitOutcome[]> {
    if (!requests.length) return [];
    await homeDir();
    const outcomes: SubmitOutcome[] = new Array(requests.length);
    // Chunk by count and by stdin size.
    for (const [start, end] of chunkSubmitRequests(requests, chunkSize, SUBMIT_STDIN_LIMIT))
      await submitChunk(requests.slice(start, end), start, outcomes);
    return outcomes;
  }

  async function status(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    const result = new Map<string, JobStatus>();
    const valid = jobs.filter((j) => isValidJobId(j.jobId));
    for (const j of jobs)
      if (!isValidJobId(j.jobId))
        result.set(j.jobId, { jobId: j.jobId, state: 'unknown', reason: 'invalid job id' });
    if (!valid.length) return result;
    const ids = [...new Set(valid.map((j) => j.jobId))];
    const tagOf = new Map(valid.filter((j) => TAG_RE.test(j.tag)).map((j) => [j.jobId, j.tag]));
    const r = await run('bash -s', {
      stdin: buildStatusProgram(ids, markerDir, [...tagOf.values()]),
      timeoutMs: 60_000,
      logAs: `TZ=UTC squeue -h -t all -j <${ids.length} ids> -o '%i|%T|%r|%N|%S'; read ${tagOf.size} exit markers`,
    });
    const answer = parseStatusAnswer(r.stdout);
    if (answer.squeueRc === null) {
      throw new BackendError(`status program failed on backend ${options.name}`, {
        transient: true,
        output: truncate(r.stderr),
      });
    }
    if (answer.squeueRc !== 0 && !isInvalidJobIdError(r.stderr)) {
      throw new BackendError(`squeue failed on backend ${options.name}: ${truncate(r.stderr.trim(), 500)}`, {
        transient: true,
        command: 'squeue -h -t all -j …',
        output: truncate(r.stderr),
      });
    }
    const rows = answer.squeueRc === 0 ? parseSqueueStatus(answer.squeue) : [];
    const seen = new Map(rows.map((row) => [row.jobId, row]));
    const markerOf = (jobId: string) => {
      const tag = tagOf.get(jobId);
      return tag === undefined ? undefined : answer.markers.get(tag);
    };
    const needAccounting: TrackedJob[] = [];
    const fallback = new Map<string, JobStatus>();
    for (const job of valid) {
      const row = seen.get(job.jobId);
      const marker = markerOf(job.jobId);
      if (!row) {
        needAccounting.push(job);
        continue;
      }
      const terminal = isTerminalJobState(row.state);
      let state = row.state;
      let exitCode: number | null = null;
      if (terminal) {
        if (marker !== undefined) exitCode = marker;
        else if (state === 'completed') exitCode = 0;
        if (state === 'completed' && marker !== undefined && marker !== 0) state = 'failed';
      }
      const fromQueue: JobStatus = {
        jobId: job.jobId,
        state,
        reason:
          state === 'pending'
            ? row.reason
            : terminal && state !== 'completed'
              ? `Slurm: ${row.rawState}${row.reason ? ` — ${row.reason}` : ''}`
              : null,
        exitCode,
        startedAt: state === 'pending' ? null : row.start,
        finishedAt: null,
        node: row.node,
        rawState: row.rawState,
        final: terminal,
      };
      if (row.state === 'failed' && marker === undefined) {
        // Killed before the end of the script (signal, memory, missing log dir): accounting has
        // the exit code and signal; the queue's verdict is the fallback.
        fallback.set(job.jobId, fromQueue);
        needAccounting.push(job);
        continue;
      }
      result.set(job.jobId, fromQueue);
    }
    if (needAccounting.length) {
      const accounted = await accounting(needAccounting);
      for (const job of needAccounting) {
        const fromSacct = accounted.get(job.jobId);
        const marker = markerOf(job.jobId);
        const queued = fallback.get(job.jobId);
        if (fromSacct) result.set(job.jobId, fromSacct);
        else if (queued) result.set(job.jobId, queued);
        else if (marker !== undefined) {
          result.set(job.jobId, {
            jobId: job.jobId,
            state: marker === 0 ? 'completed' : 'failed',
            exitCode: marker,
            reason:
              marker === 0 ? null : `exit code ${marker} (from the exit marker; accounting has no row yet)`,
            final: false,
          });
        } else {
          // Accounting lag (or the scheduler forgot the job): not evidence of failure.
          result.set(job.jobId, {
            jobId: job.jobId,
            state: 'unknown',
            reason: 'not in squeue and no accounting row yet',
            final: false,
          });
        }
      }
    }
    return result;
  }

  async function accounting(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    const out = new Map<string, JobStatus>();
    for (let i = 0; i < jobs.length; i += sacctChunk) {
      const chunk = jobs.slice(i, i + sacctChunk);
      const ids = [...new Set(chunk.map((j) => j.jobId))];
      const times = chunk
        .map((j) => (j.submittedAt ? Date.parse(j.submittedAt) : Number.NaN))
        .filter((t) => Number.isFinite(t));
      const starttime = times.length
        ? new Date(Math.min(...times) - 3600_000).toISOString().slice(0, 19)
        : null;
      const stderrPaths = new Map<string, string>();
      for (const j of chunk) if (j.stderrPath) stderrPaths.set(j.jobId, resolvePath(j.stderrPath));
      let r: ExecResult;
      try {
        r = await run('bash -s', {
          stdin: buildSacctProgram(ids, starttime, stderrPaths),
          timeoutMs: 40_000,
          logAs: `TZ=UTC sacct -n -P --format=JobIDRaw,State,ExitCode,Start,End,NodeList,Reason -j <${ids.length} ids>${starttime ? ` --starttime=${starttime}` : ''}`,
        });
      } catch {
        continue; // accounting is best effort: these jobs stay unknown this poll
      }
      const answer = parseSacctAnswer(r.stdout);
      if (answer.sacctRc !== 0) continue;
      const byJob = parseSacct(answer.sacct);
      for (const id of ids) {
        const rows = byJob.get(id);
        if (!rows) continue;
        const verdict = sacctVerdict(id, rows, { memoryExceeded: answer.oom.has(id) });
        if (verdict) out.set(id, verdict);
      }
    }
    return out;
  }

  async function quickStatus(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    return readExitMarkers(run, markerDir, jobs, (tag) => TAG_RE.test(tag));
  }

  async function cancel(jobs: TrackedJob[]): Promise<void> {
    const ids = [...new Set(jobs.map((j) => j.jobId).filter(isValidJobId))];
    if (!ids.length) return;
    const r = await run(`scancel ${ids.map(shellQuote).join(' ')}`, { timeoutMs: 30_000 });
    if (r.exitCode === 0) return;
    const meaningful = r.stderr
      .split('\n')
      .filter((l) => l.trim())
      .filter((l) => !/already completing or completed|Invalid job id|Job\/step already/i.test(l));
    if (meaningful.length) {
      throw new BackendError(
        `scancel failed on backend ${options.name}: ${truncate(meaningful.join('\n'), 500)}`,
        {
          transient: true,
          command: `scancel ${ids.join(' ')}`,
          output: truncate(r.stderr),
        },
      );
    }
  }

  async function readLog(request: LogRequest, opts: LogReadOptions): Promise<LogChunk> {
    return readRemoteLog(run, request.path, opts);
  }

  async function readFile(path: string, cwd: string | null): Promise<string> {
    return readRemoteFile(run, path, cwd, options.name);
  }

  async function clusterInfo(): Promise<ClusterInfo> {
    const r = await run('bash -s', {
      stdin: buildClusterInfoProgram(cloneDir),
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
    const filter = who ? `-u ${shellQuote(who)}` : '--me';
    const r = await run(`TZ=UTC squeue -h ${filter} -o ${shellQuote(SQUEUE_EXTERNAL_FORMAT)}`, {
      timeoutMs: 30_000,
    });
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
    quickStatusIntervalMs: 1000,
    markerDir,
    resolvePath,
    renderScript: render,
    submit,
    status,
    quickStatus,
    findByTags,
    cancel,
    readLog,
    readFile,
    clusterInfo,
    externalJobs,
    commandRunner: () => ssh,
    health: () => ssh.health(),
    commandLog: () => ssh.commandLog(),
    homeDir,
    close: () => ssh.close(),
  };
}
