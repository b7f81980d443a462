/**
 * One error shape for the whole API: `{ code, message, details }`, and the mapping from
 * {@link ScriptHutError} codes to HTTP statuses.
 */
import { ScriptHutError, type ScriptHutErrorCode } from '@scripthut/core';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** The JSON body of every API error response. */
export interface ErrorBody {
  code: string;
  message: string;
  details: unknown;
}

const STATUS: Record<ScriptHutErrorCode, ContentfulStatusCode> = {
  validation_failed: 400,
  task_json_invalid: 422,
  config_invalid: 422,
  config_not_found: 404,
  not_found: 404,
  conflict: 409,
  unauthorized: 401,
  backend_transient: 503,
  backend_unavailable: 503,
  backend_permanent: 502,
  workflow_command_failed: 422,
  not_implemented: 501,
  store_error: 500,
  internal: 500,
};

/** HTTP status for a ScriptHut error code (unknown codes → 500). */
export function statusForCode(code: string): ContentfulStatusCode {
  return (STATUS as Record<string, ContentfulStatusCode>)[code] ?? 500;
}

/** Converts anything thrown into a status and the error body. Internal errors never leak stack traces. */
export function toErrorBody(err: unknown): { status: ContentfulStatusCode; body: ErrorBody } {
  if (ScriptHutError.is(err)) {
    const details: Record<string, unknown> = { ...(err.details ?? {}) };
    if (err.issues.length > 0) details.issues = err.issues;
    return {
      status: statusForCode(err.code),
      body: { code: err.code, message: err.message, details: Object.keys(details).length ? details : null },
    };
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const code =
      status === 401
        ? 'unauthorized'
        : status === 403
          ? 'forbidden'
          : status === 404
            ? 'not_found'
            : status < 500
              ? 'validation_failed'
              : 'internal';
    return { status, body: { code, message: err.message || 'request failed', details: null } };
  }
  return { status: 500, body: { code: 'internal', message: 'internal server error', details: null } };
}

/** Hono `onError` handler producing the error shape. */
export function jsonError(err: unknown, c: Context): Response {
  const { status, body } = toErrorBody(err);
  if (status >= 500 && !ScriptHutError.is(err)) console.error('[scripthut-server]', err);
  return c.json(body, status);
}

/** Shorthand to throw a 400 `validation_failed`. */
export function badRequest(message: string, details?: Record<string, unknown>): never {
  throw new ScriptHutError('validation_failed', message, details ? { details } : {});
}
