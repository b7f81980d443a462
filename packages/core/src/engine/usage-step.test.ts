import { describe, expect, it } from 'vitest';
import { adhoc, setup, specs } from '../../test/helpers.js';
import type { TrackedJob } from '../backend.js';
import { BackendError } from '../errors.js';
import { FakeBackend, MemoryRunStore } from '../testing/index.js';
import type { UsageReport } from '../usage.js';

/** A fake backend whose accounting answers from a table (absent job = not in accounting yet). */
function withUsage(reports: Map<string, UsageReport>) {
  const fake = new FakeBackend({ maxConcurrent: 10, pollsToComplete: 1 });
  const calls: TrackedJob[][] = [];
  let failNext: Error | null = null;
  Object.assign(fake, {
    async fetchUsage(jobs: TrackedJob[]) {
      calls.push(jobs);
      if (failNext) {
        const e = failNext;
        failNext = null;
        throw e;
      }
      const out = new Map<string, UsageReport>();
      for (const j of jobs) out.set(j.jobId, reports.get(j.taskId) ?? { kind: 'pending' });
      return out;
    },
  });
  return { fake, calls, failOnce: (e: Error) => (failNext = e) };
}

const OK: UsageReport = {
  kind: 'ok',
  node: 'node07',
  startedAt: '2029-12-31T23:59:00.000Z',
  finishedAt: '2029-12-31T23:59:40.000Z',
  elapsedSec: 40,
  allocCpus: 2,
  cpuTimeSec: 30,
  maxRssBytes: 200 * 1024 * 1024,
  reqMemBytes: 4 * 1024 ** 3,
};

describe('engine: usage step', () => {
  it('completes the task first, then fills its usage with ONE fetchUsage call for all ended jobs', async () => {
    const reports = new Map<string, UsageReport>();
    const { fake, calls } = withUsage(reports);
    const { engine, store } = await setup({ fake });
    const run = adhoc(engine, specs(...Array.from({ length: 5 }, (_, i) => ({ id: `t${i}` }))));
    await engine.tick('fake'); // submit
    await engine.tick('fake'); // complete (status) + first usage query: none known yet
    expect(store.getTask(run.id, 't0')).toMatchObject({ state: 'completed', usage: { status: 'pending' } });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.map((j) => j.taskId).sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
    for (let i = 0; i < 5; i++) reports.set(`t${i}`, OK);
    await engine.tick('fake');
    expect(calls).toHaveLength(2);
    const t = store.getTask(run.id, 't3')!;
    expect(t.usage).toMatchObject({ status: 'ok', source: 'local', cpuTimeSec: 30, allocCpus: 2 });
    // the accounting's node/start/end win over what the engine observed
    expect(t).toMatchObject({ node: 'node07', startedAt: OK.startedAt, finishedAt: OK.finishedAt });
    // nothing more to ask
    await engine.tick('fake');
    expect(calls).toHaveLength(2);
    // the ledger has the CPU-hours: 5 tasks × 40 s × 2 CPUs
    const [day] = store.usageBuckets('day', '2000-01-01');
    expect(day).toMatchObject({ bucket: '2029-12-31', tasks: 5 });
    expect(day!.cpuHoursAllocated).toBeCloseTo((5 * 40 * 2) / 3600, 6);
    expect(day!.cpuHoursUsed).toBeCloseTo((5 * 30) / 3600, 6);
  });

  it('after the grace, an ended job whose accounting never arrives is "unavailable" with the reason, never zeros', async () => {
    const { fake } = withUsage(new Map());
    const { engine, store, clock } = await setup({ fake, engine: { usageGraceMs: 60_000 } });
    const run = adhoc(engine, specs({ id: 'a' }));
    await engine.tick('fake');
    await engine.tick('fake');
    clock.advance(30_000);
    await engine.tick('fake');
    expect(store.getTask(run.id, 'a')!.usage!.status).toBe('pending');
    clock.advance(31_000);
    await engine.tick('fake');
    const u = store.getTask(run.id, 'a')!.usage!;
    expect(u.status).toBe('unavailable');
    expect(u.reason).toMatch(/local did not report job \S+ within 1 min/);
    expect([u.cpuTimeSec, u.maxRssBytes, u.elapsedSec]).toEqual([null, null, null]);
  });

  it('an accounting outage leaves the jobs waiting; a failed query is the reason once the grace is over', async () => {
    const reports = new Map<string, UsageReport>();
    const { fake, calls, failOnce } = withUsage(reports);
    const { engine, store, clock } = await setup({ fake, engine: { usageGraceMs: 60_000 } });
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b' }));
    await engine.tick('fake');
    failOnce(new BackendError('sacct: slurmdbd down', { transient: true }));
    await engine.tick('fake');
    expect(store.getTask(run.id, 'a')).toMatchObject({ state: 'completed', usage: { status: 'pending' } });
    reports.set('a', OK);
    await engine.tick('fake');
    expect(store.getTask(run.id, 'a')!.usage!.status).toBe('ok');
    clock.advance(61_000);
    failOnce(new BackendError('sacct: slurmdbd down', { transient: true }));
    await engine.tick('fake');
    expect(store.getTask(run.id, 'b')!.usage).toMatchObject({
      status: 'unavailable',
      reason: 'the usage query failed: sacct: slurmdbd down',
    });
    expect(calls).toHaveLength(3);
  });

  it('resumes asking after a restart for tasks left pending', async () => {
    const store = new MemoryRunStore();
    const first = withUsage(new Map());
    const a = await setup({ fake: first.fake, store });
    const run = adhoc(a.engine, specs({ id: 'a' }));
    await a.engine.tick('fake');
    await a.engine.tick('fake');
    await a.engine.stop();
    expect(store.tasksAwaitingUsage().map((t) => t.spec.id)).toEqual(['a']);
    const second = withUsage(new Map([['a', OK]]));
    const b = await setup({ fake: second.fake, store });
    await b.engine.tick('fake');
    expect(second.calls.map((c) => c.map((j) => j.taskId))).toEqual([['a']]);
    expect(store.getTask(run.id, 'a')!.usage!.status).toBe('ok');
    expect(store.tasksAwaitingUsage()).toEqual([]);
  });

  it('a backend without fetchUsage records no usage', async () => {
    const { engine, store, drive } = await setup();
    const run = adhoc(engine, specs({ id: 'a' }));
    await drive();
    expect(store.getTask(run.id, 'a')!.usage ?? null).toBeNull();
  });
});
