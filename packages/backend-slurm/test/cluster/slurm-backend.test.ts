/**
 * The Slurm backend against a real single-node Slurm (22.05, with accounting) over a real sshd.
 * The TIMEOUT job is submitted first and checked last, so its ~90 s overlap the other tests.
 */
import { makeSubmitTag, tagOfJobName } from '@scripthut/core';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRequest } from '../requests.js';
import { connect, makeBackend, RUN, sleep, tracked, waitFinal } from './helpers.js';

let ssh: SshConnection;
let observer: SshConnection;
let backend: ReturnType<typeof makeBackend>;
const LOGS = `~/scripthut-test-logs/${RUN}`;
let seq = 0;
const tag = () => makeSubmitTag(RUN, seq++, 1);

function req(task: Parameters<typeof makeRequest>[1] = {}) {
  const t = tag();
  return makeRequest(
    t,
    { id: t, name: `task ${t}`, ...task },
    { logDir: LOGS, stdoutPath: `${LOGS}/${t}.out`, stderrPath: `${LOGS}/${t}.err` },
  );
}

/** Jobs named with these tags, counted by accounting (retries through accounting lag). */
async function sacctCountByNames(tags: string[], expected: number): Promise<number> {
  let n = -1;
  for (let i = 0; i < 20; i++) {
    const r = await ssh.exec(`sacct -n -P -X -u hut --format=JobIDRaw,JobName --starttime now-1hours`);
    const wanted = new Set(tags);
    n = r.stdout.split('\n').filter((l) => wanted.has(tagOfJobName(l.split('|')[1] ?? '') ?? '')).length;
    if (n >= expected) return n;
    await sleep(500);
  }
  return n;
}

let timeoutJob: ReturnType<typeof tracked>;

beforeAll(async () => {
  ssh = connect();
  observer = connect();
  backend = makeBackend(ssh);
  const r = req({ command: 'sleep 200', timeLimit: '0:01:00', timeLimitSeconds: 60 });
  const [o] = await backend.submit([r]);
  timeoutJob = tracked(r, o!);
});

afterAll(async () => {
  await ssh?.exec(`rm -rf ${LOGS.replace('~', '"$HOME"')}`).catch(() => undefined);
  await backend?.close();
  await observer?.close();
});

describe('Slurm backend on a real cluster', () => {
  it('submits a batch of 5 in ONE ssh exec, exactly 5 jobs, all complete', async () => {
    await backend.homeDir!();
    const reqs = Array.from({ length: 5 }, () => req({ command: 'echo "hello from $SLURM_JOB_ID"' }));
    const before = ssh.commandLog().length;
    const outcomes = await backend.submit(reqs);
    const execs = ssh.commandLog().slice(before);
    expect(execs).toHaveLength(1);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const jobs = reqs.map((r, i) => tracked(r, outcomes[i]!));
    expect(new Set(jobs.map((j) => j.jobId)).size).toBe(5);

    const pollStart = ssh.commandLog().length;
    await backend.status(jobs);
    // one status poll = at most 2 execs (squeue+markers, then sacct only if needed)
    expect(ssh.commandLog().length - pollStart).toBeLessThanOrEqual(2);

    const final = await waitFinal(backend, jobs);
    for (const j of jobs)
      expect(final.get(j.jobId)).toMatchObject({ state: 'completed', exitCode: 0, final: true });
    expect(
      await sacctCountByNames(
        reqs.map((r) => r.tag),
        5,
      ),
    ).toBe(5);
    const log = await backend.readLog(
      {
        jobId: jobs[0]!.jobId,
        runId: 'r',
        taskId: 't',
        path: reqs[0]!.stdoutPath,
        stream: 'stdout',
        meta: {},
      },
      {},
    );
    expect(log.content).toContain(`hello from ${jobs[0]!.jobId}`);
  });

  it('a failing task (exit 3) ends failed with exit code 3', async () => {
    const r = req({ command: 'echo failing; exit 3' });
    const [o] = await backend.submit([r]);
    const job = tracked(r, o!);
    const final = await waitFinal(backend, [job]);
    expect(final.get(job.jobId)).toMatchObject({ state: 'failed', exitCode: 3, final: true });
  });

  it('an invalid partition fails only that task, with Slurm’s message; the others are submitted', async () => {
    const good = req({ command: 'true' });
    const bad = req({ partition: 'nosuchpart' });
    const hugeMem = req({ memory: '999G' });
    const outcomes = await backend.submit([good, bad, hugeMem]);
    expect(outcomes[0]!.ok).toBe(true);
    expect(outcomes[1]).toMatchObject({ ok: false, transient: false });
    expect(!outcomes[1]!.ok && outcomes[1]!.error).toMatch(/invalid partition/i);
    expect(!outcomes[2]!.ok && outcomes[2]!.error).toMatch(
      /Memory specification can not be satisfied|node configuration is not available/,
    );
    // The invalid partition never gets a job id. (Slurm 22.05 does give the impossible-memory
    // request an id and records it as FAILED in accounting, though sbatch rejected it.)
    expect(await sacctCountByNames([good.tag, bad.tag], 1)).toBe(1);
  });

  it('cancel → cancelled', async () => {
    const r = req({ command: 'sleep 300' });
    const [o] = await backend.submit([r]);
    const job = tracked(r, o!);
    for (let i = 0; i < 30; i++) {
      const s = await backend.status([job]);
      if (s.get(job.jobId)?.state === 'running') break;
      await sleep(500);
    }
    await backend.cancel([job]);
    const final = await waitFinal(backend, [job], 60_000, 500);
    expect(final.get(job.jobId)).toMatchObject({ state: 'cancelled', final: true });
  });

  it('a 1-second task never seen running still ends completed', async () => {
    const r = req({ command: 'sleep 1' });
    const [o] = await backend.submit([r]);
    const job = tracked(r, o!);
    // Wait (as an observer) until Slurm itself says the job is over, without polling the backend.
    let state = '';
    for (let i = 0; i < 240 && state !== 'COMPLETED'; i++) {
      state = (await observer.exec(`squeue -h -t all -j ${job.jobId} -o %T`)).stdout.trim();
      if (state !== 'COMPLETED') await sleep(250);
    }
    expect(state).toBe('COMPLETED');
    // The backend's first look at the job already has the final verdict.
    const first = await backend.status([job]);
    expect(first.get(job.jobId)).toMatchObject({ state: 'completed', exitCode: 0, final: true });
  });

  it('quickStatus reports completion as soon as the job’s marker holds its code, without a scheduler command', async () => {
    const r = req({ command: 'sleep 3' });
    const [o] = await backend.submit([r]);
    const job = tracked(r, o!);
    const marker = `"$HOME"/.cache/scripthut/markers-test/${r.tag}.rc`;
    // Pre-created empty at submission: "not ended yet" is an empty file, not a missing one.
    expect((await observer.exec(`test -e ${marker} && echo exists`)).stdout.trim()).toBe('exists');
    let seen = false;
    const before = ssh.commandLog().length;
    for (let i = 0; i < 240 && !seen; i++) {
      // Look at the marker first: once it holds the code, the very next quickStatus must report it.
      const written = (await observer.exec(`cat ${marker} 2>/dev/null`)).stdout.trim();
      const q = await backend.quickStatus!([job]);
      seen = q.get(job.jobId)?.state === 'completed';
      if (written !== '')
        expect(seen, `marker holds ${written} but quickStatus did not report it`).toBe(true);
      if (!seen) await sleep(250);
    }
    expect(seen).toBe(true);
    const cmds = ssh
      .commandLog()
      .slice(before)
      .map((e) => e.command);
    expect(cmds.some((c) => /squeue|sacct|sinfo/.test(c))).toBe(false);
    const final = await waitFinal(backend, [job]);
    expect(final.get(job.jobId)).toMatchObject({ state: 'completed', final: true });
  });

  it('over its memory limit (no cgroups here: FAILED 0:9 + "exceeded memory limit") → out_of_memory', async () => {
    const r = req({
      // Holds ~300 MB for several seconds, so the 1 s accounting sampler is sure to see it (a
      // short spike, as `head -c 600M | tail -n 1` made, can end between two samples).
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a JS template
      command: "x=$(head -c 300M /dev/zero | tr '\\0' a); sleep 8; echo ${#x}",
      memory: '64M',
      memoryMiB: 64,
    });
    const [o] = await backend.submit([r]);
    const job = tracked(r, o!);
    const final = await waitFinal(backend, [job], 90_000);
    expect(final.get(job.jobId)).toMatchObject({ state: 'out_of_memory', final: true });
  });

  it('findByTags finds a job submitted behind our back', async () => {
    const t = tag();
    const r = await ssh.exec(
      `sbatch --parsable --job-name=${t}-by_hand --mem=50M --output=/dev/null --wrap 'sleep 1'`,
    );
    expect(r.exitCode).toBe(0);
    const id = r.stdout.trim().split(';')[0];
    const found = await backend.findByTags([t, makeSubmitTag(RUN, 9999, 1)]);
    expect(Object.fromEntries(found)).toEqual({ [t]: id });
  });

  it('clusterInfo shows partition normal with CPUs, and the disk of clone_dir', async () => {
    const info = await backend.clusterInfo();
    const normal = info.partitions.find((p) => p.name === 'normal');
    expect(normal).toMatchObject({ isDefault: true });
    expect(normal!.cpusTotal).toBeGreaterThan(0);
    expect(info.cpusTotal).toBe(Number(process.env.SCRIPTHUT_TEST_SLURM_CPUS));
    expect(info.partitions.map((p) => p.name)).toEqual(expect.arrayContaining(['normal', 'long']));
    expect(info.disk?.totalBytes).toBeGreaterThan(0);
  });

  it('externalJobs lists the user’s queue', async () => {
    const r = req({ command: 'sleep 20' });
    const [o] = await backend.submit([r]);
    const job = tracked(r, o!);
    const jobs = await backend.externalJobs!(null);
    expect(jobs.find((j) => j.jobId === job.jobId)).toMatchObject({
      name: `${r.tag}-task_${r.taskId}`,
      user: 'hut',
    });
    await backend.cancel([job]);
  });

  it('a job with --time=0:01:00 running sleep 200 ends timeout', async () => {
    const final = await waitFinal(backend, [timeoutJob], 200_000, 2000);
    expect(final.get(timeoutJob.jobId)).toMatchObject({ state: 'timeout', final: true });
  });
});
