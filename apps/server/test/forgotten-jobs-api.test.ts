/**
 * Forget through the API on the real runtime: the job stays out of `GET /api/v1/jobs` after the
 * server restarts on the same data directory (the forgotten job is in the SQLite store).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, loadOrCreateAuthToken, type Runtime } from '@scripthut/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/index.js';
import { tokenClient } from './with-token.js';

let dir: string;
let runtime: Runtime | null = null;

async function server() {
  runtime = await createRuntime({
    dataDir: dir,
    cwd: dir,
    pollIntervalMs: 200,
    logger: { info() {}, warn() {}, error() {} },
  });
  await runtime.start();
  return tokenClient(createApp(runtime, { env: {} }), loadOrCreateAuthToken(dir));
}

async function jobIds(app: Awaited<ReturnType<typeof server>>): Promise<string[]> {
  const r = await app.request('/api/v1/jobs?backend=local');
  expect(r.status).toBe(200);
  const body = (await r.json()) as { items: { jobId: string | null }[] } | { jobId: string | null }[];
  const items = Array.isArray(body) ? body : body.items;
  return items.map((j) => j.jobId ?? '');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-forget-api-'));
});
afterAll(async () => {
  await runtime?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /api/v1/jobs/:backend/:jobId/forget', () => {
  it('hides a finished job, also after a restart on the same data directory', async () => {
    let app = await server();
    const s = await runtime!.runAdhocTask({ backend: 'local', command: 'true', id: 'gone' });
    const other = await runtime!.runAdhocTask({ backend: 'local', command: 'true', id: 'kept' });
    const done = async (runId: string) =>
      expect
        .poll(() => runtime!.getTask(runId, runId === s.run.id ? 'gone' : 'kept').state, { timeout: 30_000 })
        .toBe('completed');
    await done(s.run.id);
    await done(other.run.id);
    const jobId = runtime!.getTask(s.run.id, 'gone').jobId!;
    const keptId = runtime!.getTask(other.run.id, 'kept').jobId!;
    expect(await jobIds(app)).toEqual(expect.arrayContaining([jobId, keptId]));

    const r = await app.request(`/api/v1/jobs/local/${encodeURIComponent(jobId)}/forget`, { method: 'POST' });
    expect(r.status).toBe(204);
    expect(await jobIds(app)).not.toContain(jobId);

    await runtime!.close();
    app = await server();
    const after = await jobIds(app);
    expect(after).not.toContain(jobId);
    expect(after).toContain(keptId);
  });
});
