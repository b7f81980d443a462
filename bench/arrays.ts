/**
 * Job-array benchmarks against the local test cluster (real sshd + Slurm), all in one run so the
 * ratios compare like with like:
 *
 * 1. submit: a homogeneous fan-out of N tasks (default 500) from "run created" to "every task has a
 *    job id" through the engine with job arrays (`array: auto`), through the engine one job per task
 *    (`array: off`), and a bare `sbatch --array=0-(N-1) --wrap=true` in one SSH command.
 * 2. makespan: N × `sleep 1` (default 100 and 500), run created → run completed, through the engine
 *    with arrays (poll interval 5 s, exit markers every 2 s) vs a bare `sbatch --array` of the same
 *    work followed by `squeue` every 200 ms until it has left the queue; for the smallest N also the
 *    engine one job per task.
 *
 * Run: `flock /tmp/scripthut-cluster.lock node --import tsx bench/arrays.ts` (bench/run.ts does, as
 * `BENCH_ONLY=arrays pnpm bench`). Options (env): BENCH_ARRAY_SUBMIT_TASKS (500),
 * BENCH_ARRAY_MAKESPAN (`100,500`). Prints JSON on the last line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSlurmBackend } from '@scripthut/backend-slurm';
import { Engine, MemoryRunStore, parseTaskDocument, type TaskSpec } from '@scripthut/core';
import { SshConnection } from '@scripthut/ssh';

const BASE = process.env.SLB_BASE ?? '/var/lib/scripthut-cluster';
const SUBMIT_TASKS = Number(process.env.BENCH_ARRAY_SUBMIT_TASKS ?? 500);
const MAKESPAN = (process.env.BENCH_ARRAY_MAKESPAN ?? '100,500').split(',').map(Number);
const POLL_MS = 5000;

const env: Record<string, string> = {};
for (const line of readFileSync(join(BASE, 'cluster.env'), 'utf8').split('\n')) {
  const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
  if (m) env[m[1]!] = m[2]!;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`${s}\n`);

function connect(): SshConnection {
  return new SshConnection({
    host: env.SSH_HOST!,
    port: Number(env.SSH_PORT),
    user: env.SSH_USER!,
    keyPath: env.SSH_KEY!,
    knownHostsPath: env.SSH_KNOWN_HOSTS!,
  });
}

function specs(n: number, command: string): TaskSpec[] {
  const tasks = Array.from({ length: n }, (_, i) => ({
    id: `t${i}`,
    name: `t${i}`,
    command,
    memory: '20M',
    time_limit: '0:05:00',
  }));
  return parseTaskDocument({ tasks }, { knownEnvironments: [] }).tasks;
}

/** An engine over its own connection; `arrays` on or off. */
async function engineOn(arrays: boolean, autoLoop: boolean) {
  const ssh = connect();
  const backend = createSlurmBackend({
    name: 'bench',
    ssh,
    maxConcurrent: 100_000,
    markerDir: '~/.cache/scripthut/markers-bench',
    user: env.SSH_USER!,
    arrays,
  });
  const store = new MemoryRunStore();
  const engine = new Engine({
    store,
    backends: [backend],
    pollIntervalMs: POLL_MS,
    clusterInfoIntervalMs: 0,
    autoLoop,
    arrays: { bench: { mode: arrays ? 'auto' : 'off' } },
  });
  await engine.start();
  await backend.homeDir!(); // warm the connection and the home cache, as a running server has them
  if (arrays) await backend.arrays!.maxSize();
  return { ssh, backend, store, engine };
}

async function cancelRun(ssh: SshConnection, runId: string): Promise<void> {
  await ssh.exec(
    `squeue -h --me -o '%F %j' | awk '$2 ~ /^sh${runId}/ {print $1}' | sort -u | xargs -r scancel`,
    {
      timeoutMs: 120_000,
    },
  );
}

/** 1. Run created → every task has a job id (one engine tick), arrays on/off; bare sbatch --array. */
async function benchSubmit() {
  const out: Record<string, number> = { tasks: SUBMIT_TASKS };
  for (const arrays of [true, false]) {
    const { ssh, engine, store } = await engineOn(arrays, false);
    try {
      const t0 = performance.now();
      const run = engine.createRun({
        workflowName: 'bench-arrays',
        backendName: 'bench',
        origin: { kind: 'adhoc' },
        tasks: specs(SUBMIT_TASKS, 'true'),
        maxConcurrent: null,
        logDir: '~/scripthut-bench/array-logs',
      });
      while (store.allTasks(run.id).some((t) => !t.jobId)) await engine.tick('bench');
      out[arrays ? 'engineArraysMs' : 'enginePerTaskMs'] = Math.round(performance.now() - t0);
      await cancelRun(ssh, run.id);
    } finally {
      await engine.stop();
      await ssh.close();
    }
  }
  const ssh = connect();
  try {
    await ssh.exec('true');
    const t0 = performance.now();
    const r = await ssh.exec(
      `sbatch --parsable --array=0-${SUBMIT_TASKS - 1} -J benchbare --mem=20M -t 5 -o /dev/null -e /dev/null --wrap=true`,
    );
    out.bareArrayMs = Math.round(performance.now() - t0);
    if (r.exitCode !== 0) throw new Error(`sbatch --array failed: ${r.stderr}`);
    await ssh.exec(`scancel ${r.stdout.trim()}`);
  } finally {
    await ssh.close();
  }
  return out;
}

/** Engine makespan: run created → run completed. */
async function engineMakespan(n: number, arrays: boolean): Promise<number> {
  const { ssh, engine } = await engineOn(arrays, true);
  try {
    const t0 = performance.now();
    const run = engine.createRun({
      workflowName: 'bench-makespan',
      backendName: 'bench',
      origin: { kind: 'adhoc' },
      tasks: specs(n, 'sleep 1'),
      maxConcurrent: null,
      logDir: '~/scripthut-bench/array-logs',
    });
    for (;;) {
      const s = engine.summary(run.id)!.status;
      if (s === 'completed') break;
      if (s !== 'running' && s !== 'pending') throw new Error(`run ended ${s}`);
      await sleep(50);
    }
    return Math.round(performance.now() - t0);
  } finally {
    await engine.stop();
    await ssh.close();
  }
}

/** Bare `sbatch --array` of the same work: submission → the array has left the queue. */
async function bareMakespan(n: number): Promise<number> {
  const ssh = connect();
  try {
    await ssh.exec('true');
    const t0 = performance.now();
    const r = await ssh.exec(
      `sbatch --parsable --array=0-${n - 1} -J benchbare --mem=20M -t 5 -o /dev/null -e /dev/null --wrap='sleep 1'`,
    );
    if (r.exitCode !== 0) throw new Error(`sbatch --array failed: ${r.stderr}`);
    const id = r.stdout.trim();
    for (;;) {
      const q = await ssh.exec(`squeue -h -r -j ${id} -t PD,CF,R,CG -o %i | wc -l`);
      if (q.stdout.trim() === '0') break;
      await sleep(200);
    }
    return Math.round(performance.now() - t0);
  } finally {
    await ssh.close();
  }
}

async function main() {
  const submit = await benchSubmit();
  log(`submit: ${JSON.stringify(submit)}`);
  const makespan: Record<string, number>[] = [];
  for (const [i, n] of MAKESPAN.entries()) {
    const row: Record<string, number> = { tasks: n };
    row.engineArraysMs = await engineMakespan(n, true);
    row.bareArrayMs = await bareMakespan(n);
    if (i === 0) row.enginePerTaskMs = await engineMakespan(n, false);
    row.ratioArrays = Number((row.engineArraysMs / row.bareArrayMs).toFixed(2));
    if (row.enginePerTaskMs) row.ratioPerTask = Number((row.enginePerTaskMs / row.bareArrayMs).toFixed(2));
    makespan.push(row);
    log(`makespan: ${JSON.stringify(row)}`);
  }
  console.log(JSON.stringify({ submit, makespan }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
