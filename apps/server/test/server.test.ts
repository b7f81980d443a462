/** startServer over a real socket: token on every bind, sign-in link, Host allow-list, throttle, TLS. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, type Runtime } from '@scripthut/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { isLoopbackHost, startServer } from '../src/index.js';
import { cookieOf, rawRequest } from './http.js';
import { STUB_TOKEN, StubRuntime } from './stub-runtime.js';

const LONG = 'x'.repeat(40);
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function serve(rt: StubRuntime | Runtime, options: Partial<Parameters<typeof startServer>[1]> = {}) {
  const server = await startServer(rt, { host: '127.0.0.1', port: 0, env: {}, ...options });
  cleanup.push(() => server.close());
  return server;
}

async function realRuntime(): Promise<{ dir: string; runtime: Runtime }> {
  const dir = mkdtempSync(join(tmpdir(), 'sh-serve-'));
  const runtime = await createRuntime({
    cwd: dir,
    dataDir: join(dir, 'data'),
    logger: { info() {}, warn() {}, error() {} },
  });
  cleanup.push(async () => {
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, runtime };
}

describe('startServer', () => {
  it('refuses a non-loopback bind with a token shorter than 32 characters', async () => {
    const rt = new StubRuntime();
    await expect(startServer(rt, { host: '0.0.0.0', port: 0, authToken: 'tok-123' })).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringContaining('needs an auth token of at least 32 characters (this one has 7)'),
    });
    expect(isLoopbackHost('127.1.2.3') && isLoopbackHost('::1') && !isLoopbackHost('192.168.1.10')).toBe(
      true,
    );
  });

  it('binds every interface with a long token, is reached on 127.0.0.1, and requires the token', async () => {
    const server = await serve(new StubRuntime(), { host: '0.0.0.0', authToken: LONG });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect((await rawRequest(`${server.url}/api/v1/health`)).status).toBe(401);
    const ok = await rawRequest(`${server.url}/api/v1/health`, {
      headers: { authorization: `Bearer ${LONG}` },
    });
    expect(ok.status).toBe(200);
  });

  it('with no token configured: generates one (0600 in a 0700 data dir), prints a one-time sign-in link', async () => {
    const { dir, runtime } = await realRuntime();
    const logs: string[] = [];
    const server = await serve(runtime, { log: (m) => logs.push(m) });
    const tokenFile = join(dir, 'data', 'auth_token');
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token.length).toBeGreaterThanOrEqual(43);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'data')).mode & 0o777).toBe(0o700);
    expect(logs.join('\n')).not.toContain(token);
    expect(logs[0]).toContain(`listening on ${server.url}`);
    const link = /Sign in from a browser: (\S+)/.exec(logs.join('\n'))?.[1] as string;
    expect(link).toMatch(new RegExp(`^${server.url}/\\?login=[A-Za-z0-9_-]{32}$`));

    expect((await rawRequest(`${server.url}/`)).status).toBe(401);
    const first = await rawRequest(link);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    const session = cookieOf(first, 'sh_session') as string;
    expect(String(first.headers['set-cookie'])).toMatch(/sh_session=[^;]+;.*HttpOnly; SameSite=Strict/);
    expect(session).not.toContain(token);
    const page = await rawRequest(`${server.url}/`, { headers: { cookie: session } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('Dashboard');
    const again = await rawRequest(link);
    expect(again.status).toBe(401);
    expect(again.body).toContain('This sign-in link is invalid, expired or was already used');
    expect(cookieOf(again, 'sh_session')).toBeUndefined();
    // The API for whoever holds the token: a fresh link.
    const minted = await rawRequest(`${server.url}/api/v1/auth/login-link`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ path: '/runs' }),
    });
    const { url } = JSON.parse(minted.body) as { url: string };
    expect(url).toMatch(new RegExp(`^${server.url}/runs\\?login=`));
    expect((await rawRequest(url)).headers.location).toBe('/runs');
  });

  it('refuses a foreign Host (DNS rebinding) before anything else, whatever the Origin', async () => {
    const rt = new StubRuntime();
    const server = await serve(rt);
    const auth = { authorization: `Bearer ${STUB_TOKEN}` };
    for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, '[::1]:8000', 'LOCALHOST']) {
      const res = await rawRequest(`${server.url}/api/v1/health`, { headers: { ...auth, host } });
      expect(res.status, host).toBe(200);
    }
    const evil = `evil.example:${server.port}`;
    for (const path of ['/api/v1/health', '/', '/login']) {
      const res = await rawRequest(`${server.url}${path}`, { headers: { ...auth, host: evil } });
      expect(res.status, path).toBe(403);
    }
    const rebound = await rawRequest(`${server.url}/api/v1/tasks/run`, {
      method: 'POST',
      headers: { ...auth, host: evil, origin: `http://${evil}`, 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'id', backend: 'local' }),
    });
    expect(rebound.status).toBe(403);
    expect(rt.runs.size).toBe(0);
    // The configured name is accepted (live: read per request).
    expect(
      (await rawRequest(`${server.url}/api/v1/health`, { headers: { ...auth, host: 'hut.lab:443' } })).status,
    ).toBe(403);
    rt.settings.allowed_hosts = ['hut.lab'];
    expect(
      (await rawRequest(`${server.url}/api/v1/health`, { headers: { ...auth, host: 'hut.lab:443' } })).status,
    ).toBe(200);
  });

  it('throttles failed bearer checks per address: 429 with Retry-After, even for the right token', async () => {
    const rt = new StubRuntime();
    const server = await serve(rt);
    const session = cookieOf(await rawRequest(server.loginUrl()), 'sh_session') as string;
    for (let i = 0; i < 10; i++) {
      const res = await rawRequest(`${server.url}/api/v1/runs`, {
        headers: { authorization: `Bearer guess-${i}` },
      });
      expect(res.status).toBe(401);
    }
    const blocked = await rawRequest(`${server.url}/api/v1/runs`, {
      headers: { authorization: `Bearer ${STUB_TOKEN}` },
    });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(60);
    // Sign-in attempts are refused too; a signed-in browser keeps working (its cookie is not a guess).
    expect((await rawRequest(server.loginUrl())).status).toBe(429);
    expect((await rawRequest(`${server.url}/runs`, { headers: { cookie: session } })).status).toBe(200);
  });

  it('serves https with settings.tls_cert / tls_key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-tls-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
      ].concat([
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ]),
      { stdio: 'ignore' },
    );
    const rt = new StubRuntime();
    rt.settings.tls_cert = cert;
    rt.settings.tls_key = key;
    const server = await serve(rt);
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(cert);
    expect((await rawRequest(`${server.url}/api/v1/health`, { ca })).status).toBe(401);
    const signedIn = await rawRequest(server.loginUrl(), { ca });
    expect(signedIn.status).toBe(303);
    expect(String(signedIn.headers['set-cookie'])).toMatch(/sh_session=.*Secure/);
    rt.settings.tls_key = null;
    await expect(startServer(rt, { host: '127.0.0.1', port: 0 })).rejects.toMatchObject({
      code: 'config_invalid',
    });
  });

  it('serves over HTTP and closes even with an SSE client connected', async () => {
    const rt = new StubRuntime();
    const server = await startServer(rt, { host: '127.0.0.1', port: 0 });
    const res = await fetch(`${server.url}/api/v1/jobs/events`, {
      headers: { authorization: `Bearer ${STUB_TOKEN}` },
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    expect(rt.listenerCount()).toBeGreaterThan(0);
    await server.close();
    await expect.poll(() => rt.listenerCount()).toBe(0);
    await reader.cancel().catch(() => {});
  });
});
