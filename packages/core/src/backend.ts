/**
 * The backend contract. A backend submits batches of tasks, reports the status of many jobs in one
 * call, cancels, reads logs from an offset, reads small files (generates_source) and reports cluster
 * information. The engine never calls a backend on behalf of a web request: only its poll loop and
 * explicit user actions (cancel, log follow) do.
 *
 * The rules every backend follows (the conformance suite `@scripthut/core/testing/contract` checks
 * them; docs/writing-a-backend.md explains how to pass it):
 *
 * 1. **One call, many jobs.** `submit`, `status`, `findByTags` and `cancel` each cost a bounded
 *    number of scheduler round trips whatever the number of jobs (chunking very large batches is fine).
 * 2. **Errors.** Throw {@link BackendError}: `transient: true` for outages (lost connection, scheduler
 *    down, throttling) — the engine keeps the tasks and retries with backoff; `transient: false` for
 *    problems that retrying cannot fix. An outage is never reported as a verdict about jobs: `status`
 *    throws rather than answering `unknown`/`failed` for jobs it could not ask about.
 * 3. **Submission outcomes** (see {@link Backend.submit}): a problem of one task is an outcome, not a
 *    throw, so the rest of the batch goes on; an answer that leaves open whether a job exists is
 *    `maybeSubmitted` (or a thrown transient error for the whole batch) — never a plain failure, which
 *    would make the engine submit a second job.
 * 4. **Tags.** Every job carries its request's tag in its name (`jobNameFor`) and
 *    {@link Backend.findByTags} finds it by that tag — also after the job ended, for as long as the
 *    scheduler keeps history (an interrupted submission may be looked up after a restart).
 * 5. **Verdicts.** A terminal state that may still change is reported with `final: false`: the
 *    engine waits until it is final, or until the grace (`lostJobGraceMs`, default 10 min) has
 *    passed. A job the scheduler does not know is `unknown` (lost only after the same grace). Start,
 *    end, node and exit code are reported when known: they win over what the engine observed.
 * 6. **Pricing** reads `meta.instanceType` of a task (from {@link SubmitOutcome} `meta`): set it when
 *    the job has a whole instance to itself (EC2); otherwise the price is the task's share of the
 *    instance type its partition maps to. The runtime priced is `finishedAt − startedAt`.
 */
import type { GitContext, TaskSpec } from './domain.js';
import type { OutputListing, OutputListingRequest, TaskOutputPaths } from './outputs.js';
import type { UsageReport } from './usage.js';

/** Everything a backend needs to render and submit one task. */
export interface SubmitRequest {
  runId: string;
  taskId: string;
  /**
   * Tag carried by the scheduler job's name (≤ 15 chars, `[a-z0-9]`), unique per task attempt.
   * After a crash, {@link Backend.findByTags} finds jobs submitted but not recorded.
   */
  tag: string;
  /** Display name of the workflow/run (SCRIPTHUT_WORKFLOW). */
  workflowName: string;
  task: TaskSpec;
  /** Working directory already resolved against the run's base dir (may still start with `~`). */
  workingDir: string;
  /** Final environment (SCRIPTHUT_* + named environment + env_vars, priority applied). */
  env: Record<string, string>;
  /** Names of env variables whose values are secret (redacted in stored/displayed scripts). */
  secretEnvNames?: string[];
  /** Raw bash run after the exports (named environment `extra_init`). */
  extraInit: string;
  /** Default log paths (used unless the task sets output_file/error_file). */
  stdoutPath: string;
  stderrPath: string;
  /** Directory on the backend for default logs (created before submission). */
  logDir: string;
  git: GitContext | null;
  /**
   * Output directory and summary files of the task (`SCRIPTHUT_OUTPUT_DIR`, `SCRIPTHUT_TASK_SUMMARY`,
   * `SCRIPTHUT_RUN_SUMMARY`): backends that can list outputs ({@link Backend.listOutputs}) export
   * them in the job script, which creates the directories before the command.
   */
  outputs?: TaskOutputPaths | null;
  /**
   * Set when the request is one element of a job array (see {@link ArraySupport}): the array's tag
   * (the job name carries it instead of `tag`), this element's index and the array's size.
   */
  array?: ArrayPlacement;
}

/** Where one request sits in a job array (stored with the task before submission). */
export interface ArrayPlacement {
  /** Tag of the whole array (the tag of its element 0): the array job's name carries it. */
  tag: string;
  /** Index of this element, `0 … size-1` (the scheduler's array index). */
  index: number;
  /** Number of elements. */
  size: number;
}

/**
 * Optional capability of schedulers with job arrays (Slurm `--array`, PBS Pro `-J`, Torque `-t`, Batch array
 * jobs): ready tasks that the scheduler cannot tell apart (same {@link ArraySupport.key}) are
 * submitted as ONE array job whose script dispatches on the array index to each task's own
 * command, working dir, environment and log files. Every element is still one task to the engine:
 * its own job id (`123_7`), state, exit code, logs, retries and cancel.
 *
 * Crash safety is the engine's: each element's {@link ArrayPlacement} is stored with the task before
 * {@link ArraySupport.submitArray}; after a crash or an ambiguous answer the array is looked up by
 * its tag ({@link Backend.findByTags} returns the array's job id for it) and each element adopted
 * with {@link ArraySupport.elementJobId}.
 */
export interface ArraySupport {
  /**
   * Largest array this backend accepts (e.g. Slurm's `MaxArraySize`, read once per connection).
   * Throws like any backend call when the scheduler cannot be asked.
   */
  maxSize(): Promise<number>;
  /**
   * What the scheduler sees of a request beyond the engine's own key (partition, cpus, memory,
   * time, gres, image): requests with equal keys may share an array. `null`: never in an array
   * (e.g. a request too large for an array script).
   */
  key(request: SubmitRequest): string | null;
  /**
   * Submit `requests` (every one with {@link SubmitRequest.array} set, indexes `0 … n-1`, same key)
   * as ONE array job; one outcome per element, in order, with the element's job id. `throttle`:
   * the most elements the scheduler may run at once (Slurm `%M`), null for no limit. Errors follow
   * {@link Backend.submit}: a lost answer is a transient throw or `maybeSubmitted` outcomes.
   */
  submitArray(requests: SubmitRequest[], options: { throttle: number | null }): Promise<SubmitOutcome[]>;
  /** The job id of element `index` of the array job `arrayJobId` (Slurm `123` + 7 → `123_7`). */
  elementJobId(arrayJobId: string, index: number): string;
}

/**
 * Result of submitting one task (one per request, in request order, with the request's `taskId`).
 *
 * - `ok: true`: the job exists. `meta` is stored with the task and handed back in {@link TrackedJob}
 *   and {@link LogRequest} (e.g. a log stream name); `meta.instanceType` is used for pricing.
 * - `ok: false, transient: false`: the scheduler refused the task (bad partition, invalid request);
 *   no job exists. The task fails with `error`.
 * - `ok: false, transient: true`: no job exists and trying later may work (queue full, throttled).
 *   The task goes back to `pending` and is retried with backoff under a new tag.
 * - `ok: false, maybeSubmitted: true`: a job may exist (see below). The task is looked up by tag.
 */
export type SubmitOutcome =
  | { taskId: string; ok: true; jobId: string; script: string; meta?: Record<string, unknown> }
  | {
      taskId: string;
      ok: false;
      error: string;
      /** True when a later attempt may succeed; false when the request itself is refused. */
      transient: boolean;
      script?: string;
      /**
       * The scheduler may have created the job although the answer says otherwise (e.g. sbatch's
       * "Socket timed out", a connection lost mid-submit). The engine then never resubmits blindly:
       * it keeps the task `submitting` and looks its tag up with {@link Backend.findByTags}, adopting
       * the job if it appears, and resubmits only after {@link Backend.submitRetryWindowMs} has
       * passed without one.
       */
      maybeSubmitted?: boolean;
    };

/** Normalised job state as reported by a scheduler. */
export type JobState =
  | 'pending'
  | 'running'
  | 'completing'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'timeout'
  | 'out_of_memory'
  | 'node_fail'
  /** The scheduler does not know the job (yet, or any more). */
  | 'unknown';

/** What a backend knows about one job. */
export interface JobStatus {
  jobId: string;
  state: JobState;
  /** Pending reason (raw scheduler word, e.g. `Resources`) or failure reason. */
  reason?: string | null;
  exitCode?: number | null;
  startedAt?: string | null;
  finishedAt?: string | null;
  node?: string | null;
  /** Raw scheduler state text, for display. */
  rawState?: string | null;
  /**
   * True when the verdict is final (accounting confirmed, exit marker read). A terminal state that
   * is not final may still be corrected by a later poll (e.g. Slurm accounting lag).
   */
  final?: boolean;
}

/** A job the engine tracks, as passed to {@link Backend.status}. */
export interface TrackedJob {
  jobId: string;
  runId: string;
  taskId: string;
  tag: string;
  stdoutPath: string | null;
  stderrPath: string | null;
  /** ISO time of submission (for accounting windows). */
  submittedAt: string | null;
  /** Last state the engine recorded for it. */
  lastState: JobState | null;
  meta: Record<string, unknown>;
}

export interface LogRequest {
  jobId: string | null;
  runId: string;
  taskId: string;
  path: string | null;
  stream: 'stdout' | 'stderr';
  meta: Record<string, unknown>;
}

export interface LogChunk {
  content: string;
  /** Byte offset to pass as `offset` to read what comes next. */
  nextOffset: number;
  /** Opaque continuation token for APIs without byte offsets (CloudWatch). */
  nextToken?: string | null;
  /** True if the file does not exist (yet). */
  missing?: boolean;
  /** A note to show instead (e.g. "stderr is merged into the output stream"). */
  note?: string;
}

export interface LogReadOptions {
  /** Read from this byte offset (follow). */
  offset?: number;
  nextToken?: string | null;
  /** Read only the last N bytes (tail). Ignored when offset is set. */
  tailBytes?: number;
  /** Cap on bytes returned. */
  maxBytes?: number;
}

export interface PartitionInfo {
  name: string;
  isDefault?: boolean;
  state?: string;
  cpusIdle: number;
  cpusTotal: number;
  cpusAllocated?: number;
  nodes?: number;
  timeLimit?: string | null;
  gpusTotal?: number;
  gpusIdle?: number;
}

export interface ClusterInfo {
  cpusIdle: number | null;
  cpusTotal: number | null;
  partitions: PartitionInfo[];
  /** Pending reasons of all jobs in the queue → count. */
  pendingReasons?: Record<string, number>;
  disk?: { path: string; totalBytes: number; availableBytes: number } | null;
  /** Extra free-form facts (flavour, version...). */
  facts?: Record<string, string>;
}

/** A job on the cluster not owned by any ScriptHut run. */
export interface ExternalJob {
  jobId: string;
  name: string;
  user: string;
  state: JobState;
  partition: string | null;
  cpus: number | null;
  memory: string | null;
  timeUsed: string | null;
  nodes: string | null;
  submittedAt: string | null;
  reason: string | null;
}

/** Result of running a command on a backend's login node (or locally). */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs shell commands where a backend's workflows run (login node over SSH, or locally). */
export interface CommandRunner {
  /** Runs `command` with bash. `cwd` is quoted by the runner. */
  exec(
    command: string,
    options?: { cwd?: string; stdin?: string; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<ExecResult>;
  /** Upload a file (mode 0600), run `fn` with its remote path, remove it afterwards even on failure. */
  withTempFile?<T>(content: Buffer | string, fn: (remotePath: string) => Promise<T>): Promise<T>;
  /** True when commands run on a remote host (over SSH). */
  readonly remote: boolean;
}

/** Health of a backend connection, for the UI. */
export interface BackendHealth {
  connected: boolean;
  lastError: string | null;
  /** Human-readable host / endpoint. */
  endpoint: string;
}

/** A recently run remote command, for the UI's command log. */
export interface CommandLogEntry {
  at: string;
  command: string;
  exitCode: number | null;
  durationMs: number;
  stdout: string;
  stderr: string;
}

/**
 * A compute backend (Slurm, PBS, Batch, EC2, ECS, local, or a third-party plugin's).
 *
 * @example
 * ```ts
 * const outcomes = await backend.submit(requests);          // one round trip for the batch
 * const statuses = await backend.status(trackedJobs);      // one scheduler query
 * ```
 */
export interface Backend {
  readonly name: string;
  /** The `type` of its plugin (`slurm`, `batch`, …; see `defineBackend`). */
  readonly type: string;
  /** Max concurrent jobs across all runs on this backend. */
  readonly maxConcurrent: number;
  /** Preferred poll interval in ms (the engine may use the configured value instead). */
  readonly pollIntervalMs?: number;

  /** Render the job script of a request exactly as `submit` would (dry runs, UI). */
  renderScript(request: SubmitRequest): string;

  /**
   * Submit many tasks in one round trip (or a few chunks); one {@link SubmitOutcome} per request,
   * same order. Each job's name carries its request's `tag` (`jobNameFor`).
   *
   * May throw only for the whole batch:
   * - a transient {@link BackendError} when the scheduler could not be reached or the answer was
   *   lost — also if some jobs may have been created: the engine keeps every task of the batch
   *   `submitting` and looks it up by tag before it submits again;
   * - a permanent {@link BackendError} only when no job can have been created (e.g. the submit
   *   command does not exist); every task of the batch then fails.
   * Anything else (an error thrown by a bug) is treated like a transient error.
   */
  submit(requests: SubmitRequest[]): Promise<SubmitOutcome[]>;

  /**
   * Status of many jobs in one batched call: an entry for every job (keyed by job id). Jobs the
   * scheduler does not know get state `unknown`; an outage throws a transient {@link BackendError}
   * instead. A terminal state that may still change (e.g. Slurm before accounting has the job) has
   * `final: false`: the engine acts on it only once final or after its grace (10 min by default).
   */
  status(jobs: TrackedJob[]): Promise<Map<string, JobStatus>>;

  /**
   * Optional cheap completion check that issues NO scheduler command (e.g. reads exit-code marker
   * files the job scripts leave, in one SSH round trip). The engine calls it every
   * `quickStatusIntervalMs` for submitted/queued/running jobs, so a finished task is recorded within
   * about a second of its end while scheduler queries stay at one per poll. Return only jobs whose
   * outcome is known (a terminal state and exit code); others are simply absent from the map. The
   * engine takes these as final evidence; report `startedAt`, `finishedAt` and `node` when the
   * marker holds them (they are kept as reported).
   */
  quickStatus?(jobs: TrackedJob[]): Promise<Map<string, JobStatus>>;
  /** Interval for {@link quickStatus} in ms (default 1000 when quickStatus exists). */
  readonly quickStatusIntervalMs?: number;

  /**
   * Resource usage of jobs that ended (node, start, end, elapsed, allocated CPUs, CPU time, peak RSS,
   * requested memory), in ONE batched accounting query whatever the number of jobs (e.g. one
   * `sacct` for all). The engine calls it once per poll for the jobs that finished since, and again
   * for those still `pending` (accounting lag) for a bounded time (`usageGraceMs`), after which it
   * records the usage as unavailable. A job the source will never report is `unavailable` with the
   * reason; a figure the source does not give is `null`, never 0. An outage throws (the jobs stay
   * pending). Optional: a backend without it records no usage.
   */
  fetchUsage?(jobs: TrackedJob[]): Promise<Map<string, UsageReport>>;

  /**
   * Find jobs whose names carry these tags, in one call (crash recovery, ambiguous submissions).
   * Returns tag → job id, only for tags that have a job. Jobs that already ended must still be found
   * (as long as the scheduler keeps any history of them): a submission interrupted by a crash is
   * looked up after the restart, when its job may be over. An outage throws a transient
   * {@link BackendError} — never an empty map, which would make the engine submit again.
   */
  findByTags(tags: string[]): Promise<Map<string, string>>;

  /**
   * How long after an ambiguous submission (`maybeSubmitted`, or an answer lost mid-submit) a job
   * can still appear, e.g. because the submit command retries on its own (sbatch keeps retrying a
   * busy controller for about two minutes). The engine looks the tag up until then before it
   * resubmits. Default 0 (look once, then resubmit).
   */
  readonly submitRetryWindowMs?: number;

  /**
   * Cancel jobs in one batched call (best effort: jobs that already ended are not an error). Throws a
   * transient {@link BackendError} when the scheduler cannot be reached (retried every tick).
   */
  cancel(jobs: TrackedJob[]): Promise<void>;

  /**
   * Read part of a task's log: from `offset` (follow; `nextOffset` of the answer continues it), the
   * last `tailBytes`, or all of it. A file that does not exist (yet) is `missing: true`, not an error.
   */
  readLog(request: LogRequest, options: LogReadOptions): Promise<LogChunk>;

  /** Read a small text file on the backend (generates_source). Relative paths resolve against `cwd`. */
  readFile(path: string, cwd: string | null): Promise<string>;

  /** Cluster information (CPUs, partitions, disk of clone_dir). */
  clusterInfo(): Promise<ClusterInfo>;

  /** Jobs of the user that ScriptHut does not own. Optional. */
  externalJobs?(user: string | null): Promise<ExternalJob[]>;

  /** Where workflow commands for this backend run. */
  commandRunner(): CommandRunner;

  /** Connection health for the UI. */
  health(): BackendHealth;

  /** Recent remote commands (SSH backends). */
  commandLog?(): CommandLogEntry[];

  /**
   * List the output directories of many ended tasks in ONE round trip (paths passed on stdin, never
   * one command per task), bounded as {@link OUTPUT_LIMITS} says, with the summaries' text. An
   * answer for every request key; an outage throws a transient {@link BackendError}. Absent on
   * backends without outputs (Batch, EC2).
   */
  listOutputs?(requests: OutputListingRequest[]): Promise<Map<string, OutputListing>>;

  /**
   * Read one file below an output directory (`relPath` checked by {@link isSafeOutputPath}; the
   * directory and the file must not be symbolic links), at most `maxBytes`.
   */
  readOutputFile?(outputDir: string, relPath: string, maxBytes: number): Promise<Buffer>;

  /** Resolve `~` / `$HOME`-relative paths on the backend (cached). */
  homeDir?(): Promise<string>;

  /** Job arrays (optional capability, see {@link ArraySupport}); absent or undefined: none. */
  readonly arrays?: ArraySupport;

  /** Release connections. */
  close(): Promise<void>;
}
