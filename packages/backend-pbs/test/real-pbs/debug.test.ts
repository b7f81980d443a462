/**
 * Debug of a task on the real OpenPBS (issue 22): the runtime's debug job (shared with Slurm:
 * packages/runtime/src/debug-jobs.ts) submitted through the real PBS backend with the task's
 * resources and environment opens a tmux session on the node; the task's variable is visible in
 * it and the original command runs there (driven with `tmux send-keys`/`capture-pane` over SSH as
 * the job user, `pbsuser`: the single-node OpenPBS runs its jobs on the login host); Release (one
 * command on the login node, as on Slurm) ends the job with exit status 0.
 */
import type { RunRecord, TaskRecord } from '@scripthut/core';
import { shellJoin } from '@scripthut/core';
import { taskSpec } from '@scripthut/core/testing';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The runtime is not a dependency of the backend (it depends on it); its debug module is imported
// from source, as the runtime itself uses it.
import {
  type DebugSession,
  debugTrackedJob,
  releaseCommand,
  submitDebugJob,
} from '../../../runtime/src/debug-jobs.js';
import type { PbsBackend } from '../../src/backend.js';
import { connect, HISTORY, MODE, makeBackend, pbsEnv, RUN, until } from './helpers.js';

const LOGS = `~/scripthut-test-logs/${RUN}-debug`;
const ORIGINAL = 'echo "probe=$DEBUG_PROBE in $PWD"; exit 3';

let ssh: SshConnection;
let observer: SshConnection;
let backend: PbsBackend;
let debug: DebugSession | null = null;

beforeAll(async () => {
  ssh = connect();
  observer = connect();
  backend = makeBackend(ssh);
  await observer.exec(`mkdir -p "$HOME"/scripthut-test-logs/${RUN}-debug/wd`);
});
afterAll(async () => {
  if (debug) {
    await observer?.exec(shellJoin(['tmux', '-L', debug.session, 'kill-server'])).catch(() => undefined);
    await backend?.cancel([debugTrackedJob(debug)]).catch(() => undefined);
  }
  await observer?.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-debug`).catch(() => undefined);
  await backend?.close();
  await observer?.close();
});

function failedTask(): { run: RunRecord; task: TaskRecord } {
  const run: RunRecord = {
    id: RUN,
    workflowName: 'debug-test',
    backendName: 'pbs',
    origin: { kind: 'workflow', name: 'debug-test' },
    createdAt: new Date().toISOString(),
    maxConcurrent: null,
    logDir: LOGS,
    baseDir: null,
    git: null,
    cancelRequestedAt: null,
    environments: {},
  };
  const spec = taskSpec('flaky', {
    command: ORIGINAL,
    workingDir: `${LOGS}/wd`,
    cpus: 2,
    memory: '256M',
    memoryMiB: 256,
    timeLimit: '0:07:00',
    timeLimitSeconds: 420,
    envVars: { DEBUG_PROBE: "it's here" },
  });
  const task: TaskRecord = {
    runId: RUN,
    seq: 3,
    spec,
    state: 'failed',
    submitTag: null,
    jobId: '1.pbshost',
    pendingReason: null,
    exitCode: 3,
    error: null,
    script: null,
    stdoutPath: null,
    stderrPath: null,
    submittedAt: null,
    startedAt: null,
    finishedAt: null,
    node: null,
    meta: {},
    version: 1,
  };
  return { run, task };
}

/** `tmux -L <session> …` on the node as the job user (the node is the login host here). */
async function tmux(session: string, ...args: string[]): Promise<{ out: string; rc: number }> {
  const r = await observer.exec(shellJoin(['tmux', '-L', session, ...args]));
  return { out: r.stdout, rc: r.exitCode };
}

async function screenWith(session: string, text: string): Promise<string> {
  return until(`"${text}" in the debug session`, async () => {
    const r = await tmux(session, 'capture-pane', '-p', '-J', '-S', '-200', '-t', session);
    return r.rc === 0 && r.out.includes(text) ? r.out : null;
  });
}

describe(`debug of a task on OpenPBS ${pbsEnv('PBS_VERSION')}, job history ${MODE}`, () => {
  it("opens the task's environment in tmux on the node, runs the original command there, and Release ends the job with 0", async () => {
    const { run, task } = failedTask();
    debug = await submitDebugJob(backend, run, task);
    const s = debug;
    expect(s.session).toMatch(/^db[a-z0-9]+$/);
    expect(s.stdoutPath).toBe(`${LOGS}/${s.session}.debug.out`);

    // the job has the task's resources
    const full = (await observer.exec(shellJoin(['qstat', '-f', s.jobId]))).stdout.replace(/\n\t/g, '');
    expect(full).toMatch(/Resource_List\.ncpus = 2\b/);
    expect(full).toMatch(/Resource_List\.walltime = 00:07:00/);

    await until('the debug job to run', async () => {
      const st = (await backend.status([debugTrackedJob(s)])).get(s.jobId);
      return st?.state === 'running' ? st : null;
    });
    const banner = await screenWith(s.session, 'Run it with');
    expect(banner).toContain('== ScriptHut debug session: task flaky of run');
    expect(banner).toContain(ORIGINAL);

    // the task's variable and working directory, then the original command, in the session
    await tmux(s.session, 'send-keys', '-t', s.session, 'echo "seen=$DEBUG_PROBE at $PWD"', 'Enter');
    const home = pbsEnv('USER_HOME');
    await screenWith(s.session, `seen=it's here at ${home}/scripthut-test-logs/${RUN}-debug/wd`);
    await tmux(
      s.session,
      'send-keys',
      '-t',
      s.session,
      'bash "$SCRIPTHUT_DEBUG_DIR/command.sh"; echo "rc=$?"',
      'Enter',
    );
    const ran = await screenWith(s.session, 'rc=3');
    expect(ran).toContain(`probe=it's here in ${home}/scripthut-test-logs/${RUN}-debug/wd`);

    // still waiting: releasing is the user's call
    expect((await backend.status([debugTrackedJob(s)])).get(s.jobId)?.state).toBe('running');

    // Release: one command on the login node (the runtime runs it through the backend's runner)
    const r = await backend.commandRunner().exec(releaseCommand(s), { timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const done = await until('the released debug job to end', async () => {
      const st = (await backend.status([debugTrackedJob(s)])).get(s.jobId);
      return st && st.state !== 'running' && st.state !== 'pending' && st.state !== 'unknown' ? st : null;
    });
    expect(done.state).toBe('completed');
    expect(done.exitCode).toBe(0);
    expect((await tmux(s.session, 'has-session', '-t', s.session)).rc).not.toBe(0);
    if (HISTORY) {
      const f = (await observer.exec(shellJoin(['qstat', '-x', '-f', s.jobId]))).stdout;
      expect(f).toMatch(/job_state = F/);
      expect(f).toMatch(/Exit_status = 0\b/);
    } else {
      const q = await observer.exec(shellJoin(['qstat', s.jobId]));
      expect(q.stderr).toMatch(/Unknown Job Id/);
    }
    const out = await until('the debug job output', async () => {
      const t = (await observer.exec(`cat -- ${LOGS.replace('~', '"$HOME"')}/${s.session}.debug.out`)).stdout;
      return t.includes('ended') ? t : null;
    });
    expect(out).toContain(`ScriptHut debug session ${s.session} is ready on`);
    expect(out).toContain(`ScriptHut debug session ${s.session} released`);
    debug = null;
  });
});
