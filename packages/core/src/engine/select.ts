/**
 * Pure ready-task selection: which ready tasks go to the scheduler now. Free slots of a backend are
 * shared between its runs, the run with the fewest tasks in flight first (ties: the older run), never
 * above the backend cap or a run's own `maxConcurrent`, never leaving a slot idle while a run could
 * use it. Within a run, ready tasks go in the order they became ready (≈ task order).
 */
import type { RunState } from './run-index.js';

/** What one run asks for. */
export interface RunDemand {
  /** Tasks of the run holding (or possibly holding) a job. */
  active: number;
  /** How many more it can take now (ready tasks, within its own cap). */
  room: number;
  /** ISO creation time (older first on ties). */
  createdAt: string;
}

/**
 * Share `free` slots between demands. Returns, in priority order, the index of each demand and the
 * slots it gets (demands that get none are listed too, with 0).
 *
 * @example
 * ```ts
 * allocateSlots(6, [{ active: 0, room: 20, createdAt: 'a' }, { active: 0, room: 20, createdAt: 'b' }])
 * // → [{ index: 0, slots: 3 }, { index: 1, slots: 3 }]
 * ```
 */
export function allocateSlots(
  free: number,
  demands: readonly RunDemand[],
): { index: number; slots: number }[] {
  const order = demands
    .map((d, index) => ({ d, index, slots: 0 }))
    .filter((c) => c.d.room > 0)
    .sort((a, b) => a.d.active - b.d.active || (a.d.createdAt < b.d.createdAt ? -1 : 1));
  if (!(free > 0) || !order.length) return order.map(({ index }) => ({ index, slots: 0 }));
  if (order.length === 1) {
    order[0]!.slots = Math.min(free, order[0]!.d.room);
  } else {
    let open = order.slice();
    let left = free;
    while (left > 0 && open.length) {
      let best = open[0]!;
      for (const c of open) if (c.d.active + c.slots < best.d.active + best.slots) best = c;
      best.slots++;
      left--;
      if (best.slots >= best.d.room) open = open.filter((c) => c !== best);
    }
  }
  return order.map(({ index, slots }) => ({ index, slots }));
}

/**
 * The ready tasks to submit now on a backend with `free` slots. Reads the runs' ready sets; changes
 * nothing (due retries must have been released into the ready sets before).
 */
export function chooseReady(runs: Iterable<RunState>, free: number): { rs: RunState; taskId: string }[] {
  if (!(free > 0)) return [];
  const candidates: RunState[] = [];
  const demands: RunDemand[] = [];
  for (const rs of runs) {
    if (rs.run.cancelRequestedAt || !rs.ready.size) continue;
    const runRoom =
      rs.run.maxConcurrent === null ? Number.POSITIVE_INFINITY : rs.run.maxConcurrent - rs.active;
    const room = Math.min(runRoom, rs.ready.size);
    if (room > 0) {
      candidates.push(rs);
      demands.push({ active: rs.active, room, createdAt: rs.run.createdAt });
    }
  }
  const out: { rs: RunState; taskId: string }[] = [];
  for (const { index, slots } of allocateSlots(free, demands)) {
    const rs = candidates[index]!;
    const it = rs.ready.values();
    for (let i = 0; i < slots; i++) {
      const n = it.next();
      if (n.done) break;
      out.push({ rs, taskId: n.value });
    }
  }
  return out;
}
