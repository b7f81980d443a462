/**
 * Job arrays on the real OpenPBS (run in both job-history modes): the run engine (in-memory store)
 * submits a homogeneous fan-out as ONE `qsub -J` job; every task keeps its own job id
 * (`N[i].pbshost`), log files, exit code and verdict; one element can be cancelled alone.
 */
import {
  Engine,
  isActiveTaskState,
  isTerminalTaskState,
  parseTaskDocument,
  type RunStatus,
  type SubmitRequest,
  shellQuotePath,
  type TaskRecord,
  type TrackedJob,
} from '@scripthut/core';
import { MemoryRunStore } from '@scripthut/core/testing';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PbsBackend } from '../../src/backend.js';
import { makeRequest } from '../requests.js';
import { connect, MODE, makeBackend, RUN, serverLogSubmissions, until } from './helpers.js';

const LOGS = `~/scripthut-test-logs/${RUN}-arrays`;
let ssh: SshConnection;
let observer: SshConnection;
let store: MemoryRunStore;
let engine: Engine;
let backend: PbsBackend;
const ELEMENT_ID = /^(\d+)\[(\d+)\]\.pbshost$/;
const GATE = `${RUN}-arrays-gate`;
/** Shell text that waits (bounded, 60 s) for the test to create the gate file. */
const waitForGate = `for i in $(seq 600); do [ -e "$HOME/${GATE}" ] && break; sleep 0.1; done`;

beforeAll(() => {
  ssh = connect();
  observer = connect();
  store = new MemoryRunStore();
  backend = makeBackend(ssh, { maxConcurrent: 50, arrays: true });
  engine = new Engine({ store, backends: [backend], pollIntervalMs: 1000, clusterInfoIntervalMs: 0 });
  return engine.start();
});

afterAll(async () => {
  await engine?.stop();
  await observer
    ?.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-arrays "$HOME"/${GATE}`)
    .catch(() => undefined);
  await ssh?.close();
  await observer?.close();
});

async function waitRun(runId: string, timeoutMs: number): Promise<RunStatus> {
  return until(
    `run ${runId} to finish (${JSON.stringify(engine.summary(runId)?.counts)})`,
    async () => {
      const s = engine.summary(runId)?.status;
      return s === 'completed' || s === 'failed' || s === 'cancelled' ? s : null;
    },
    timeoutMs,
  );
}

/** Every task's stdout and stderr, read in one SSH command. */
async function logsOf(records: TaskRecord[]): Promise<Map<string, { out: string; err: string }>> {
  const lines = records.flatMap((t) => [
    `printf '@@%s out\\n' ${t.spec.id}; cat ${shellQuotePath(t.stdoutPath!)} 2>&1`,
    `printf '@@%s err\\n' ${t.spec.id}; cat ${shellQuotePath(t.stderrPath!)} 2>&1`,
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

describe(`job arrays on the real OpenPBS (job history ${MODE})`, () => {
  it('a 20-task fan-out is one qsub -J: own job id, log and exit code per task; one failing element fails only its task', async () => {
    const N = 20;
    const { tasks } = parseTaskDocument(
      {
        tasks: [
          ...Array.from({ length: N }, (_, i) =>
            task(
              `t${i}`,
              i === 7
                ? 'echo out-t7; echo err-t7 >&2; exit 5'
                : i === N - 1
                  ? `${waitForGate}; echo out-t${i}; echo err-t${i} >&2`
                  : `echo out-t${i}; echo err-t${i} >&2`,
            ),
          ),
          task('after7', 'echo after7', { deps: ['t7'] }),
        ],
      },
      { knownEnvironments: [] },
    );
    const run = engine.createRun({
      workflowName: 'arrays-fanout',
      backendName: 'pbs',
      origin: { kind: 'adhoc' },
      tasks,
      maxConcurrent: null,
      logDir: LOGS,
    });
    // While the last element holds the array open, the others end as `X` subjobs, whose
    // Exit_status OpenPBS does not keep (0 for `exit 5` with history off): t7 must still fail.
    const t7 = await until(
      't7 and the elements before the gate to end',
      async () => {
        const all = store.allTasks(run.id);
        const ended = all.filter((t) => /^t\d+$/.test(t.spec.id) && isTerminalTaskState(t.state));
        return ended.length >= N - 1 ? all.find((t) => t.spec.id === 't7') : null;
      },
      180_000,
    );
    expect(t7).toMatchObject({ state: 'failed', exitCode: 5 });
    const gate = store.allTasks(run.id).find((t) => t.spec.id === `t${N - 1}`)!;
    expect(isActiveTaskState(gate.state), gate.state).toBe(true);
    await observer.exec(`touch "$HOME"/${GATE}`);
    expect(await waitRun(run.id, 240_000)).toBe('failed');
    const byId = new Map(store.allTasks(run.id).map((t) => [t.spec.id, t]));
    const fan = Array.from({ length: N }, (_, i) => byId.get(`t${i}`)!);
    for (const t of fan) {
      if (t.spec.id === 't7') expect(t).toMatchObject({ state: 'failed', exitCode: 5 });
      else expect(t, t.spec.id).toMatchObject({ state: 'completed', exitCode: 0 });
      expect(t.jobId).toMatch(ELEMENT_ID);
    }
    expect(byId.get('after7')).toMatchObject({ state: 'dep_failed', jobId: null });
    // One array for the 20 (all ready in one tick): indexes 0…19, one element per task.
    const bases = new Set(fan.map((t) => ELEMENT_ID.exec(t.jobId!)![1]));
    expect(bases.size).toBe(1);
    expect(fan.map((t) => Number(ELEMENT_ID.exec(t.jobId!)![2])).sort((a, b) => a - b)).toEqual(
      Array.from({ length: N }, (_, i) => i),
    );
    const arrayTag = (fan[0]!.meta.array as { tag: string }).tag;
    expect(fan.every((t) => (t.meta.array as { tag: string; size: number }).size === N)).toBe(true);
    // The server accepted ONE job for the 20 tasks: the array `N[]`.
    const accepted = await serverLogSubmissions(observer, arrayTag);
    expect(accepted).toEqual([{ id: `${[...bases][0]}[].pbshost`, name: expect.stringContaining(arrayTag) }]);

    // Every task has its own stdout and stderr.
    const logs = await logsOf(fan);
    for (const [i, t] of fan.entries()) {
      const log = logs.get(t.spec.id)!;
      expect(log.out, t.spec.id).toContain(`\nout-t${i}\n`);
      expect(log.out).toContain(`Exit code: ${i === 7 ? 5 : 0}`);
      expect(log.err.trim(), t.spec.id).toBe(`err-t${i}`);
    }
  }, 300_000);

  it('cancelling one element cancels that element only', async () => {
    const arrays = backend.arrays!;
    expect(await arrays.maxSize()).toBe(1000); // max_array_size 10000, capped by the script size
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
    const jobs: TrackedJob[] = outcomes.map((o, i) => {
      if (!o.ok) throw new Error(`element ${i} was not submitted: ${o.error}`);
      const r = requests[i]!;
      return {
        jobId: o.jobId,
        runId: RUN,
        taskId: r.taskId,
        tag: r.tag,
        stdoutPath: r.stdoutPath,
        stderrPath: r.stderrPath,
        submittedAt: new Date().toISOString(),
        lastState: 'pending',
        meta: o.meta ?? {},
      };
    });
    const n = ELEMENT_ID.exec(jobs[0]!.jobId)![1];
    expect(jobs.map((j) => j.jobId)).toEqual([0, 1, 2].map((i) => `${n}[${i}].pbshost`));
    expect(await backend.findByTags([tag(0)])).toEqual(new Map([[tag(0), `${n}[].pbshost`]]));
    try {
      await backend.cancel([jobs[1]!]);
      // `qstat -t` lists the array and its elements; live ones are Q, R or E.
      const live = async () =>
        (await observer.exec(`qstat -t '${n}[].pbshost'`)).stdout
          .split('\n')
          .filter((l) => / [QRE] +\S+ *$/.test(l))
          .map((l) => l.split(/\s+/)[0]!)
          .filter((id) => ELEMENT_ID.test(id))
          .sort();
      const now = await until('element 1 to leave the queue', async () => {
        const ids = await live();
        return ids.includes(`${n}[1].pbshost`) ? null : ids;
      });
      expect(now).toEqual([`${n}[0].pbshost`, `${n}[2].pbshost`]);
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
