/**
 * Job arrays: ready tasks of one run that the scheduler cannot tell apart go out as ONE array job
 * (see {@link ArraySupport}). This module decides the grouping (pure), stores each element's place
 * in its array with the submission intent, and maps an array found by its tag back to the job id of
 * every element (adoption after a crash or an ambiguous answer).
 *
 * Grouping key: the run, the partition, cpus, memory, time limit, gres and image of the task, plus
 * what the backend says its scheduler sees ({@link ArraySupport.key}: account, qos, constraint,
 * directives…). Tasks with equal keys are grouped in the order they were chosen; a group of at least
 * `minSize` tasks is cut into arrays of at most the backend's `maxSize()` elements; a remainder below
 * `minSize` and every other task is submitted on its own.
 *
 * Mode: a run's own `arrayMode` (its workflow's `array: auto | off`) wins over the backend's `mode`
 * ({@link runArrayMode}); the tasks of a run in mode `off` are never grouped.
 */
import type { ArrayPlacement, Backend, SubmitRequest } from '../backend.js';
import type { ArrayMode, RunRecord, TaskRecord } from '../domain.js';

/** Smallest group submitted as an array by default (two tasks of one shape are one submission). */
export const DEFAULT_ARRAY_MIN_SIZE = 2;

/** How the engine uses job arrays (engine option `arrays`). */
export interface ArrayOptions {
  /** `auto` (default): group when the backend supports arrays; `off`: never. */
  mode?: 'auto' | 'off';
  /** Smallest group submitted as an array (default {@link DEFAULT_ARRAY_MIN_SIZE}, at least 2). */
  minSize?: number;
}

/**
 * The grouping key of a request: `null` when it may not be part of an array (the backend said so).
 * Two requests share an array only when their keys are equal.
 */
export function arrayKeyOf(request: SubmitRequest, backendKey: string | null): string | null {
  if (backendKey === null) return null;
  const t = request.task;
  return JSON.stringify([
    request.runId,
    t.partition,
    t.cpus,
    t.memoryMiB,
    t.timeLimitSeconds,
    t.gres,
    t.image,
    backendKey,
  ]);
}

/**
 * Group positions by key: every group of equal keys with at least `minSize` members is cut, in
 * order, into the fewest chunks of at most `maxSize`, of sizes differing by at most one; a chunk
 * below `minSize` stays out (submitted alone), as do `null` keys. Returns the groups (positions in
 * input order); positions in no group go alone.
 *
 * @example
 * ```ts
 * groupForArrays(['a', 'b', 'a', null, 'a'], 2, 2) // → [[0, 2]] (4 goes alone: a group of 1)
 * ```
 */
export function groupForArrays(
  keys: readonly (string | null)[],
  minSize: number,
  maxSize: number,
): number[][] {
  const min = Math.max(2, Math.floor(minSize));
  const max = Math.floor(maxSize);
  if (!(max >= min)) return [];
  const byKey = new Map<string, number[]>();
  keys.forEach((k, i) => {
    if (k === null) return;
    const list = byKey.get(k);
    if (list) list.push(i);
    else byKey.set(k, [i]);
  });
  const groups: number[][] = [];
  for (const list of byKey.values()) {
    if (list.length < min) continue;
    // As few chunks as the limit allows, of sizes differing by at most one (1,001 tasks with a
    // limit of 1,000: 501 + 500, not 1,000 + a straggler of 1 that would go alone). A chunk below
    // the limit also leaves room when the limit was learned from other elements (Batch's
    // container overrides: a later group's elements may be a few bytes larger).
    const count = Math.ceil(list.length / max);
    const base = Math.floor(list.length / count);
    const larger = list.length % count;
    for (let c = 0, at = 0; c < count; c++) {
      const size = base + (c < larger ? 1 : 0);
      const chunk = list.slice(at, at + size);
      at += size;
      if (chunk.length >= min) groups.push(chunk);
    }
  }
  return groups;
}

/**
 * The array mode of a run: its own (the workflow's `array`) when set, else the backend's (`mode`),
 * else `auto`.
 */
export function runArrayMode(run: Pick<RunRecord, 'arrayMode'>, options: ArrayOptions): ArrayMode {
  return run.arrayMode ?? options.mode ?? 'auto';
}

/**
 * The largest array the backend takes now, or `null` when this engine submits no arrays on it
 * (no capability, mode `off` — the backend's, or that of every run in `runs` when given — or a
 * limit below the minimum group size).
 */
export async function arrayLimit(
  backend: Backend,
  options: ArrayOptions,
  runs?: readonly Pick<RunRecord, 'arrayMode'>[],
): Promise<number | null> {
  if (!backend.arrays) return null;
  const wanted = runs ? runs.some((r) => runArrayMode(r, options) === 'auto') : options.mode !== 'off';
  if (!wanted) return null;
  const max = await backend.arrays.maxSize();
  return Number.isFinite(max) && max >= minSizeOf(options) ? Math.floor(max) : null;
}

/** The effective minimum group size. */
export function minSizeOf(options: ArrayOptions): number {
  return Math.max(2, Math.floor(options.minSize ?? DEFAULT_ARRAY_MIN_SIZE));
}

/** A task's place in an array, as stored in its `meta.array` (null when it is not an element). */
export function placementOf(t: Pick<TaskRecord, 'meta'>): ArrayPlacement | null {
  const a = t.meta.array as Partial<ArrayPlacement> | undefined;
  if (!a || typeof a !== 'object') return null;
  if (typeof a.tag !== 'string' || typeof a.index !== 'number' || typeof a.size !== 'number') return null;
  return { tag: a.tag, index: a.index, size: a.size };
}

/**
 * Decide the arrays of a prepared batch. For every request in an array, sets `request.array` and
 * returns the placement to store with the intent; for a task that was an element of an earlier
 * attempt's array but goes alone now, returns `null` (its old placement must be cleared).
 * Positions not in the map are left as they are. Tasks of the runs in `offRunIds` (mode `off`)
 * always go alone.
 */
export function planArrays(
  backend: Backend,
  items: readonly { t: TaskRecord; request: SubmitRequest }[],
  minSize: number,
  maxSize: number,
  offRunIds: ReadonlySet<string> = new Set(),
): Map<number, ArrayPlacement | null> {
  const out = new Map<number, ArrayPlacement | null>();
  const support = backend.arrays;
  if (!support) return out;
  const keys = items.map(({ t, request }) => {
    if (offRunIds.has(t.runId)) return null;
    let k: string | null;
    try {
      k = support.key(request);
    } catch {
      k = null; // the backend will report the problem when it submits the task alone
    }
    return arrayKeyOf(request, k);
  });
  for (const group of groupForArrays(keys, minSize, maxSize)) {
    const tag = items[group[0]!]!.request.tag;
    group.forEach((pos, index) => {
      const placement: ArrayPlacement = { tag, index, size: group.length };
      items[pos]!.request.array = placement;
      out.set(pos, placement);
    });
  }
  items.forEach(({ t }, pos) => {
    if (!out.has(pos) && placementOf(t)) out.set(pos, null);
  });
  return out;
}

/** The meta to store with a task given its (new) placement. */
export function metaWithPlacement(
  meta: Record<string, unknown>,
  placement: ArrayPlacement | null,
): Record<string, unknown> {
  const { array: _old, ...rest } = meta;
  return placement ? { ...rest, array: placement } : rest;
}

/** The tag to look a `submitting` task up by: its array's tag when it is an element. */
export function lookupTagOf(t: Pick<TaskRecord, 'meta' | 'submitTag'>): string | null {
  return placementOf(t)?.tag ?? t.submitTag;
}

/**
 * The job id of a `submitting` task given what `findByTags` found: the element's id when the task
 * is an array element (its array's job id + its index), else the job found by its own tag.
 */
export function foundJobId(
  backend: Backend,
  t: Pick<TaskRecord, 'meta' | 'submitTag'>,
  found: ReadonlyMap<string, string>,
): string | undefined {
  const placement = placementOf(t);
  if (placement && backend.arrays) {
    const arrayJobId = found.get(placement.tag);
    return arrayJobId === undefined ? undefined : backend.arrays.elementJobId(arrayJobId, placement.index);
  }
  return t.submitTag ? found.get(t.submitTag) : undefined;
}

/** A task's array in a dry run: array number (1, 2, …), its index and the array's size. */
export interface PreviewArray {
  group: number;
  index: number;
  size: number;
}

/**
 * How a dry run groups tasks into arrays: tasks with the same key AND the same dependencies become
 * ready together, so they are grouped as a run would group them: at most `perTick` of them (the
 * run's and the backend's caps) are chosen in one tick, and a tick's share is cut into arrays of
 * at most `maxSize` (the backend's array limit) as {@link groupForArrays} cuts it. `null` for a
 * task that would be submitted alone.
 */
export function previewArrayGroups(
  backend: Backend,
  items: readonly { request: SubmitRequest; deps: readonly string[] }[],
  minSize: number,
  maxSize: number,
  perTick: number = Number.POSITIVE_INFINITY,
): (PreviewArray | null)[] {
  const support = backend.arrays;
  const out: (PreviewArray | null)[] = items.map(() => null);
  if (!support) return out;
  const keys = items.map(({ request, deps }) => {
    let k: string | null;
    try {
      k = arrayKeyOf(request, support.key(request));
    } catch {
      k = null;
    }
    return k === null ? null : `${k}|${JSON.stringify([...deps].sort())}`;
  });
  // The tick each task would be chosen in, among the tasks of its key (caps: `perTick` per tick).
  const seen = new Map<string, number>();
  const perTickKeys = keys.map((k) => {
    if (k === null) return null;
    const rank = seen.get(k) ?? 0;
    seen.set(k, rank + 1);
    return Number.isFinite(perTick) ? `${k}|tick ${Math.floor(rank / Math.max(1, perTick))}` : k;
  });
  groupForArrays(perTickKeys, minSize, maxSize).forEach((group, g) => {
    group.forEach((pos, index) => {
      out[pos] = { group: g + 1, index, size: group.length };
    });
  });
  return out;
}
