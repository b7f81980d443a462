import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The price types instances.json carries per region (Linux). */
export const PRICE_TYPES = ['ondemand', 'spot_avg', 'spot_min', 'spot_max'] as const;
export type PriceType = (typeof PRICE_TYPES)[number];

/** Where price data comes from unless `source` says otherwise. */
export const DEFAULT_PRICING_SOURCE = 'https://instances.vantage.sh/instances.json';
/** Name of the cache file written in `cacheDir`. */
export const CACHE_FILE_NAME = 'pricing_cache.json';

const CACHE_VERSION = 1;

/** One instance type of one region, reduced from instances.json. */
export interface InstanceRecord {
  instanceType: string;
  vcpus: number;
  memoryGiB: number;
  /** Hourly Linux prices in USD; a price type absent from the data is absent here. */
  prices: Partial<Record<PriceType, number>>;
}

/** Hourly price and size of an instance type for the configured region and price type. */
export interface InstancePrice {
  hourly: number;
  vcpus: number;
  memoryGiB: number;
}

export type LoadResult = { ok: true } | { ok: false; reason: string };

export interface TaskCostInput {
  /** Requested CPUs (Batch vCPUs). */
  cpus: number;
  /** Requested memory in MiB. */
  memoryMiB: number;
  /** How long the task ran (or, for estimates, its time limit). */
  runtimeSeconds: number | null;
  /** Scheduler partition / Batch queue; priced through the `partitions` map. */
  partition?: string | null;
  /**
   * The EC2 instance type the task actually ran on (EC2 backend: one instance per task). When set,
   * the task is priced as the whole instance (share 1) and `partition` is not consulted.
   */
  instanceType?: string | null;
}

export interface TaskCost {
  /** USD, or `null` when the task cannot be priced (see `reason`). Never a made-up zero. */
  cost: number | null;
  reason?: string;
  instanceType?: string;
  /** Fraction of the instance charged: max(cpu share, memory share), or 1 for a dedicated instance. */
  share?: number;
  /** Hourly price used. */
  hourly?: number;
}

export interface RunCost {
  /** Sum of the costed tasks in USD, rounded to 4 decimals; `null` when no task could be priced. */
  totalCost: number | null;
  costedTasks: number;
  uncostedTasks: number;
  /** Why tasks were not costed → how many. */
  reasons: Record<string, number>;
}

export interface EstimateInput {
  cpus: number;
  memoryMiB: number;
  /** The task's time limit in seconds (the estimate is an upper bound). */
  timeLimitSeconds: number;
  partition?: string | null;
  instanceType?: string | null;
}

export interface Estimate {
  /** Upper bound in USD (requested resources × time limits), rounded to 4 decimals; `null` if nothing could be priced. */
  upperBound: number | null;
  costedTasks: number;
  uncostedTasks: number;
  reasons: Record<string, number>;
}

export interface PriceBookOptions {
  /** AWS region whose prices are used, e.g. `us-east-1`. */
  region: string;
  priceType: PriceType;
  /** Scheduler partition (or Batch queue) → EC2 instance type. */
  partitions: Record<string, string>;
  /** URL or local path of instances.json (default {@link DEFAULT_PRICING_SOURCE}). */
  source?: string;
  /** Directory holding `pricing_cache.json`. */
  cacheDir: string;
  /** How long a cached copy is used without refetching (default 24). */
  cacheHours?: number;
  /** Timeout of the download in ms (default 30 000). */
  fetchTimeoutMs?: number;
  /** Injected fetch (tests, proxies). Default: global `fetch`. */
  fetch?: typeof fetch;
  /** Injected clock (tests). */
  now?: () => Date;
}

/**
 * Prices tasks from instances.json data. Call {@link PriceBook.load} first (and again to refresh);
 * until data is loaded every cost is `null` with a reason.
 */
export interface PriceBook {
  readonly region: string;
  readonly priceType: PriceType;
  /**
   * Load price data: a fresh cache (< cacheHours old) is used as is; otherwise the source is fetched
   * (with a timeout) and the cache rewritten; if that fails a stale cache is used. With neither the
   * result is `{ ok: false, reason }` and prices stay unavailable.
   */
  load(): Promise<LoadResult>;
  /** Where the data in use came from, for display. */
  status(): {
    loaded: boolean;
    origin: 'network' | 'file' | 'cache' | 'stale-cache' | null;
    fetchedAt: string | null;
    reason: string | null;
  };
  /** Hourly price (configured region and price type) and size of an instance type, or `null`. */
  priceFor(instanceType: string): InstancePrice | null;
  /** Cost of one finished task. */
  taskCost(input: TaskCostInput): TaskCost;
  /** Totals over a run's tasks. */
  runCost(tasks: readonly TaskCostInput[]): RunCost;
  /** Upper-bound estimate from requested resources × time limits. */
  estimate(tasks: readonly EstimateInput[]): Estimate;
}

interface CacheFile {
  version: number;
  fetchedAt: string;
  source: string;
  region: string;
  instances: Record<string, InstanceRecord>;
}

function toNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/**
 * Reduce instances.json (an array of `{ instance_type, vCPU, memory, pricing: { <region>: { linux:
 * { ondemand: "0.17", spot_avg, ... } } } }`) to the records of one region. Instance types without
 * Linux prices in that region are left out.
 */
export function parseInstances(data: unknown, region: string): Record<string, InstanceRecord> {
  if (!Array.isArray(data)) throw new Error('unexpected pricing data: expected a JSON array of instances');
  const out: Record<string, InstanceRecord> = {};
  for (const entry of data) {
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as Record<string, unknown>;
    const type = e.instance_type;
    const vcpus = toNumber(e.vCPU);
    const memoryGiB = toNumber(e.memory);
    if (typeof type !== 'string' || vcpus === null || vcpus <= 0 || memoryGiB === null) continue;
    const pricing = e.pricing as Record<string, unknown> | undefined;
    const regional = pricing?.[region] as Record<string, unknown> | undefined;
    const linux = regional?.linux as Record<string, unknown> | undefined;
    if (!linux) continue;
    const prices: Partial<Record<PriceType, number>> = {};
    for (const pt of PRICE_TYPES) {
      const p = toNumber(linux[pt]);
      if (p !== null && p >= 0) prices[pt] = p;
    }
    out[type] = { instanceType: type, vcpus, memoryGiB, prices };
  }
  return out;
}

function describeError(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    const causeText = cause instanceof Error ? `: ${cause.message}` : '';
    return `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}${causeText}`;
  }
  return String(e);
}

const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

/**
 * Create a {@link PriceBook}.
 *
 * @example
 * ```ts
 * const book = createPriceBook({ region: 'us-east-1', priceType: 'spot_avg',
 *   partitions: { standard: 'c5.xlarge' }, cacheDir: '/var/lib/scripthut' });
 * const loaded = await book.load();
 * if (!loaded.ok) console.warn(`pricing unavailable: ${loaded.reason}`);
 * book.taskCost({ cpus: 2, memoryMiB: 4096, runtimeSeconds: 3600, partition: 'standard' });
 * // → { cost: 0.0425, instanceType: 'c5.xlarge', share: 0.5, hourly: 0.085 }
 * ```
 */
export function createPriceBook(options: PriceBookOptions): PriceBook {
  const source = options.source ?? DEFAULT_PRICING_SOURCE;
  const cachePath = join(options.cacheDir, CACHE_FILE_NAME);
  const cacheMs = (options.cacheHours ?? 24) * 3600_000;
  const timeoutMs = options.fetchTimeoutMs ?? 30_000;
  const now = options.now ?? (() => new Date());
  const doFetch = options.fetch ?? globalThis.fetch;
  if (!(PRICE_TYPES as readonly string[]).includes(options.priceType)) {
    throw new Error(
      `invalid price type ${JSON.stringify(options.priceType)}; expected one of ${PRICE_TYPES.join(', ')}`,
    );
  }

  let instances: Record<string, InstanceRecord> | null = null;
  let origin: 'network' | 'file' | 'cache' | 'stale-cache' | null = null;
  let fetchedAt: string | null = null;
  let unavailable: string | null = 'pricing data not loaded yet';

  async function readCache(): Promise<CacheFile | null> {
    try {
      const parsed = JSON.parse(await readFile(cachePath, 'utf8')) as CacheFile;
      if (parsed.version !== CACHE_VERSION || parsed.region !== options.region || parsed.source !== source)
        return null;
      if (typeof parsed.instances !== 'object' || parsed.instances === null) return null;
      if (Number.isNaN(Date.parse(parsed.fetchedAt))) return null;
      return parsed;
    } catch {
      return null;
    }
  }

  async function writeCache(data: CacheFile): Promise<void> {
    try {
      await mkdir(options.cacheDir, { recursive: true });
      const tmp = `${cachePath}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(data));
      await rename(tmp, cachePath);
    } catch {
      // A cache that cannot be written only costs a refetch next time.
    }
  }

  async function fetchSource(): Promise<unknown> {
    if (!/^https?:\/\//i.test(source)) return JSON.parse(await readFile(source, 'utf8'));
    if (!doFetch) throw new Error('no fetch implementation available');
    const res = await doFetch(source, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'User-Agent': 'scripthut' },
    });
    if (!res.ok) throw new Error(`HTTP ${res.status} from ${source}`);
    return res.json();
  }

  function use(data: Record<string, InstanceRecord>, from: typeof origin, at: string) {
    instances = data;
    origin = from;
    fetchedAt = at;
    unavailable = null;
  }

  function priceFor(instanceType: string): InstancePrice | null {
    const rec = instances?.[instanceType];
    const hourly = rec?.prices[options.priceType];
    if (!rec || hourly === undefined) return null;
    return { hourly, vcpus: rec.vcpus, memoryGiB: rec.memoryGiB };
  }

  function taskCost(input: TaskCostInput): TaskCost {
    if (!instances) return { cost: null, reason: `pricing unavailable: ${unavailable ?? 'not loaded'}` };
    const dedicated = Boolean(input.instanceType);
    const type = input.instanceType || (input.partition ? options.partitions[input.partition] : undefined);
    if (!type) {
      return {
        cost: null,
        reason: input.partition
          ? `partition "${input.partition}" has no instance type in pricing.partitions`
          : 'task has no partition or instance type',
      };
    }
    const runtime = input.runtimeSeconds;
    if (runtime === null || !Number.isFinite(runtime) || runtime < 0) {
      return { cost: null, reason: 'runtime unknown', instanceType: type };
    }
    const rec = instances[type];
    if (!rec)
      return { cost: null, reason: `instance type ${type} not found in price data`, instanceType: type };
    const hourly = rec.prices[options.priceType];
    if (hourly === undefined) {
      return {
        cost: null,
        reason: `no ${options.priceType} price for ${type} in ${options.region}`,
        instanceType: type,
      };
    }
    let share = 1;
    if (!dedicated) {
      const cpuShare = Math.max(0, input.cpus) / rec.vcpus;
      const memShare = rec.memoryGiB > 0 ? Math.max(0, input.memoryMiB) / 1024 / rec.memoryGiB : 0;
      share = Math.max(cpuShare, memShare);
    }
    return { cost: (runtime / 3600) * hourly * share, instanceType: type, share, hourly };
  }

  function total(costs: TaskCost[]): {
    sum: number | null;
    costed: number;
    uncosted: number;
    reasons: Record<string, number>;
  } {
    let sum = 0;
    let costed = 0;
    const reasons: Record<string, number> = {};
    for (const c of costs) {
      if (c.cost === null) {
        const r = c.reason ?? 'unknown';
        reasons[r] = (reasons[r] ?? 0) + 1;
      } else {
        sum += c.cost;
        costed++;
      }
    }
    return { sum: costed > 0 ? round4(sum) : null, costed, uncosted: costs.length - costed, reasons };
  }

  return {
    region: options.region,
    priceType: options.priceType,

    async load() {
      const cached = await readCache();
      const t = now().getTime();
      if (cached && t - Date.parse(cached.fetchedAt) < cacheMs && t >= Date.parse(cached.fetchedAt)) {
        use(cached.instances, 'cache', cached.fetchedAt);
        return { ok: true };
      }
      try {
        const data = parseInstances(await fetchSource(), options.region);
        if (Object.keys(data).length === 0)
          throw new Error(`price data has no Linux prices for region ${options.region}`);
        const at = now().toISOString();
        use(data, /^https?:\/\//i.test(source) ? 'network' : 'file', at);
        await writeCache({
          version: CACHE_VERSION,
          fetchedAt: at,
          source,
          region: options.region,
          instances: data,
        });
        return { ok: true };
      } catch (e) {
        const reason = `cannot load price data from ${source}: ${describeError(e)}`;
        if (cached) {
          use(cached.instances, 'stale-cache', cached.fetchedAt);
          return { ok: true };
        }
        if (!instances) unavailable = `${reason} (and no cached copy)`;
        return instances ? { ok: true } : { ok: false, reason: unavailable ?? reason };
      }
    },

    status() {
      return { loaded: instances !== null, origin, fetchedAt, reason: unavailable };
    },

    priceFor,
    taskCost,

    runCost(tasks) {
      const t = total(tasks.map(taskCost));
      return { totalCost: t.sum, costedTasks: t.costed, uncostedTasks: t.uncosted, reasons: t.reasons };
    },

    estimate(tasks) {
      const t = total(
        tasks.map((x) =>
          taskCost({
            cpus: x.cpus,
            memoryMiB: x.memoryMiB,
            runtimeSeconds: x.timeLimitSeconds,
            partition: x.partition ?? null,
            instanceType: x.instanceType ?? null,
          }),
        ),
      );
      return { upperBound: t.sum, costedTasks: t.costed, uncostedTasks: t.uncosted, reasons: t.reasons };
    },
  };
}
