/** @jsxImportSource hono/jsx */
/**
 * Signing in: the login page (also the body of every unauthenticated UI answer, status 401), the
 * login form, one-time login links (`?login=<code>`) and `?token=<token>` links, and signing out.
 * A successful sign-in sets the HttpOnly SameSite=Strict session cookie (an HMAC of the token, never
 * the token) and redirects (303) to a path on this site without the credential in the URL.
 */
import type { Context, Hono } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { clientAddress, type FailureThrottle, type LoginCodes, type TokenSource } from '../../auth.js';
import {
  CSRF_FIELD,
  ensureCsrfToken,
  isHttps,
  isSameOrigin,
  SESSION_COOKIE,
  safeEqual,
  safeRedirectPath,
  sessionValue,
} from '../../security.js';
import { STYLE } from '../style.js';

/** Renders the sign-in page. */
export async function renderLogin(p: { csrf: string; next: string; error: string | null }): Promise<string> {
  const page = (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Sign in · ScriptHut</title>
        <style dangerouslySetInnerHTML={{ __html: STYLE }} />
      </head>
      <body>
        <div class="login panel">
          <h1>ScriptHut</h1>
          <p class="muted">
            Open the one-time link printed by <code>scripthut serve</code> (or <code>scripthut open</code>),
            or sign in with the access token: <code>settings.auth_token</code>, <code>SCRIPTHUT_TOKEN</code>,
            or the <code>auth_token</code> file in the ScriptHut data directory.
          </p>
          {p.error ? <div class="notice bad">{p.error}</div> : null}
          <form method="post" action="/login">
            <input type="hidden" name={CSRF_FIELD} value={p.csrf} />
            <input type="hidden" name="next" value={p.next} />
            <p>
              <label>
                Access token
                <br />
                <input
                  type="password"
                  name="token"
                  autocomplete="current-password"
                  style="width:100%"
                  autofocus
                />
              </label>
            </p>
            <button type="submit" class="primary">
              Sign in
            </button>
          </form>
        </div>
      </body>
    </html>
  );
  return `<!doctype html>${await page.toString()}`;
}

export interface LoginDeps {
  token: TokenSource;
  codes: LoginCodes;
  throttle: FailureThrottle;
}

/** Answers with the login page (401 unless another status is given). */
export async function loginPage(
  c: Context,
  next: string,
  error: string | null,
  status: 200 | 401 | 403 | 429 = 401,
): Promise<Response> {
  const csrf = ensureCsrfToken(c);
  return c.html(await renderLogin({ csrf, next: safeRedirectPath(next), error }), status);
}

/** 429 with Retry-After when the client address has failed too often; null when it may try. */
export async function throttled(
  c: Context,
  throttle: FailureThrottle,
  next: string,
): Promise<Response | null> {
  const wait = throttle.retryAfter(clientAddress(c));
  if (wait === 0) return null;
  c.header('Retry-After', String(wait));
  return loginPage(c, next, `Too many failed sign-in attempts; try again in ${wait} s.`, 429);
}

function startSession(c: Context, token: string): void {
  setCookie(c, SESSION_COOKIE, sessionValue(token), {
    httpOnly: true,
    sameSite: 'Strict',
    path: '/',
    secure: isHttps(c),
    maxAge: 60 * 60 * 24 * 30,
  });
}

/**
 * Registers the public part: `?login=` / `?token=` links on any UI GET, and `GET`/`POST /login`.
 * Call before the authentication middleware.
 */
export function loginRoutes(app: Hono, { token, codes, throttle }: LoginDeps): void {
  app.use('*', async (c, next) => {
    if ((c.req.method !== 'GET' && c.req.method !== 'HEAD') || c.req.path.startsWith('/api/')) return next();
    const url = new URL(c.req.url);
    const code = url.searchParams.get('login');
    const sent = url.searchParams.get('token');
    if (code === null && sent === null) return next();
    url.searchParams.delete('login');
    url.searchParams.delete('token');
    const target = safeRedirectPath(`${url.pathname}${url.search}`);
    const refused = await throttled(c, throttle, target);
    if (refused) return refused;
    const current = token();
    const ok = !!current && (code !== null ? codes.consume(code) : safeEqual(sent ?? '', current));
    if (!ok || !current) {
      throttle.fail(clientAddress(c));
      return loginPage(
        c,
        target,
        code !== null
          ? 'This sign-in link is invalid, expired or was already used. Ask for a new one (scripthut open) or sign in with the token.'
          : 'Wrong token.',
      );
    }
    startSession(c, current);
    return c.redirect(target, 303);
  });

  app.get('/login', (c) => loginPage(c, c.req.query('next') ?? '/', null, 200));

  app.post('/login', async (c) => {
    const csrf = ensureCsrfToken(c);
    const body = await c.req.parseBody();
    const next = safeRedirectPath(typeof body.next === 'string' ? body.next : undefined);
    const refused = await throttled(c, throttle, next);
    if (refused) return refused;
    const sentCsrf = typeof body[CSRF_FIELD] === 'string' ? (body[CSRF_FIELD] as string) : '';
    if (!isSameOrigin(c) || !safeEqual(sentCsrf, csrf)) {
      return loginPage(c, next, 'The form expired; try again.', 403);
    }
    const current = token();
    const sent = typeof body.token === 'string' ? body.token.trim() : '';
    if (!current || !safeEqual(sent, current)) {
      throttle.fail(clientAddress(c));
      return loginPage(c, next, 'Wrong token.');
    }
    startSession(c, current);
    return c.redirect(next, 303);
  });
}

/** Registers `POST /logout` (after authentication). */
export function logoutRoute(app: Hono): void {
  app.post('/logout', (c) => {
    if (!isSameOrigin(c)) return c.text('forbidden', 403);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/login', 303);
  });
}
