/** The API over the real runtime (temp data dir, embedded default config: `local` backend + `demo`). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, loadOrCreateAuthToken } from '@scripthut/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, unwrap } from '../src/client.js';
import { createApp } from '../src/index.js';
import { SESSION_COOKIE, sessionValue } from '../src/security.js';
import { tokenClient } from './with-token.js';

let dir: string;
let runtime: Awaited<ReturnType<typeof createRuntime>>;
let api: ReturnType<typeof createClient>;
let app: ReturnType<typeof tokenClient<ReturnType<typeof createApp>>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-server-'));
  runtime = await createRuntime({ dataDir: dir, cwd: dir, pollIntervalMs: 200 });
  await runtime.start();
  // No token configured: the server generates one in the data dir, where the CLI finds it.
  app = tokenClient(createApp(runtime, { env: {} }), loadOrCreateAuthToken(dir));
  api = createClient('http://scripthut.local', {
    fetch: (input, init) => app.fetch(new Request(input as string, init)),
  });
});
afterAll(async () => {
  await runtime?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('API on the real runtime', () => {
  it('health, backends, workflows, config', async () => {
    expect((await unwrap(api.health.$get())).backends.map((b) => b.name)).toEqual(['local']);
    expect((await unwrap(api.workflows.$get())).items.map((w) => w.name)).toContain('demo');
    const cfg = await unwrap(api.config.$get());
    expect(cfg.source).toBeTruthy();
  });
  it('dry-runs, runs demo to completion, reads a log, reruns and deletes', async () => {
    const dry = await unwrap(api.workflows[':name']['dry-run'].$post({ param: { name: 'demo' }, json: {} }));
    expect(dry.tasks.length).toBeGreaterThanOrEqual(3);
    expect(dry.tasks[0]?.script).toContain('preparing inputs');
    const run = await unwrap(api.workflows[':name'].run.$post({ param: { name: 'demo' }, json: {} }));
    const id = run.run.id;
    await expect
      .poll(async () => (await unwrap(api.runs[':id'].$get({ param: { id }, query: {} }))).status, {
        timeout: 60_000,
        interval: 300,
      })
      .toBe('completed');
    const log = await unwrap(
      api.runs[':id'].tasks[':taskId'].log.$get({ param: { id, taskId: 'prepare' }, query: {} }),
    );
    expect(log.content).toContain('preparing inputs');
    const history = await unwrap(
      api.runs[':id'].tasks[':taskId'].transitions.$get({ param: { id, taskId: 'prepare' } }),
    );
    expect(history.items.at(-1)?.to).toBe('completed');
    const rerun = await unwrap(api.runs[':id'].rerun.$post({ param: { id }, json: { mode: 'all' } }));
    expect(rerun.run.origin).toEqual({ kind: 'rerun', fromRunId: id, mode: 'all' });
    await unwrap(api.runs[':id'].cancel.$post({ param: { id: rerun.run.id } }));
    expect((await unwrap(api.runs[':id'].$delete({ param: { id } }))).deleted).toBe(true);
    const gone = await app.request(`/api/v1/runs/${id}`);
    expect(gone.status).toBe(404);
  });
});

describe('rerun in place over the API (real runtime)', () => {
  it('runs the same run id again, recording both attempts; conflict while active or when nothing failed', async () => {
    const run = await unwrap(api.workflows[':name'].run.$post({ param: { name: 'demo' }, json: {} }));
    const id = run.run.id;
    const status = async () => (await unwrap(api.runs[':id'].$get({ param: { id }, query: {} }))).status;
    await expect.poll(status, { timeout: 60_000, interval: 300 }).toBe('completed');
    const post = (mode: string) =>
      app.request(`/api/v1/runs/${id}/rerun`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ mode }),
      });
    // every task completed: nothing to rerun with only the failed ones
    const nothing = await post('in-place-failed');
    expect(nothing.status).toBe(409);
    expect(await nothing.json()).toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/every task completed/),
    });
    const before = (await unwrap(api.runs.$get({ query: {} }))).total;
    const again = await post('in-place-all');
    expect(again.status).toBe(200);
    const body = (await again.json()) as { run: { id: string }; status: string };
    expect(body.run.id).toBe(id);
    expect(['pending', 'running']).toContain(body.status);
    expect((await post('in-place-all')).status).toBe(409); // still active
    await expect.poll(status, { timeout: 60_000, interval: 300 }).toBe('completed');
    expect((await unwrap(api.runs.$get({ query: {} }))).total).toBe(before);
    const history = await unwrap(
      api.runs[':id'].tasks[':taskId'].transitions.$get({ param: { id, taskId: 'prepare' } }),
    );
    const path = history.items.map((t) => `${t.from}>${t.to}`);
    expect(path).toContain('completed>pending');
    expect(path.filter((p) => p === 'pending>submitting')).toHaveLength(2);
    expect(path.at(-1)).toMatch(/>completed$/);
  });
});

describe('token rotation through a config reload (real runtime, config file)', () => {
  it('the reloaded token applies to the next request; the old one and its cookies are refused', async () => {
    const cfgDir = mkdtempSync(join(tmpdir(), 'scripthut-rotate-'));
    const path = join(cfgDir, 'scripthut.yaml');
    const A = 'token-a-token-a-token-a-token-a-token-a';
    const B = 'token-b-token-b-token-b-token-b-token-b';
    writeFileSync(path, `backends:\n  - {name: local, type: local}\nsettings:\n  auth_token: ${A}\n`);
    const rt = await createRuntime({
      cwd: cfgDir,
      configPath: path,
      dataDir: join(cfgDir, 'data'),
      logger: { info() {}, warn() {}, error() {} },
    });
    try {
      const app = createApp(rt, { env: {} });
      const as = (token: string) =>
        app.request('/api/v1/health', { headers: { authorization: `Bearer ${token}` } });
      const cookie = (token: string) => ({ headers: { cookie: `${SESSION_COOKIE}=${sessionValue(token)}` } });
      expect((await as(A)).status).toBe(200);
      expect((await as(B)).status).toBe(401);
      writeFileSync(path, `backends:\n  - {name: local, type: local}\nsettings:\n  auth_token: ${B}\n`);
      const reload = await rt.reloadConfig();
      expect(reload).toMatchObject({ applied: true, live: ['settings.auth_token: changed'] });
      expect((await as(A)).status).toBe(401);
      expect((await as(B)).status).toBe(200);
      expect((await app.request('/runs', cookie(A))).status).toBe(401);
      expect((await app.request('/runs', cookie(B))).status).toBe(200);
      // Removing it falls back to the data directory's generated token.
      writeFileSync(path, 'backends:\n  - {name: local, type: local}\n');
      await rt.reloadConfig();
      expect((await as(B)).status).toBe(401);
      expect((await as(loadOrCreateAuthToken(join(cfgDir, 'data')))).status).toBe(200);
    } finally {
      await rt.close();
      rmSync(cfgDir, { recursive: true, force: true });
    }
  });
});
