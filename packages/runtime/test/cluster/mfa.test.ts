/**
 * A cluster that wants a second factor at every login, as ScriptHut meets it: the user opens an
 * OpenSSH master once (here with the cluster key, which the backend is NOT given) and the Slurm
 * backend, configured with nothing but `ssh.control_path`, runs a whole workflow through it on the
 * real Slurm. When the master goes away the backend reports the login command and no task fails;
 * when it is back the run resumes and completes. partition_map sends the logical `cpu` to `long`.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummary } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/index.js';

function env(key: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${key}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${key} is not set: the cluster global setup did not run`);
  return v;
}

const ID = `m${randomBytes(3).toString('hex')}`;
const host = env('SSH_HOST');
const port = env('SSH_PORT');
const user = env('SSH_USER');
const dir = mkdtempSync('/tmp/sh-mfa-'); // short: a socket path has at most 107 bytes
const controlPath = join(dir, 'cm-%r@%h:%p');
const REMOTE = `scripthut-test-mfa/${ID}`;
const REMOTE_ABS = `${env('HUT_HOME')}/${REMOTE}`;
let rt: Runtime;

function startMaster(): void {
  const r = spawnSync(
    'ssh',
    [
      ...['-F', '/dev/null', '-M', '-S', controlPath, '-o', 'ControlPersist=yes', '-fN'],
      ...['-i', env('SSH_KEY'), '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes'],
      ...['-o', `UserKnownHostsFile=${env('SSH_KNOWN_HOSTS')}`, '-o', 'StrictHostKeyChecking=yes'],
      ...['-E', join(dir, 'master.log'), '-p', port, `${user}@${host}`],
    ],
    { stdio: 'ignore', timeout: 30_000 },
  );
  if (r.status !== 0) throw new Error(`could not start the master (exit ${r.status})`);
}

function stopMaster(): void {
  spawnSync('ssh', ['-F', '/dev/null', '-S', controlPath, '-O', 'exit', '-p', port, `${user}@${host}`], {
    stdio: 'ignore',
    timeout: 10_000,
  });
}

/** A command on the cluster through the master (test plumbing, not the code under test). */
function remote(command: string, input?: string): string {
  const r = spawnSync('ssh', ['-F', '/dev/null', '-S', controlPath, '-p', port, `${user}@${host}`, command], {
    input,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`${command} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

async function until<T>(what: string, probe: () => T | undefined | false, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const R = { memory: '100M', time_limit: '0:05:00' };
const TASKS = {
  tasks: [
    {
      id: 'first',
      name: 'first',
      partition: 'cpu',
      command: 'echo SITE=$SITE; echo PART=$SLURM_JOB_PARTITION',
      ...R,
    },
    {
      id: 'wait',
      name: 'wait',
      partition: 'cpu',
      deps: ['first'],
      command: `touch ~/${REMOTE}/waiting; while [ ! -e ~/${REMOTE}/go ]; do sleep 1; done; echo WAITED`,
      ...R,
    },
    { id: 'last', name: 'last', deps: ['wait'], command: 'echo LAST; echo PART=$SLURM_JOB_PARTITION', ...R },
  ],
};

beforeAll(async () => {
  startMaster();
  remote(`mkdir -p ~/${REMOTE} && cat > ~/${REMOTE}/tasks.json`, JSON.stringify(TASKS));
  writeFileSync(
    join(dir, 'scripthut.yaml'),
    `backends:
  - name: mfa
    type: slurm
    ssh:
      host: ${host}
      port: ${port}
      user: ${user}
      control_path: ${controlPath}
    partition_map: { cpu: long }
    env:
      - if: { SCRIPTHUT_BACKEND: mfa }
        set: { SITE: mfa-cluster }
workflows:
  - { name: mfa-flow, backend: mfa, command: "cat ~/${REMOTE}/tasks.json" }
`,
  );
  rt = await createRuntime({
    cwd: dir,
    dataDir: join(dir, 'data'),
    pollIntervalMs: 1000,
    logger: { info() {}, warn() {}, error() {} },
  });
  await rt.start();
});

afterAll(async () => {
  await rt?.close();
  try {
    remote(`rm -rf ~/${REMOTE}`);
  } catch {
    // the master may be gone when a test failed
  }
  stopMaster();
  rmSync(dir, { recursive: true, force: true });
});

describe('a Slurm backend with only ssh.control_path', () => {
  it('dry run: the generator runs through the master; partition and environment per task', async () => {
    const dry = await rt.dryRunWorkflow('mfa-flow');
    const first = dry.tasks.find((t) => t.task.id === 'first')!;
    expect(first.environment).toMatchObject({ partition: 'long', requestedPartition: 'cpu', envRules: true });
    expect(first.environment!.variables).toEqual([
      { name: 'SITE', value: 'mfa-cluster', origin: 'backend mfa' },
    ]);
    expect(first.script).toContain('#SBATCH --partition=long');
    const last = dry.tasks.find((t) => t.task.id === 'last')!;
    expect(last.environment).toMatchObject({ partition: null, requestedPartition: null });
    expect(last.script).not.toContain('--partition');
    expect(rt.listRuns().total).toBe(0);
  });

  it('runs a workflow through the master, waits out its loss without failing a task, and resumes', async () => {
    const created = await rt.runWorkflow('mfa-flow');
    const runId = created.run.id;
    const task = (id: string) => rt.getTask(runId, id);
    await until(
      'the wait task to run',
      () => task('wait').state === 'running' && existsSync(`${REMOTE_ABS}/waiting`),
    );
    expect(rt.getBackend('mfa').health.connected).toBe(true);

    stopMaster();
    const login = `ssh -M -S ${controlPath} -o ControlPersist=yes -fN -p ${port} ${user}@${host}`;
    // the engine keeps polling: wait for failed polls that carry the login command
    const view = await until('the backend to report the lost master', () => {
      const b = rt.getBackend('mfa');
      return !b.health.connected && b.lastError?.includes(login) && (b.lastPollAt ?? '') !== ''
        ? b
        : undefined;
    });
    expect(view.health.lastError).toContain(`Log in again with: ${login} (or: scripthut login mfa)`);
    expect(rt.listBackends().find((b) => b.name === 'mfa')!.health.connected).toBe(false);
    // the job finishes while nobody can look: it must be picked up later, not failed now
    writeFileSync(`${REMOTE_ABS}/go`, '');
    const errorsBefore = rt.engine.backendState('mfa')!.consecutiveErrors;
    await until(
      'two more failed polls',
      () => rt.engine.backendState('mfa')!.consecutiveErrors >= errorsBefore + 2,
    );
    const during = rt.getRun(runId);
    expect(during.counts.failed ?? 0).toBe(0);
    expect(['running', 'pending']).toContain(during.status);
    expect(task('wait').state).not.toBe('failed');

    startMaster();
    const done = await until('the run to finish', () => {
      const s = rt.getRun(runId);
      return s.status !== 'running' && s.status !== 'pending' ? s : undefined;
    });
    expect(done as RunSummary).toMatchObject({ status: 'completed', total: 3 });
    expect(done.counts.completed).toBe(3);
    expect(rt.getBackend('mfa').health).toMatchObject({ connected: true, lastError: null });

    const first = (await rt.readTaskLog(runId, 'first', 'stdout')).content;
    expect(first).toContain('SITE=mfa-cluster');
    expect(first).toContain('PART=long');
    expect((await rt.readTaskLog(runId, 'wait', 'stdout')).content).toContain('WAITED');
    // partition_map: the scheduler's own record (accounting may lag behind the end of the run)
    const ids = ['first', 'wait', 'last'].map((id) => task(id).jobId!);
    const parts = await until('accounting to list the three jobs', () => {
      const rows = remote(`sacct -n -X -P -o JobID,Partition -j ${ids.join(',')}`)
        .trim()
        .split('\n')
        .map((l) => l.split('|'));
      return rows.length === 3 && rows.every((r) => r[1]) ? Object.fromEntries(rows) : undefined;
    });
    expect(parts).toEqual({ [ids[0]!]: 'long', [ids[1]!]: 'long', [ids[2]!]: 'normal' });
    expect(task('first').spec.partition).toBe('long');
  });
});
