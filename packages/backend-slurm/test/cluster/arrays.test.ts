/**
 * Job arrays on the real Slurm: the run engine (in-memory store) submits homogeneous fan-outs as
 * `sbatch --array` jobs; every task keeps its own job id (`123_7`), log files, exit code and verdict;
 * one element can be cancelled alone.
 */
import { Engine, parseTaskDocument, type TaskRecord, tagOfJobName } from '@scripthut/core';
import {
  MemoryRunStore,
  readTaskLogs,
  submitTestArray,
  testTaskJson,
  waitForRunEnd,
} from '@scripthut/core/testing';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, makeBackend, RUN, sleep } from './helpers.js';

const LOGS = `~/scripthut-test-logs/${RUN}-arrays`;
let ssh: SshConnection;
let observer: SshConnection;
let store: MemoryRunStore;
let engine: Engine;
let backend: ReturnType<typeof makeBackend>;

beforeAll(async () => {
  ssh = connect();
  observer = connect();
  store = new MemoryRunStore();
  backend = makeBackend(ssh, 1000, { arrays: true });
  engine = new Engine({ store, backends: [backend], pollIntervalMs: 1000, clusterInfoIntervalMs: 0 });
  await engine.start();
});

afterAll(async () => {
  await engine?.stop();
  await ssh?.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-arrays`).catch(() => undefined);
  await ssh?.close();
  await observer?.close();
});

/** Accounting rows `JobID|JobName` of the arrays with these tags (waits out accounting lag). */
async function accountedElements(arrayTags: Set<string>, expected: number): Promise<string[][]> {
  let rows: string[][] = [];
  for (let i = 0; i < 30; i++) {
    const r = await observer.exec(`sacct -n -P -X -u hut --format=JobID,JobName --starttime now-1hours`);
    rows = r.stdout
      .split('\n')
      .map((l) => l.trim().split('|'))
      .filter(([, name]) => arrayTags.has(tagOfJobName(name ?? '') ?? ''));
    if (rows.length >= expected && rows.every(([id]) => /^\d+_\d+$/.test(id!))) break;
    await sleep(1000);
  }
  return rows;
}

const task = testTaskJson;

describe('job arrays on the real Slurm', () => {
  it('a 200-task fan-out is one array: own job id, log and exit code per task; one failing element fails only its task', async () => {
    const N = 200;
    const { tasks } = parseTaskDocument(
      {
        tasks: [
          ...Array.from({ length: N }, (_, i) =>
            task(
              `t${i}`,
              i === 13 ? 'echo out-t13; echo err-t13 >&2; exit 5' : `echo out-t${i}; echo err-t${i} >&2`,
            ),
          ),
          task('after13', 'echo after13', { deps: ['t13'] }),
          task('after12', 'echo after12', { deps: ['t12'] }),
        ],
      },
      { knownEnvironments: [] },
    );
    const run = engine.createRun({
      workflowName: 'arrays-fanout',
      backendName: 'local',
      origin: { kind: 'adhoc' },
      tasks,
      maxConcurrent: null,
      logDir: LOGS,
    });
    expect(await waitForRunEnd(engine, run.id, 300_000)).toBe('failed');
    const byId = new Map(store.allTasks(run.id).map((t) => [t.spec.id, t]));
    const fan = Array.from({ length: N }, (_, i) => byId.get(`t${i}`)!);
    for (const t of fan) {
      if (t.spec.id === 't13') expect(t).toMatchObject({ state: 'failed', exitCode: 5 });
      else expect(t, t.spec.id).toMatchObject({ state: 'completed', exitCode: 0 });
      expect(t.jobId).toMatch(/^\d+_\d+$/);
    }
    expect(byId.get('after13')).toMatchObject({ state: 'dep_failed', jobId: null });
    expect(byId.get('after12')).toMatchObject({ state: 'completed', exitCode: 0 });
    // One array for the 200 (all ready in one tick), indexes 0…199, one element per task.
    const bases = new Set(fan.map((t) => t.jobId!.split('_')[0]));
    expect(bases.size).toBe(1);
    expect(new Set(fan.map((t) => t.jobId)).size).toBe(N);
    const arrayTag = (fan[0]!.meta.array as { tag: string }).tag;
    expect(fan.every((t) => (t.meta.array as { tag: string; size: number }).size === N)).toBe(true);

    // Accounting: the array's elements are `<id>_<index>` jobs named with the array tag, one per task.
    const rows = await accountedElements(new Set([arrayTag]), N);
    expect(rows).toHaveLength(N);
    expect(new Set(rows.map(([id]) => id))).toEqual(new Set(fan.map((t) => t.jobId)));

    // Every task has its own stdout and stderr.
    const logs = await readTaskLogs(observer, fan);
    for (const [i, t] of fan.entries()) {
      const log = logs.get(t.spec.id)!;
      expect(log.out, t.spec.id).toContain(`\nout-t${i}\n`);
      expect(log.out).toContain(`Exit code: ${i === 13 ? 5 : 0}`);
      expect(log.err.trim()).toBe(`err-t${i}`);
    }
  }, 400_000);

  it('a mixed fan-out (two resource shapes) becomes two arrays', async () => {
    const { tasks } = parseTaskDocument(
      {
        tasks: [
          ...Array.from({ length: 6 }, (_, i) => task(`small${i}`, 'true', { memory: '20M' })),
          ...Array.from({ length: 6 }, (_, i) => task(`big${i}`, 'true', { memory: '30M' })),
        ],
      },
      { knownEnvironments: [] },
    );
    const run = engine.createRun({
      workflowName: 'arrays-mixed',
      backendName: 'local',
      origin: { kind: 'adhoc' },
      tasks,
      maxConcurrent: null,
      logDir: LOGS,
    });
    expect(await waitForRunEnd(engine, run.id, 180_000)).toBe('completed');
    const records = store.allTasks(run.id);
    const baseOf = (t: TaskRecord) => t.jobId!.split('_')[0]!;
    const small = new Set(records.filter((t) => t.spec.id.startsWith('small')).map(baseOf));
    const big = new Set(records.filter((t) => t.spec.id.startsWith('big')).map(baseOf));
    expect(small.size).toBe(1);
    expect(big.size).toBe(1);
    expect([...small][0]).not.toBe([...big][0]);
    const tags = new Set(records.map((t) => (t.meta.array as { tag: string }).tag));
    expect(tags.size).toBe(2);
    const rows = await accountedElements(tags, 12);
    expect(new Set(rows.map(([id]) => id))).toEqual(new Set(records.map((t) => t.jobId)));
    // The memory each array asked for is the memory of its shape.
    const mem = await observer.exec(
      `sacct -n -P -X --format=JobID,ReqMem -j ${[...small][0]},${[...big][0]} | sed -n 's/^\\([0-9]*\\)_0|/\\1|/p'`,
    );
    expect(mem.stdout).toContain(`${[...small][0]}|20M`);
    expect(mem.stdout).toContain(`${[...big][0]}|30M`);
  }, 240_000);

  it('cancelling one element cancels that element only', async () => {
    const arrays = backend.arrays!;
    expect(await arrays.maxSize()).toBeGreaterThanOrEqual(3);
    const { jobs } = await submitTestArray(arrays, {
      runId: RUN,
      logDir: LOGS,
      size: 3,
      command: 'sleep 300',
    });
    const base = jobs[0]!.jobId.split('_')[0];
    expect(jobs.map((j) => j.jobId)).toEqual([`${base}_0`, `${base}_1`, `${base}_2`]);
    expect(await backend.findByTags([jobs[0]!.tag])).toEqual(new Map([[jobs[0]!.tag, base]]));
    try {
      const before = (await backend.status(jobs)).get(jobs[1]!.jobId)?.state;
      await backend.cancel([jobs[1]!]);
      const live = async () => {
        const q = await observer.exec(`squeue -h -r -j ${base} -o '%i|%T'`);
        return q.stdout
          .split('\n')
          .filter((l) => /RUNNING|PENDING|CONFIGURING/.test(l))
          .map((l) => l.split('|')[0])
          .sort();
      };
      let now = await live();
      for (let i = 0; i < 30 && now.includes(`${base}_1`); i++) {
        await sleep(500);
        now = await live();
      }
      expect(now).toEqual([`${base}_0`, `${base}_2`]);
      const st = await backend.status(jobs);
      // A running element ends CANCELLED in accounting; a pending one is dropped from the array
      // without any record (Slurm keeps none): `unknown`, which the engine never takes for success.
      // An element seen pending may start before scancel reaches it (or have been split out of
      // the array record by then): CANCELLED too.
      expect(st.get(jobs[1]!.jobId)?.state).toMatch(
        before === 'running' ? /^cancelled$/ : /^(unknown|cancelled)$/,
      );
      expect(st.get(jobs[0]!.jobId)?.state).toMatch(/^(pending|running)$/);
      expect(st.get(jobs[2]!.jobId)?.state).toMatch(/^(pending|running)$/);
    } finally {
      await backend.cancel(jobs);
    }
  }, 120_000);
});
