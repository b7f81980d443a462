import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { awsBackendKit, SettledCache } from '../src/index.js';
import { awsNetworkError, awsServiceError } from '../src/testing/index.js';

const root = mkdtempSync(join(tmpdir(), 'aws-kit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('awsBackendKit', () => {
  it('wires a caller (backend defaults, user policy wins), a record store under the data dir and the clock', async () => {
    const debug: string[] = [];
    const sleeps: number[] = [];
    const kit = awsBackendKit<{ state: string }>(
      {
        name: 'research',
        dataDir: root,
        retry: { maxAttempts: 3, maxDelayMs: undefined },
        sleep: async (ms) => void sleeps.push(ms),
        now: () => 42,
        logger: { debug: (m) => debug.push(m) },
      },
      {
        type: 'ecs',
        endpoint: 'Amazon ECS eu-west-1 (cluster c)',
        recordsDir: 'ecs-tasks',
        defaultPolicy: { maxAttempts: 9, maxDelayMs: 50 },
      },
    );
    let n = 0;
    await expect(
      kit.aws.call('DescribeTasks', async () => {
        n++;
        throw awsNetworkError('ECONNRESET');
      }),
    ).rejects.toThrow();
    expect(n).toBe(3); // the user's maxAttempts
    expect(sleeps.every((d) => d < 50)).toBe(true); // the backend's cap (undefined does not erase it)
    expect(debug[0]).toMatch(/^DescribeTasks: network error, retry 1 in \d+ ms: socket error ECONNRESET$/);
    expect(kit.aws.health()).toMatchObject({
      connected: false,
      endpoint: 'Amazon ECS eu-west-1 (cluster c)',
    });
    kit.finished.put('run1', 'task-1', { state: 'completed' });
    expect(readdirSync(join(root, 'ecs-tasks'))).toEqual(['run1.jsonl']);
    expect(kit.now()).toBe(42);
  });

  it('without a data dir keeps records in memory; the default logger prefixes type and name', () => {
    const warned: string[] = [];
    const original = console.warn;
    console.warn = (m: string) => void warned.push(m);
    try {
      const kit = awsBackendKit<number>(
        { name: 'b' },
        { type: 'batch', endpoint: 'x', recordsDir: 'batch-jobs' },
      );
      kit.finished.put('r', 'j', 1);
      expect(kit.finished.get('r', 'j')).toBe(1);
      expect(existsSync(join(root, 'batch-jobs'))).toBe(false);
      kit.log.warn?.('hello');
      expect(warned).toEqual(['[batch:b] hello']);
    } finally {
      console.warn = original;
    }
  });
});

describe('SettledCache', () => {
  it('shares a lookup in flight, keeps answers, forgets failures', async () => {
    const cache = new SettledCache<string, number>();
    let calls = 0;
    const slow = () =>
      new Promise<number>((resolve) => {
        calls++;
        setImmediate(() => resolve(calls));
      });
    const [a, b] = await Promise.all([cache.get('k', slow), cache.get('k', slow)]);
    expect([a, b, calls]).toEqual([1, 1, 1]);
    expect(await cache.get('k', slow)).toBe(1);
    await expect(
      cache.get('bad', async () => Promise.reject(awsServiceError('Throttling', 'x', 400))),
    ).rejects.toThrow();
    expect(await cache.get('bad', async () => 7)).toBe(7);
  });
});
