/**
 * The PBS Pro / Torque backend: detects the dialect once, submits batches of tasks with one SSH
 * round trip, polls all tracked jobs with one `qstat -f` (PBS Pro `-x -F json`, Torque XML), learns
 * completions from exit-marker files, and reads logs and cluster information over the same SSH
 * connection. It never issues a per-job accounting command.
 */
import {
  type Backend,
  BackendError,
  type ClusterInfo,
  type ExternalJob,
  type JobStatus,
  type LogChunk,
  type LogReadOptions,
  type LogRequest,
  type PartitionInfo,
  type SubmitOutcome,
  type SubmitRequest,
  shellQuote,
  type TrackedJob,
  tagOfJobName,
} from '@scripthut/core';
import {
  type BackendExecOptions,
  type BackendSsh,
  backendExec,
  chunkSubmitRequests,
  parseMarkers,
  prepareSubmission,
  readExitMarkers,
  readRemoteFile,
  readRemoteLog,
  remoteHome,
  splitSections,
  truncateOutput as truncate,
} from '@scripthut/ssh';
import {
  detectFlavour,
  displayJobNumber,
  isValidPbsJobId,
  type PbsFlavour,
  parsePbsnodes,
  parseQstatA,
  parseQstatJobs,
  parseQstatQueues,
  parseQstatServer,
  parseQstatText,
  parseQsubOutput,
  pbsJobStatus,
  pendingCounts,
} from './parse.js';
import {
  buildClusterInfoProgram,
  buildDetectProgram,
  buildStatusProgram,
  buildSubmitProgram,
  GONE_JOB,
  onlyGoneJobErrors,
  parseDfPk,
  parseSubmitAnswer,
} from './programs.js';
import { renderPbsScript, TAG_RE } from './script.js';

/** Options accepted by the SSH connection's `exec` (see `BackendExecOptions` in `@scripthut/ssh`). */
export type PbsExecOptions = BackendExecOptions;

/** What the backend needs from its SSH connection (`SshConnection` from `@scripthut/ssh` fits). */
export type PbsSsh = BackendSsh;

/** Options of {@link createPbsBackend}. */
export interface PbsBackendOptions {
  /** Backend name from the configuration. */
  name: string;
  /** Connection to the login node. The backend owns it: `close()` closes it. */
  ssh: PbsSsh;
  /** `-A` for every job (null/absent: none). */
  account?: string | null;
  /** Job scripts start with `#!/bin/bash -l`. */
  loginShell?: boolean;
  /** Max concurrent jobs across all runs on this backend. */
  maxConcurrent: number;
  /** Queue for every job; overrides the task's `partition`. */
  queue?: string | null;
  /** Directory whose disk usage {@link Backend.clusterInfo} reports. Default `~/scripthut-repos`. */
  cloneDir?: string;
  /** Login user (default filter of {@link Backend.externalJobs}). */
  user?: string;
  /** Dialect; `auto` (default) detects it once with `qstat --version` / `qstat -Bf`. */
  flavour?: PbsFlavour | 'auto';
  /** Where job scripts leave `<tag>.rc` exit-code markers. Default `~/.cache/scripthut/markers`. */
  markerDir?: string;
  /** Max tasks per submission round trip. Default 100. */
  submitChunkSize?: number;
  /** Preferred poll interval (ms). */
  pollIntervalMs?: number;
}

/** The PBS backend, with a few PBS-specific extras. */
export interface PbsBackend extends Backend {
  readonly type: 'pbs';
  readonly markerDir: string;
  /** The dialect in use (detected once and cached when `flavour` is `auto`). */
  flavour(): Promise<PbsFlavour>;
  /** Resolve a `~`/relative path against the (cached) home directory. */
  resolvePath(path: string): string;
}

const DEFAULT_MARKER_DIR = '~/.cache/scripthut/markers';
const SUBMIT_STDIN_LIMIT = 4 * 1024 * 1024;
/** qsub messages that mean "try again later". */
const TRANSIENT_QSUB =
  /cannot connect to server|Connection refused|timed out|temporarily|Server is busy|pbs_connect|max_queued|would exceed .*queued|Maximum number of jobs already in queue|Error in pbs_submit|End of File/i;
const TAG_LIKE = /^sh[0-9a-f]{8}[0-9a-z]{2,5}$/;

/**
 * Create a PBS Pro / Torque backend over an SSH connection.
 *
 * @example
 * ```ts
 * const ssh = new SshConnection({ host: 'login.hpc.edu', port: 22, user: 'me', keyPath: '~/.ssh/id_ed25519' });
 * const pbs = createPbsBackend({ name: 'hpc', ssh, maxConcurrent: 100, queue: 'batch' });
 * const [outcome] = await pbs.submit([request]); // one SSH round trip for the whole batch
 * const statuses = await pbs.status(tracked);   // one qstat -f for every tracked job
 * ```
 */
export function createPbsBackend(options: PbsBackendOptions): PbsBackend {
  const { ssh } = options;
  const markerDir = options.markerDir ?? DEFAULT_MARKER_DIR;
  const cloneDir = options.cloneDir ?? '~/scripthut-repos';
  const chunkSize = Math.max(1, options.submitChunkSize ?? 100);
  let detected: PbsFlavour | null = options.flavour && options.flavour !== 'auto' ? options.flavour : null;
  let version: string | null = null;
  let detecting: Promise<PbsFlavour> | null = null;

  const markerPath = (tag: string) => `${markerDir.replace(/\/+$/, '')}/${tag}.rc`;

  const run = backendExec(ssh, options.name);

  const { resolvePath, homeDir } = remoteHome(run, options.name);

  const flavour = async (): Promise<PbsFlavour> => {
    if (detected) return detected;
    detecting ??= (async () => {
      const r = await run('bash -s', {
        stdin: buildDetectProgram(),
        timeoutMs: 30_000,
        logAs: 'qstat --version; qstat -Bf (flavour detection)',
      });
      const s = splitSections(r.stdout);
      const found = detectFlavour(s.get('version') ?? '', s.get('server') ?? '');
      if (!found) {
        throw new BackendError(
          `backend ${options.name}: cannot tell PBS Pro from Torque (qstat --version said ${JSON.stringify(truncate((s.get('version') ?? r.stderr).trim(), 200))})`,
          { transient: true, output: truncate(r.stdout) },
        );
      }
      version = found.version;
      detected = found.flavour;
      return found.flavour;
    })().finally(() => {
      detecting = null;
    });
    return detecting;
  };

  const render = (request: SubmitRequest, fl: PbsFlavour = detected ?? 'pro'): string =>
    renderPbsScript(request, {
      flavour: fl,
      queue: options.queue ?? null,
      account: options.account ?? null,
      loginShell: options.loginShell ?? false,
      exitMarkerPath: markerPath(request.tag),
      resolvePath,
    });

  async function findByTags(tags: string[]): Promise<Map<string, string>> {
    const valid = [...new Set(tags.filter((t) => TAG_RE.test(t)))];
    const found = new Map<string, string>();
    if (!valid.length) return found;
    const fl = await flavour();
    // One qstat -f over all jobs (finished ones too), reduced to id and name lines on the server.
    const command = `${fl === 'pro' ? 'qstat -x -f' : 'qstat -f'} 2>/dev/null | grep -E '^Job Id: |^[[:space:]]+Job_Name = '; true`;
    const r = await run(command, { timeoutMs: 60_000 });
    const wanted = new Set(valid);
    for (const rec of parseQstatText(r.stdout)) {
      const tag = rec.attrs.Job_Name ? tagOfJobName(rec.attrs.Job_Name) : null;
      if (!tag || !wanted.has(tag)) continue;
      const prev = found.get(tag);
      if (!prev || Number(displayJobNumber(rec.id)) > Number(displayJobNumber(prev))) found.set(tag, rec.id);
    }
    return found;
  }

  async function submitChunk(
    fl: PbsFlavour,
    requests: SubmitRequest[],
    offset: number,
    outcomes: SubmitOutcome[],
  ): Promise<void> {
    const { items, scripts, dirs } = prepareSubmission(
      requests,
      offset,
      outcomes,
      (req) => render(req, fl),
      resolvePath,
    );
    if (!items.length) return;
    const r = await run('bash -s', {
      stdin: buildSubmitProgram(items, dirs, markerDir),
      timeoutMs: 60_000 + 2_000 * items.length,
      logAs: `qsub × ${items.length} (batch submission program on stdin)`,
    });
    const answer = parseSubmitAnswer(r.stdout);
    const unanswered: number[] = [];
    for (const item of items) {
      const req = requests[item.index - offset]!;
      const script = scripts.get(item.index)!;
      const line = answer.get(item.index);
      if (!line) {
        unanswered.push(item.index);
        continue;
      }
      const jobId = line.rc === 0 ? parseQsubOutput(line.stdout) : null;
      if (line.rc !== 0 || !jobId) {
        const msg = (line.stderr.trim() || line.stdout.trim() || `qsub exited with code ${line.rc}`).replace(
          /\s+$/,
          '',
        );
        outcomes[item.index] = {
          taskId: req.taskId,
          ok: false,
          error: truncate(line.rc === 0 ? `qsub succeeded but printed no job id: ${msg}` : msg),
          transient: line.rc !== 0 && TRANSIENT_QSUB.test(msg),
          script,
        };
        continue;
      }
      const meta: Record<string, unknown> = {
        tag: req.tag,
        markerPath: markerPath(req.tag),
        jobNumber: displayJobNumber(jobId),
        flavour: fl,
      };
      if (line.stderr.trim()) meta.qsubWarning = truncate(line.stderr.trim(), 500);
      outcomes[item.index] = { taskId: req.taskId, ok: true, jobId, script, meta };
    }
    if (unanswered.length) {
      // The program stopped early: some of these may have been submitted. Look them up by tag so
      // a task never gets two jobs.
      let byTag = new Map<string, string>();
      try {
        byTag = await findByTags(unanswered.map((i) => requests[i - offset]!.tag));
      } catch {
        /* leave empty */
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
              meta: {
                tag: req.tag,
                markerPath: markerPath(req.tag),
                jobNumber: displayJobNumber(jobId),
                recovered: true,
              },
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
    const fl = await flavour();
    const outcomes: SubmitOutcome[] = new Array(requests.length);
    for (const [start, end] of chunkSubmitRequests(requests, chunkSize, SUBMIT_STDIN_LIMIT))
      await submitChunk(fl, requests.slice(start, end), start, outcomes);
    return outcomes;
  }

  async function status(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    const result = new Map<string, JobStatus>();
    const valid = jobs.filter((j) => isValidPbsJobId(j.jobId));
    for (const j of jobs)
      if (!isValidPbsJobId(j.jobId))
        result.set(j.jobId, { jobId: j.jobId, state: 'unknown', reason: 'invalid job id' });
    if (!valid.length) return result;
    const fl = await flavour();
    const ids = [...new Set(valid.map((j) => j.jobId))];
    const tagOf = new Map(valid.filter((j) => TAG_RE.test(j.tag)).map((j) => [j.jobId, j.tag]));
    const r = await run('bash -s', {
      stdin: buildStatusProgram(fl, ids, markerDir, [...tagOf.values()]),
      timeoutMs: 60_000,
      logAs: `${fl === 'pro' ? 'qstat -x -f -F json' : 'qstat -f -x'} <${ids.length} ids>; read ${tagOf.size} exit markers`,
    });
    const s = splitSections(r.stdout);
    const rc = Number((s.get('rc') ?? '').trim());
    const stderr = s.get('err') ?? '';
    if (!s.has('end') || !Number.isFinite(rc)) {
      throw new BackendError(`status program failed on backend ${options.name}`, {
        transient: true,
        output: truncate(r.stderr),
      });
    }
    if (rc !== 0 && !onlyGoneJobErrors(stderr)) {
      throw new BackendError(`qstat failed on backend ${options.name}: ${truncate(stderr.trim(), 500)}`, {
        transient: true,
        command: 'qstat -f …',
        output: truncate(stderr),
      });
    }
    let records: ReturnType<typeof parseQstatJobs>;
    try {
      records = parseQstatJobs(s.get('out') ?? '');
    } catch (e) {
      throw new BackendError(
        `cannot parse qstat output on backend ${options.name}: ${(e as Error).message}`,
        {
          transient: true,
          cause: e,
          output: truncate(s.get('out') ?? ''),
        },
      );
    }
    const byNumber = new Map(records.map((rec) => [displayJobNumber(rec.id), rec]));
    const markers = parseMarkers(s.get('markers') ?? '');
    for (const job of valid) {
      const rec = byNumber.get(displayJobNumber(job.jobId));
      const tag = tagOf.get(job.jobId);
      const marker = tag === undefined ? undefined : markers.get(tag);
      if (rec) {
        result.set(job.jobId, { ...pbsJobStatus(rec, marker), jobId: job.jobId });
      } else if (marker !== undefined) {
        // The server forgot the job (Torque keep_completed, history purged): the marker the job
        // script wrote at its end is the evidence.
        result.set(job.jobId, {
          jobId: job.jobId,
          state: marker === 0 ? 'completed' : 'failed',
          exitCode: marker,
          reason:
            marker === 0 ? null : `exit code ${marker} (from the exit marker; qstat no longer knows the job)`,
          final: true,
        });
      } else {
        result.set(job.jobId, {
          jobId: job.jobId,
          state: 'unknown',
          reason: 'qstat does not know the job',
          final: false,
        });
      }
    }
    return result;
  }

  async function quickStatus(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    return readExitMarkers(run, markerDir, jobs, (tag) => TAG_RE.test(tag));
  }

  async function cancel(jobs: TrackedJob[]): Promise<void> {
    const ids = [...new Set(jobs.map((j) => j.jobId).filter(isValidPbsJobId))];
    if (!ids.length) return;
    const command = `qdel ${ids.map(shellQuote).join(' ')}`;
    const r = await run(command, { timeoutMs: 30_000 });
    if (r.exitCode === 0) return;
    const meaningful = r.stderr
      .split('\n')
      .filter((l) => l.trim())
      .filter((l) => !GONE_JOB.test(l));
    if (meaningful.length || !r.stderr.trim()) {
      throw new BackendError(
        `qdel failed on backend ${options.name}: ${truncate(meaningful.join('\n') || `exit ${r.exitCode}`, 500)}`,
        {
          transient: true,
          command,
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
    const fl = await flavour();
    const r = await run('bash -s', {
      stdin: buildClusterInfoProgram(cloneDir),
      timeoutMs: 60_000,
      logAs: `pbsnodes -a; qstat -Qf; qstat -Bf; df -Pk ${cloneDir}`,
    });
    const s = splitSections(r.stdout);
    if (!s.has('end')) {
      throw new BackendError(`cluster information failed on backend ${options.name}`, {
        transient: true,
        output: truncate(r.stderr),
      });
    }
    const nodes = parsePbsnodes(s.get('nodes') ?? '');
    const queues = parseQstatQueues(s.get('queues') ?? '');
    const server = parseQstatServer(s.get('server') ?? '');
    const defaultQueue = options.queue ?? server?.attrs.default_queue ?? null;
    const partitions: PartitionInfo[] = queues
      .filter((q) => !q.type || /^e/i.test(q.type))
      .map((q) => ({
        name: q.name,
        isDefault: q.name === defaultQueue,
        state: q.enabled === false || q.started === false ? 'down' : 'up',
        cpusIdle: nodes.cpusIdle,
        cpusTotal: nodes.cpusTotal,
        cpusAllocated: nodes.cpusAllocated,
        nodes: nodes.nodes.length,
        timeLimit: q.maxWalltime,
        gpusTotal: nodes.gpusTotal,
        gpusIdle: nodes.gpusIdle,
      }));
    const facts: Record<string, string> = {
      flavour: fl === 'pro' ? 'PBS Pro' : 'Torque',
      cpusOther: String(nodes.cpusOther),
      cpusAllocated: String(nodes.cpusAllocated),
    };
    const v = version ?? server?.attrs.pbs_version ?? null;
    if (v) facts.version = v;
    if (server) facts.server = server.name;
    if (nodes.memPerNodeMb !== null) facts.memPerNodeMb = String(nodes.memPerNodeMb);
    return {
      cpusIdle: nodes.nodes.length ? nodes.cpusIdle : null,
      cpusTotal: nodes.nodes.length ? nodes.cpusTotal : null,
      partitions,
      pendingReasons: pendingCounts(queues),
      disk: parseDfPk(s.get('df') ?? '', cloneDir),
      facts,
    };
  }

  async function externalJobs(user: string | null): Promise<ExternalJob[]> {
    const who = user ?? options.user ?? null;
    const command = who ? `qstat -a -u ${shellQuote(who)}` : 'qstat -a';
    const r = await run(command, { timeoutMs: 30_000 });
    if (r.exitCode !== 0 && r.stderr.trim()) {
      throw new BackendError(`qstat failed on backend ${options.name}: ${truncate(r.stderr.trim(), 500)}`, {
        transient: true,
        output: truncate(r.stderr),
      });
    }
    return parseQstatA(r.stdout).filter((j) => !TAG_LIKE.test(j.name));
  }

  return {
    name: options.name,
    type: 'pbs',
    maxConcurrent: options.maxConcurrent,
    pollIntervalMs: options.pollIntervalMs,
    quickStatusIntervalMs: 1000,
    markerDir,
    flavour,
    resolvePath,
    renderScript: (request) => render(request),
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
