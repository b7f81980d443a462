/**
 * Authentication in-process (app.request): every route needs a credential, sign-in links, token
 * rotation, throttling, the open-redirect guard, the Host allow-list and the same-origin rule, and the
 * body limit. Over a real socket: server.test.ts; as another local user: e2e/second-uid.test.ts.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { FailureThrottle, LoginCodes } from '../src/auth.js';
import { createApp, mintLoginUrl } from '../src/index.js';
import { SESSION_COOKIE, safeRedirectPath, sessionValue } from '../src/security.js';
import { appRoutes, PUBLIC_ROUTES } from './routes.js';
import { STUB_TOKEN, StubRuntime } from './stub-runtime.js';

let rt: StubRuntime;
let app: ReturnType<typeof createApp>;
beforeEach(() => {
  rt = new StubRuntime();
  app = createApp(rt);
});

const bearer = (token = STUB_TOKEN) => ({ authorization: `Bearer ${token}` });
const cookieFor = (token = STUB_TOKEN) => `${SESSION_COOKIE}=${sessionValue(token)}`;
const loginForm = /<form method="post" action="\/login">[\s\S]*name="token"/;

/** GET /login, then returns the CSRF cookie + field value for a login POST. */
async function loginCsrf(): Promise<{ cookie: string; csrf: string }> {
  const page = await app.request('http://localhost/login');
  const cookie = /sh_csrf=[^;]+/.exec(page.headers.get('set-cookie') ?? '')?.[0] as string;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] as string;
  return { cookie, csrf };
}

async function postLogin(fields: Record<string, string>, csrf?: { cookie: string; csrf: string }) {
  const c = csrf ?? (await loginCsrf());
  return app.request('http://localhost/login', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: c.cookie,
      origin: 'http://localhost',
    },
    body: new URLSearchParams({ _csrf: c.csrf, ...fields }).toString(),
  });
}

describe('every route needs a credential', () => {
  it('API routes answer 401 JSON, UI routes 401 with the login page; only /login is public', async () => {
    const routes = appRoutes(app);
    expect(routes.length).toBeGreaterThan(40);
    for (const { method, path } of routes) {
      const key = `${method} ${path}`;
      const res = await app.request(`http://localhost${path}`, {
        method,
        headers: { 'content-type': 'application/json', origin: 'http://localhost' },
        ...(method === 'GET' || method === 'HEAD' ? {} : { body: '{}' }),
      });
      const body = await res.text();
      if (PUBLIC_ROUTES.has(key)) {
        expect(res.status, key).not.toBe(401);
        continue;
      }
      expect(res.status, key).toBe(401);
      if (path.startsWith('/api/') || path.startsWith('/live/')) {
        expect(JSON.parse(body), key).toMatchObject({ code: 'unauthorized' });
      } else {
        expect(body, key).toMatch(loginForm);
        expect(res.headers.get('location'), key).toBeNull();
      }
    }
  });

  it('a wrong bearer token or a forged cookie is refused; the token never appears in answers', async () => {
    expect((await app.request('/api/v1/runs', { headers: bearer('wrong') })).status).toBe(401);
    expect(
      (await app.request('/runs', { headers: { cookie: `${SESSION_COOKIE}=${STUB_TOKEN}` } })).status,
    ).toBe(401);
    const ok = await app.request('/api/v1/config', { headers: bearer() });
    expect(ok.status).toBe(200);
    expect(await ok.text()).not.toContain(STUB_TOKEN);
    const page = await app.request('/runs', { headers: { cookie: cookieFor() } });
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain(STUB_TOKEN);
  });
});

describe('token rotation', () => {
  it('a new settings.auth_token applies to the next request: old token, cookies and links refused', async () => {
    const oldLink = mintLoginUrl(app, 'http://localhost').url;
    rt.settings.auth_token = 'rotated-token-rotated-token-rotated';
    expect((await app.request('/api/v1/health', { headers: bearer() })).status).toBe(401);
    expect(
      (await app.request('/api/v1/health', { headers: bearer('rotated-token-rotated-token-rotated') }))
        .status,
    ).toBe(200);
    const stale = await app.request('/runs', { headers: { cookie: cookieFor() } });
    expect(stale.status).toBe(401);
    expect(await stale.text()).toContain('Your session has ended');
    expect(
      (await app.request('/runs', { headers: { cookie: cookieFor('rotated-token-rotated-token-rotated') } }))
        .status,
    ).toBe(200);
    expect((await app.request(oldLink)).status).toBe(401);
  });
});

describe('sign-in links', () => {
  it('a one-time code signs in once and redirects to the same path without it', async () => {
    const { url, expiresAt } = mintLoginUrl(app, 'http://localhost', '/runs?status=failed');
    expect(url).toMatch(/^http:\/\/localhost\/runs\?status=failed&login=[A-Za-z0-9_-]{32}$/);
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(9 * 60 * 1000);
    expect(url).not.toContain(STUB_TOKEN);
    const first = await app.request(url);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/runs?status=failed');
    const set = first.headers.get('set-cookie') ?? '';
    expect(set).toContain(`${SESSION_COOKIE}=${sessionValue(STUB_TOKEN)}`);
    expect(set).toMatch(/HttpOnly; SameSite=Strict/);
    const second = await app.request(url);
    expect(second.status).toBe(401);
    expect(await second.text()).toMatch(loginForm);
  });

  it('?token=<the token> signs in the same way (for scripts); a wrong one does not', async () => {
    const ok = await app.request(`http://localhost/runs?token=${STUB_TOKEN}&page=2`);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/runs?page=2');
    const wrong = await app.request('http://localhost/runs?token=nope');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie') ?? '').not.toContain(SESSION_COOKIE);
  });

  it('the login form signs in (CSRF-checked) and the API mints links for bearer clients only', async () => {
    const csrf = await loginCsrf();
    expect((await postLogin({ token: 'nope' }, csrf)).status).toBe(401);
    expect((await postLogin({ token: STUB_TOKEN, _csrf: 'x'.repeat(32) }, csrf)).status).toBe(403);
    const ok = await postLogin({ token: STUB_TOKEN, next: '/runs' }, csrf);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/runs');
    const minted = await app.request('http://localhost/api/v1/auth/login-link', {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(minted.status).toBe(200);
    const body = (await minted.json()) as { url: string };
    expect(body.url).toMatch(/^http:\/\/localhost\/\?login=/);
    const byCookie = await app.request('http://localhost/api/v1/auth/login-link', {
      method: 'POST',
      headers: {
        cookie: `${cookieFor()}; ${csrf.cookie}`,
        'x-csrf-token': csrf.cookie.split('=')[1] as string,
      },
    });
    expect(byCookie.status).toBe(401);
  });

  it('codes expire after 10 minutes and are bounded in number', () => {
    let now = 1_000_000;
    const codes = new LoginCodes(
      () => 'tok',
      10 * 60 * 1000,
      () => now,
    );
    const a = codes.mint().code;
    const b = codes.mint().code;
    now += 10 * 60 * 1000 - 1;
    expect(codes.consume(a)).toBe(true);
    now += 1;
    expect(codes.consume(b)).toBe(false);
    for (let i = 0; i < 1500; i++) codes.mint();
    expect(codes.size).toBeLessThanOrEqual(1000);
  });
});

describe('throttling failed sign-ins', () => {
  it('10 failed logins from one address → 429 with Retry-After, even for the right token', async () => {
    const csrf = await loginCsrf();
    for (let i = 0; i < 10; i++) expect((await postLogin({ token: `guess-${i}` }, csrf)).status).toBe(401);
    const blocked = await postLogin({ token: STUB_TOKEN }, csrf);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await blocked.text()).toContain('Too many failed sign-in attempts');
    expect((await app.request(`http://localhost/?token=${STUB_TOKEN}`)).status).toBe(429);
    expect((await app.request('/api/v1/health', { headers: bearer() })).status).toBe(429);
  });

  it('the window ends, and addresses are counted apart', () => {
    let now = 0;
    const t = new FailureThrottle(3, 60_000, () => now);
    for (let i = 0; i < 3; i++) t.fail('a');
    expect(t.retryAfter('a')).toBe(60);
    expect(t.retryAfter('b')).toBe(0);
    now += 30_000;
    expect(t.retryAfter('a')).toBe(30);
    now += 30_000;
    expect(t.retryAfter('a')).toBe(0);
  });
});

describe('redirect after sign-in', () => {
  it('accepts only same-site paths, after decoding', async () => {
    for (const next of [
      '/\t/evil.example',
      '/%09/evil.example',
      '//evil.example',
      '/\\evil.example',
      '\\\\evil.example',
      'https://evil.example/',
      '/.//evil.example',
      '/\n/evil.example',
      'javascript:alert(1)',
    ]) {
      // As a browser sends it: the form field is percent-decoded once by the form encoding.
      const res = await postLogin({ token: STUB_TOKEN, next: decodeURIComponent(next) });
      expect(res.status, next).toBe(303);
      const location = res.headers.get('location') as string;
      expect(new URL(location, 'http://localhost/').origin, `${next} → ${location}`).toBe('http://localhost');
      expect(location.replace(/[\t\n\r]/g, '').startsWith('//'), location).toBe(false);
    }
    expect(safeRedirectPath('/%09/evil.example')).toBe('/%09/evil.example'); // a path on this site
    expect(safeRedirectPath('/\t/evil.example')).toBe('/');
    expect(safeRedirectPath('/runs/abc?state=failed#x')).toBe('/runs/abc?state=failed#x');
    const link = await app.request(`http://localhost//evil.example/?token=${STUB_TOKEN}`);
    expect(link.status).toBe(303);
    expect(link.headers.get('location')).toBe('/');
  });
});

describe('Host allow-list and same-origin', () => {
  it('refuses a foreign Host on every kind of route, and a rebinding POST with a matching Origin', async () => {
    for (const path of ['/api/v1/health', '/', '/login', '/assets/app.js']) {
      const res = await app.request(path, { headers: { ...bearer(), host: 'evil.example:8000' } });
      expect(res.status, path).toBe(403);
    }
    const rebinding = await app.request('http://evil.example:8000/api/v1/tasks/run', {
      method: 'POST',
      headers: {
        ...bearer(),
        host: 'evil.example:8000',
        origin: 'http://evil.example:8000',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ command: 'id', backend: 'local' }),
    });
    expect(rebinding.status).toBe(403);
    expect(rt.runs.size).toBe(0);
  });

  it('accepts loopback names with any port, the configured server_host, and settings.allowed_hosts', async () => {
    const ok = async (host: string) =>
      (await app.request('/api/v1/health', { headers: { ...bearer(), host } })).status;
    for (const host of ['127.0.0.1:8000', 'localhost', 'LOCALHOST:1', '[::1]:8000', '127.0.0.1']) {
      expect(await ok(host), host).toBe(200);
    }
    expect(await ok('hut.lab:8000')).toBe(403);
    expect(await ok('[::1')).toBe(403);
    rt.settings.server_host = 'hut.lab';
    expect(await ok('hut.lab:8000')).toBe(200);
    rt.settings.allowed_hosts = ['proxy.example.org'];
    expect(await ok('proxy.example.org')).toBe(200);
    expect(await ok('example.org')).toBe(403);
  });

  it('a state change must come from the very host it is sent to, and that host must be allowed', async () => {
    const post = (host: string, origin: string) =>
      app.request(`http://${host}/api/v1/config/reload`, {
        method: 'POST',
        headers: { ...bearer(), host, origin },
      });
    expect((await post('127.0.0.1:8000', 'http://localhost:8000')).status).toBe(403);
    expect((await post('127.0.0.1:8000', 'http://127.0.0.1:9000')).status).toBe(403);
    expect((await post('127.0.0.1:8000', 'null')).status).toBe(403);
    expect(rt.calls).not.toContain('reload');
    expect((await post('127.0.0.1:8000', 'http://127.0.0.1:8000')).status).toBe(200);
  });
});

describe('request body limit', () => {
  const big = 'a'.repeat(1024 * 1024 + 1);
  it('413 on /login and on API routes, signed in or not, before anything parses the body', async () => {
    const login = await app.request('http://localhost/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${big}`,
    });
    expect(login.status).toBe(413);
    for (const headers of [bearer(), {}]) {
      const api = await app.request('http://localhost/api/v1/tasks/run', {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ command: big, backend: 'local' }),
      });
      expect(api.status).toBe(413);
      expect(await api.json()).toMatchObject({ code: 'payload_too_large' });
    }
    expect(rt.runs.size).toBe(0);
  });

  it('cuts off a chunked body (no Content-Length) once it passes the limit', async () => {
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(97);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 64 * 1024 * 1024) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await app.request('http://localhost/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(sent).toBeLessThan(2 * 1024 * 1024);
  });

  it('a body within the limit is read as usual', async () => {
    const res = await app.request('http://localhost/api/v1/tasks/run', {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'a'.repeat(90_000), backend: 'local' }),
    });
    expect(res.status).toBe(201);
  });
});
