import { describe, expect, expectTypeOf, it } from 'vitest';
import { ApiError, createClient, unwrap } from '../src/client.js';
import { createApp } from '../src/index.js';
import { API_ROUTES } from '../src/openapi.js';
import { app, expectError, json, rt, useStubApp } from './api-app.js';

useStubApp();

describe('system routes', () => {
  it('health reports version and backends', async () => {
    const res = await app.request('/api/v1/health');
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      status: 'ok',
      version: '9.9.9',
      backends: [{ name: 'local', connected: true }],
    });
  });
  it('sets security headers on API and UI', async () => {
    for (const path of ['/api/v1/health', '/']) {
      const res = await app.request(path);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    }
  });
  it('unknown API route → 404 error shape', async () => {
    await expectError(await app.request('/api/v1/nope'), 404, 'not_found');
  });
  it('OpenAPI lists every API route of the router', async () => {
    const res = await app.request('/api/v1/openapi.json');
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const routerRoutes = app.app.routes
      .filter((r) => r.path.startsWith('/api/v1/') && r.method !== 'ALL')
      .map(
        (r) => `${r.method.toLowerCase()} ${r.path.slice('/api/v1'.length).replace(/:([A-Za-z]+)/g, '{$1}')}`,
      );
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m} ${p}`),
    );
    expect(new Set(routerRoutes)).toEqual(new Set(documented));
    expect(API_ROUTES.length).toBe(documented.length);
    const runs = doc.paths['/runs']?.get as { parameters: { name: string }[] };
    expect(runs.parameters.map((p) => p.name)).toEqual(
      expect.arrayContaining(['limit', 'offset', 'status', 'workflow', 'backend']),
    );
  });
});

describe('backends and jobs', () => {
  it('lists backends and one backend with its command log', async () => {
    expect(
      ((await (await app.request('/api/v1/backends')).json()) as { items: unknown[] }).items,
    ).toHaveLength(1);
    const one = (await (await app.request('/api/v1/backends/local')).json()) as { commandLog: unknown[] };
    expect(one.commandLog).toHaveLength(1);
    await expectError(await app.request('/api/v1/backends/nope'), 404, 'not_found');
  });
  it('lists jobs, with "mine" filtering external jobs out', async () => {
    const all = (await (await app.request('/api/v1/jobs')).json()) as { items: { kind: string }[] };
    expect(all.items.some((j) => j.kind === 'external')).toBe(true);
    const mine = (await (await app.request('/api/v1/jobs?mine=true')).json()) as {
      items: { kind: string }[];
    };
    expect(mine.items.some((j) => j.kind === 'external')).toBe(false);
    await expectError(await app.request('/api/v1/jobs?mine=maybe'), 400, 'validation_failed');
    await expectError(await app.request('/api/v1/jobs?recentHours=-1'), 400, 'validation_failed');
  });
});

describe('config', () => {
  it('view (redacted), validate, reload', async () => {
    const view = await app.request('/api/v1/config');
    expect(await view.text()).toContain('***');
    const ok = (await (
      await app.request('/api/v1/config/validate', json({ text: 'settings: {}' }))
    ).json()) as { valid: boolean };
    expect(ok.valid).toBe(true);
    const bad = (await (await app.request('/api/v1/config/validate', json({ text: 'bad: yes' }))).json()) as {
      valid: boolean;
      issues: unknown[];
    };
    expect(bad.valid).toBe(false);
    expect(bad.issues).toHaveLength(1);
    await expectError(await app.request('/api/v1/config/validate', json({})), 400, 'validation_failed');
    const reload = (await (await app.request('/api/v1/config/reload', { method: 'POST' })).json()) as {
      live: string[];
      restart: string[];
    };
    expect(reload).toMatchObject({ live: ['settings.poll_interval'], restart: ['settings.server_port'] });
  });
});

describe('CSRF on the API', () => {
  it('refuses cross-site and form-encoded state changes, changing nothing', async () => {
    const cross = await app.request('/api/v1/workflows/demo/run', {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(cross.status).toBe(403);
    const form = await app.request('/api/v1/workflows/demo/run', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    expect(form.status).toBe(415);
    const plain = await app.request('/api/v1/config/reload', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(plain.status).toBe(415);
    expect(rt.runs.size).toBe(0);
    expect(rt.calls).not.toContain('reload');
    const same = await app.request('http://localhost/api/v1/workflows/demo/run', {
      method: 'POST',
      headers: { origin: 'http://localhost', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(same.status).toBe(201);
  });
});

describe('typed client', () => {
  it('calls the API in-process and throws ApiError with the error shape', async () => {
    const api = createClient('http://scripthut.local', {
      fetch: (input, init) => app.fetch(new Request(input as string, init)),
    });
    const health = await unwrap(api.health.$get());
    expect(health.status).toBe('ok');
    const run = await unwrap(api.workflows[':name'].run.$post({ param: { name: 'demo' }, json: {} }));
    expect(run.total).toBe(3);
    // The client is really typed (not `any`): checked by tsc.
    expectTypeOf(run.run.id).toEqualTypeOf<string>();
    expectTypeOf(run.progress.done).toEqualTypeOf<number>();
    const detail = await unwrap(
      api.runs[':id'].$get({ param: { id: run.run.id }, query: { taskLimit: '10' } }),
    );
    expect(detail.tasks.items).toHaveLength(3);
    const err = await unwrap(api.runs[':id'].$get({ param: { id: 'deadbeef' }, query: {} })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, code: 'not_found' });
  });
  it('sends the bearer token', async () => {
    const authed = createApp(rt, { authToken: 'tok' });
    const api = createClient('http://x', {
      token: 'tok',
      fetch: (input, init) => authed.fetch(new Request(input as string, init)),
    });
    expect((await unwrap(api.backends.$get())).items).toHaveLength(1);
    const anon = createClient('http://x', {
      fetch: (input, init) => authed.fetch(new Request(input as string, init)),
    });
    await expect(unwrap(anon.backends.$get())).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });
});
