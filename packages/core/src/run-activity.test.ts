import { describe, expect, it } from 'vitest';
import type { TaskState, TaskTransition } from './domain.js';
import { runActivity } from './run-activity.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (sec: number) => new Date(T0 + sec * 1000).toISOString();

/** A transition list from `[task, from, to, second]` rows. */
function list(rows: [string, TaskState | null, TaskState, number][]): TaskTransition[] {
  return rows.map(([taskId, from, to, sec]) => ({
    runId: 'r1',
    taskId,
    from,
    to,
    at: iso(sec),
    reason: null,
  }));
}

/** The usual life of one task: created, submitted, (queued,) running, finished. */
function life(
  id: string,
  submit: number,
  start: number | null,
  end: number | null,
  final: TaskState = 'completed',
) {
  const rows: [string, TaskState | null, TaskState, number][] = [
    [id, null, 'pending', 0],
    [id, 'pending', 'submitting', submit],
    [id, 'submitting', 'submitted', submit],
  ];
  if (start !== null) rows.push([id, 'submitted', 'running', start]);
  if (end !== null) rows.push([id, start === null ? 'submitted' : 'running', final, end]);
  return rows;
}

describe('runActivity', () => {
  it('a run with no transitions: empty series, zero peaks', () => {
    const a = runActivity([], { now: T0 });
    expect(a).toMatchObject({
      startedAt: null,
      spanMs: 0,
      points: [],
      peakRunning: 0,
      peakQueued: 0,
      tasks: 0,
    });
  });

  it('tasks that never left pending: one flat point at zero', () => {
    const a = runActivity(list([['a', null, 'pending', 0]]), { now: T0 + 50_000 });
    expect(a.points).toEqual([{ t: 0, queued: 0, running: 0 }]);
    expect(a.spanMs).toBe(0);
    expect(a.tasks).toBe(1);
  });

  it('overlapping tasks: exact steps, peaks and their times', () => {
    // a: queued 1..2, runs 2..10; b: queued 1..4, runs 4..6; c: queued 3..12, runs 12..15, fails
    const a = runActivity(
      list([...life('a', 1, 2, 10), ...life('b', 1, 4, 6), ...life('c', 3, 12, 15, 'failed')]),
      {
        now: T0 + 999_000,
      },
    );
    expect(a.startedAt).toBe(iso(0));
    expect(a.bucketMs).toBeNull();
    expect(a.points).toEqual([
      { t: 0, queued: 0, running: 0 },
      { t: 1000, queued: 2, running: 0 },
      { t: 2000, queued: 1, running: 1 },
      { t: 3000, queued: 2, running: 1 },
      { t: 4000, queued: 1, running: 2 },
      { t: 6000, queued: 1, running: 1 },
      { t: 10_000, queued: 1, running: 0 },
      { t: 12_000, queued: 0, running: 1 },
      { t: 15_000, queued: 0, running: 0 },
    ]);
    expect(a).toMatchObject({ peakRunning: 2, peakRunningAt: 4000, peakQueued: 2, peakQueuedAt: 1000 });
    expect(a).toMatchObject({ spanMs: 15_000, queuedNow: 0, runningNow: 0, tasks: 3 });
  });

  it('a task still running: the series ends at now and says what is still running', () => {
    const a = runActivity(list([...life('a', 1, 2, 5), ...life('b', 1, 3, null)]), { now: T0 + 60_000 });
    expect(a.spanMs).toBe(60_000);
    expect(a.points.at(-1)).toEqual({ t: 5000, queued: 0, running: 1 });
    expect(a).toMatchObject({ runningNow: 1, queuedNow: 0, peakRunning: 2 });
  });

  it('queued counts submitted and scheduler-queued tasks, not pending or submitting ones', () => {
    const a = runActivity(
      list([
        ['a', null, 'pending', 0],
        ['a', 'pending', 'submitting', 1],
        ['a', 'submitting', 'submitted', 2],
        ['a', 'submitted', 'queued', 3],
        ['a', 'queued', 'running', 4],
        ['a', 'running', 'cancelled', 5],
      ]),
      { now: T0 },
    );
    expect(a.points).toEqual([
      { t: 0, queued: 0, running: 0 },
      { t: 2000, queued: 1, running: 0 },
      { t: 4000, queued: 0, running: 1 },
      { t: 5000, queued: 0, running: 0 },
    ]);
  });

  it('a rerun in place counts each attempt; real start times move only the latest attempt', () => {
    const rows = [
      ...life('a', 1, 2, 3, 'failed'),
      ['a', 'failed', 'pending', 10] as [string, TaskState, TaskState, number],
      ['a', 'pending', 'submitting', 11] as [string, TaskState, TaskState, number],
      ['a', 'submitting', 'submitted', 11] as [string, TaskState, TaskState, number],
      ['a', 'submitted', 'running', 20] as [string, TaskState, TaskState, number],
      ['a', 'running', 'completed', 25] as [string, TaskState, TaskState, number],
    ];
    const a = runActivity(list(rows), { now: T0, startTimes: new Map([['a', iso(14)]]) });
    expect(a.points.map((p) => [p.t / 1000, p.queued, p.running])).toEqual([
      [0, 0, 0],
      [1, 1, 0],
      [2, 0, 1],
      [3, 0, 0],
      [11, 1, 0],
      [14, 0, 1],
      [25, 0, 0],
    ]);
  });

  it('the marker path (queued straight to completed): counts as running from the recorded real start', () => {
    const rows = life('a', 1, null, 9);
    expect(runActivity(list(rows), { now: T0 }).peakRunning).toBe(0);
    const a = runActivity(list(rows), { now: T0, startTimes: new Map([['a', iso(4)]]) });
    expect(a.points.map((p) => [p.t / 1000, p.queued, p.running])).toEqual([
      [0, 0, 0],
      [1, 1, 0],
      [4, 0, 1],
      [9, 0, 0],
    ]);
    // a start before submission (accounting in whole seconds) is clamped to the submission
    const early = runActivity(list(rows), { now: T0, startTimes: new Map([['a', iso(0.5)]]) });
    expect(early.points.map((p) => [p.t / 1000, p.queued, p.running])).toEqual([
      [0, 0, 0],
      [1, 0, 1],
      [9, 0, 0],
    ]);
  });

  it('more changes than maxPoints: bucketed, each bucket keeps its highest counts', () => {
    // 10 tasks, each queued for 1 s and running for 1 s, one after another: never more than 1 at a time
    const rows = Array.from({ length: 10 }, (_, i) => life(`t${i}`, i * 2 + 1, i * 2 + 2, i * 2 + 3)).flat();
    // plus a 10 ms burst of 5 extra tasks while t3 runs (8..9 s), inside bucket 2 (8.4..12.6 s)
    for (let k = 0; k < 5; k++) rows.push(...life(`burst${k}`, 8, 8.5, 8.51));
    const a = runActivity(list(rows), { now: T0, maxPoints: 5 });
    expect(a.points.length).toBeLessThanOrEqual(5);
    expect(a.bucketMs).toBe(Math.ceil((21_000 + 1) / 5));
    expect(a.peakRunning).toBe(6);
    expect(Math.max(...a.points.map((p) => p.running))).toBe(6);
    expect(a.points.every((p, i) => p.t === i * (a.bucketMs as number))).toBe(true);
    expect(a.points.at(-1)?.running).toBe(1);
  });

  it('100,000 transitions: bounded to maxPoints, peaks exact', () => {
    // 20,000 tasks of 5 transitions each; task i submitted at i ms, running at i+1000, done at i+3000
    const trs: TaskTransition[] = [];
    const at = (ms: number) => new Date(T0 + ms).toISOString();
    for (let i = 0; i < 20_000; i++) {
      const id = `t${i}`;
      const mk = (from: TaskState | null, to: TaskState, ms: number) =>
        trs.push({ runId: 'r1', taskId: id, from, to, at: at(ms), reason: null });
      mk(null, 'pending', 0);
      mk('pending', 'submitting', i);
      mk('submitting', 'submitted', i);
      mk('submitted', 'running', i + 1000);
      mk('running', 'completed', i + 3000);
    }
    const a = runActivity(trs, { now: T0 });
    expect(trs).toHaveLength(100_000);
    expect(a.points.length).toBeLessThanOrEqual(300);
    expect(a.points.length).toBeGreaterThan(250);
    // steady state: 1000 queued and 2000 running at once
    expect(a.peakQueued).toBe(1000);
    expect(a.peakRunning).toBe(2000);
    expect(Math.max(...a.points.map((p) => p.running))).toBe(2000);
    expect(a.spanMs).toBe(19_999 + 3000);
    expect(a.points.at(-1)).toMatchObject({ queued: 0 });
  });
});
