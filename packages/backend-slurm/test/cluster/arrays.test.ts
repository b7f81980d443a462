/**
 * Job arrays on the real Slurm: the run engine (in-memory store) submits homogeneous fan-outs as
 * `sbatch --array` jobs; every task keeps its own job id (`123_7`), log files, exit code and verdict;
 * one element can be cancelled alone.
 */
import {
  Engine,
  parseTaskDocument,
  type RunStatus,
  type SubmitRequest,
  shellQuotePath,
  type TaskRecord,
  tagOfJobName,
} from '@scripthut/core';
import { MemoryRunStore } from '@scripthut/core/testing';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRequest } from '../requests.js';
import { connect, makeBackend, RUN, sleep, tracked } from './helpers.js';

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

async function waitRun(runId: string, timeoutMs: number): Promise<RunStatus> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const s = engine.summary(runId)?.status;
    if (s === 'completed' || s === 'failed' || s === 'cancelled') return s;
    await sleep(500);
  }
  throw new Error(`run ${runId} did not finish: ${JSON.stringify(engine.summary(runId)?.counts)}`);
}

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

/** Every task's stdout and stderr, read in one SSH command. */
async function logsOf(records: TaskRecord[]): Promise<Map<string, { out: string; err: string }>> {
  const rel = (p: string) => shellQuotePath(p);
  const lines = records.flatMap((t) => [
    `printf '@@%s out\\n' ${t.spec.id}; cat ${rel(t.stdoutPath!)} 2>&1`,
    `printf '@@%s err\\n' ${t.spec.id}; cat ${rel(t.stderrPath!)} 2>&1`,
  ]);
  const r = await observer.exec(lines.join('\n'));
  const out = new Map<string, { out: string; err: string }>();
  let cur: { id: string; stream: 'out' | 'err' } | null = null;
  for (const line of r.stdout.split('\n')) {
    const m = /^@@(\S+) (out|err)$/.exec(line);
    if (m) {
      cur = { id: m[1]!, stream: m[2] as 'out' | 'err' };
      if (!out.has(cur.id)) out.set(cur.id, { out: '', err: '' });
      continue;
    }
    if (cur) out.get(cur.id)![cur.stream] += `${line}\n`;
  }
  return out;
}

const task = (id: string, command: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: id,
  command,
  memory: '20M',
  time_limit: '0:05:00',
  ...extra,
});

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
    expect(await waitRun(run.id, 300_000)).toBe('failed');
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
    const logs = await logsOf(fan);
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
    expect(await waitRun(run.id, 180_000)).toBe('completed');
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
    const tag = (i: number) => `sh${RUN}c${i}1`;
    const requests: SubmitRequest[] = [0, 1, 2].map((i) =>
      makeRequest(
        tag(i),
        { id: `c${i}`, name: `c${i}`, command: 'sleep 300', memory: '20M' },
        {
          runId: RUN,
          logDir: LOGS,
          stdoutPath: `${LOGS}/c${i}.out`,
          stderrPath: `${LOGS}/c${i}.err`,
          array: { tag: tag(0), index: i, size: 3 },
        },
      ),
    );
    const outcomes = await arrays.submitArray(requests, { throttle: null });
    const jobs = outcomes.map((o, i) => tracked(requests[i]!, o));
    const base = jobs[0]!.jobId.split('_')[0];
    expect(jobs.map((j) => j.jobId)).toEqual([`${base}_0`, `${base}_1`, `${base}_2`]);
    expect(await backend.findByTags([tag(0)])).toEqual(new Map([[tag(0), base]]));
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
      expect(st.get(jobs[1]!.jobId)?.state).toBe(before === 'running' ? 'cancelled' : 'unknown');
      expect(st.get(jobs[0]!.jobId)?.state).toMatch(/^(pending|running)$/);
      expect(st.get(jobs[2]!.jobId)?.state).toMatch(/^(pending|running)$/);
    } finally {
      await backend.cancel(jobs);
    }
  }, 120_000);
});
