/**
 * The usage step of a tick: for the jobs that ended (and whose usage is still `pending`), ONE
 * `backend.fetchUsage` call per backend per poll. A task is completed first (marker or status), its
 * usage fills in afterwards: a `ok` report stores the figures (and the accounting's node, start and
 * end, which win over what the engine observed) and adds a usage-ledger row; a `pending` report
 * (accounting lag) is asked again at the next poll until `usageGraceMs` has passed since the job
 * ended, then the usage becomes `unavailable` with the reason; never zeros.
 */
import type { TrackedJob } from '../backend.js';
import type { RunRecord, TaskRecord } from '../domain.js';
import { toError } from '../errors.js';
import type { TaskPatch, TaskUpdate } from '../store.js';
import { pendingUsage, type TaskUsage, type UsageReport, unavailableUsage } from '../usage.js';
import { ledgerEntryOf, type UsageLedgerEntry } from '../usage-ledger.js';
import type { EngineContext } from './ledger.js';
import { type BackendIndex, type Change, taskKey } from './run-index.js';

/** Default bounded wait for accounting lag (ms). */
export const DEFAULT_USAGE_GRACE_MS = 10 * 60 * 1000;
/** Jobs asked about in one `fetchUsage` call at most (the rest wait for the next poll). */
export const USAGE_BATCH_LIMIT = 1000;

/** A finished job whose usage is awaited. */
interface Awaiting {
  runId: string;
  taskId: string;
  job: TrackedJob;
  /** When the engine started waiting (ms). */
  sinceMs: number;
  requestedAt: string;
}

const queues = new WeakMap<BackendIndex, Map<string, Awaiting>>();

function queueOf(bi: BackendIndex): Map<string, Awaiting> {
  let q = queues.get(bi);
  if (!q) {
    q = new Map();
    queues.set(bi, q);
  }
  return q;
}

/** Number of jobs whose usage the backend is still asked for (tests, UI). */
export function awaitingUsageCount(bi: BackendIndex): number {
  return queues.get(bi)?.size ?? 0;
}

function jobOf(t: TaskRecord): TrackedJob {
  return {
    jobId: t.jobId!,
    runId: t.runId,
    taskId: t.spec.id,
    tag: t.submitTag ?? '',
    stdoutPath: t.stdoutPath,
    stderrPath: t.stderrPath,
    submittedAt: t.submittedAt,
    lastState: null,
    meta: t.meta,
  };
}

/**
 * The `usage` field to add to a task change that ends a job (poll or marker), or nothing when the
 * backend reports no usage. Call {@link awaitUsage} once the change is committed.
 */
export function usagePatchOnEnd(bi: BackendIndex, nowIso: string): Pick<TaskPatch, 'usage'> {
  return bi.backend.fetchUsage ? { usage: pendingUsage(nowIso) } : NO_USAGE_PATCH;
}

/** The patch of a job end on a backend without usage: one shared, frozen empty object. */
const NO_USAGE_PATCH: Pick<TaskPatch, 'usage'> = Object.freeze({});

/** Start waiting for a task's usage (its task record holds the job id and `usage.pending`). */
export function awaitUsage(bi: BackendIndex, t: TaskRecord, nowMs: number): void {
  if (!bi.backend.fetchUsage || !t.jobId || t.usage?.status !== 'pending') return;
  const requestedAt = t.usage.requestedAt ?? new Date(nowMs).toISOString();
  const since = Date.parse(requestedAt);
  queueOf(bi).set(taskKey(t.runId, t.spec.id), {
    runId: t.runId,
    taskId: t.spec.id,
    job: jobOf(t),
    sinceMs: Number.isFinite(since) ? since : nowMs,
    requestedAt,
  });
}

/** After a restart: resume waiting for the usage of this backend's tasks left `pending`. */
export function restoreAwaitingUsage(ctx: EngineContext, bi: BackendIndex): number {
  if (!bi.backend.fetchUsage) return 0;
  const backendOf = new Map<string, string | null>();
  let n = 0;
  for (const t of ctx.ledger.store.tasksAwaitingUsage()) {
    if (!backendOf.has(t.runId))
      backendOf.set(t.runId, ctx.ledger.store.getRun(t.runId)?.backendName ?? null);
    if (backendOf.get(t.runId) !== bi.backend.name) continue;
    awaitUsage(bi, t, ctx.ledger.now().getTime());
    n++;
  }
  return n;
}

/** Turn a backend's report into the stored usage and the task's time/node fields. */
export function usageFromReport(
  report: UsageReport,
  source: string,
  requestedAt: string,
): { usage: TaskUsage; times: Pick<TaskPatch, 'node' | 'startedAt' | 'finishedAt'> } | null {
  if (report.kind === 'pending') return null;
  if (report.kind === 'unavailable')
    return { usage: unavailableUsage(report.reason, requestedAt, source), times: {} };
  const times: Pick<TaskPatch, 'node' | 'startedAt' | 'finishedAt'> = {};
  if (report.node) times.node = report.node;
  if (report.startedAt) times.startedAt = report.startedAt;
  if (report.finishedAt) times.finishedAt = report.finishedAt;
  return {
    usage: {
      status: 'ok',
      reason: report.note ?? null,
      source,
      requestedAt,
      elapsedSec: report.elapsedSec,
      allocCpus: report.allocCpus,
      cpuTimeSec: report.cpuTimeSec,
      maxRssBytes: report.maxRssBytes,
      reqMemBytes: report.reqMemBytes,
      ...(report.instanceType ? { instanceType: report.instanceType } : {}),
    },
    times,
  };
}

/**
 * The usage step: one `fetchUsage` call for the awaited jobs of a backend; results are written at
 * once (active runs through the ledger, finished runs straight to the store). A failed call leaves
 * the jobs waiting (they become unavailable after the grace, with the error as reason).
 */
export async function fetchUsageStep(ctx: EngineContext, bi: BackendIndex, graceMs: number): Promise<void> {
  const fetchUsage = bi.backend.fetchUsage?.bind(bi.backend);
  const queue = queues.get(bi);
  if (!fetchUsage || !queue?.size) return;
  const batch = [...queue.values()].slice(0, USAGE_BATCH_LIMIT);
  let reports: Map<string, UsageReport>;
  let failure: string | null = null;
  try {
    reports = await fetchUsage(batch.map((a) => a.job));
  } catch (e) {
    failure = toError(e).message;
    reports = new Map();
    ctx.ledger.log.warn(`backend ${bi.backend.name}: usage query failed: ${failure}`);
  }
  const nowMs = ctx.ledger.now().getTime();
  const source = bi.backend.type === 'slurm' ? 'sacct' : bi.backend.type;
  const changes: Change[] = [];
  const direct: TaskUpdate[] = [];
  const runsOf = new Map<string, RunRecord | null>();
  const ledgerRows: UsageLedgerEntry[] = [];
  for (const a of batch) {
    const report = reports.get(a.job.jobId);
    let result = report ? usageFromReport(report, source, a.requestedAt) : null;
    if (!result && nowMs - a.sinceMs >= graceMs) {
      const mins = Math.round(graceMs / 60_000);
      const why = failure
        ? `the usage query failed: ${failure}`
        : report?.kind === 'pending' && report.reason
          ? report.reason
          : `${source} did not report job ${a.job.jobId} within ${mins >= 1 ? `${mins} min` : `${Math.round(graceMs / 1000)} s`}`;
      result = { usage: unavailableUsage(why, a.requestedAt, source), times: {} };
    }
    if (!result) continue;
    queue.delete(taskKey(a.runId, a.taskId));
    const patch: TaskPatch = { usage: result.usage, ...result.times };
    const rs = ctx.ledger.runs.get(a.runId);
    if (rs?.tasks.has(a.taskId)) changes.push({ rs, taskId: a.taskId, patch });
    else direct.push({ runId: a.runId, taskId: a.taskId, patch });
    if (result.usage.status === 'ok') {
      if (!runsOf.has(a.runId)) runsOf.set(a.runId, rs?.run ?? ctx.ledger.store.getRun(a.runId));
      const run = runsOf.get(a.runId);
      const t = rs?.tasks.get(a.taskId) ?? ctx.ledger.store.getTask(a.runId, a.taskId);
      if (run && t) {
        const entry = ledgerEntryOf({ ...t, ...patch } as TaskRecord, run);
        if (entry) ledgerRows.push(entry);
      }
    }
  }
  ctx.ledger.commit(changes);
  if (direct.length) {
    ctx.ledger.store.updateTasks(direct);
    const touched = new Set<string>();
    for (const u of direct) {
      touched.add(u.runId);
      const t = ctx.ledger.events.listenerCount('task') ? ctx.ledger.store.getTask(u.runId, u.taskId) : null;
      if (t) ctx.ledger.emitTask(t, t.state);
    }
    if (ctx.ledger.events.listenerCount('run'))
      for (const runId of touched) {
        const summary = ctx.ledger.store.summarizeRun(runId);
        if (summary) ctx.ledger.events.emit('run', { runId, summary });
      }
  }
  if (ledgerRows.length) ctx.ledger.store.recordUsage(ledgerRows);
}
