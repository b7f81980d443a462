/**
 * The runtime API: what the server's routes and the CLI call. One `ScriptHutRuntime` owns the config,
 * the SQLite store, the engine (with one poll loop per backend) and the workflow sources. Nothing here
 * calls a scheduler on behalf of a read: reads come from the store and the poller's cache.
 */
import type {
  BackendHealth,
  ClusterInfo,
  CommandLogEntry,
  GitContext,
  Issue,
  JobState,
  LogChunk,
  LogReadOptions,
  RerunMode,
  ReusePlan,
  RunActivity,
  RunRecord,
  RunStatus,
  RunSummary,
  TaskRecord,
  TaskSpec,
  TaskState,
  TaskTransition,
  UsageBucket,
} from '@scripthut/core';
import type { RunArrayMode } from './array-mode.js';
import type { DebugSessionView } from './debug-jobs.js';
import type { NotificationEvent, NotificationStats } from './notifications.js';
import type { OutputFileContent, RunSummaryView, TaskOutputsView } from './outputs.js';
import type { TaskEnvironmentView } from './task-env.js';
import type { OpenedTerminal, TerminalRequest } from './terminals.js';

export interface BackendView {
  name: string;
  type: string;
  maxConcurrent: number;
  health: BackendHealth;
  lastPollAt: string | null;
  lastPollDurationMs: number | null;
  lastError: string | null;
  inFlight: number;
  clusterInfo: ClusterInfo | null;
  clusterInfoAt: string | null;
}

export interface BackendDetail extends BackendView {
  commandLog: CommandLogEntry[];
}

/** Something that can be run: a configured workflow, a source's workflow file, or a project's sflow.json. */
export interface WorkflowView {
  kind: 'workflow' | 'source' | 'project';
  /** Name used to run it: `name` for workflows, `<source>/<file>` / `<project>/<file>` otherwise. */
  name: string;
  backend: string;
  description: string;
  maxConcurrent: number | null;
  git: { repo: string; branch: string } | null;
  source?: string;
  project?: string;
  file?: string;
}

export interface SourceView {
  name: string;
  type: 'git' | 'path';
  backend: string;
  location: string;
  branch: string | null;
  lastSyncAt: string | null;
  commit: string | null;
  error: string | null;
  workflows: WorkflowView[];
  warnings: Issue[];
}

export interface ProjectView {
  name: string;
  backend: string;
  path: string;
  description: string;
  maxConcurrent: number | null;
}

export interface DryRunTask {
  task: TaskSpec;
  workingDir: string;
  script: string;
  stdoutPath: string;
  stderrPath: string;
  /** Partition (after partition_map) and environment (after env rules) the task would get. */
  environment?: TaskEnvironmentView;
  /** The task's cache key and whether `--resume` would reuse it (why not, otherwise). */
  cache?: ReusePlan;
  /**
   * The job array the task would go in (array number from 1, index, size) when the run's mode is
   * `auto` and tasks of its shape and dependencies become ready together; absent: alone.
   */
  array?: { group: number; index: number; size: number };
}

export interface CostEstimate {
  available: boolean;
  reason: string | null;
  /** Upper bound in USD from requested resources × time limits. */
  upperBound: number | null;
  costedTasks: number;
  uncostedTasks: number;
  currency: 'USD';
}

export interface RunCost {
  available: boolean;
  reason: string | null;
  total: number | null;
  costedTasks: number;
  uncostedTasks: number;
  currency: 'USD';
}

export interface DryRunResult {
  workflowName: string;
  backendName: string;
  git: GitContext | null;
  logDir: string;
  tasks: DryRunTask[];
  warnings: Issue[];
  estimate: CostEstimate;
  /**
   * Job arrays of the run (backends with arrays only): `auto` or `off`, set by the workflow's (or
   * source's, project's) `array` or else by the backend's.
   */
  arrays?: RunArrayMode;
}

export interface RunOptions {
  /** Override the backend (sources: chosen at run time). */
  backend?: string;
  maxConcurrent?: number | null;
  /**
   * Reuse tasks completed by earlier runs of the same workflow on the same backend whose cache key
   * matches and whose declared outputs exist (docs/resume.md).
   */
  resume?: boolean;
  /**
   * Git workflows, git sources and projects: clone this branch instead of the configured one (a
   * project: instead of its working tree), for this run only; recorded in `run.git`.
   */
  branch?: string;
  /** Git workflows, git sources and projects: clone exactly this commit (40 or 64 hex), for this run only. */
  commit?: string;
}

/**
 * How to run a finished run again: the engine's modes on its stored tasks (`all`, `failed`,
 * `resume`), each a new run; `new`: run the workflow's generator again (git workflows: at the run's
 * commit) and create a new run from its fresh output; `in-place-all` / `in-place-failed`: the same
 * run (same id) again, every task or only those that did not complete (docs/resume.md).
 */
export type RunRerunMode = RerunMode | 'new' | RunInPlaceMode;

/** The rerun-in-place modes of {@link RunRerunMode}. */
export type RunInPlaceMode = 'in-place-all' | 'in-place-failed';

/** Every {@link RunRerunMode}, in the order the CLI and UI show them. */
export const RUN_RERUN_MODES = [
  'all',
  'failed',
  'resume',
  'new',
  'in-place-all',
  'in-place-failed',
] as const satisfies readonly RunRerunMode[];

export interface AdhocTaskInput {
  command: string;
  backend: string;
  id?: string;
  name?: string;
  runName?: string;
  cpus?: number;
  memory?: string;
  timeLimit?: string;
  partition?: string;
  gres?: string;
  workingDir?: string;
  image?: string;
  env?: Record<string, string>;
}

/** A row of the unified jobs table: a task of a run, or an external job on a cluster. */
export interface JobView {
  kind: 'task' | 'external';
  backend: string;
  jobId: string | null;
  name: string;
  runId: string | null;
  taskId: string | null;
  workflowName: string | null;
  user: string | null;
  state: TaskState | JobState;
  reason: string | null;
  partition: string | null;
  cpus: number | null;
  memory: string | null;
  timeLimit: string | null;
  submittedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** CPU time / (elapsed × CPUs) of a finished task whose usage is known (0..1). */
  cpuEfficiency?: number | null;
  /** Peak RSS of a finished task (bytes), when accounting recorded it. */
  maxRssBytes?: number | null;
  /** External jobs: true when it belongs to the backend's SSH user (it may be cancelled from ScriptHut). */
  own?: boolean;
}

export interface JobQuery {
  mine?: boolean;
  backend?: string;
  /** Include tasks that finished in the last N hours (default 12). */
  recentHours?: number;
}

export interface RunQuery {
  limit?: number;
  offset?: number;
  status?: RunStatus;
  workflow?: string;
  backend?: string;
}

export interface TaskQuery {
  limit?: number;
  offset?: number;
  states?: TaskState[];
  idPrefix?: string;
}

export interface ConfigReloadResult {
  applied: boolean;
  live: string[];
  restart: string[];
  issues: Issue[];
}

/** Result of {@link ScriptHutRuntime.saveConfigText}. */
export interface ConfigSaveResult {
  /** True when the file was written (never with issues, never on a dry run). */
  saved: boolean;
  /** Errors with positions (`file:line:col path`); nothing is written when there are any. */
  issues: Issue[];
  warnings: Issue[];
  /** The timestamped copy of the previous file, next to it. */
  backupPath: string | null;
  /** What the reload after the save applied live and what needs a restart. */
  reload: ConfigReloadResult | null;
}

export interface RuntimeEvents {
  on(event: 'task', listener: (e: { runId: string; task: TaskRecord; from: TaskState | null }) => void): this;
  on(event: 'run', listener: (e: { runId: string; summary: RunSummary }) => void): this;
  on(
    event: 'poll',
    listener: (e: { backend: string; at: string; durationMs: number; error: string | null }) => void,
  ): this;
  on(event: 'run-created', listener: (e: { run: RunRecord }) => void): this;
  on(event: 'run-deleted', listener: (e: { runId: string }) => void): this;
  /** A run finished or a task failed (toasts, desktop notifications). */
  on(event: 'notification', listener: (e: NotificationEvent) => void): this;
  off(event: string, listener: (...args: never[]) => void): this;
}

export interface ScriptHutRuntime {
  /** Where the config came from. */
  readonly configSource: { kind: 'default' } | { kind: 'file'; path: string };
  readonly dataDir: string;
  readonly events: RuntimeEvents;
  /** `settings` of the loaded config (server host/port, filter_user, poll interval...). */
  readonly settings: {
    server_host: string;
    server_port: number;
    poll_interval: number;
    filter_user: string | null;
    auth_token?: string | null;
    data_dir: string;
    /** Extra names accepted in the Host header (besides loopback names and `server_host`). */
    allowed_hosts?: string[];
    /** PEM certificate and key files: the server speaks https when both are set. */
    tls_cert?: string | null;
    tls_key?: string | null;
  };

  start(): Promise<void>;
  close(): Promise<void>;

  listBackends(): BackendView[];
  getBackend(name: string): BackendDetail;
  /**
   * Opens a terminal (PTY channel) on an SSH backend: a login shell, a shell in a running task's
   * allocation, or a task's debug session. Optional: runtimes without terminals leave it out.
   */
  openTerminal?(backendName: string, request: TerminalRequest): Promise<OpenedTerminal>;
  /** Cancels one of the user's own jobs that ScriptHut did not start (from the jobs list). */
  cancelExternalJob?(backendName: string, jobId: string): Promise<void>;
  /** Hides a finished job (a task row or a job ScriptHut did not start) from the jobs list. */
  forgetJob?(backendName: string, jobId: string): void;
  /** Submits a debug job of a task (same resources and environment, a tmux session that waits). */
  debugTask?(runId: string, taskId: string): Promise<DebugSessionView>;
  /** The debug jobs of a task with their scheduler state (one batched status query). */
  debugSessions?(runId: string, taskId: string): Promise<DebugSessionView[]>;
  /** Ends a debug job's wait (or cancels it when it has not started). */
  releaseDebug?(runId: string, taskId: string, session: string): Promise<DebugSessionView>;

  listWorkflows(): WorkflowView[];
  dryRunWorkflow(name: string, options?: RunOptions): Promise<DryRunResult>;
  runWorkflow(name: string, options?: RunOptions): Promise<RunSummary>;

  listSources(): SourceView[];
  syncSource(name: string): Promise<SourceView>;
  dryRunSourceWorkflow(source: string, file: string, options?: RunOptions): Promise<DryRunResult>;
  runSourceWorkflow(source: string, file: string, options?: RunOptions): Promise<RunSummary>;

  listProjects(): ProjectView[];
  listProjectWorkflows(project: string): Promise<WorkflowView[]>;
  dryRunProjectWorkflow(project: string, file: string, options?: RunOptions): Promise<DryRunResult>;
  runProjectWorkflow(project: string, file: string, options?: RunOptions): Promise<RunSummary>;

  runAdhocTask(input: AdhocTaskInput): Promise<RunSummary>;

  listRuns(query?: RunQuery): { items: RunSummary[]; total: number };
  getRun(runId: string): RunSummary;
  listTasks(runId: string, query?: TaskQuery): { items: TaskRecord[]; total: number };
  getTask(runId: string, taskId: string): TaskRecord;
  taskTransitions(runId: string, taskId: string): TaskTransition[];
  /**
   * How many tasks were queued and running over the run's lifetime (at most ~300 points), from its
   * transitions and the tasks' recorded start times: two queries, whatever the number of tasks.
   */
  runActivity(runId: string): RunActivity;
  cancelRun(runId: string): Promise<RunSummary>;
  rerunRun(runId: string, mode: RunRerunMode): Promise<RunSummary>;
  deleteRun(runId: string): void;
  readTaskLog(
    runId: string,
    taskId: string,
    stream: 'stdout' | 'stderr',
    options?: LogReadOptions,
  ): Promise<LogChunk>;

  listJobs(query?: JobQuery): JobView[];
  /**
   * CPU-hours per day or hour (UTC) from the usage ledger, which keeps the totals of deleted runs
   * (see `RunStore.usageBuckets`).
   */
  usageBuckets(unit: 'day' | 'hour', sinceIso: string): UsageBucket[];

  runCost(runId: string): Promise<RunCost>;
  estimateWorkflow(kind: WorkflowView['kind'], name: string, options?: RunOptions): Promise<CostEstimate>;

  /** The loaded config with secrets replaced by `***`, and the raw file text when it came from a file. */
  configView(): { source: string; text: string | null; config: unknown };
  validateConfigText(text: string): { issues: Issue[]; warnings: Issue[] };
  reloadConfig(): Promise<ConfigReloadResult>;
  /**
   * Validates `text` (secrets shown as `***` by {@link configView} are restored first) and, unless
   * `dryRun`, writes it to the config file atomically after a timestamped backup, then reloads.
   * Throws `conflict` when the file on disk no longer matches `baseHash` (the SHA-256 of the text the
   * editor started from, as shown by `configView`), and `config_not_found` when no file is in use.
   */
  saveConfigText(text: string, options?: { baseHash?: string; dryRun?: boolean }): Promise<ConfigSaveResult>;

  // ---- task outputs and notifications ----
  /** The recorded outputs of a task (files, task summary), or why there are none. */
  taskOutputs(runId: string, taskId: string): TaskOutputsView;
  /** One recorded output file of a task, read from its backend (only recorded paths). */
  readTaskOutputFile(runId: string, taskId: string, path: string): Promise<OutputFileContent>;
  /** The run summary made of the tasks' `SCRIPTHUT_RUN_SUMMARY` fragments. */
  runSummary(runId: string): RunSummaryView;
  /** Live counts for the page title (active runs' tasks). */
  notificationStats(): NotificationStats;
}
