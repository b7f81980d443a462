import { describe, expect, it } from 'vitest';
import type { JobStatus } from '../backend.js';
import { taskSpec } from '../testing/index.js';
import { mapJobStatus, type StatusContext, type StatusTask, waitsForFinalVerdict } from './status-map.js';

const NOW = Date.parse('2030-01-01T01:00:00Z');
const ctx = (o: Partial<StatusContext> = {}): StatusContext => ({
  nowMs: NOW,
  nowIso: new Date(NOW).toISOString(),
  lostJobGraceMs: 600_000,
  unknownSinceMs: NOW,
  cancelRequested: false,
  ...o,
});
const task = (o: Partial<StatusTask> = {}): StatusTask => ({
  state: 'submitted',
  pendingReason: null,
  node: null,
  startedAt: null,
  submittedAt: '2030-01-01T00:00:00.000Z',
  jobId: '42',
  spec: taskSpec('a', { timeLimit: '0:10:00', memory: '2G' }),
  ...o,
});
const st = (o: Partial<JobStatus>): JobStatus => ({ jobId: '42', state: 'pending', ...o });

describe('mapJobStatus', () => {
  it('queued with the scheduler reason; no change while the reason is the same; never back from running', () => {
    expect(mapJobStatus(task(), st({ reason: 'Resources' }), ctx())).toEqual({
      to: 'queued',
      patch: { pendingReason: 'Resources' },
      reason: 'pending: Resources',
    });
    expect(
      mapJobStatus(task({ state: 'queued', pendingReason: 'Resources' }), st({ reason: 'Resources' }), ctx()),
    ).toBeNull();
    expect(mapJobStatus(task({ state: 'running' }), st({}), ctx())).toBeNull();
  });

  it('running keeps the first start time and follows the node', () => {
    const c = mapJobStatus(
      task(),
      st({ state: 'running', node: 'n1', startedAt: '2030-01-01T00:30:00Z' }),
      ctx(),
    );
    expect(c).toMatchObject({ to: 'running', patch: { node: 'n1', startedAt: '2030-01-01T00:30:00Z' } });
    expect(
      mapJobStatus(task({ state: 'running', node: 'n1' }), st({ state: 'running', node: 'n1' }), ctx()),
    ).toBeNull();
  });

  it.each([
    [st({ state: 'completed', exitCode: 0 }), 'completed', null],
    [st({ state: 'completed', exitCode: 2 }), 'failed', 'exit code 2'],
    [
      st({ state: 'failed', exitCode: 1, reason: 'NonZeroExitCode' }),
      'failed',
      'exit code 1 (NonZeroExitCode)',
    ],
    [st({ state: 'failed' }), 'failed', 'job failed'],
    [st({ state: 'timeout' }), 'failed', 'exceeded time limit (0:10:00)'],
    [st({ state: 'out_of_memory' }), 'failed', 'out of memory (limit 2G)'],
    [st({ state: 'node_fail', reason: 'n3 down' }), 'failed', 'node failure (n3 down)'],
    [st({ state: 'cancelled' }), 'cancelled', 'cancelled by the scheduler'],
  ] as const)('%o → %s', (status, to, error) => {
    const c = mapJobStatus(task({ state: 'running' }), status, ctx())!;
    expect(c.to).toBe(to);
    expect(c.patch.error ?? null).toBe(error);
    expect(c.patch.finishedAt).toBe(new Date(NOW).toISOString());
  });

  it('an ended job gets exactly its end fields, with the exit code the scheduler reported', () => {
    const end = { finishedAt: new Date(NOW).toISOString(), startedAt: null, node: null, pendingReason: null };
    const running = task({ state: 'running' });
    expect(mapJobStatus(running, st({ state: 'completed' }), ctx())!.patch).toEqual({
      ...end,
      exitCode: 0,
      error: null,
    });
    expect(mapJobStatus(running, st({ state: 'completed', exitCode: 2 }), ctx())!.patch).toEqual({
      ...end,
      exitCode: 2,
      error: 'exit code 2',
    });
    expect(mapJobStatus(running, st({ state: 'failed', exitCode: 1 }), ctx())!.patch).toEqual({
      ...end,
      exitCode: 1,
      error: 'exit code 1',
    });
    expect(mapJobStatus(running, st({ state: 'timeout' }), ctx())!.patch).toEqual({
      ...end,
      error: 'exceeded time limit (0:10:00)',
    });
  });

  it('a cancel the user asked for is reported as such', () => {
    expect(
      mapJobStatus(task(), st({ state: 'cancelled' }), ctx({ cancelRequested: true }))!.patch.error,
    ).toBe('cancelled by user');
  });

  it('the backend’s start, end and node win over what the engine observed', () => {
    const c = mapJobStatus(
      task({ state: 'running', startedAt: '2030-01-01T00:10:00Z', node: 'seen' }),
      st({
        state: 'completed',
        exitCode: 0,
        startedAt: '2030-01-01T00:05:00Z',
        finishedAt: '2030-01-01T00:50:00Z',
        node: 'real',
      }),
      ctx(),
    )!;
    expect(c.patch).toMatchObject({
      startedAt: '2030-01-01T00:05:00Z',
      finishedAt: '2030-01-01T00:50:00Z',
      node: 'real',
    });
  });

  it('an unknown job is lost only after the grace, counted from the later of first unknown and submission', () => {
    const unknown = st({ state: 'unknown' });
    expect(mapJobStatus(task(), unknown, ctx({ unknownSinceMs: NOW - 599_000 }))).toBeNull();
    const lost = mapJobStatus(task(), unknown, ctx({ unknownSinceMs: NOW - 600_000 }))!;
    expect(lost).toMatchObject({ to: 'failed' });
    expect(lost.reason).toBe('job lost: the scheduler has no record of job 42 (unknown for 600 s)');
    // Submitted 1 min ago: the grace counts from the submission.
    const recent = task({ submittedAt: new Date(NOW - 60_000).toISOString() });
    expect(mapJobStatus(recent, unknown, ctx({ unknownSinceMs: NOW - 3_600_000 }))).toBeNull();
  });
});

describe('waitsForFinalVerdict', () => {
  it('waits out a non-final terminal verdict for the grace, never a final or live one', () => {
    const provisional = st({ state: 'completed', final: false });
    expect(waitsForFinalVerdict(provisional, NOW - 1000, NOW, 600_000)).toBe(true);
    expect(waitsForFinalVerdict(provisional, NOW - 600_000, NOW, 600_000)).toBe(false);
    expect(waitsForFinalVerdict(st({ state: 'completed', final: true }), NOW, NOW, 600_000)).toBe(false);
    expect(waitsForFinalVerdict(st({ state: 'running', final: false }), NOW, NOW, 600_000)).toBe(false);
  });
});
