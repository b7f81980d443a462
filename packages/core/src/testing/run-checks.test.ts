import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ArraySupport, SubmitRequest } from '../backend.js';
import type { TaskRecord } from '../domain.js';
import { pollUntil, readTaskLogs, submitTestArray, waitForRunEnd } from './run-checks.js';

const run = promisify(execFile);
/** A runner that runs the command with the real bash, as an SSH connection would remotely. */
const bash = {
  async exec(command: string) {
    const r = await run('bash', ['-c', `${command}\ntrue`]);
    return { stdout: r.stdout, stderr: r.stderr, exitCode: 0 };
  },
};

describe('run checks for scheduler tests', () => {
  it('pollUntil returns the first truthy value, and names what it waited for on timeout', async () => {
    let n = 0;
    expect(await pollUntil('n to reach 3', async () => (++n >= 3 ? n : null), 5_000, 1)).toBe(3);
    await expect(pollUntil('never', async () => null, 20, 5)).rejects.toThrow('timed out waiting for never');
    await expect(
      pollUntil(
        () => `late ${n}`,
        async () => false,
        5,
        1,
      ),
    ).rejects.toThrow('late 3');
  });

  it('waitForRunEnd resolves with the final status and reports the counts when the run does not end', async () => {
    const states = ['running', 'running', 'failed'];
    const engine = { summary: () => ({ status: states.shift() ?? 'failed', counts: { failed: 1 } }) };
    expect(await waitForRunEnd(engine as never, 'r1', 10_000)).toBe('failed');
    const stuck = { summary: () => ({ status: 'running', counts: { running: 2 } }) };
    await expect(waitForRunEnd(stuck as never, 'r2', 10)).rejects.toThrow(
      /run r2 to finish \(\{"running":2\}\)/,
    );
  });

  it('readTaskLogs reads every stdout and stderr in one command, a missing file as cat says', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'run-checks-'));
    writeFileSync(join(dir, 'a.out'), 'line 1\nline 2\n');
    writeFileSync(join(dir, 'a.err'), 'oops\n');
    writeFileSync(join(dir, "it's b.out"), 'b\n');
    const rec = (id: string, out: string, err: string) =>
      ({ spec: { id }, stdoutPath: join(dir, out), stderrPath: join(dir, err) }) as TaskRecord;
    let calls = 0;
    const counting = {
      exec: (c: string) => {
        calls++;
        return bash.exec(c);
      },
    };
    const logs = await readTaskLogs(counting, [
      rec('a', 'a.out', 'a.err'),
      rec('b', "it's b.out", 'none.err'),
    ]);
    expect(calls).toBe(1);
    expect(logs.get('a')).toEqual({ out: 'line 1\nline 2\n', err: 'oops\n' });
    expect(logs.get('b')!.out).toBe('b\n');
    expect(logs.get('b')!.err).toMatch(/none\.err: No such file or directory/);
  });

  it('submitTestArray submits one array and tracks every element; an element refused throws its error', async () => {
    const seen: SubmitRequest[][] = [];
    const arrays = (ok: boolean): ArraySupport => ({
      maxSize: async () => 10,
      key: () => 'k',
      elementJobId: (id, i) => `${id}_${i}`,
      submitArray: async (requests) => {
        seen.push(requests);
        return requests.map((r, i) =>
          ok || i === 0
            ? { taskId: r.taskId, ok: true as const, jobId: `7_${i}`, script: '', meta: { tag: r.tag } }
            : { taskId: r.taskId, ok: false as const, error: 'queue full', transient: false },
        );
      },
    });
    const { requests, jobs } = await submitTestArray(arrays(true), {
      runId: 'abcd1234',
      logDir: '~/logs/',
      size: 3,
      command: 'sleep 1',
    });
    expect(seen).toHaveLength(1);
    expect(requests.map((r) => [r.tag, r.array, r.stdoutPath, r.task.command])).toEqual(
      [0, 1, 2].map((i) => [
        `shabcd1234c${i}1`,
        { tag: 'shabcd1234c01', index: i, size: 3 },
        `~/logs/c${i}.out`,
        'sleep 1',
      ]),
    );
    expect(jobs.map((j) => [j.jobId, j.taskId, j.meta])).toEqual(
      [0, 1, 2].map((i) => [`7_${i}`, `c${i}`, { tag: `shabcd1234c${i}1` }]),
    );
    await expect(
      submitTestArray(arrays(false), { runId: 'abcd1234', logDir: '/l', size: 2, command: 'true' }),
    ).rejects.toThrow('submission of c1 failed: queue full');
  });
});
