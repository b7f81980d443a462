/**
 * A workflow's, source's or project's `array: auto | off` through the runtime: the run records it
 * (so a restart keeps it), the engine groups its tasks accordingly, and the dry run says `off`.
 * Backend: the core FakeBackend with arrays, as a plugin (test/fixtures/plugins/arrays.mjs).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeBackend } from '@scripthut/core/testing';
import { openSqliteStore } from '@scripthut/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';

const PLUGIN = join(import.meta.dirname, 'fixtures', 'plugins', 'arrays.mjs');
const fakes = () =>
  (globalThis as { __scripthutArrayFakes?: Record<string, FakeBackend> }).__scripthutArrayFakes!;

let dir: string;
const opened: Runtime[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sh-array-mode-'));
});
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
  rmSync(dir, { recursive: true, force: true });
});

const CONFIG = `backends:
  - {name: hpc, type: arrayfake}
  - {name: hpc-off, type: arrayfake, array: off}
workflows:
  - {name: w-off, backend: hpc, command: gen, array: off}
  - {name: w-auto, backend: hpc-off, command: gen, array: auto}
  - {name: w-unset, backend: hpc, command: gen}
  - {name: w-unset-off, backend: hpc-off, command: gen}
projects:
  - {name: p-off, backend: hpc, path: /p, array: off}
settings:
  poll_interval: 5
`;

async function open(): Promise<Runtime> {
  writeFileSync(join(dir, 'scripthut.yaml'), CONFIG);
  const rt = await createRuntime({
    cwd: dir,
    dataDir: join(dir, 'data'),
    plugins: [PLUGIN],
    pollIntervalMs: 50,
    logger: { info() {}, warn() {}, error() {} },
  });
  opened.push(rt);
  return rt;
}

describe('array: auto | off per workflow', () => {
  it('the dry run shows the mode and who set it; off groups nothing', async () => {
    const rt = await open();
    const off = await rt.dryRunWorkflow('w-off');
    expect(off.arrays).toEqual({ mode: 'off', setBy: 'workflow' });
    expect(off.tasks.every((t) => t.array === undefined)).toBe(true);
    const unsetOff = await rt.dryRunWorkflow('w-unset-off');
    expect(unsetOff.arrays).toEqual({ mode: 'off', setBy: 'backend' });
    expect(unsetOff.tasks.every((t) => t.array === undefined)).toBe(true);
    const auto = await rt.dryRunWorkflow('w-auto');
    expect(auto.arrays).toEqual({ mode: 'auto', setBy: 'workflow' });
    expect(auto.tasks.map((t) => t.array)).toEqual(
      [0, 1, 2, 3].map((index) => ({ group: 1, index, size: 4 })),
    );
    const unset = await rt.dryRunWorkflow('w-unset');
    expect(unset.arrays).toEqual({ mode: 'auto', setBy: 'backend' });
    expect(unset.tasks.every((t) => t.array?.size === 4)).toBe(true);
  });

  it('runs record the workflow’s mode; the engine submits per task or as one array accordingly', async () => {
    const rt = await open();
    await rt.start();
    const off = await rt.runWorkflow('w-off');
    const auto = await rt.runWorkflow('w-auto');
    const unset = await rt.runWorkflow('w-unset');
    const unsetOff = await rt.runWorkflow('w-unset-off');
    expect(off.run.arrayMode).toBe('off');
    expect(auto.run.arrayMode).toBe('auto');
    expect('arrayMode' in unset.run).toBe(false);
    expect('arrayMode' in unsetOff.run).toBe(false);
    const ids = [off, auto, unset, unsetOff].map((s) => s.run.id);
    for (let i = 0; i < 400 && ids.some((id) => rt.getRun(id).status !== 'completed'); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(ids.map((id) => rt.getRun(id).status)).toEqual([
      'completed',
      'completed',
      'completed',
      'completed',
    ]);
    const elements = (runId: string) =>
      rt.listTasks(runId).items.filter((t) => t.meta.array !== undefined).length;
    expect(ids.map(elements)).toEqual([0, 4, 4, 0]);
    const hpc = fakes().hpc!;
    const hpcOff = fakes()['hpc-off']!;
    expect(hpc.arrayCalls.map((c) => c.requests[0]!.runId)).toEqual([unset.run.id]);
    expect(hpcOff.arrayCalls.map((c) => c.requests[0]!.runId)).toEqual([auto.run.id]);
  });

  it('the stored run keeps the mode for a restarted control plane', async () => {
    const rt = await open();
    const run = await rt.runWorkflow('w-off');
    await rt.close();
    opened.pop();
    const store = openSqliteStore(join(dir, 'data', 'scripthut.db'));
    try {
      expect(store.getRun(run.run.id)!.arrayMode).toBe('off');
    } finally {
      store.close();
    }
  });
});
