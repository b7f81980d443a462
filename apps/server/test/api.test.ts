import { beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { ApiError, createClient, unwrap } from '../src/client.js';
import { createApp, openStreamCount } from '../src/index.js';
import { API_ROUTES } from '../src/openapi.js';
import { StubRuntime } from './stub-runtime.js';
import { tokenClient } from './with-token.js';

let rt: StubRuntime;
let app: ReturnType<typeof tokenClient<ReturnType<typeof createApp>>>;
const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

beforeEach(() => {
  rt = new StubRuntime();
  app = tokenClient(createApp(rt, { version: '9.9.9' }));
});

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { code: string; message: string; details: unknown };
  expect(body.code).toBe(code);
  expect(typeof body.message).toBe('string');
  expect(body).toHaveProperty('details');
  return body;
}

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

describe('workflows, sources, projects', () => {
  it('lists and dry-runs a workflow without creating a run', async () => {
    const list = (await (await app.request('/api/v1/workflows')).json()) as { items: { name: string }[] };
    expect(list.items[0]?.name).toBe('demo');
    const dry = await app.request('/api/v1/workflows/demo/dry-run', json({}));
    expect(dry.status).toBe(200);
    const body = (await dry.json()) as { tasks: { script: string }[] };
    expect(body.tasks).toHaveLength(3);
    expect(body.tasks[0]?.script).toContain('#!/bin/bash');
    expect(rt.runs.size).toBe(0);
  });
  it('runs a workflow (201) and rejects bad bodies without creating anything', async () => {
    const res = await app.request('/api/v1/workflows/demo/run', json({}));
    expect(res.status).toBe(201);
    const run = (await res.json()) as {
      run: { id: string };
      status: string;
      progress: { done: number; total: number };
    };
    expect(run.progress).toEqual({ done: 0, total: 3, percent: 0 });
    const before = rt.calls.length;
    await expectError(
      await app.request('/api/v1/workflows/demo/run', json({ maxConcurrent: 0 })),
      400,
      'validation_failed',
    );
    await expectError(
      await app.request('/api/v1/workflows/demo/run', json({ unknown: 1 })),
      400,
      'validation_failed',
    );
    await expectError(
      await app.request('/api/v1/workflows/demo/run', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{oops',
      }),
      400,
      'validation_failed',
    );
    await expectError(await app.request('/api/v1/workflows/nope/run', json({})), 404, 'not_found');
    expect(rt.calls.length).toBe(before);
  });
  it('maps runtime errors to statuses', async () => {
    const { ScriptHutError, BackendError } = await import('@scripthut/core');
    rt.failNext = new ScriptHutError('workflow_command_failed', 'generator exited 1', {
      details: { stderr: 'boom' },
    });
    const b = await expectError(
      await app.request('/api/v1/workflows/demo/run', json({})),
      422,
      'workflow_command_failed',
    );
    expect(b.details).toEqual({ stderr: 'boom' });
    rt.failNext = new ScriptHutError('task_json_invalid', 'bad json', {
      issues: [{ path: 'tasks[0].id', message: 'required' }],
    });
    const t = await expectError(
      await app.request('/api/v1/workflows/demo/run', json({})),
      422,
      'task_json_invalid',
    );
    expect(t.details).toEqual({ issues: [{ path: 'tasks[0].id', message: 'required' }] });
    rt.failNext = new BackendError('ssh down', { transient: true });
    await expectError(await app.request('/api/v1/workflows/demo/run', json({})), 503, 'backend_transient');
    rt.failNext = new BackendError('sbatch rejected', { transient: false });
    await expectError(await app.request('/api/v1/workflows/demo/run', json({})), 502, 'backend_permanent');
    rt.failNext = new Error('secret internal detail');
    const i = await expectError(await app.request('/api/v1/workflows/demo/run', json({})), 500, 'internal');
    expect(i.message).not.toContain('secret');
  });
  it('sources: list, sync, dry-run and run a file; rejects traversal', async () => {
    expect(
      ((await (await app.request('/api/v1/sources')).json()) as { items: unknown[] }).items,
    ).toHaveLength(1);
    expect((await app.request('/api/v1/sources/repo/sync', { method: 'POST' })).status).toBe(200);
    await expectError(await app.request('/api/v1/sources/nope/sync', { method: 'POST' }), 404, 'not_found');
    expect((await app.request('/api/v1/sources/repo/dry-run', json({ file: 'flows/a.json' }))).status).toBe(
      200,
    );
    expect((await app.request('/api/v1/sources/repo/run', json({ file: 'flows/a.json' }))).status).toBe(201);
    const n = rt.runs.size;
    await expectError(
      await app.request('/api/v1/sources/repo/run', json({ file: '../../etc/passwd' })),
      400,
      'validation_failed',
    );
    await expectError(
      await app.request('/api/v1/sources/repo/run', json({ file: '/etc/passwd' })),
      400,
      'validation_failed',
    );
    await expectError(await app.request('/api/v1/sources/repo/run', json({})), 400, 'validation_failed');
    expect(rt.runs.size).toBe(n);
  });
  it('projects: list, workflows, dry-run, run', async () => {
    expect(
      ((await (await app.request('/api/v1/projects')).json()) as { items: unknown[] }).items,
    ).toHaveLength(1);
    expect(
      ((await (await app.request('/api/v1/projects/proj/workflows')).json()) as { items: unknown[] }).items,
    ).toHaveLength(1);
    await expectError(await app.request('/api/v1/projects/nope/workflows'), 404, 'not_found');
    expect((await app.request('/api/v1/projects/proj/dry-run', json({ file: 'sflow.json' }))).status).toBe(
      200,
    );
    expect((await app.request('/api/v1/projects/proj/run', json({ file: 'sflow.json' }))).status).toBe(201);
  });
  it('ad-hoc task and estimates', async () => {
    const res = await app.request(
      '/api/v1/tasks/run',
      json({ command: 'hostname', backend: 'local', id: 'h' }),
    );
    expect(res.status).toBe(201);
    await expectError(
      await app.request('/api/v1/tasks/run', json({ backend: 'local' })),
      400,
      'validation_failed',
    );
    await expectError(
      await app.request(
        '/api/v1/tasks/run',
        json({ command: 'x', backend: 'local', env: { 'BAD-NAME': 'x' } }),
      ),
      400,
      'validation_failed',
    );
    const est = (await (await app.request('/api/v1/estimate', json({ name: 'demo' }))).json()) as {
      upperBound: number;
    };
    expect(est.upperBound).toBe(0.5);
    await expectError(await app.request('/api/v1/estimate', json({})), 400, 'validation_failed');
    await expectError(
      await app.request('/api/v1/estimate', json({ name: 'demo', kind: 'bogus' })),
      400,
      'validation_failed',
    );
  });
  it('estimate runs a generator, so it is a POST: a GET (e.g. an <img> on any page) runs nothing', async () => {
    await expectError(await app.request('/api/v1/estimate?name=demo'), 404, 'not_found');
    expect(rt.calls.filter((c) => c.startsWith('estimate:'))).toEqual([]);
    expect((await app.request('/api/v1/estimate', json({ name: 'demo' }))).status).toBe(200);
    expect(rt.calls.filter((c) => c.startsWith('estimate:'))).toEqual(['estimate:demo']);
  });
});

describe('runs and tasks', () => {
  async function newRun(): Promise<string> {
    const res = await app.request('/api/v1/workflows/demo/run', json({}));
    return ((await res.json()) as { run: { id: string } }).run.id;
  }
  it('lists runs with paging and filters', async () => {
    const a = await newRun();
    await newRun();
    rt.completeAll(a);
    const page = (await (await app.request('/api/v1/runs?limit=1&offset=0')).json()) as {
      items: unknown[];
      total: number;
      limit: number;
    };
    expect(page).toMatchObject({ total: 2, limit: 1 });
    expect(page.items).toHaveLength(1);
    const done = (await (await app.request('/api/v1/runs?status=completed')).json()) as {
      items: { run: { id: string } }[];
    };
    expect(done.items.map((r) => r.run.id)).toEqual([a]);
    await expectError(await app.request('/api/v1/runs?status=weird'), 400, 'validation_failed');
    await expectError(await app.request('/api/v1/runs?limit=0'), 400, 'validation_failed');
    await expectError(await app.request('/api/v1/runs?limit=abc'), 400, 'validation_failed');
  });
  it('run detail pages its tasks; tasks filter by state and prefix; groups count', async () => {
    const id = await newRun();
    rt.setState(id, 'prep', 'running');
    const detail = (await (await app.request(`/api/v1/runs/${id}?taskLimit=2`)).json()) as {
      tasks: { items: unknown[]; total: number };
      status: string;
    };
    expect(detail.status).toBe('running');
    expect(detail.tasks.items).toHaveLength(2);
    expect(detail.tasks.total).toBe(3);
    const running = (await (await app.request(`/api/v1/runs/${id}/tasks?state=running`)).json()) as {
      items: { spec: { id: string } }[];
    };
    expect(running.items.map((t) => t.spec.id)).toEqual(['prep']);
    const work = (await (
      await app.request(`/api/v1/runs/${id}/tasks?prefix=work.&state=pending,running`)
    ).json()) as { total: number };
    expect(work.total).toBe(2);
    await expectError(await app.request(`/api/v1/runs/${id}/tasks?state=nonsense`), 400, 'validation_failed');
    const groups = (await (await app.request(`/api/v1/runs/${id}/groups`)).json()) as {
      items: { prefix: string; total: number }[];
    };
    expect(groups.items).toEqual([
      expect.objectContaining({ prefix: '', total: 1 }),
      expect.objectContaining({ prefix: 'work', total: 2 }),
    ]);
    rt.completeAll(id);
    const after = (await (await app.request(`/api/v1/runs/${id}/groups`)).json()) as {
      items: { prefix: string; counts: { completed: number } }[];
    };
    expect(after.items.map((g) => g.counts.completed)).toEqual([1, 2]); // not a stale cache
    expect((await app.request(`/api/v1/runs/${id}/cost`)).status).toBe(200);
  });
  it('rejects traversal and junk in ids with 400', async () => {
    const id = await newRun();
    for (const path of [
      '/api/v1/runs/...',
      '/api/v1/runs/..%2F..%2Fetc',
      '/api/v1/runs/a%2Fb',
      '/api/v1/runs/a.b',
      `/api/v1/runs/${id}/tasks/..%2F..%2Fsecret`,
      `/api/v1/runs/${id}/tasks/a..b`,
      `/api/v1/runs/${id}/tasks/a%5Cb/log`,
    ]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(400);
    }
    await expectError(await app.request('/api/v1/runs/zzzz0000'), 404, 'not_found');
  });
  it('task detail, script, transitions, log tail and offset', async () => {
    const id = await newRun();
    rt.completeAll(id);
    const task = (await (await app.request(`/api/v1/runs/${id}/tasks/work.a`)).json()) as { state: string };
    expect(task.state).toBe('completed');
    const script = (await (await app.request(`/api/v1/runs/${id}/tasks/work.a/script`)).json()) as {
      script: string;
    };
    expect(script.script).toContain('echo work.a');
    const tr = (await (await app.request(`/api/v1/runs/${id}/tasks/work.a/transitions`)).json()) as {
      items: { to: string }[];
    };
    expect(tr.items.map((t) => t.to)).toEqual(['running', 'completed']);
    const log = (await (await app.request(`/api/v1/runs/${id}/tasks/work.a/log`)).json()) as {
      content: string;
      nextOffset: number;
    };
    expect(log.content).toBe('work.a says hello\n');
    const tail = (await (await app.request(`/api/v1/runs/${id}/tasks/work.a/log?tail=6`)).json()) as {
      content: string;
    };
    expect(tail.content).toBe('hello\n');
    const rest = (await (
      await app.request(`/api/v1/runs/${id}/tasks/work.a/log?offset=${log.nextOffset}`)
    ).json()) as { content: string };
    expect(rest.content).toBe('');
    await expectError(
      await app.request(`/api/v1/runs/${id}/tasks/work.a/log?stream=both`),
      400,
      'validation_failed',
    );
    await expectError(
      await app.request(`/api/v1/runs/${id}/tasks/work.a/log?path=/etc/passwd&tail=x`),
      400,
      'validation_failed',
    );
    await expectError(await app.request(`/api/v1/runs/${id}/tasks/nope`), 404, 'not_found');
  });
  it('cancel, rerun (all / failed-only) and delete', async () => {
    const id = await newRun();
    await expectError(await app.request(`/api/v1/runs/${id}`, { method: 'DELETE' }), 409, 'conflict');
    const cancelled = (await (await app.request(`/api/v1/runs/${id}/cancel`, { method: 'POST' })).json()) as {
      status: string;
    };
    expect(cancelled.status).toBe('cancelled');
    const rerun = await app.request(`/api/v1/runs/${id}/rerun`, json({ mode: 'failed' }));
    expect(rerun.status).toBe(201);
    const r = (await rerun.json()) as { run: { id: string; origin: unknown }; total: number };
    expect(r.run.origin).toEqual({ kind: 'rerun', fromRunId: id, mode: 'failed' });
    await expectError(
      await app.request(`/api/v1/runs/${id}/rerun`, json({ mode: 'sideways' })),
      400,
      'validation_failed',
    );
    const all = await app.request(`/api/v1/runs/${id}/rerun`, { method: 'POST' });
    expect(all.status).toBe(201);
    const del = await app.request(`/api/v1/runs/${id}`, { method: 'DELETE' });
    expect(await del.json()).toEqual({ deleted: true, runId: id });
    await expectError(await app.request(`/api/v1/runs/${id}`), 404, 'not_found');
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

describe('server-sent events', () => {
  async function readUntil(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    needle: string,
    timeoutMs = 3000,
  ): Promise<string> {
    const dec = new TextDecoder();
    let buf = '';
    const deadline = Date.now() + timeoutMs;
    while (!buf.includes(needle)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${needle}; got ${buf}`);
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value);
    }
    return buf;
  }
  it('run events stream task changes live and stop (unsubscribe) when the client disconnects', async () => {
    const base = rt.listenerCount();
    const res = await app.request('/api/v1/workflows/demo/run', json({}));
    const id = ((await res.json()) as { run: { id: string } }).run.id;
    const ac = new AbortController();
    const stream = await app.request(`/api/v1/runs/${id}/events`, { signal: ac.signal });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    await readUntil(reader, 'event: run');
    expect(rt.listenerCount()).toBeGreaterThan(base);
    expect(openStreamCount(app.app)).toBe(1);
    rt.setState(id, 'prep', 'running');
    const text = await readUntil(reader, 'event: tasks');
    expect(text).toContain('"state":"running"');
    await reader.cancel();
    await new Promise((r) => setTimeout(r, 20));
    expect(openStreamCount(app.app)).toBe(0);
    expect(rt.listenerCount()).toBe(base);
  });
  it('log follow streams new output and ends when the task is finished', async () => {
    const res = await app.request('/api/v1/workflows/demo/run', json({}));
    const id = ((await res.json()) as { run: { id: string } }).run.id;
    rt.setState(id, 'prep', 'running');
    rt.logs.set(`${id}/prep/stdout`, 'line 1\n');
    const stream = await app.request(`/api/v1/runs/${id}/tasks/prep/log/follow?intervalMs=200`);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    await readUntil(reader, 'line 1');
    rt.logs.set(`${id}/prep/stdout`, 'line 1\nline 2\n');
    rt.setState(id, 'prep', 'completed');
    const rest = await readUntil(reader, 'event: end');
    expect(rest).toContain('line 2');
    expect(rest).not.toContain('line 1');
    await new Promise((r) => setTimeout(r, 20));
    expect(openStreamCount(app.app)).toBe(0);
  });
  it('jobs and runs events send an initial snapshot', async () => {
    for (const path of ['/api/v1/jobs/events', '/api/v1/runs/events', '/live/dashboard', '/live/runs']) {
      const ac = new AbortController();
      const res = await app.request(path, { signal: ac.signal });
      expect(res.status, path).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      if (path.startsWith('/api')) await readUntil(reader, 'event: ');
      await reader.cancel();
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(openStreamCount(app.app)).toBe(0);
  });
});
