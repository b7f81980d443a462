/**
 * The backend conformance suite: what every {@link Backend} must do, run by each backend package
 * against its real scheduler (or its stateful fake) through a small driver. Passing it is the
 * definition of done for a backend (see docs/writing-a-backend.md).
 *
 * It lives in its own entry point (`@scripthut/core/testing/contract`) because it registers vitest
 * tests: importing it loads vitest, which `FakeBackend` users such as benchmarks must not pay for.
 *
 * @example
 * ```ts
 * import { backendContract, heldJobCommand } from '@scripthut/core/testing/contract';
 * backendContract('local', () => createLocalBackend({ name: 'local', maxConcurrent: 8, spoolDir }), {
 *   request: (job) => ({ ...base(job), task: { ...spec, command: heldJobCommand(`${dir}/${job.tag}.release`, job) } }),
 *   finish: async (job, code) => writeFileSync(`${dir}/${job.tag}.release`, `${code}\n`),
 * });
 * ```
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, JobState, JobStatus, SubmitOutcome, SubmitRequest, TrackedJob } from '../backend.js';
import { isTerminalJobState } from '../engine/status-map.js';
import { makeSubmitTag } from '../engine/tags.js';
import { BackendError, ScriptHutError } from '../errors.js';
import type { BackendContractDriver, ContractJob } from './contract-driver.js';

export * from './contract-driver.js';

const LIVE: readonly JobState[] = ['pending', 'running', 'completing'];

function isTransientError(e: unknown): boolean {
  return BackendError.isTransient(e) || (ScriptHutError.is(e) && e.code === 'backend_unavailable');
}

/**
 * Register the conformance suite of a backend. `create` makes a fresh instance; a second instance
 * plays a restarted control plane (same scheduler, no memory of the first).
 */
export function backendContract<B extends Backend>(
  name: string,
  create: () => B | Promise<B>,
  driver: BackendContractDriver<B>,
): void {
  const runId = randomBytes(4).toString('hex');
  const timeoutMs = driver.timeoutMs ?? 60_000;
  const pollMs = driver.pollMs ?? 250;
  const made: Backend[] = [];
  const live: { backend: B; job: TrackedJob }[] = [];
  let seq = 0;
  let backend: B;

  const fresh = async (): Promise<B> => {
    const b = await create();
    made.push(b);
    return b;
  };

  function contractJob(label: string): ContractJob {
    const n = seq++;
    const tag = makeSubmitTag(runId, n, 1);
    return {
      runId,
      taskId: `${label}.${n}`,
      tag,
      stdout: `out ${tag} ${label}`,
      stderr: `err ${tag} ${label}`,
    };
  }

  function tracked(req: SubmitRequest, outcome: SubmitOutcome): TrackedJob {
    if (!outcome.ok) throw new Error(`submission of ${req.taskId} failed: ${outcome.error}`);
    return {
      jobId: outcome.jobId,
      runId: req.runId,
      taskId: req.taskId,
      tag: req.tag,
      stdoutPath: req.stdoutPath,
      stderrPath: req.stderrPath,
      submittedAt: new Date().toISOString(),
      lastState: null,
      meta: outcome.meta ?? {},
    };
  }

  /** Submit `n` held jobs in one call; they are released (exit 0) after the suite if still held. */
  async function submitHeld(
    b: B,
    n: number,
    label: string,
  ): Promise<{ jobs: TrackedJob[]; specs: ContractJob[] }> {
    const specs = Array.from({ length: n }, () => contractJob(label));
    const requests = specs.map((s) => driver.request(s));
    const outcomes = await b.submit(requests);
    expect(outcomes.map((o) => o.taskId)).toEqual(requests.map((r) => r.taskId));
    const jobs = outcomes.map((o, i) => tracked(requests[i]!, o));
    for (const job of jobs) live.push({ backend: b, job });
    return { jobs, specs };
  }

  async function waitStatus(
    b: Backend,
    jobs: TrackedJob[],
    done: (s: JobStatus) => boolean,
    what: string,
  ): Promise<Map<string, JobStatus>> {
    const deadline = Date.now() + timeoutMs;
    let last = new Map<string, JobStatus>();
    for (;;) {
      last = await b.status(jobs);
      if (jobs.every((j) => done(last.get(j.jobId) ?? { jobId: j.jobId, state: 'unknown' }))) return last;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify([...last.values()])}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  const isFinal = (s: JobStatus) => isTerminalJobState(s.state) && s.final !== false;
  /** A test that needs a driver capability: skipped (and visibly so) without it. */
  const needs = (capability: keyof BackendContractDriver<B>, title: string, fn: () => Promise<void>) =>
    driver[capability] ? it(title, fn) : it.skip(`${title} [skipped: the driver has no ${capability}]`, fn);

  describe(`backend contract: ${name}`, () => {
    beforeAll(async () => {
      backend = await fresh();
    });

    afterAll(async () => {
      for (const { job } of live) await driver.finish(job, 0).catch(() => {});
      await driver.cleanup?.();
      for (const b of made) await b.close().catch(() => {});
    });

    it('submit: one outcome per request in order, distinct job ids; status reports every live job in one call', async () => {
      const { jobs } = await submitHeld(backend, 3, 'submit');
      expect(new Set(jobs.map((j) => j.jobId)).size).toBe(3);
      const statuses = await backend.status(jobs);
      for (const j of jobs) {
        const st = statuses.get(j.jobId);
        expect(st, `status of ${j.jobId}`).toBeDefined();
        expect(st!.jobId).toBe(j.jobId);
        expect(LIVE, `live job ${j.jobId} reported ${JSON.stringify(st)}`).toContain(st!.state);
      }
      if (backend.quickStatus) {
        // quickStatus reports only jobs whose outcome is known.
        const quick = await backend.quickStatus(jobs);
        for (const j of jobs) expect(quick.has(j.jobId)).toBe(false);
      }
      for (const j of jobs) await driver.finish(j, 0);
    });

    it('finish: exit 0 → completed, non-zero → failed with its exit code, both final; quickStatus agrees', async () => {
      const { jobs } = await submitHeld(backend, 2, 'finish');
      const [ok, bad] = jobs as [TrackedJob, TrackedJob];
      await driver.finish(ok, 0);
      await driver.finish(bad, 3);
      // quickStatus first, its reports gathered over calls: a backend may forget the evidence it
      // read once it reported it (the Slurm backend deletes reported exit markers on its next
      // read, the Slurm and PBS backends after a final status).
      if (backend.quickStatus) {
        const quickStatus = backend.quickStatus.bind(backend);
        const deadline = Date.now() + timeoutMs;
        const quick = new Map<string, JobStatus>();
        for (;;) {
          for (const [id, st] of await quickStatus(jobs)) if (!quick.has(id)) quick.set(id, st);
          if (quick.has(ok.jobId) && quick.has(bad.jobId)) break;
          if (Date.now() > deadline)
            throw new Error(`quickStatus never reported both jobs: ${JSON.stringify([...quick.values()])}`);
          await new Promise((r) => setTimeout(r, pollMs));
        }
        expect(quick.get(ok.jobId)).toMatchObject({ state: 'completed', exitCode: 0 });
        expect(quick.get(bad.jobId)).toMatchObject({ state: 'failed', exitCode: 3 });
      }
      const st = await waitStatus(backend, jobs, isFinal, 'final verdicts');
      expect(st.get(ok.jobId)).toMatchObject({ state: 'completed', exitCode: 0 });
      expect(st.get(bad.jobId)).toMatchObject({ state: 'failed', exitCode: 3 });
      // An ended job keeps its verdict.
      const again = await backend.status(jobs);
      expect(again.get(ok.jobId)?.state).toBe('completed');
      expect(again.get(bad.jobId)?.state).toBe('failed');
    });

    it('logs: stdout and stderr from the start, continuation from nextOffset, tail, missing file', async () => {
      const { jobs, specs } = await submitHeld(backend, 1, 'logs');
      const job = jobs[0]!;
      const spec = specs[0]!;
      const request = { jobId: job.jobId, runId, taskId: job.taskId, meta: job.meta };
      const deadline = Date.now() + timeoutMs;
      let out = await backend.readLog({ ...request, path: job.stdoutPath, stream: 'stdout' }, {});
      while (!out.content.includes(spec.stdout)) {
        if (Date.now() > deadline)
          throw new Error(`stdout never showed ${spec.stdout}: ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, pollMs));
        out = await backend.readLog({ ...request, path: job.stdoutPath, stream: 'stdout' }, {});
      }
      expect(out.missing ?? false).toBe(false);
      expect(out.nextOffset).toBeGreaterThanOrEqual(Buffer.byteLength(out.content));
      const next = await backend.readLog(
        { ...request, path: job.stdoutPath, stream: 'stdout' },
        { offset: out.nextOffset, ...(out.nextToken ? { nextToken: out.nextToken } : {}) },
      );
      expect(next.content).toBe('');
      expect(next.nextOffset).toBe(out.nextOffset);
      const tail = await backend.readLog(
        { ...request, path: job.stdoutPath, stream: 'stdout' },
        { tailBytes: 4 },
      );
      expect(tail.content).toBe(Buffer.from(out.content).subarray(-4).toString());
      const err = await backend.readLog({ ...request, path: job.stderrPath, stream: 'stderr' }, {});
      if (err.note === undefined) expect(err.content).toContain(spec.stderr);
      // A log that does not exist (yet): no job and a path nothing wrote.
      const missing = await backend.readLog(
        { ...request, jobId: null, path: `${job.stdoutPath}.missing`, stream: 'stdout' },
        {},
      );
      expect(missing).toMatchObject({ content: '', missing: true });
      await driver.finish(job, 0);
    });

    it('cancel: a live job ends cancelled; cancelling it again is harmless', async () => {
      const { jobs } = await submitHeld(backend, 1, 'cancel');
      await backend.cancel(jobs);
      const st = await waitStatus(backend, jobs, (s) => isTerminalJobState(s.state), 'the cancel');
      expect(st.get(jobs[0]!.jobId)?.state).toBe('cancelled');
      await backend.cancel(jobs);
    });

    it('findByTags after a crash: a fresh instance finds live and ended jobs by tag, nothing for unused tags', async () => {
      const { jobs } = await submitHeld(backend, 2, 'find');
      const [running, ended] = jobs as [TrackedJob, TrackedJob];
      await driver.finish(ended, 0);
      await waitStatus(backend, [ended], isFinal, 'the end of a job');
      const restarted = await fresh();
      const unused = makeSubmitTag(runId, 36 ** 4 - 1, 1);
      const found = await restarted.findByTags([running.tag, ended.tag, unused]);
      expect(found.get(running.tag)).toBe(running.jobId);
      // The tag must stay findable after the job ended (an interrupted submission may be looked up late).
      expect(found.get(ended.tag)).toBe(ended.jobId);
      expect(found.has(unused)).toBe(false);
      const st = await restarted.status([running]);
      expect(LIVE).toContain(st.get(running.jobId)?.state);
      await driver.finish(running, 0);
    });

    needs(
      'roundTrips',
      'batching: submit, status, findByTags and cancel cost as many round trips for N jobs as for one',
      async () => {
        const rt = () => driver.roundTrips!(backend);
        const warm = await submitHeld(backend, 1, 'warm');
        await driver.finish(warm.jobs[0]!, 0);
        let before = rt();
        const one = await submitHeld(backend, 1, 'batch');
        const submitOne = rt() - before;
        before = rt();
        const many = await submitHeld(backend, 4, 'batch');
        expect(rt() - before).toBe(submitOne);
        const all = [...one.jobs, ...many.jobs];
        const cost = async (fn: () => Promise<unknown>) => {
          const b = rt();
          await fn();
          return rt() - b;
        };
        const statusOne = await cost(() => backend.status(one.jobs));
        expect(statusOne).toBeGreaterThanOrEqual(1);
        expect(statusOne).toBeLessThanOrEqual(2);
        expect(await cost(() => backend.status(all))).toBe(statusOne);
        const findOne = await cost(() => backend.findByTags([one.jobs[0]!.tag]));
        expect(await cost(() => backend.findByTags(all.map((j) => j.tag)))).toBe(findOne);
        const cancelOne = await cost(() => backend.cancel(one.jobs));
        expect(await cost(() => backend.cancel(many.jobs))).toBe(cancelOne);
      },
    );

    needs(
      'rejectedRequest',
      'errors: a rejected request fails alone (ok: false, transient: false), the rest of the batch is submitted',
      async () => {
        const good = contractJob('good');
        const bad = contractJob('bad');
        const requests = [driver.request(good), driver.rejectedRequest!(bad)];
        const outcomes = await backend.submit(requests);
        expect(outcomes).toHaveLength(2);
        const job = tracked(requests[0]!, outcomes[0]!);
        live.push({ backend, job });
        expect(outcomes[1]).toMatchObject({ taskId: bad.taskId, ok: false, transient: false });
        expect(outcomes[1]!.ok === false && outcomes[1]!.error.length > 0).toBe(true);
        await driver.finish(job, 0);
      },
    );

    needs(
      'unreachable',
      'errors: an unreachable scheduler fails every call transiently, never with a verdict about jobs',
      async () => {
        const { jobs } = await submitHeld(backend, 1, 'outage');
        const down = await driver.unreachable!();
        made.push(down);
        const transient = async (what: string, fn: () => Promise<unknown>) => {
          let outcome: unknown;
          try {
            outcome = await fn();
          } catch (e) {
            expect(isTransientError(e), `${what} threw a non-transient error: ${String(e)}`).toBe(true);
            return;
          }
          throw new Error(`${what} succeeded while the scheduler is unreachable: ${JSON.stringify(outcome)}`);
        };
        await transient('status', () => down.status(jobs));
        await transient('findByTags', () => down.findByTags([jobs[0]!.tag]));
        await transient('cancel', () => down.cancel(jobs));
        const request = driver.request(contractJob('outage'));
        let outcomes: SubmitOutcome[] | null = null;
        try {
          outcomes = await down.submit([request]);
        } catch (e) {
          expect(isTransientError(e), `submit threw a non-transient error: ${String(e)}`).toBe(true);
        }
        // Returning outcomes instead of throwing is allowed: every one must be a transient failure.
        for (const o of outcomes ?? []) expect(o).toMatchObject({ ok: false, transient: true });
        await driver.finish(jobs[0]!, 0);
      },
    );

    needs(
      'loseNextSubmitAnswer',
      'ambiguous: a submission whose answer is lost is never reported as a plain failure, and its jobs are found by tag',
      async () => {
        const b = await fresh();
        const specs = [contractJob('lost'), contractJob('lost')];
        const requests = specs.map((s) => driver.request(s));
        driver.loseNextSubmitAnswer!(b);
        let outcomes: SubmitOutcome[] | null = null;
        try {
          outcomes = await b.submit(requests);
        } catch (e) {
          // Throwing is fine only as a transient error: the engine then looks every task up by tag.
          expect(isTransientError(e), `submit threw a non-transient error: ${String(e)}`).toBe(true);
        }
        for (const o of outcomes ?? []) {
          // A job exists: a plain transient failure would make the engine submit a second one.
          if (!o.ok) expect(o, 'an outcome for a job that exists').toMatchObject({ maybeSubmitted: true });
        }
        const window = b.submitRetryWindowMs;
        if (window !== undefined) expect(Number.isFinite(window) && window >= 0).toBe(true);
        const found = await (await fresh()).findByTags(requests.map((r) => r.tag));
        for (const [i, r] of requests.entries()) {
          const jobId = found.get(r.tag);
          expect(jobId, `job of ${r.tag}`).toBeDefined();
          const o = outcomes?.[i];
          if (o?.ok) expect(o.jobId).toBe(jobId);
          const job = tracked(r, { taskId: r.taskId, ok: true, jobId: jobId!, script: '' });
          live.push({ backend: b, job });
          await driver.finish(job, 0);
        }
      },
    );

    needs('vanish', 'vanish: a job the scheduler forgot is never reported completed', async () => {
      const { jobs } = await submitHeld(backend, 1, 'vanish');
      await driver.vanish!(jobs[0]!);
      const st = await waitStatus(
        backend,
        jobs,
        (s) => !LIVE.includes(s.state),
        'the job to leave the queue',
      );
      const s = st.get(jobs[0]!.jobId)!;
      expect(s.state).not.toBe('completed');
      expect(['unknown', 'failed', 'node_fail', 'cancelled']).toContain(s.state);
    });
  });
}
