/**
 * Secret environment variables through the API and the web UI (real runtime, local backend): the
 * job gets the values, no API answer or page shows them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime } from '@scripthut/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoSecrets,
  SECRETS,
  writeSecretConfig,
} from '../../../packages/runtime/test/fixtures/secrets.js';
import { createApp } from '../src/index.js';

let dir: string;
let runtime: Awaited<ReturnType<typeof createRuntime>>;
let app: ReturnType<typeof createApp>;
const auth = { authorization: `Bearer ${SECRETS.AUTH}` };

async function get(path: string): Promise<string> {
  const res = await app.request(path, { headers: auth });
  const text = await res.text();
  expect(res.status, `${path}: ${text.slice(0, 300)}`).toBe(200);
  return text;
}

async function post(path: string, body: unknown): Promise<string> {
  const res = await app.request(path, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  expect(res.status, `${path}: ${text.slice(0, 300)}`).toBeLessThan(300);
  return text;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-server-secrets-'));
  runtime = await createRuntime({
    configPath: writeSecretConfig(dir),
    cwd: dir,
    dataDir: join(dir, 'data'),
    pollIntervalMs: 200,
    logger: { info() {}, warn() {}, error() {} },
  });
  await runtime.start();
  app = createApp(runtime); // auth token from the config (settings.auth_token)
});
afterAll(async () => {
  await runtime?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('secret environment variables over HTTP', () => {
  it('dry run, run, tasks, script, config and the UI pages show no secret value', async () => {
    const dry = await post('/api/v1/workflows/wf/dry-run', {});
    expectNoSecrets(dry, 'API dry run');
    expect(dry).toContain("export HF_TOKEN='***'");

    const created = JSON.parse(await post('/api/v1/workflows/wf/run', {})) as { run: { id: string } };
    const id = created.run.id;
    await expect
      .poll(async () => (JSON.parse(await get(`/api/v1/runs/${id}`)) as { status: string }).status, {
        timeout: 60_000,
        interval: 200,
      })
      .toBe('completed');
    // the job did get the value
    const log = JSON.parse(await get(`/api/v1/runs/${id}/tasks/show/log`)) as { content: string };
    expect(log.content).toContain(SECRETS.HF_TOKEN);

    for (const path of [
      `/api/v1/runs/${id}`,
      '/api/v1/runs',
      `/api/v1/runs/${id}/tasks`,
      `/api/v1/runs/${id}/tasks/show`,
      `/api/v1/runs/${id}/tasks/show/script`,
      `/api/v1/runs/${id}/tasks/show/transitions`,
      '/api/v1/config',
      `/runs/${id}`,
      `/runs/${id}/tasks/show?tab=script`,
      `/runs/${id}/tasks/show?tab=json`,
      '/settings',
    ]) {
      expectNoSecrets(await get(path), path);
    }
    const script = JSON.parse(await get(`/api/v1/runs/${id}/tasks/show/script`)) as { script: string };
    expect(script.script).toContain("export MY_TOKEN='***'");
    expect(await get(`/runs/${id}/tasks/show?tab=script`)).toContain('export DB_URL=&#39;***&#39;');
  });
});
