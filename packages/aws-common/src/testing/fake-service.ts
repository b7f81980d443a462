/**
 * The plumbing every stateful fake of an AWS service shares: calls counted per operation, failures
 * injected into the next calls (including a request that takes effect but whose answer is lost),
 * and answers given in latency rounds, so that a test can count the sequential round trips of a
 * backend (concurrent calls share one).
 */
import { awsServiceError } from './errors.js';

/** What the next call of an operation does instead of answering: throw, or apply and lose the answer. */
export type InjectedFailure = Error | 'apply-then-500';

/** Errors of a service's fake: its throttling answer and the 5xx of a lost answer. */
export interface FakeServiceErrors {
  /** The default of {@link FakeAwsService.failNext} (e.g. `ThrottlingException`, 400). */
  throttled: () => Error;
  /** Thrown after an `apply-then-500` call took effect (default `ServerException`, 500). */
  serverError?: () => Error;
}

/**
 * Base class of the AWS backends' fakes. Subclasses answer each mocked SDK command through
 * {@link answerRound} (latency) and {@link perform} (count, injected failure, effect).
 *
 * @example
 * ```ts
 * class FakeEcs extends FakeAwsService<'RunTask' | 'DescribeTasks'> {
 *   constructor() { super({ throttled: () => awsServiceError('ThrottlingException', 'Rate exceeded', 400) }); }
 *   private async run<T>(op: 'RunTask' | 'DescribeTasks', fn: () => T): Promise<T> {
 *     await this.answerRound();
 *     return this.perform(op, fn);
 *   }
 * }
 * fake.latencyMs = 5;          // concurrent calls now share a round
 * fake.failNext('RunTask', 1, 'apply-then-500'); // the next task starts, its answer is lost
 * ```
 */
export class FakeAwsService<Op extends string> {
  /** Counts of calls per operation (including failed ones). */
  readonly calls: Record<string, number> = {};
  /**
   * With a latency, calls are answered in rounds: every call made while a round is open waits for
   * it and is answered with it; a call made after that opens the next round. `roundTrips` counts
   * the rounds, i.e. the sequential waits a caller went through (concurrent calls share one).
   */
  latencyMs = 0;
  /** Rounds of answers so far (with `latencyMs`), see above. */
  roundTrips = 0;
  private round: Promise<void> | null = null;
  private readonly injected = new Map<Op, InjectedFailure[]>();
  private readonly errors: Required<FakeServiceErrors>;

  constructor(errors: FakeServiceErrors) {
    this.errors = {
      serverError: () => awsServiceError('ServerException', 'Internal server error', 500),
      ...errors,
    };
  }

  /** Make the next `n` calls of `op` fail with `error` (default: the service's throttling error). */
  failNext(op: Op, n = 1, error: InjectedFailure | (() => Error) = this.errors.throttled): void {
    const list = this.injected.get(op) ?? [];
    for (let i = 0; i < n; i++) list.push(typeof error === 'function' ? error() : error);
    this.injected.set(op, list);
  }

  /** Waits for the current round of answers, opening one when none is open (no wait without latency). */
  protected async answerRound(): Promise<void> {
    if (this.latencyMs <= 0) return;
    if (!this.round) {
      this.roundTrips++;
      this.round = new Promise((resolve) =>
        setTimeout(() => {
          this.round = null;
          resolve();
        }, this.latencyMs),
      );
    }
    await this.round;
  }

  /**
   * One call of `op`: counted, then the next injected failure if any (`apply-then-500` runs `fn`,
   * waiting for it when it is async, and then throws the service's 5xx), else `fn()`.
   */
  protected perform<T>(op: Op, fn: () => T): T {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    const next = this.injected.get(op)?.shift();
    if (next === 'apply-then-500') {
      const applied = fn();
      if (applied instanceof Promise)
        return applied.then(() => {
          throw this.errors.serverError();
        }) as T;
      throw this.errors.serverError();
    }
    if (next) throw next;
    return fn();
  }
}
