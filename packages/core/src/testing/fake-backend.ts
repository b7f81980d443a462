/**
 * {@link FakeBackend}: a scripted, stateful in-memory scheduler for tests and benchmarks. The
 * scripted life of one job (behaviours, what a poll does) is in `fake-job.ts`; this module is the
 * Backend API around it, with call recording and fault injection.
 */
import type {
  ArraySupport,
  Backend,
  BackendHealth,
  ClusterInfo,
  CommandRunner,
  ExecResult,
  JobState,
  JobStatus,
  LogChunk,
  LogReadOptions,
  LogRequest,
  SubmitOutcome,
  SubmitRequest,
  TrackedJob,
} from '../backend.js';
import { BackendError } from '../errors.js';
import { buildJobScript } from '../script.js';
import { advanceFakeJob, type FakeBehaviour, type FakeJob } from './fake-job.js';

export type { FakeBehaviour, FakeJob } from './fake-job.js';

/** The script of every job in instant mode (not rendered: see {@link FakeBackendOptions.instant}). */
const INSTANT_SCRIPT = '#!/bin/bash\n';

export interface FakeBackendOptions {
  name?: string;
  type?: Backend['type'];
  maxConcurrent?: number;
  /** Number of status polls a job stays pending/running before completing (default 2: queued, running, done). */
  pollsToComplete?: number;
  /**
   * Benchmark mode: jobs complete on their first status poll; a job whose end was reported is
   * forgotten by the first later poll that does not ask about it (as a scheduler purges finished
   * jobs: a 100,000-task run would otherwise keep 100,000 fake jobs in the process being measured);
   * requests and calls are not recorded (only counted), scripts are not rendered (`renderScript`
   * and the submit outcomes give a one-line placeholder).
   */
  instant?: boolean;
  /** Delay of each submit call (ms), to test work arriving while a submit is in flight. */
  submitDelayMs?: number;
  /** {@link Backend.submitRetryWindowMs} (default: not set, i.e. 0). */
  submitRetryWindowMs?: number;
  /**
   * Job arrays ({@link Backend.arrays}): the largest array, and optionally the backend's part of the
   * grouping key (default: every request may share an array). Elements get ids `<array id>_<index>`.
   */
  arrays?: { maxSize: number; key?: (request: SubmitRequest) => string | null };
}

/**
 * A scripted backend for tests and benchmarks. Records every call and the maximum number of jobs
 * alive (submitted, not finished) ever seen.
 */
const alive = (j: FakeJob) => j.state === 'pending' || j.state === 'running';

export class FakeBackend implements Backend {
  readonly name: string;
  readonly type: Backend['type'];
  maxConcurrent: number;
  readonly instant: boolean;
  pollsToComplete: number;
  submitDelayMs: number;
  readonly submitRetryWindowMs: number | undefined;
  /** When set, every call that would reach the scheduler throws this error (an outage). */
  unreachable: Error | null = null;
  /** Job arrays, when enabled by the `arrays` option. */
  readonly arrays: ArraySupport | undefined;
  /** Array submissions: the requests and throttle of each call. */
  readonly arrayCalls: { requests: SubmitRequest[]; throttle: number | null }[] = [];
  /** Array job id by array tag. */
  private readonly arrayTags = new Map<string, string>();

  /** Every job ever submitted (or injected), by id. */
  readonly jobs = new Map<string, FakeJob>();
  /** Submit calls: the requests of each batch (empty arrays in instant mode). */
  readonly submitCalls: SubmitRequest[][] = [];
  /** Status calls: the tracked jobs of each call (empty arrays in instant mode). */
  readonly statusCalls: TrackedJob[][] = [];
  readonly cancelCalls: TrackedJob[][] = [];
  readonly findByTagsCalls: string[][] = [];
  readonly readFileCalls: { path: string; cwd: string | null }[] = [];
  submitCount = 0;
  statusCount = 0;
  /** Jobs submitted in total. */
  submittedJobs = 0;
  /** Jobs alive now / the most ever alive at once. */
  alive = 0;
  maxAlive = 0;
  /** Largest submit batch seen. */
  maxBatch = 0;
  /** Files readable with readFile (generates_source), by path. */
  readonly files = new Map<string, string>();
  readonly logs = new Map<string, string>();

  private readonly behaviours = new Map<string, FakeBehaviour>();
  private readonly attempts = new Map<string, number>();
  private nextId = 1000;
  private submitErrors: Error[] = [];
  private statusErrors: Error[] = [];
  private cancelErrors: Error[] = [];
  private findErrors: Error[] = [];
  /** When set, the next submit creates the jobs and then throws (the answer is lost). */
  private loseNextAnswer: Error | null = null;
  private readonly aliveIds = new Set<string>();
  /** Instant mode: ended jobs whose end a poll has reported (see `instant`). */
  private readonly endReported = new Set<string>();

  constructor(options: FakeBackendOptions = {}) {
    this.name = options.name ?? 'fake';
    this.type = options.type ?? 'local';
    this.maxConcurrent = options.maxConcurrent ?? 10;
    this.instant = options.instant ?? false;
    this.pollsToComplete = options.pollsToComplete ?? 2;
    this.submitDelayMs = options.submitDelayMs ?? 0;
    this.submitRetryWindowMs = options.submitRetryWindowMs;
    const arrayOptions = options.arrays;
    this.arrays = arrayOptions
      ? {
          maxSize: async () => {
            this.reachable();
            return arrayOptions.maxSize;
          },
          key: (request) => (arrayOptions.key ? arrayOptions.key(request) : 'any'),
          submitArray: (requests, opts) => this.submitArray(requests, opts),
          elementJobId: (arrayJobId, index) => `${arrayJobId}_${index}`,
        }
      : undefined;
  }

  /** Scheduler round trips so far (submit, status, findByTags and cancel calls). */
  get roundTrips(): number {
    return this.submitCount + this.statusCount + this.findByTagsCalls.length + this.cancelCalls.length;
  }

  private reachable(): void {
    if (this.unreachable) throw this.unreachable;
  }

  // ----- scripting -----

  /** Script the behaviour of a task id (all runs). */
  script(taskId: string, behaviour: FakeBehaviour): this {
    this.behaviours.set(taskId, behaviour);
    return this;
  }
  /** The next submit call throws this error (e.g. a transient BackendError). */
  failNextSubmit(error: Error = new BackendError('connection reset', { transient: true })): this {
    this.submitErrors.push(error);
    return this;
  }
  /** The next submit call creates the jobs, then throws (the engine never sees the job ids). */
  loseNextSubmitAnswer(
    error: Error = new BackendError('connection lost after submit', { transient: true }),
  ): this {
    this.loseNextAnswer = error;
    return this;
  }
  failNextStatus(error: Error = new BackendError('squeue timed out', { transient: true })): this {
    this.statusErrors.push(error);
    return this;
  }
  failNextCancel(error: Error = new BackendError('scancel failed', { transient: true })): this {
    this.cancelErrors.push(error);
    return this;
  }
  failNextFindByTags(error: Error = new BackendError('ssh down', { transient: true })): this {
    this.findErrors.push(error);
    return this;
  }

  /** Inject a job as if it had been submitted before a crash. */
  addJob(job: { tag: string; runId: string; taskId: string; state?: JobState }): FakeJob {
    const j: FakeJob = {
      jobId: String(this.nextId++),
      runId: job.runId,
      taskId: job.taskId,
      tag: job.tag,
      state: job.state ?? 'pending',
      polls: 0,
      exitCode: null,
      reason: null,
      request: null,
      final: true,
    };
    this.jobs.set(j.jobId, j);
    this.markAlive(j);
    return j;
  }

  /** Finish a job (by task id — the latest job of that task — or job id) with an exit code. */
  complete(taskOrJobId: string, exitCode = 0): void {
    const j = this.findJob(taskOrJobId);
    if (!j) throw new Error(`no job for ${taskOrJobId}`);
    j.state = exitCode === 0 ? 'completed' : 'failed';
    j.exitCode = exitCode;
    this.behaviours.delete(j.taskId);
    this.markDead(j);
  }

  /** Let a `pending`/`hold` job go on normally (counts polls from now). */
  release(taskOrJobId: string): void {
    const j = this.findJob(taskOrJobId);
    if (!j) throw new Error(`no job for ${taskOrJobId}`);
    this.behaviours.delete(j.taskId);
    j.polls = 0;
  }

  /** Make the hidden job of an ambiguous submission (`job: 'later'`) visible. */
  reveal(taskOrJobId: string): void {
    const j = this.findJob(taskOrJobId);
    if (!j?.hidden) throw new Error(`no hidden job for ${taskOrJobId}`);
    j.hidden = false;
  }

  /** The scheduler forgets a job (it reports `unknown` from now on; its tag is still findable). */
  forget(taskOrJobId: string): void {
    const j = this.findJob(taskOrJobId);
    if (!j) throw new Error(`no job for ${taskOrJobId}`);
    j.state = 'unknown';
    this.markDead(j);
  }

  /** Latest job of a task id (or the job with this id). */
  findJob(taskOrJobId: string): FakeJob | undefined {
    const direct = this.jobs.get(taskOrJobId);
    if (direct) return direct;
    let found: FakeJob | undefined;
    for (const j of this.jobs.values()) if (j.taskId === taskOrJobId) found = j;
    return found;
  }

  /** Jobs of a task id (every submission). */
  jobsOf(taskId: string): FakeJob[] {
    return [...this.jobs.values()].filter((j) => j.taskId === taskId);
  }

  private markAlive(j: FakeJob): void {
    if (this.aliveIds.has(j.jobId)) return;
    this.aliveIds.add(j.jobId);
    this.alive++;
    if (this.alive > this.maxAlive) this.maxAlive = this.alive;
  }
  private markDead(j: FakeJob): void {
    if (this.aliveIds.delete(j.jobId)) this.alive--;
  }

  // ----- Backend -----

  renderScript(request: SubmitRequest): string {
    if (this.instant) return INSTANT_SCRIPT;
    return buildJobScript({
      taskId: request.taskId,
      taskName: request.task.name,
      command: request.task.command,
      workingDir: request.workingDir,
      env: request.env,
      extraInit: request.extraInit,
      directives: [`# fake job ${request.tag}`],
    });
  }

  async submit(requests: SubmitRequest[]): Promise<SubmitOutcome[]> {
    if (!this.instant) this.submitCalls.push(requests.slice());
    return this.createJobs(requests, () => String(this.nextId++));
  }

  /** {@link ArraySupport.submitArray}: one call, element ids `<array id>_<index>`. */
  private async submitArray(
    requests: SubmitRequest[],
    options: { throttle: number | null },
  ): Promise<SubmitOutcome[]> {
    if (!this.instant) this.arrayCalls.push({ requests: requests.slice(), throttle: options.throttle });
    const tag = requests[0]?.array?.tag;
    requests.forEach((r, i) => {
      if (r.array?.tag !== tag || r.array?.index !== i || r.array?.size !== requests.length)
        throw new Error(`fake: request ${i} is not element ${i} of array ${tag}`);
    });
    const base = String(this.nextId++);
    if (tag) this.arrayTags.set(tag, base);
    return this.createJobs(requests, (i) => `${base}_${i}`);
  }

  private async createJobs(
    requests: SubmitRequest[],
    idFor: (i: number) => string,
  ): Promise<SubmitOutcome[]> {
    this.submitCount++;
    if (requests.length > this.maxBatch) this.maxBatch = requests.length;
    if (this.submitDelayMs) await new Promise((r) => setTimeout(r, this.submitDelayMs));
    this.reachable();
    const err = this.submitErrors.shift();
    if (err) throw err;
    const outcomes: SubmitOutcome[] = [];
    for (const [i, req] of requests.entries()) {
      const b = this.behaviours.get(req.taskId);
      const attempt = (this.attempts.get(req.taskId) ?? 0) + 1;
      if (!this.instant) this.attempts.set(req.taskId, attempt);
      if (b?.kind === 'reject') {
        outcomes.push({ taskId: req.taskId, ok: false, error: b.error, transient: false });
        continue;
      }
      const ambiguous = b?.kind === 'ambiguous' && attempt === 1 ? b : null;
      if (ambiguous?.job === 'never') {
        outcomes.push(this.ambiguousOutcome(req, ambiguous.error));
        continue;
      }
      if (b?.kind === 'transient' && attempt <= b.times) {
        outcomes.push({
          taskId: req.taskId,
          ok: false,
          error: b.error ?? 'queue temporarily full',
          transient: true,
        });
        continue;
      }
      const j: FakeJob = {
        jobId: idFor(i),
        runId: req.runId,
        taskId: req.taskId,
        tag: req.tag,
        state: b?.kind === 'vanish' ? 'unknown' : 'pending',
        polls: 0,
        exitCode: null,
        reason: b?.kind === 'pending' ? b.reason : null,
        request: this.instant ? null : req,
        final: true,
      };
      if (ambiguous?.job === 'later') j.hidden = true;
      this.jobs.set(j.jobId, j);
      this.submittedJobs++;
      this.markAlive(j);
      if (ambiguous) {
        outcomes.push(this.ambiguousOutcome(req, ambiguous.error));
        continue;
      }
      outcomes.push(
        this.instant
          ? { taskId: req.taskId, ok: true, jobId: j.jobId, script: INSTANT_SCRIPT }
          : { taskId: req.taskId, ok: true, jobId: j.jobId, script: this.renderScript(req) },
      );
    }
    if (this.loseNextAnswer) {
      const e = this.loseNextAnswer;
      this.loseNextAnswer = null;
      throw e;
    }
    return outcomes;
  }

  private ambiguousOutcome(
    req: SubmitRequest,
    error = 'Socket timed out on send/recv operation',
  ): SubmitOutcome {
    return { taskId: req.taskId, ok: false, error, transient: true, maybeSubmitted: true };
  }

  async status(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    this.statusCount++;
    if (!this.instant) this.statusCalls.push(jobs.slice());
    this.reachable();
    const err = this.statusErrors.shift();
    if (err) throw err;
    if (this.endReported.size) this.purgeEnded(jobs);
    const out = new Map<string, JobStatus>();
    for (const t of jobs) {
      const j = this.jobs.get(t.jobId);
      if (!j || j.hidden || j.state === 'unknown') {
        out.set(t.jobId, { jobId: t.jobId, state: 'unknown' });
        continue;
      }
      const { status, ended } = advanceFakeJob(j, this.behaviours.get(j.taskId), this);
      if (ended) this.markDead(j);
      if (this.instant && !alive(j)) this.endReported.add(j.jobId);
      out.set(t.jobId, status);
    }
    return out;
  }

  /** Instant mode: forget the ended jobs reported before that this poll no longer asks about. */
  private purgeEnded(asked: readonly TrackedJob[]): void {
    const still = new Set<string>();
    for (const t of asked) if (this.endReported.has(t.jobId)) still.add(t.jobId);
    for (const id of this.endReported) {
      if (still.has(id)) continue;
      this.jobs.delete(id);
      this.endReported.delete(id);
    }
  }

  async findByTags(tags: string[]): Promise<Map<string, string>> {
    this.findByTagsCalls.push(tags.slice());
    this.reachable();
    const err = this.findErrors.shift();
    if (err) throw err;
    const wanted = new Set(tags);
    const out = new Map<string, string>();
    // Like a scheduler, the fake knows an array element by its array's tag only (the job name).
    for (const j of this.jobs.values())
      if (wanted.has(j.tag) && !j.hidden && !j.jobId.includes('_')) out.set(j.tag, j.jobId);
    for (const [tag, base] of this.arrayTags) {
      if (!wanted.has(tag)) continue;
      const visible = [...this.jobs.values()].some((j) => j.jobId.startsWith(`${base}_`) && !j.hidden);
      if (visible) out.set(tag, base);
    }
    return out;
  }

  async cancel(jobs: TrackedJob[]): Promise<void> {
    this.cancelCalls.push(jobs.slice());
    this.reachable();
    const err = this.cancelErrors.shift();
    if (err) throw err;
    for (const t of jobs) {
      const j = this.jobs.get(t.jobId);
      if (j && (j.state === 'pending' || j.state === 'running')) {
        j.state = 'cancelled';
        this.markDead(j);
      }
    }
  }

  async readLog(request: LogRequest, options: LogReadOptions): Promise<LogChunk> {
    const content = (request.path && this.logs.get(request.path)) ?? null;
    if (content === null) return { content: '', nextOffset: options.offset ?? 0, missing: true };
    const buf = Buffer.from(content);
    const start = options.offset ?? (options.tailBytes ? Math.max(0, buf.length - options.tailBytes) : 0);
    const end = options.maxBytes ? Math.min(buf.length, start + options.maxBytes) : buf.length;
    return { content: buf.subarray(start, end).toString(), nextOffset: end };
  }

  async readFile(path: string, cwd: string | null): Promise<string> {
    this.readFileCalls.push({ path, cwd });
    const full = path.startsWith('/') || !cwd ? path : `${cwd.replace(/\/+$/, '')}/${path}`;
    const content = this.files.get(full) ?? this.files.get(path);
    if (content === undefined) {
      throw new BackendError(`cat: ${full}: No such file or directory`, { transient: false });
    }
    return content;
  }

  async clusterInfo(): Promise<ClusterInfo> {
    return {
      cpusIdle: Math.max(0, this.maxConcurrent - this.alive),
      cpusTotal: this.maxConcurrent,
      partitions: [
        {
          name: 'normal',
          isDefault: true,
          cpusIdle: this.maxConcurrent - this.alive,
          cpusTotal: this.maxConcurrent,
        },
      ],
    };
  }

  commandRunner(): CommandRunner {
    return {
      remote: false,
      async exec(): Promise<ExecResult> {
        return { stdout: '', stderr: '', exitCode: 0 };
      },
    };
  }

  health(): BackendHealth {
    return { connected: true, lastError: null, endpoint: `fake://${this.name}` };
  }

  async close(): Promise<void> {}
}
