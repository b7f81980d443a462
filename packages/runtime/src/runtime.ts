/**
 * `Runtime`, one ScriptHut control plane: the facade implementing `ScriptHutRuntime` over the parts
 * `createRuntime()` composes (`runtime-compose.ts`). It owns the lifecycle (start, close, the
 * retention and external-jobs timers, notifications) and passes every other call to the module
 * with that one concern:
 *
 * - `run-sources/`: preparing a run from a workflow, source, project or ad-hoc task (`prepare(ref)`);
 * - `run-launcher.ts`: creating a prepared run, or showing it as a dry run;
 * - `runtime-runs.ts`: run and task reads; `runtime-jobs.ts`: the jobs table;
 * - `runtime-debug.ts`: debug sessions and terminals; `runtime-cost.ts`: prices;
 * - `runtime-config.ts`: the live config; `runtime-backends.ts`: backends by name;
 * - `runtime-events.ts`: the engine's events, redacted.
 *
 * Reads (runs, tasks, jobs, backends) come from the store and the poller's caches; only explicit
 * user actions (run, cancel, log follow, sync) reach a backend.
 */
import { EventEmitter } from 'node:events';
import type { BackendConfig } from '@scripthut/config';
import {
  type Engine,
  type Issue,
  type LogChunk,
  type LogReadOptions,
  type RunActivity,
  type RunStore,
  type RunSummary,
  ScriptHutError,
  type TaskRecord,
  type TaskTransition,
  type UsageBucket,
} from '@scripthut/core';
import type { DebugSessionView } from './debug-jobs.js';
import type { EngineLock } from './lock.js';
import type { NotificationStats } from './notifications.js';
import type { OutputFileContent, RunSummaryView, TaskOutputsView } from './outputs.js';
import { redactSummary } from './redact.js';
import { sweepRetention } from './retention.js';
import type { RunLauncher } from './run-launcher.js';
import {
  prepare,
  type RunRef,
  type RunSourceContext,
  refOfOrigin,
  refOfWorkflowName,
} from './run-sources/index.js';
import { listProjects, listProjectWorkflows } from './run-sources/project.js';
import { listSources, syncSource } from './run-sources/source.js';
import { configuredWorkflows } from './run-sources/workflow.js';
import type { RuntimeBackends } from './runtime-backends.js';
import { type CreateRuntimeOptions, composeRuntime, type RuntimeParts } from './runtime-compose.js';
import type { LiveConfig } from './runtime-config.js';
import type { CostCalculator } from './runtime-cost.js';
import type { InteractiveAccess } from './runtime-debug.js';
import { forwardRedactedEvents, RuntimeNotifications } from './runtime-events.js';
import type { JobsTable } from './runtime-jobs.js';
import type { RunReads } from './runtime-runs.js';
import type { OpenedTerminal, TerminalRequest } from './terminals.js';
import type {
  AdhocTaskInput,
  BackendDetail,
  BackendView,
  ConfigReloadResult,
  ConfigSaveResult,
  CostEstimate,
  DryRunResult,
  JobQuery,
  JobView,
  ProjectView,
  RunCost,
  RunOptions,
  RunQuery,
  RunRerunMode,
  RuntimeEvents,
  ScriptHutRuntime,
  SourceView,
  TaskQuery,
  WorkflowView,
} from './types.js';

export type { CreateRuntimeOptions } from './runtime-compose.js';

/** How often finished runs are checked against `settings.retention_days`. */
const RETENTION_INTERVAL_MS = 3_600_000;

/** How long {@link Runtime.close} lets in-flight work finish before it closes the backends. */
export const CLOSE_GRACE_MS = 1000;

/** One ScriptHut control plane (see the top of this file); made by {@link createRuntime}. */
export class Runtime implements ScriptHutRuntime {
  readonly events: RuntimeEvents;
  readonly configSource: ScriptHutRuntime['configSource'];
  readonly dataDir: string;
  readonly store: RunStore;
  readonly engine: Engine;
  /** True for a runtime created with `readOnly` (no engine, store opened read-only). */
  readonly readOnly: boolean;
  private readonly emitter = new EventEmitter();
  private readonly config: LiveConfig;
  private readonly lock: EngineLock | null;
  private readonly log: RuntimeParts['log'];
  private readonly backends: RuntimeBackends;
  private readonly sourceContext: RunSourceContext;
  private readonly launcher: RunLauncher;
  private readonly runs: RunReads;
  private readonly jobs: JobsTable;
  private readonly cost: CostCalculator;
  private readonly interactive: InteractiveAccess;
  private readonly notifications: RuntimeNotifications;
  private started = false;
  private closing: Promise<void> | null = null;
  private externalTimer: NodeJS.Timeout | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;

  private constructor(parts: RuntimeParts) {
    this.config = parts.config;
    this.configSource = parts.config.source;
    this.dataDir = parts.dataDir;
    this.store = parts.store;
    this.engine = parts.engine;
    this.readOnly = parts.readOnly;
    this.lock = parts.lock;
    this.log = parts.log;
    this.backends = parts.backends;
    this.sourceContext = parts.sourceContext;
    this.launcher = parts.launcher;
    this.runs = parts.runs;
    this.jobs = parts.jobs;
    this.cost = parts.cost;
    this.interactive = parts.interactive;
    this.events = this.emitter as unknown as RuntimeEvents;
    forwardRedactedEvents(this.engine, this.store, this.emitter);
    this.emitter.setMaxListeners(1000);
    this.notifications = new RuntimeNotifications(this.engine, this.store, this.emitter);
  }

  /** Build a runtime (does not start polling; call {@link start}). */
  static async create(options: CreateRuntimeOptions = {}): Promise<Runtime> {
    const parts = await composeRuntime(options);
    try {
      return new Runtime(parts);
    } catch (e) {
      parts.lock?.release();
      throw e;
    }
  }

  get settings(): ScriptHutRuntime['settings'] {
    return this.config.settings(this.dataDir);
  }

  /** Record the URL the server listens on (lets CLIs find it through the engine lock). */
  setServerUrl(url: string): void {
    this.lock?.setServerUrl(url);
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.started) return;
    if (this.readOnly) {
      throw new ScriptHutError('conflict', 'a read-only runtime cannot start an engine');
    }
    if (this.closing) throw new ScriptHutError('conflict', 'the runtime is closed');
    this.started = true;
    await this.engine.start();
    void this.cost.loadPrices().then((r) => {
      // Logged for the server's log only; cost views show the reason where a cost is shown.
      if (!r.ok && this.cost.configured) this.log.info(`pricing unavailable: ${r.reason}`);
    });
    const interval = Math.max(this.config.current.settings.poll_interval * 1000 * 2, 10_000);
    this.externalTimer = setInterval(() => void this.refreshExternalJobs(), interval);
    this.externalTimer.unref();
    this.notifications.startWebhook(() => this.config.current.settings.notify_url ?? null, this.log);
    // Retention: once at start, then hourly (reads the setting each time: it reloads live).
    this.runRetention();
    this.retentionTimer = setInterval(() => this.runRetention(), RETENTION_INTERVAL_MS);
    this.retentionTimer.unref();
  }

  /** Delete finished runs older than `settings.retention_days` (see retention.ts). */
  runRetention(nowMs: number = Date.now()): string[] {
    const days = this.config.current.settings.retention_days ?? 30;
    this.jobs.pruneExpired(days, nowMs);
    try {
      return sweepRetention(
        {
          store: this.store,
          deleteRun: (id) => this.engine.deleteRun(id),
          backendType: (name) => this.backends.built.find((b) => b.config.name === name)?.config.type ?? null,
          log: this.log,
          now: () => nowMs,
        },
        days,
      );
    } catch (e) {
      this.log.warn(`retention sweep failed: ${(e as Error).message}`);
      return [];
    }
  }

  /**
   * Stop the engine and release everything. Prompt even when a backend is unreachable: in-flight
   * work gets {@link CLOSE_GRACE_MS} to finish on its own, then the backends are closed, which
   * aborts their pending network waits (an SSH connect or backoff, a scheduler call), so the
   * engine's in-flight calls end at once; a submission cut short this way is adopted by its tag on
   * the next start. Safe to call twice (the second call waits for the first).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.externalTimer) clearInterval(this.externalTimer);
      if (this.retentionTimer) clearInterval(this.retentionTimer);
      const webhookStopped = this.notifications.stopWebhook();
      const stopped = this.engine.stop();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        stopped,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      await Promise.all(this.backends.built.map((b) => b.backend?.close().catch(() => undefined)));
      await stopped;
      await webhookStopped;
      this.store.close();
      this.lock?.release();
    })();
    return this.closing;
  }

  // ---------------------------------------------------------------- backends, terminals, debug

  listBackends(): BackendView[] {
    return this.backends.list();
  }

  getBackend(name: string): BackendDetail {
    return this.backends.detail(name);
  }

  /** Backend configs (for tools such as `setup-aws-ec2`). */
  backendConfigs(): BackendConfig[] {
    return this.config.current.backends;
  }

  /** Opens a terminal on an SSH backend (see `runtime-debug.ts`, `terminals.ts`). */
  openTerminal(backendName: string, request: TerminalRequest): Promise<OpenedTerminal> {
    return this.interactive.openTerminal(backendName, request);
  }

  /** Submits a debug job of a task (see `debug-jobs.ts`); it is linked to the task, not part of the run. */
  debugTask(runId: string, taskId: string): Promise<DebugSessionView> {
    return this.interactive.debugTask(runId, taskId);
  }

  /** The debug jobs of a task with their scheduler state (one batched status query). */
  debugSessions(runId: string, taskId: string): Promise<DebugSessionView[]> {
    return this.interactive.debugSessions(runId, taskId);
  }

  /** Ends a debug job's wait (its tmux server); a job that has not started yet is cancelled. */
  releaseDebug(runId: string, taskId: string, session: string): Promise<DebugSessionView> {
    return this.interactive.releaseDebug(runId, taskId, session);
  }

  // ---------------------------------------------------------------- run sources

  /** Configured workflows, then the workflow files of every synced source (`<source>/<file>`). */
  listWorkflows(): WorkflowView[] {
    return [...configuredWorkflows(this.sourceContext), ...this.listSources().flatMap((s) => s.workflows)];
  }

  listSources(): SourceView[] {
    return listSources(this.sourceContext);
  }

  syncSource(name: string): Promise<SourceView> {
    return syncSource(this.sourceContext, name);
  }

  listProjects(): ProjectView[] {
    return listProjects(this.sourceContext);
  }

  listProjectWorkflows(project: string): Promise<WorkflowView[]> {
    return listProjectWorkflows(this.sourceContext, project);
  }

  /** Prepares the run `ref` names and creates it (the one path of every run source). */
  private async launch(ref: RunRef, options: RunOptions = {}): Promise<RunSummary> {
    const id = this.launcher.create(await prepare(this.sourceContext, ref, options));
    return this.getRun(id);
  }

  /** Prepares the run `ref` names and shows what creating it would submit. */
  private async dryRun(ref: RunRef, options: RunOptions = {}): Promise<DryRunResult> {
    return this.launcher.dryRun(await prepare(this.sourceContext, ref, options));
  }

  dryRunWorkflow(name: string, options: RunOptions = {}): Promise<DryRunResult> {
    return this.dryRun({ kind: 'workflow', name }, options);
  }

  runWorkflow(name: string, options: RunOptions = {}): Promise<RunSummary> {
    return this.launch({ kind: 'workflow', name }, options);
  }

  dryRunSourceWorkflow(source: string, file: string, options: RunOptions = {}): Promise<DryRunResult> {
    return this.dryRun({ kind: 'source', source, file }, options);
  }

  runSourceWorkflow(source: string, file: string, options: RunOptions = {}): Promise<RunSummary> {
    return this.launch({ kind: 'source', source, file }, options);
  }

  dryRunProjectWorkflow(project: string, file: string, options: RunOptions = {}): Promise<DryRunResult> {
    return this.dryRun({ kind: 'project', project, file }, options);
  }

  runProjectWorkflow(project: string, file: string, options: RunOptions = {}): Promise<RunSummary> {
    return this.launch({ kind: 'project', project, file }, options);
  }

  runAdhocTask(input: AdhocTaskInput): Promise<RunSummary> {
    return this.launch({ kind: 'adhoc', input });
  }

  // ---------------------------------------------------------------- runs & tasks

  listRuns(query: RunQuery = {}): { items: RunSummary[]; total: number } {
    return this.runs.list(query);
  }

  /** The full id of the run `ref` names: the id or a unique prefix of one (see `RunReads.resolveId`). */
  resolveRunId(ref: string): string {
    return this.runs.resolveId(ref);
  }

  getRun(runId: string): RunSummary {
    return this.runs.get(runId);
  }

  listTasks(runId: string, query: TaskQuery = {}): { items: TaskRecord[]; total: number } {
    return this.runs.tasks(runId, query);
  }

  getTask(runId: string, taskId: string): TaskRecord {
    return this.runs.task(runId, taskId);
  }

  taskTransitions(runId: string, taskId: string): TaskTransition[] {
    return this.runs.transitions(runId, taskId);
  }

  runActivity(runId: string): RunActivity {
    return this.runs.activity(runId);
  }

  async cancelRun(runId: string): Promise<RunSummary> {
    return redactSummary(await this.engine.cancelRun(this.resolveRunId(runId)));
  }

  async rerunRun(runId: string, mode: RunRerunMode): Promise<RunSummary> {
    if (mode === 'new') return this.rerunAsNew(this.resolveRunId(runId));
    if (mode === 'in-place-all' || mode === 'in-place-failed') {
      const id = this.resolveRunId(runId);
      this.engine.rerunInPlace(id, mode === 'in-place-all' ? 'all' : 'failed');
      return this.getRun(id);
    }
    const run = this.engine.rerun(this.resolveRunId(runId), mode);
    return this.getRun(run.id);
  }

  /** `rerunRun(id, 'new')`: the generator again (at the run's commit for git workflows), a new run. */
  private async rerunAsNew(runId: string): Promise<RunSummary> {
    let run = this.store.getRun(runId);
    for (let hops = 0; run && run.origin.kind === 'rerun' && hops < 1000; hops++)
      run = this.store.getRun(run.origin.fromRunId);
    if (!run) throw new ScriptHutError('not_found', `the run ${runId} was rerun from no longer exists`);
    const ref = refOfOrigin(run.origin);
    if (!ref)
      throw new ScriptHutError(
        'conflict',
        `run ${runId} was not created from a workflow, source or project (${run.origin.kind}): nothing to generate again; use rerun all`,
      );
    const base = { backend: run.backendName, maxConcurrent: run.maxConcurrent };
    return this.launch(ref, run.git ? { ...base, branch: run.git.branch, commit: run.git.sha } : base);
  }

  /** Delete a run (exact id only: no prefixes for deletion). */
  deleteRun(runId: string): void {
    if (!this.store.getRun(runId)) {
      throw new ScriptHutError('not_found', `unknown run "${runId}" (scripthut run list)`);
    }
    this.engine.deleteRun(runId);
  }

  async readTaskLog(
    runId: string,
    taskId: string,
    stream: 'stdout' | 'stderr',
    options: LogReadOptions = {},
  ): Promise<LogChunk> {
    const t = this.getTask(runId, taskId);
    return this.engine.readTaskLog(t.runId, taskId, stream, options);
  }

  // ---------------------------------------------------------------- outputs, notifications

  taskOutputs(runId: string, taskId: string): TaskOutputsView {
    return this.runs.outputs(runId, taskId);
  }

  readTaskOutputFile(runId: string, taskId: string, path: string): Promise<OutputFileContent> {
    return this.runs.outputFile(runId, taskId, path);
  }

  runSummary(runId: string): RunSummaryView {
    return this.runs.summaryView(runId);
  }

  notificationStats(): NotificationStats {
    return this.notifications.stats();
  }

  // ---------------------------------------------------------------- jobs

  /** Refreshes the cached listing of the jobs ScriptHut did not start (see `JobsTable.refresh`). */
  refreshExternalJobs(): Promise<void> {
    return this.jobs.refresh();
  }

  listJobs(query: JobQuery = {}): JobView[] {
    return this.jobs.list(query);
  }

  /** Cancels one of the user's own jobs that ScriptHut did not start (scancel / qdel). */
  cancelExternalJob(backendName: string, jobId: string): Promise<void> {
    return this.jobs.cancelExternal(backendName, jobId);
  }

  /** Hides a finished job from the jobs list (kept in the store until pruned, see `forgotten-jobs.ts`). */
  forgetJob(backendName: string, jobId: string): void {
    this.jobs.forget(backendName, jobId);
  }

  usageBuckets(unit: 'day' | 'hour', sinceIso: string): UsageBucket[] {
    return this.store.usageBuckets(unit, sinceIso);
  }

  // ---------------------------------------------------------------- cost

  async runCost(runId: string): Promise<RunCost> {
    return this.cost.runCost(this.getRun(runId));
  }

  async estimateWorkflow(
    kind: WorkflowView['kind'],
    name: string,
    options: RunOptions = {},
  ): Promise<CostEstimate> {
    return (await this.dryRun(refOfWorkflowName(kind, name), options)).estimate;
  }

  // ---------------------------------------------------------------- config

  configView(): { source: string; text: string | null; config: unknown } {
    return this.config.view();
  }

  validateConfigText(text: string): { issues: Issue[]; warnings: Issue[] } {
    return this.config.validate(text);
  }

  reloadConfig(): Promise<ConfigReloadResult> {
    return this.config.reload();
  }

  saveConfigText(
    text: string,
    options: { baseHash?: string; dryRun?: boolean } = {},
  ): Promise<ConfigSaveResult> {
    return this.config.save(text, options);
  }
}

/**
 * Create a runtime from the config found by the documented lookup (or the embedded default).
 *
 * @example
 * ```ts
 * const runtime = await createRuntime({ cwd: process.cwd() });
 * await runtime.start();
 * const run = await runtime.runWorkflow('demo');
 * ```
 */
export function createRuntime(options: CreateRuntimeOptions = {}): Promise<Runtime> {
  return Runtime.create(options);
}
