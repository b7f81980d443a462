/**
 * @scripthut/server — the ScriptHut control plane: a JSON API at `/api/v1` (typed client in
 * `@scripthut/server/client`, OpenAPI at `/api/v1/openapi.json`), server-sent events for live views,
 * and a server-rendered web UI. Safe by default: every route needs the token (loopback included),
 * browsers sign in through a one-time link, the Host header is allow-listed (DNS rebinding), bodies
 * are limited (1 MiB), failed sign-ins are throttled, state-changing requests are CSRF-checked.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@scripthut/runtime';
 * import { startServer } from '@scripthut/server';
 * const runtime = await createRuntime({ dataDir: '/tmp/sh' });
 * await runtime.start();
 * const server = await startServer(runtime, { host: '127.0.0.1', port: 8000, log: console.log });
 * // ScriptHut server listening on http://127.0.0.1:8000 (every request needs the token: /tmp/sh/auth_token)
 * // Sign in from a browser: http://127.0.0.1:8000/?login=… (one-time link, valid 10 minutes)
 * ```
 */
export type { ApiType } from './api.js';
export {
  type AppOptions,
  type AppType,
  closeStreams,
  createApp,
  DEFAULT_MAX_BODY_BYTES,
  mintLoginUrl,
  openStreamCount,
} from './app.js';
export {
  FailureThrottle,
  LOGIN_CODE_TTL_MS,
  LoginCodes,
  runtimeTokenSource,
  type TokenSource,
} from './auth.js';
export type { ErrorBody } from './errors.js';
export { statusForCode } from './errors.js';
export { HostAllowList, isLoopbackHost } from './hosts.js';
export { type RunningServer, type StartServerOptions, startServer } from './server.js';
