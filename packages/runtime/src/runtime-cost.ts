/**
 * Prices for the runtime: a dry run's cost upper bound and a run's cost from its tasks' runtimes,
 * through the configured price book (`@scripthut/pricing`), whose data is loaded at most once.
 */
import type { RunStore, RunSummary, TaskSpec } from '@scripthut/core';
import type { PriceBook } from '@scripthut/pricing';
import type { CostEstimate, RunCost } from './types.js';

function firstReason(reasons: Record<string, number> | undefined): string | null {
  const entries = Object.entries(reasons ?? {});
  return entries.length ? entries.map(([r, n]) => `${r} (${n})`).join('; ') : null;
}

/** Estimates and run costs; without `pricing` in the config every answer says why none is shown. */
export class CostCalculator {
  private pricesLoad: { at: number; result: ReturnType<PriceBook['load']> } | null = null;

  constructor(
    private readonly priceBook: PriceBook | null,
    private readonly store: Pick<RunStore, 'allTasks'>,
  ) {}

  /** Whether `pricing` is configured. */
  get configured(): boolean {
    return this.priceBook !== null;
  }

  /**
   * Load price data at most once (a failure is retried after 10 minutes), so dry runs and cost
   * views do not re-read or re-fetch instances.json, or wait for a network timeout, every time.
   */
  loadPrices(): ReturnType<PriceBook['load']> {
    if (!this.priceBook) return Promise.resolve({ ok: false, reason: 'pricing is not configured' });
    const stale = this.pricesLoad && Date.now() - this.pricesLoad.at > 10 * 60_000;
    if (!this.pricesLoad || stale) {
      const result = this.priceBook.load();
      this.pricesLoad = { at: Date.now(), result };
      void result.then((r) => {
        if (r.ok) this.pricesLoad = { at: Number.POSITIVE_INFINITY, result };
      });
    }
    return this.pricesLoad.result;
  }

  /** The upper bound of what `tasks` may cost (each at its time limit). */
  async estimateTasks(tasks: TaskSpec[]): Promise<CostEstimate> {
    if (!this.priceBook) {
      return {
        available: false,
        reason: 'pricing is not configured',
        upperBound: null,
        costedTasks: 0,
        uncostedTasks: tasks.length,
        currency: 'USD',
      };
    }
    await this.loadPrices();
    const e = this.priceBook.estimate(
      tasks.map((t) => ({
        cpus: t.cpus,
        memoryMiB: t.memoryMiB,
        timeLimitSeconds: t.timeLimitSeconds,
        partition: t.partition,
      })),
    );
    const status = this.priceBook.status();
    return {
      available: e.upperBound !== null,
      reason:
        e.upperBound === null ? (status.reason ?? firstReason(e.reasons) ?? 'no task could be priced') : null,
      upperBound: e.upperBound,
      costedTasks: e.costedTasks,
      uncostedTasks: e.uncostedTasks,
      currency: 'USD',
    };
  }

  /** What the run of `summary` cost so far, from its tasks' runtimes (or instance types). */
  async runCost(summary: RunSummary): Promise<RunCost> {
    const unavailable = (reason: string): RunCost => ({
      available: false,
      reason,
      total: null,
      costedTasks: 0,
      uncostedTasks: summary.total,
      currency: 'USD',
    });
    if (!this.priceBook) return unavailable('pricing is not configured');
    const loaded = await this.loadPrices();
    if (!loaded.ok) return unavailable(loaded.reason);
    const tasks = this.store.allTasks(summary.run.id);
    const r = this.priceBook.runCost(
      tasks.map((t) => ({
        cpus: t.spec.cpus,
        memoryMiB: t.spec.memoryMiB,
        partition: t.spec.partition,
        runtimeSeconds:
          t.startedAt && t.finishedAt
            ? Math.max(0, (Date.parse(t.finishedAt) - Date.parse(t.startedAt)) / 1000)
            : null,
        ...(typeof t.meta.instanceType === 'string' ? { instanceType: t.meta.instanceType } : {}),
      })),
    );
    return {
      available: r.totalCost !== null,
      reason: r.totalCost === null ? (firstReason(r.reasons) ?? 'no task could be priced') : null,
      total: r.totalCost,
      costedTasks: r.costedTasks,
      uncostedTasks: r.uncostedTasks,
      currency: 'USD',
    };
  }
}
