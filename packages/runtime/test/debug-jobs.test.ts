/**
 * The debug job's command run by the real bash and tmux of this machine (as on a compute node): it
 * opens a tmux session with the job's environment and working directory, keeps the original
 * command ready to run, waits, and exits 0 once released (the release file created by the login
 * node's release command); a job ended otherwise takes its tmux server with it.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DebugSessionStore, debugCommand, debugReleaseFile, releaseCommand } from '../src/debug-jobs.js';

const dir = mkdtempSync(join(tmpdir(), 'scripthut-debug-test-'));
const session = `dbtest${process.pid.toString(36)}`;
let job: ChildProcess | null = null;

afterAll(() => {
  try {
    execFileSync('tmux', ['-L', session, 'kill-server'], { stdio: 'ignore' });
    execFileSync('tmux', ['-L', `${session}t`, 'kill-server'], { stdio: 'ignore' });
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
  return tmuxOn(session, ...args);
}

function tmuxOn(socket: string, ...args: string[]): string | null {
  try {
    return execFileSync('tmux', ['-L', socket, ...args], {
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
    const stdoutPath = join(dir, `${session}.debug.out`);
    const command = debugCommand({
      originalCommand: original,
      session,
      taskId: 't1',
      runId: '0a1b2c3d',
      releaseFile: debugReleaseFile(stdoutPath),
    });
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
    // Release: the login node's command creates the release file; the job ends its tmux server
    execFileSync('bash', ['-c', releaseCommand({ session, stdoutPath })], {
      env: { ...process.env, HOME: dir },
    });
    expect(await exited).toBe(0);
    expect(stdout).toContain(`ScriptHut debug session ${session} released`);
    expect(stdout).toContain(`ScriptHut debug session ${session} ended`);
    expect(tmux('has-session', '-t', session)).toBeNull();
    expect(existsSync(debugReleaseFile(stdoutPath))).toBe(false);
  });

  it('a debug job ended by the scheduler (SIGTERM) takes its tmux server with it', async () => {
    const name = `${session}t`;
    const command = debugCommand({
      originalCommand: 'true',
      session: name,
      taskId: 't1',
      runId: '0a1b2c3d',
      releaseFile: '~/never.release',
    });
    job = spawn('bash', ['-c', command], {
      cwd: dir,
      env: { ...process.env, TMUX: '', HOME: dir },
      stdio: 'ignore',
      detached: true, // its own process group, as a batch job's
    });
    const exited = new Promise<number | null>((r) =>
      job!.once('exit', (code, signal) => r(code ?? (signal ? -1 : null))),
    );
    const has = () => tmuxOn(name, 'has-session', '-t', name) !== null;
    await until(() => has(), 'the tmux session');
    process.kill(-job.pid!, 'SIGTERM');
    expect(await exited).toBe(143);
    expect(has()).toBe(false);
  });

  it('says so clearly and fails when tmux is not installed on the node', () => {
    // a PATH with the shell tools the script uses, but no tmux
    const bin = join(dir, 'bin-without-tmux');
    mkdirSync(bin);
    for (const tool of ['bash', 'mktemp', 'rm', 'dirname', 'mkdir', 'cat', 'sleep'])
      symlinkSync(
        execFileSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(),
        join(bin, tool),
      );
    const command = debugCommand({
      originalCommand: 'true',
      session: `${session}n`,
      taskId: 't1',
      runId: '0a1b2c3d',
      releaseFile: join(dir, 'n.release'),
    });
    const r = spawnSync(join(bin, 'bash'), ['-c', command], {
      cwd: dir,
      env: { PATH: bin, HOME: dir, HOSTNAME: 'node7' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'ScriptHut debug: tmux is not installed on node7: no debug session; install tmux on the compute nodes',
    );
  });

  it('releases the same way on Slurm and PBS: one quoted command on the login node', () => {
    expect(releaseCommand({ session: 'db0a1b2c3d1x', stdoutPath: '~/logs/db0a1b2c3d1x.debug.out' })).toBe(
      ': > "$HOME"/logs/db0a1b2c3d1x.debug.release',
    );
    expect(releaseCommand({ session: 'db0a1b2c3d1x', stdoutPath: "/l o g's/db0a1b2c3d1x.debug.out" })).toBe(
      `: > '/l o g'\\''s/db0a1b2c3d1x.debug.release'`,
    );
    expect(() => releaseCommand({ session: '$(x)', stdoutPath: '/x.debug.out' })).toThrow(/tmux session/);
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
