/**
 * What every AWS backend is built from: its common options, a logger, the {@link AwsCaller} all
 * its requests go through and the {@link FinishedJobStore} of the jobs AWS forgets.
 */
import { join } from 'node:path';
import { AwsCaller } from './caller.js';
import type { ClassifyOptions } from './errors.js';
import { FinishedJobStore } from './finished-jobs.js';
import type { RetryPolicy, Sleep } from './retry.js';

/** Structured logger of an AWS backend; every method optional. Never given credentials or env values. */
export interface AwsBackendLogger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

/** Options every AWS backend accepts, besides its configuration and clients. */
export interface AwsBackendCommonOptions {
  /** Backend name (`backends[].name`). */
  name: string;
  /** ScriptHut's data dir: records of finished jobs go below it. Without it they stay in memory. */
  dataDir?: string;
  /** Backoff of AWS calls (defaults: the backend's). */
  retry?: RetryPolicy;
  /** Injected sleep (tests). */
  sleep?: Sleep;
  /** Clock in ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** Default: warnings and errors on the console, prefixed with `[<type>:<name>]`. */
  logger?: AwsBackendLogger;
}

/** What {@link awsBackendKit} sets up. */
export interface AwsBackendKit<R> {
  aws: AwsCaller;
  /** Records of finished jobs (`<dataDir>/<recordsDir>/<run id>.jsonl`). */
  finished: FinishedJobStore<R>;
  log: AwsBackendLogger;
  now: () => number;
}

/** What a backend says about itself to {@link awsBackendKit}. */
export interface AwsBackendKitSetup {
  /** Backend type, for the default logger's prefix (`batch`, `ec2`, `ecs`). */
  type: string;
  /** For the UI's health view, e.g. `Amazon ECS eu-west-1 (cluster research)`. */
  endpoint: string;
  /** Directory below the data dir of the finished-job records, e.g. `ecs-tasks`. */
  recordsDir: string;
  /** The backend's default backoff (the user's `retry` option wins field by field). */
  defaultPolicy?: RetryPolicy;
  /** Service-specific error classification (e.g. capacity errors). */
  classify?: ClassifyOptions;
}

/**
 * The common wiring of an AWS backend.
 *
 * @example
 * ```ts
 * export function createEcsBackend(options: EcsBackendOptions) {
 *   const { aws, finished, log, now } = awsBackendKit<FinishedTask>(options, {
 *     type: 'ecs',
 *     endpoint: `Amazon ECS ${region} (cluster ${cluster})`,
 *     recordsDir: 'ecs-tasks',
 *   });
 *   const ecs = options.clients?.ecs ?? new ECSClient(awsClientConfig({ region, profile }));
 *   // ... every request: aws.call('RunTask', () => ecs.send(new RunTaskCommand(input)), { recover })
 *   return { ..., health: () => aws.health() };
 * }
 * ```
 */
export function awsBackendKit<R>(
  options: AwsBackendCommonOptions,
  setup: AwsBackendKitSetup,
): AwsBackendKit<R> {
  const prefix = `[${setup.type}:${options.name}]`;
  const log: AwsBackendLogger = options.logger ?? {
    warn: (m) => console.warn(`${prefix} ${m}`),
    error: (m) => console.error(`${prefix} ${m}`),
  };
  const aws = new AwsCaller({
    endpoint: setup.endpoint,
    policy: { ...setup.defaultPolicy, ...stripUndefined(options.retry ?? {}) },
    sleep: options.sleep,
    classify: setup.classify,
    logger: log,
  });
  const finished = new FinishedJobStore<R>({
    dir: options.dataDir ? join(options.dataDir, setup.recordsDir) : null,
    onError: (m) => log.warn?.(m),
  });
  return { aws, finished, log, now: options.now ?? Date.now };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
