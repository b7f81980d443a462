/**
 * Hostile task input over the API (real runtime, embedded default config): rejected with an error
 * naming the field, nothing created, pages keep working.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime } from '@scripthut/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/index.js';

let dir: string;
let runtime: Awaited<ReturnType<typeof createRuntime>>;
let app: ReturnType<typeof createApp>;

const TOKEN = 'hostile-input-test-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-server-hostile-'));
  runtime = await createRuntime({
    dataDir: dir,
    cwd: dir,
    pollIntervalMs: 60_000,
    logger: { info() {}, warn() {}, error() {} },
  });
  app = createApp(runtime, { authToken: TOKEN });
});
afterAll(async () => {
  await runtime?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** POST /api/v1/tasks/run with a raw JSON body (lone surrogates survive only as `\uD800` escapes). */
async function runTask(rawFields: string) {
  const res = await app.request('/api/v1/tasks/run', {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: `{"command":"true","backend":"local",${rawFields}}`,
  });
  return {
    status: res.status,
    body: (await res.json()) as { code: string; details: { issues?: { path: string; message: string }[] } },
  };
}

describe('hostile task input over the API', () => {
  it.each([
    ['"id":"a\\ud800b"', '.id', 'lone UTF-16 surrogate'],
    ['"name":"\\udc00"', '.name', 'lone UTF-16 surrogate'],
    ['"env":{"V":"x\\ud83d"}', '.env_vars.V', 'lone UTF-16 surrogate'],
    ['"runName":"r\\ud800"', 'runName', 'lone UTF-16 surrogate'],
    ['"image":"--privileged"', '.image', 'must not start with "-"'],
    ['"image":"ubuntu --privileged"', '.image', 'not a valid image reference'],
  ])('%s is refused naming %s; nothing is created; pages still render', async (fields, path, message) => {
    const before = runtime.listRuns().total;
    const { status, body } = await runTask(fields);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    const issue = body.details.issues?.find((i) => i.path.endsWith(path));
    expect(issue, JSON.stringify(body)).toBeDefined();
    expect(issue!.message).toContain(message);
    expect(runtime.listRuns().total).toBe(before);
    for (const page of ['/', '/runs']) expect((await app.request(page, { headers: AUTH })).status).toBe(200);
  });

  it('valid astral characters in ids and names are fine (and the run page renders)', async () => {
    const { status, body } = await runTask('"id":"t-\\ud83d\\ude00","name":"naïve 😀","runName":"run 😀"');
    expect(status, JSON.stringify(body)).toBe(201);
    const id = (body as unknown as { run: { id: string } }).run.id;
    expect((await app.request(`/runs/${id}`, { headers: AUTH })).status).toBe(200);
    expect(
      (await app.request(`/runs/${id}/tasks/${encodeURIComponent('t-😀')}`, { headers: AUTH })).status,
    ).toBe(200);
  });
});
