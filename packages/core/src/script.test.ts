import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildJobScript } from './script.js';

function script(dir: string, command: string): { path: string; marker: string } {
  const marker = join(dir, 'markers', 'job.rc');
  const path = join(dir, 'job.sh');
  writeFileSync(
    path,
    buildJobScript({ taskId: 't', taskName: 't', command, workingDir: dir, env: {}, exitMarkerPath: marker }),
  );
  return { path, marker };
}

describe('exit marker', () => {
  it('records the exit code of a command that calls exit itself', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-script-'));
    const { path, marker } = script(dir, 'echo hi; exit 3');
    expect(spawnSync('bash', [path]).status).toBe(3);
    expect(readFileSync(marker, 'utf8').trim()).toBe('3');
  });

  it('records 0 for a successful command and 97 when the working dir is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-script-'));
    const ok = script(dir, 'true');
    expect(spawnSync('bash', [ok.path]).status).toBe(0);
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
    expect(spawnSync('bash', [missing]).status).toBe(97);
    expect(readFileSync(join(dir, 'm2.rc'), 'utf8').trim()).toBe('97');
  });

  it('leaves no marker when the job is killed by SIGTERM (the scheduler has the verdict)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-script-'));
    const { path, marker } = script(dir, 'sleep 30');
    const child = spawn('bash', [path], { detached: true, stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
    process.kill(-child.pid!, 'SIGTERM');
    const code = await new Promise<number | null>((r) =>
      child.on('exit', (c, s) => r(c ?? (s ? 128 + 15 : null))),
    );
    expect(code).toBe(143);
    expect(existsSync(marker)).toBe(false);
  });
});
