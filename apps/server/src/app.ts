/**
 * The Hono app: API under `/api/v1`, UI under `/`. Every request passes, in this order:
 * 1. the Host allow-list (DNS rebinding) → 403;
 * 2. the body limit, before anything reads the body → 413;
 * 3. sign-in links and `/login` (the only public routes);
 * 4. authentication (bearer token or session cookie) → 401 (API: JSON; UI: the login page), with
 *    failed token checks throttled per client address → 429;
 * 5. CSRF rules for state-changing requests.
 */
import type { Server } from 'node:http';
import type { ScriptHutRuntime } from '@scripthut/runtime';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createApi } from './api.js';
import { APP_JS } from './assets/app-js.js';
import { terminalAssetRoutes } from './assets/xterm-assets.js';
import { clientAddress, FailureThrottle, LoginCodes, runtimeTokenSource, type TokenSource } from './auth.js';
import { debugRoutes } from './debug-routes.js';
import { jsonError } from './errors.js';
import { HostAllowList } from './hosts.js';
import { jobActionRoutes } from './job-actions.js';
import { buildOpenApi } from './openapi.js';
import {
  CSRF_HEADER,
  ensureCsrfToken,
  HOST_ALLOW_LIST,
  isAuthenticated,
  isSameOrigin,
  isSimpleFormContentType,
  isUnsafeMethod,
  safeEqual,
  safeRedirectPath,
  securityHeaders,
} from './security.js';
import { StreamRegistry } from './sse.js';
import { TerminalSessions, terminalRoutes } from './terminals.js';
import { createUi } from './ui/app.js';
import { loginPage, loginRoutes, logoutRoute } from './ui/pages/login.js';
import { GroupCache } from './views.js';

/** Default request body limit (bytes). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface AppOptions {
  /**
   * The token every route requires (API: `Authorization: Bearer`, UI: sign-in link, login form or
   * session cookie): a fixed string or a function read per request. Default: the runtime's token,
   * read per request (`settings.auth_token`, else `SCRIPTHUT_TOKEN`, else `<data_dir>/auth_token`).
   */
  authToken?: string | TokenSource;
  /** Reported by `/api/v1/health`. */
  version?: string;
  /** The address the server is bound to (accepted in the Host header). Default `127.0.0.1`. */
  bindHost?: string;
  /** Request body limit in bytes (413 beyond). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Failed-credential throttle (default: 10 failures per minute per client address). */
  throttle?: FailureThrottle;
  /** Environment for the token lookup (`SCRIPTHUT_TOKEN`). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Terminals without input or output for this long are closed. Default 30 minutes. */
  terminalIdleMs?: number;
}

interface AppState {
  streams: StreamRegistry;
  codes: LoginCodes;
  token: TokenSource;
  terminals: TerminalSessions;
  injectWebSocket: (server: Server) => void;
}
const appStates = new WeakMap<object, AppState>();

/** Number of open SSE streams of an app (tests use it to prove streams stop on disconnect). */
export function openStreamCount(app: object): number {
  return appStates.get(app)?.streams.size ?? 0;
}

/** Ends every open SSE stream and terminal of an app (server shutdown). */
export function closeStreams(app: object): void {
  appStates.get(app)?.streams.closeAll();
  appStates.get(app)?.terminals.closeAll('the server is shutting down');
}

/** Lets `server` accept the app's terminal WebSockets (see `terminals.ts`). */
export function attachWebSockets(app: object, server: Server): void {
  const state = appStates.get(app);
  if (!state) throw new Error('not a ScriptHut app');
  state.injectWebSocket(server);
}

/** The open terminal sessions of an app. */
export function terminalSessions(app: object): TerminalSessions {
  const state = appStates.get(app);
  if (!state) throw new Error('not a ScriptHut app');
  return state.terminals;
}

/**
 * A one-time sign-in URL for a browser: `<baseUrl><path>?login=<code>`, valid once for 10 minutes.
 * The code is worthless once the token changes.
 */
export function mintLoginUrl(app: object, baseUrl: string, path = '/'): { url: string; expiresAt: string } {
  const state = appStates.get(app);
  if (!state) throw new Error('not a ScriptHut app');
  const { code, expiresAt } = state.codes.mint();
  const target = safeRedirectPath(path);
  const sep = target.includes('?') ? '&' : '?';
  return {
    url: `${baseUrl.replace(/\/+$/, '')}${target}${sep}login=${code}`,
    expiresAt: expiresAt.toISOString(),
  };
}

function unauthorized(c: Context, message: string) {
  return c.json({ code: 'unauthorized', message, details: null }, 401, {
    'WWW-Authenticate': 'Bearer realm="scripthut"',
  });
}

const isApiPath = (path: string) => path.startsWith('/api/') || path.startsWith('/live/');

/**
 * Builds the Hono app: API under `/api/v1`, UI under `/`. Use `app.fetch` with any server, or
 * `startServer`.
 */
export function createApp(runtime: ScriptHutRuntime, options: AppOptions = {}) {
  const fixed = options.authToken;
  const token: TokenSource =
    typeof fixed === 'string'
      ? () => fixed
      : (fixed ?? runtimeTokenSource(runtime, options.env ?? process.env));
  const version = options.version ?? '0.1.0';
  const streams = new StreamRegistry();
  const groups = new GroupCache();
  const codes = new LoginCodes(token);
  const throttle = options.throttle ?? new FailureThrottle();
  const hosts = new HostAllowList({
    bindHost: options.bindHost ?? '127.0.0.1',
    settings: () => runtime.settings,
  });
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const openapi = buildOpenApi(version);

  const app = new Hono();
  app.use('*', securityHeaders);

  // 1. Host allow-list. In-process calls (no socket, no Host header) cannot be rebound.
  app.use('*', async (c, next) => {
    const header = c.req.header('host');
    const overSocket = !!(c.env as { incoming?: unknown } | undefined)?.incoming;
    if (header === undefined ? overSocket : !hosts.allows(header)) {
      const message =
        'this server does not answer to that Host name (add it to settings.allowed_hosts if it is yours)';
      return c.req.path.startsWith('/api/')
        ? c.json({ code: 'forbidden', message, details: null }, 403)
        : c.text(message, 403);
    }
    c.set(HOST_ALLOW_LIST as never, hosts as never);
    return next();
  });

  // 2. Body limit, before any route reads a body (chunked bodies are counted as they arrive).
  app.use(
    '*',
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) => {
        c.header('Connection', 'close');
        const message = `request body larger than ${maxBodyBytes} bytes`;
        return c.req.path.startsWith('/api/')
          ? c.json({ code: 'payload_too_large', message, details: null }, 413)
          : c.text(message, 413);
      },
    }),
  );

  // 3. Public: sign-in links and the login page/form.
  loginRoutes(app, { token, codes, throttle });

  // 4. Authentication: everything else needs the token (bearer) or a session cookie.
  app.use('*', async (c, next) => {
    const presented = c.req.header('authorization') !== undefined;
    if (presented) {
      const wait = throttle.retryAfter(clientAddress(c));
      if (wait > 0) {
        return c.json(
          {
            code: 'too_many_requests',
            message: `too many failed authentication attempts; retry in ${wait} s`,
            details: null,
          },
          429,
          { 'Retry-After': String(wait) },
        );
      }
    }
    const current = token();
    const auth = isAuthenticated(c, current);
    if (auth.ok) return next();
    if (auth.via === 'bearer') throttle.fail(clientAddress(c));
    if (isApiPath(c.req.path)) {
      return unauthorized(
        c,
        current
          ? 'missing or invalid token (send Authorization: Bearer <token>)'
          : 'no usable token is configured on the server (a non-loopback bind needs at least 32 characters)',
      );
    }
    const url = new URL(c.req.url);
    const next_ = c.req.method === 'GET' ? `${url.pathname}${url.search}` : '/';
    return loginPage(c, next_, auth.via === 'cookie' ? 'Your session has ended; sign in again.' : null);
  });

  // 5. API CSRF rules: no cross-site state changes, no form-encoded bodies (those need no CORS
  // preflight), and a CSRF header when the browser authenticates with the session cookie.
  app.use('/api/*', async (c, next) => {
    if (!isUnsafeMethod(c.req.method)) return next();
    if (!isSameOrigin(c))
      return c.json({ code: 'forbidden', message: 'cross-site request refused', details: null }, 403);
    if (isSimpleFormContentType(c.req.header('content-type'))) {
      return c.json(
        {
          code: 'unsupported_media_type',
          message: 'send JSON (Content-Type: application/json)',
          details: null,
        },
        415,
      );
    }
    if (!c.req.header('authorization')) {
      const csrf = ensureCsrfToken(c);
      const sent = c.req.header(CSRF_HEADER);
      if (!sent || !safeEqual(sent, csrf))
        return c.json({ code: 'forbidden', message: 'missing CSRF token header', details: null }, 403);
    }
    return next();
  });

  const terminals = new TerminalSessions();
  const terminalWs = terminalRoutes(app, {
    runtime,
    sessions: terminals,
    ...(options.terminalIdleMs ? { idleMs: options.terminalIdleMs } : {}),
  });
  debugRoutes(app, runtime);
  jobActionRoutes(app, runtime);
  logoutRoute(app);
  app.get('/assets/app.js', (c) => {
    c.header('Cache-Control', 'private, max-age=300');
    return c.body(APP_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });
  terminalAssetRoutes(app);
  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.get('/api/v1/openapi.json', (c) => c.json(openapi));
  const api = createApi({
    runtime,
    version,
    streams,
    groups,
    mintLoginUrl: (baseUrl, path) => mintLoginUrl(app, baseUrl, path),
  });
  app.route('/api/v1', api);
  app.route('/', createUi({ runtime, version, streams, groups, terminals }));
  app.onError(jsonError);
  app.notFound((c) =>
    c.req.path.startsWith('/api/')
      ? c.json({ code: 'not_found', message: `no route ${c.req.method} ${c.req.path}`, details: null }, 404)
      : c.text('Not found', 404),
  );
  appStates.set(app, { streams, codes, token, terminals, injectWebSocket: terminalWs.inject });
  return app;
}

/** Type of the whole app (API + UI). The typed client uses `ApiType`. */
export type AppType = ReturnType<typeof createApp>;
