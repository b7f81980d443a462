/**
 * The scenarios every PBS flavour must pass over real SSH through the simulator: the backend on its
 * own (submit, status, logs, findByTags, cluster info, qsub errors), then the real `Engine` driving
 * DAGs (deps + wildcard, failure → dep_failed, cancel, walltime exceeded, control-plane restart, a
 * job outliving the lost-job grace period). The engine scenarios take a {@link PbsHarness}, so the
 * `real-pbs` group runs the same ones against the real OpenPBS.
 */
import {
  Engine,
  type EngineOptions,
  type JobStatus,
  makeSubmitTag,
  parseTaskDocument,
  type RunStatus,
  type SubmitRequest,
  type TaskRecord,
  type TaskSpec,
  type TrackedJob,
} from '@scripthut/core';
import { MemoryRunStore } from '@scripthut/core/testing';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PbsBackend } from '../../src/backend.js';
import type { PbsFlavour } from '../../src/parse.js';
import { connect, installSimulator, makeBackend, qsubLog, RUN, sleep } from './helpers.js';

const TERMINAL_RUN: RunStatus[] = ['completed', 'failed', 'cancelled'];

export function tasksFrom(doc: { tasks: Record<string, unknown>[] }): TaskSpec[] {
  const { tasks } = parseTaskDocument(doc, { knownEnvironments: [] });
  return tasks;
}

export const t = (id: string, command: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: id,
  command,
  memory: '50M',
  time_limit: '0:05:00',
  ...extra,
});

export function pbsScenarios(flavour: PbsFlavour): void {
  const queue = flavour === 'pro' ? 'workq' : 'batch';
  const LOGS = `~/scripthut-test-logs/${RUN}-${flavour}`;
  let ssh: SshConnection;
  let observer: SshConnection;

  beforeAll(async () => {
    ssh = connect();
    observer = connect();
    await installSimulator(observer, flavour);
  });

  afterAll(async () => {
    // Never leave simulated jobs (and their runner processes) behind, even when a test failed.
    await observer?.exec('node "$HOME/bin/pbs-sim.mjs" __drain').catch(() => undefined);
    await observer?.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-${flavour}`).catch(() => undefined);
    await ssh?.close();
    await observer?.close();
  });

  function request(tag: string, task: Partial<TaskSpec>): SubmitRequest {
    const spec = {
      ...tasksFrom({ tasks: [t(task.id ?? 'x', task.command ?? 'true')] })[0]!,
      ...task,
    };
    return {
      runId: 'r1',
      taskId: spec.id,
      tag,
      workflowName: 'wf',
      task: spec,
      workingDir: spec.workingDir,
      env: { SCRIPTHUT_TASK_ID: spec.id, WEIRD: `it's $(not) "expanded"` },
      extraInit: '',
      stdoutPath: `${LOGS}/direct/${spec.id}.out`,
      stderrPath: `${LOGS}/direct/${spec.id}.err`,
      logDir: `${LOGS}/direct`,
      git: null,
    };
  }

  describe(`PBS backend (${flavour}) over SSH`, () => {
    it('detects the flavour, submits a batch in one round trip, reports states, logs, tags and cluster info', async () => {
      const backend = makeBackend(ssh, 'auto', 10, queue);
      expect(await backend.flavour()).toBe(flavour);
      const tag = (n: number) => makeSubmitTag(RUN, n + (flavour === 'pro' ? 0 : 100), 1);
      const reqs = [
        request(tag(1), { id: 'ok', command: 'echo "out:$WEIRD"; echo err >&2' }),
        request(tag(2), { id: 'bad', command: 'exit 4' }),
        request(tag(3), { id: 'big', command: 'true', cpus: 64 }),
      ];
      await backend.homeDir!(); // resolved once and cached
      const before = ssh.commandLog().length;
      const outcomes = await backend.submit(reqs);
      expect(ssh.commandLog().length - before).toBe(1);
      expect(outcomes.every((o) => o.ok)).toBe(true);
      const jobs: TrackedJob[] = outcomes.map((o, i) => ({
        jobId: o.ok ? o.jobId : '',
        runId: 'r1',
        taskId: reqs[i]!.taskId,
        tag: reqs[i]!.tag,
        stdoutPath: reqs[i]!.stdoutPath,
        stderrPath: reqs[i]!.stderrPath,
        submittedAt: new Date().toISOString(),
        lastState: null,
        meta: {},
      }));
      expect(jobs[0]!.jobId).toMatch(flavour === 'pro' ? /^\d+\.pbssim$/ : /^\d+\.torquesim$/);

      let st = new Map<string, JobStatus>();
      for (let i = 0; i < 60; i++) {
        st = await backend.status(jobs);
        if (st.get(jobs[0]!.jobId)?.final && st.get(jobs[1]!.jobId)?.final) break;
        await sleep(500);
      }
      expect(st.get(jobs[0]!.jobId)).toMatchObject({
        state: 'completed',
        exitCode: 0,
        final: true,
        node: 'node1',
      });
      expect(st.get(jobs[1]!.jobId)).toMatchObject({ state: 'failed', exitCode: 4, final: true });
      // 64 CPUs never fit: pending with the scheduler's reason.
      expect(st.get(jobs[2]!.jobId)).toMatchObject({ state: 'pending', final: false });
      if (flavour === 'pro')
        expect(st.get(jobs[2]!.jobId)?.reason).toMatch(
          /^Can Never Run: Insufficient amount of resource: ncpus/,
        );
      else expect(st.get(jobs[2]!.jobId)?.reason).toBe('Queued');

      const quick = await backend.quickStatus!(jobs);
      expect(quick.get(jobs[1]!.jobId)).toMatchObject({ state: 'failed', exitCode: 4 });
      expect(quick.has(jobs[2]!.jobId)).toBe(false);

      const log = await backend.readLog(
        {
          jobId: jobs[0]!.jobId,
          runId: 'r1',
          taskId: 'ok',
          path: reqs[0]!.stdoutPath,
          stream: 'stdout',
          meta: {},
        },
        {},
      );
      expect(log.content).toContain(`out:it's $(not) "expanded"`);
      const rest = await backend.readLog(
        {
          jobId: jobs[0]!.jobId,
          runId: 'r1',
          taskId: 'ok',
          path: reqs[0]!.stdoutPath,
          stream: 'stdout',
          meta: {},
        },
        { offset: log.nextOffset },
      );
      expect(rest.content).toBe('');
      const err = await backend.readLog(
        { jobId: null, runId: 'r1', taskId: 'ok', path: reqs[0]!.stderrPath, stream: 'stderr', meta: {} },
        { tailBytes: 4 },
      );
      expect(err.content).toBe('err\n');

      const found = await backend.findByTags([tag(1), tag(3), tag(99)]);
      expect(Object.fromEntries(found)).toEqual({ [tag(1)]: jobs[0]!.jobId, [tag(3)]: jobs[2]!.jobId });

      const info = await backend.clusterInfo();
      expect(info.cpusTotal).toBe(6);
      expect(info.facts?.cpusOther).toBe('2');
      expect(info.partitions.find((p) => p.name === queue)).toMatchObject({ isDefault: true, state: 'up' });
      expect(info.partitions.some((p) => p.name === 'routeq')).toBe(false);
      expect(info.pendingReasons?.Queued).toBeGreaterThanOrEqual(1);

      await backend.cancel([jobs[2]!, jobs[0]!]); // one finished: not an error
      st = await backend.status([jobs[2]!]);
      expect(st.get(jobs[2]!.jobId)).toMatchObject({ state: 'cancelled', final: true });

      // A queue the server does not know: a permanent per-task failure, the batch goes on.
      const wrong = makeBackend(ssh, flavour, 10, 'nosuchq');
      const [o] = await wrong.submit([request(tag(4), { id: 'wq' })]);
      expect(o).toMatchObject({ ok: false, transient: false });
      expect(!o!.ok && o!.error).toMatch(/Unknown queue/);
    });
  });

  engineScenarios({
    label: `${flavour}, simulator`,
    connect,
    observer: () => observer,
    makeBackend: (s, maxConcurrent) => makeBackend(s, 'auto', maxConcurrent, queue),
    logDir: LOGS,
    submitted: async (o, prefix) => (await qsubLog(o)).filter((l) => l.name.startsWith(prefix)),
    walltimeExitCode: flavour === 'pro' ? -29 : 271,
    deletedExitStatuses: async (o, ids) => {
      const text = (await o.exec(`qstat -f ${flavour === 'pro' ? '-x ' : ''}${ids.join(' ')}`)).stdout;
      return [...text.matchAll(/xit_status = (-?\d+)/g)].map((m) => Number(m[1]));
    },
    deletedExitStatus: 271,
  });
}

/** How the engine scenarios reach a PBS server (the simulator or the real OpenPBS). */
export interface PbsHarness {
  /** Shown in the describe title. */
  label: string;
  connect(): SshConnection;
  /** A connection for checks that must not go through the backend under test. */
  observer(): SshConnection;
  makeBackend(ssh: SshConnection, maxConcurrent: number): PbsBackend;
  /** Run log directory (may start with `~`). */
  logDir: string;
  /** Every job the server accepted whose name starts with `prefix`: id and name. */
  submitted(observer: SshConnection, prefix: string): Promise<{ id: string; name: string }[]>;
  /** Exit code a walltime kill leaves on the task (null: the verdict carries none). */
  walltimeExitCode: number | null;
  /**
   * Exit statuses the server recorded for these deleted jobs, polled until every one has one;
   * null when the server keeps no record of finished jobs (job history off).
   */
  deletedExitStatuses(observer: SshConnection, ids: string[]): Promise<number[] | null>;
  /** The Exit_status of a running job deleted with qdel. */
  deletedExitStatus: number;
  /** Engine options for this server (e.g. a short lost-job grace period). */
  engine?: Partial<EngineOptions>;
}

const TERMINAL_STATES = ['completed', 'failed', 'cancelled', 'dep_failed'];

/** The real `Engine` over the PBS backend: DAGs, failures, walltime, cancel, restart, long jobs. */
export function engineScenarios(h: PbsHarness): void {
  describe(`engine over the PBS backend (${h.label})`, () => {
    let store: MemoryRunStore;
    let engine: Engine;
    let backendSsh: SshConnection;

    const newEngine = (extra: Partial<EngineOptions> = {}) => {
      backendSsh = h.connect();
      return new Engine({
        store,
        backends: [h.makeBackend(backendSsh, 3)],
        pollIntervalMs: 500,
        clusterInfoIntervalMs: 0,
        ...h.engine,
        ...extra,
      });
    };

    beforeAll(async () => {
      store = new MemoryRunStore();
      engine = newEngine();
      await engine.start();
    });
    afterAll(async () => {
      await engine?.stop();
      await backendSsh?.close();
    });

    async function waitRun(runId: string, timeoutMs: number): Promise<RunStatus> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const s = engine.summary(runId)?.status;
        if (s && TERMINAL_RUN.includes(s)) return s;
        await sleep(250);
      }
      throw new Error(`run ${runId} did not finish: ${JSON.stringify(engine.summary(runId)?.counts)}`);
    }
    const byId = (runId: string) =>
      new Map<string, TaskRecord>(store.allTasks(runId).map((x) => [x.spec.id, x]));
    const create = (name: string, tasks: TaskSpec[]) =>
      engine.createRun({
        workflowName: name,
        backendName: 'pbs',
        origin: { kind: 'adhoc' },
        tasks,
        maxConcurrent: null,
        logDir: h.logDir,
      });
    /** Each task ended exactly once (one transition into a terminal state). */
    const endedOnce = (runId: string) => {
      for (const x of store.allTasks(runId)) {
        const ends = store.transitions(runId, x.spec.id).filter((tr) => TERMINAL_STATES.includes(tr.to));
        expect(ends, x.spec.id).toHaveLength(1);
      }
    };

    it('a DAG with wildcard deps completes with exactly one qsub per task', async () => {
      const tasks = tasksFrom({
        tasks: [
          t('prep', 'sleep 1'),
          ...Array.from({ length: 6 }, (_, i) => t(`work.${i}`, 'sleep 1; echo done', { deps: ['prep'] })),
          t('merge', 'true', { deps: ['work.*'] }),
          t('final', 'true', { deps: ['merge', 'work.1*'] }),
        ],
      });
      expect(tasks.find((x) => x.id === 'merge')!.deps).toHaveLength(6);
      const run = create('pbs-dag', tasks);
      expect(await waitRun(run.id, 180_000)).toBe('completed');
      const records = store.allTasks(run.id);
      expect(records.every((x) => x.state === 'completed' && x.exitCode === 0)).toBe(true);
      const mine = await h.submitted(h.observer(), `sh${run.id}`);
      expect(mine).toHaveLength(tasks.length);
      expect(new Set(mine.map((l) => l.id))).toEqual(new Set(records.map((x) => x.jobId)));
      // Dependents started only after their dependencies ended.
      const b = byId(run.id);
      expect(Date.parse(b.get('merge')!.submittedAt!)).toBeGreaterThanOrEqual(
        Date.parse(b.get('work.5')!.finishedAt!) - 1000,
      );
      endedOnce(run.id);
    });

    it('a failing task fails with its exit code and dep_fails its dependents', async () => {
      const run = create(
        'pbs-fail',
        tasksFrom({
          tasks: [
            t('a', 'exit 3'),
            t('b', 'true', { deps: ['a'] }),
            t('c', 'true', { deps: ['b'] }),
            t('d', 'true'),
          ],
        }),
      );
      expect(await waitRun(run.id, 120_000)).toBe('failed');
      const b = byId(run.id);
      expect(b.get('a')).toMatchObject({ state: 'failed', exitCode: 3 });
      expect(b.get('b')).toMatchObject({ state: 'dep_failed', jobId: null });
      expect(b.get('c')?.state).toBe('dep_failed');
      expect(b.get('d')?.state).toBe('completed');
    });

    it('walltime exceeded → failed (timeout), dependents dep_failed', async () => {
      const run = create(
        'pbs-walltime',
        tasksFrom({
          tasks: [t('slow', 'sleep 120', { time_limit: '0:00:03' }), t('after', 'true', { deps: ['slow'] })],
        }),
      );
      expect(await waitRun(run.id, 180_000)).toBe('failed');
      const b = byId(run.id);
      expect(b.get('slow')).toMatchObject({ state: 'failed', exitCode: h.walltimeExitCode });
      expect(b.get('slow')!.error).toMatch(/exceeded time limit/);
      expect(b.get('after')?.state).toBe('dep_failed');
      endedOnce(run.id);
    });

    it('cancel: running jobs are qdel-ed, pending tasks cancelled', async () => {
      const run = create(
        'pbs-cancel',
        tasksFrom({
          tasks: [t('long1', 'sleep 120'), t('long2', 'sleep 120'), t('later', 'true', { deps: ['long1'] })],
        }),
      );
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline) {
        const b = byId(run.id);
        if (b.get('long1')?.state === 'running' && b.get('long2')?.state === 'running') break;
        await sleep(250);
      }
      for (const id of ['long1', 'long2']) {
        const rec = byId(run.id).get(id);
        expect({ id, state: rec?.state, error: rec?.error }).toEqual({ id, state: 'running', error: null });
      }
      await engine.cancelRun(run.id);
      expect(await waitRun(run.id, 60_000)).toBe('cancelled');
      const b = byId(run.id);
      expect([...b.values()].map((x) => x.state).sort()).toEqual(['cancelled', 'cancelled', 'cancelled']);
      // The scheduler really killed them.
      const ids = [b.get('long1')!.jobId!, b.get('long2')!.jobId!];
      const statuses = await h.deletedExitStatuses(h.observer(), ids);
      if (statuses !== null) expect(statuses).toEqual([h.deletedExitStatus, h.deletedExitStatus]);
      endedOnce(run.id);
    });

    it('a control-plane restart mid-run neither resubmits nor ends a task twice', async () => {
      const tasks = tasksFrom({
        tasks: [
          t('a', 'sleep 1'),
          ...Array.from({ length: 4 }, (_, i) => t(`b.${i}`, 'sleep 3', { deps: ['a'] })),
          t('c', 'true', { deps: ['b.*'] }),
        ],
      });
      const run = create('pbs-restart', tasks);
      const deadline = Date.now() + 90_000;
      while (
        Date.now() < deadline &&
        ![...byId(run.id).values()].some((x) => x.spec.id.startsWith('b.') && x.state === 'running')
      )
        await sleep(100);
      expect(
        [...byId(run.id).values()].some((x) => x.spec.id.startsWith('b.') && x.state === 'running'),
      ).toBe(true);
      await engine.stop();
      await backendSsh.close();
      engine = newEngine(); // same store, a NEW backend instance and connection
      await engine.start();
      expect(await waitRun(run.id, 180_000)).toBe('completed');
      const records = store.allTasks(run.id);
      expect(records.every((x) => x.state === 'completed')).toBe(true);
      const mine = await h.submitted(h.observer(), `sh${run.id}`);
      expect(mine).toHaveLength(tasks.length);
      expect(new Set(mine.map((l) => l.name)).size).toBe(tasks.length);
      endedOnce(run.id);
    });

    it('a job running longer than the lost-job grace period stays running and completes', async () => {
      // A short grace period: a backend that stops seeing a running job (e.g. `qstat -x` against a
      // server without job history) would get it declared lost within the run.
      await engine.stop();
      await backendSsh.close();
      const graceMs = 3_000;
      engine = newEngine({ lostJobGraceMs: graceMs });
      await engine.start();
      const run = create('pbs-long', tasksFrom({ tasks: [t('long', 'sleep 10; echo finished')] }));
      expect(await waitRun(run.id, 180_000)).toBe('completed');
      const rec = byId(run.id).get('long')!;
      expect(rec).toMatchObject({ state: 'completed', exitCode: 0 });
      const states = store.transitions(run.id, 'long').map((tr) => tr.to);
      expect(states).toContain('running');
      expect(states).not.toContain('failed');
      const runningAt = Date.parse(store.transitions(run.id, 'long').find((tr) => tr.to === 'running')!.at);
      const endedAt = Date.parse(store.transitions(run.id, 'long').find((tr) => tr.to === 'completed')!.at);
      expect(endedAt - runningAt).toBeGreaterThan(2 * graceMs);
    });
  });
}
