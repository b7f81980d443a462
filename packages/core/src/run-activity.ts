/**
 * How many tasks of a run were queued and running over the run's lifetime, computed from the stored
 * task transitions in one pass (plus a sort of the change events). The run page draws it as a step
 * chart for large runs and `GET /api/v1/runs/:id/activity` returns it as JSON.
 */
import type { TaskState, TaskTransition } from './domain.js';

/** What {@link runActivity} reads of a transition (a {@link TaskTransition} has it). */
export type ActivityTransition = Pick<TaskTransition, 'taskId' | 'to' | 'at'>;

/** The states counted as "queued": the job is known to the scheduler and waits. */
export const ACTIVITY_QUEUED_STATES: readonly TaskState[] = ['submitted', 'queued'];
/** The states counted as "running". */
export const ACTIVITY_RUNNING_STATES: readonly TaskState[] = ['running'];

/** At most this many points by default: enough for a chart ~300 px wide and more, small as JSON. */
export const ACTIVITY_MAX_POINTS = 300;

/**
 * One step of the series: from `t` (ms since the run's first transition) until the next point's `t`
 * (the last point: until `spanMs`), `queued` tasks waited and `running` tasks ran. When the series is
 * bucketed, each count is the highest within the bucket, so no peak is lost.
 */
export interface RunActivityPoint {
  t: number;
  queued: number;
  running: number;
}

/** The queued/running series of one run (see {@link runActivity}). */
export interface RunActivity {
  /** ISO time of the first transition (`t = 0`), or null when the run has none. */
  startedAt: string | null;
  /** Milliseconds from `startedAt` to the last change, or to `now` while a task is still queued or running. */
  spanMs: number;
  /** Width of a bucket in ms, or null when every change is its own point (exact steps). */
  bucketMs: number | null;
  points: RunActivityPoint[];
  /** Highest number of tasks running at once (exact, not bucketed) and when it was first reached (ms). */
  peakRunning: number;
  peakRunningAt: number | null;
  /** Highest number of tasks queued at once (exact) and when it was first reached (ms). */
  peakQueued: number;
  peakQueuedAt: number | null;
  /** Tasks still queued / running at the end of the series. */
  queuedNow: number;
  runningNow: number;
  /** Distinct tasks seen in the transitions. */
  tasks: number;
}

/** Options of {@link runActivity}. */
export interface RunActivityOptions {
  /** Epoch ms that ends the series while tasks are still queued or running (default: `Date.now()`). */
  now?: number;
  /** Upper bound on `points.length` (default {@link ACTIVITY_MAX_POINTS}, at least 2). */
  maxPoints?: number;
  /**
   * The real start time (ISO) of each task's latest attempt, as recorded on the task (scheduler
   * accounting, the marker). It moves that attempt's start of running to the real time; a task that
   * went from queued straight to a final state (the marker path, between two polls) counts as running
   * from it. A time outside the attempt's queued span is clamped into it.
   */
  startTimes?: ReadonlyMap<string, string | null>;
}

const NONE = 0;
const QUEUED = 1;
const RUNNING = 2;

function categoryOf(state: TaskState): number {
  if (ACTIVITY_RUNNING_STATES.includes(state)) return RUNNING;
  if (ACTIVITY_QUEUED_STATES.includes(state)) return QUEUED;
  return NONE;
}

/** A change of the counts at one time. */
interface ChangeEvent {
  at: number;
  dq: number;
  dr: number;
}

/** Per task: what its latest attempt looks like so far. */
interface TaskTrack {
  cat: number;
  /** When the latest attempt entered the queued category, or null. */
  queuedAt: number | null;
  /** Index (in the event list) of the event with which the latest attempt left the queued category. */
  leftQueue: number | null;
}

/**
 * The number of tasks queued (`submitted`, `queued`) and running over the run's lifetime, from its
 * transitions (in store order: chronological per task). Bounded: at most `maxPoints` points whatever
 * the number of transitions; each bucket keeps its highest counts, the peaks are exact.
 */
export function runActivity(
  transitions: readonly ActivityTransition[],
  options: RunActivityOptions = {},
): RunActivity {
  const maxPoints = Math.max(2, Math.floor(options.maxPoints ?? ACTIVITY_MAX_POINTS));
  const events: ChangeEvent[] = [];
  const tracks = new Map<string, TaskTrack>();
  let first = Number.POSITIVE_INFINITY;
  let firstIso: string | null = null;
  for (const tr of transitions) {
    const at = Date.parse(tr.at);
    if (Number.isNaN(at)) continue;
    if (at < first) {
      first = at;
      firstIso = tr.at;
    }
    let track = tracks.get(tr.taskId);
    if (!track) {
      track = { cat: NONE, queuedAt: null, leftQueue: null };
      tracks.set(tr.taskId, track);
    }
    const to = categoryOf(tr.to);
    if (tr.to === 'pending') {
      // a new attempt (retry after a transient submit error, rerun in place)
      track.queuedAt = null;
      track.leftQueue = null;
    }
    if (to === track.cat) continue;
    const ev: ChangeEvent = {
      at,
      dq: (to === QUEUED ? 1 : 0) - (track.cat === QUEUED ? 1 : 0),
      dr: (to === RUNNING ? 1 : 0) - (track.cat === RUNNING ? 1 : 0),
    };
    if (to === QUEUED) {
      track.queuedAt = at;
      track.leftQueue = null;
    } else if (track.cat === QUEUED) track.leftQueue = events.length;
    events.push(ev);
    track.cat = to;
  }
  if (options.startTimes) applyRealStarts(events, tracks, options.startTimes);
  return sweep(events, tracks, first, firstIso, options.now ?? Date.now(), maxPoints);
}

/** Moves each latest attempt's start of running to the task's recorded real start (see `startTimes`). */
function applyRealStarts(
  events: ChangeEvent[],
  tracks: Map<string, TaskTrack>,
  startTimes: ReadonlyMap<string, string | null>,
): void {
  for (const [taskId, track] of tracks) {
    const iso = startTimes.get(taskId);
    if (!iso || track.queuedAt === null || track.leftQueue === null) continue;
    const real = Date.parse(iso);
    if (Number.isNaN(real)) continue;
    const left = events[track.leftQueue] as ChangeEvent;
    const start = Math.min(Math.max(real, track.queuedAt), left.at);
    if (left.dr === 1) {
      left.at = start; // queued → running, observed at the poll after the real start
    } else if (left.dr === 0) {
      // queued → final state without a running transition: it ran from `start` until then
      events.push({ at: left.at, dq: 0, dr: -1 });
      left.at = start;
      left.dr = 1;
    }
  }
}

function sweep(
  events: ChangeEvent[],
  tracks: Map<string, TaskTrack>,
  first: number,
  firstIso: string | null,
  now: number,
  maxPoints: number,
): RunActivity {
  const empty: RunActivity = {
    startedAt: firstIso,
    spanMs: 0,
    bucketMs: null,
    points: [],
    peakRunning: 0,
    peakRunningAt: null,
    peakQueued: 0,
    peakQueuedAt: null,
    queuedNow: 0,
    runningNow: 0,
    tasks: tracks.size,
  };
  if (firstIso === null) return empty;
  events.sort((a, b) => a.at - b.at);
  // distinct change times with the counts after all changes at that time
  const times: number[] = [];
  const queued: number[] = [];
  const running: number[] = [];
  let q = 0;
  let r = 0;
  let peakQ = 0;
  let peakR = 0;
  let peakQAt: number | null = null;
  let peakRAt: number | null = null;
  for (let i = 0; i < events.length; ) {
    const at = (events[i] as ChangeEvent).at;
    while (i < events.length && (events[i] as ChangeEvent).at === at) {
      q += (events[i] as ChangeEvent).dq;
      r += (events[i] as ChangeEvent).dr;
      i++;
    }
    const t = at - first;
    times.push(t);
    queued.push(q);
    running.push(r);
    if (q > peakQ) [peakQ, peakQAt] = [q, t];
    if (r > peakR) [peakR, peakRAt] = [r, t];
  }
  const lastChange = times.length ? (times[times.length - 1] as number) : 0;
  const spanMs = Math.max(lastChange, q + r > 0 ? now - first : 0);
  const result: RunActivity = {
    ...empty,
    spanMs,
    peakRunning: peakR,
    peakRunningAt: peakRAt,
    peakQueued: peakQ,
    peakQueuedAt: peakQAt,
    queuedNow: q,
    runningNow: r,
  };
  if (times.length === 0 || times[0] !== 0) {
    times.unshift(0);
    queued.unshift(0);
    running.unshift(0);
  }
  if (times.length <= maxPoints) {
    result.points = times.map((t, i) => ({ t, queued: queued[i] as number, running: running[i] as number }));
    return result;
  }
  const bucketMs = Math.ceil((spanMs + 1) / maxPoints);
  const points: RunActivityPoint[] = [];
  let carryQ = 0;
  let carryR = 0;
  let i = 0;
  for (let b = 0; b < maxPoints && b * bucketMs <= spanMs; b++) {
    const end = (b + 1) * bucketMs;
    // the counts carried in hold at the bucket's start unless a change happens exactly there
    const replaced = i < times.length && times[i] === b * bucketMs;
    let mq = replaced ? 0 : carryQ;
    let mr = replaced ? 0 : carryR;
    while (i < times.length && (times[i] as number) < end) {
      carryQ = queued[i] as number;
      carryR = running[i] as number;
      if (carryQ > mq) mq = carryQ;
      if (carryR > mr) mr = carryR;
      i++;
    }
    points.push({ t: b * bucketMs, queued: mq, running: mr });
  }
  result.bucketMs = bucketMs;
  result.points = points;
  return result;
}
