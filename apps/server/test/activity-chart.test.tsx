/** @jsxImportSource hono/jsx */
import type { RunActivity } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { ActivityChart, activitySummary, countAxis, stepPath } from '../src/ui/activity-chart.js';

function activity(over: Partial<RunActivity>): RunActivity {
  return {
    startedAt: '2026-01-01T00:00:00.000Z',
    spanMs: 10_000,
    bucketMs: null,
    points: [
      { t: 0, queued: 0, running: 0 },
      { t: 1000, queued: 3, running: 0 },
      { t: 4000, queued: 1, running: 2 },
      { t: 9000, queued: 0, running: 0 },
    ],
    peakRunning: 2,
    peakRunningAt: 4000,
    peakQueued: 3,
    peakQueuedAt: 1000,
    queuedNow: 0,
    runningNow: 0,
    tasks: 3,
    ...over,
  };
}

describe('activity chart', () => {
  it('count axis: a round top with at most ~4 steps', () => {
    expect(countAxis(0)).toEqual({ top: 1, step: 1 });
    expect(countAxis(3)).toEqual({ top: 3, step: 1 });
    expect(countAxis(7)).toEqual({ top: 8, step: 2 });
    expect(countAxis(2000)).toEqual({ top: 2000, step: 500 });
    expect(countAxis(2001)).toEqual({ top: 3000, step: 1000 });
  });

  it('step path: horizontal then vertical per point, the last value held until the span', () => {
    const a = activity({});
    const d = stepPath(
      a.points,
      (p) => p.running,
      (t) => t / 100,
      (v) => 100 - v * 10,
      a.spanMs,
    );
    expect(d).toBe('M0.0 100.0H10.0V100.0H40.0V80.0H90.0V100.0H100.0');
  });

  it('summary in words: peaks with their times, what is still active', () => {
    expect(activitySummary(activity({}))).toBe(
      'Peak running: 2 at +4s; peak queued: 3 at +1s; over 10s and 3 tasks.',
    );
    expect(activitySummary(activity({ runningNow: 2, queuedNow: 1 }))).toMatch(
      /; now 2 running, 1 queued\.$/,
    );
  });

  it('renders an accessible SVG; says so when nothing was ever queued; names the bucket width', async () => {
    const html = String(await (<ActivityChart activity={activity({ bucketMs: 2000 })} id="x" />));
    expect(html).toContain('aria-labelledby="x-title x-desc"');
    expect(html).toContain('<desc id="x-desc">Peak running: 2 at +4s');
    expect(html).toContain('highest count within 2s');
    const fine = String(await (<ActivityChart activity={activity({ bucketMs: 435 })} id="x" />));
    expect(fine).toContain('highest count within 435 ms');
    expect(html).toMatch(/<path class="queued" d="M[^"]+"/);
    const none = String(
      await (<ActivityChart activity={activity({ points: [], peakQueued: 0, peakRunning: 0 })} id="x" />),
    );
    expect(none).toContain('No task has been queued yet.');
    expect(none).not.toContain('<svg');
  });
});
