/**
 * The debug job's command run by the real bash and tmux of this machine (as on a compute node): it
 * opens a tmux session with the job's environment and working directory, keeps the original
 * command ready to run, waits, and exits 0 once released (its tmux server killed).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DebugSessionStore, debugCommand, releaseCommand } from '../src/debug-jobs.js';

const dir = mkdtempSync(join(tmpdir(), 'scripthut-debug-test-'));
const session = `dbtest${process.pid.toString(36)}`;
let job: ChildProcess | null = null;

afterAll(() => {
  try {
    execFileSync('tmux', ['-L', session, 'kill-server'], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
  job?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(fn: () => T | null | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tmux(...args: string[]): string | null {
  try {
    return execFileSync('tmux', ['-L', session, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return null;
  }
}

describe('debug job command', () => {
  it('opens a tmux session with the task environment, runs the original command on demand, and ends 0 on release', async () => {
    const original = `echo "probe=$DEBUG_PROBE in $(basename "$PWD")" > out.txt; exit 3`;
    const command = debugCommand({ originalCommand: original, session, taskId: 't1', runId: '0a1b2c3d' });
    let stdout = '';
    job = spawn('bash', ['-c', command], {
      cwd: dir,
      env: { ...process.env, DEBUG_PROBE: "it's here", TMUX: '', HOME: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    job.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    const exited = new Promise<number | null>((r) => job!.once('exit', (code) => r(code)));
    await until(() => tmux('has-session', '-t', session) !== null, 'the tmux session');
    expect(stdout).toContain(`ScriptHut debug session ${session} is ready`);
    // the shell in tmux shows how to run the original command
    const screen = await until(() => {
      const s = tmux('capture-pane', '-p', '-t', session);
      return s?.includes('Run it with') ? s : null;
    }, 'the banner');
    expect(screen).toContain(original);
    tmux(
      'send-keys',
      '-t',
      session,
      'bash "$SCRIPTHUT_DEBUG_DIR/command.sh"; echo "rc=$?" >> out.txt',
      'Enter',
    );
    const out = await until(() => {
      try {
        const t = readFileSync(join(dir, 'out.txt'), 'utf8');
        return t.includes('rc=') ? t : null;
      } catch {
        return null;
      }
    }, 'the original command to run');
    expect(out).toBe(`probe=it's here in ${dir.split('/').pop()}\nrc=3\n`);
    // still waiting until released
    expect(job.exitCode).toBeNull();
    execFileSync('tmux', ['-L', session, 'kill-server']);
    expect(await exited).toBe(0);
    expect(stdout).toContain(`ScriptHut debug session ${session} ended`);
  });

  it('releases inside the allocation on Slurm, on the node on PBS, validating what reaches the shell', () => {
    expect(releaseCommand('slurm', { jobId: '42', session: 'db0a1b2c3d1x', node: 'vm' })).toBe(
      'srun --jobid=42 --overlap tmux -L db0a1b2c3d1x kill-server',
    );
    expect(releaseCommand('pbs', { jobId: '7.srv', session: 'db0a1b2c3d1x', node: 'n1/0' })).toBe(
      'ssh -- n1 tmux -L db0a1b2c3d1x kill-server',
    );
    expect(() => releaseCommand('slurm', { jobId: '42', session: '$(x)', node: null })).toThrow(
      /tmux session/,
    );
    expect(() => releaseCommand('pbs', { jobId: '7', session: 'dbx', node: '-oProxyCommand=x' })).toThrow(
      /not a host name/,
    );
  });

  it('remembers debug sessions per task in the data dir', () => {
    const store = new DebugSessionStore(dir);
    const base = {
      runId: 'r1',
      taskId: 't1',
      backend: 'hpc',
      stdoutPath: '/x',
      submittedAt: 'now',
      releasedAt: null,
    };
    store.save({ ...base, session: 'dba', jobId: '1' });
    store.save({ ...base, session: 'dbb', jobId: '2', taskId: 't2' });
    store.save({ ...base, session: 'dba', jobId: '1', releasedAt: 'later' });
    expect(store.forTask('r1', 't1')).toEqual([{ ...base, session: 'dba', jobId: '1', releasedAt: 'later' }]);
    expect(new DebugSessionStore(dir).get('dbb')?.jobId).toBe('2');
  });
});
