/**
 * Domain types: task specifications, task and run states, and the records the store keeps.
 */
import type { TaskUsage } from './usage.js';

/** A task as ScriptHut runs it: the task JSON after validation and defaults (camelCase). */
export interface TaskSpec {
  /** Unique within the run. Dot-notation (`build.x`) groups tasks in the UI. */
  id: string;
  name: string;
  /** Bash text, may be multi-line. */
  command: string;
  /** `~`, absolute, or relative (resolved by the run's context: clone dir, source path). Default `~`. */
  workingDir: string;
  /**
   * Partition (Slurm) or queue (PBS) to submit to; `null` (the default) leaves the choice to the
   * scheduler's own default partition/queue. (The original ScriptHut defaulted to `normal`, which a
   * stock PBS, whose default queue is `workq`, and many Slurm sites do not have.)
   */
  partition: string | null;
  /** Default 1. */
  cpus: number;
  /** Slurm syntax, e.g. `4G`, `500M`. Default `4G`. */
  memory: string;
  /** Memory in MiB, derived from `memory`. */
  memoryMiB: number;
  /** `[D-]HH:MM:SS`, default `1:00:00`. */
  timeLimit: string;
  /** Time limit in seconds, derived from `timeLimit`. */
  timeLimitSeconds: number;
  /** e.g. `gpu:2`, `gpu:v100:1`. */
  gres: string | null;
  /** Container image (Batch/EC2). */
  image: string | null;
  /** Resolved dependency ids (wildcards already expanded). */
  deps: string[];
  /** Dependency patterns as written in the task JSON (kept for display and for generates_source resolution). */
  depPatterns: string[];
  outputFile: string | null;
  errorFile: string | null;
  /** Name of a configured environment. */
  environment: string | null;
  envVars: Record<string, string>;
  /** Path of a JSON file the task writes with more tasks. */
  generatesSource: string | null;
  /**
   * Site policy (batch schedulers, see {@link SitePolicy}): overrides the backend's values for this
   * task; `extraDirectives` are added after the backend's. Absent when the task JSON has none.
   */
  qos?: string | null;
  constraint?: string | null;
  reservation?: string | null;
  exclusive?: ExclusiveMode | null;
  clusters?: string | null;
  extraDirectives?: string[];
  /**
   * Result cache (see docs/resume.md). `inputs`: paths/globs (relative to the working dir, or
   * absolute) whose contents enter the cache key. `outputs`: paths/globs the task must produce (a
   * task that exits 0 without them fails; a resumed task is reused only while they exist).
   * `cache` (default true): false = never reused, no key recorded. `cacheScope` (default `commit`):
   * `inputs` leaves the git commit out of the key. Absent when the task JSON has none.
   */
  inputs?: string[];
  outputs?: string[];
  cache?: boolean;
  cacheScope?: CacheScope;
}

/** What a task's cache key covers besides its own definition: the git commit too, or only its inputs. */
export type CacheScope = 'commit' | 'inputs';

/**
 * `exclusive` of a task or backend: `true` (whole nodes), `false` (explicitly not, overriding a
 * backend default), or Slurm's `--exclusive=user|mcs|topo` forms.
 */
export type ExclusiveMode = boolean | 'user' | 'mcs' | 'topo';

/**
 * Site-policy settings a batch backend applies to every job (and a task may override): the
 * directives sites require or offer beyond partition/account/resources.
 */
export interface SitePolicy {
  /** Quality of service (Slurm `--qos`). */
  qos?: string | null;
  /** Node features (Slurm `--constraint`, e.g. `gpu&a100`). */
  constraint?: string | null;
  /** Advance reservation (Slurm `--reservation`). */
  reservation?: string | null;
  /** Whole nodes (Slurm `--exclusive[=user|mcs|topo]`). */
  exclusive?: ExclusiveMode | null;
  /** Cluster(s) of a multi-cluster site (Slurm `--clusters`/`-M`). */
  clusters?: string | null;
  /** Further scheduler options, one per entry (Slurm: `--name` or `--name=value`). */
  extraDirectives?: readonly string[];
}

/** Every state a task can be in. */
export const TASK_STATES = [
  'pending',
  'submitting',
  'submitted',
  'queued',
  'running',
  'completed',
  'failed',
  'dep_failed',
  'cancelled',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** States in which the task holds (or may hold) a scheduler job. `submitting` = intent stored, submit in flight. */
export const ACTIVE_TASK_STATES: readonly TaskState[] = ['submitting', 'submitted', 'queued', 'running'];
/** States a task never leaves, except through an explicit rerun in place (back to `pending`). */
export const TERMINAL_TASK_STATES: readonly TaskState[] = ['completed', 'failed', 'dep_failed', 'cancelled'];

export function isTerminalTaskState(state: TaskState): boolean {
  return TERMINAL_TASK_STATES.includes(state);
}
export function isActiveTaskState(state: TaskState): boolean {
  return ACTIVE_TASK_STATES.includes(state);
}

export const RUN_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Git context of a run (git workflows and sources). */
export interface GitContext {
  repo: string;
  branch: string;
  /** Full commit hash. */
  sha: string;
  /** Directory of the clone on the backend (SSH backends). */
  cloneDir?: string;
}

/**
 * How a rerun copies a run's stored tasks: `all` runs every task again; `failed` keeps completed
 * tasks as they are; `resume` runs every task again with `resume` on, so that tasks whose cache key
 * and declared outputs still match are reused (docs/resume.md).
 */
export type RerunMode = 'all' | 'failed' | 'resume';

/** What a run was created from. */
export type RunOrigin =
  | { kind: 'workflow'; name: string }
  | { kind: 'source'; source: string; file: string }
  | { kind: 'project'; project: string; file: string }
  | { kind: 'adhoc' }
  | { kind: 'rerun'; fromRunId: string; mode: RerunMode }
  | { kind: 'demo' };

/** A run as stored. Its status is derived from its tasks, never stored. */
export interface RunRecord {
  /** 8 lowercase hex characters. */
  id: string;
  /** Name shown in lists: the workflow name, `<source>/<file stem>`, `<project>/<dir>` or `_adhoc/<task>`. */
  workflowName: string;
  backendName: string;
  origin: RunOrigin;
  /** ISO 8601 UTC. */
  createdAt: string;
  /** Per-run concurrency cap, null = backend cap only. */
  maxConcurrent: number | null;
  /** Directory on the backend where default logs go. */
  logDir: string;
  /** Directory against which `~`/relative working dirs resolve (clone, source path), if any. */
  baseDir: string | null;
  git: GitContext | null;
  /** Set when the user cancelled the run (makes the derived status `cancelled`). */
  cancelRequestedAt: string | null;
  /**
   * Environment definitions snapshot (name → variables/extra_init/secret names) used by this run's
   * tasks. Stored with the values (the tasks need them); every view redacts the secret ones.
   */
  environments: Record<
    string,
    { variables: Record<string, string>; extraInit: string; secretNames?: string[] }
  >;
  /**
   * `--resume`: a task whose cache key matches a task completed by an earlier run of the same
   * workflow on the same backend (and whose declared outputs still exist) is completed as `cached`
   * without a job. Absent = false.
   */
  resume?: boolean;
  /**
   * Job arrays for this run, as its workflow, source or project set them (`array: auto | off`):
   * overrides the backend's `array`. Absent: the backend's setting (docs/arrays.md).
   */
  arrayMode?: ArrayMode;
}

/** `array: auto` (ready tasks the scheduler cannot tell apart go out as one array job) or `off`. */
export type ArrayMode = 'auto' | 'off';

/** A task of a run, with everything ScriptHut learnt about it. */
export interface TaskRecord {
  runId: string;
  /** Position in the run (0-based, stable); used to build short scheduler tags. */
  seq: number;
  spec: TaskSpec;
  state: TaskState;
  /** The tag carried by the scheduler job's name; stored before submit (crash-safe adoption). */
  submitTag: string | null;
  /** Scheduler job id once known. */
  jobId: string | null;
  /** Pending reason from the scheduler, raw (e.g. `Resources`). */
  pendingReason: string | null;
  exitCode: number | null;
  /** Human-readable error (submission failure, scheduler failure reason, dependency failure...). */
  error: string | null;
  /** The generated job script (secrets redacted when displayed). */
  script: string | null;
  /** Paths of the task's logs on the backend. */
  stdoutPath: string | null;
  stderrPath: string | null;
  submittedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** Node(s) the job ran on, when known. */
  node: string | null;
  /** Backend-specific extra data (instance type for EC2, queue for Batch...). */
  meta: Record<string, unknown>;
  /**
   * Resources the job used, once it ended (see {@link TaskUsage}); absent/null before, and for tasks
   * that never had a job.
   */
  usage?: TaskUsage | null;
  /** Monotonic counter bumped on every change (for O(changed) live updates). */
  version: number;
}

/** One stored state transition. */
export interface TaskTransition {
  runId: string;
  taskId: string;
  from: TaskState | null;
  to: TaskState;
  /** ISO 8601 UTC. */
  at: string;
  reason: string | null;
}

/** Counts of tasks per state. */
export type StateCounts = Record<TaskState, number>;

export function emptyStateCounts(): StateCounts {
  return Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as StateCounts;
}

/**
 * Derive a run's status from its task state counts.
 *
 * - cancel requested and nothing active → `cancelled`
 * - no tasks, or every task completed → `completed`
 * - anything active (submitting/submitted/queued/running) → `running`
 * - all terminal with at least one failed/dep_failed/cancelled → `failed` (`cancelled` if cancel requested)
 * - otherwise pending tasks remain: `running` if some task already started, else `pending`
 */
export function deriveRunStatus(counts: StateCounts, cancelRequested: boolean): RunStatus {
  const total = TASK_STATES.reduce((n, s) => n + counts[s], 0);
  const active = counts.submitting + counts.submitted + counts.queued + counts.running;
  const terminal = counts.completed + counts.failed + counts.dep_failed + counts.cancelled;
  if (active > 0) return 'running';
  if (cancelRequested && (counts.pending === 0 || terminal === total)) return 'cancelled';
  if (total === 0 || counts.completed === total) return 'completed';
  if (terminal === total) return cancelRequested ? 'cancelled' : 'failed';
  return terminal > 0 ? 'running' : 'pending';
}
