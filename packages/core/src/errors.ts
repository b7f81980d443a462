/**
 * Error model shared by every ScriptHut package.
 *
 * Every error carries a literal `code` and a `Symbol.for` brand so that `ScriptHutError.is()` works
 * across duplicated package copies. Backends signal control flow with {@link BackendError}: a
 * `transient` error keeps the task and is retried with backoff; a permanent one fails the task.
 */

const BRAND = Symbol.for('scripthut.error');

/** Machine-readable error codes. */
export type ScriptHutErrorCode =
  | 'config_invalid'
  | 'config_not_found'
  | 'task_json_invalid'
  | 'validation_failed'
  | 'not_found'
  | 'conflict'
  | 'backend_transient'
  | 'backend_permanent'
  | 'backend_unavailable'
  | 'not_implemented'
  | 'store_error'
  | 'workflow_command_failed'
  | 'unauthorized'
  | 'internal';

/** One problem inside a larger validation failure, e.g. a single bad field. */
export interface Issue {
  /** Where: a field path such as `tasks[3].memory` or `backends[1].ssh.port`. */
  path: string;
  /** What is wrong, in plain words. */
  message: string;
  /** Optional source position (1-based). */
  line?: number;
  column?: number;
  /** Optional file name the issue refers to. */
  file?: string;
  severity?: 'error' | 'warning';
}

/**
 * Base class of every ScriptHut error.
 *
 * @example
 * ```ts
 * try { await engine.createRun(input) } catch (e) {
 *   if (ScriptHutError.is(e) && e.code === 'validation_failed') console.error(e.issues)
 * }
 * ```
 */
export class ScriptHutError extends Error {
  readonly [BRAND] = true;
  readonly code: ScriptHutErrorCode;
  readonly issues: Issue[];
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ScriptHutErrorCode,
    message: string,
    options: { cause?: unknown; issues?: Issue[]; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.issues = options.issues ?? [];
    this.details = options.details;
  }

  /** Cross-copy safe type guard. */
  static is(value: unknown): value is ScriptHutError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Raised by backends. `transient` errors are retried with backoff and never fail a task by themselves. */
export class BackendError extends ScriptHutError {
  readonly transient: boolean;
  /** The command (or API call) that failed, already safe to show (no secrets). */
  readonly command: string | undefined;
  /** Raw scheduler/SDK output, truncated. */
  readonly output: string | undefined;

  constructor(
    message: string,
    options: {
      transient: boolean;
      cause?: unknown;
      command?: string;
      output?: string;
      details?: Record<string, unknown>;
    },
  ) {
    super(options.transient ? 'backend_transient' : 'backend_permanent', message, options);
    this.transient = options.transient;
    this.command = options.command;
    this.output = options.output;
  }

  static isTransient(value: unknown): boolean {
    return ScriptHutError.is(value) && value.code === 'backend_transient';
  }
}

/** Wraps any thrown value into an Error with a readable message. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}
