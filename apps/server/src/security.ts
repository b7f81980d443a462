/**
 * Safe-by-default middleware: security headers, bearer/cookie authentication with constant-time
 * comparison, and CSRF protection (per-session token + Origin check) for every state-changing request.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { HostAllowList } from './hosts.js';

export const SESSION_COOKIE = 'sh_session';
export const CSRF_COOKIE = 'sh_csrf';
export const CSRF_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** Constant-time string comparison (hashes first so lengths do not leak either). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** The session cookie value for a token: an HMAC, so the cookie never carries the token itself. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('scripthut-ui-session-v1').digest('base64url');
}

export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/**
 * CSP, no framing, no sniffing, no referrer leaks. A route may set a stricter CSP of its own (task
 * output files: `default-src 'none'; sandbox`), which is kept.
 */
export const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  if (!c.res.headers.has('Content-Security-Policy')) c.res.headers.set('Content-Security-Policy', CSP);
  c.res.headers.set('X-Frame-Options', 'DENY');
  c.res.headers.set('X-Content-Type-Options', 'nosniff');
  c.res.headers.set('Referrer-Policy', 'same-origin');
  c.res.headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  c.res.headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
};

/**
 * Checks the request's credential against `token`: `Authorization: Bearer` first, else the UI session
 * cookie. `via` says which one was presented (null: none). A null token accepts nothing.
 */
export function isAuthenticated(
  c: Context,
  token: string | null,
): { ok: boolean; via: 'bearer' | 'cookie' | null } {
  const header = c.req.header('authorization');
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return { ok: !!token && !!m && safeEqual(m[1] as string, token), via: 'bearer' };
  }
  const cookie = getCookie(c, SESSION_COOKIE);
  if (cookie) return { ok: !!token && safeEqual(cookie, sessionValue(token)), via: 'cookie' };
  return { ok: false, via: null };
}

/** Returns the per-session CSRF token, setting the cookie when the browser has none. */
export function ensureCsrfToken(c: Context): string {
  const existing = getCookie(c, CSRF_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{20,100}$/.test(existing)) return existing;
  const token = randomBytes(24).toString('base64url');
  setCookie(c, CSRF_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/', secure: isHttps(c) });
  return token;
}

export function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:';
}

/** Context variable holding the server's {@link HostAllowList} (set by the Host check). */
export const HOST_ALLOW_LIST = 'hostAllowList';

/** The host (with port) the request was sent to: the Host header, else the URL's (in-process calls). */
export function requestHost(c: Context): string {
  return (c.req.header('host') ?? new URL(c.req.url).host).trim().toLowerCase();
}

/**
 * Same-origin check for state-changing requests: the `Origin` (or, lacking it, `Referer`) must name
 * this server: a host on the allow-list, and the very host (and port) the request was sent to.
 * `Sec-Fetch-Site: cross-site` is refused too. Requests from non-browser clients (no Origin, no
 * Referer) pass; they are covered by the bearer token / content-type rules.
 */
export function isSameOrigin(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return false;
  const claimed = c.req.header('origin') ?? c.req.header('referer');
  if (claimed === undefined || claimed === '') return c.req.header('origin') === undefined;
  let host: string;
  try {
    host = new URL(claimed).host.toLowerCase();
  } catch {
    return false; // includes Origin: null
  }
  const hosts = c.get(HOST_ALLOW_LIST as never) as HostAllowList | undefined;
  return !!hosts && hosts.allows(host) && host === requestHost(c);
}

/**
 * A redirect target after sign-in: only a path on this site. The value is resolved the way a browser
 * would (tabs and newlines dropped, backslashes read as `/`), and anything that leaves the site or is
 * protocol-relative (`//host`) becomes `/`.
 */
export function safeRedirectPath(next: string | undefined | null): string {
  if (!next?.startsWith('/') || /[\u0000-\u001f\u007f\\]/.test(next)) return '/';
  let url: URL;
  try {
    const base = new URL('http://scripthut.invalid/');
    url = new URL(next, base);
    if (url.origin !== base.origin) return '/';
  } catch {
    return '/';
  }
  const path = `${url.pathname}${url.search}${url.hash}`;
  return path.startsWith('/') && !path.startsWith('//') ? path : '/';
}

export function isUnsafeMethod(method: string): boolean {
  return !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase());
}

/** Content types a cross-site HTML form can send without a CORS preflight. */
export function isSimpleFormContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const media = contentType.split(';')[0]?.trim().toLowerCase();
  return (
    media === 'application/x-www-form-urlencoded' || media === 'multipart/form-data' || media === 'text/plain'
  );
}
