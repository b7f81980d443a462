/**
 * Typed client of the ScriptHut API (Hono RPC). The CLI uses it over HTTP, or in-process by passing
 * `fetch: (input, init) => app.fetch(new Request(input, init))`.
 *
 * @example
 * ```ts
 * import { createClient, unwrap } from '@scripthut/server/client';
 * const api = createClient('http://127.0.0.1:8000', { token: process.env.SCRIPTHUT_TOKEN });
 * const runs = await unwrap(api.runs.$get({ query: { limit: '20' } }));
 * const run = await unwrap(api.workflows[':name'].run.$post({ param: { name: 'demo' }, json: {} }));
 * ```
 */
import { hc } from 'hono/client';
import type { ApiType } from './api.js';

export type { ApiType } from './api.js';

/** An API call that failed: HTTP status plus the server's `{ code, message, details }`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details: unknown = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface ClientOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | null;
  /** Custom fetch (in-process: `(input, init) => app.fetch(new Request(input, init))`). */
  fetch?: (input: string | URL | Request, init?: RequestInit) => Response | Promise<Response>;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

/** Creates the typed client; `baseUrl` is the server root (e.g. `http://127.0.0.1:8000`). */
export function createClient(baseUrl: string, options: ClientOptions = {}) {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  return hc<ApiType>(`${baseUrl.replace(/\/+$/, '')}/api/v1`, {
    headers,
    ...(options.fetch ? { fetch: options.fetch as typeof fetch } : {}),
  });
}

/** The client type. */
export type ScriptHutClient = ReturnType<typeof createClient>;

interface JsonResponse<T> {
  ok: boolean;
  status: number;
  json(): Promise<T>;
  text(): Promise<string>;
}

type SuccessBody<R> =
  R extends JsonResponse<infer T>
    ? T extends { code: string; message: string; details: unknown }
      ? never
      : T
    : never;

/**
 * Awaits a client call and returns its JSON body, or throws {@link ApiError} for a non-2xx answer
 * (with the server's code/message/details; a non-JSON error body becomes code `http_<status>`).
 */
export async function unwrap<R extends JsonResponse<unknown>>(
  response: R | Promise<R>,
): Promise<SuccessBody<R>> {
  const res = await response;
  const text = await res.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) {
    const e = (body ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
    throw new ApiError(
      res.status,
      typeof e.code === 'string' ? e.code : `http_${res.status}`,
      typeof e.message === 'string' ? e.message : text.slice(0, 500) || `HTTP ${res.status}`,
      e.details ?? null,
    );
  }
  if (text && body === null)
    throw new ApiError(res.status, 'invalid_response', 'the server answered with something that is not JSON');
  return body as SuccessBody<R>;
}
