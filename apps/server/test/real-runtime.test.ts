/** The API over the real runtime (temp data dir, embedded default config: `local` backend + `demo`). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime } from '@scripthut/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, unwrap } from '../src/client.js';
import { createApp } from '../src/index.js';

let dir: string;
let runtime: Awaited<ReturnType<typeof createRuntime>>;
let api: ReturnType<typeof createClient>;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-server-'));
  runtime = await createRuntime({ dataDir: dir, cwd: dir, pollIntervalMs: 200 });
  await runtime.start();
  app = createApp(runtime);
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
