/**
 * Slurm benchmarks against the local test cluster (scripts/cluster/up.sh; real sshd + Slurm):
 *
 * 1. submit: a 500-task fan-out through the Slurm backend's batched `submit` vs a plain shell loop
 *    of `sbatch` in ONE SSH session (same run, same connection kind; jobs cancelled right after).
 * 2. completion latency: time from a 1-second task's end (mtime of the job's own exit-code marker)
 *    to the engine recording `completed` (engine + quickStatus, poll interval 5 s).
 * 3. scheduler commands per poll with 1, 10 and 100 active runs (squeue/sacct commands counted in
 *    the SshConnection command log over several polls).
 * 4. one status poll of 20,000 tracked jobs vs one of 100 (ids that Slurm does not know, so both
 *    polls also run the accounting query; median of 3), and the SSH round trips each needs.
 *
 * Run: `node --import tsx bench/slurm.ts` (bench/run.ts does). Prints JSON on the last line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSlurmBackend } from '@scripthut/backend-slurm';
import {
  Engine,
  MemoryRunStore,
  makeSubmitTag,
  parseTaskDocument,
  type SubmitRequest,
  type TaskSpec,
  type TrackedJob,
} from '@scripthut/core';
import { SshConnection } from '@scripthut/ssh';

const BASE = process.env.SLB_BASE ?? '/var/lib/scripthut-cluster';
const SUBMIT_TASKS = Number(process.env.BENCH_SUBMIT_TASKS ?? 500);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 6);

function clusterEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(BASE, 'cluster.env'), 'utf8').split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}
const env = clusterEnv();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tagBase = `b${Date.now().toString(36).slice(-5)}`;

/** Retries an operation on transient errors (the shared test sshd may be restarted by fault tests). */
async function retry<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || (e as { code?: string }).code !== 'backend_transient') throw e;
      await sleep(2000);
    }
  }
}

function connect(): SshConnection {
  return new SshConnection(
    {
      host: env.SSH_HOST!,
      port: Number(env.SSH_PORT),
      user: env.SSH_USER!,
      keyPath: env.SSH_KEY!,
      knownHostsPath: env.SSH_KNOWN_HOSTS!,
    },
    { commandLogSize: 100_000 },
  );
}

function backendOn(ssh: SshConnection, maxConcurrent: number) {
  return createSlurmBackend({
    name: 'bench',
    ssh,
    maxConcurrent,
    markerDir: '~/.cache/scripthut/markers-bench',
    user: env.SSH_USER!,
  });
}

function specs(n: number, command: string, prefix = 't'): TaskSpec[] {
  const doc = {
    tasks: Array.from({ length: n }, (_, i) => ({
      id: `${prefix}${i}`,
      name: `${prefix}${i}`,
      command,
      memory: '50M',
      time_limit: '0:05:00',
    })),
  };
  return parseTaskDocument(doc, { knownEnvironments: [] }).tasks;
}

async function cancelByPrefix(ssh: SshConnection, prefix: string): Promise<void> {
  await ssh.exec(`squeue -h --me -o '%i %j' | awk '$2 ~ /^${prefix}/ {print $1}' | xargs -r scancel`, {
    timeoutMs: 120_000,
  });
}

/** 1. Batched submit vs a shell loop of sbatch in one SSH session. */
async function benchSubmit() {
  const ssh = connect();
  const backend = backendOn(ssh, 100_000);
  try {
    await ssh.exec('mkdir -p ~/scripthut-bench/logs');
    const home = (await ssh.exec('echo $HOME')).stdout.trim();
    const logDir = `${home}/scripthut-bench/logs`;
    const tasks = specs(SUBMIT_TASKS, 'true');
    const prefix = `${tagBase}s`;
    const requests: SubmitRequest[] = tasks.map((task, i) => ({
      runId: 'bench000',
      taskId: task.id,
      tag: `${prefix}${i.toString(36)}`,
      workflowName: 'bench',
      task,
      workingDir: '~',
      env: { SCRIPTHUT_RUN_ID: 'bench000' },
      extraInit: '',
      stdoutPath: `${logDir}/${task.id}.out`,
      stderrPath: `${logDir}/${task.id}.err`,
      logDir,
      git: null,
    }));
    await backend.submit(requests.slice(0, 2)); // warm the connection and the home cache
    await cancelByPrefix(ssh, prefix);
    const t0 = performance.now();
    const outcomes = await backend.submit(requests);
    const batchedMs = performance.now() - t0;
    const ok = outcomes.filter((o) => o.ok).length;
    await cancelByPrefix(ssh, prefix);

    // Baseline 2: the same rendered job scripts, one plain `sbatch` each, no bookkeeping.
    const samePrefix = `${tagBase}r`;
    const sameLoop = requests
      .map((req, i) =>
        backend
          .renderScript({ ...req, tag: `${samePrefix}${i.toString(36)}` })
          .replace(/^/, `sbatch --parsable >/dev/null <<'SCRIPTHUT_BENCH_EOF'\n`)
          .concat('\nSCRIPTHUT_BENCH_EOF'),
      )
      .join('\n');
    const t2 = performance.now();
    const r2 = await ssh.exec('bash -s', { stdin: sameLoop, timeoutMs: 900_000 });
    const sameScriptsMs = performance.now() - t2;
    await cancelByPrefix(ssh, samePrefix);
    if (r2.exitCode !== 0) throw new Error(`same-scripts sbatch loop failed: ${r2.stderr}`);

    const loopPrefix = `${tagBase}l`;
    const loop = `for i in $(seq 1 ${SUBMIT_TASKS}); do sbatch --parsable -J ${loopPrefix}$i --mem=50M -t 5 -o /dev/null -e /dev/null --wrap=true >/dev/null || exit 1; done`;
    const t1 = performance.now();
    const r = await ssh.exec(loop, { timeoutMs: 900_000 });
    const loopMs = performance.now() - t1;
    await cancelByPrefix(ssh, loopPrefix);
    if (r.exitCode !== 0) throw new Error(`sbatch loop failed: ${r.stderr}`);
    return {
      tasks: SUBMIT_TASKS,
      batchedMs: Math.round(batchedMs),
      batchedOk: ok,
      shellLoopMs: Math.round(loopMs),
      sameScriptsLoopMs: Math.round(sameScriptsMs),
      speedup: Number((loopMs / batchedMs).toFixed(2)),
      speedupVsSameScripts: Number((sameScriptsMs / batchedMs).toFixed(2)),
    };
  } finally {
    await ssh.close();
  }
}

/** 2. Time from a 1-second task's end (its marker's mtime) to the recorded completion. */
async function benchLatency() {
  const ssh = connect();
  const probe = connect();
  const backend = backendOn(ssh, 10);
  const store = new MemoryRunStore();
  const engine = new Engine({ store, backends: [backend], pollIntervalMs: 5000, clusterInfoIntervalMs: 0 });
  const recordedAt = new Map<string, number>();
  engine.events.on('task', (e) => {
    if (e.task.state === 'completed' && !recordedAt.has(e.task.spec.id))
      recordedAt.set(e.task.spec.id, Date.now());
  });
  try {
    await engine.start();
    const home = (await retry(() => probe.exec('echo $HOME'))).stdout.trim();
    const samples: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const run = engine.createRun({
        workflowName: 'bench-latency',
        backendName: 'bench',
        origin: { kind: 'adhoc' },
        tasks: specs(1, 'sleep 1', `lat${i}x`),
        maxConcurrent: null,
        logDir: '~/scripthut-bench/latency',
      });
      const deadline = Date.now() + 120_000;
      let task = store.allTasks(run.id)[0]!;
      while (task.state !== 'completed' && Date.now() < deadline) {
        await sleep(50);
        task = store.allTasks(run.id)[0]!;
      }
      if (task.state !== 'completed') throw new Error(`latency task ended ${task.state}: ${task.error}`);
      const marker = `${home}/.cache/scripthut/markers-bench/${task.submitTag}.rc`;
      const st = await retry(() => probe.exec(`stat -c %.3Y ${marker}`));
      const endedAt = Number(st.stdout.trim()) * 1000;
      samples.push(recordedAt.get(task.spec.id)! - endedAt);
    }
    samples.sort((a, b) => a - b);
    return {
      pollIntervalMs: 5000,
      quickStatus: typeof backend.quickStatus === 'function',
      samplesMs: samples.map((s) => Math.round(s)),
      medianMs: Math.round(samples[Math.floor(samples.length / 2)]!),
      maxMs: Math.round(samples[samples.length - 1]!),
    };
  } finally {
    await engine.stop();
    await ssh.close();
    await probe.close();
  }
}

/** 3. squeue/sacct commands per poll with N active runs. */
async function benchCommandsPerPoll(runs: number) {
  const ssh = connect();
  const backend = backendOn(ssh, 10_000);
  const store = new MemoryRunStore();
  const engine = new Engine({ store, backends: [backend], pollIntervalMs: 1000, clusterInfoIntervalMs: 0 });
  const prefix = `cpp${runs}x`;
  try {
    await engine.start();
    const ids: string[] = [];
    for (let r = 0; r < runs; r++) {
      ids.push(
        engine.createRun({
          workflowName: `bench-cpp-${runs}`,
          backendName: 'bench',
          origin: { kind: 'adhoc' },
          tasks: specs(1, 'sleep 300', `${prefix}${r}t`),
          maxConcurrent: null,
          logDir: '~/scripthut-bench/cpp',
        }).id,
      );
    }
    // Wait until every task holds a job.
    const deadline = Date.now() + 180_000;
    const submitted = () => ids.every((id) => store.allTasks(id).every((t) => t.jobId));
    while (!submitted() && Date.now() < deadline) await sleep(200);
    if (!submitted()) throw new Error('tasks were not all submitted');
    await sleep(1500);
    const polls: number[] = [];
    const onPoll = () => polls.push(Date.now());
    engine.events.on('poll', onPoll);
    const start = ssh.commandLog().length;
    while (polls.length < 6) await sleep(100);
    engine.events.off('poll', onPoll);
    const cmds = ssh.commandLog().slice(start);
    const count = (re: RegExp) => cmds.filter((c) => re.test(c.command)).length;
    const result = {
      activeRuns: runs,
      polls: polls.length,
      squeuePerPoll: Number((count(/\bsqueue\b/) / polls.length).toFixed(2)),
      sacctPerPoll: Number((count(/\bsacct\b/) / polls.length).toFixed(2)),
      sshCommandsPerPoll: Number((cmds.length / polls.length).toFixed(2)),
    };
    // Cancel (only our runs) and wait until their jobs are gone.
    for (const id of ids) await engine.cancelRun(id);
    const jobIds = new Set(ids.flatMap((id) => store.allTasks(id).map((t) => t.jobId!)));
    for (let i = 0; i < 120; i++) {
      const r = await retry(() => ssh.exec(`squeue -h --me -o '%i'`));
      if (!r.stdout.split('\n').some((l) => jobIds.has(l.trim()))) break;
      await sleep(1000);
    }
    return result;
  } finally {
    await engine.stop();
    await ssh.close();
  }
}

/** 4. One status poll of N tracked jobs (unknown ids: squeue filter + accounting query each time). */
async function benchStatusSize() {
  const ssh = connect();
  const backend = backendOn(ssh, 10);
  const now = new Date().toISOString();
  const jobs = (n: number): TrackedJob[] =>
    Array.from({ length: n }, (_, i) => ({
      jobId: String(900_000_000 + i),
      runId: 'bench',
      taskId: `t${i}`,
      tag: makeSubmitTag('feedf00d', i, 1),
      stdoutPath: null,
      stderrPath: null,
      submittedAt: now,
      lastState: 'running',
      meta: {},
    }));
  const measure = async (n: number) => {
    const list = jobs(n);
    const times: number[] = [];
    let execs = 0;
    for (let i = 0; i < 3; i++) {
      const before = ssh.commandLog().length;
      const t = performance.now();
      await retry(() => backend.status(list));
      times.push(performance.now() - t);
      execs = ssh.commandLog().length - before;
    }
    times.sort((a, b) => a - b);
    return { jobs: n, medianMs: Math.round(times[1]!), sshRoundTrips: execs };
  };
  try {
    await backend.homeDir!();
    const small = await measure(100);
    const large = await measure(20_000);
    return { small, large, ratio: Number((large.medianMs / small.medianMs).toFixed(2)) };
  } finally {
    await ssh.close();
  }
}

async function main() {
  const statusSize = await benchStatusSize();
  console.error(`status size: ${JSON.stringify(statusSize)}`);
  const submit = await benchSubmit();
  console.error(`submit: ${JSON.stringify(submit)}`);
  const latency = await benchLatency();
  console.error(`latency: ${JSON.stringify(latency)}`);
  const perPoll = [];
  for (const n of [1, 10, 100]) {
    perPoll.push(await benchCommandsPerPoll(n));
    console.error(`per poll: ${JSON.stringify(perPoll.at(-1))}`);
  }
  console.log(JSON.stringify({ submit, latency, perPoll, statusSize }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
