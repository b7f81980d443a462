/**
 * The PBS job-array cases, written once and run against three targets over real SSH: the PBS
 * simulator speaking PBS Pro (test/cluster/pro-arrays.test.ts) and Torque
 * (test/cluster/torque-arrays.test.ts), and the real OpenPBS in both job-history modes
 * (test/real-pbs/arrays.test.ts). The run engine (in-memory store) submits a homogeneous fan-out
 * as ONE array job (PBS Pro `qsub -J 0-(K-1)`, Torque `qsub -t 0-(K-1)`); every task keeps its own
 * job id (`N[i].server`), log files, exit code and verdict; one element can be cancelled alone; a
 * lost qsub answer is adopted by tag.
 */
import {
  Engine,
  isActiveTaskState,
  isTerminalTaskState,
  MAX_ARRAY_ELEMENTS,
  parseTaskDocument,
  type TaskRecord,
} from '@scripthut/core';
import {
  MemoryRunStore,
  pollUntil,
  readTaskLogs,
  submitTestArray,
  testTaskJson,
  waitForRunEnd,
} from '@scripthut/core/testing';
import { type ExecWire, wireExec } from '@scripthut/core/testing/contract';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PBS_ARRAY_DIALECTS } from '../src/array-script.js';
import type { PbsBackend } from '../src/backend.js';
import type { PbsFlavour } from '../src/parse.js';

/** Where the cases run: a PBS Pro or Torque server (real or simulated) reached over SSH. */
export interface PbsArrayTarget {
  /** Names the target in the suite's title. */
  label: string;
  /** The server's dialect: PBS Pro `qsub -J` / `PBS_ARRAY_INDEX`, Torque `qsub -t` / `PBS_ARRAYID`. */
  flavour: PbsFlavour;
  /** Server part of job ids (`pbshost` in `12[3].pbshost`). */
  server: string;
  /** Unique to this test process (8 hex characters): names logs, gates and tags. */
  run: string;
  connect(): SshConnection;
  /** The backend (name `pbs`, arrays on) over `runner`, a wrapped connection. */
  makeBackend(runner: SshConnection): PbsBackend;
  /** Before the cases (e.g. install the simulator), through an observer connection. */
  setup?(observer: SshConnection): Promise<void>;
  /** After the cases, even when one failed (e.g. delete every unfinished job). */
  teardown?(observer: SshConnection): Promise<void>;
  /** Every job the server accepted whose name starts with `prefix`: ONE line per qsub. */
  accepted(observer: SshConnection, prefix: string): Promise<{ id: string; name: string }[]>;
}

/** Register the array cases against `target`. */
export function pbsArrayCases(target: PbsArrayTarget): void {
  const { run: RUN } = target;
  const { option: OPTION, indexVariable: INDEX } = PBS_ARRAY_DIALECTS[target.flavour];
  // Torque sets only PBS_ARRAYID in an element; PBS Pro only PBS_ARRAY_INDEX.
  const OTHER_INDEX = target.flavour === 'torque' ? 'PBS_ARRAY_INDEX' : 'PBS_ARRAYID';
  const LOGS = `~/scripthut-test-logs/${RUN}-arrays`;
  const ELEMENT_ID = new RegExp(`^(\\d+)\\[(\\d+)\\]\\.${target.server.replace(/\./g, '\\.')}$`);
  const ARRAY_ID = (n: string) => `${n}[].${target.server}`;
  let ssh: SshConnection;
  let observer: SshConnection;
  let wire: ExecWire;
  let store: MemoryRunStore;
  let engine: Engine;
  let backend: PbsBackend;

  /** A gate file and the shell text that waits (bounded, 120 s) for the test to create it. */
  const gate = (name: string) => {
    const file = `${RUN}-arrays-${name}`;
    return {
      wait: `for i in $(seq 1200); do [ -e "$HOME/${file}" ] && break; sleep 0.1; done`,
      open: () => observer.exec(`touch "$HOME"/${file}`),
      file,
    };
  };

  beforeAll(async () => {
    ssh = target.connect();
    observer = target.connect();
    await target.setup?.(observer);
    const wired = wireExec(ssh);
    wire = wired.wire;
    store = new MemoryRunStore();
    backend = target.makeBackend(wired.runner);
    engine = new Engine({ store, backends: [backend], pollIntervalMs: 1000, clusterInfoIntervalMs: 0 });
    await engine.start();
  });

  afterAll(async () => {
    await engine?.stop();
    if (observer) await target.teardown?.(observer).catch(() => undefined);
    await observer
      ?.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-arrays "$HOME"/${RUN}-arrays-*`)
      .catch(() => undefined);
    await ssh?.close();
    await observer?.close();
  });

  function startRun(workflowName: string, tasks: Record<string, unknown>[]) {
    const parsed = parseTaskDocument({ tasks }, { knownEnvironments: [] }).tasks;
    return engine.createRun({
      workflowName,
      backendName: 'pbs',
      origin: { kind: 'adhoc' },
      tasks: parsed,
      maxConcurrent: null,
      logDir: LOGS,
    });
  }

  const arrayOf = (t: TaskRecord) => t.meta.array as { tag: string; size: number; index: number };
  const baseOf = (t: TaskRecord) => ELEMENT_ID.exec(t.jobId ?? '')?.[1];

  describe(`job arrays on ${target.label}`, () => {
    it(`a 20-task fan-out is one qsub ${OPTION}: own job id, log and exit code per task; one failing element fails only its task`, async () => {
      const N = 20;
      const last = gate('fanout');
      const run = startRun('arrays-fanout', [
        ...Array.from({ length: N }, (_, i) =>
          testTaskJson(
            `t${i}`,
            [
              i === N - 1 ? `${last.wait}; ` : '',
              `echo out-t${i} idx=$${INDEX} other=\${${OTHER_INDEX}:-unset}; echo err-t${i} >&2`,
              i === 7 ? '; exit 5' : '',
            ].join(''),
          ),
        ),
        testTaskJson('after7', 'echo after7', { deps: ['t7'] }),
      ]);
      // While the last element holds the array open, the others end as `X` subjobs, whose
      // Exit_status OpenPBS does not keep (0 for `exit 5` with history off): t7 must still fail.
      const t7 = await pollUntil(
        't7 and the elements before the gate to end',
        async () => {
          const all = store.allTasks(run.id);
          const ended = all.filter((t) => /^t\d+$/.test(t.spec.id) && isTerminalTaskState(t.state));
          return ended.length >= N - 1 ? all.find((t) => t.spec.id === 't7') : null;
        },
        180_000,
      );
      expect(t7).toMatchObject({ state: 'failed', exitCode: 5 });
      const held = store.allTasks(run.id).find((t) => t.spec.id === `t${N - 1}`)!;
      expect(isActiveTaskState(held.state), held.state).toBe(true);
      await last.open();
      expect(await waitForRunEnd(engine, run.id, 240_000)).toBe('failed');
      const byId = new Map(store.allTasks(run.id).map((t) => [t.spec.id, t]));
      const fan = Array.from({ length: N }, (_, i) => byId.get(`t${i}`)!);
      for (const t of fan) {
        if (t.spec.id === 't7') expect(t).toMatchObject({ state: 'failed', exitCode: 5 });
        else expect(t, t.spec.id).toMatchObject({ state: 'completed', exitCode: 0 });
        expect(t.jobId).toMatch(ELEMENT_ID);
      }
      expect(byId.get('after7')).toMatchObject({ state: 'dep_failed', jobId: null });
      // One array for the 20 (all ready in one tick): indexes 0…19, one element per task.
      const bases = new Set(fan.map(baseOf));
      expect(bases.size).toBe(1);
      expect(fan.map((t) => Number(ELEMENT_ID.exec(t.jobId!)![2])).sort((a, b) => a - b)).toEqual(
        Array.from({ length: N }, (_, i) => i),
      );
      const arrayTag = arrayOf(fan[0]!).tag;
      expect(fan.every((t) => arrayOf(t).size === N)).toBe(true);
      // The server accepted ONE job for the 20 tasks: the array `N[]`.
      expect(await target.accepted(observer, arrayTag)).toEqual([
        { id: ARRAY_ID([...bases][0]!), name: expect.stringContaining(arrayTag) },
      ]);

      // Every task has its own stdout (with its own index variable, and not the other dialect's)
      // and stderr.
      const logs = await readTaskLogs(observer, fan);
      for (const [i, t] of fan.entries()) {
        const log = logs.get(t.spec.id)!;
        expect(log.out, t.spec.id).toContain(
          `\nout-t${i} idx=${ELEMENT_ID.exec(t.jobId!)![2]} other=${target.flavour === 'torque' ? 'unset' : ''}`,
        );
        expect(log.out).toContain(`Exit code: ${i === 7 ? 5 : 0}`);
        expect(log.err.trim(), t.spec.id).toBe(`err-t${i}`);
      }
    }, 300_000);

    it('two resource shapes become two arrays, each asking for its own memory', async () => {
      const hold = gate('shapes');
      const run = startRun('arrays-shapes', [
        ...Array.from({ length: 3 }, (_, i) => testTaskJson(`small${i}`, hold.wait, { memory: '20M' })),
        ...Array.from({ length: 3 }, (_, i) => testTaskJson(`big${i}`, hold.wait, { memory: '30M' })),
      ]);
      const records = await pollUntil('the six tasks to be submitted', async () => {
        const all = store.allTasks(run.id);
        return all.every((t) => t.jobId) ? all : null;
      });
      const small = new Set(records.filter((t) => t.spec.id.startsWith('small')).map(baseOf));
      const big = new Set(records.filter((t) => t.spec.id.startsWith('big')).map(baseOf));
      expect(small.size).toBe(1);
      expect(big.size).toBe(1);
      const [s, b] = [[...small][0]!, [...big][0]!];
      expect(s).not.toBe(b);
      // While the gate holds them, the server shows each array with its shape's memory.
      const shown = await observer.exec(`qstat -f '${ARRAY_ID(s)}' '${ARRAY_ID(b)}'`);
      const memOf = (id: string) =>
        new RegExp(
          `Job Id: ${id.replace(/[[\].]/g, '\\$&')}\\n(?:    .*\\n|\\t.*\\n)*?    Resource_List\\.mem = (\\S+)`,
        ).exec(shown.stdout)?.[1];
      expect([memOf(ARRAY_ID(s)), memOf(ARRAY_ID(b))]).toEqual(['20mb', '30mb']);
      await hold.open();
      expect(await waitForRunEnd(engine, run.id, 180_000)).toBe('completed');
      const tags = new Set(store.allTasks(run.id).map((t) => arrayOf(t).tag));
      expect(tags.size).toBe(2);
      const accepted = (await Promise.all([...tags].map((tag) => target.accepted(observer, tag)))).flat();
      expect(new Set(accepted.map((a) => a.id))).toEqual(new Set([ARRAY_ID(s), ARRAY_ID(b)]));
    }, 240_000);

    it(`a lost qsub ${OPTION} answer: the array is adopted by its tag element by element, never submitted twice`, async () => {
      wire.loseNextAnswer((_command, options) => options?.logAs?.startsWith(`qsub ${OPTION}`) ?? false);
      const run = startRun(
        'arrays-lost',
        Array.from({ length: 4 }, (_, i) => testTaskJson(`lost${i}`, `echo lost-${i} idx=$${INDEX}`)),
      );
      expect(await waitForRunEnd(engine, run.id, 180_000)).toBe('completed');
      const records = store.allTasks(run.id).sort((a, b) => arrayOf(a).index - arrayOf(b).index);
      const base = baseOf(records[0]!)!;
      expect(records.map((t) => t.jobId)).toEqual(records.map((_, i) => `${base}[${i}].${target.server}`));
      expect(records.every((t) => t.meta.recovered === true)).toBe(true);
      expect(records.every((t) => t.exitCode === 0)).toBe(true);
      const tag = arrayOf(records[0]!).tag;
      expect(await target.accepted(observer, tag)).toEqual([
        { id: ARRAY_ID(base), name: expect.stringContaining(tag) },
      ]);
      const logs = await readTaskLogs(observer, records);
      for (const [i, t] of records.entries())
        expect(logs.get(t.spec.id)!.out).toContain(`lost-${i} idx=${i}\n`);
    }, 240_000);

    it('cancelling one element cancels that element only', async () => {
      const arrays = backend.arrays!;
      // PBS Pro max_array_size 10000 (the server's default; Torque: no limit unless
      // max_job_array_size is set), capped by the script size
      expect(await arrays.maxSize()).toBe(Math.min(10_000, MAX_ARRAY_ELEMENTS));
      const { jobs } = await submitTestArray(arrays, {
        runId: RUN,
        logDir: LOGS,
        size: 3,
        command: 'sleep 300',
      });
      const n = ELEMENT_ID.exec(jobs[0]!.jobId)![1]!;
      expect(jobs.map((j) => j.jobId)).toEqual([0, 1, 2].map((i) => `${n}[${i}].${target.server}`));
      expect(await backend.findByTags([jobs[0]!.tag])).toEqual(new Map([[jobs[0]!.tag, ARRAY_ID(n)]]));
      try {
        await backend.cancel([jobs[1]!]);
        // `qstat -t` lists the array and its elements; live ones are Q, R or E.
        const live = async () =>
          (await observer.exec(`qstat -t '${ARRAY_ID(n)}'`)).stdout
            .split('\n')
            .filter((l) => / [QRE] +\S+ *$/.test(l))
            .map((l) => l.split(/\s+/)[0]!)
            .filter((id) => ELEMENT_ID.test(id))
            .sort();
        const now = await pollUntil('element 1 to leave the queue', async () => {
          const ids = await live();
          return ids.includes(`${n}[1].${target.server}`) ? null : ids;
        });
        expect(now).toEqual([`${n}[0].${target.server}`, `${n}[2].${target.server}`]);
        const st = await backend.status(jobs);
        expect(st.get(jobs[1]!.jobId)).toMatchObject({ final: true });
        expect(st.get(jobs[1]!.jobId)?.state).not.toBe('completed');
        expect(st.get(jobs[0]!.jobId)?.state).toMatch(/^(pending|running)$/);
        expect(st.get(jobs[2]!.jobId)?.state).toMatch(/^(pending|running)$/);
      } finally {
        await backend.cancel(jobs);
      }
    }, 120_000);
  });
}
