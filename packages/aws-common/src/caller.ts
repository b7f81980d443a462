/**
 * The one way ScriptHut's AWS backends call AWS: retries with backoff, recovery after ambiguous
 * failures, health tracking for the UI and the translation of SDK errors into
 * {@link BackendError}s. A backend builds one {@link AwsCaller} and keeps only what is specific to
 * its service.
 */
import { BackendError, type BackendHealth } from '@scripthut/core';
import { type AwsErrorKind, type ClassifyOptions, classifyAwsError, isTransientKind } from './errors.js';
import { type RetryPolicy, realSleep, type Sleep, withRetry } from './retry.js';

/**
 * `Name: message` of any thrown value (`message` alone for a plain `Error`). Never includes request
 * parameters, so it is safe to log and to show.
 */
export function errorText(err: unknown): string {
  if (err instanceof Error)
    return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  if (typeof err === 'object' && err !== null) {
    const e = err as { name?: unknown; Code?: unknown; message?: unknown };
    const name = typeof e.name === 'string' ? e.name : typeof e.Code === 'string' ? e.Code : '';
    const message = typeof e.message === 'string' ? e.message : '';
    if (name || message) return name && message ? `${name}: ${message}` : name || message;
  }
  return String(err);
}

/** Splits `items` into consecutive groups of at most `size` (AWS APIs take 100 ids, 1000 ids...). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!(size >= 1)) throw new RangeError(`chunk size must be >= 1, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Options of {@link AwsCaller}. */
export interface AwsCallerOptions {
  /** What {@link AwsCaller.health} names, e.g. `AWS Batch us-east-1 (queue q)`. */
  endpoint: string;
  /** Backoff policy (default 6 attempts, 200 ms first ceiling, 20 s cap). */
  policy?: RetryPolicy;
  /** Injected sleep (tests). */
  sleep?: Sleep;
  /** Injected jitter source (tests). */
  random?: () => number;
  /** Service-specific classification, e.g. EC2's capacity errors as `capacity`. */
  classify?: ClassifyOptions;
  /** Retries are logged at debug level (`<label>: <kind> error, retry <n> in <ms> ms: <error>`). */
  logger?: { debug?(message: string, fields?: Record<string, unknown>): void };
  /** Told about every retry as well; never given credentials. */
  onRetry?: (label: string, err: unknown, kind: AwsErrorKind, attempt: number, delayMs: number) => void;
}

/** Per-call options of {@link AwsCaller.call}. */
export interface CallOptions<T> {
  /**
   * Looks whether a call that failed ambiguously (`server`/`network`) took effect after all, before
   * it is repeated: a value returned is taken as the result. Use it for calls that create things
   * (SubmitJob, RunTask) and have no idempotency token.
   */
  recover?: (err: unknown, kind: AwsErrorKind) => Promise<T | undefined>;
  /** Awaited before every attempt, e.g. `() => bucket.take()` of a {@link TokenBucket}. */
  before?: () => Promise<void>;
}

/**
 * Calls AWS for one backend. Every call is retried on throttling, 5xx and network errors with
 * exponential backoff and full jitter; the outcome updates {@link AwsCaller.health} (a request
 * error — 4xx — says nothing about the connection and leaves it alone); what is finally thrown is
 * the SDK's error, which {@link AwsCaller.toBackendError} turns into a {@link BackendError} that is
 * transient unless the request itself was wrong.
 *
 * @example
 * ```ts
 * const aws = new AwsCaller({ endpoint: `Amazon ECS ${region} (cluster ${cluster})` });
 * // A read: retried, errors become BackendErrors for the engine.
 * const tasks = await aws
 *   .call('DescribeTasks', () => ecs.send(new DescribeTasksCommand({ cluster, tasks: ids })))
 *   .catch((err) => { throw aws.toBackendError(err, 'DescribeTasks'); });
 * // A create without idempotency token: after a lost answer, look before repeating it.
 * const started = await aws.call('RunTask', () => ecs.send(new RunTaskCommand(input)), {
 *   before: () => bucket.take(),
 *   recover: async () => findTaskStartedBy(tag),
 * });
 * // For the UI.
 * backend.health = () => aws.health();
 * ```
 */
export class AwsCaller {
  private readonly state: BackendHealth;
  private readonly sleep: Sleep;

  constructor(private readonly options: AwsCallerOptions) {
    this.state = { connected: true, lastError: null, endpoint: options.endpoint };
    this.sleep = options.sleep ?? realSleep;
  }

  /** The backoff policy in use. */
  get policy(): RetryPolicy {
    return this.options.policy ?? {};
  }

  /** Call `fn` (one AWS request) with retries; rethrows the SDK error when it finally fails. */
  async call<T>(label: string, fn: () => Promise<T>, options: CallOptions<T> = {}): Promise<T> {
    try {
      const out = await withRetry(fn, {
        policy: this.options.policy,
        sleep: this.sleep,
        random: this.options.random,
        classify: this.options.classify,
        before: options.before,
        recover: options.recover,
        onRetry: (err, kind, attempt, delayMs) => {
          this.options.logger?.debug?.(
            `${label}: ${kind} error, retry ${attempt} in ${delayMs} ms: ${errorText(err)}`,
          );
          this.options.onRetry?.(label, err, kind, attempt, delayMs);
        },
      });
      this.succeeded();
      return out;
    } catch (err) {
      if (this.classify(err) !== 'client') this.failed(label, err);
      throw err;
    }
  }

  /** The kind of an SDK error, with this service's classification options. */
  classify(err: unknown): AwsErrorKind {
    return classifyAwsError(err, this.options.classify);
  }

  /**
   * A {@link BackendError} for an SDK error: `"<label> failed: Name: message"`, transient unless
   * the request was wrong (4xx), with a hint for credential problems. A BackendError is returned
   * as is.
   */
  toBackendError(err: unknown, label: string): BackendError {
    if (err instanceof BackendError) return err;
    const kind = this.classify(err);
    const text = errorText(err);
    const hint = kind === 'credentials' ? ' (check the AWS credentials / profile ScriptHut runs with)' : '';
    return new BackendError(`${label} failed: ${text}${hint}`, {
      transient: isTransientKind(kind),
      cause: err,
      command: label,
      output: text.slice(0, 2000),
    });
  }

  /** Records a successful exchange with AWS (calls made outside {@link AwsCaller.call}). */
  succeeded(): void {
    this.state.connected = true;
    this.state.lastError = null;
  }

  /** Records a failed exchange with AWS (calls made outside {@link AwsCaller.call}). */
  failed(label: string, err: unknown): void {
    this.state.connected = false;
    this.state.lastError = `${label}: ${errorText(err)}`.slice(0, 500);
  }

  /** Connection health for the UI (a copy). */
  health(): BackendHealth {
    return { ...this.state };
  }
}
