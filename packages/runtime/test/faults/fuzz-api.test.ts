/**
 * Fuzzing API bodies with fast-check: the API (`createApp` on a real runtime with the embedded
 * default, in process) answers random bodies with no 5xx; every 4xx is `{ code, message, details }`
 * naming the field; a rejected request creates nothing (the run count is unchanged).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Issue } from '@scripthut/core';
import { createApp } from '@scripthut/server';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/index.js';
import { nasty, opts } from './fuzz-common.js';

const FUZZ_TOKEN = 'fuzz-token';

describe('fuzz: API bodies (createApp on a real runtime, embedded default config)', () => {
  let dir: string;
  let runtime: Runtime;
  let app: ReturnType<typeof createApp>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sh-fuzz-api-'));
    // Not started: a run created by a valid body is stored but never submitted.
    runtime = await createRuntime({
      cwd: dir,
      dataDir: join(dir, 'data'),
      pollIntervalMs: 60_000,
      logger: { info() {}, warn() {}, error() {} },
    });
    app = createApp(runtime, { authToken: FUZZ_TOKEN });
  });

  afterAll(async () => {
    await runtime?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const runCount = () => runtime.listRuns({ limit: 1 }).total;

  async function post(path: string, body: string): Promise<{ status: number; json: unknown }> {
    const res = await app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${FUZZ_TOKEN}` },
      body,
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }

  function expectErrorShape(status: number, json: unknown, field: string | null): void {
    expect(status, `5xx: ${JSON.stringify(json)}`).toBeLessThan(500);
    const body = json as { code?: unknown; message?: unknown; details?: unknown };
    expect(typeof body.code).toBe('string');
    expect(typeof body.message).toBe('string');
    expect('details' in body).toBe(true);
    const malformedJson = body.code === 'validation_failed' && /malformed json/i.test(String(body.message));
    if ((body.code === 'validation_failed' || body.code === 'task_json_invalid') && !malformedJson) {
      const issues = (body.details as { issues?: Issue[] } | null)?.issues ?? [];
      expect(issues.length, `no issues in ${JSON.stringify(json)}`).toBeGreaterThan(0);
      for (const i of issues) expect(i.path.length).toBeGreaterThan(0);
      if (field) {
        expect(
          issues.some((i) => i.path.includes(field)) || String(body.message).includes(field),
          `${JSON.stringify(json)} does not name ${field}`,
        ).toBe(true);
      }
    }
  }

  const ROUTES: { path: string; valid: Record<string, unknown> }[] = [
    {
      path: '/api/v1/tasks/run',
      valid: { command: 'true', backend: 'local', id: 'fz', name: 'fz', cpus: 1, memory: '100M' },
    },
    { path: '/api/v1/workflows/demo/run', valid: { maxConcurrent: 2 } },
    { path: '/api/v1/workflows/demo/dry-run', valid: { maxConcurrent: 2 } },
    { path: '/api/v1/sources/none/run', valid: { file: 'a.json' } },
    { path: '/api/v1/projects/none/dry-run', valid: { file: 'a.json' } },
    { path: '/api/v1/config/validate', valid: { text: 'backends: []\n' } },
    { path: '/api/v1/runs/deadbeef/rerun', valid: { mode: 'failed' } },
  ];

  it('the valid body of every fuzzed route is answered without a 5xx (the baseline the mutations start from)', async () => {
    for (const route of ROUTES) {
      const before = runCount();
      const { status, json } = await post(route.path, JSON.stringify(route.valid));
      expect(status, `${route.path}: ${JSON.stringify(json)}`).toBeLessThan(500);
      expect(runCount()).toBe(status === 201 ? before + 1 : before);
    }
  });

  it('random JSON and non-JSON bodies: no 5xx, error shape, nothing created', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.oneof(fc.json(), fc.string({ unit: 'binary', maxLength: 60 })),
        async (route, body) => {
          const before = runCount();
          const { status, json } = await post(route.path, body);
          if (status >= 400) {
            expectErrorShape(status, json, null);
            expect(runCount()).toBe(before);
          } else if (status === 201) expect(runCount()).toBe(before + 1);
          else expect(runCount()).toBe(before);
        },
      ),
      opts(300),
    );
  });

  it('valid bodies with one mutated field: no 5xx, 4xx names the field, nothing created', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.oneof(
          fc.constantFrom(
            'command',
            'backend',
            'id',
            'name',
            'runName',
            'cpus',
            'memory',
            'timeLimit',
            'partition',
            'gres',
            'workingDir',
            'image',
            'env',
            'maxConcurrent',
            'file',
            'text',
            'mode',
          ),
          fc.string({ maxLength: 10 }),
        ),
        nasty,
        async (route, field, value) => {
          const body = { ...route.valid, [field]: value };
          const before = runCount();
          const { status, json } = await post(route.path, JSON.stringify(body));
          if (status >= 400) {
            const inSchema = field in route.valid || route.path.endsWith('/tasks/run');
            expectErrorShape(
              status,
              json,
              inSchema && (json as { code?: string }).code === 'validation_failed' ? field : null,
            );
            expect(runCount()).toBe(before);
          } else if (status === 201) expect(runCount()).toBe(before + 1);
          else expect(runCount()).toBe(before);
        },
      ),
      opts(300),
    );
  });
});
