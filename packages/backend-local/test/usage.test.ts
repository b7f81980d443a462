import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrackedJob, UsageReport } from '@scripthut/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createLocalBackend,
  findGnuTime,
  type LocalBackend,
  localUsage,
  parseTimeOutput,
} from '../src/index.js';
import { makeRequest, tracked, waitForStatus } from './helpers.js';

let dir: string;
let backend: LocalBackend;
const pids: number[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-local-usage-'));
  backend = createLocalBackend({
    name: 'local',
    maxConcurrent: 4,
    spoolDir: join(dir, 'spool'),
    killGraceMs: 500,
  });
});
afterEach(async () => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  }
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

async function submit(id: string, command: string): Promise<TrackedJob> {
  const req = makeRequest(join(dir, 'logs'), id, command, {}, { cpus: 2, memory: '1G', memoryMiB: 1024 });
  const [o] = await backend.submit([req]);
  if (!o?.ok) throw new Error(`submit failed: ${JSON.stringify(o)}`);
  const pid = (o.meta as { pid?: number }).pid;
  if (pid) pids.push(pid);
  return tracked(o.jobId, req);
}

async function usageOf(job: TrackedJob, timeoutMs = 15_000): Promise<UsageReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const u = (await backend.fetchUsage([job])).get(job.jobId)!;
    if (u.kind !== 'pending' || Date.now() > deadline) return u;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('parseTimeOutput', () => {
  it('reads the last usage line (GNU time puts "Command exited with non-zero status" before it)', () => {
    expect(
      parseTimeOutput('Command exited with non-zero status 3\nscripthut-usage 4.02 0.91 0.12 214800\n'),
    ).toEqual({
      elapsedSec: 4.02,
      cpuTimeSec: 1.03,
      maxRssBytes: 214800 * 1024,
    });
    expect(parseTimeOutput('Command terminated by signal 9\n')).toBeNull();
    expect(parseTimeOutput('scripthut-usage 1.00 0.00 0.00 0')).toMatchObject({ maxRssBytes: null });
  });
});

describe('localUsage without GNU time', () => {
  it('is unavailable with the reason, never zeros', () => {
    const u = localUsage({
      jobId: 'abc',
      record: { submittedAt: '2030-01-01T00:00:00Z', cpus: 1, usagePath: null },
      endedAt: '2030-01-01T00:00:01Z',
      alive: false,
      node: 'h',
    });
    expect(u).toEqual({ kind: 'unavailable', reason: expect.stringMatching(/GNU time .* was not found/) });
  });
});

describe.runIf(findGnuTime() !== null)('local usage (GNU time on this host)', () => {
  it('a job tree holding ~200 MB after ~1 CPU-second: wall, CPU of the process tree and peak RSS within 1.5×', async () => {
    // the work runs in a grandchild process (python started by a subshell in the background)
    const program =
      'import time\nb = bytearray(200 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1\nt = time.process_time()\nwhile time.process_time() - t < 1.0: pass\ntime.sleep(1)';
    const job = await submit('burn', `( python3 -c '${program}' & wait ); exit 3`);
    const st = await waitForStatus(backend, job, (s) => s.state === 'failed');
    expect(st.exitCode).toBe(3);
    const u = await usageOf(job);
    if (u.kind !== 'ok') throw new Error(`usage not ok: ${JSON.stringify(u)}`);
    expect(u).toMatchObject({ node: hostname(), allocCpus: 2, reqMemBytes: 1024 ** 3 });
    expect(u.cpuTimeSec!).toBeGreaterThanOrEqual(1 / 1.5);
    expect(u.cpuTimeSec!).toBeLessThanOrEqual(1.5);
    expect(u.maxRssBytes!).toBeGreaterThanOrEqual((200 * 1024 * 1024) / 1.5);
    expect(u.maxRssBytes!).toBeLessThanOrEqual(200 * 1024 * 1024 * 1.5);
    expect(u.elapsedSec!).toBeGreaterThanOrEqual(2);
    expect(u.startedAt).toBeTruthy();
    expect(u.finishedAt).toBeTruthy();
  });

  it('a cancelled job has no usage: unavailable with the reason', async () => {
    const job = await submit('long', 'sleep 30');
    await waitForStatus(backend, job, (s) => s.state === 'running');
    await backend.cancel([job]);
    const u = await usageOf(job);
    expect(u).toEqual({
      kind: 'unavailable',
      reason: 'the job was cancelled (killed) before its usage was written',
    });
  });
});
