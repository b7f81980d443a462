/**
 * `--resume` and declared outputs on the local backend (issue 21): real processes, a real SQLite
 * store; submissions counted from the local backend's job spool (one record per submitted job).
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSubmitTag, type RunSummary } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';

let dir: string;
let rt: Runtime;

function writeTasks(extra: { sim2?: string; more?: object[] } = {}): void {
  const sims = Array.from({ length: 5 }, (_, i) => ({
    id: `sim-${i}`,
    name: `sim ${i}`,
    command: i === 2 && extra.sim2 ? extra.sim2 : `mkdir -p out && echo "result ${i}" > out/sim-${i}.txt`,
    working_dir: join(dir, 'work'),
    outputs: [`out/sim-${i}.txt`],
  }));
  const agg = {
    id: 'agg',
    name: 'agg',
    command: 'cat out/sim-*.txt > out/agg.txt',
    working_dir: join(dir, 'work'),
    deps: ['sim-*'],
    inputs: ['out/sim-*.txt'],
    outputs: ['out/agg.txt'],
  };
  writeFileSync(join(dir, 'tasks.json'), JSON.stringify({ tasks: [...sims, agg, ...(extra.more ?? [])] }));
}

/** Task ids this run submitted, from the local job spool. */
function spooled(runId: string): string[] {
  const spool = join(dir, 'data', 'local-jobs', 'local');
  return readdirSync(spool)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(spool, f), 'utf8')) as { tag: string; taskId: string })
    .filter((r) => parseSubmitTag(r.tag)?.runId === runId)
    .map((r) => r.taskId)
    .sort();
}

async function waitDone(runId: string): Promise<RunSummary> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = rt.getRun(runId);
    if (s.status !== 'pending' && s.status !== 'running') return s;
    if (Date.now() > deadline) throw new Error(`run ${runId} not done: ${JSON.stringify(s.counts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function run(resume: boolean) {
  const created = await rt.runWorkflow('sweep', resume ? { resume: true } : {});
  const summary = await waitDone(created.run.id);
  const tasks = rt.listTasks(created.run.id, { limit: 100 }).items;
  return {
    summary,
    submitted: spooled(created.run.id),
    cached: tasks.filter((t) => t.meta.cached).map((t) => t.spec.id),
    tasks: new Map(tasks.map((t) => [t.spec.id, t])),
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sh-resume-local-'));
  mkdirSync(join(dir, 'work'));
  writeTasks();
  writeFileSync(
    join(dir, 'scripthut.yaml'),
    `backends:\n  - name: local\n    type: local\n    max_concurrent: 4\nworkflows:\n  - name: sweep\n    backend: local\n    command: cat ${join(dir, 'tasks.json')}\n`,
  );
  rt = await createRuntime({
    cwd: dir,
    dataDir: join(dir, 'data'),
    pollIntervalMs: 200,
    outputsGraceMs: 0,
    logger: { info() {}, warn() {}, error() {} },
  });
  await rt.start();
});
afterAll(async () => {
  await rt?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('resume on the local backend', () => {
  it('runs, reuses everything unchanged, reruns a changed task and its dependent, a deleted output, and fails a missing output', async () => {
    const first = await run(false);
    expect(first.summary.status).toBe('completed');
    expect(first.submitted).toHaveLength(6);

    const same = await run(true);
    expect(same.summary.status).toBe('completed');
    expect(same.submitted).toEqual([]);
    expect(same.cached).toHaveLength(6);

    writeTasks({ sim2: 'mkdir -p out && echo "result 2 v2" > out/sim-2.txt' });
    const changed = await run(true);
    expect(changed.submitted).toEqual(['agg', 'sim-2']);
    expect(changed.cached.sort()).toEqual(['sim-0', 'sim-1', 'sim-3', 'sim-4']);
    expect(readFileSync(join(dir, 'work/out/agg.txt'), 'utf8')).toContain('result 2 v2');

    unlinkSync(join(dir, 'work/out/sim-0.txt'));
    const deleted = await run(true);
    expect(deleted.submitted).toEqual(['sim-0']);
    expect(deleted.summary.status).toBe('completed');

    writeTasks({
      sim2: 'mkdir -p out && echo "result 2 v2" > out/sim-2.txt',
      more: [
        {
          id: 'broken',
          name: 'broken',
          command: 'true',
          working_dir: join(dir, 'work'),
          outputs: ['out/missing-*.csv'],
        },
      ],
    });
    const broken = await run(true);
    expect(broken.submitted).toEqual(['broken']);
    expect(broken.tasks.get('broken')).toMatchObject({
      state: 'failed',
      error: 'exited 0 but its declared outputs are missing: out/missing-*.csv',
    });
  }, 120_000);
});
