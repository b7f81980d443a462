/**
 * Exit codes and the error type every command throws. The mapping from errors to exit codes lives
 * here and nowhere else, so `docs/cli.md` and the tests have one place to agree with.
 */
import { ScriptHutError } from '@scripthut/core';

/** Process exit codes of `scripthut` (documented in docs/cli.md). */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  unreachable: 3,
  notFound: 4,
  runNotCompleted: 5,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error that already knows its exit code and carries a hint: what to do about it.
 * Printed as `error: <message>` then `hint: <hint>` on stderr.
 */
export class CliError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;
  readonly details: unknown;

  constructor(
    message: string,
    options: { exitCode?: number; hint?: string; details?: unknown; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? ExitCode.failure;
    this.hint = options.hint;
    this.details = options.details;
  }
}

/** A bad command line: unknown command/flag, missing argument, bad value. Exit 2. */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.usage, ...(hint ? { hint } : {}) });
    this.name = 'UsageError';
  }
}

/** The server could not be reached. Exit 3. */
export class UnreachableError extends CliError {
  constructor(url: string, reason: string) {
    super(`cannot reach the ScriptHut server at ${url} (${reason})`, {
      exitCode: ExitCode.unreachable,
      hint: 'check --server / SCRIPTHUT_SERVER (omit both to use the local daemon, which starts when needed)',
    });
    this.name = 'UnreachableError';
  }
}

/** The user pressed Ctrl-C. Exit 130. */
export class InterruptedError extends CliError {
  constructor(message = 'interrupted') {
    super(message, { exitCode: ExitCode.interrupted });
    this.name = 'InterruptedError';
  }
}

const CODE_EXIT: Partial<Record<string, number>> = {
  config_invalid: ExitCode.usage,
  config_not_found: ExitCode.usage,
  validation_failed: ExitCode.usage,
  task_json_invalid: ExitCode.failure,
  // a generator that fails or times out is a failure of the command, not of its usage
  workflow_command_failed: ExitCode.failure,
  not_found: ExitCode.notFound,
};

/** Shape of a structured API error (the server's `ApiError` and `ScriptHutError` both fit). */
export interface CodedError {
  code?: unknown;
  status?: unknown;
  message: string;
  issues?: unknown;
}

/** Exit code for any thrown value. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (typeof error === 'object' && error !== null) {
    const e = error as CodedError;
    if (typeof e.code === 'string' && CODE_EXIT[e.code] !== undefined) return CODE_EXIT[e.code] as number;
    if (typeof e.status === 'number') {
      if (e.status === 404) return ExitCode.notFound;
      if (e.status === 400 || e.status === 422) return ExitCode.usage;
    }
  }
  return ExitCode.failure;
}

/** The `code` of a ScriptHutError or API error, if any. */
export function errorCode(error: unknown): string | undefined {
  if (ScriptHutError.is(error)) return error.code;
  if (typeof error === 'object' && error !== null && typeof (error as CodedError).code === 'string') {
    return (error as { code: string }).code;
  }
  if (typeof error === 'object' && error !== null && (error as CodedError).status === 404) return 'not_found';
  return undefined;
}

/** True for a not-found error from the runtime or the API. */
export function isNotFound(error: unknown): boolean {
  return errorCode(error) === 'not_found';
}

/** Network-level failure of fetch (connection refused, DNS, reset) → reason text, else null. */
export function networkFailureReason(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (typeof current === 'object' && current !== null) {
      const code = (current as { code?: unknown }).code;
      if (
        typeof code === 'string' &&
        /^(ECONNREFUSED|ENOTFOUND|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EAI_AGAIN|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET)$/.test(
          code,
        )
      ) {
        const message = (current as { message?: unknown }).message;
        return typeof message === 'string' && message ? message : code;
      }
      current = (current as { cause?: unknown }).cause;
    } else break;
  }
  if (error instanceof TypeError && error.message === 'fetch failed') return 'fetch failed';
  return null;
}

/** The issues attached to an error (config validation, task JSON), normalised. */
export function errorIssues(
  error: unknown,
): { path: string; message: string; line?: number; column?: number }[] {
  if (typeof error !== 'object' || error === null) return [];
  const issues = (error as CodedError).issues;
  if (!Array.isArray(issues)) return [];
  return issues.filter(
    (i): i is { path: string; message: string } =>
      typeof i === 'object' && i !== null && typeof i.message === 'string',
  );
}
