/**
 * What every UI page module shares: the Hono env (CSRF token per request), the dependencies, cached
 * run costs, dependency states, and small request helpers. Each page file registers its own routes
 * with {@link UiContext}.
 */
import { type RunSummary, ScriptHutError, type TaskRecord, type TaskState } from '@scripthut/core';
import type { RunCost, ScriptHutRuntime } from '@scripthut/runtime';
import type { Context, Hono } from 'hono';
import type { z } from 'zod';
import type { StreamRegistry } from '../sse.js';
import type { TerminalSessions } from '../terminals.js';
import type { GroupCache } from '../views.js';
import type { PageContext } from './components.js';

export interface UiDeps {
  runtime: ScriptHutRuntime;
  version: string;
  streams: StreamRegistry;
  groups: GroupCache;
  /** Open browser terminals (absent: the server offers none). */
  terminals?: TerminalSessions;
}

export type UiEnv = { Variables: { csrf: string } };
export type UiApp = Hono<UiEnv>;

/** Shared services of the UI routes. */
export interface UiContext extends UiDeps {
  /** What the layout needs (CSRF token, version). */
  pageContext(c: Context<UiEnv>): PageContext;
  /** Cost of a run, recomputed only when its progress changes; null when unavailable. */
  costOf(s: RunSummary): Promise<RunCost | null>;
  costsOf(runs: RunSummary[]): Promise<Map<string, RunCost | null>>;
  /** States of the given tasks and of their dependencies (for “why is it pending”). */
  depStatesOf(runId: string, tasks: TaskRecord[]): Map<string, TaskState>;
  /** Names of the configured backends. */
  backendNames(): string[];
}

export function createUiContext(deps: UiDeps): UiContext {
  const { runtime, version } = deps;
  const costCache = new Map<string, { key: string; cost: RunCost | null }>();
  async function costOf(s: RunSummary): Promise<RunCost | null> {
    const key = `${s.status}:${s.counts.completed}:${s.counts.failed}:${s.counts.running}:${s.total}`;
    const hit = costCache.get(s.run.id);
    if (hit && hit.key === key && s.status !== 'running') return hit.cost;
    let cost: RunCost | null = null;
    try {
      cost = await runtime.runCost(s.run.id);
    } catch {
      cost = null;
    }
    if (costCache.size > 500) costCache.clear();
    costCache.set(s.run.id, { key, cost });
    return cost;
  }
  return {
    ...deps,
    pageContext: (c) => ({ csrf: c.get('csrf'), version }),
    costOf,
    async costsOf(runs) {
      const entries = await Promise.all(runs.map(async (r) => [r.run.id, await costOf(r)] as const));
      return new Map(entries);
    },
    depStatesOf(runId, tasks) {
      const states = new Map<string, TaskState>();
      for (const t of tasks) states.set(t.spec.id, t.state);
      let lookups = 0;
      for (const t of tasks) {
        if (t.state !== 'pending') continue;
        for (const d of t.spec.deps) {
          if (states.has(d) || lookups > 2000) continue;
          lookups++;
          try {
            states.set(d, runtime.getTask(runId, d).state);
          } catch {
            /* unknown dep: leave it out */
          }
        }
      }
      return states;
    },
    backendNames: () => runtime.listBackends().map((b) => b.name),
  };
}

/** Parses a value with a zod schema or throws `validation_failed` (400) naming `what`. */
export function parseOr400<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new ScriptHutError(
      'validation_failed',
      `invalid ${what}: ${r.error.issues[0]?.message ?? 'bad value'}`,
    );
  return r.data as z.output<T>;
}

/** A positive integer query parameter, else `def` (capped at `max`). */
export function intParam(v: string | undefined, def: number, max = 1_000_000): number {
  const n = v === undefined ? Number.NaN : Number.parseInt(v, 10);
  return Number.isFinite(n) && n >= 1 ? Math.min(n, max) : def;
}

/** Renders a JSX element to a string (a full page gets the doctype). */
export async function html(el: unknown): Promise<string> {
  const s = String(await (el as { toString(): string | Promise<string> }).toString());
  return s.startsWith('<html') ? `<!doctype html>${s}` : s;
}

/** A non-empty string field of a submitted form, else undefined. */
export async function formString(c: Context<UiEnv>, key: string): Promise<string | undefined> {
  const body = await c.req.parseBody();
  const v = body[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
