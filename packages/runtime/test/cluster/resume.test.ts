/**
 * `--resume` and declared outputs end to end (issue 21): a real runtime (config file, SQLite store,
 * engine) driving the local Slurm over sshd. A 20-task sweep (19 simulations writing one output
 * each, one aggregation hashing them as inputs). Jobs are counted in Slurm accounting (sacct, by
 * the run id carried in every job name), not from ScriptHut's own records.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSubmitTag, type RunSummary, type TaskRecord, tagOfJobName } from '@scripthut/core';
import { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/index.js';

function env(key: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${key}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${key} is not set: the cluster global setup did not run`);
  return v;
}

const ID = `r${randomBytes(3).toString('hex')}`;
const ROOT = () => `${env('HUT_HOME')}/scripthut-test-resume/${ID}`;
const WORK = () => `${ROOT()}/work`;
const R = { memory: '50M', time_limit: '0:05:00' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let ssh: SshConnection;
let local: string;
let rt: Runtime;

async function sh(command: string, stdin?: string): Promise<string> {
  const r = await ssh.exec(command, { timeoutMs: 60_000, ...(stdin !== undefined ? { stdin } : {}) });
  if (r.exitCode !== 0) throw new Error(`${command} exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

/** The sweep: sim-0..sim-18 write out/sim-i.txt; agg (deps sim-*) hashes them and writes out/agg.txt. */
function sweep(overrides: Record<string, string> = {}, extra: object[] = []): object {
  const sims = Array.from({ length: 19 }, (_, i) => ({
    id: `sim-${i}`,
    name: `sim ${i}`,
    command: overrides[`sim-${i}`] ?? `mkdir -p out && echo "result ${i}" > out/sim-${i}.txt`,
    working_dir: WORK(),
    outputs: [`out/sim-${i}.txt`],
    ...R,
  }));
  const agg = {
    id: 'agg',
    name: 'aggregate',
    command: 'cat out/sim-*.txt > out/agg.txt',
    working_dir: WORK(),
    deps: ['sim-*'],
    inputs: ['out/sim-*.txt'],
    outputs: ['out/agg.txt'],
    ...R,
  };
  return { tasks: [...sims, agg, ...extra] };
}

async function writeSweep(doc: object): Promise<void> {
  await sh(`cat > ${ROOT()}/tasks.json`, JSON.stringify(doc));
}

function waitDone(runId: string, timeoutMs = 240_000): Promise<RunSummary> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      const s = rt.getRun(runId);
      if (s.status !== 'pending' && s.status !== 'running') return resolve(s);
      if (Date.now() > deadline)
        return reject(new Error(`run ${runId} not done: ${JSON.stringify(s.counts)}`));
      setTimeout(tick, 300);
    };
    tick();
  });
}

function tasks(runId: string): Map<string, TaskRecord> {
  return new Map(rt.listTasks(runId, { limit: 1000 }).items.map((t) => [t.spec.id, t]));
}

/** Job count of a run in Slurm accounting; waits (bounded) until `atLeast` are accounted. */
async function sacctJobs(runId: string, since: Date, atLeast: number): Promise<number> {
  const start = new Date(since.getTime() - 120_000).toISOString().slice(0, 19);
  const look = async () => {
    const out = await sh(
      `sacct -n -P -X -u ${env('SSH_USER')} --starttime ${start} --format=JobIDRaw,JobName`,
    );
    let n = 0;
    for (const line of out.split('\n')) {
      const [id, name] = line.trim().split('|');
      const tag = name ? tagOfJobName(name) : null;
      if (id && tag && parseSubmitTag(tag)?.runId === runId) n++;
    }
    return n;
  };
  let n = await look();
  for (let i = 0; i < 30 && n < atLeast; i++) {
    await sleep(1000);
    n = await look();
  }
  return n;
}

/**
 * Why the tasks of a resumed run that were not expected to run did run (their cache meta and
 * transitions, next to the first run's key): the message of a failed expectation.
 */
function whyRan(
  r: { run: RunSummary; byId: Map<string, TaskRecord>; submitted: string[] },
  expected: string[],
  firstRun: Map<string, TaskRecord>,
): string {
  const extra = r.submitted.filter((id) => !expected.includes(id)).slice(0, 3);
  return extra
    .map((id) => {
      const t = r.byId.get(id)!;
      const { cacheKey, cacheNote, cached } = t.meta as Record<string, unknown>;
      const history = rt
        .taskTransitions(r.run.run.id, id)
        .map((x) => `${x.from}->${x.to} (${x.reason ?? ''})`);
      return `${id}: key ${String(cacheKey)} (first run ${String(firstRun.get(id)?.meta.cacheKey)}), note ${String(cacheNote)}, cached ${JSON.stringify(cached)}; ${history.join('; ')}`;
    })
    .join('\n');
}

/** Start a run of the sweep, wait for it, and count its jobs in sacct. */
async function runSweep(resume: boolean, expectedJobs: number) {
  const since = new Date();
  const created = await rt.runWorkflow('sweep', resume ? { resume: true } : {});
  expect(created.run.resume === true).toBe(resume);
  const done = await waitDone(created.run.id);
  const byId = tasks(created.run.id);
  const submitted = [...byId.values()].filter((t) => t.jobId !== null).map((t) => t.spec.id);
  const cached = [...byId.values()].filter((t) => t.meta.cached).map((t) => t.spec.id);
  const jobs = await sacctJobs(created.run.id, since, expectedJobs);
  return { run: done, byId, submitted, cached, jobs };
}

beforeAll(async () => {
  ssh = new SshConnection({
    host: env('SSH_HOST'),
    port: Number(env('SSH_PORT')),
    user: env('SSH_USER'),
    keyPath: env('SSH_KEY'),
    knownHostsPath: env('SSH_KNOWN_HOSTS'),
  });
  await sh(`mkdir -p ${WORK()}`);
  await writeSweep(sweep());
  local = mkdtempSync(join(tmpdir(), 'scripthut-resume-'));
  const config = {
    backends: [
      {
        name: 'hpc',
        type: 'slurm',
        ssh: {
          host: env('SSH_HOST'),
          port: Number(env('SSH_PORT')),
          user: env('SSH_USER'),
          key_path: env('SSH_KEY'),
          known_hosts: env('SSH_KNOWN_HOSTS'),
        },
        max_concurrent: 20,
      },
    ],
    workflows: [{ name: 'sweep', backend: 'hpc', command: `cat ${ROOT()}/tasks.json` }],
  };
  writeFileSync(join(local, 'scripthut.yaml'), JSON.stringify(config));
  rt = await createRuntime({
    cwd: local,
    dataDir: join(local, 'data'),
    pollIntervalMs: 1000,
    outputsGraceMs: 0,
    logger: { info() {}, warn() {}, error: (m) => process.stderr.write(`[runtime] ${m}\n`) },
  });
  await rt.start();
}, 60_000);

afterAll(async () => {
  const logDirs = rt ? rt.listRuns({ limit: 500 }).items.map((r) => r.run.logDir) : [];
  await rt?.close();
  if (ssh) {
    await ssh.exec(`rm -rf ${ROOT()} ${[...new Set(logDirs)].join(' ')}`).catch(() => undefined);
    await ssh.close();
  }
  if (local) rmSync(local, { recursive: true, force: true });
});

describe('resume on Slurm', () => {
  let first: Awaited<ReturnType<typeof runSweep>>;

  it('a first run submits all 20 tasks and records their keys', async () => {
    first = await runSweep(false, 20);
    expect(first.run.status).toBe('completed');
    expect(first.submitted).toHaveLength(20);
    expect(first.jobs).toBe(20);
    for (const t of first.byId.values()) expect(t.meta.cacheKey).toMatch(/^[0-9a-f]{64}$/);
    expect((await sh(`cat ${WORK()}/out/agg.txt`)).split('\n').filter(Boolean)).toHaveLength(19);
  }, 300_000);

  it('--resume on an unchanged workflow submits no job: all 20 cached, naming their source', async () => {
    const r = await runSweep(true, 0);
    expect(r.run.status).toBe('completed');
    expect(r.submitted).toEqual([]);
    expect(r.cached).toHaveLength(20);
    expect(r.jobs).toBe(0);
    expect(r.byId.get('agg')!.meta.cached).toEqual({
      runId: first.run.run.id,
      taskId: 'agg',
      key: first.byId.get('agg')!.meta.cacheKey,
    });
  }, 300_000);

  it('after one command changes, --resume submits exactly that task and its dependent (dry run says why)', async () => {
    await writeSweep(sweep({ 'sim-3': 'mkdir -p out && echo "result 3 v2" > out/sim-3.txt' }));
    const dry = await rt.dryRunWorkflow('sweep', { resume: true });
    const plan = new Map(dry.tasks.map((t) => [t.task.id, t.cache!]));
    expect(plan.get('sim-3')!.reason).toMatch(/^key changed since run [0-9a-f]{8}: command$/);
    expect(plan.get('agg')!.reason).toBe(
      'decided at run time: dependency sim-3 runs again and may change its inputs',
    );
    expect(plan.get('sim-4')!.reuseFrom).toEqual({ runId: first.run.run.id, taskId: 'sim-4' });
    expect(dry.tasks.filter((t) => t.cache?.reuseFrom)).toHaveLength(18);

    const r = await runSweep(true, 2);
    expect(r.run.status).toBe('completed');
    expect(r.submitted.sort(), whyRan(r, ['agg', 'sim-3'], first.byId)).toEqual(['agg', 'sim-3']);
    expect(r.cached).toHaveLength(18);
    expect(r.jobs).toBe(2);
    expect(await sh(`cat ${WORK()}/out/agg.txt`)).toContain('result 3 v2');
  }, 300_000);

  it('a deleted output makes its task run again (its dependent, same inputs, is reused)', async () => {
    await sh(`rm ${WORK()}/out/sim-7.txt`);
    const r = await runSweep(true, 1);
    expect(r.run.status).toBe('completed');
    expect(r.submitted).toEqual(['sim-7']);
    expect(r.jobs).toBe(1);
    expect(r.cached).toHaveLength(19);
  }, 300_000);

  it('a task that exits 0 without its declared output fails naming the path; its dependent is dep_failed', async () => {
    const broken = [
      {
        id: 'broken',
        name: 'broken',
        command: 'echo forgot to write',
        working_dir: WORK(),
        outputs: ['out/never.txt', 'out/agg.txt'],
        ...R,
      },
      { id: 'after', name: 'after', command: 'true', deps: ['broken'], ...R },
    ];
    await writeSweep(sweep({ 'sim-3': 'mkdir -p out && echo "result 3 v2" > out/sim-3.txt' }, broken));
    const r = await runSweep(true, 1);
    expect(r.run.status).toBe('failed');
    expect(r.submitted).toEqual(['broken']);
    expect(r.jobs).toBe(1);
    expect(r.byId.get('broken')).toMatchObject({
      state: 'failed',
      exitCode: 0,
      error: 'exited 0 but its declared outputs are missing: out/never.txt',
    });
    expect(r.byId.get('after')!.state).toBe('dep_failed');
    expect(r.cached).toHaveLength(20);
  }, 300_000);
});
