import { describe, expect, it } from 'vitest';
import { adhoc, setup, specs } from '../../test/helpers.js';
import type { TaskRecord } from '../domain.js';
import type { Ledger } from './ledger.js';

describe('engine: the run index keeps finished tasks compact', () => {
  it('drops the script and cache key parts of a finished task from its index record, not from the store or its events', async () => {
    const s = await setup({ backend: { maxConcurrent: 10, pollsToComplete: 1 } });
    const events: TaskRecord[] = [];
    s.engine.events.on('task', (e) => {
      if (e.task.spec.id === 'a') events.push(e.task);
    });
    const run = adhoc(s.engine, specs({ id: 'a' }, { id: 'b', deps: ['a'] }));
    const indexed = () =>
      (s.engine as unknown as { ledger: Ledger }).ledger.runs.get(run.id)!.tasks.get('a')!;
    for (let i = 0; i < 20 && s.state(run.id, 'a') !== 'completed'; i++) {
      await s.engine.tick(s.fake.name);
      s.clock.advance(1000);
    }
    expect(s.state(run.id, 'a')).toBe('completed');
    expect(s.engine.activeRunIds()).toContain(run.id); // b still to run: a is still indexed

    const stored = s.store.getTask(run.id, 'a')!;
    expect(stored.script).toMatch(/echo|#!/);
    expect(stored.meta.cacheKey).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.meta.cacheParts).toMatchObject({ command: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // Its completion event carried the full record, as stored.
    expect(events.at(-1)).toMatchObject({ state: 'completed', script: stored.script, meta: stored.meta });

    const t = indexed();
    expect(t.state).toBe('completed');
    expect(t.script).toBeNull();
    expect(t.meta.cacheParts).toBeUndefined();
    expect(t.meta.cacheKey).toBe(stored.meta.cacheKey);
    expect(t.jobId).toBe(stored.jobId);

    await s.drive();
    expect(s.store.summarizeRun(run.id)!.status).toBe('completed');
  });
});
