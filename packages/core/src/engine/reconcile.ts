/**
 * Reconciliation and cancellation on one backend.
 *
 * Orphans are `submitting` tasks whose submission gave no clear answer: the control plane stopped
 * after storing the intent, `submit()` threw or answered malformed, or an outcome said
 * `maybeSubmitted`. Each tick looks all of them up with ONE `findByTags` call. A job found is adopted
 * (`submitting → submitted`); without a job the task stays `submitting` until the backend's
 * `submitRetryWindowMs` has passed since the orphan arose, and only then goes back to `pending`
 * (next attempt, new tag) — or to `cancelled` when the run was cancelled. A task never gets two jobs.
 *
 * The cancel queue holds jobs of cancelled runs; it is flushed with ONE `cancel` call, at once by
 * `cancelRun` and again every tick until the backend accepts it.
 */
import type { TaskRecord } from '../domain.js';
import { isActiveTaskState } from '../domain.js';
import { toError } from '../errors.js';
import { foundJobId, lookupTagOf } from './arrays.js';
import type { EngineContext } from './ledger.js';
import {
  type BackendIndex,
  type Change,
  type RunState,
  type TaskRef,
  taskKey,
  trackedJob,
} from './run-index.js';

/** Look orphans up by tag; adopt what is found, give up on what stayed missing past the window. */
export async function reconcileOrphans(ctx: EngineContext, bi: BackendIndex): Promise<void> {
  const { ledger } = ctx;
  const entries = [...bi.orphans.values()];
  const tags = [
    ...new Set(
      entries.map((e) => {
        const t = e.rs.tasks.get(e.taskId);
        return t ? lookupTagOf(t) : null;
      }),
    ),
  ].filter((t): t is string => !!t);
  // Taken before the lookup: a "not found" only counts if the lookup started after the window.
  const nowMs = ledger.now().getTime();
  const found = tags.length ? await bi.backend.findByTags(tags) : new Map<string, string>();
  const windowMs = Math.max(0, bi.backend.submitRetryWindowMs ?? 0);
  const changes: Change[] = [];
  const toCancel: TaskRef[] = [];
  const nowIso = ledger.now().toISOString();
  for (const { rs, taskId, since } of entries) {
    const t = rs.tasks.get(taskId);
    const k = taskKey(rs.run.id, taskId);
    if (t?.state !== 'submitting' || bi.orphans.get(k)?.since !== since) continue;
    const jobId = foundJobId(bi.backend, t, found);
    if (jobId) {
      changes.push({
        rs,
        taskId,
        patch: { jobId, submittedAt: t.submittedAt ?? nowIso, error: null },
        to: 'submitted',
        by: 'adopt',
        reason: `adopted job ${jobId} found by tag ${t.submitTag}`,
      });
      if (rs.run.cancelRequestedAt) toCancel.push({ rs, taskId });
      continue;
    }
    if (nowMs - since < windowMs) continue; // the job may still appear: look again next tick
    const waited = windowMs > 0 ? ` within ${Math.round(windowMs / 1000)} s` : '';
    changes.push({
      rs,
      taskId,
      patch: { error: null },
      to: rs.run.cancelRequestedAt ? 'cancelled' : 'pending',
      by: 'adopt',
      reason: `no job found with tag ${t.submitTag ?? '(none)'}${waited}: not submitted`,
    });
  }
  ledger.commit(changes);
  for (const c of toCancel) bi.cancelQueue.set(taskKey(c.rs.run.id, c.taskId), c);
  if (toCancel.length) await flushCancelQueue(ctx, bi, null);
}

/** Queue the scheduler cancel of tasks' jobs (flushed by {@link flushCancelQueue}). */
export function queueCancel(bi: BackendIndex, refs: Iterable<TaskRef>): void {
  for (const r of refs) bi.cancelQueue.set(taskKey(r.rs.run.id, r.taskId), r);
}

/**
 * Cancel queued jobs at the scheduler (one batched call, only those of `only` when given), then mark
 * their tasks cancelled. A failed cancel is kept for the next tick (and shown as the loop's error).
 */
export async function flushCancelQueue(
  ctx: EngineContext,
  bi: BackendIndex,
  only: RunState | null,
): Promise<void> {
  const { ledger } = ctx;
  const entries = [...bi.cancelQueue.values()].filter((e) => !only || e.rs === only);
  const jobs: { rs: RunState; t: TaskRecord; jobId: string }[] = [];
  for (const { rs, taskId } of entries) {
    const t = rs.tasks.get(taskId);
    if (!t?.jobId || !isActiveTaskState(t.state)) {
      bi.cancelQueue.delete(taskKey(rs.run.id, taskId));
      continue;
    }
    jobs.push({ rs, t, jobId: t.jobId });
  }
  if (!jobs.length) return;
  try {
    await bi.backend.cancel(jobs.map((j) => trackedJob(j.rs, j.t)));
  } catch (e) {
    const msg = toError(e).message;
    ledger.log.warn(`backend ${bi.backend.name}: cancel failed, will retry: ${msg}`);
    ctx.noteBackendError(bi, `cancel failed: ${msg}`);
    return;
  }
  const at = ledger.now().toISOString();
  const changes: Change[] = [];
  for (const j of jobs) {
    bi.cancelQueue.delete(taskKey(j.rs.run.id, j.t.spec.id));
    if (j.t.jobId !== j.jobId || !isActiveTaskState(j.t.state)) continue;
    changes.push({
      rs: j.rs,
      taskId: j.t.spec.id,
      patch: { error: 'cancelled by user', finishedAt: at },
      to: 'cancelled',
      by: 'user',
      reason: 'cancelled by user',
    });
  }
  ledger.commit(changes);
  ledger.flushRunEvents();
}
