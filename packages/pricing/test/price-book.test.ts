import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CACHE_FILE_NAME,
  createPriceBook,
  type PriceBookOptions,
  type PriceType,
  parseInstances,
} from '../src/index.js';

const fixturePath = join(import.meta.dirname, 'fixtures', 'instances.json');
const fixtureText = await readFile(fixturePath, 'utf8');
const URL_ = 'https://prices.example.test/instances.json';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scripthut-pricing-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function okFetch() {
  const calls: string[] = [];
  const f = (async (input: string | URL | Request) => {
    calls.push(String(input));
    return new Response(fixtureText, { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { f, calls };
}

const offlineFetch = (async () => {
  throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND prices.example.test') });
}) as typeof fetch;

function book(over: Partial<PriceBookOptions> = {}) {
  return createPriceBook({
    region: 'us-east-1',
    priceType: 'ondemand',
    partitions: { standard: 'c5.xlarge', highmem: 'r5.4xlarge', gpu: 'p3.2xlarge', weird: 'x9.mega' },
    source: URL_,
    cacheDir: dir,
    fetch: okFetch().f,
    ...over,
  });
}

describe('parseInstances', () => {
  it('reduces the real instances.json shape to one region, with string prices parsed', () => {
    const recs = parseInstances(JSON.parse(fixtureText), 'us-east-1');
    expect(Object.keys(recs).sort()).toEqual(['c5.xlarge', 'p3.2xlarge', 'r5.4xlarge']);
    expect(recs['c5.xlarge']).toEqual({
      instanceType: 'c5.xlarge',
      vcpus: 4,
      memoryGiB: 8,
      prices: { ondemand: 0.17, spot_avg: 0.068, spot_min: 0.0612, spot_max: 0.0791 },
    });
    // "N/A" is not a price
    expect(recs['p3.2xlarge']!.prices).toEqual({ ondemand: 3.06 });
  });

  it('rejects data that is not an array', () => {
    expect(() => parseInstances({ nope: 1 }, 'us-east-1')).toThrow(/JSON array/);
  });
});

describe('price types', () => {
  const expected: Record<PriceType, number> = {
    ondemand: 0.17,
    spot_avg: 0.068,
    spot_min: 0.0612,
    spot_max: 0.0791,
  };
  for (const [priceType, hourly] of Object.entries(expected) as [PriceType, number][]) {
    it(`uses the ${priceType} price`, async () => {
      const b = book({ priceType });
      expect(await b.load()).toEqual({ ok: true });
      expect(b.priceFor('c5.xlarge')).toEqual({ hourly, vcpus: 4, memoryGiB: 8 });
      const c = b.taskCost({ cpus: 4, memoryMiB: 1024, runtimeSeconds: 7200, partition: 'standard' });
      expect(c.cost).toBeCloseTo(2 * hourly, 10);
      expect(c.share).toBe(1);
    });
  }

  it('rejects an unknown price type', () => {
    expect(() => book({ priceType: 'reserved' as PriceType })).toThrow(/invalid price type/);
  });
});

describe('taskCost', () => {
  it('charges the cpu share of the mapped instance (batch / HPC task)', async () => {
    const b = book();
    await b.load();
    const c = b.taskCost({ cpus: 1, memoryMiB: 1024, runtimeSeconds: 3600, partition: 'standard' });
    expect(c).toEqual({ cost: 0.17 / 4, instanceType: 'c5.xlarge', share: 0.25, hourly: 0.17 });
  });

  it('charges the memory share when the task is memory-bound', async () => {
    const b = book();
    await b.load();
    // 1 of 4 vCPUs but 6 GiB of 8 GiB → memory share 0.75 wins
    const c = b.taskCost({ cpus: 1, memoryMiB: 6144, runtimeSeconds: 1800, partition: 'standard' });
    expect(c.share).toBe(0.75);
    expect(c.cost).toBeCloseTo(0.5 * 0.17 * 0.75, 12);
  });

  it('prices an EC2 task as its whole actual instance type, ignoring the partition map', async () => {
    const b = book();
    await b.load();
    const c = b.taskCost({
      cpus: 1,
      memoryMiB: 512,
      runtimeSeconds: 3600,
      partition: 'standard',
      instanceType: 'r5.4xlarge',
    });
    expect(c).toEqual({ cost: 1.008, instanceType: 'r5.4xlarge', share: 1, hourly: 1.008 });
  });

  it('explains unpriced tasks instead of returning zero', async () => {
    const b = book({ priceType: 'spot_avg' });
    await b.load();
    expect(b.taskCost({ cpus: 1, memoryMiB: 1, runtimeSeconds: 60, partition: 'nomap' })).toEqual({
      cost: null,
      reason: 'partition "nomap" has no instance type in pricing.partitions',
    });
    expect(b.taskCost({ cpus: 1, memoryMiB: 1, runtimeSeconds: 60 }).reason).toBe(
      'task has no partition or instance type',
    );
    expect(b.taskCost({ cpus: 1, memoryMiB: 1, runtimeSeconds: 60, partition: 'weird' })).toMatchObject({
      cost: null,
      reason: 'instance type x9.mega not found in price data',
    });
    // p3.2xlarge has no spot_avg price in the fixture ("N/A")
    expect(b.taskCost({ cpus: 1, memoryMiB: 1, runtimeSeconds: 60, partition: 'gpu' })).toMatchObject({
      cost: null,
      reason: 'no spot_avg price for p3.2xlarge in us-east-1',
    });
    expect(b.taskCost({ cpus: 1, memoryMiB: 1, runtimeSeconds: null, partition: 'standard' }).reason).toBe(
      'runtime unknown',
    );
    expect(b.priceFor('p3.2xlarge')).toBeNull();
    expect(b.priceFor('nope.large')).toBeNull();
  });

  it('treats a region missing from the data as unknown types', async () => {
    const b = book({ region: 'eu-west-3' });
    const r = await b.load();
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/no Linux prices for region eu-west-3/);
    expect(b.priceFor('c5.xlarge')).toBeNull();
    expect(b.taskCost({ cpus: 1, memoryMiB: 1, runtimeSeconds: 60, partition: 'standard' }).cost).toBeNull();
  });

  it('prices a region that has only some types and price types', async () => {
    const b = book({ region: 'us-west-2', priceType: 'spot_min' });
    expect(await b.load()).toEqual({ ok: true });
    expect(b.priceFor('c5.xlarge')).toBeNull(); // us-west-2 has no spot_min
    expect(b.priceFor('r5.4xlarge')).toBeNull(); // not offered in us-west-2 in the fixture
  });
});

describe('runCost and estimate', () => {
  it('totals costed tasks and counts the others with reasons', async () => {
    const b = book();
    await b.load();
    const r = b.runCost([
      { cpus: 2, memoryMiB: 1024, runtimeSeconds: 3600, partition: 'standard' }, // 0.085
      { cpus: 16, memoryMiB: 1024, runtimeSeconds: 1800, partition: 'highmem' }, // 0.504
      { cpus: 1, memoryMiB: 1024, runtimeSeconds: 100, partition: 'unmapped' },
      { cpus: 1, memoryMiB: 1024, runtimeSeconds: null, partition: 'standard' },
    ]);
    expect(r).toEqual({
      totalCost: 0.589,
      costedTasks: 2,
      uncostedTasks: 2,
      reasons: { 'partition "unmapped" has no instance type in pricing.partitions': 1, 'runtime unknown': 1 },
    });
  });

  it('estimates an upper bound from requested resources and time limits', async () => {
    const b = book();
    await b.load();
    const e = b.estimate([
      { cpus: 4, memoryMiB: 2048, timeLimitSeconds: 3600, partition: 'standard' }, // 0.17
      { cpus: 1, memoryMiB: 65536, timeLimitSeconds: 7200, partition: 'highmem' }, // 2h × 1.008 × 0.5
      { cpus: 1, memoryMiB: 1, timeLimitSeconds: 3600, instanceType: 'c5.xlarge' }, // dedicated: 0.17
    ]);
    expect(e).toEqual({
      upperBound: round4(0.17 + 1.008 + 0.17),
      costedTasks: 3,
      uncostedTasks: 0,
      reasons: {},
    });
  });
});

function round4(n: number) {
  return Math.round(n * 10_000) / 10_000;
}

describe('loading, cache and offline behaviour', () => {
  it('fetches once, writes the cache, and reuses it within cacheHours', async () => {
    const { f, calls } = okFetch();
    let t = new Date('2025-01-01T00:00:00Z');
    const b1 = book({ fetch: f, now: () => t });
    expect(await b1.load()).toEqual({ ok: true });
    expect(calls).toEqual([URL_]);
    expect(b1.status()).toMatchObject({
      loaded: true,
      origin: 'network',
      fetchedAt: '2025-01-01T00:00:00.000Z',
    });
    const cache = JSON.parse(await readFile(join(dir, CACHE_FILE_NAME), 'utf8'));
    expect(cache).toMatchObject({ region: 'us-east-1', source: URL_, fetchedAt: '2025-01-01T00:00:00.000Z' });

    t = new Date('2025-01-01T23:00:00Z');
    const b2 = book({ fetch: f, now: () => t });
    expect(await b2.load()).toEqual({ ok: true });
    expect(calls).toHaveLength(1);
    expect(b2.status().origin).toBe('cache');

    t = new Date('2025-01-02T01:00:00Z'); // older than 24 h → refetch
    expect(await b2.load()).toEqual({ ok: true });
    expect(calls).toHaveLength(2);
    expect(b2.status().origin).toBe('network');
  });

  it('uses a stale cache when the network is unreachable', async () => {
    await book({ now: () => new Date('2025-01-01T00:00:00Z') }).load();
    const b = book({ fetch: offlineFetch, now: () => new Date('2025-03-01T00:00:00Z') });
    expect(await b.load()).toEqual({ ok: true });
    expect(b.status()).toMatchObject({ origin: 'stale-cache', fetchedAt: '2025-01-01T00:00:00.000Z' });
    expect(b.taskCost({ cpus: 4, memoryMiB: 1, runtimeSeconds: 3600, partition: 'standard' }).cost).toBe(
      0.17,
    );
  });

  it('reports unavailable with the reason — never zero — when offline with no cache', async () => {
    const b = book({ fetch: offlineFetch });
    const r = await b.load();
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toContain('ENOTFOUND');
      expect(r.reason).toContain('no cached copy');
    }
    const c = b.taskCost({ cpus: 4, memoryMiB: 1, runtimeSeconds: 3600, partition: 'standard' });
    expect(c.cost).toBeNull();
    expect(c.reason).toMatch(/^pricing unavailable: .*ENOTFOUND/);
    const run = b.runCost([{ cpus: 1, memoryMiB: 1, runtimeSeconds: 10, partition: 'standard' }]);
    expect(run.totalCost).toBeNull();
    expect(run.uncostedTasks).toBe(1);
    expect(
      b.estimate([{ cpus: 1, memoryMiB: 1, timeLimitSeconds: 10, partition: 'standard' }]).upperBound,
    ).toBeNull();
  });

  it('times out a hanging download', async () => {
    const hanging = ((_: unknown, init?: RequestInit) =>
      new Promise((_res, rej) => {
        init?.signal?.addEventListener('abort', () => rej(init.signal?.reason));
      })) as typeof fetch;
    const r = await book({ fetch: hanging, fetchTimeoutMs: 50 }).load();
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/TimeoutError/);
  });

  it('treats HTTP errors as failures', async () => {
    const f = (async () => new Response('nope', { status: 503 })) as typeof fetch;
    const r = await book({ fetch: f }).load();
    expect(r).toEqual({
      ok: false,
      reason: `cannot load price data from ${URL_}: HTTP 503 from ${URL_} (and no cached copy)`,
    });
  });

  it('reads a local instances.json path without fetching', async () => {
    const { f, calls } = okFetch();
    const b = book({ source: fixturePath, fetch: f });
    expect(await b.load()).toEqual({ ok: true });
    expect(calls).toHaveLength(0);
    expect(b.status().origin).toBe('file');
    expect(b.priceFor('r5.4xlarge')?.hourly).toBe(1.008);
  });

  it('ignores a corrupt cache file', async () => {
    await writeFile(join(dir, CACHE_FILE_NAME), '{not json');
    const r = await book({ fetch: offlineFetch }).load();
    expect(r.ok).toBe(false);
  });
});
