/**
 * The result cache in the engine (see docs/resume.md):
 *
 * - {@link resolveCache}, at the start of the submission step, for runs created with `resume`: the
 *   cache key of every ready task not keyed yet (its `inputs` hashed on the backend in ONE batched
 *   command), and reuse: a key that a completed task of the same scope recorded, whose declared
 *   outputs still exist (ONE batched existence check), makes the task `completed` as cached, with no
 *   job. Dependents become ready and are resolved in the same step.
 * - {@link keyChosen}, once the tasks to submit are chosen: the key of each of them not keyed yet
 *   (in runs without `resume`, only a task that is submitted needs a key), ONE batched command.
 * - {@link verifyOutputs}, before a poll or marker check commits: a task that exited 0 without its
 *   declared outputs fails (ONE batched existence check per backend per poll).
 * - {@link cacheEntriesOf}, when tasks complete: their keys, recorded in the store.
 */
import type { Backend, SubmitRequest } from '../backend.js';
import { type CacheKeyParts, cacheKeyOf, cacheKeyParts, changedParts } from '../cache/key.js';
import { findMissingOutputs, hashInputs, type PatternItem } from '../cache/programs.js';
import type { RunRecord, TaskRecord, TaskSpec } from '../domain.js';
import type { CacheEntry, RunStore } from '../store.js';
import type { EngineContext } from './ledger.js';
import { buildSubmitRequest } from './preview.js';
import { type BackendIndex, type Change, type RunState, taskKey } from './run-index.js';
import type { TransitionCause } from './transitions.js';

/** Task meta written by the cache (shown by `run view --json` and the UI). */
export interface TaskCacheMeta {
  /** The task's cache key (absent when `cache: false` or the key could not be computed). */
  cacheKey?: string;
  cacheParts?: CacheKeyParts;
  /** Why the task has no key (`cache: false`, an input matching no files...). */
  cacheNote?: string;
  /** Set when the task was reused instead of run: where its result comes from. */
  cached?: { runId: string; taskId: string; key: string };
}

/** Backend types whose jobs share a filesystem with the command runner (the cache needs it). */
export const CACHING_BACKEND_TYPES: readonly string[] = ['slurm', 'pbs', 'local'];

/**
 * True for backends whose jobs share a filesystem with the command runner: Slurm, PBS, local (an
 * allow-list: AWS Batch, EC2, ECS and unknown plugin types are not).
 */
export function cachingSupported(backend: Pick<Backend, 'type'>): boolean {
  return CACHING_BACKEND_TYPES.includes(backend.type);
}

/** The scope keys are reused within: the same backend and the same workflow/source/project name. */
export function cacheScopeOf(run: Pick<RunRecord, 'backendName' | 'workflowName'>): string {
  return `${run.backendName}\u0000${run.workflowName}`;
}

/** The key of a task, or why it has none. */
export type KeyResult = { key: string; parts: CacheKeyParts } | { note: string };

/**
 * Cache keys of tasks of one run: ONE input-hashing command for all their `inputs` patterns
 * (none when no task declares inputs). Tasks with `cache: false` get a note. An item's `request`,
 * when given, is its submit request (built by the caller, which submits it next); the parts
 * common to many tasks are hashed once per call.
 */
export async function computeCacheKeys(
  backend: Pick<Backend, 'commandRunner'>,
  items: readonly { run: RunRecord; task: Pick<TaskRecord, 'spec' | 'seq'>; request?: SubmitRequest }[],
): Promise<KeyResult[]> {
  const patterns: PatternItem[] = [];
  const memo = new Map<string, string>();
  const prepared = items.map(({ run, task, request: built }) => {
    if (task.spec.cache === false) return null;
    const request =
      built ?? buildSubmitRequest(run, { ...task, stdoutPath: null, stderrPath: null }, 'shcachekey');
    const first = patterns.length;
    for (const pattern of task.spec.inputs ?? []) patterns.push({ workingDir: request.workingDir, pattern });
    return { run, spec: task.spec, request, first };
  });
  const hashes = patterns.length ? await hashInputs(backend.commandRunner(), patterns) : [];
  return prepared.map((p): KeyResult => {
    if (!p) return { note: 'cache: false' };
    const inputs: Record<string, string> = {};
    const list = p.spec.inputs ?? [];
    for (const [j, pattern] of list.entries()) {
      const h = hashes[p.first + j]!;
      if (!h.ok) return { note: `input ${JSON.stringify(pattern)}: ${h.problem}` };
      inputs[pattern] = h.hash;
    }
    const parts = cacheKeyParts(
      {
        command: p.spec.command,
        env: p.request.env,
        extraInit: p.request.extraInit,
        workingDir: p.spec.workingDir,
        baseDir: p.run.git ? null : p.run.baseDir,
        image: p.spec.image,
        commit: p.spec.cacheScope === 'inputs' ? null : (p.run.git?.sha ?? null),
        inputs,
      },
      memo,
    );
    return { key: cacheKeyOf(parts), parts };
  });
}

/** Whether a keyed task can be reused: the entry to reuse, or why not (key part changed...). */
export function reuseVerdict(
  store: RunStore,
  run: RunRecord,
  spec: TaskSpec,
  result: KeyResult,
): { entry: CacheEntry } | { reason: string } {
  if ('note' in result) return { reason: `not cacheable: ${result.note}` };
  if (!store.findCacheEntry) return { reason: 'the store keeps no cache keys' };
  const scope = cacheScopeOf(run);
  const entry = store.findCacheEntry(scope, result.key);
  if (entry && entry.runId !== run.id) return { entry };
  const last = store.lastCacheEntryOfTask?.(scope, spec.id) ?? null;
  if (!last) return { reason: 'no earlier completed run of this task' };
  const changed = changedParts(result.parts, last.parts);
  return {
    reason: changed.length
      ? `key changed since run ${last.runId}: ${changed.join(', ')}`
      : `key of run ${last.runId} not reusable`,
  };
}

/** Items to check for existing outputs (all declared outputs of each task). */
function outputItems(list: readonly { workingDir: string; outputs: readonly string[] }[]): {
  items: PatternItem[];
  owner: number[];
} {
  const items: PatternItem[] = [];
  const owner: number[] = [];
  list.forEach((x, i) => {
    for (const pattern of x.outputs) {
      items.push({ workingDir: x.workingDir, pattern });
      owner.push(i);
    }
  });
  return { items, owner };
}

/** Missing outputs of each task: ONE existence check for all of them. */
export async function missingOutputs(
  backend: Pick<Backend, 'commandRunner'>,
  list: readonly { workingDir: string; outputs: readonly string[] }[],
): Promise<string[][]> {
  const { items, owner } = outputItems(list);
  const missing: string[][] = list.map(() => []);
  if (!items.length) return missing;
  const answer = await findMissingOutputs(backend.commandRunner(), items);
  answer.forEach((isMissing, i) => {
    if (isMissing) missing[owner[i]!]!.push(items[i]!.pattern);
  });
  return missing;
}

function workingDirOf(run: RunRecord, t: TaskRecord): string {
  return buildSubmitRequest(run, { ...t, stdoutPath: null, stderrPath: null }, 'shcachekey').workingDir;
}

/** Keys computed for ready tasks, written with the submission intent (see {@link keyMetaPatch}). */
const pendingKeys = new WeakMap<RunState, Map<string, TaskCacheMeta>>();

const hasKeyMeta = (rs: RunState, t: TaskRecord) =>
  typeof t.meta.cacheKey === 'string' ||
  typeof t.meta.cacheNote === 'string' ||
  pendingKeys.get(rs)?.has(t.spec.id) === true;

/**
 * The meta patch that stores a task's cache key with its submission intent (`{}` when there is
 * none), so that keying a task costs no store write and no task event of its own.
 */
export function keyMetaPatch(rs: RunState, t: TaskRecord): { meta?: Record<string, unknown> } {
  const keys = pendingKeys.get(rs);
  const meta = keys?.get(t.spec.id);
  if (!meta) return {};
  keys!.delete(t.spec.id);
  return { meta: { ...t.meta, ...meta } };
}

/** The meta a key result stores. */
const keyMetaOf = (k: KeyResult): TaskCacheMeta =>
  'key' in k ? { cacheKey: k.key, cacheParts: k.parts } : { cacheNote: k.note };

/** Keep a task's key until its submission intent is written ({@link keyMetaPatch}). */
function rememberKey(rs: RunState, taskId: string, meta: TaskCacheMeta): void {
  const keys = pendingKeys.get(rs) ?? new Map<string, TaskCacheMeta>();
  pendingKeys.set(rs, keys);
  keys.set(taskId, meta);
}

/**
 * Key the tasks chosen for submission that have no key yet: ONE input-hashing command for all of
 * them (none when none declares `inputs`). In runs without `resume` this is where tasks are keyed:
 * only a submitted task needs its key (stored with its intent, recorded when it completes), so a
 * pass hashes what it submits, not every ready task.
 *
 * Returns the submit requests built for the keys (by {@link taskKey}, with an empty tag), for the
 * submission to reuse instead of building them again.
 */
export async function keyChosen(
  bi: BackendIndex,
  chosen: readonly { rs: RunState; taskId: string }[],
): Promise<Map<string, SubmitRequest>> {
  const requests = new Map<string, SubmitRequest>();
  if (!cachingSupported(bi.backend)) return requests;
  const todo: { rs: RunState; t: TaskRecord; request?: SubmitRequest }[] = [];
  for (const { rs, taskId } of chosen) {
    const t = rs.tasks.get(taskId)!;
    if (hasKeyMeta(rs, t)) continue;
    let request: SubmitRequest | undefined;
    try {
      request = buildSubmitRequest(rs.run, t, '');
      requests.set(taskKey(rs.run.id, taskId), request);
    } catch {
      // Left to computeCacheKeys (and to the submission, which fails the task naming the error).
    }
    todo.push({ rs, t, request });
  }
  if (!todo.length) return requests;
  const keys = await computeCacheKeys(
    bi.backend,
    todo.map(({ rs, t, request }) => ({ run: rs.run, task: t, request })),
  );
  for (const [i, { rs, t }] of todo.entries()) rememberKey(rs, t.spec.id, keyMetaOf(keys[i]!));
  return requests;
}

/**
 * True for a ready task of a `resume` run that the cache has not checked yet: it became ready while
 * the submission step awaited a command (a run created or a task rerun in the middle of a tick, when
 * {@link resolveCache} had already looked). Submitting it now would run a task whose result may be
 * reusable; it waits for the next step's {@link resolveCache} instead.
 */
export function awaitsCacheCheck(rs: RunState, taskId: string): boolean {
  const t = rs.tasks.get(taskId);
  return rs.run.resume === true && t !== undefined && !hasKeyMeta(rs, t);
}

/** Rounds of reuse in one step: each round is one hashing and one existence command. */
const MAX_ROUNDS = 1000;

/**
 * In runs created with `resume`: key the ready tasks and reuse what can be reused (see the module
 * comment). Repeats while reuse makes new tasks ready (a chain of reused tasks costs one round each).
 * Runs without `resume` are keyed by {@link keyChosen} instead.
 */
export async function resolveCache(ctx: EngineContext, bi: BackendIndex): Promise<void> {
  if (!cachingSupported(bi.backend)) return;
  const store = ctx.ledger.store;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const todo: { rs: RunState; t: TaskRecord }[] = [];
    for (const rs of bi.runs) {
      if (rs.run.cancelRequestedAt || !rs.run.resume) continue;
      for (const id of rs.ready) {
        const t = rs.tasks.get(id)!;
        if (!hasKeyMeta(rs, t)) todo.push({ rs, t });
      }
    }
    if (!todo.length) return;
    const keys = await computeCacheKeys(
      bi.backend,
      todo.map(({ rs, t }) => ({ run: rs.run, task: t })),
    );
    const candidates: { rs: RunState; t: TaskRecord; entry: CacheEntry; workingDir: string }[] = [];
    const keyed = new Map<string, TaskCacheMeta>();
    todo.forEach(({ rs, t }, i) => {
      const k = keys[i]!;
      keyed.set(taskKey(rs.run.id, t.spec.id), keyMetaOf(k));
      if (!('key' in k)) return;
      const verdict = reuseVerdict(store, rs.run, t.spec, k);
      if ('entry' in verdict)
        candidates.push({ rs, t, entry: verdict.entry, workingDir: workingDirOf(rs.run, t) });
    });
    const missing = await missingOutputs(
      bi.backend,
      candidates.map((c) => ({ workingDir: c.workingDir, outputs: c.t.spec.outputs ?? [] })),
    );
    const reused = new Set<string>();
    const changes: Change[] = [];
    const nowIso = ctx.ledger.now().toISOString();
    candidates.forEach((c, i) => {
      if (missing[i]!.length) return;
      const k = taskKey(c.rs.run.id, c.t.spec.id);
      reused.add(k);
      const meta: TaskCacheMeta = {
        ...keyed.get(k),
        cached: { runId: c.entry.sourceRunId, taskId: c.entry.sourceTaskId, key: c.entry.key },
      };
      const reason = `cached: reused the result of run ${c.entry.sourceRunId} task ${c.entry.sourceTaskId}`;
      changes.push({
        rs: c.rs,
        taskId: c.t.spec.id,
        patch: { meta: { ...c.t.meta, ...meta }, exitCode: 0, finishedAt: nowIso, error: null },
        to: 'completed',
        by: 'cache',
        reason,
      });
    });
    for (const { rs, t } of todo) {
      const k = taskKey(rs.run.id, t.spec.id);
      if (!reused.has(k)) rememberKey(rs, t.spec.id, keyed.get(k)!);
    }
    ctx.ledger.commit(changes);
    if (!reused.size) return;
    ctx.ledger.flushRunEvents();
  }
}

/** The cache entries of tasks that just completed with a key. */
export function cacheEntriesOf(
  rs: RunState,
  tasks: readonly TaskRecord[],
  at: string,
  /** The meta a task will have once a change not yet applied is (by task id; absent or null: `t.meta`). */
  pendingMeta?: ReadonlyMap<string, Record<string, unknown> | null>,
): CacheEntry[] {
  const out: CacheEntry[] = [];
  const scope = cacheScopeOf(rs.run);
  for (const t of tasks) {
    const meta = (pendingMeta?.get(t.spec.id) ?? t.meta) as TaskCacheMeta;
    if (typeof meta.cacheKey !== 'string' || !meta.cacheParts) continue;
    out.push({
      scope,
      key: meta.cacheKey,
      runId: rs.run.id,
      taskId: t.spec.id,
      parts: meta.cacheParts,
      outputs: t.spec.outputs ?? [],
      completedAt: at,
      sourceRunId: meta.cached?.runId ?? rs.run.id,
      sourceTaskId: meta.cached?.taskId ?? t.spec.id,
    });
  }
  return out;
}

/** Per backend: tasks that exited 0 with outputs missing, since when (ms). */
const missingSince = new WeakMap<BackendIndex, Map<string, number>>();

/**
 * Declared outputs as a success check, on the changes a poll (`scheduler`) or marker check is about
 * to commit: ONE existence check for every task going to `completed` with `outputs`. Missing
 * outputs fail the task naming them, once `outputsGraceMs` has passed since they were first seen
 * missing (until then the change is held back and the next poll checks again; marker checks leave
 * such tasks to the poll). If the check itself fails, those changes are held back and the error is
 * returned (the other changes go ahead).
 */
export async function verifyOutputs(
  ctx: EngineContext,
  bi: BackendIndex,
  changes: Change[],
  by: TransitionCause,
): Promise<{ changes: Change[]; error: Error | null }> {
  if (!cachingSupported(bi.backend)) return { changes, error: null };
  const checks: { c: Change; t: TaskRecord }[] = [];
  const waiting = missingSince.get(bi) ?? new Map<string, number>();
  missingSince.set(bi, waiting);
  const kept: Change[] = [];
  for (const c of changes) {
    const t = c.rs.tasks.get(c.taskId)!;
    if (c.to !== 'completed' || !t.spec.outputs?.length) {
      kept.push(c);
      continue;
    }
    if (by === 'marker' && waiting.has(taskKey(c.rs.run.id, c.taskId))) continue;
    checks.push({ c, t });
  }
  if (!checks.length) return { changes: kept, error: null };
  let missing: string[][];
  try {
    missing = await missingOutputs(
      bi.backend,
      checks.map(({ c, t }) => ({ workingDir: workingDirOf(c.rs.run, t), outputs: t.spec.outputs ?? [] })),
    );
  } catch (e) {
    return { changes: kept, error: e instanceof Error ? e : new Error(String(e)) };
  }
  const nowMs = ctx.ledger.now().getTime();
  const grace = ctx.outputsGraceMs ?? 30_000;
  checks.forEach(({ c, t }, i) => {
    const k = taskKey(c.rs.run.id, c.taskId);
    const gone = missing[i]!;
    if (!gone.length) {
      waiting.delete(k);
      kept.push(c);
      return;
    }
    const since = waiting.get(k) ?? nowMs;
    waiting.set(k, since);
    if (by === 'marker' || nowMs - since < grace) return;
    waiting.delete(k);
    const error = `exited 0 but its declared outputs are missing: ${gone.join(', ')}`;
    kept.push({
      rs: c.rs,
      taskId: c.taskId,
      patch: { ...c.patch, error, exitCode: c.patch.exitCode ?? t.exitCode ?? 0 },
      to: 'failed',
      by,
      reason: error,
    });
  });
  return { changes: kept, error: null };
}

/** What a dry run says about one task's cache (see {@link planReuse}). */
export interface ReusePlan {
  /** The task's cache key, or null (`cache: false`, an input matching nothing...). */
  key: string | null;
  /** The run and task whose result `--resume` would reuse, or null. */
  reuseFrom: { runId: string; taskId: string } | null;
  /** Why it would not be reused (null when it would). */
  reason: string | null;
}

/**
 * Which tasks of a prospective run `--resume` would reuse, and why the others would not (which key
 * part changed). Runs ONE input-hashing command and ONE output check for the whole run. A task
 * with `inputs` below a task that runs again is decided at run time (its inputs may change).
 */
export async function planReuse(
  backend: Pick<Backend, 'commandRunner' | 'type'>,
  store: RunStore,
  run: RunRecord,
  specs: readonly TaskSpec[],
): Promise<ReusePlan[]> {
  if (!cachingSupported(backend))
    return specs.map(() => ({
      key: null,
      reuseFrom: null,
      reason: `resume is unavailable on ${backend.type} backends`,
    }));
  const keys = await computeCacheKeys(
    backend,
    specs.map((spec, seq) => ({ run, task: { spec, seq } })),
  );
  const verdicts = specs.map((spec, i) => reuseVerdict(store, run, spec, keys[i]!));
  const withEntry = verdicts.flatMap((v, i) => ('entry' in v ? [i] : []));
  const missing = await missingOutputs(
    backend,
    withEntry.map((i) => ({
      workingDir: workingDirOf(run, {
        spec: specs[i]!,
        seq: i,
        stdoutPath: null,
        stderrPath: null,
      } as TaskRecord),
      outputs: specs[i]!.outputs ?? [],
    })),
  );
  const gone = new Map(withEntry.map((i, j) => [i, missing[j]!]));
  const plans: ReusePlan[] = specs.map((_, i) => {
    const k = keys[i]!;
    const key = 'key' in k ? k.key : null;
    const v = verdicts[i]!;
    if (!('entry' in v)) return { key, reuseFrom: null, reason: v.reason };
    const lost = gone.get(i) ?? [];
    if (lost.length) return { key, reuseFrom: null, reason: `declared outputs missing: ${lost.join(', ')}` };
    return { key, reuseFrom: { runId: v.entry.sourceRunId, taskId: v.entry.sourceTaskId }, reason: null };
  });
  // Dependencies first (the specs are checked acyclic): a task whose inputs may come from a
  // dependency that runs again cannot be decided now.
  const byId = new Map(specs.map((s, i) => [s.id, i]));
  const decided = new Map<string, boolean>();
  const reused = (i: number): boolean => {
    const spec = specs[i]!;
    const known = decided.get(spec.id);
    if (known !== undefined) return known;
    decided.set(spec.id, false);
    let ok = plans[i]!.reuseFrom !== null;
    if (ok && spec.inputs?.length) {
      const rerun = spec.deps.find((d) => byId.has(d) && !reused(byId.get(d)!));
      if (rerun) {
        plans[i] = {
          ...plans[i]!,
          reuseFrom: null,
          reason: `decided at run time: dependency ${rerun} runs again and may change its inputs`,
        };
        ok = false;
      }
    }
    decided.set(spec.id, ok);
    return ok;
  };
  for (let i = 0; i < specs.length; i++) reused(i);
  return plans;
}
