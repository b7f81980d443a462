/**
 * Scheduling of one backend's loop: when ticks run, never two at once.
 *
 * States of the main timer ({@link BackendLoop.phase}):
 * - `idle`: not started (or `autoLoop: false`: ticks run only through {@link BackendLoop.tickNow});
 * - `waiting`: a timer is armed. After a good tick the delay is the poll interval ±10% jitter;
 *   after `n` consecutive failed ticks it is `min(5 min, max(interval, 1 s) · 2^(n−1))` ±20%;
 *   a pulse (new run, finished task, generated tasks) re-arms it with delay 0;
 * - `ticking`: a tick runs. A pulse meanwhile sets `again`: the next tick follows at once;
 * - `stopped`: `stop()` cleared the timers and waited for the running tick.
 *
 * The quick timer (backends with `quickStatus`) fires every `quickStatusIntervalMs` (≥ 200 ms,
 * default 1 s). It does nothing while no job is tracked or a tick runs; otherwise it runs one marker
 * check, serialised with the ticks on the same promise chain, and pulses the main timer when a task
 * finished.
 */
import type { Backend } from '../backend.js';
import { toError } from '../errors.js';
import { IllegalTransitionError } from './transitions.js';
import type { BackendLoopState, EngineLogger } from './types.js';

/** Longest delay between ticks of a failing backend (and between per-task submission retries). */
export const MAX_BACKOFF_MS = 5 * 60 * 1000;

/** `ms` spread uniformly by ±`spread` (e.g. 0.1 = ±10%). */
export function jitter(ms: number, spread: number, random: () => number = Math.random): number {
  return Math.max(0, Math.round(ms * (1 - spread + random() * 2 * spread)));
}

/** Delay before the next tick after `consecutiveErrors` failed ticks in a row (0 = healthy). */
export function nextTickDelay(
  consecutiveErrors: number,
  pollIntervalMs: number,
  random: () => number = Math.random,
): number {
  const n = consecutiveErrors;
  if (n <= 0) return jitter(pollIntervalMs, 0.1, random);
  return jitter(
    Math.min(MAX_BACKOFF_MS, Math.max(pollIntervalMs, 1000) * 2 ** Math.min(n - 1, 20)),
    0.2,
    random,
  );
}

export type LoopPhase = 'idle' | 'waiting' | 'ticking' | 'stopped';

/** What a loop runs. */
export interface LoopWork {
  /** One tick. Resolves true when another tick should follow at once; throws a backend error. */
  tick(): Promise<boolean>;
  /** One marker check (`quickStatus`). Resolves the number of tasks that finished. */
  quick(): Promise<number>;
  /** True while jobs are tracked (the marker check has something to look at). */
  hasTrackedJobs(): boolean;
  /** After every tick (also failed ones): flush events, report the poll. */
  afterTick(at: string, durationMs: number, error: string | null): void;
}

/** The timers and tick serialisation of one backend. */
export class BackendLoop {
  /** Health shown by the UI (`inFlight` is filled by the engine). */
  readonly health: BackendLoopState = {
    lastPollAt: null,
    lastPollDurationMs: null,
    lastError: null,
    consecutiveErrors: 0,
    inFlight: 0,
    clusterInfo: null,
    clusterInfoAt: null,
  };
  private timer: NodeJS.Timeout | null = null;
  private quickTimer: NodeJS.Timeout | null = null;
  /** Every tick and marker check runs after the previous one on this chain. */
  private chain: Promise<void> = Promise.resolve();
  private ticking = false;
  private again = false;
  /** Timers armed (between `start` and `stop`). */
  private running = false;
  private stopped = false;

  constructor(
    private readonly backend: Backend,
    private readonly pollIntervalMs: number,
    private readonly work: LoopWork,
    private readonly now: () => Date,
    private readonly log: EngineLogger,
  ) {}

  get phase(): LoopPhase {
    if (this.ticking) return 'ticking';
    if (this.running) return 'waiting';
    return this.stopped ? 'stopped' : 'idle';
  }

  /** Start the timers: a first tick at once, then the marker checks. */
  start(): void {
    this.running = true;
    this.stopped = false;
    this.schedule(0);
    this.scheduleQuick();
  }

  /** Clear the timers and wait for the running tick or marker check. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.quickTimer) clearTimeout(this.quickTimer);
    this.quickTimer = null;
    await this.chain;
  }

  /** Tick early: at once, or right after the running tick. */
  pulse(): void {
    if (!this.running) return;
    if (this.ticking) this.again = true;
    else this.schedule(0);
  }

  /** Ask for another tick right after the running one (no-op when not running). */
  requestAnotherTick(): void {
    if (this.running) this.again = true;
  }

  /** Run one tick now, serialised with the loop's own ticks (tests, benchmarks). */
  tickNow(): Promise<void> {
    const p = this.chain.then(() => this.runTick());
    this.chain = p.catch(() => {});
    return p;
  }

  /** Run one marker check now, serialised with the ticks (tests). Resolves the finished count. */
  quickNow(): Promise<number> {
    const p = this.chain.then(() => this.work.quick());
    this.chain = p.then(
      () => {},
      () => {},
    );
    return p;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tickNow().then(
        () => this.afterTick(),
        () => this.afterTick(),
      );
    }, delayMs);
    this.timer.unref?.();
  }

  private afterTick(): void {
    if (!this.running) return;
    if (this.again) {
      this.again = false;
      this.schedule(0);
      return;
    }
    this.schedule(nextTickDelay(this.health.consecutiveErrors, this.pollIntervalMs));
  }

  private scheduleQuick(): void {
    if (!this.running || !this.backend.quickStatus) return;
    const interval = Math.max(200, this.backend.quickStatusIntervalMs ?? 1000);
    this.quickTimer = setTimeout(() => {
      this.quickTimer = null;
      if (!this.work.hasTrackedJobs() || this.ticking) {
        this.scheduleQuick();
        return;
      }
      this.quickNow().then(
        (finished) => {
          if (finished > 0) this.pulse();
          this.scheduleQuick();
        },
        (e) => {
          this.log.warn(`backend ${this.backend.name}: quick status failed: ${toError(e).message}`);
          this.scheduleQuick();
        },
      );
    }, interval);
    this.quickTimer.unref?.();
  }

  private async runTick(): Promise<void> {
    this.ticking = true;
    const started = Date.now();
    const at = this.now().toISOString();
    let error: string | null = null;
    let bug: unknown = null;
    try {
      if (await this.work.tick()) this.again = true;
    } catch (e) {
      error = toError(e).message;
      this.log.warn(`backend ${this.backend.name}: ${error}`);
      if (e instanceof IllegalTransitionError) bug = e;
    } finally {
      this.ticking = false;
      const durationMs = Date.now() - started;
      this.health.lastPollAt = at;
      this.health.lastPollDurationMs = durationMs;
      if (error) {
        this.health.lastError = error;
        this.health.consecutiveErrors++;
      } else {
        this.health.lastError = null;
        this.health.consecutiveErrors = 0;
      }
      this.work.afterTick(at, durationMs, error);
    }
    // An illegal transition only reaches here in strict mode (tests): make the tick fail loudly.
    if (bug) throw bug;
  }
}
