/**
 * The local backend: every task is `bash <spool>/<jobId>.sh` started detached in its own process
 * group, so jobs survive a restart of the ScriptHut server. The spool directory is the whole state:
 *
 * - `<jobId>.sh`   the job script (from `buildJobScript`), writing its exit code to `<jobId>.rc`;
 * - `<jobId>.json` {@link SpoolRecord}: tag, run/task ids, pid, pgid, log paths, cancel time;
 * - `<jobId>.rc`   the exit code, written atomically when the job ends (143 by `cancel`).
 *
 * A new backend instance on the same spool directory sees the jobs of the previous one. The spool
 * files are read and written in `spool.ts`; what they say about a job's state is in `job-status.ts`.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statfsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, homedir, hostname } from 'node:os';
import { dirname } from 'node:path';
import {
  type Backend,
  BackendError,
  type BackendHealth,
  buildJobScript,
  type ClusterInfo,
  type CommandRunner,
  type JobStatus,
  type LogChunk,
  type LogReadOptions,
  type LogRequest,
  type OutputListing,
  type OutputListingRequest,
  redactScript,
  resolveOutputPaths,
  type SubmitOutcome,
  type SubmitRequest,
  type TrackedJob,
  type UsageReport,
} from '@scripthut/core';
import { LocalCommandRunner } from './command-runner.js';
import { type InheritOptions, inheritedEnvironment } from './environment.js';
import { CANCEL_EXIT_CODE, finishedStatus, spoolJobStatus } from './job-status.js';
import { readLogFile } from './logs.js';
import { listLocalOutputs, readLocalOutputFile } from './outputs.js';
import { resolveLocal } from './paths.js';
import { isGroupAlive, isProcessAlive, processStartTime } from './proc.js';
import {
  createExclusive,
  newJobId,
  Spool,
  type SpoolFileKind,
  type SpoolRecord,
  writeAtomic,
} from './spool.js';
import { findGnuTime, localUsage, TIME_FORMAT } from './usage.js';

export { CANCEL_EXIT_CODE } from './job-status.js';
export { newJobId, type SpoolRecord } from './spool.js';

/** Options of {@link createLocalBackend}. */
export interface LocalBackendOptions {
  /** Backend name from the config. */
  name: string;
  /** Max concurrent jobs across all runs. */
  maxConcurrent: number;
  /** Directory holding job scripts, records and exit markers (`~` expanded; created if needed). */
  spoolDir: string;
  /** Run job scripts with `bash -l` (login shell: profile files are read). Default false. */
  loginShell?: boolean;
  /**
   * Names configured as secret anywhere in the config: like the name rule's `*_TOKEN`… and AWS
   * credentials, they are withheld from the ScriptHut process's environment that jobs inherit.
   */
  secretEnvNames?: readonly string[];
  /** Server variables (names or `*` patterns) jobs inherit although they look secret (`inherit_env`). */
  inheritEnv?: readonly string[];
  /** Clock (tests). */
  now?: () => Date;
  /** A job whose process is gone without an exit marker is failed after this long (ms). Default 2000. */
  vanishGraceMs?: number;
  /** Delay between SIGTERM and SIGKILL on cancel (ms). Default 5000. */
  killGraceMs?: number;
}

/** Max size of a file returned by `readFile`. */
export const MAX_READ_FILE_BYTES = 10 * 1024 * 1024;
/** Stands for the job id in {@link LocalBackend.renderScript} (the id is drawn at submission). */
export const RENDER_JOB_ID = 'JOBID';

/**
 * The local backend. Create it with {@link createLocalBackend}.
 */
export class LocalBackend implements Backend {
  readonly name: string;
  readonly type = 'local' as const;
  readonly maxConcurrent: number;
  readonly pollIntervalMs = 2_000;
  readonly quickStatusIntervalMs = 1_000;
  /** Absolute spool directory. */
  readonly spoolDir: string;
  private readonly spool: Spool;
  private readonly loginShell: boolean;
  private readonly now: () => Date;
  private readonly vanishGraceMs: number;
  private readonly killGraceMs: number;
  private readonly runner: LocalCommandRunner;
  private readonly inherit: InheritOptions;
  private readonly killTimers = new Map<NodeJS.Timeout, number>();

  constructor(options: LocalBackendOptions) {
    this.name = options.name;
    this.maxConcurrent = options.maxConcurrent;
    this.spoolDir = resolveLocal(options.spoolDir);
    this.spool = new Spool(this.spoolDir);
    this.loginShell = options.loginShell ?? false;
    this.now = options.now ?? (() => new Date());
    this.vanishGraceMs = options.vanishGraceMs ?? 2_000;
    this.killGraceMs = options.killGraceMs ?? 5_000;
    this.inherit = {
      secretNames: options.secretEnvNames ?? [],
      inheritEnv: options.inheritEnv ?? [],
    };
    this.runner = new LocalCommandRunner({ loginShell: this.loginShell, inherit: this.inherit });
  }

  /** Path of a spool file of a job. */
  spoolPath(jobId: string, ext: SpoolFileKind): string {
    return this.spool.path(jobId, ext);
  }

  renderScript(request: SubmitRequest): string {
    return this.render(request, RENDER_JOB_ID);
  }

  private render(request: SubmitRequest, jobId: string): string {
    const marker = this.spoolPath(jobId, 'rc');
    return buildJobScript({
      taskId: request.taskId,
      taskName: request.task.name,
      command: request.task.command,
      workingDir: request.workingDir,
      env: request.env,
      secretEnvNames: request.secretEnvNames,
      extraInit: request.extraInit,
      exitMarkerPath: marker,
      outputs: resolveOutputPaths(request.outputs, (p) => resolveLocal(p)),
      loginShell: this.loginShell,
    });
  }

  /** Log paths of a request: the task's output_file/error_file or the defaults, `~` and relative resolved. */
  private logPaths(request: SubmitRequest): { stdout: string; stderr: string } {
    const cwd = resolveLocal(request.workingDir);
    const stdout = resolveLocal(request.task.outputFile ?? request.stdoutPath, cwd);
    const stderr = resolveLocal(request.task.errorFile ?? request.stderrPath, cwd);
    return { stdout, stderr };
  }

  async submit(requests: SubmitRequest[]): Promise<SubmitOutcome[]> {
    try {
      mkdirSync(this.spoolDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new BackendError(
        `cannot create the spool directory ${this.spoolDir}: ${(error as Error).message}`,
        {
          transient: false,
          cause: error,
        },
      );
    }
    const outcomes: SubmitOutcome[] = [];
    for (const request of requests) outcomes.push(this.submitOne(request));
    return outcomes;
  }

  private submitOne(request: SubmitRequest): SubmitOutcome {
    let script: string | undefined;
    let displayScript: string | undefined;
    try {
      const jobId = newJobId();
      script = this.render(request, jobId);
      displayScript = redactScript(script, request.env, request.secretEnvNames ?? []);
      const { stdout, stderr } = this.logPaths(request);
      mkdirSync(resolveLocal(request.logDir), { recursive: true });
      mkdirSync(dirname(stdout), { recursive: true });
      mkdirSync(dirname(stderr), { recursive: true });
      const scriptPath = this.spoolPath(jobId, 'sh');
      writeFileSync(scriptPath, script, { mode: 0o700 });
      const record: SpoolRecord = {
        jobId,
        tag: request.tag,
        runId: request.runId,
        taskId: request.taskId,
        pid: null,
        pgid: null,
        submittedAt: this.now().toISOString(),
        stdout,
        stderr,
        cpus: request.task.cpus,
        memoryMiB: request.task.memoryMiB,
        usagePath: findGnuTime() ? this.spoolPath(jobId, 'usage') : null,
      };
      // Record intent first: after a crash between here and the spawn, findByTags still finds it.
      this.spool.writeRecord(record);
      const outFd = openSync(stdout, 'w');
      const errFd = stderr === stdout ? outFd : openSync(stderr, 'w');
      let pid: number | undefined;
      try {
        const bashArgs = this.loginShell ? ['-l', scriptPath] : [scriptPath];
        const gnuTime = record.usagePath ? findGnuTime() : null;
        // Under GNU time, the job's usage (wall, CPU of the process tree, peak RSS) is written on exit.
        const [file, args] = gnuTime
          ? [gnuTime, ['-f', TIME_FORMAT, '-o', record.usagePath!, 'bash', ...bashArgs]]
          : ['bash', bashArgs];
        const child = spawn(file, args, {
          detached: true,
          stdio: ['ignore', outFd, errFd],
          cwd: homedir(),
          // the server's own secrets stay out; the script exports the task's configured variables
          env: inheritedEnvironment(process.env, this.inherit),
        });
        child.on('error', () => {
          // reported through the missing pid below / the vanished-process rule
        });
        pid = child.pid;
        child.unref();
      } finally {
        closeSync(outFd);
        if (errFd !== outFd) closeSync(errFd);
      }
      if (pid === undefined) {
        createExclusive(this.spoolPath(jobId, 'rc'), '127\n');
        return {
          taskId: request.taskId,
          ok: false,
          error: 'could not start bash for the job',
          transient: false,
          script: displayScript,
        };
      }
      record.pid = pid;
      record.pgid = pid; // detached: the child leads a new session and process group
      record.startTime = processStartTime(pid);
      this.spool.writeRecord(record);
      return {
        taskId: request.taskId,
        ok: true,
        jobId,
        script: displayScript,
        meta: { pid, host: hostname() },
      };
    } catch (error) {
      return {
        taskId: request.taskId,
        ok: false,
        error: `local submission failed: ${(error as Error).message}`,
        transient: false,
        ...(displayScript ? { script: displayScript } : {}),
      };
    }
  }

  /** The spool record of a job, or null. */
  readRecord(jobId: string): SpoolRecord | null {
    return this.spool.readRecord(jobId);
  }

  async status(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    const out = new Map<string, JobStatus>();
    for (const job of jobs)
      out.set(job.jobId, spoolJobStatus(this.spool, job.jobId, this.now, this.vanishGraceMs));
    return out;
  }

  /** Only jobs whose exit marker exists (no process inspection). */
  async quickStatus(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    const out = new Map<string, JobStatus>();
    for (const job of jobs) {
      const exit = this.spool.readExit(job.jobId);
      if (exit) out.set(job.jobId, finishedStatus(job.jobId, exit, this.readRecord(job.jobId)));
    }
    return out;
  }

  /** Usage of ended jobs from the files GNU time wrote (no process inspection beyond liveness). */
  async fetchUsage(jobs: TrackedJob[]): Promise<Map<string, UsageReport>> {
    const out = new Map<string, UsageReport>();
    for (const job of jobs) {
      const record = this.readRecord(job.jobId);
      out.set(
        job.jobId,
        localUsage({
          jobId: job.jobId,
          record,
          endedAt: this.spool.readExit(job.jobId)?.at ?? null,
          alive: record?.pid != null && isProcessAlive(record.pid, record.startTime),
          node: hostname(),
        }),
      );
    }
    return out;
  }

  async findByTags(tags: string[]): Promise<Map<string, string>> {
    const wanted = new Set(tags);
    const found = new Map<string, string>();
    if (wanted.size === 0) return found;
    for (const jobId of this.spool.jobIds()) {
      const record = this.readRecord(jobId);
      // A record without a pid and without an exit marker was written by a control plane that died
      // before starting the process: the job never existed. Retire it so the task is submitted again.
      if (record && wanted.has(record.tag) && record.pid === null && !this.spool.readExit(jobId)) {
        try {
          renameSync(this.spoolPath(jobId, 'json'), this.spoolPath(jobId, 'abandoned'));
        } catch {}
        continue;
      }
      if (record && wanted.has(record.tag)) {
        const previous = found.get(record.tag);
        // The same tag twice (should not happen): prefer the later submission.
        if (!previous || (this.readRecord(previous)?.submittedAt ?? '') < record.submittedAt)
          found.set(record.tag, jobId);
      }
    }
    return found;
  }

  async cancel(jobs: TrackedJob[]): Promise<void> {
    for (const job of jobs) {
      const record = this.readRecord(job.jobId);
      if (!record || this.spool.readExit(job.jobId)) continue;
      record.cancelledAt = this.now().toISOString();
      this.spool.writeRecord(record);
      // The marker goes first: the script's EXIT trap then leaves it alone when SIGTERM ends bash.
      writeAtomic(this.spoolPath(job.jobId, 'rc'), `${CANCEL_EXIT_CODE}\n`);
      const pgid = record.pgid;
      const sameProcess = record.pid !== null && isProcessAlive(record.pid, record.startTime);
      if (pgid !== null && sameProcess) {
        signalGroup(pgid, 'SIGTERM');
        const timer = setTimeout(() => {
          this.killTimers.delete(timer);
          if (isGroupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
        }, this.killGraceMs);
        timer.unref();
        this.killTimers.set(timer, pgid);
      }
    }
  }

  private async recordFor(request: LogRequest): Promise<SpoolRecord | null> {
    return request.jobId ? this.readRecord(request.jobId) : null;
  }

  async readLog(request: LogRequest, options: LogReadOptions): Promise<LogChunk> {
    const record = await this.recordFor(request);
    const own = request.stream === 'stdout' ? record?.stdout : record?.stderr;
    const raw = request.path ?? own ?? null;
    if (!raw) return { content: '', nextOffset: options.offset ?? 0, missing: true };
    const path = resolveLocal(raw);
    const chunk = readLogFile(path, options);
    if (request.stream === 'stderr' && record && record.stderr === record.stdout) {
      chunk.note = 'stderr is merged into the output stream';
    }
    return chunk;
  }

  async readFile(path: string, cwd: string | null): Promise<string> {
    const full = resolveLocal(path, cwd ?? '~');
    let size: number;
    try {
      const st = statSync(full);
      if (!st.isFile()) throw new BackendError(`${full} is not a regular file`, { transient: false });
      size = st.size;
    } catch (error) {
      if (error instanceof BackendError) throw error;
      throw new BackendError(`cannot read ${full}: ${(error as Error).message}`, {
        transient: false,
        cause: error,
      });
    }
    if (size > MAX_READ_FILE_BYTES) {
      throw new BackendError(`${full} is too large (${size} bytes, at most ${MAX_READ_FILE_BYTES})`, {
        transient: false,
      });
    }
    return readFileSync(full, 'utf8');
  }

  async listOutputs(requests: OutputListingRequest[]): Promise<Map<string, OutputListing>> {
    return listLocalOutputs(requests);
  }

  async readOutputFile(outputDir: string, relPath: string, maxBytes: number): Promise<Buffer> {
    return readLocalOutputFile(outputDir, relPath, maxBytes);
  }

  async clusterInfo(): Promise<ClusterInfo> {
    const total = cpus().length;
    let used = 0;
    let live = 0;
    for (const jobId of this.spool.jobIds()) {
      if (existsSync(this.spoolPath(jobId, 'rc'))) continue;
      const record = this.readRecord(jobId);
      if (record?.pid != null && isProcessAlive(record.pid, record.startTime)) {
        used += record.cpus > 0 ? record.cpus : 1;
        live += 1;
      }
    }
    const idle = Math.max(0, total - used);
    let disk: ClusterInfo['disk'] = null;
    try {
      mkdirSync(this.spoolDir, { recursive: true, mode: 0o700 });
      const fs = statfsSync(this.spoolDir);
      disk = { path: this.spoolDir, totalBytes: fs.blocks * fs.bsize, availableBytes: fs.bavail * fs.bsize };
    } catch {
      disk = null;
    }
    return {
      cpusTotal: total,
      cpusIdle: idle,
      partitions: [
        {
          name: 'local',
          isDefault: true,
          state: 'up',
          cpusTotal: total,
          cpusIdle: idle,
          cpusAllocated: used,
          nodes: 1,
        },
      ],
      disk,
      facts: { host: hostname(), platform: process.platform, runningJobs: String(live) },
    };
  }

  commandRunner(): CommandRunner {
    return this.runner;
  }

  health(): BackendHealth {
    return { connected: true, lastError: null, endpoint: `local (${hostname()})` };
  }

  async homeDir(): Promise<string> {
    return homedir();
  }

  /**
   * Release this instance. Running jobs are left alone (they are detached and survive); jobs that were
   * cancelled and are still inside their SIGTERM grace period are SIGKILLed now rather than forgotten.
   */
  async close(): Promise<void> {
    for (const [timer, pgid] of this.killTimers) {
      clearTimeout(timer);
      if (isGroupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
    }
    this.killTimers.clear();
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already gone
  }
}

/**
 * Create a local backend: tasks run as detached process groups on this host.
 *
 * @example
 * ```ts
 * const backend = createLocalBackend({ name: 'local', maxConcurrent: 4, spoolDir: '~/.scripthut/local-jobs/local' });
 * const [outcome] = await backend.submit([request]);
 * const statuses = await backend.status([tracked]);
 * ```
 */
export function createLocalBackend(options: LocalBackendOptions): LocalBackend {
  return new LocalBackend(options);
}
