import { describe, expect, it } from 'vitest';
import type { TrackedJob } from '../backend.js';
import { FakeBackend, makeRequest } from './index.js';

const tracked = (jobId: string, taskId: string): TrackedJob => ({
  jobId,
  runId: 'run1',
  taskId,
  tag: `t-${taskId}`,
  stdoutPath: null,
  stderrPath: null,
  submittedAt: null,
  lastState: null,
  meta: {},
});

async function submitAndPoll(fake: FakeBackend) {
  const requests = ['a', 'b', 'c'].map((id) => makeRequest(`t-${id}`, { id }));
  const outcomes = await fake.submit(requests);
  const jobs = outcomes.map((o) => tracked(o.ok ? o.jobId : '', o.taskId));
  return fake.status(jobs);
}

describe('FakeBackend', () => {
  it('in benchmark (instant) mode forgets an ended job at the first later poll that does not ask about it', async () => {
    const fake = new FakeBackend({ maxConcurrent: 10, instant: true });
    const statuses = await submitAndPoll(fake);
    expect([...statuses.values()].map((s) => s.state)).toEqual(['completed', 'completed', 'completed']);
    expect(fake.alive).toBe(0);
    expect(fake.maxAlive).toBe(3);
    // Asked again (the engine could not record the end): still known, still completed.
    const [a, b, c] = [...statuses.keys()].map((id, i) => tracked(id, ['a', 'b', 'c'][i]!));
    expect((await fake.status([a!])).get(a!.jobId)?.state).toBe('completed');
    expect(fake.jobs.size).toBe(3 - 2); // b and c were not asked about: forgotten
    expect((await fake.status([b!, c!])).get(b!.jobId)?.state).toBe('unknown');
    await fake.status([]);
    expect(fake.jobs.size).toBe(0);
    expect(fake.submittedJobs).toBe(3);
  });

  it('otherwise keeps every job, ended or not, for the test to inspect', async () => {
    const fake = new FakeBackend({ maxConcurrent: 10, pollsToComplete: 1 });
    const statuses = await submitAndPoll(fake);
    expect([...statuses.values()].map((s) => s.state)).toEqual(['completed', 'completed', 'completed']);
    expect(fake.jobs.size).toBe(3);
    expect(fake.findJob('b')?.state).toBe('completed');
  });
});
