/**
 * Following jobs: the poll step (ONE `backend.status` call for every tracked job of a backend,
 * whatever the number of runs) and the marker check (`backend.quickStatus`, no scheduler command).
 * Statuses become task changes through the pure {@link mapJobStatus}; generator tasks that completed
 * go through {@link finishGenerator} first.
 */
import type { JobStatus, TrackedJob } from '../backend.js';
import { isTerminalTaskState, type TaskRecord, type TaskState } from '../domain.js';
import { finishGenerator } from './generators.js';
import type { EngineContext } from './ledger.js';
import { verifyOutputs } from './resume.js';
import { type BackendIndex, type Change, type RunState, taskKey, trackedJob } from './run-index.js';
import { isTerminalJobState, mapJobStatus, waitsForFinalVerdict } from './status-map.js';
import type { TransitionCause } from './transitions.js';
import { awaitUsage, usagePatchOnEnd } from './usage-step.js';

interface Entry {
  rs: RunState;
  t: TaskRecord;
  jobId: string;
  state: TaskState;
}

/** Tracked jobs to ask about (generators being finalised are skipped). */
function collect(
  bi: BackendIndex,
  skip: (rs: RunState) => boolean,
): { entries: Entry[]; jobs: TrackedJob[] } {
  const entries: Entry[] = [];
  const jobs: TrackedJob[] = [];
  for (const { rs, taskId } of bi.tracked.values()) {
    const t = rs.tasks.get(taskId)!;
    if (rs.finalizing.has(taskId) || skip(rs)) continue;
    entries.push({ rs, t, jobId: t.jobId!, state: t.state });
    jobs.push(trackedJob(rs, t));
  }
  return { entries, jobs };
}

/** Something else (a cancel) changed the task while the backend call was in flight. */
const movedOn = (e: Entry) =>
  e.t.state !== e.state || e.t.jobId !== e.jobId || e.rs.finalizing.has(e.t.spec.id);

/**
 * Apply status changes; completed generators are finalised (read their file) instead. Resolves the
 * number of tasks that changed and the number of generated tasks added.
 */
async function apply(
  ctx: EngineContext,
  items: { e: Entry; st: JobStatus; change: ReturnType<typeof mapJobStatus> }[],
  by: TransitionCause,
): Promise<{ changed: number; generated: number }> {
  const changes: Change[] = [];
  const generators: { rs: RunState; t: TaskRecord; st: JobStatus }[] = [];
  const ended: Entry[] = [];
  for (const { e, st, change } of items) {
    if (!change) continue;
    if (isTerminalJobState(st.state) && e.t.jobId && !isTerminalTaskState(e.t.state)) {
      Object.assign(change.patch, usagePatchOnEnd(e.rs.backendIndex, ctx.ledger.now().toISOString()));
      ended.push(e);
    }
    if (change.to === 'completed' && e.t.spec.generatesSource) {
      e.rs.finalizing.add(e.t.spec.id);
      generators.push({ rs: e.rs, t: e.t, st });
      continue;
    }
    changes.push({
      rs: e.rs,
      taskId: e.t.spec.id,
      patch: change.patch,
      to: change.to,
      by,
      reason: change.reason,
    });
  }
  const bi = items[0]?.e.rs.backendIndex;
  const verified = bi ? await verifyOutputs(ctx, bi, changes, by) : { changes, error: null };
  ctx.ledger.commit(verified.changes);
  // Usage is awaited for the jobs whose end was recorded (an output check may hold some back);
  // recorded tasks are matched by their index record, not by a key string built per task.
  if (ended.length) {
    const recorded = new Set(verified.changes.map((c) => c.rs.tasks.get(c.taskId)));
    for (const e of ended) {
      if (recorded.has(e.rs.tasks.get(e.t.spec.id)) || e.rs.finalizing.has(e.t.spec.id))
        awaitUsage(e.rs.backendIndex, e.t, ctx.ledger.now().getTime());
    }
  }
  if (by === 'marker') ctx.ledger.flushRunEvents();
  const added = generators.length
    ? await Promise.all(generators.map((g) => finishGenerator(ctx, g.rs, g.t, g.st)))
    : [];
  if (verified.error) throw verified.error;
  return {
    changed: verified.changes.length + generators.length,
    generated: added.reduce((a, b) => a + b, 0),
  };
}

/** The poll step. Resolves true when generators added tasks (another tick should follow at once). */
export async function pollStatus(ctx: EngineContext, bi: BackendIndex): Promise<boolean> {
  const { entries, jobs } = collect(bi, () => false);
  if (!jobs.length) return false;
  const statuses = await bi.backend.status(jobs);
  const nowMs = ctx.ledger.now().getTime();
  const nowIso = ctx.ledger.now().toISOString();
  const items: Parameters<typeof apply>[1] = [];
  for (const e of entries) {
    if (movedOn(e)) continue;
    const { rs, t } = e;
    const k = taskKey(rs.run.id, t.spec.id);
    const st = statuses.get(e.jobId) ?? { jobId: e.jobId, state: 'unknown' as const };
    if (st.state !== 'unknown') bi.unknownSince.delete(k);
    if (isTerminalJobState(st.state) && st.final === false) {
      const since = bi.provisionalSince.get(k) ?? nowMs;
      bi.provisionalSince.set(k, since);
      if (waitsForFinalVerdict(st, since, nowMs, ctx.lostJobGraceMs)) continue;
    }
    let unknownSinceMs = nowMs;
    if (st.state === 'unknown') {
      unknownSinceMs = bi.unknownSince.get(k) ?? nowMs;
      bi.unknownSince.set(k, unknownSinceMs);
    }
    const change = mapJobStatus(t, st, {
      nowMs,
      nowIso,
      lostJobGraceMs: ctx.lostJobGraceMs,
      unknownSinceMs,
      cancelRequested: rs.run.cancelRequestedAt !== null,
    });
    items.push({ e, st, change });
  }
  return (await apply(ctx, items, 'scheduler')).generated > 0;
}

/**
 * The marker check: jobs whose exit marker exists are final evidence (the job wrote its own exit
 * code). Runs being cancelled are left to the poll. Resolves the number of tasks that finished.
 */
export async function quickPoll(ctx: EngineContext, bi: BackendIndex): Promise<number> {
  const quickStatus = bi.backend.quickStatus?.bind(bi.backend);
  if (!quickStatus) return 0;
  const { entries, jobs } = collect(bi, (rs) => rs.run.cancelRequestedAt !== null);
  if (!jobs.length) return 0;
  const statuses = await quickStatus(jobs);
  if (!statuses.size) return 0;
  const nowMs = ctx.ledger.now().getTime();
  const nowIso = ctx.ledger.now().toISOString();
  const items: Parameters<typeof apply>[1] = [];
  for (const e of entries) {
    const st = statuses.get(e.jobId);
    if (!st || !isTerminalJobState(st.state) || movedOn(e)) continue;
    const final = { ...st, final: true };
    const change = mapJobStatus(e.t, final, {
      nowMs,
      nowIso,
      lostJobGraceMs: ctx.lostJobGraceMs,
      unknownSinceMs: nowMs,
      cancelRequested: e.rs.run.cancelRequestedAt !== null,
    });
    items.push({ e, st, change });
  }
  return (await apply(ctx, items, 'marker')).changed;
}
