/**
 * @scripthut/server — the ScriptHut control plane: a JSON API at `/api/v1` (typed client in
 * `@scripthut/server/client`, OpenAPI at `/api/v1/openapi.json`), server-sent events for live views,
 * and a server-rendered web UI. Safe by default: loopback bind, optional bearer/cookie auth, CSRF
 * protection on every state-changing request, strict security headers.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@scripthut/runtime';
 * import { startServer } from '@scripthut/server';
 * const runtime = await createRuntime({ dataDir: '/tmp/sh' });
 * await runtime.start();
 * const server = await startServer(runtime, { host: '127.0.0.1', port: 8000 });
 * console.log(`ScriptHut at ${server.url}`);
 * ```
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { ScriptHutError } from '@scripthut/core';
import type { ScriptHutRuntime } from '@scripthut/runtime';
import { Hono } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { createApi } from './api.js';
import { APP_JS } from './assets/app-js.js';
import { jsonError } from './errors.js';
import { buildOpenApi } from './openapi.js';
import {
  CSRF_HEADER,
  ensureCsrfToken,
  isAuthenticated,
  isHttps,
  isSameOrigin,
  isSimpleFormContentType,
  isUnsafeMethod,
  SESSION_COOKIE,
  safeEqual,
  securityHeaders,
  sessionValue,
} from './security.js';
import { StreamRegistry } from './sse.js';
import { createUi } from './ui/app.js';
import { renderLogin } from './ui/login.js';
import { GroupCache } from './views.js';

export type { ApiType } from './api.js';
export type { ErrorBody } from './errors.js';
export { statusForCode } from './errors.js';

export interface AppOptions {
  /** Bearer token required on every route (API: `Authorization: Bearer`, UI: login form + cookie). Default: `runtime.settings.auth_token`. */
  authToken?: string | null;
  /** Reported by `/api/v1/health`. */
  version?: string;
}

const streamRegistries = new WeakMap<object, StreamRegistry>();

/** Number of open SSE streams of an app (tests use it to prove streams stop on disconnect). */
export function openStreamCount(app: object): number {
  return streamRegistries.get(app)?.size ?? 0;
}

/** Ends every open SSE stream of an app (server shutdown). */
export function closeStreams(app: object): void {
  streamRegistries.get(app)?.closeAll();
}

function safeNext(next: string | undefined): string {
  return next?.startsWith('/') && !next.startsWith('//') && !next.includes('\\') ? next : '/';
}

/**
 * Builds the Hono app: API under `/api/v1`, UI under `/`. Use `app.fetch` with any server, or
 * {@link startServer}.
 */
export function createApp(runtime: ScriptHutRuntime, options: AppOptions = {}) {
  const authToken =
    (options.authToken !== undefined ? options.authToken : runtime.settings.auth_token) || null;
  const version = options.version ?? '0.1.0';
  const streams = new StreamRegistry();
  const groups = new GroupCache();
  const api = createApi({ runtime, version, streams, groups });
  const openapi = buildOpenApi(version);

  const app = new Hono();
  app.use('*', securityHeaders);

  // Static assets (public; no secrets in them).
  app.get('/assets/app.js', (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(APP_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });
  app.get('/favicon.ico', (c) => c.body(null, 204));

  // Login / logout (only meaningful with a token).
  app.get('/login', async (c) => {
    const csrf = ensureCsrfToken(c);
    return c.html(await renderLogin({ csrf, next: safeNext(c.req.query('next')), error: null }));
  });
  app.post('/login', async (c) => {
    const csrf = ensureCsrfToken(c);
    const body = await c.req.parseBody();
    const next = safeNext(typeof body.next === 'string' ? body.next : undefined);
    const sentCsrf = typeof body._csrf === 'string' ? body._csrf : '';
    if (!isSameOrigin(c) || !safeEqual(sentCsrf, csrf)) {
      return c.html(await renderLogin({ csrf, next, error: 'The form expired; try again.' }), 403);
    }
    if (!authToken) return c.redirect(next, 303);
    const token = typeof body.token === 'string' ? body.token : '';
    if (!safeEqual(token, authToken)) {
      return c.html(await renderLogin({ csrf, next, error: 'Wrong token.' }), 401);
    }
    setCookie(c, SESSION_COOKIE, sessionValue(authToken), {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/',
      secure: isHttps(c),
      maxAge: 60 * 60 * 24 * 30,
    });
    return c.redirect(next, 303);
  });
  app.post('/logout', (c) => {
    if (!isSameOrigin(c)) return c.text('forbidden', 403);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect(authToken ? '/login' : '/', 303);
  });

  // Authentication: everything below needs the token when one is configured.
  app.use('*', async (c, next) => {
    if (!authToken) return next();
    const auth = isAuthenticated(c, authToken);
    if (auth.ok) return next();
    if (c.req.path.startsWith('/api/') || c.req.path.startsWith('/live/')) {
      return c.json(
        {
          code: 'unauthorized',
          message: 'missing or invalid token (send Authorization: Bearer <token>)',
          details: null,
        },
        401,
        {
          'WWW-Authenticate': 'Bearer realm="scripthut"',
        },
      );
    }
    if (c.req.method === 'GET')
      return c.redirect(
        `/login?next=${encodeURIComponent(c.req.path + (new URL(c.req.url).search || ''))}`,
        303,
      );
    return c.text('unauthorized', 401);
  });

  // API CSRF rules: no cross-site state changes, no form-encoded bodies (those need no CORS
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
    if (authToken && !c.req.header('authorization')) {
      const csrf = ensureCsrfToken(c);
      const sent = c.req.header(CSRF_HEADER);
      if (!sent || !safeEqual(sent, csrf))
        return c.json({ code: 'forbidden', message: 'missing CSRF token header', details: null }, 403);
    }
    return next();
  });

  app.get('/api/v1/openapi.json', (c) => c.json(openapi));
  app.route('/api/v1', api);
  app.route('/', createUi({ runtime, version, streams, groups, authEnabled: !!authToken }));
  app.onError(jsonError);
  app.notFound((c) =>
    c.req.path.startsWith('/api/')
      ? c.json({ code: 'not_found', message: `no route ${c.req.method} ${c.req.path}`, details: null }, 404)
      : c.text('Not found', 404),
  );
  streamRegistries.set(app, streams);
  return app;
}

/** Type of the whole app (API + UI). The typed client uses {@link ApiType}. */
export type AppType = ReturnType<typeof createApp>;

export interface StartServerOptions {
  host: string;
  port: number;
  authToken?: string | null;
  version?: string;
  log?: (msg: string) => void;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** True for loopback addresses (`127.0.0.0/8`, `::1`, `localhost`). */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host) || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Starts the HTTP server. Refuses a non-loopback host unless an auth token is configured.
 * Resolves once listening; `close()` ends open SSE streams and stops the server.
 */
export async function startServer(
  runtime: ScriptHutRuntime,
  options: StartServerOptions,
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const authToken =
    (options.authToken !== undefined ? options.authToken : runtime.settings.auth_token) || null;
  if (!isLoopbackHost(options.host) && !authToken) {
    throw new ScriptHutError(
      'config_invalid',
      `refusing to bind ${options.host} without settings.auth_token: set an auth token (or bind 127.0.0.1) so the server is not open to the network`,
      {
        details: { host: options.host },
      },
    );
  }
  const app = createApp(runtime, { authToken, ...(options.version ? { version: options.version } : {}) });
  const log = options.log ?? (() => {});
  return await new Promise((resolve, reject) => {
    const server = serve(
      { fetch: app.fetch, hostname: options.host, port: options.port },
      (info: AddressInfo) => {
        const host = info.address.includes(':') ? `[${info.address}]` : info.address;
        const url = `http://${host}:${info.port}`;
        log(`ScriptHut server listening on ${url}${authToken ? ' (auth token required)' : ''}`);
        resolve({
          url,
          port: info.port,
          close: () =>
            new Promise<void>((done) => {
              closeStreams(app);
              server.close(() => done());
              const s = server as unknown as {
                closeAllConnections?: () => void;
                closeIdleConnections?: () => void;
              };
              s.closeIdleConnections?.();
              setTimeout(() => s.closeAllConnections?.(), 200).unref();
            }),
        });
      },
    );
    server.once('error', (err: Error) => reject(err));
  });
}
