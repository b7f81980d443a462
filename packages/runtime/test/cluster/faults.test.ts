/**
 * Fault tests against the real local Slurm over real SSH (cluster project):
 *
 * a. kill -9 of the control plane at random moments of a 100-task run, at least 10 times: the
 *    control plane is a child process (faults-control-plane.ts) restarted on the same data dir after
 *    every kill. About half the tasks wait for a gate file opened after the 10th kill, so the run
 *    cannot end before it on any machine. Afterwards: sacct lists exactly one job per task (job names are our submit tags;
 *    each tag once; 100 jobs) and every task has exactly one transition into a terminal state.
 *    Run twice: with job arrays (`array: auto`, elements `<id>_<index>` named with their array's
 *    tag: each (array tag, index) once) and with one job per task (`array: off`).
 * b. sshd (with its live sessions) and slurmctld restarted mid-run: the run completes and no task
 *    fails because of the outage.
 *
 * Figures go to stdout with a `[faults]` prefix (docs/reliability.md quotes them).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isTerminalTaskState, parseSubmitTag, type TaskRecord, tagOfJobName } from '@scripthut/core';
import { SshConnection } from '@scripthut/ssh';
import { openSqliteStore } from '@scripthut/store';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/index.js';

const repoRoot = resolve(import.meta.dirname, '../../../..');
const childScript = join(import.meta.dirname, 'faults-control-plane.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function env(key: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${key}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${key} is not set: the cluster global setup did not run`);
  return v;
}

/** A scripthut.yaml (JSON is YAML) with one slurm backend on the test sshd and a fan-out workflow. */
function writeConfig(
  dir: string,
  opts: { tasks: number; maxConcurrent: number; command: string; array?: 'auto' | 'off' },
): string {
  // The generator runs on the login node (over SSH) and prints the task JSON.
  const task = `{"id":"t%s","name":"t%s","command":"${opts.command}","memory":"50M","time_limit":"0:05:00"}`;
  const generator = [
    `printf '{"tasks":['`,
    `for i in $(seq 0 ${opts.tasks - 1}); do [ "$i" -gt 0 ] && printf ','; printf '${task}' "$i" "$i"; done`,
    `printf ']}\\n'`,
  ].join('; ');
  const config = {
    backends: [
      {
        name: 'slurm',
        type: 'slurm',
        ssh: {
          host: env('SSH_HOST'),
          port: Number(env('SSH_PORT')),
          user: env('SSH_USER'),
          key_path: env('SSH_KEY'),
          known_hosts: env('SSH_KNOWN_HOSTS'),
        },
        max_concurrent: opts.maxConcurrent,
        array: opts.array ?? 'auto',
      },
    ],
    workflows: [{ name: 'fanout', backend: 'slurm', command: generator }],
    settings: { poll_interval: 5 },
  };
  const path = join(dir, 'scripthut.yaml');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

function sshConnect(): SshConnection {
  return new SshConnection({
    host: env('SSH_HOST'),
    port: Number(env('SSH_PORT')),
    user: env('SSH_USER'),
    keyPath: env('SSH_KEY'),
    knownHostsPath: env('SSH_KNOWN_HOSTS'),
  });
}

/**
 * Jobs of this run in Slurm accounting: submit tag (from the job name) → job ids; an array element
 * (`<id>_<index>`) is keyed `<array tag>#<index>`. Waits out accounting lag.
 */
async function accountedJobs(runId: string, since: Date, expected: number): Promise<Map<string, string[]>> {
  const ssh = sshConnect();
  try {
    const start = new Date(since.getTime() - 120_000).toISOString().slice(0, 19);
    const look = async () => {
      const r = await ssh.exec(
        `sacct -n -P -X -u ${env('SSH_USER')} --starttime ${start} --format=JobID,JobName`,
        { timeoutMs: 30_000 },
      );
      const byTag = new Map<string, string[]>();
      for (const line of r.stdout.split('\n')) {
        const [id, name] = line.trim().split('|');
        const tag = name ? tagOfJobName(name) : null;
        if (!id || !tag || parseSubmitTag(tag)?.runId !== runId) continue;
        const element = /^\d+_(\d+)$/.exec(id);
        const key = element ? `${tag}#${element[1]}` : tag;
        byTag.set(key, [...(byTag.get(key) ?? []), id]);
      }
      return byTag;
    };
    const count = (m: Map<string, string[]>) => [...m.values()].reduce((n, ids) => n + ids.length, 0);
    let byTag = await look();
    for (let i = 0; i < 30 && count(byTag) < expected; i++) {
      await sleep(2000);
      byTag = await look();
    }
    // One more look a little later: a late duplicate would show up now.
    await sleep(3000);
    byTag = await look();
    return byTag;
  } finally {
    await ssh.close();
  }
}

function terminalTransitions(
  store: ReturnType<typeof openSqliteStore>,
  runId: string,
  taskId: string,
): number {
  return store.transitions(runId, taskId).filter((t) => isTerminalTaskState(t.to)).length;
}

const dirs: string[] = [];
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  dirs.push(d);
  return d;
}

interface Child {
  proc: ChildProcess;
  ready: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  lastStatus: () => { status: string; counts: Record<string, number> } | null;
  stderr: () => string;
}

function startControlPlane(config: string, dataDir: string): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', childScript, config, dataDir, 'fanout'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let last: { status: string; counts: Record<string, number> } | null = null;
  let err = '';
  let buf = '';
  let onReady: (id: string) => void = () => {};
  const ready = new Promise<string>((res) => {
    onReady = res;
  });
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const msg = JSON.parse(line) as {
          event: string;
          runId: string;
          status: string;
          counts: Record<string, number>;
        };
        if (msg.event === 'ready') onReady(msg.runId);
        if (msg.event === 'status') last = { status: msg.status, counts: msg.counts };
      } catch {
        // not ours
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      res({ code, signal });
    }),
  );
  return { proc, ready, exited, lastStatus: () => last, stderr: () => err };
}

/** The accounting key of a task's job (see {@link accountedJobs}). */
function jobKey(t: TaskRecord): string {
  const a = t.meta.array as { tag: string; index: number } | undefined;
  return a ? `${a.tag}#${a.index}` : t.submitTag!;
}

describe.each(['auto', 'off'] as const)(
  'control plane killed with SIGKILL at random moments (real Slurm, array: %s)',
  (array) => {
    it('a 100-task run survives ≥10 kills: one Slurm job per task, one terminal transition per task', async () => {
      const TASKS = 100;
      const MIN_KILLS = 10;
      const dir = tempDir('sh-faults-kill-');
      const dataDir = join(dir, 'data');
      // About half the tasks wait for a gate file that opens after the required kills: with 20 in
      // flight at most, the run cannot end before them, however fast the cluster; until then, kills
      // land in submissions, completions and polls of the other half.
      const gate = join(dir, 'gate');
      const command = `[ $RANDOM -lt 16384 ] || while [ ! -e ${gate} ]; do sleep 1; done; sleep 0.$RANDOM`;
      const config = writeConfig(dir, { tasks: TASKS, maxConcurrent: 20, command, array });
      const startedAt = new Date();
      const t0 = Date.now();
      let kills = 0;
      let runId: string | null = null;
      const killMoments: number[] = [];
      for (let launch = 0; ; launch++) {
        expect(launch, 'too many launches').toBeLessThan(60);
        const child = startControlPlane(config, dataDir);
        const readyOrExit = await Promise.race([
          child.ready.then((id) => ({ id })),
          child.exited.then((x) => ({ exit: x })),
          sleep(90_000).then(() => ({ timeout: true })),
        ]);
        if ('exit' in readyOrExit)
          throw new Error(
            `control plane exited before ready: ${JSON.stringify(readyOrExit.exit)}\n${child.stderr()}`,
          );
        if ('timeout' in readyOrExit) throw new Error(`control plane not ready in 90 s\n${child.stderr()}`);
        runId ??= readyOrExit.id;
        expect(readyOrExit.id).toBe(runId);
        if (kills >= MIN_KILLS) writeFileSync(gate, '');
        if (kills < MIN_KILLS) {
          // A random moment: anywhere from right after start (mid-submission) to several seconds in.
          const delay = Math.floor(Math.random() * 6000);
          const outcome = await Promise.race([
            sleep(delay).then(() => 'kill'),
            child.exited.then(() => 'ended'),
          ]);
          if (outcome === 'kill') {
            child.proc.kill('SIGKILL');
            const x = await child.exited;
            expect(x.signal).toBe('SIGKILL');
            kills++;
            killMoments.push(Date.now() - t0);
            continue;
          }
        } else {
          const x = await Promise.race([child.exited, sleep(600_000).then(() => null)]);
          if (!x) throw new Error(`run did not end in 10 min: ${JSON.stringify(child.lastStatus())}`);
        }
        const last = child.lastStatus();
        expect(last?.status, child.stderr()).toBe('completed');
        break;
      }
      const elapsed = (Date.now() - t0) / 1000;
      expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);

      // ---- the store: every task completed, exactly one terminal transition each.
      const store = openSqliteStore(join(dataDir, 'scripthut.db'), { readonly: true });
      let tasks: TaskRecord[];
      try {
        tasks = store.allTasks(runId!);
        expect(tasks).toHaveLength(TASKS);
        for (const t of tasks) {
          expect(t.state, `${t.spec.id}: ${t.error}`).toBe('completed');
          expect(terminalTransitions(store, runId!, t.spec.id), t.spec.id).toBe(1);
        }
      } finally {
        store.close();
      }

      // ---- Slurm accounting: exactly one job per task, named with the tag the store recorded.
      const byTag = await accountedJobs(runId!, startedAt, TASKS);
      const jobs = [...byTag.values()].flat();
      const duplicates = [...byTag.entries()].filter(([, ids]) => ids.length > 1);
      expect(duplicates).toEqual([]);
      expect(jobs).toHaveLength(TASKS);
      expect(new Set(tasks.map(jobKey)).size).toBe(TASKS);
      for (const t of tasks) {
        expect(byTag.get(jobKey(t)), `${t.spec.id} job ${jobKey(t)}`).toEqual([t.jobId]);
      }
      const elements = tasks.filter((t) => t.meta.array).length;
      if (array === 'off') expect(elements).toBe(0);
      else expect(elements).toBeGreaterThan(0);
      process.stdout.write(
        `[faults] kill-9 (array: ${array}, ${elements} tasks as array elements): ${TASKS} tasks, ${kills} SIGKILLs at ${killMoments.map((m) => (m / 1000).toFixed(1)).join(', ')} s; run ended after ${elapsed.toFixed(0)} s; sacct jobs ${jobs.length}, duplicate tags ${duplicates.length}\n`,
      );
    }, 900_000);
  },
);

describe('sshd and slurmctld restarted mid-run (real Slurm)', () => {
  let rt: Runtime | null = null;
  afterAll(async () => {
    await rt?.close();
  }, 60_000);

  it('the run completes and no task fails because of the outages', async () => {
    const TASKS = 16;
    const dir = tempDir('sh-faults-restart-');
    const config = writeConfig(dir, { tasks: TASKS, maxConcurrent: 6, command: 'sleep 2' });
    rt = await createRuntime({
      configPath: config,
      cwd: dir,
      dataDir: join(dir, 'data'),
      pollIntervalMs: 1000,
      logger: { info() {}, warn() {}, error() {} },
    });
    await rt.start();
    const run = await rt.runWorkflow('fanout');
    const id = run.run.id;
    const completed = () => rt!.getRun(id).counts.completed;
    const until = async (cond: () => boolean, what: string, ms = 180_000) => {
      const deadline = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}: ${JSON.stringify(rt!.getRun(id).counts)}`);
        await sleep(250);
      }
    };
    const script = (name: string, args: string[] = []) => {
      const r = spawnSync(join(env('SCRIPTS_DIR'), name), args, { encoding: 'utf8', timeout: 120_000 });
      if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`);
    };

    await until(() => completed() >= 2, '2 completed tasks');
    const sshdAt = completed();
    script('restart-sshd.sh', ['--down-for', '3']);
    await until(() => completed() >= sshdAt + 3, '3 more completed tasks after the sshd restart');
    const ctldAt = completed();
    script('restart-slurmctld.sh', ['--down-for', '5']);
    await until(() => !['pending', 'running'].includes(rt!.getRun(id).status), 'the end of the run', 300_000);

    const summary = rt.getRun(id);
    const failed = rt.listTasks(id, { states: ['failed', 'dep_failed', 'cancelled'], limit: 100 }).items;
    expect(failed.map((t) => `${t.spec.id}: ${t.error}`)).toEqual([]);
    expect(summary.status).toBe('completed');
    expect(summary.counts.completed).toBe(TASKS);
    expect(rt.getBackend('slurm').health.connected).toBe(true);
    process.stdout.write(
      `[faults] restarts: sshd restarted after ${sshdAt} completed tasks, slurmctld (down 5 s) after ${ctldAt}; ${summary.counts.completed}/${TASKS} completed, 0 failed\n`,
    );
  }, 600_000);
});
