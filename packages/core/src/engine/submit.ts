/**
 * The submission step of a tick: intent → submit → outcome.
 *
 * 1. Choose the ready tasks that fit ({@link chooseReady}) and key the chosen ones for the result
 *    cache ({@link keyChosen}; runs created with `resume` were keyed before, by `resolveCache`).
 * 2. Intent: store `submitting` with a new tag (`makeSubmitTag`, one per attempt), the log paths
 *    and the rendered script BEFORE calling the backend, so a crash can never lead to a blind
 *    resubmission.
 * 3. ONE `backend.submit()` call for the batch.
 * 4. Outcomes: a job id → `submitted`; a transient error → `pending` with exponential backoff; a
 *    rejection → `failed`. An ambiguous answer — `maybeSubmitted`, a malformed answer, or a thrown
 *    (transient or unexpected) error — leaves the task `submitting` as an orphan that the next ticks
 *    look up by tag ({@link reconcileOrphans}). A thrown permanent error fails the batch.
 */
import type { SubmitOutcome, SubmitRequest } from '../backend.js';
import type { TaskRecord } from '../domain.js';
import { BackendError, ScriptHutError, toError } from '../errors.js';
import { arrayLimit, metaWithPlacement, minSizeOf, planArrays, runArrayMode } from './arrays.js';
import type { EngineContext } from './ledger.js';
import { jitter, MAX_BACKOFF_MS } from './loop.js';
import { buildSubmitRequest } from './preview.js';
import { flushCancelQueue, queueCancel } from './reconcile.js';
import { awaitsCacheCheck, keyChosen, keyMetaPatch, resolveCache } from './resume.js';
import {
  type BackendIndex,
  type Change,
  type RunState,
  releaseDueRetries,
  type TaskRef,
  taskKey,
} from './run-index.js';
import { chooseReady } from './select.js';
import { makeSubmitTag, parseSubmitTag } from './tags.js';

/** Delay before the `attempt`-th retry of a task after a transient submission error. */
export function submitRetryDelay(attempt: number, pollIntervalMs: number): number {
  return jitter(Math.min(MAX_BACKOFF_MS, Math.max(pollIntervalMs, 10) * 2 ** Math.min(attempt - 1, 20)), 0.2);
}

interface Item {
  rs: RunState;
  t: TaskRecord;
  request: SubmitRequest;
}

/** Leave a `submitting` task to be looked up by tag from now on. */
function orphan(bi: BackendIndex, rs: RunState, taskId: string, since: number): void {
  bi.orphans.set(taskKey(rs.run.id, taskId), { rs, taskId, since });
}

/**
 * Build the requests and store the intent. Returns the batch to submit. With `arrayMax` (the
 * backend's array limit), the arrays are planned first and each element's place is part of its intent.
 */
function prepare(
  ctx: EngineContext,
  bi: BackendIndex,
  chosen: { rs: RunState; taskId: string }[],
  arrayMax: number | null = null,
  /** Requests built when the tasks were keyed ({@link keyChosen}), by task key, tag still to set. */
  built?: ReadonlyMap<string, SubmitRequest>,
): Item[] {
  const batch: Item[] = [];
  const intent: Change[] = [];
  const broken: Change[] = [];
  for (const { rs, taskId } of chosen) {
    const t = rs.tasks.get(taskId)!;
    const prev = t.submitTag ? parseSubmitTag(t.submitTag) : null;
    const attempt = prev && prev.runId === rs.run.id ? prev.attempt + 1 : 1;
    try {
      const tag = makeSubmitTag(rs.run.id, t.seq, attempt);
      // The request built for the key is this pass's own: it takes its tag instead of being copied.
      const pre = built?.get(taskKey(rs.run.id, taskId));
      if (pre) pre.tag = tag;
      const request = pre ?? buildSubmitRequest(rs.run, t, tag);
      batch.push({ rs, t, request });
      intent.push({
        rs,
        taskId,
        patch: {
          submitTag: tag,
          stdoutPath: request.stdoutPath,
          stderrPath: request.stderrPath,
          error: null,
          pendingReason: null,
          ...keyMetaPatch(rs, t),
        },
        to: 'submitting',
        by: 'submit',
        reason: `submitting (attempt ${attempt}, tag ${tag})`,
      });
    } catch (e) {
      const error = `cannot prepare the submission: ${toError(e).message}`;
      broken.push({ rs, taskId, patch: { error }, to: 'failed', by: 'submit', reason: error });
    }
  }
  ctx.ledger.commit(broken);
  if (!batch.length) return batch;
  if (arrayMax !== null) {
    const options = ctx.arrays(bi.backend.name);
    const minSize = minSizeOf(options);
    const off = new Set(
      batch.filter((b) => runArrayMode(b.rs.run, options) === 'off').map((b) => b.rs.run.id),
    );
    // On top of the meta the intent already carries (the cache key, keyMetaPatch).
    for (const [pos, placement] of planArrays(bi.backend, batch, minSize, arrayMax, off))
      intent[pos]!.patch.meta = metaWithPlacement(intent[pos]!.patch.meta ?? batch[pos]!.t.meta, placement);
  }
  // The script as it will be submitted (array placement included) goes with the intent.
  for (let pos = 0; pos < batch.length; pos++)
    intent[pos]!.patch.script = renderedScript(bi, batch[pos]!.request);
  // Intent first: a crash after this point is recovered by tag, never resubmitted blindly.
  ctx.ledger.commit(intent);
  ctx.ledger.flushRunEvents();
  return batch;
}

/**
 * The script of a request as the backend renders it, stored with the intent (one write of the
 * task's details per submission instead of two); null when the backend cannot render it.
 */
function renderedScript(bi: BackendIndex, request: SubmitRequest): string | null {
  try {
    return bi.backend.renderScript(request) || null;
  } catch {
    return null;
  }
}

/**
 * The script to write with an outcome: the one the backend reports having submitted (an array
 * element's, a site wrapper's) when it differs from the one stored with the intent; nothing when
 * the intent's stands.
 */
function scriptPatch(t: TaskRecord, submitted: string | undefined): { script?: string } {
  return submitted && submitted !== t.script ? { script: submitted } : {};
}

/** The change an outcome causes (`maybeSubmitted`: no state change, the task becomes an orphan). */
function outcomeChange(
  ctx: EngineContext,
  bi: BackendIndex,
  b: Item,
  o: SubmitOutcome,
  nowMs: number,
  nowIso: string,
  groupDelays: Map<string, number>,
): Change {
  const { rs, t } = b;
  const taskId = t.spec.id;
  if (o.ok) {
    rs.retries.delete(taskId);
    return {
      rs,
      taskId,
      patch: {
        jobId: o.jobId,
        ...scriptPatch(t, o.script),
        submittedAt: nowIso,
        // Meta is rewritten only when the backend adds to it (a store write of unchanged meta per job).
        ...(o.meta && Object.keys(o.meta).length ? { meta: { ...t.meta, ...o.meta } } : {}),
      },
      to: 'submitted',
      by: 'submit',
      reason: `submitted as job ${o.jobId}`,
    };
  }
  if (o.maybeSubmitted) {
    orphan(bi, rs, taskId, nowMs);
    const windowS = Math.round(Math.max(0, bi.backend.submitRetryWindowMs ?? 0) / 1000);
    const error = `ambiguous submission (${o.error}): looking for a job with tag ${t.submitTag} for ${windowS} s before submitting again`;
    ctx.ledger.log.warn(`run ${rs.run.id} task ${taskId}: ${error}`);
    return { rs, taskId, patch: { error, ...scriptPatch(t, o.script) } };
  }
  if (o.transient) {
    const n = (rs.retries.get(taskId) ?? 0) + 1;
    rs.retries.set(taskId, n);
    // The elements of one array come back together (one jittered delay per array), so that the
    // next tick regroups them instead of submitting them in scattered small waves.
    const group = b.request.array ? `${rs.run.id}\0${b.request.array.tag}\0${n}` : null;
    let delay = group === null ? undefined : groupDelays.get(group);
    if (delay === undefined) {
      delay = submitRetryDelay(n, ctx.pollIntervalMs);
      if (group !== null) groupDelays.set(group, delay);
    }
    rs.delayed.set(taskId, nowMs + delay);
    return {
      rs,
      taskId,
      patch: { pendingReason: 'submit retry' },
      to: 'pending',
      by: 'submit',
      reason: `transient submission error, retry in ${Math.round(delay / 1000)} s: ${o.error}`,
    };
  }
  const error = `submission failed: ${o.error}`;
  return {
    rs,
    taskId,
    patch: { error, ...scriptPatch(t, o.script), finishedAt: nowIso },
    to: 'failed',
    by: 'submit',
    reason: error,
  };
}

/** The submission step on one backend (see the module comment). */
export async function submitReady(ctx: EngineContext, bi: BackendIndex): Promise<void> {
  await resolveCache(ctx, bi);
  const free = bi.backend.maxConcurrent - bi.active;
  if (!(free > 0)) return;
  const nowMs0 = ctx.ledger.now().getTime();
  for (const rs of bi.runs) if (!rs.run.cancelRequestedAt) releaseDueRetries(rs, nowMs0);
  // Only what the cache has seen: a resume run created while resolveCache awaited its commands
  // (same tick) has ready tasks nobody checked; they wait for the next tick (its creation pulsed).
  const chosen = chooseReady(bi.runs, free).filter((c) => !awaitsCacheCheck(c.rs, c.taskId));
  if (!chosen.length) return;
  const built = await keyChosen(bi, chosen);
  const arrayMax = await arrayLimit(
    bi.backend,
    ctx.arrays(bi.backend.name),
    chosen.map((c) => c.rs.run),
  );
  const batch = prepare(ctx, bi, chosen, arrayMax, built);
  if (!batch.length) return;
  // Each array is one call; every other task goes in ONE submit() call.
  const arrays = new Map<string, Item[]>();
  const singles: Item[] = [];
  for (const b of batch) {
    const a = b.request.array;
    if (!a) singles.push(b);
    else if (arrays.has(a.tag)) arrays.get(a.tag)!.push(b);
    else arrays.set(a.tag, [b]);
  }
  let firstError: unknown = null;
  for (const items of arrays.values()) {
    try {
      await settle(ctx, bi, items, (requests) =>
        bi.backend.arrays!.submitArray(requests, { throttle: null }),
      );
    } catch (e) {
      firstError ??= e;
    }
  }
  if (singles.length) {
    try {
      await settle(ctx, bi, singles, (requests) => bi.backend.submit(requests));
    } catch (e) {
      firstError ??= e;
    }
  }
  if (firstError !== null) throw firstError;
}

/**
 * One submission call for `batch` and its outcomes (see the module comment); throws what the call
 * threw, after recording it.
 */
async function settle(
  ctx: EngineContext,
  bi: BackendIndex,
  batch: Item[],
  call: (requests: SubmitRequest[]) => Promise<SubmitOutcome[]>,
): Promise<void> {
  let outcomes: SubmitOutcome[];
  try {
    outcomes = await call(batch.map((b) => b.request));
  } catch (e) {
    const err = toError(e);
    const stillSubmitting = batch.filter((b) => b.t.state === 'submitting');
    if (ScriptHutError.is(e) && e.code === 'backend_permanent') {
      const error = `submission failed: ${err.message}`;
      ctx.ledger.commit(
        stillSubmitting.map(
          (b): Change => ({
            rs: b.rs,
            taskId: b.t.spec.id,
            patch: { error },
            to: 'failed',
            by: 'submit',
            reason: error,
          }),
        ),
      );
      throw err;
    }
    // Transient or unexpected: the jobs may or may not exist. Look them up by tag from the next tick.
    const since = ctx.ledger.now().getTime();
    for (const b of stillSubmitting) orphan(bi, b.rs, b.t.spec.id, since);
    throw BackendError.is(e)
      ? err
      : new BackendError(`submit failed: ${err.message}`, { transient: true, cause: e });
  }

  const nowIso = ctx.ledger.now().toISOString();
  const nowMs = ctx.ledger.now().getTime();
  const changes: Change[] = [];
  const toCancel: TaskRef[] = [];
  const groupDelays = new Map<string, number>();
  for (const [i, b] of batch.entries()) {
    if (b.t.state !== 'submitting') continue;
    const o = outcomes[i];
    if (!o || o.taskId !== b.t.spec.id) {
      // Malformed answer: treat as interrupted and look the job up by tag.
      orphan(bi, b.rs, b.t.spec.id, nowMs);
      continue;
    }
    changes.push(outcomeChange(ctx, bi, b, o, nowMs, nowIso, groupDelays));
    if (o.ok && b.rs.run.cancelRequestedAt) toCancel.push({ rs: b.rs, taskId: b.t.spec.id });
  }
  ctx.ledger.commit(changes);
  queueCancel(bi, toCancel);
  if (toCancel.length) await flushCancelQueue(ctx, bi, null);
}
