import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildJobScript, type ScriptBodyOptions } from './script.js';

function script(
  dir: string,
  command: string,
  over: Partial<ScriptBodyOptions> = {},
): { path: string; marker: string } {
  const marker = join(dir, 'markers', 'job.rc');
  const path = join(dir, 'job.sh');
  writeFileSync(
    path,
    buildJobScript({
      taskId: 't',
      taskName: 't',
      command,
      workingDir: dir,
      env: {},
      exitMarkerPath: marker,
      ...over,
    }),
  );
  return { path, marker };
}

const run = (path: string, env: Record<string, string> = {}) =>
  spawnSync('/bin/bash', [path], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: tmpdir(), ...env },
  });

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('exit marker', () => {
  it('records the exit code of a command that calls exit itself', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-script-'));
    const { path, marker } = script(dir, 'echo hi; exit 3');
    expect(run(path).status).toBe(3);
    expect(readFileSync(marker, 'utf8')).toBe('3\n');
  });

  it('records 0 for a successful command and 97 when the working dir is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-script-'));
    const ok = script(dir, 'true');
    expect(run(ok.path).status).toBe(0);
    expect(readFileSync(ok.marker, 'utf8').trim()).toBe('0');
    const missing = join(dir, 'missing.sh');
    writeFileSync(
      missing,
      buildJobScript({
        taskId: 't',
        taskName: 't',
        command: 'true',
        workingDir: join(dir, 'nope'),
        env: {},
        exitMarkerPath: join(dir, 'm2.rc'),
      }),
    );
    const r = run(missing);
    expect(r.status).toBe(97);
    expect(r.stderr).toContain('ScriptHut: cannot cd into working directory');
    expect(readFileSync(join(dir, 'm2.rc'), 'utf8').trim()).toBe('97');
  });

  it('writes into a marker pre-created empty (same file), and never over one that holds a code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-script-'));
    const { path, marker } = script(dir, 'exit 4');
    mkdirSync(join(dir, 'markers'));
    writeFileSync(marker, '');
    const inode = statSync(marker).ino;
    expect(run(path).status).toBe(4);
    expect(readFileSync(marker, 'utf8')).toBe('4\n');
    expect(statSync(marker).ino).toBe(inode);
    writeFileSync(marker, '143\n'); // a cancel wrote first
    expect(run(path).status).toBe(4);
    expect(readFileSync(marker, 'utf8')).toBe('143\n');
  });

  it('leaves no marker when the job is killed by SIGTERM (the scheduler has the verdict)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-script-'));
    const started = join(dir, 'started');
    const { path, marker } = script(dir, `touch '${started}'; sleep 30`);
    const child = spawn('bash', [path], { detached: true, stdio: 'ignore' });
    const exited = new Promise<number | null>((r) =>
      child.on('exit', (c, s) => r(c ?? (s ? 128 + 15 : null))),
    );
    await until(() => existsSync(started), 'the command to start');
    process.kill(-child.pid!, 'SIGTERM');
    expect(await exited).toBe(143);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('the wrapper survives what the task does', () => {
  it('exec, its own EXIT trap, and set -e in the command cannot remove the exit code', () => {
    for (const [command, code] of [
      ['exec bash -c "exit 5"', 5],
      ["trap 'echo own trap' EXIT; exit 6", 6],
      ['set -e; false; echo never', 1],
      ['trap - EXIT; kill -TERM $BASHPID', '143 signal'],
    ] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'sh-script-'));
      const { path, marker } = script(dir, command);
      const r = run(path);
      expect(r.status, command).toBe(Number.parseInt(String(code), 10));
      expect(readFileSync(marker, 'utf8'), command).toBe(`${code}\n`);
    }
  });

  // The race behind a walltime kill reported as "failed 143": the scheduler signals every process
  // of the job, the command dies first, and this script writes its marker before its own TERM
  // arrives. The marker then says the code came from a signal, so no reader takes it as the verdict.
  it('a command killed by a signal before the job script is signalled leaves `<code> signal`', () => {
    for (const [signal, code] of [
      ['TERM', 143],
      ['KILL', 137],
      ['SEGV', 139],
    ] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'sh-script-'));
      const { path, marker } = script(dir, `sh -c 'kill -${signal} $$'`);
      const r = run(path);
      expect(r.status, signal).toBe(code);
      expect(readFileSync(marker, 'utf8'), signal).toBe(`${code} signal\n`);
    }
    // A command that itself exits with a code above 128 is indistinguishable, and flagged too.
    const dir = mkdtempSync(join(tmpdir(), 'sh-script-'));
    const { path, marker } = script(dir, 'exit 130');
    expect(run(path).status).toBe(130);
    expect(readFileSync(marker, 'utf8')).toBe('130 signal\n');
  });

  it('task variables PATH, HOME and IFS do not break the wrapper; the command sees them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-script-'));
    const { path, marker } = script(dir, 'echo "PATH=$PATH HOME=$HOME"; ls; exit 3', {
      env: { PATH: '/nonexistent', HOME: '/nowhere', IFS: '/' },
    });
    const r = run(path);
    expect(r.status).toBe(3);
    expect(r.stdout).toContain('PATH=/nonexistent HOME=/nowhere');
    expect(r.stdout).toMatch(/^Started: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    expect(r.stdout).toMatch(/^Finished: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    expect(r.stdout).toContain('Exit code: 3');
    expect(r.stderr).toMatch(/ls: command not found/);
    expect(r.stderr).not.toMatch(/date|hostname|mkdir|mv/);
    expect(readFileSync(marker, 'utf8')).toBe('3\n');
  });

  it('a marker under ~ and a working dir under ~ use the real home, not a task HOME', () => {
    const home = mkdtempSync(join(tmpdir(), 'sh-home-'));
    mkdirSync(join(home, 'work'));
    const path = join(home, 'job.sh');
    writeFileSync(
      path,
      buildJobScript({
        taskId: 't',
        taskName: 't',
        command: 'pwd; exit 2',
        workingDir: '~/work',
        env: { HOME: '/nowhere' },
        exitMarkerPath: '~/m/job.rc',
      }),
    );
    const r = run(path, { HOME: home });
    expect(r.status).toBe(2);
    expect(r.stdout).toContain(`${home}/work\n`);
    expect(readFileSync(join(home, 'm/job.rc'), 'utf8')).toBe('2\n');
  });

  it('a working dir starting with "-" is a directory, not a cd option', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-script-'));
    mkdirSync(join(dir, '-P'));
    const path = join(dir, 'job.sh');
    writeFileSync(
      path,
      buildJobScript({ taskId: 't', taskName: 't', command: 'pwd', workingDir: '-P', env: {} }),
    );
    const r = spawnSync('/bin/bash', [path], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${dir}/-P\n`);
  });

  it('refuses variable names reserved for the wrapper', () => {
    expect(() =>
      buildJobScript({
        taskId: 't',
        taskName: 't',
        command: 'true',
        workingDir: '~',
        env: { __SCRIPTHUT_MARKER: 'x' },
      }),
    ).toThrow(/reserved for ScriptHut's job script \(__SCRIPTHUT_\*\): __SCRIPTHUT_MARKER/);
  });
});
