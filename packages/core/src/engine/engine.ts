/**
 * The run engine: turns runs (DAGs of tasks) into scheduler jobs and follows them to the end.
 *
 * This file is the facade (lifecycle and user actions). The work is split by reason to change:
 * - `ledger.ts`      every task change: transitions checked, written to the store, indexed, events;
 * - `transitions.ts` the task state machine (from → to → who may cause it);
 * - `run-index.ts`   the in-memory index of active runs (ready sets, counts, failure propagation);
 * - `loop.ts`        when ticks run (timers, backoff, pulse, marker checks);
 * - `submit.ts`      intent → submit → outcome; `select.ts` which ready tasks go now (fair share);
 * - `reconcile.ts`   orphans looked up by tag, the cancel queue;
 * - `poll.ts`        status and marker checks; `status-map.ts` JobStatus → task change (pure);
 * - `generators.ts`  generates_source; `paths.ts` log and working dirs.
 *
 * One loop per backend. Each tick: reconcile interrupted submissions (ONE `findByTags`), cancel what
 * the user cancelled (ONE `cancel`), ONE `status()` call for every active job of the backend
 * (whatever the number of runs), then ONE `submit()` call for the ready tasks that fit. Every change
 * is stored as it happens (`submitting` + tag BEFORE `submit`), so a crash never leads to a
 * duplicate submission. The engine never calls a backend on behalf of a read; only its loops and
 * explicit user actions (cancel, log reads) do. See docs/architecture.md.
 */
import { randomUUID } from 'node:crypto';
import type { LogChunk, LogReadOptions } from '../backend.js';
import type { RerunMode, RunRecord, TaskRecord, TaskState } from '../domain.js';
import { ScriptHutError, toError } from '../errors.js';
import type { RunSummary } from '../store.js';
import { EngineEvents } from './events.js';
import { type EngineContext, Ledger } from './ledger.js';
import { BackendLoop } from './loop.js';
import { OutputCollector } from './outputs.js';
import { pollStatus, quickPoll } from './poll.js';
import { flushCancelQueue, queueCancel, reconcileOrphans } from './reconcile.js';
import { type InPlaceScope, planRerunInPlace } from './rerun-in-place.js';
import { cachingSupported } from './resume.js';
import {
  type BackendIndex,
  createBackendIndex,
  newTaskRecord,
  summaryOf,
  TRACKED_STATES,
} from './run-index.js';
import { newRunRecord } from './run-input.js';
import { submitReady } from './submit.js';
import { IllegalTransitionError } from './transitions.js';
import type { BackendLoopState, CreateRunInput, EngineLogger, EngineOptions } from './types.js';
import { DEFAULT_USAGE_GRACE_MS, fetchUsageStep, restoreAwaitingUsage } from './usage-step.js';

export type { BackendLoopState, CreateRunInput, EngineLogger, EngineOptions } from './types.js';

const NOOP_LOGGER: EngineLogger = { info() {}, warn() {}, error() {} };

function newRunId(): string {
  return randomUUID().replace(/-/g, '').slice(0, 8);
}

/** A backend with its index and its loop. */
interface Lane {
  index: BackendIndex;
  loop: BackendLoop;
}

/**
 * The engine. Construct with a store and backends, `await start()`, then create runs.
 *
 * @example
 * ```ts
 * const engine = new Engine({ store, backends: [slurm], pollIntervalMs: 30_000 });
 * await engine.start();
 * const { tasks } = parseTaskDocument(json, { knownEnvironments: [] });
 * const run = engine.createRun({ workflowName: 'wf', backendName: 'slurm', origin: { kind: 'adhoc' },
 *   tasks, maxConcurrent: 10 });
 * engine.events.on('run', ({ summary }) => console.log(summary.status));
 * ```
 */
export class Engine {
  readonly events = new EngineEvents();
  private readonly ledger: Ledger;
  private readonly ctx: EngineContext;
  private readonly lanes = new Map<string, Lane>();
  private readonly now: () => Date;
  private readonly log: EngineLogger;
  private readonly clusterInfoIntervalMs: number;
  private readonly autoLoop: boolean;
  private started = false;
  private readonly pendingWork = new Set<Promise<unknown>>();
  private readonly usageGraceMs: number;
  /** Task output listings (null without `outputStore`). */
  private readonly outputs: OutputCollector | null;

  constructor(options: EngineOptions) {
    this.now = options.now ?? (() => new Date());
    this.log = options.logger ?? NOOP_LOGGER;
    this.clusterInfoIntervalMs = options.clusterInfoIntervalMs ?? 60_000;
    this.autoLoop = options.autoLoop ?? true;
    this.usageGraceMs = options.usageGraceMs ?? DEFAULT_USAGE_GRACE_MS;
    const strict = options.strictTransitions ?? process.env.VITEST !== undefined;
    this.ledger = new Ledger(options.store, this.events, this.now, this.log, strict);
    const pollIntervalMs = Math.max(0, options.pollIntervalMs);
    this.ctx = {
      ledger: this.ledger,
      pollIntervalMs,
      lostJobGraceMs: options.lostJobGraceMs ?? 10 * 60 * 1000,
      outputsGraceMs: options.outputsGraceMs ?? 30_000,
      arrays: (name) => options.arrays?.[name] ?? {},
      noteBackendError: (index, message) => {
        const lane = this.lanes.get(index.backend.name);
        if (lane) lane.loop.health.lastError = message;
      },
    };
    this.outputs = options.outputStore
      ? new OutputCollector(options.outputStore, options.store, this.now, this.log)
      : null;
    if (this.outputs) this.events.on('task', (e) => this.noteEndedTask(e.runId, e.task, e.from));
    for (const backend of options.backends) {
      if (this.lanes.has(backend.name))
        throw new ScriptHutError('config_invalid', `duplicate backend ${backend.name}`);
      const index = createBackendIndex(backend);
      const lane: Lane = {
        index,
        loop: new BackendLoop(
          backend,
          pollIntervalMs,
          {
            tick: () => this.tickBody(lane),
            quick: () => quickPoll(this.ctx, index),
            hasTrackedJobs: () => index.tracked.size > 0,
            afterTick: (at, durationMs, error) => {
              this.ledger.flushRunEvents();
              this.events.emit('poll', { backend: backend.name, at, durationMs, error });
            },
          },
          this.now,
          this.log,
        ),
      };
      this.lanes.set(backend.name, lane);
    }
  }

  private get store() {
    return this.ledger.store;
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle
  // -------------------------------------------------------------------------------------------

  /** Restore unfinished runs from the store, adopt interrupted submissions, start the loops. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const runId of this.store.listUnfinishedRunIds()) {
      try {
        const run = this.store.getRun(runId);
        if (!run) continue;
        const lane = this.lanes.get(run.backendName);
        if (!lane) {
          this.log.warn(
            `run ${runId} uses backend "${run.backendName}", which is not configured: not restored`,
          );
          continue;
        }
        const rs = this.ledger.register(run, lane.index, this.store.allTasks(runId));
        this.log.info(`restored run ${runId}`, { tasks: rs.tasks.size, active: rs.active });
      } catch (e) {
        this.log.error(`cannot restore run ${runId}: ${toError(e).message}`);
      }
    }
    // Adoption: one findByTags per backend for tasks left in `submitting`.
    await Promise.all(
      [...this.lanes.values()].map(async ({ index }) => {
        if (index.orphans.size === 0) return;
        try {
          await reconcileOrphans(this.ctx, index);
        } catch (e) {
          if (e instanceof IllegalTransitionError) throw e;
          this.log.warn(`adoption on ${index.backend.name} failed, will retry: ${toError(e).message}`);
        }
      }),
    );
    for (const { index } of this.lanes.values()) restoreAwaitingUsage(this.ctx, index);
    this.ledger.flushRunEvents();
    this.outputs?.restore([...this.lanes.values()].map((l) => l.index.backend));
    if (this.autoLoop) for (const { loop } of this.lanes.values()) loop.start();
  }

  /** Stop the loops and wait for in-flight work (submissions, polls, cancels). */
  async stop(): Promise<void> {
    await Promise.all([...this.lanes.values()].map(({ loop }) => loop.stop()));
    await Promise.allSettled([...this.pendingWork]);
    this.started = false;
  }

  /** Wake a backend loop (or all loops) early. */
  pulse(backendName?: string): void {
    const lanes = backendName
      ? [this.lanes.get(backendName)].filter((l): l is Lane => !!l)
      : [...this.lanes.values()];
    for (const { loop } of lanes) loop.pulse();
  }

  /**
   * Run one tick of a backend loop now (serialised with the loop's own ticks). Used by tests and
   * benchmarks with `autoLoop: false`; harmless otherwise.
   */
  tick(backendName: string): Promise<void> {
    return this.needLane(backendName).loop.tickNow();
  }

  /**
   * Run one marker check (`quickStatus`) of a backend now, serialised with its ticks (tests with
   * `autoLoop: false`). Resolves the number of tasks that finished.
   */
  quickTick(backendName: string): Promise<number> {
    return this.needLane(backendName).loop.quickNow();
  }

  /** Health of a backend loop. */
  backendState(name: string): BackendLoopState {
    const { loop, index } = this.needLane(name);
    return { ...loop.health, inFlight: index.active };
  }

  /** Ids of runs the engine is driving (not finished). */
  activeRunIds(): string[] {
    return [...this.ledger.runs.keys()];
  }

  /** Summary of a run from the engine's memory when active, else from the store. */
  summary(runId: string): RunSummary | null {
    const rs = this.ledger.runs.get(runId);
    return rs ? summaryOf(rs) : this.store.summarizeRun(runId);
  }

  // -------------------------------------------------------------------------------------------
  // User actions
  // -------------------------------------------------------------------------------------------

  /** Persist a run and its tasks (all `pending`) and wake its backend loop. */
  createRun(input: CreateRunInput): RunRecord {
    const lane = this.lanes.get(input.backendName);
    if (!lane) throw new ScriptHutError('not_found', `backend "${input.backendName}" is not configured`);
    const run = newRunRecord(input, this.freeRunId(), this.now());
    if (run.resume && !cachingSupported(lane.index.backend))
      throw new ScriptHutError(
        'validation_failed',
        `--resume is unavailable on ${lane.index.backend.type} backend "${input.backendName}": its jobs share no filesystem with ScriptHut to check outputs on (docs/resume.md)`,
      );
    return this.insertRun(
      run,
      lane,
      input.tasks.map((spec, seq) => newTaskRecord(run, spec, seq)),
    );
  }

  /** Cancel a run: pending tasks → cancelled, scheduler jobs cancelled in one batched call. */
  async cancelRun(runId: string): Promise<RunSummary> {
    const rs = this.ledger.runs.get(runId);
    if (!rs) {
      const summary = this.store.summarizeRun(runId);
      if (!summary) throw new ScriptHutError('not_found', `run ${runId} not found`);
      return summary;
    }
    if (!rs.run.cancelRequestedAt) {
      const at = this.now().toISOString();
      this.store.updateRun(runId, { cancelRequestedAt: at });
      rs.run.cancelRequestedAt = at;
      this.ledger.markDirty(rs);
    }
    this.ledger.cancelPending(rs);
    const jobs = [...rs.tasks.values()].filter((t) => TRACKED_STATES.has(t.state) && t.jobId);
    queueCancel(
      rs.backendIndex,
      jobs.map((t) => ({ rs, taskId: t.spec.id })),
    );
    const work = flushCancelQueue(this.ctx, rs.backendIndex, rs);
    this.pendingWork.add(work);
    try {
      await work;
    } finally {
      this.pendingWork.delete(work);
    }
    this.ledger.flushRunEvents();
    return this.summary(runId)!;
  }

  /**
   * Create a new run from an existing one. `all`: every task again (tasks that a generates_source
   * task added are left out: the generator adds them again). `failed`: completed tasks are kept as
   * completed (with their job id and logs), every other task runs again.
   */
  rerun(runId: string, mode: RerunMode): RunRecord {
    if (this.ledger.runs.has(runId))
      throw new ScriptHutError('conflict', `run ${runId} is still active; cancel it first`);
    const old = this.store.getRun(runId);
    if (!old) throw new ScriptHutError('not_found', `run ${runId} not found`);
    const lane = this.needLane(old.backendName);
    let oldTasks = this.store.allTasks(runId);
    if (mode !== 'failed') oldTasks = oldTasks.filter((t) => typeof t.meta.generatedBy !== 'string');
    const run: RunRecord = {
      ...structuredClone(old),
      id: this.freeRunId(),
      origin: { kind: 'rerun', fromRunId: runId, mode },
      createdAt: this.now().toISOString(),
      cancelRequestedAt: null,
    };
    if (mode === 'resume') {
      if (!cachingSupported(lane.index.backend))
        throw new ScriptHutError(
          'validation_failed',
          `resume is unavailable on ${lane.index.backend.type} backend "${old.backendName}" (docs/resume.md)`,
        );
      run.resume = true;
    } else delete run.resume;
    const tasks = oldTasks.map((t, seq): TaskRecord => {
      if (mode === 'failed' && t.state === 'completed') {
        return {
          ...t,
          runId: run.id,
          seq,
          submitTag: null,
          meta: { ...t.meta, keptFrom: runId },
          version: 0,
        };
      }
      const rec = newTaskRecord(run, t.spec, seq);
      if (typeof t.meta.generatedBy === 'string') rec.meta = { generatedBy: t.meta.generatedBy };
      return rec;
    });
    return this.insertRun(run, lane, tasks);
  }

  /**
   * Rerun a finished run in place (same run id): its failed, dep_failed and cancelled tasks (`all`:
   * every task) go back to `pending`, each reset recorded as a transition, and the run is driven
   * again. `conflict` while the run is active or when nothing would run again. See rerun-in-place.ts.
   */
  rerunInPlace(runId: string, scope: InPlaceScope): RunRecord {
    if (this.ledger.runs.has(runId))
      throw new ScriptHutError(
        'conflict',
        `run ${runId} is still active; wait for it to end or cancel it first`,
      );
    const run = this.store.getRun(runId);
    if (!run) throw new ScriptHutError('not_found', `run ${runId} not found`);
    const lane = this.needLane(run.backendName);
    const plan = planRerunInPlace(run, this.store.allTasks(runId), scope, this.now().toISOString());
    for (const { task, from } of plan.reset)
      this.ledger.checkTransition(from, 'pending', 'rerun', `run ${runId} task ${task.spec.id}`);
    if (run.cancelRequestedAt) this.store.updateRun(runId, { cancelRequestedAt: null });
    run.cancelRequestedAt = null;
    this.store.updateTasks(plan.updates);
    const rs = this.ledger.register(run, lane.index, this.store.allTasks(runId));
    for (const { task, from } of plan.reset) this.ledger.emitTask(rs.tasks.get(task.spec.id)!, from);
    this.ledger.flushRunEvents();
    this.pulse(run.backendName);
    return { ...run };
  }

  /** Delete a finished run (ScriptHutError `conflict` while it is active). */
  deleteRun(runId: string): void {
    if (this.ledger.runs.has(runId))
      throw new ScriptHutError('conflict', `run ${runId} is still active; cancel it first`);
    if (!this.store.getRun(runId)) throw new ScriptHutError('not_found', `run ${runId} not found`);
    this.store.deleteRun(runId);
    this.events.emit('run-deleted', { runId });
  }

  /** Read part of a task's log from its backend (an explicit user action). */
  async readTaskLog(
    runId: string,
    taskId: string,
    stream: 'stdout' | 'stderr',
    options: LogReadOptions,
  ): Promise<LogChunk> {
    const run = this.ledger.runs.get(runId)?.run ?? this.store.getRun(runId);
    if (!run) throw new ScriptHutError('not_found', `run ${runId} not found`);
    const task = this.store.getTask(runId, taskId);
    if (!task) throw new ScriptHutError('not_found', `task ${taskId} not found in run ${runId}`);
    const { index } = this.needLane(run.backendName);
    return index.backend.readLog(
      {
        jobId: task.jobId,
        runId,
        taskId,
        path: stream === 'stdout' ? task.stdoutPath : task.stderrPath,
        stream,
        meta: task.meta,
      },
      options,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Internals
  // -------------------------------------------------------------------------------------------

  private needLane(name: string): Lane {
    const lane = this.lanes.get(name);
    if (!lane) throw new ScriptHutError('not_found', `backend "${name}" is not configured`);
    return lane;
  }

  private freeRunId(): string {
    let id = newRunId();
    while (this.store.getRun(id)) id = newRunId();
    return id;
  }

  /** Store a new run with its tasks, index it, announce it and wake its loop. */
  private insertRun(run: RunRecord, lane: Lane, tasks: TaskRecord[]): RunRecord {
    for (const t of tasks)
      this.ledger.checkTransition(null, t.state, 'create', `run ${run.id} task ${t.spec.id}`);
    this.store.insertRun(run, tasks);
    const rs = this.ledger.register(run, lane.index, tasks);
    this.events.emit('run-created', { run: { ...run } });
    this.ledger.emitNewTasks(rs.tasks.values());
    this.ledger.flushRunEvents();
    this.pulse(run.backendName);
    return { ...run };
  }

  /**
   * One tick of a backend (see the class comment). Resolves true when another tick should follow at
   * once; throws the first error that should count as a backend error (after doing the rest).
   */
  private async tickBody({ index, loop }: Lane): Promise<boolean> {
    const errors: Error[] = [];
    const step = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        if (e instanceof IllegalTransitionError) throw e;
        errors.push(toError(e));
      }
    };
    if (index.orphans.size) await step(() => reconcileOrphans(this.ctx, index));
    if (index.cancelQueue.size) await step(() => flushCancelQueue(this.ctx, index, null));
    for (const rs of index.runs)
      if (rs.run.cancelRequestedAt && rs.counts.pending) this.ledger.cancelPending(rs);
    let again = false;
    if (index.tracked.size)
      await step(async () => {
        again = await pollStatus(this.ctx, index);
      });
    await fetchUsageStep(this.ctx, index, this.usageGraceMs);
    this.ledger.flushRunEvents();
    // Submission is skipped while the backend is failing (likely unreachable).
    if (errors.length === 0) await step(() => submitReady(this.ctx, index));
    if (this.outputs?.isDue(index.backend.name)) await this.outputs.collect(index.backend);
    await this.refreshClusterInfo(index, loop);
    if (errors.length) throw errors[0];
    return again;
  }

  /** A task that ended with a job is queued for its output listing. */
  private noteEndedTask(runId: string, task: TaskRecord, from: TaskState | null): void {
    const ended = task.state === 'completed' || task.state === 'failed' || task.state === 'cancelled';
    if (!ended || from === task.state || from === null || !task.jobId) return;
    const backendName = this.ledger.runs.get(runId)?.run.backendName ?? this.store.getRun(runId)?.backendName;
    const lane = backendName ? this.lanes.get(backendName) : undefined;
    if (lane) this.outputs?.enqueue(lane.index.backend, runId, task.spec.id);
  }

  private async refreshClusterInfo(index: BackendIndex, loop: BackendLoop): Promise<void> {
    if (this.clusterInfoIntervalMs <= 0) return;
    const last = loop.health.clusterInfoAt ? Date.parse(loop.health.clusterInfoAt) : 0;
    if (this.now().getTime() - last < this.clusterInfoIntervalMs) return;
    try {
      loop.health.clusterInfo = await index.backend.clusterInfo();
      loop.health.clusterInfoAt = this.now().toISOString();
    } catch (e) {
      this.log.warn(`backend ${index.backend.name}: cluster info failed: ${toError(e).message}`);
    }
  }
}
