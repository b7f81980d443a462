import { describe, expect, it } from 'vitest';
import { adhoc, setup, specs } from '../../test/helpers.js';
import type { Ledger } from './ledger.js';

// Issue 19 (peak RSS of a 100,000-task run): what most tasks have in common is one shared object.
describe('engine: values shared by the tasks of a run', () => {
  it('gives every spec without env vars one frozen empty envVars, and a spec with env vars its own', () => {
    const [a, b, c] = specs({ id: 'a' }, { id: 'b' }, { id: 'c', env_vars: { X: '1' } });
    expect(a!.envVars).toBe(b!.envVars);
    expect(a!.envVars).toEqual({});
    expect(Object.isFrozen(a!.envVars)).toBe(true);
    expect(() => {
      (a!.envVars as Record<string, string>).LEAK = 'x';
    }).toThrow(TypeError);
    expect(b!.envVars).toEqual({});
    expect(c!.envVars).toEqual({ X: '1' });
    expect(Object.isFrozen(c!.envVars)).toBe(false);
  });

  it('shares the array of a single exact dependency between deps and depPatterns, not of a wildcard', () => {
    const [, one, many] = specs(
      { id: 'g.a' },
      { id: 'one', deps: ['g.a'] },
      { id: 'many', deps: ['g.*', 'one'] },
    );
    expect(one!.deps).toEqual(['g.a']);
    expect(one!.depPatterns).toBe(one!.deps);
    expect(many!.depPatterns).toEqual(['g.*', 'one']);
    expect(many!.deps).toEqual(['g.a', 'one']);
    expect(many!.deps).not.toBe(many!.depPatterns);
  });

  it('indexes new tasks with one frozen empty meta, replaced (never written into) when a task gets meta', async () => {
    const s = await setup({ backend: { maxConcurrent: 1, pollsToComplete: 1 } });
    const run = adhoc(s.engine, specs({ id: 'a' }, { id: 'b' }));
    const indexed = (id: string) =>
      (s.engine as unknown as { ledger: Ledger }).ledger.runs.get(run.id)!.tasks.get(id)!;
    expect(indexed('a').meta).toBe(indexed('b').meta);
    expect(Object.isFrozen(indexed('a').meta)).toBe(true);
    await s.engine.tick(s.fake.name); // submits one task: its cache key goes into its own meta
    const submitted = ['a', 'b'].find((id) => indexed(id).state !== 'pending')!;
    const waiting = submitted === 'a' ? 'b' : 'a';
    expect(indexed(submitted).meta.cacheKey).toMatch(/^[0-9a-f]{64}$/);
    expect(indexed(waiting).meta).toEqual({});
    await s.drive();
    expect(s.store.summarizeRun(run.id)!.status).toBe('completed');
    expect(s.store.getTask(run.id, waiting)!.meta.cacheKey).toMatch(/^[0-9a-f]{64}$/);
  });
  it('gives the submit requests of tasks without env vars one frozen environment of their run', async () => {
    const s = await setup({ backend: { maxConcurrent: 10, pollsToComplete: 1 } });
    const run = adhoc(s.engine, specs({ id: 'a' }, { id: 'b' }, { id: 'c', env_vars: { X: '1' } }));
    const other = adhoc(s.engine, specs({ id: 'd' }));
    await s.engine.tick(s.fake.name);
    const requests = new Map(s.fake.submitCalls.flat().map((r) => [`${r.runId}/${r.taskId}`, r]));
    const [a, b, c, d] = ['a', 'b', 'c']
      .map((id) => requests.get(`${run.id}/${id}`)!)
      .concat(requests.get(`${other.id}/d`)!);
    expect(a!.env).toBe(b!.env);
    expect(a!.secretEnvNames).toBe(b!.secretEnvNames);
    expect(Object.isFrozen(a!.env)).toBe(true);
    expect(a!.env.SCRIPTHUT_RUN_ID).toBe(run.id);
    expect(() => {
      a!.env.LEAK = 'x';
    }).toThrow(TypeError);
    expect(c!.env).toEqual({ ...a!.env, X: '1' });
    expect(Object.isFrozen(c!.env)).toBe(false);
    expect(d!.env).not.toBe(a!.env);
    expect(d!.env.SCRIPTHUT_RUN_ID).toBe(other.id);
    // Same cache key parts for the environment as an unshared copy would give: a and b differ only
    // by their command.
    const meta = (id: string) => s.store.getTask(run.id, id)!.meta.cacheParts as Record<string, string>;
    expect(meta('a').environment).toBe(meta('b').environment);
    expect(meta('a').command).not.toBe(meta('b').command);
    await s.drive();
    expect(s.store.summarizeRun(run.id)!.status).toBe('completed');
  });
});
