/**
 * A small in-memory ScriptHutRuntime for API tests: one `local` backend, a `demo` workflow of three
 * tasks (`prep`, `work.a`, `work.b`), a source and a project. `setState`/`completeAll` move tasks along so
 * tests can observe live events. Every event listener is counted so tests can prove SSE cleanup.
 *
 * This file holds the state (runs, tasks, logs, outputs, events); the fixed catalogue is in
 * stub-catalog.ts and the views derived from recorded runs are in stub-run-views.ts.
 */
import { EventEmitter } from 'node:events';
import {
  aggregateUsage,
  type Issue,
  isTerminalTaskState,
  ledgerEntryOf,
  outputContentType,
  outputKind,
  type RerunMode,
  type RunActivity,
  type RunRecord,
  type RunSummary,
  runActivity,
  ScriptHutError,
  type TaskRecord,
  type TaskSpec,
  type TaskState,
  type TaskTransition,
  type UsageBucket,
  type UsageLedgerEntry,
} from '@scripthut/core';
import type {
  AdhocTaskInput,
  BackendDetail,
  BackendView,
  ConfigReloadResult,
  ConfigSaveResult,
  CostEstimate,
  DryRunResult,
  JobView,
  NotificationStats,
  OutputFileContent,
  ProjectView,
  RunCost,
  RunOptions,
  RunSummaryView,
  RuntimeEvents,
  ScriptHutRuntime,
  SourceView,
  TaskOutputsView,
  WorkflowView,
} from '@scripthut/runtime';
import { statsOf } from '@scripthut/runtime';
import {
  stubBackends,
  stubCommandLog,
  stubConfigView,
  stubDryRun,
  stubEstimate,
  stubExternalJob,
  stubProjects,
  stubProjectWorkflows,
  stubReloadResult,
  stubRunCost,
  stubSettings,
  stubSources,
  stubSpec,
  stubValidateConfig,
  stubWorkflowSpecs,
  stubWorkflows,
} from './stub-catalog.js';
import {
  runSummaryView,
  type StubRunEntry,
  type StubTaskOutputs,
  summarizeRun,
  taskJobViews,
  taskOutputsView,
} from './stub-run-views.js';

export { STUB_TOKEN } from './stub-catalog.js';

export class StubRuntime implements ScriptHutRuntime {
  configSource: ScriptHutRuntime['configSource'] = { kind: 'default' };
  readonly dataDir = '/tmp/stub';
  readonly emitter = new EventEmitter();
  readonly events: RuntimeEvents = this.emitter as unknown as RuntimeEvents;
  /** Mutable so tests can rotate the token or change the allowed hosts. */
  readonly settings: ScriptHutRuntime['settings'] = stubSettings();
  /** Texts written by saveConfigText. */
  readonly saved: string[] = [];
  readonly runs = new Map<string, StubRunEntry>();
  readonly logs = new Map<string, string>();
  private counter = 0;
  /** Calls made, for asserting that bad input changed nothing. */
  readonly calls: string[] = [];
  /** When set, the next run-creating call throws it. */
  failNext: Error | null = null;
  /** The array mode dry runs report (`work.a` and `work.b` form array 0 unless it is off). */
  dryRunArrays: { mode: 'auto' | 'off'; setBy: 'workflow' | 'backend' } | null = null;

  private timers = new Set<ReturnType<typeof setTimeout>>();
  /** With `autoAdvance`, runs progress on their own (a tiny simulated scheduler) — for UI development. */
  constructor(private readonly options: { autoAdvance?: boolean; stepMs?: number } = {}) {}

  async start() {}
  async close() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(fn: () => void, ms: number) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** One step of the simulated scheduler: start ready tasks, finish running ones. */
  private step(runId: string) {
    const e = this.runs.get(runId);
    if (!e) return;
    const state = new Map(e.tasks.map((t) => [t.spec.id, t.state] as const));
    for (const t of e.tasks) {
      if (t.state === 'running') {
        this.logs.set(
          `${runId}/${t.spec.id}/stdout`,
          `${this.logs.get(`${runId}/${t.spec.id}/stdout`) ?? ''}${t.spec.id} finished\n`,
        );
        this.setState(runId, t.spec.id, 'completed', { exitCode: 0 });
      } else if (t.state === 'pending' && t.spec.deps.every((d) => state.get(d) === 'completed')) {
        this.logs.set(`${runId}/${t.spec.id}/stdout`, `${t.spec.id} started\n`);
        this.setState(runId, t.spec.id, 'running', { node: 'localhost' });
      }
    }
    const s = this.getRun(runId);
    if (s.status === 'running' || s.status === 'pending')
      this.schedule(() => this.step(runId), this.options.stepMs ?? 1500);
  }

  listenerCount(): number {
    return this.emitter.eventNames().reduce((n, e) => n + this.emitter.listenerCount(e), 0);
  }

  listBackends(): BackendView[] {
    return stubBackends();
  }
  getBackend(name: string): BackendDetail {
    const b = this.listBackends().find((x) => x.name === name);
    if (!b) throw new ScriptHutError('not_found', `unknown backend ${name}`);
    return { ...b, commandLog: stubCommandLog() };
  }
  listWorkflows(): WorkflowView[] {
    return stubWorkflows();
  }
  private specsFor(name: string): TaskSpec[] {
    if (name !== 'demo' && !name.includes('/'))
      throw new ScriptHutError('not_found', `unknown workflow ${name}`);
    return stubWorkflowSpecs();
  }
  async dryRunWorkflow(name: string, options: RunOptions = {}): Promise<DryRunResult> {
    return stubDryRun(name, this.specsFor(name), options.backend ?? 'local', this.dryRunArrays);
  }
  createRun(name: string, specs: TaskSpec[], origin: RunRecord['origin'], backend = 'local'): RunSummary {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = null;
      throw e;
    }
    if (!this.listBackends().some((b) => b.name === backend))
      throw new ScriptHutError('not_found', `unknown backend ${backend}`);
    const id = (0x10000000 + ++this.counter).toString(16).slice(-8);
    const run: RunRecord = {
      id,
      workflowName: name,
      backendName: backend,
      origin,
      createdAt: new Date().toISOString(),
      maxConcurrent: null,
      logDir: '/tmp/logs',
      baseDir: null,
      git: null,
      cancelRequestedAt: null,
      environments: {},
    };
    const tasks: TaskRecord[] = specs.map((s, seq) => ({
      runId: id,
      seq,
      spec: s,
      state: 'pending',
      submitTag: null,
      jobId: null,
      pendingReason: null,
      exitCode: null,
      error: null,
      script: null,
      stdoutPath: null,
      stderrPath: null,
      submittedAt: null,
      startedAt: null,
      finishedAt: null,
      node: null,
      meta: {},
      version: 0,
    }));
    this.runs.set(id, { run, tasks, transitions: [] });
    this.calls.push(`create:${id}`);
    this.emitter.emit('run-created', { run });
    if (this.options.autoAdvance) this.schedule(() => this.step(id), this.options.stepMs ?? 1500);
    return this.getRun(id);
  }
  async runWorkflow(name: string, options: RunOptions = {}): Promise<RunSummary> {
    return this.createRun(name, this.specsFor(name), { kind: 'workflow', name }, options.backend);
  }
  listSources(): SourceView[] {
    return stubSources();
  }
  async syncSource(name: string): Promise<SourceView> {
    const s = this.listSources().find((x) => x.name === name);
    if (!s) throw new ScriptHutError('not_found', `unknown source ${name}`);
    this.calls.push(`sync:${name}`);
    return s;
  }
  async dryRunSourceWorkflow(source: string, file: string, options?: RunOptions) {
    await this.syncSource(source);
    return this.dryRunWorkflow(`${source}/${file}`, options);
  }
  async runSourceWorkflow(source: string, file: string, options: RunOptions = {}) {
    await this.syncSource(source);
    return this.createRun(
      `${source}/${file}`,
      this.specsFor(`${source}/${file}`),
      { kind: 'source', source, file },
      options.backend,
    );
  }
  listProjects(): ProjectView[] {
    return stubProjects();
  }
  async listProjectWorkflows(project: string): Promise<WorkflowView[]> {
    if (project !== 'proj') throw new ScriptHutError('not_found', `unknown project ${project}`);
    return stubProjectWorkflows();
  }
  async dryRunProjectWorkflow(project: string, file: string, options?: RunOptions) {
    await this.listProjectWorkflows(project);
    return this.dryRunWorkflow(`${project}/${file}`, options);
  }
  async runProjectWorkflow(project: string, file: string, options: RunOptions = {}) {
    await this.listProjectWorkflows(project);
    if (options.branch !== undefined || options.commit !== undefined)
      this.calls.push(`git:${project}/${file}:${options.branch ?? ''}:${options.commit ?? ''}`);
    return this.createRun(
      `${project}/${file}`,
      this.specsFor(`${project}/${file}`),
      { kind: 'project', project, file },
      options.backend,
    );
  }
  async runAdhocTask(input: AdhocTaskInput) {
    return this.createRun(
      input.runName ?? `_adhoc/${input.id ?? 'task'}`,
      [stubSpec(input.id ?? 'task', [], input.command)],
      { kind: 'adhoc' },
      input.backend,
    );
  }
  private entry(runId: string) {
    const e = this.runs.get(runId);
    if (!e) throw new ScriptHutError('not_found', `run ${runId} not found`);
    return e;
  }
  listRuns(query: import('@scripthut/runtime').RunQuery = {}) {
    let items = [...this.runs.values()].reverse().map((e) => summarizeRun(e));
    if (query.status) items = items.filter((s) => s.status === query.status);
    if (query.workflow) items = items.filter((s) => s.run.workflowName === query.workflow);
    if (query.backend) items = items.filter((s) => s.run.backendName === query.backend);
    const total = items.length;
    const offset = query.offset ?? 0;
    return { items: items.slice(offset, offset + (query.limit ?? 50)), total };
  }
  getRun(runId: string): RunSummary {
    return summarizeRun(this.entry(runId));
  }
  listTasks(runId: string, query: import('@scripthut/runtime').TaskQuery = {}) {
    let items = this.entry(runId).tasks;
    if (query.states) items = items.filter((t) => query.states?.includes(t.state));
    if (query.idPrefix) items = items.filter((t) => t.spec.id.startsWith(query.idPrefix as string));
    const offset = query.offset ?? 0;
    return { items: items.slice(offset, offset + (query.limit ?? 100)), total: items.length };
  }
  getTask(runId: string, taskId: string): TaskRecord {
    const t = this.entry(runId).tasks.find((x) => x.spec.id === taskId);
    if (!t) throw new ScriptHutError('not_found', `task ${taskId} not found in run ${runId}`);
    return t;
  }
  taskTransitions(runId: string, taskId: string): TaskTransition[] {
    return this.entry(runId).transitions.filter((t) => t.taskId === taskId);
  }
  runActivity(runId: string): RunActivity {
    const e = this.entry(runId);
    return runActivity(e.transitions, { startTimes: new Map(e.tasks.map((t) => [t.spec.id, t.startedAt])) });
  }
  /** Moves a task to a state, records the transition and emits events. */
  setState(runId: string, taskId: string, to: TaskState, extra: Partial<TaskRecord> = {}) {
    const e = this.entry(runId);
    const t = this.getTask(runId, taskId);
    const from = t.state;
    const now = new Date().toISOString();
    Object.assign(t, extra, { state: to, version: t.version + 1 });
    if (to === 'submitted' || to === 'queued') t.submittedAt ??= now;
    if (to === 'running') {
      t.submittedAt ??= now;
      t.startedAt ??= now;
      t.jobId ??= String(1000 + t.seq);
      t.script ??= `#!/bin/bash\n${t.spec.command}\n`;
    }
    if (isTerminalTaskState(to)) t.finishedAt ??= now;
    e.transitions.push({ runId, taskId, from, to, at: now, reason: null });
    this.emitter.emit('task', { runId, task: { ...t }, from });
    this.emitter.emit('run', { runId, summary: this.getRun(runId) });
  }
  /** Runs every task of a run to `completed`, writing a log line each. */
  completeAll(runId: string) {
    for (const t of this.entry(runId).tasks) {
      if (isTerminalTaskState(t.state)) continue;
      this.setState(runId, t.spec.id, 'running');
      this.logs.set(`${runId}/${t.spec.id}/stdout`, `${t.spec.id} says hello\n`);
      this.setState(runId, t.spec.id, 'completed', { exitCode: 0 });
    }
  }
  async cancelRun(runId: string) {
    const e = this.entry(runId);
    e.run.cancelRequestedAt = new Date().toISOString();
    for (const t of e.tasks) if (!isTerminalTaskState(t.state)) this.setState(runId, t.spec.id, 'cancelled');
    this.calls.push(`cancel:${runId}`);
    return this.getRun(runId);
  }
  async rerunRun(runId: string, mode: RerunMode) {
    const e = this.entry(runId);
    this.calls.push(`rerun:${runId}:${mode}`);
    // rerun in place (RunRerunMode): the same run again
    if ((mode as string).startsWith('in-place')) return this.getRun(runId);
    const specs =
      mode !== 'failed'
        ? e.tasks.map((t) => t.spec)
        : e.tasks
            .filter((t) => t.state !== 'completed')
            .map((t) => ({
              ...t.spec,
              deps: t.spec.deps.filter((d) => e.tasks.find((x) => x.spec.id === d)?.state !== 'completed'),
            }));
    if (specs.length === 0) throw new ScriptHutError('conflict', 'nothing to rerun: every task completed');
    return this.createRun(
      e.run.workflowName,
      specs,
      { kind: 'rerun', fromRunId: runId, mode },
      e.run.backendName,
    );
  }
  deleteRun(runId: string) {
    const s = this.getRun(runId);
    if (s.status === 'running' || s.status === 'pending')
      throw new ScriptHutError('conflict', `run ${runId} is ${s.status}; cancel it first`);
    this.runs.delete(runId);
    this.calls.push(`delete:${runId}`);
    this.emitter.emit('run-deleted', { runId });
  }
  async readTaskLog(
    runId: string,
    taskId: string,
    stream: 'stdout' | 'stderr',
    options: import('@scripthut/core').LogReadOptions = {},
  ) {
    this.getTask(runId, taskId);
    const text = this.logs.get(`${runId}/${taskId}/${stream}`);
    if (text === undefined) return { content: '', nextOffset: 0, missing: true };
    const buf = Buffer.from(text);
    const start = options.offset ?? Math.max(0, buf.length - (options.tailBytes ?? buf.length));
    return { content: buf.subarray(start).toString(), nextOffset: buf.length };
  }
  /** Usage ledger (tests may add rows of deleted runs). */
  readonly ledger: UsageLedgerEntry[] = [];
  usageBuckets(unit: 'day' | 'hour', sinceIso: string): UsageBucket[] {
    const entries = [...this.ledger];
    for (const { run, tasks } of this.runs.values())
      for (const t of tasks) {
        const e = ledgerEntryOf(t, run);
        if (e) entries.push(e);
      }
    return aggregateUsage(entries, unit, sinceIso);
  }

  listJobs(query: import('@scripthut/runtime').JobQuery = {}): JobView[] {
    const jobs = taskJobViews(this.runs.values());
    if (!query.mine) jobs.push(stubExternalJob());
    return jobs;
  }
  async runCost(runId: string): Promise<RunCost> {
    this.entry(runId);
    return stubRunCost();
  }
  async estimateWorkflow(_kind: WorkflowView['kind'], name: string): Promise<CostEstimate> {
    this.calls.push(`estimate:${name}`);
    this.specsFor(name);
    return stubEstimate();
  }
  configView() {
    return stubConfigView();
  }
  validateConfigText(text: string): { issues: Issue[]; warnings: Issue[] } {
    return stubValidateConfig(text);
  }
  async reloadConfig(): Promise<ConfigReloadResult> {
    this.calls.push('reload');
    return stubReloadResult();
  }
  async saveConfigText(
    text: string,
    options: { baseHash?: string; dryRun?: boolean } = {},
  ): Promise<ConfigSaveResult> {
    const { issues, warnings } = this.validateConfigText(text);
    if (issues.length > 0 || options.dryRun)
      return { saved: false, issues, warnings, backupPath: null, reload: null };
    this.saved.push(text);
    return {
      saved: true,
      issues,
      warnings,
      backupPath: '/tmp/stub/scripthut.yaml.bak',
      reload: await this.reloadConfig(),
    };
  }

  // ---- task outputs and notifications ----
  /** Recorded outputs per `<runId>/<taskId>` (files and their bytes), set by tests. */
  readonly outputs = new Map<string, StubTaskOutputs>();

  taskOutputs(runId: string, taskId: string): TaskOutputsView {
    const task = this.getTask(runId, taskId);
    return taskOutputsView(runId, task, this.outputs.get(`${runId}/${taskId}`));
  }

  async readTaskOutputFile(runId: string, taskId: string, path: string): Promise<OutputFileContent> {
    this.getTask(runId, taskId);
    const data = this.outputs.get(`${runId}/${taskId}`)?.files[path];
    if (!data) throw new ScriptHutError('not_found', `task ${taskId} has no recorded output ${path}`);
    return { path, kind: outputKind(path), contentType: outputContentType(path), data };
  }

  runSummary(runId: string): RunSummaryView {
    const e = this.runs.get(runId);
    if (!e) throw new ScriptHutError('not_found', `unknown run "${runId}"`);
    return runSummaryView(runId, e.tasks, this.outputs);
  }

  notificationStats(): NotificationStats {
    return statsOf([...this.runs.keys()].map((id) => this.getRun(id)));
  }
}
