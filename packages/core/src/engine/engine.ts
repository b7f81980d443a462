/**
 * The run engine: turns runs (DAGs of tasks) into scheduler jobs and follows them to the end.
 *
 * - One loop per backend. Each tick: reconcile interrupted submissions (by tag), cancel what the
 *   user cancelled, ONE `backend.status()` call for every active job of the backend (whatever the
 *   number of runs), apply the changes, then ONE `backend.submit()` call for the ready tasks that
 *   fit, with free slots shared fairly between runs.
 * - Every change is written to the store as it happens (`submitting` + tag BEFORE `submit`), so a
 *   crash never leads to a duplicate submission: on start, `submitting` tasks are adopted by tag.
 * - An in-memory index (deps, reverse deps, unmet counts, ready sets, counts) keeps a scheduling
 *   pass O(ready + changed), not O(all tasks).
 * - The engine never calls a backend on behalf of a read; only its loops and explicit user actions
 *   (cancel, log reads) do.
 */
import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import type {
  Backend,
  ClusterInfo,
  JobState,
  JobStatus,
  LogChunk,
  LogReadOptions,
  SubmitOutcome,
  SubmitRequest,
  TrackedJob,
} from '../backend.js';
import {
  deriveRunStatus,
  emptyStateCounts,
  type GitContext,
  isActiveTaskState,
  isTerminalTaskState,
  type RunOrigin,
  type RunRecord,
  type StateCounts,
  type TaskRecord,
  type TaskSpec,
  type TaskState,
} from '../domain.js';
import { injectedEnvironment } from '../environment.js';
import { BackendError, ScriptHutError, toError } from '../errors.js';
import type { RunStore, RunSummary, TaskPatch, TaskUpdate } from '../store.js';
import { findCycles, parseTaskDocument } from '../task-json.js';
import { EngineEvents } from './events.js';
import { buildSubmitRequest } from './preview.js';
import { makeSubmitTag, parseSubmitTag } from './tags.js';

/** Minimal structured logger. */
export interface EngineLogger {
  info(msg: string, data?: object): void;
  warn(msg: string, data?: object): void;
  error(msg: string, data?: object): void;
}

export interface EngineOptions {
  store: RunStore;
  backends: Backend[];
  /** Base interval between polls of a backend (jittered ±10%). */
  pollIntervalMs: number;
  /** Clock (tests). */
  now?: () => Date;
  logger?: EngineLogger;
  /** Grace before a job missing from the scheduler is treated as lost (default 10 min). */
  lostJobGraceMs?: number;
  /** How often the loops refresh `clusterInfo()` (default 60 s; 0 disables). */
  clusterInfoIntervalMs?: number;
  /**
   * When false, `start()` restores and adopts runs but starts no timers: ticks happen only through
   * {@link Engine.tick} (deterministic tests, benchmarks). Default true.
   */
  autoLoop?: boolean;
}

export interface CreateRunInput {
  workflowName: string;
  backendName: string;
  origin: RunOrigin;
  tasks: TaskSpec[];
  maxConcurrent: number | null;
  logDir?: string;
  baseDir?: string | null;
  git?: GitContext | null;
  environments?: RunRecord['environments'];
}

/** Health of one backend loop, as shown by the UI. */
export interface BackendLoopState {
  lastPollAt: string | null;
  lastPollDurationMs: number | null;
  lastError: string | null;
  consecutiveErrors: number;
  /** Tasks holding (or possibly holding) a job on this backend. */
  inFlight: number;
  clusterInfo: ClusterInfo | null;
  clusterInfoAt: string | null;
}

const NOOP_LOGGER: EngineLogger = { info() {}, warn() {}, error() {} };
const MAX_BACKOFF_MS = 5 * 60 * 1000;
const TRACKED_STATES: ReadonlySet<TaskState> = new Set(['submitted', 'queued', 'running']);
const FAILURE_STATES: ReadonlySet<TaskState> = new Set(['failed', 'dep_failed', 'cancelled']);

/** In-memory index of an active run. */
interface RunState {
  run: RunRecord;
  loop: Loop;
  tasks: Map<string, TaskRecord>;
  /** taskId → ids of tasks depending on it. */
  rdeps: Map<string, string[]>;
  /** taskId → number of deps not yet completed. */
  unmet: Map<string, number>;
  /** Pending tasks whose deps are all completed (insertion order ≈ seq order). */
  ready: Set<string>;
  /** Pending tasks waiting for a retry after a transient submission failure: id → retry time (ms). */
  delayed: Map<string, number>;
  /** Transient submission failures per task (for backoff). */
  retries: Map<string, number>;
  /** Generator tasks whose generates_source file is being read. */
  finalizing: Set<string>;
  /** SCRIPTHUT_* variables of the run (same for every task). */
  injected: Record<string, string>;
  counts: StateCounts;
  active: number;
  maxSeq: number;
  firstSubmittedAt: string | null;
  lastFinishedAt: string | null;
}

/** One backend loop. */
interface Loop {
  backend: Backend;
  runs: Set<RunState>;
  /** Tasks with a job id in submitted/queued/running. key = runId + '\0' + taskId. */
  tracked: Map<string, { rs: RunState; taskId: string }>;
  /** `submitting` tasks whose submit call did not return (crash, thrown error): reconcile by tag. */
  orphans: Map<string, { rs: RunState; taskId: string }>;
  /** Jobs of cancelled runs still to cancel at the scheduler. */
  cancelQueue: Map<string, { rs: RunState; taskId: string }>;
  /** First time a job was seen `unknown` / non-final terminal (ms). */
  unknownSince: Map<string, number>;
  provisionalSince: Map<string, number>;
  active: number;
  timer: NodeJS.Timeout | null;
  /** Timer of the marker-based completion check (backends with quickStatus). */
  quickTimer: NodeJS.Timeout | null;
  chain: Promise<void>;
  ticking: boolean;
  again: boolean;
  state: BackendLoopState;
}

interface Change {
  rs: RunState;
  taskId: string;
  patch: TaskPatch;
  to?: TaskState;
  reason?: string | null;
}

const key = (runId: string, taskId: string) => `${runId}\u0000${taskId}`;

/** Sanitise a workflow name into a relative directory name (slashes → `__`). */
export function sanitizeWorkflowName(name: string): string {
  const s = name
    .replace(/\//g, '__')
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, '_');
  return s || '_';
}

/** Default log directory of a workflow on a backend. */
export function defaultLogDir(workflowName: string): string {
  return `~/.cache/scripthut/logs/${sanitizeWorkflowName(workflowName)}`;
}

/** Default log file paths of a task. Task ids with unsafe characters get a sanitised name + seq. */
export function defaultLogPaths(
  logDir: string,
  runId: string,
  taskId: string,
  seq: number,
): { out: string; err: string } {
  const safe = taskId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  const stem = `scripthut_${runId}_${safe === taskId ? safe : `${safe}_${seq}`}`;
  const dir = logDir.replace(/\/+$/, '') || '/';
  return { out: `${dir}/${stem}.out`, err: `${dir}/${stem}.err` };
}

/** Resolve a task's working dir against the run's base dir: `~` → base, relative → base/rel. */
export function resolveWorkingDir(workingDir: string, baseDir: string | null): string {
  if (!baseDir) return workingDir;
  if (workingDir === '~' || workingDir === '~/') return baseDir;
  if (workingDir.startsWith('/') || workingDir.startsWith('~')) return workingDir;
  return posix.join(baseDir, workingDir);
}

function jitter(ms: number, spread: number): number {
  return Math.max(0, Math.round(ms * (1 - spread + Math.random() * 2 * spread)));
}

function newRunId(): string {
  return randomUUID().replace(/-/g, '').slice(0, 8);
}

function jobStateOf(state: TaskState): JobState | null {
  if (state === 'queued') return 'pending';
  if (state === 'running') return 'running';
  return null;
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
  private readonly store: RunStore;
  private readonly loops = new Map<string, Loop>();
  private readonly runs = new Map<string, RunState>();
  private readonly pollIntervalMs: number;
  private readonly now: () => Date;
  private readonly log: EngineLogger;
  private readonly lostJobGraceMs: number;
  private readonly clusterInfoIntervalMs: number;
  private readonly autoLoop: boolean;
  private readonly dirtyRuns = new Set<RunState>();
  private started = false;
  private stopped = false;
  private readonly pendingWork = new Set<Promise<unknown>>();

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.pollIntervalMs = Math.max(0, options.pollIntervalMs);
    this.now = options.now ?? (() => new Date());
    this.log = options.logger ?? NOOP_LOGGER;
    this.lostJobGraceMs = options.lostJobGraceMs ?? 10 * 60 * 1000;
    this.clusterInfoIntervalMs = options.clusterInfoIntervalMs ?? 60_000;
    this.autoLoop = options.autoLoop ?? true;
    for (const backend of options.backends) {
      if (this.loops.has(backend.name))
        throw new ScriptHutError('config_invalid', `duplicate backend ${backend.name}`);
      this.loops.set(backend.name, {
        backend,
        runs: new Set(),
        tracked: new Map(),
        orphans: new Map(),
        cancelQueue: new Map(),
        unknownSince: new Map(),
        provisionalSince: new Map(),
        active: 0,
        timer: null,
        quickTimer: null,
        chain: Promise.resolve(),
        ticking: false,
        again: false,
        state: {
          lastPollAt: null,
          lastPollDurationMs: null,
          lastError: null,
          consecutiveErrors: 0,
          inFlight: 0,
          clusterInfo: null,
          clusterInfoAt: null,
        },
      });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle
  // -------------------------------------------------------------------------------------------

  /** Restore unfinished runs from the store, adopt interrupted submissions, start the loops. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopped = false;
    for (const runId of this.store.listUnfinishedRunIds()) {
      try {
        const run = this.store.getRun(runId);
        if (!run) continue;
        const loop = this.loops.get(run.backendName);
        if (!loop) {
          this.log.warn(
            `run ${runId} uses backend "${run.backendName}", which is not configured: not restored`,
          );
          continue;
        }
        const rs = this.indexRun(run, loop, this.store.allTasks(runId));
        this.log.info(`restored run ${runId}`, { tasks: rs.tasks.size, active: rs.active });
      } catch (e) {
        this.log.error(`cannot restore run ${runId}: ${toError(e).message}`);
      }
    }
    // Adoption: one findByTags per backend for tasks left in `submitting`.
    await Promise.all(
      [...this.loops.values()].map(async (loop) => {
        if (loop.orphans.size === 0) return;
        try {
          await this.reconcileOrphans(loop);
        } catch (e) {
          this.log.warn(`adoption on ${loop.backend.name} failed, will retry: ${toError(e).message}`);
        }
      }),
    );
    this.flushRunEvents();
    if (this.autoLoop)
      for (const loop of this.loops.values()) {
        this.schedule(loop, 0);
        this.scheduleQuick(loop);
      }
  }

  /** Stop the loops and wait for in-flight work (submissions, polls, cancels). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const loop of this.loops.values()) {
      if (loop.timer) clearTimeout(loop.timer);
      loop.timer = null;
      if (loop.quickTimer) clearTimeout(loop.quickTimer);
      loop.quickTimer = null;
    }
    await Promise.all([...this.loops.values()].map((l) => l.chain));
    await Promise.allSettled([...this.pendingWork]);
    this.started = false;
  }

  /** Wake a backend loop (or all loops) early. */
  pulse(backendName?: string): void {
    if (!this.autoLoop || !this.started || this.stopped) return;
    const loops = backendName
      ? [this.loops.get(backendName)].filter((l): l is Loop => !!l)
      : [...this.loops.values()];
    for (const loop of loops) {
      if (loop.ticking) loop.again = true;
      else this.schedule(loop, 0);
    }
  }

  /**
   * Run one tick of a backend loop now (serialised with the loop's own ticks). Used by tests and
   * benchmarks with `autoLoop: false`; harmless otherwise.
   */
  tick(backendName: string): Promise<void> {
    const loop = this.needLoop(backendName);
    const p = loop.chain.then(() => this.runTick(loop));
    loop.chain = p.catch(() => {});
    return p;
  }

  /** Health of a backend loop. */
  backendState(name: string): BackendLoopState {
    const loop = this.needLoop(name);
    return { ...loop.state, inFlight: loop.active };
  }

  /** Ids of runs the engine is driving (not finished). */
  activeRunIds(): string[] {
    return [...this.runs.keys()];
  }

  /** Summary of a run from the engine's memory when active, else from the store. */
  summary(runId: string): RunSummary | null {
    const rs = this.runs.get(runId);
    return rs ? this.summaryOf(rs) : this.store.summarizeRun(runId);
  }

  // -------------------------------------------------------------------------------------------
  // User actions
  // -------------------------------------------------------------------------------------------

  /** Persist a run and its tasks (all `pending`) and wake its backend loop. */
  createRun(input: CreateRunInput): RunRecord {
    const loop = this.loops.get(input.backendName);
    if (!loop) throw new ScriptHutError('not_found', `backend "${input.backendName}" is not configured`);
    if (input.maxConcurrent !== null && !(Number.isInteger(input.maxConcurrent) && input.maxConcurrent > 0)) {
      throw new ScriptHutError('validation_failed', `maxConcurrent must be a positive integer or null`);
    }
    this.checkSpecs(input.tasks);
    let id = newRunId();
    while (this.store.getRun(id)) id = newRunId();
    const createdAt = this.now().toISOString();
    const run: RunRecord = {
      id,
      workflowName: input.workflowName,
      backendName: input.backendName,
      origin: input.origin,
      createdAt,
      maxConcurrent: input.maxConcurrent,
      logDir: input.logDir ?? defaultLogDir(input.workflowName),
      baseDir: input.baseDir ?? null,
      git: input.git ?? null,
      cancelRequestedAt: null,
      environments: input.environments ?? {},
    };
    const tasks = input.tasks.map((spec, seq) => this.newTaskRecord(run, spec, seq));
    this.store.insertRun(run, tasks);
    const rs = this.indexRun(run, loop, tasks);
    this.events.emit('run-created', { run: { ...run } });
    if (this.events.listenerCount('task')) for (const t of rs.tasks.values()) this.emitTask(t, null);
    this.flushRunEvents();
    this.pulse(input.backendName);
    return { ...run };
  }

  /** Cancel a run: pending tasks → cancelled, scheduler jobs cancelled in one batched call. */
  async cancelRun(runId: string): Promise<RunSummary> {
    const rs = this.runs.get(runId);
    if (!rs) {
      const summary = this.store.summarizeRun(runId);
      if (!summary) throw new ScriptHutError('not_found', `run ${runId} not found`);
      return summary;
    }
    if (!rs.run.cancelRequestedAt) {
      const at = this.now().toISOString();
      this.store.updateRun(runId, { cancelRequestedAt: at });
      rs.run.cancelRequestedAt = at;
      this.dirtyRuns.add(rs);
    }
    this.cancelPending(rs);
    const loop = rs.loop;
    for (const t of rs.tasks.values()) {
      if (TRACKED_STATES.has(t.state) && t.jobId)
        loop.cancelQueue.set(key(runId, t.spec.id), { rs, taskId: t.spec.id });
    }
    const work = this.flushCancelQueue(loop, rs);
    this.pendingWork.add(work);
    try {
      await work;
    } finally {
      this.pendingWork.delete(work);
    }
    this.flushRunEvents();
    return this.summary(runId)!;
  }

  /**
   * Create a new run from an existing one. `all`: every task again (tasks that a generates_source
   * task added are left out: the generator adds them again). `failed`: completed tasks are kept as
   * completed (with their job id and logs), every other task runs again.
   */
  rerun(runId: string, mode: 'all' | 'failed'): RunRecord {
    if (this.runs.has(runId))
      throw new ScriptHutError('conflict', `run ${runId} is still active; cancel it first`);
    const old = this.store.getRun(runId);
    if (!old) throw new ScriptHutError('not_found', `run ${runId} not found`);
    const loop = this.loops.get(old.backendName);
    if (!loop) throw new ScriptHutError('not_found', `backend "${old.backendName}" is not configured`);
    let oldTasks = this.store.allTasks(runId);
    if (mode === 'all') oldTasks = oldTasks.filter((t) => typeof t.meta.generatedBy !== 'string');
    let id = newRunId();
    while (this.store.getRun(id)) id = newRunId();
    const run: RunRecord = {
      ...structuredClone(old),
      id,
      origin: { kind: 'rerun', fromRunId: runId, mode },
      createdAt: this.now().toISOString(),
      cancelRequestedAt: null,
    };
    const tasks = oldTasks.map((t, seq) => {
      if (mode === 'failed' && t.state === 'completed') {
        return { ...t, runId: id, seq, submitTag: null, meta: { ...t.meta, keptFrom: runId }, version: 0 };
      }
      const rec = this.newTaskRecord(run, t.spec, seq);
      if (typeof t.meta.generatedBy === 'string') rec.meta = { generatedBy: t.meta.generatedBy };
      return rec;
    });
    this.store.insertRun(run, tasks);
    const rs = this.indexRun(run, loop, tasks);
    this.events.emit('run-created', { run: { ...run } });
    if (this.events.listenerCount('task')) for (const t of rs.tasks.values()) this.emitTask(t, null);
    this.flushRunEvents();
    this.pulse(run.backendName);
    return { ...run };
  }

  /** Delete a finished run (ScriptHutError `conflict` while it is active). */
  deleteRun(runId: string): void {
    if (this.runs.has(runId))
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
    const run = this.runs.get(runId)?.run ?? this.store.getRun(runId);
    if (!run) throw new ScriptHutError('not_found', `run ${runId} not found`);
    const task = this.store.getTask(runId, taskId);
    if (!task) throw new ScriptHutError('not_found', `task ${taskId} not found in run ${runId}`);
    const loop = this.needLoop(run.backendName);
    return loop.backend.readLog(
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
  // Index
  // -------------------------------------------------------------------------------------------

  private needLoop(name: string): Loop {
    const loop = this.loops.get(name);
    if (!loop) throw new ScriptHutError('not_found', `backend "${name}" is not configured`);
    return loop;
  }

  private checkSpecs(specs: readonly TaskSpec[]): void {
    const ids = new Set<string>();
    const issues: { path: string; message: string }[] = [];
    for (const [i, s] of specs.entries()) {
      if (ids.has(s.id))
        issues.push({ path: `tasks[${i}].id`, message: `duplicate task id ${JSON.stringify(s.id)}` });
      ids.add(s.id);
    }
    for (const [i, s] of specs.entries()) {
      for (const d of s.deps) {
        if (!ids.has(d))
          issues.push({ path: `tasks[${i}].deps`, message: `unknown dependency ${JSON.stringify(d)}` });
        if (d === s.id) issues.push({ path: `tasks[${i}].deps`, message: 'depends on itself' });
      }
    }
    const byId = new Map(specs.map((s) => [s.id, s]));
    for (const c of findCycles([...ids], (id) => byId.get(id)?.deps ?? [])) {
      issues.push({ path: 'tasks', message: `circular dependency detected: ${c.join(' -> ')}` });
    }
    if (issues.length) {
      throw new ScriptHutError(
        'validation_failed',
        `invalid tasks:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`,
        { issues },
      );
    }
  }

  private newTaskRecord(run: RunRecord, spec: TaskSpec, seq: number): TaskRecord {
    const logs = defaultLogPaths(run.logDir, run.id, spec.id, seq);
    return {
      runId: run.id,
      seq,
      spec,
      state: 'pending',
      submitTag: null,
      jobId: null,
      pendingReason: null,
      exitCode: null,
      error: null,
      script: null,
      stdoutPath: spec.outputFile ?? logs.out,
      stderrPath: spec.errorFile ?? logs.err,
      submittedAt: null,
      startedAt: null,
      finishedAt: null,
      node: null,
      meta: {},
      version: 0,
    };
  }

  /** Build the in-memory index of a run (new or restored) and register it. */
  private indexRun(run: RunRecord, loop: Loop, records: TaskRecord[]): RunState {
    const rs: RunState = {
      run: { ...run },
      loop,
      tasks: new Map(),
      rdeps: new Map(),
      unmet: new Map(),
      ready: new Set(),
      delayed: new Map(),
      retries: new Map(),
      finalizing: new Set(),
      injected: injectedEnvironment({
        workflowName: run.workflowName,
        runId: run.id,
        createdAt: run.createdAt,
        git: run.git,
      }),
      counts: emptyStateCounts(),
      active: 0,
      maxSeq: -1,
      firstSubmittedAt: null,
      lastFinishedAt: null,
    };
    this.runs.set(run.id, rs);
    loop.runs.add(rs);
    this.addTasks(rs, records);
    this.dirtyRuns.add(rs);
    return rs;
  }

  /** Add task records to a run's index (creation, restore, generates_source). */
  private addTasks(rs: RunState, records: TaskRecord[]): void {
    const loop = rs.loop;
    for (const t of records) {
      rs.tasks.set(t.spec.id, t);
      rs.counts[t.state]++;
      if (t.seq > rs.maxSeq) rs.maxSeq = t.seq;
      if (isActiveTaskState(t.state)) {
        rs.active++;
        loop.active++;
      }
      if (TRACKED_STATES.has(t.state) && t.jobId)
        loop.tracked.set(key(rs.run.id, t.spec.id), { rs, taskId: t.spec.id });
      if (t.state === 'submitting') loop.orphans.set(key(rs.run.id, t.spec.id), { rs, taskId: t.spec.id });
      this.noteTimes(rs, t);
    }
    const failedDeps: string[] = [];
    for (const t of records) {
      let unmet = 0;
      for (const d of t.spec.deps) {
        const list = rs.rdeps.get(d);
        if (list) list.push(t.spec.id);
        else rs.rdeps.set(d, [t.spec.id]);
        const dep = rs.tasks.get(d);
        if (dep?.state !== 'completed') unmet++;
      }
      rs.unmet.set(t.spec.id, unmet);
      if (t.state === 'pending' && unmet === 0) rs.ready.add(t.spec.id);
      if (
        t.state === 'pending' &&
        t.spec.deps.some((d) => FAILURE_STATES.has(rs.tasks.get(d)?.state ?? 'pending'))
      ) {
        failedDeps.push(t.spec.id);
      }
    }
    // Consistency after a restore or an append: pending tasks below a failure, pending tasks of a
    // cancelled run.
    if (rs.run.cancelRequestedAt) this.cancelPending(rs);
    else if (failedDeps.length) {
      const roots = new Set<string>();
      for (const id of failedDeps)
        for (const d of rs.tasks.get(id)!.spec.deps) {
          if (FAILURE_STATES.has(rs.tasks.get(d)!.state)) roots.add(d);
        }
      this.propagateFailures(rs, [...roots]);
    }
  }

  private noteTimes(rs: RunState, t: TaskRecord): void {
    if (t.submittedAt && (rs.firstSubmittedAt === null || t.submittedAt < rs.firstSubmittedAt))
      rs.firstSubmittedAt = t.submittedAt;
    if (t.finishedAt && (rs.lastFinishedAt === null || t.finishedAt > rs.lastFinishedAt))
      rs.lastFinishedAt = t.finishedAt;
  }

  private summaryOf(rs: RunState): RunSummary {
    const counts = { ...rs.counts };
    return {
      run: { ...rs.run },
      counts,
      status: deriveRunStatus(counts, rs.run.cancelRequestedAt !== null),
      total: rs.tasks.size,
      firstSubmittedAt: rs.firstSubmittedAt,
      lastFinishedAt: rs.lastFinishedAt,
    };
  }

  private emitTask(t: TaskRecord, from: TaskState | null): void {
    this.events.emit('task', { runId: t.runId, task: { ...t, meta: { ...t.meta } }, from });
  }

  /** Emit one `run` event per changed run; retire runs that are finished. */
  private flushRunEvents(): void {
    if (this.dirtyRuns.size === 0) return;
    const dirty = [...this.dirtyRuns];
    this.dirtyRuns.clear();
    for (const rs of dirty) {
      const finished = rs.counts.pending === 0 && rs.active === 0 && rs.finalizing.size === 0;
      if (finished && this.runs.get(rs.run.id) === rs) {
        this.runs.delete(rs.run.id);
        rs.loop.runs.delete(rs);
      }
      if (this.events.listenerCount('run'))
        this.events.emit('run', { runId: rs.run.id, summary: this.summaryOf(rs) });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Changes
  // -------------------------------------------------------------------------------------------

  /**
   * Write changes to the store (one atomic `updateTasks`), then apply them to the index, emit task
   * events and propagate failures to dependents. Changes to tasks whose state moved on are the
   * caller's responsibility to filter.
   */
  private commit(changes: Change[]): void {
    if (changes.length === 0) return;
    const at = this.now().toISOString();
    const updates: TaskUpdate[] = changes.map((c) => {
      const t = c.rs.tasks.get(c.taskId)!;
      const u: TaskUpdate = { runId: c.rs.run.id, taskId: c.taskId, patch: c.patch };
      if (c.to !== undefined && c.to !== t.state) u.transition = { to: c.to, at, reason: c.reason ?? null };
      return u;
    });
    this.store.updateTasks(updates);
    const failedByRun = new Map<RunState, string[]>();
    const emit = this.events.listenerCount('task') > 0;
    for (const c of changes) {
      const rs = c.rs;
      const t = rs.tasks.get(c.taskId)!;
      const from = t.state;
      Object.assign(t, c.patch);
      if (c.patch.meta) t.meta = { ...c.patch.meta };
      t.version++;
      this.dirtyRuns.add(rs);
      if (c.to !== undefined && c.to !== from) {
        t.state = c.to;
        this.onStateChange(rs, t, from, c.to);
        if (FAILURE_STATES.has(c.to)) {
          const list = failedByRun.get(rs);
          if (list) list.push(t.spec.id);
          else failedByRun.set(rs, [t.spec.id]);
        }
      }
      this.noteTimes(rs, t);
      if (emit) this.emitTask(t, from);
    }
    for (const [rs, ids] of failedByRun) this.propagateFailures(rs, ids);
  }

  private onStateChange(rs: RunState, t: TaskRecord, from: TaskState, to: TaskState): void {
    const loop = rs.loop;
    const id = t.spec.id;
    rs.counts[from]--;
    rs.counts[to]++;
    const wasActive = isActiveTaskState(from);
    const isActive = isActiveTaskState(to);
    if (wasActive && !isActive) {
      rs.active--;
      loop.active--;
    } else if (!wasActive && isActive) {
      rs.active++;
      loop.active++;
    }
    if (from === 'pending') {
      rs.ready.delete(id);
      rs.delayed.delete(id);
    }
    if (from === 'submitting' && loop.orphans.size) loop.orphans.delete(key(rs.run.id, id));
    if (TRACKED_STATES.has(to) && t.jobId) loop.tracked.set(key(rs.run.id, id), { rs, taskId: id });
    else if (TRACKED_STATES.has(from)) {
      const k = key(rs.run.id, id);
      loop.tracked.delete(k);
      loop.unknownSince.delete(k);
      loop.provisionalSince.delete(k);
    }
    if (isTerminalTaskState(to)) {
      if (loop.cancelQueue.size) loop.cancelQueue.delete(key(rs.run.id, id));
      if (rs.retries.size) rs.retries.delete(id);
    }
    if (to === 'pending' && (rs.unmet.get(id) ?? 0) === 0 && !rs.delayed.has(id)) rs.ready.add(id);
    if (to === 'completed') {
      for (const r of rs.rdeps.get(id) ?? []) {
        const n = (rs.unmet.get(r) ?? 1) - 1;
        rs.unmet.set(r, n);
        if (n === 0 && rs.tasks.get(r)?.state === 'pending' && !rs.delayed.has(r)) rs.ready.add(r);
      }
    }
  }

  /** Every pending task depending (transitively) on one of `failedIds` becomes dep_failed. */
  private propagateFailures(rs: RunState, failedIds: string[]): void {
    const changes: Change[] = [];
    const seen = new Set<string>();
    const queue: { id: string; root: string }[] = failedIds.map((id) => ({ id, root: id }));
    for (let i = 0; i < queue.length; i++) {
      const { id, root } = queue[i]!;
      for (const r of rs.rdeps.get(id) ?? []) {
        if (seen.has(r)) continue;
        const t = rs.tasks.get(r);
        if (t?.state !== 'pending') continue;
        seen.add(r);
        const error =
          root === id ? `dependency "${id}" failed` : `dependency "${id}" failed (root cause: "${root}")`;
        changes.push({ rs, taskId: r, patch: { error }, to: 'dep_failed', reason: error });
        queue.push({ id: r, root });
      }
    }
    this.commit(changes);
  }

  /** All pending tasks of a cancelled run → cancelled. */
  private cancelPending(rs: RunState): void {
    if (rs.counts.pending === 0) return;
    const changes: Change[] = [];
    for (const t of rs.tasks.values()) {
      if (t.state === 'pending') {
        changes.push({
          rs,
          taskId: t.spec.id,
          patch: { error: 'cancelled by user' },
          to: 'cancelled',
          reason: 'cancelled by user',
        });
      }
    }
    this.commit(changes);
  }

  // -------------------------------------------------------------------------------------------
  // Loop
  // -------------------------------------------------------------------------------------------

  /**
   * Marker-based completion: every `quickStatusIntervalMs`, ask backends that implement
   * `quickStatus` (no scheduler command: e.g. one SSH read of exit-code markers) which tracked jobs
   * ended. Finished tasks are recorded at once and their dependents submitted on an early tick, so
   * a DAG level costs about a second instead of a poll interval. Serialised with the main loop.
   */
  private scheduleQuick(loop: Loop): void {
    if (this.stopped || !this.autoLoop || !loop.backend.quickStatus) return;
    const interval = Math.max(200, loop.backend.quickStatusIntervalMs ?? 1000);
    loop.quickTimer = setTimeout(() => {
      loop.quickTimer = null;
      if (loop.tracked.size === 0 || loop.ticking) {
        this.scheduleQuick(loop);
        return;
      }
      const p = loop.chain.then(() => this.quickPoll(loop));
      loop.chain = p.then(
        () => {},
        () => {},
      );
      p.then(
        (finished) => {
          if (finished > 0) this.pulse(loop.backend.name);
          this.scheduleQuick(loop);
        },
        (e) => {
          this.log.warn(`backend ${loop.backend.name}: quick status failed: ${toError(e).message}`);
          this.scheduleQuick(loop);
        },
      );
    }, interval);
    loop.quickTimer.unref?.();
  }

  /** Apply the outcomes of `quickStatus`; returns the number of tasks that finished. */
  private async quickPoll(loop: Loop): Promise<number> {
    if (!loop.backend.quickStatus) return 0;
    const entries: { rs: RunState; t: TaskRecord; jobId: string; state: TaskState }[] = [];
    const jobs: TrackedJob[] = [];
    for (const { rs, taskId } of loop.tracked.values()) {
      const t = rs.tasks.get(taskId)!;
      if (rs.finalizing.has(taskId) || rs.run.cancelRequestedAt) continue;
      entries.push({ rs, t, jobId: t.jobId!, state: t.state });
      jobs.push(this.trackedJob(rs, t));
    }
    if (!jobs.length) return 0;
    const statuses = await loop.backend.quickStatus(jobs);
    if (!statuses.size) return 0;
    const nowMs = this.now().getTime();
    const nowIso = this.now().toISOString();
    const changes: Change[] = [];
    const generators: { rs: RunState; t: TaskRecord; status: JobStatus }[] = [];
    for (const e of entries) {
      const { rs, t } = e;
      const st = statuses.get(e.jobId);
      if (
        !st ||
        !['completed', 'failed', 'cancelled', 'timeout', 'out_of_memory', 'node_fail'].includes(st.state)
      )
        continue;
      if (t.state !== e.state || t.jobId !== e.jobId || rs.finalizing.has(t.spec.id)) continue;
      const k = key(rs.run.id, t.spec.id);
      // The job wrote its own exit code: that is final evidence.
      const change = this.mapStatus(rs, t, { ...st, final: true }, nowMs, nowIso, loop, k);
      if (!change) continue;
      if (change.to === 'completed' && t.spec.generatesSource) {
        rs.finalizing.add(t.spec.id);
        generators.push({ rs, t, status: st });
        continue;
      }
      changes.push(change);
    }
    this.commit(changes);
    this.flushRunEvents();
    if (generators.length)
      await Promise.all(generators.map((g) => this.finishGenerator(g.rs, g.t, g.status)));
    return changes.length + generators.length;
  }

  private schedule(loop: Loop, delayMs: number): void {
    if (this.stopped || !this.autoLoop) return;
    if (loop.timer) clearTimeout(loop.timer);
    loop.timer = setTimeout(() => {
      loop.timer = null;
      const p = loop.chain.then(() => this.runTick(loop));
      loop.chain = p.catch(() => {});
      p.then(
        () => this.afterTick(loop),
        () => this.afterTick(loop),
      );
    }, delayMs);
    loop.timer.unref?.();
  }

  private afterTick(loop: Loop): void {
    if (this.stopped || !this.autoLoop) return;
    if (loop.again) {
      loop.again = false;
      this.schedule(loop, 0);
      return;
    }
    const n = loop.state.consecutiveErrors;
    const delay =
      n > 0
        ? jitter(
            Math.min(MAX_BACKOFF_MS, Math.max(this.pollIntervalMs, 1000) * 2 ** Math.min(n - 1, 20)),
            0.2,
          )
        : jitter(this.pollIntervalMs, 0.1);
    this.schedule(loop, delay);
  }

  private async runTick(loop: Loop): Promise<void> {
    loop.ticking = true;
    const started = Date.now();
    const at = this.now().toISOString();
    let error: string | null = null;
    try {
      await this.tickBody(loop);
    } catch (e) {
      error = toError(e).message;
      this.log.warn(`backend ${loop.backend.name}: ${error}`);
    } finally {
      loop.ticking = false;
      const durationMs = Date.now() - started;
      loop.state.lastPollAt = at;
      loop.state.lastPollDurationMs = durationMs;
      if (error) {
        loop.state.lastError = error;
        loop.state.consecutiveErrors++;
      } else {
        loop.state.lastError = null;
        loop.state.consecutiveErrors = 0;
      }
      this.flushRunEvents();
      this.events.emit('poll', { backend: loop.backend.name, at, durationMs, error });
    }
  }

  /** One tick. Throws the first error that should count as a backend error (after doing the rest). */
  private async tickBody(loop: Loop): Promise<void> {
    const errors: Error[] = [];
    if (loop.orphans.size) {
      try {
        await this.reconcileOrphans(loop);
      } catch (e) {
        errors.push(toError(e));
      }
    }
    if (loop.cancelQueue.size) {
      try {
        await this.flushCancelQueue(loop, null);
      } catch (e) {
        errors.push(toError(e));
      }
    }
    for (const rs of loop.runs) if (rs.run.cancelRequestedAt && rs.counts.pending) this.cancelPending(rs);
    if (loop.tracked.size) {
      try {
        await this.poll(loop);
      } catch (e) {
        errors.push(toError(e));
      }
    }
    this.flushRunEvents();
    // Submission is skipped while the backend is failing status calls (likely unreachable).
    if (errors.length === 0) {
      try {
        await this.submitReady(loop);
      } catch (e) {
        errors.push(toError(e));
      }
    }
    await this.refreshClusterInfo(loop);
    if (errors.length) throw errors[0];
  }

  private async refreshClusterInfo(loop: Loop): Promise<void> {
    if (this.clusterInfoIntervalMs <= 0) return;
    const last = loop.state.clusterInfoAt ? Date.parse(loop.state.clusterInfoAt) : 0;
    if (this.now().getTime() - last < this.clusterInfoIntervalMs) return;
    try {
      loop.state.clusterInfo = await loop.backend.clusterInfo();
      loop.state.clusterInfoAt = this.now().toISOString();
    } catch (e) {
      this.log.warn(`backend ${loop.backend.name}: cluster info failed: ${toError(e).message}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Adoption / reconciliation
  // -------------------------------------------------------------------------------------------

  /** Find jobs of `submitting` tasks by tag: found → submitted, not found → pending again. */
  private async reconcileOrphans(loop: Loop): Promise<void> {
    const entries = [...loop.orphans.values()];
    const tags = entries.map((e) => e.rs.tasks.get(e.taskId)?.submitTag).filter((t): t is string => !!t);
    const found = tags.length ? await loop.backend.findByTags(tags) : new Map<string, string>();
    const changes: Change[] = [];
    const toCancel: { rs: RunState; taskId: string }[] = [];
    const nowIso = this.now().toISOString();
    for (const { rs, taskId } of entries) {
      const t = rs.tasks.get(taskId);
      if (t?.state !== 'submitting' || !loop.orphans.has(key(rs.run.id, taskId))) continue;
      const jobId = t.submitTag ? found.get(t.submitTag) : undefined;
      if (jobId) {
        changes.push({
          rs,
          taskId,
          patch: { jobId, submittedAt: t.submittedAt ?? nowIso },
          to: 'submitted',
          reason: `adopted job ${jobId} found by tag ${t.submitTag}`,
        });
        if (rs.run.cancelRequestedAt) toCancel.push({ rs, taskId });
      } else {
        changes.push({
          rs,
          taskId,
          patch: {},
          to: rs.run.cancelRequestedAt ? 'cancelled' : 'pending',
          reason: `no job found with tag ${t.submitTag ?? '(none)'}: not submitted`,
        });
      }
    }
    this.commit(changes);
    for (const c of toCancel) loop.cancelQueue.set(key(c.rs.run.id, c.taskId), c);
    if (toCancel.length) await this.flushCancelQueue(loop, null);
  }

  // -------------------------------------------------------------------------------------------
  // Cancel
  // -------------------------------------------------------------------------------------------

  private trackedJob(rs: RunState, t: TaskRecord): TrackedJob {
    return {
      jobId: t.jobId!,
      runId: rs.run.id,
      taskId: t.spec.id,
      tag: t.submitTag ?? '',
      stdoutPath: t.stdoutPath,
      stderrPath: t.stderrPath,
      submittedAt: t.submittedAt,
      lastState: jobStateOf(t.state),
      meta: t.meta,
    };
  }

  /** Cancel queued jobs at the scheduler (one batched call), then mark them cancelled. */
  private async flushCancelQueue(loop: Loop, only: RunState | null): Promise<void> {
    const entries = [...loop.cancelQueue.values()].filter((e) => !only || e.rs === only);
    const jobs: { rs: RunState; t: TaskRecord; jobId: string }[] = [];
    for (const { rs, taskId } of entries) {
      const t = rs.tasks.get(taskId);
      if (!t?.jobId || !isActiveTaskState(t.state)) {
        loop.cancelQueue.delete(key(rs.run.id, taskId));
        continue;
      }
      jobs.push({ rs, t, jobId: t.jobId });
    }
    if (!jobs.length) return;
    try {
      await loop.backend.cancel(jobs.map((j) => this.trackedJob(j.rs, j.t)));
    } catch (e) {
      const msg = toError(e).message;
      this.log.warn(`backend ${loop.backend.name}: cancel failed, will retry: ${msg}`);
      loop.state.lastError = `cancel failed: ${msg}`;
      return;
    }
    const at = this.now().toISOString();
    const changes: Change[] = [];
    for (const j of jobs) {
      loop.cancelQueue.delete(key(j.rs.run.id, j.t.spec.id));
      if (j.t.jobId !== j.jobId || !isActiveTaskState(j.t.state)) continue;
      changes.push({
        rs: j.rs,
        taskId: j.t.spec.id,
        patch: { error: 'cancelled by user', finishedAt: at },
        to: 'cancelled',
        reason: 'cancelled by user',
      });
    }
    this.commit(changes);
    this.flushRunEvents();
  }

  // -------------------------------------------------------------------------------------------
  // Polling
  // -------------------------------------------------------------------------------------------

  private async poll(loop: Loop): Promise<void> {
    const entries: { rs: RunState; t: TaskRecord; jobId: string; state: TaskState }[] = [];
    const jobs: TrackedJob[] = [];
    for (const { rs, taskId } of loop.tracked.values()) {
      const t = rs.tasks.get(taskId)!;
      if (rs.finalizing.has(taskId)) continue;
      entries.push({ rs, t, jobId: t.jobId!, state: t.state });
      jobs.push(this.trackedJob(rs, t));
    }
    if (!jobs.length) return;
    const statuses = await loop.backend.status(jobs);
    const nowMs = this.now().getTime();
    const nowIso = this.now().toISOString();
    const changes: Change[] = [];
    const generators: { rs: RunState; t: TaskRecord; status: JobStatus }[] = [];
    for (const e of entries) {
      const { rs, t } = e;
      // Something else (cancel) changed the task while status() was in flight.
      if (t.state !== e.state || t.jobId !== e.jobId || rs.finalizing.has(t.spec.id)) continue;
      const k = key(rs.run.id, t.spec.id);
      const st = statuses.get(e.jobId) ?? { jobId: e.jobId, state: 'unknown' as const };
      if (st.state !== 'unknown') loop.unknownSince.delete(k);
      const terminal = !['pending', 'running', 'completing', 'unknown'].includes(st.state);
      if (terminal && st.final === false) {
        const since = loop.provisionalSince.get(k) ?? nowMs;
        loop.provisionalSince.set(k, since);
        if (nowMs - since < this.lostJobGraceMs) continue;
      }
      const change = this.mapStatus(rs, t, st, nowMs, nowIso, loop, k);
      if (!change) continue;
      if (change.to === 'completed' && t.spec.generatesSource) {
        rs.finalizing.add(t.spec.id);
        generators.push({ rs, t, status: st });
        continue;
      }
      changes.push(change);
    }
    this.commit(changes);
    if (generators.length)
      await Promise.all(generators.map((g) => this.finishGenerator(g.rs, g.t, g.status)));
  }

  private mapStatus(
    rs: RunState,
    t: TaskRecord,
    st: JobStatus,
    nowMs: number,
    nowIso: string,
    loop: Loop,
    k: string,
  ): Change | null {
    const taskId = t.spec.id;
    const base = {
      rs,
      taskId,
    };
    const finished = {
      finishedAt: st.finishedAt ?? nowIso,
      startedAt: t.startedAt ?? st.startedAt ?? null,
      node: st.node ?? t.node,
      pendingReason: null,
      ...(st.exitCode !== undefined && st.exitCode !== null ? { exitCode: st.exitCode } : {}),
    };
    const why = st.reason ? ` (${st.reason})` : '';
    switch (st.state) {
      case 'pending': {
        const reason = st.reason ?? null;
        if (t.state === 'queued' && t.pendingReason === reason) return null;
        if (t.state === 'running') return null; // never go backwards
        return {
          ...base,
          patch: { pendingReason: reason },
          to: 'queued',
          reason: reason ? `pending: ${reason}` : 'pending',
        };
      }
      case 'running':
      case 'completing': {
        const node = st.node ?? t.node;
        if (t.state === 'running' && node === t.node) return null;
        return {
          ...base,
          patch: { pendingReason: null, startedAt: t.startedAt ?? st.startedAt ?? nowIso, node },
          to: 'running',
          reason: st.rawState ?? st.state,
        };
      }
      case 'completed': {
        const exit = st.exitCode ?? 0;
        if (exit !== 0) {
          const error = `exit code ${exit}`;
          return { ...base, patch: { ...finished, exitCode: exit, error }, to: 'failed', reason: error };
        }
        return {
          ...base,
          patch: { ...finished, exitCode: 0, error: null },
          to: 'completed',
          reason: 'completed',
        };
      }
      case 'failed': {
        const error =
          st.exitCode !== undefined && st.exitCode !== null
            ? `exit code ${st.exitCode}${why}`
            : `job failed${why}`;
        return { ...base, patch: { ...finished, error }, to: 'failed', reason: error };
      }
      case 'timeout': {
        const error = `exceeded time limit (${t.spec.timeLimit})`;
        return { ...base, patch: { ...finished, error }, to: 'failed', reason: error };
      }
      case 'out_of_memory': {
        const error = `out of memory (limit ${t.spec.memory})`;
        return { ...base, patch: { ...finished, error }, to: 'failed', reason: error };
      }
      case 'node_fail': {
        const error = `node failure${why}`;
        return { ...base, patch: { ...finished, error }, to: 'failed', reason: error };
      }
      case 'cancelled': {
        const byUser = rs.run.cancelRequestedAt !== null;
        const error = byUser ? 'cancelled by user' : `cancelled by the scheduler${why}`;
        return { ...base, patch: { ...finished, error }, to: 'cancelled', reason: error };
      }
      default: {
        const since = loop.unknownSince.get(k) ?? nowMs;
        loop.unknownSince.set(k, since);
        const submitted = t.submittedAt ? Date.parse(t.submittedAt) : since;
        const from = Math.max(since, Number.isFinite(submitted) ? submitted : since);
        if (nowMs - from < this.lostJobGraceMs) return null;
        const error = `job lost: the scheduler has no record of job ${t.jobId} (unknown for ${Math.round((nowMs - from) / 1000)} s)`;
        return { ...base, patch: { error, finishedAt: nowIso }, to: 'failed', reason: error };
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // generates_source
  // -------------------------------------------------------------------------------------------

  private async finishGenerator(rs: RunState, t: TaskRecord, st: JobStatus): Promise<void> {
    const loop = rs.loop;
    const path = t.spec.generatesSource!;
    const cwd = resolveWorkingDir(t.spec.workingDir, rs.run.baseDir);
    const nowIso = () => this.now().toISOString();
    const finished = {
      finishedAt: st.finishedAt ?? nowIso(),
      startedAt: t.startedAt ?? st.startedAt ?? null,
      node: st.node ?? t.node,
      pendingReason: null,
      exitCode: st.exitCode ?? 0,
    };
    let text: string | null = null;
    let error: string | null = null;
    try {
      text = await loop.backend.readFile(path, cwd);
    } catch (e) {
      error = `generates_source: cannot read ${JSON.stringify(path)}: ${toError(e).message}`;
    }
    rs.finalizing.delete(t.spec.id);
    // Cancelled (or otherwise changed) while reading.
    if (!isActiveTaskState(t.state)) {
      this.dirtyRuns.add(rs);
      return;
    }
    let records: TaskRecord[] = [];
    if (text !== null) {
      try {
        const parsed = parseTaskDocument(text, {
          knownEnvironments: Object.keys(rs.run.environments),
          existingTaskIds: [...rs.tasks.keys()],
          source: path,
        });
        for (const w of parsed.warnings)
          this.log.warn(`run ${rs.run.id} generates_source ${path}: ${w.path}: ${w.message}`);
        let seq = rs.maxSeq;
        records = parsed.tasks.map((spec) => {
          const wd = spec.workingDir;
          const fixed =
            wd !== '~' && !wd.startsWith('~') && !wd.startsWith('/')
              ? { ...spec, workingDir: posix.join(cwd, wd) }
              : spec;
          const rec = this.newTaskRecord(rs.run, fixed, ++seq);
          rec.meta = { generatedBy: t.spec.id };
          return rec;
        });
      } catch (e) {
        const err = toError(e);
        error = `generates_source: invalid task JSON in ${JSON.stringify(path)}: ${err.message}`;
      }
    }
    if (error !== null) {
      this.commit([{ rs, taskId: t.spec.id, patch: { ...finished, error }, to: 'failed', reason: error }]);
      this.flushRunEvents();
      return;
    }
    this.store.transaction(() => {
      if (records.length) this.store.appendTasks(rs.run.id, records);
      this.commit([
        {
          rs,
          taskId: t.spec.id,
          patch: { ...finished, error: null },
          to: 'completed',
          reason: `completed; generated ${records.length} task(s)`,
        },
      ]);
    });
    // Index the new tasks after the generator is completed (their deps on it are then met).
    this.addTasks(rs, records);
    this.dirtyRuns.add(rs);
    if (this.events.listenerCount('task')) for (const r of records) this.emitTask(r, null);
    this.flushRunEvents();
    if (records.length) loop.again = true;
  }

  // -------------------------------------------------------------------------------------------
  // Submission
  // -------------------------------------------------------------------------------------------

  /** Choose tasks to submit: fair share of free slots between runs, within backend and run caps. */
  private selectReady(loop: Loop): { rs: RunState; t: TaskRecord }[] {
    const nowMs = this.now().getTime();
    let free = loop.backend.maxConcurrent - loop.active;
    if (!(free > 0)) return [];
    interface Cand {
      rs: RunState;
      room: number;
      alloc: number;
      it: Iterator<string>;
    }
    const cands: Cand[] = [];
    for (const rs of loop.runs) {
      if (rs.run.cancelRequestedAt) continue;
      if (rs.delayed.size) {
        for (const [id, due] of rs.delayed) {
          if (due > nowMs) continue;
          rs.delayed.delete(id);
          const t = rs.tasks.get(id);
          if (t?.state === 'pending' && (rs.unmet.get(id) ?? 0) === 0) rs.ready.add(id);
        }
      }
      if (!rs.ready.size) continue;
      const runRoom =
        rs.run.maxConcurrent === null ? Number.POSITIVE_INFINITY : rs.run.maxConcurrent - rs.active;
      const room = Math.min(runRoom, rs.ready.size);
      if (room > 0) cands.push({ rs, room, alloc: 0, it: rs.ready.values() });
    }
    const out: { rs: RunState; t: TaskRecord }[] = [];
    if (!cands.length) return out;
    // Fewest (active + allocated) first; ties broken by creation order.
    cands.sort((a, b) => a.rs.active - b.rs.active || (a.rs.run.createdAt < b.rs.run.createdAt ? -1 : 1));
    if (cands.length === 1) {
      const c = cands[0]!;
      c.alloc = Math.min(free, c.room);
    } else {
      let open = cands.slice();
      while (free > 0 && open.length) {
        let best = open[0]!;
        for (const c of open) if (c.rs.active + c.alloc < best.rs.active + best.alloc) best = c;
        best.alloc++;
        free--;
        if (best.alloc >= best.room) open = open.filter((c) => c !== best);
      }
    }
    for (const c of cands) {
      for (let i = 0; i < c.alloc; i++) {
        const n = c.it.next();
        if (n.done) break;
        out.push({ rs: c.rs, t: c.rs.tasks.get(n.value)! });
      }
    }
    return out;
  }

  private buildRequest(rs: RunState, t: TaskRecord, tag: string): SubmitRequest {
    return buildSubmitRequest(rs.run, t, tag);
  }

  private retryDelay(attempt: number): number {
    return jitter(
      Math.min(MAX_BACKOFF_MS, Math.max(this.pollIntervalMs, 10) * 2 ** Math.min(attempt - 1, 20)),
      0.2,
    );
  }

  private async submitReady(loop: Loop): Promise<void> {
    const chosen = this.selectReady(loop);
    if (!chosen.length) return;
    const backend = loop.backend;
    const batch: { rs: RunState; t: TaskRecord; request: SubmitRequest }[] = [];
    const intent: Change[] = [];
    const broken: Change[] = [];
    for (const { rs, t } of chosen) {
      const prev = t.submitTag ? parseSubmitTag(t.submitTag) : null;
      const attempt = prev && prev.runId === rs.run.id ? prev.attempt + 1 : 1;
      try {
        const tag = makeSubmitTag(rs.run.id, t.seq, attempt);
        const request = this.buildRequest(rs, t, tag);
        batch.push({ rs, t, request });
        intent.push({
          rs,
          taskId: t.spec.id,
          patch: {
            submitTag: tag,
            stdoutPath: request.stdoutPath,
            stderrPath: request.stderrPath,
            error: null,
            pendingReason: null,
          },
          to: 'submitting',
          reason: `submitting (attempt ${attempt}, tag ${tag})`,
        });
      } catch (e) {
        const error = `cannot prepare the submission: ${toError(e).message}`;
        broken.push({ rs, taskId: t.spec.id, patch: { error }, to: 'failed', reason: error });
      }
    }
    this.commit(broken);
    if (!batch.length) return;
    // Intent first: a crash after this point is recovered by tag, never resubmitted blindly.
    this.commit(intent);
    this.flushRunEvents();

    let outcomes: SubmitOutcome[];
    try {
      outcomes = await backend.submit(batch.map((b) => b.request));
    } catch (e) {
      const err = toError(e);
      if (ScriptHutError.is(e) && e.code === 'backend_permanent') {
        const error = `submission failed: ${err.message}`;
        this.commit(
          batch
            .filter((b) => b.t.state === 'submitting')
            .map((b) => ({
              rs: b.rs,
              taskId: b.t.spec.id,
              patch: { error },
              to: 'failed' as const,
              reason: error,
            })),
        );
        throw err;
      }
      // Transient or unexpected: the jobs may or may not exist. Reconcile by tag next tick.
      for (const b of batch) {
        if (b.t.state === 'submitting')
          loop.orphans.set(key(b.rs.run.id, b.t.spec.id), { rs: b.rs, taskId: b.t.spec.id });
      }
      throw BackendError.is(e)
        ? err
        : new BackendError(`submit failed: ${err.message}`, { transient: true, cause: e });
    }

    const nowIso = this.now().toISOString();
    const nowMs = this.now().getTime();
    const changes: Change[] = [];
    const toCancel: { rs: RunState; taskId: string }[] = [];
    for (const [i, b] of batch.entries()) {
      const { rs, t } = b;
      if (t.state !== 'submitting') continue;
      const o = outcomes[i];
      if (!o || o.taskId !== t.spec.id) {
        // Malformed answer: treat as interrupted and reconcile by tag.
        loop.orphans.set(key(rs.run.id, t.spec.id), { rs, taskId: t.spec.id });
        continue;
      }
      if (o.ok) {
        let script = o.script;
        if (!script) {
          try {
            script = backend.renderScript(b.request);
          } catch {
            script = '';
          }
        }
        changes.push({
          rs,
          taskId: t.spec.id,
          patch: {
            jobId: o.jobId,
            script: script || null,
            submittedAt: nowIso,
            meta: { ...t.meta, ...(o.meta ?? {}) },
          },
          to: 'submitted',
          reason: `submitted as job ${o.jobId}`,
        });
        rs.retries.delete(t.spec.id);
        if (rs.run.cancelRequestedAt) toCancel.push({ rs, taskId: t.spec.id });
      } else if (o.transient) {
        const n = (rs.retries.get(t.spec.id) ?? 0) + 1;
        rs.retries.set(t.spec.id, n);
        const delay = this.retryDelay(n);
        rs.delayed.set(t.spec.id, nowMs + delay);
        const reason = `transient submission error, retry in ${Math.round(delay / 1000)} s: ${o.error}`;
        changes.push({
          rs,
          taskId: t.spec.id,
          patch: { pendingReason: 'submit retry' },
          to: 'pending',
          reason,
        });
      } else {
        const error = `submission failed: ${o.error}`;
        changes.push({
          rs,
          taskId: t.spec.id,
          patch: { error, script: o.script ?? null, finishedAt: nowIso },
          to: 'failed',
          reason: error,
        });
      }
    }
    this.commit(changes);
    for (const c of toCancel) loop.cancelQueue.set(key(c.rs.run.id, c.taskId), c);
    if (toCancel.length) await this.flushCancelQueue(loop, null);
  }
}
