/**
 * The PBS backend on its own against the real OpenPBS over real SSH, in the job-history mode the
 * group was brought up in (the group runs once per mode): detection, batch submission, states and
 * exit codes, live logs, dates, tag lookup, unknown ids, qsub errors, walltime kills and qdel, and
 * the same answers from plain `qstat -f` text as from `-F json`.
 */
import {
  makeSubmitTag,
  parseTaskDocument,
  type SubmitRequest,
  type TaskSpec,
  type TrackedJob,
} from '@scripthut/core';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PbsBackend } from '../../src/backend.js';
import { connect, HISTORY, MODE, makeBackend, pbsEnv, RUN, until } from './helpers.js';

const LOGS = `~/scripthut-test-logs/${RUN}-backend`;
const FLAG = `scripthut-test-logs/${RUN}-backend/release`;

function spec(id: string, command: string, extra: Record<string, unknown> = {}): TaskSpec {
  const doc = { tasks: [{ id, name: id, command, memory: '50M', time_limit: '0:05:00', ...extra }] };
  return parseTaskDocument(doc, { knownEnvironments: [] }).tasks[0]!;
}

function request(tag: string, task: TaskSpec): SubmitRequest {
  return {
    runId: 'r1',
    taskId: task.id,
    tag,
    workflowName: 'wf',
    task,
    workingDir: task.workingDir,
    env: { SCRIPTHUT_TASK_ID: task.id, WEIRD: `it's $(not) "expanded"` },
    extraInit: '',
    stdoutPath: `${LOGS}/${task.id}.out`,
    stderrPath: `${LOGS}/${task.id}.err`,
    logDir: LOGS,
    git: null,
  };
}

function trackedOf(req: SubmitRequest, jobId: string): TrackedJob {
  return {
    jobId,
    runId: 'r1',
    taskId: req.taskId,
    tag: req.tag,
    stdoutPath: req.stdoutPath,
    stderrPath: req.stderrPath,
    submittedAt: new Date().toISOString(),
    lastState: null,
    meta: {},
  };
}

let seq = 0;
const nextTag = () => makeSubmitTag(RUN, ++seq, 1);

describe(`PBS backend on the real OpenPBS (job history ${MODE})`, () => {
  let ssh: SshConnection;
  let observer: SshConnection;
  let pbs: PbsBackend;
  const submitted: string[] = [];

  /** Submit tasks in one batch; every one must be accepted. */
  async function submitAll(backend: PbsBackend, reqs: SubmitRequest[]): Promise<TrackedJob[]> {
    const outcomes = await backend.submit(reqs);
    return outcomes.map((o, i) => {
      if (!o.ok) expect.fail(`${reqs[i]!.taskId} was not submitted: ${o.error}`);
      submitted.push(o.jobId);
      return trackedOf(reqs[i]!, o.jobId);
    });
  }

  beforeAll(async () => {
    ssh = connect();
    observer = connect();
    pbs = makeBackend(ssh);
  });

  afterAll(async () => {
    // Never leave jobs behind, even when a test failed (finished/unknown ids are fine for qdel).
    if (submitted.length)
      await observer?.exec(`qdel ${submitted.join(' ')} 2>/dev/null; true`).catch(() => undefined);
    await observer?.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-backend`).catch(() => undefined);
    await ssh?.close();
    await observer?.close();
  });

  it('detects PBS Pro, its version and the job history mode once; reports the queues', async () => {
    expect(await pbs.serverFacts()).toEqual({
      flavour: 'pro',
      version: pbsEnv('PBS_VERSION'),
      history: HISTORY,
      maxArraySize: 10_000,
      maxSlotLimit: null, // a Torque attribute
    });
    const detections = ssh.commandLog().filter((e) => e.command.includes('history detection'));
    await pbs.serverFacts();
    expect(ssh.commandLog().filter((e) => e.command.includes('history detection'))).toHaveLength(
      detections.length,
    );
    const info = await pbs.clusterInfo();
    expect(info.cpusTotal).toBe(Number(pbsEnv('PBS_CPUS')));
    expect(info.facts).toMatchObject({
      flavour: 'PBS Pro',
      version: '23.06.06',
      jobHistory: MODE,
      server: 'pbshost',
    });
    expect(info.partitions.find((p) => p.name === 'workq')).toMatchObject({ isDefault: true, state: 'up' });
    expect(info.partitions.find((p) => p.name === 'shortq')).toMatchObject({
      isDefault: false,
      timeLimit: pbsEnv('PBS_SHORT_QUEUE_MAX_WALLTIME'),
    });
  });

  it('a batch in one round trip: exit 3, a live log while running, UTC dates, pending reason, tags, cancel', async () => {
    const reqs = [
      request(
        nextTag(),
        spec(
          'live',
          `echo "out:$WEIRD"; echo err >&2; while [ ! -e "$HOME/${FLAG}" ]; do sleep 0.2; done; echo done`,
        ),
      ),
      request(nextTag(), spec('three', 'echo failing; exit 3')),
      request(nextTag(), spec('big', 'true', { cpus: 4 })),
    ];
    await pbs.homeDir!();
    const before = ssh.commandLog().length;
    const [live, three, big] = await submitAll(pbs, reqs);
    expect(ssh.commandLog().length - before).toBe(1);
    expect(live!.jobId).toMatch(/^\d+\.pbshost$/);

    // exit 3: from Exit_status with history on, from the exit marker with history off.
    const st3 = await until('exit 3 to be final', async () => {
      const s = (await pbs.status([three!])).get(three!.jobId);
      return s?.final ? s : null;
    });
    expect(st3).toMatchObject({ state: 'failed', exitCode: 3, final: true });

    // The running job's log is readable while it runs (#PBS -k oed writes it in place).
    const running = await until('the live job to run and log', async () => {
      const s = (await pbs.status([live!])).get(live!.jobId)!;
      if (s.state !== 'running') return null;
      const log = await pbs.readLog(
        {
          jobId: live!.jobId,
          runId: 'r1',
          taskId: 'live',
          path: reqs[0]!.stdoutPath,
          stream: 'stdout',
          meta: {},
        },
        {},
      );
      return log.content.includes('out:') ? { s, log } : null;
    });
    expect(running.log.content).toContain(`out:it's $(not) "expanded"`);
    expect(running.s).toMatchObject({ state: 'running', node: 'pbshost', rawState: 'R', final: false });
    // The login shell runs in Asia/Kolkata (+5:30): without TZ=UTC the start time would be 5.5 h off.
    expect(Math.abs(Date.parse(running.s.startedAt!) - Date.now())).toBeLessThan(30 * 60_000);

    // 4 CPUs on a 2-CPU node: pending with the scheduler's own words.
    const pending = await until('the scheduler comment on the big job', async () => {
      const s = (await pbs.status([big!])).get(big!.jobId)!;
      return s.reason?.startsWith('Can Never Run') ? s : null;
    });
    expect(pending).toMatchObject({ state: 'pending', final: false });
    expect(pending.reason).toMatch(
      /^Can Never Run: Insufficient amount of resource: ncpus \(R: 4 A: \d T: 2\)$/,
    );

    // Tags: live jobs always; finished ones only where the server keeps history.
    const found = await pbs.findByTags([
      reqs[0]!.tag,
      reqs[1]!.tag,
      reqs[2]!.tag,
      makeSubmitTag(RUN, 999, 1),
    ]);
    expect(Object.fromEntries(found)).toEqual({
      [reqs[0]!.tag]: live!.jobId,
      [reqs[2]!.tag]: big!.jobId,
      ...(HISTORY ? { [reqs[1]!.tag]: three!.jobId } : {}),
    });
    expect(
      ssh.commandLog().some((e) => e.command.startsWith(`qselect -u $USER${HISTORY ? ' -x' : ''} |`)),
    ).toBe(true);

    await observer.exec(`touch "$HOME/${FLAG}"`);
    const done = await until('the live job to complete', async () => {
      const s = (await pbs.status([live!])).get(live!.jobId)!;
      return s.final ? s : null;
    });
    expect(done).toMatchObject({ state: 'completed', exitCode: 0 });
    // …and the same path holds the whole log once the job is over (no stage-out moved it).
    const whole = await pbs.readLog(
      {
        jobId: live!.jobId,
        runId: 'r1',
        taskId: 'live',
        path: reqs[0]!.stdoutPath,
        stream: 'stdout',
        meta: {},
      },
      {},
    );
    expect(whole.content).toMatch(/out:it's[\s\S]*\ndone\n[\s\S]*Exit code: 0\n$/);
    const errLog = await pbs.readLog(
      {
        jobId: live!.jobId,
        runId: 'r1',
        taskId: 'live',
        path: reqs[0]!.stderrPath,
        stream: 'stderr',
        meta: {},
      },
      {},
    );
    expect(errLog.content).toBe('err\n');
    const quick = await pbs.quickStatus!([three!, big!]);
    expect(quick.get(three!.jobId)).toMatchObject({ state: 'failed', exitCode: 3 });
    expect(quick.has(big!.jobId)).toBe(false);

    // Cancel a queued job and a finished one in one call: not an error.
    await pbs.cancel([big!, three!]);
    const gone = await until('the deleted job to leave the queue', async () => {
      const s = (await pbs.status([big!])).get(big!.jobId)!;
      return s.state !== 'pending' ? s : null;
    });
    if (HISTORY) expect(gone).toMatchObject({ state: 'cancelled', exitCode: null, final: true });
    else
      expect(gone).toMatchObject({
        state: 'unknown',
        final: false,
        reason: expect.stringMatching(/job history is off/),
      });
  });

  it('unknown ids (exit 153) next to known ones do not fail the poll', async () => {
    const [job] = await submitAll(pbs, [request(nextTag(), spec('quick', 'true'))]);
    const ghost: TrackedJob = { ...job!, jobId: '99999.pbshost', tag: makeSubmitTag(RUN, 998, 1) };
    const st = await pbs.status([job!, ghost]);
    expect(st.get(job!.jobId)?.state).toMatch(/^(pending|running|completed)$/);
    expect(st.get('99999.pbshost')).toMatchObject({ state: 'unknown', final: false });
  });

  it('queue errors are task errors: unknown queue (170) and over a queue limit (188) permanent, per-user limit transient', async () => {
    const [wrong] = await makeBackend(ssh, { queue: 'nosuchq' }).submit([
      request(nextTag(), spec('wq', 'true')),
    ]);
    expect(wrong).toMatchObject({ ok: false, transient: false, error: 'qsub: Unknown queue' });

    const [tooLong] = await makeBackend(ssh, { queue: pbsEnv('PBS_SHORT_QUEUE') }).submit([
      request(nextTag(), spec('long', 'true', { time_limit: '1:00:00' })),
    ]);
    expect(tooLong).toMatchObject({
      ok: false,
      transient: false,
      error: 'qsub: Job violates queue and/or server resource limits',
    });

    // scripthutlimq takes one queued job per user: a never-running job fills it.
    const limited = makeBackend(ssh, { queue: pbsEnv('PBS_LIMIT_QUEUE') });
    const [filler] = await submitAll(limited, [request(nextTag(), spec('filler', 'true', { cpus: 4 }))]);
    const [refused] = await limited.submit([request(nextTag(), spec('refused', 'true'))]);
    expect(refused).toMatchObject({ ok: false, transient: true });
    expect(!refused!.ok && refused!.error).toBe(
      "queue limit reached, waiting for room: qsub: would exceed queue generic's per-user limit",
    );
    await limited.cancel([filler!]);
  });

  it('walltime kill → timeout; qdel of a running job → cancelled (271)', async () => {
    const reqs = [
      request(nextTag(), spec('wall', 'echo started; sleep 120', { time_limit: '0:00:03' })),
      request(nextTag(), spec('del', 'echo started; sleep 120')),
    ];
    const [wall, del] = await submitAll(pbs, reqs);
    await until(
      'the job to delete to run',
      async () => (await pbs.status([del!])).get(del!.jobId)?.state === 'running',
    );
    await pbs.cancel([del!]);
    const wallSt = await until(
      'the walltime kill',
      async () => {
        const s = (await pbs.status([wall!])).get(wall!.jobId)!;
        return s.final ? s : null;
      },
      180_000,
    );
    if (HISTORY)
      expect(wallSt).toEqual(
        expect.objectContaining({
          state: 'timeout',
          exitCode: -29,
          reason: 'killed by PBS: walltime exceeded (Exit_status -29)',
        }),
      );
    // No history: the server forgot the job and a killed job leaves no exit marker; the MoM's
    // kill line in its stderr is the evidence.
    else
      expect(wallSt).toMatchObject({
        state: 'timeout',
        reason: expect.stringMatching(/^killed by PBS: walltime \d+ exceeded limit 3$/),
      });

    const delSt = await until('the deleted job to end', async () => {
      const s = (await pbs.status([del!])).get(del!.jobId)!;
      return s.state !== 'running' ? s : null;
    });
    if (HISTORY) expect(delSt).toMatchObject({ state: 'cancelled', exitCode: 271, final: true });
    else expect(delSt).toMatchObject({ state: 'unknown', final: false });
  });

  it('plain qstat -f text (79-column TAB-continued lines) gives the same answers as -F json', async () => {
    const textSsh = connect(); // its own command log
    const text = makeBackend(textSsh, { statusFormat: 'text' });
    const name = 'a task name long enough that qstat -f wraps its Job_Name line at column 79';
    const reqs = [
      request(nextTag(), spec('wrapped', `while [ ! -e "$HOME/${FLAG}-2" ]; do sleep 0.2; done`, { name })),
      request(nextTag(), spec('three2', 'exit 3')),
    ];
    const jobs = await submitAll(text, reqs);
    const raw = (await observer.exec(`TZ=UTC qstat -f ${jobs[0]!.jobId}`)).stdout;
    expect(raw).toMatch(/\n\t\S/); // continuation lines
    // Compared only in states that cannot change between the two polls.
    await until('the wrapped job running and exit 3 final', async () => {
      const st = await text.status(jobs);
      return st.get(jobs[0]!.jobId)?.state === 'running' && st.get(jobs[1]!.jobId)?.final;
    });
    expect(await text.status(jobs)).toEqual(await pbs.status(jobs));
    expect(text.commandLog!().some((e) => e.command.includes('-F json'))).toBe(false);
    const found = await text.findByTags([reqs[0]!.tag]);
    expect(found.get(reqs[0]!.tag)).toBe(jobs[0]!.jobId);
    await observer.exec(`touch "$HOME/${FLAG}-2"`);
    const st = await until('the wrapped-name job to complete', async () => {
      const s = await text.status(jobs);
      return s.get(jobs[0]!.jobId)?.final ? s : null;
    });
    expect(st).toEqual(await pbs.status(jobs));
    expect(st.get(jobs[0]!.jobId)).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(st.get(jobs[1]!.jobId)).toMatchObject({ state: 'failed', exitCode: 3 });
    await textSsh.close();
  });
});
