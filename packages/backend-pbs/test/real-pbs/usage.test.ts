/**
 * Usage of a finished job on the real OpenPBS: one `qstat -f` (with `-x` when the server keeps job
 * history) gives resources_used; without history the usage is unavailable with the reason.
 */
import { makeSubmitTag, parseTaskDocument, type TrackedJob, type UsageReport } from '@scripthut/core';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PbsBackend } from '../../src/backend.js';
import { connect, HISTORY, MODE, makeBackend, RUN, until } from './helpers.js';

const LOGS = `~/scripthut-test-logs/${RUN}-usage`;
const PROGRAM =
  'import time\nb = bytearray(200 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1\nt = time.process_time()\nwhile time.process_time() - t < 1.0: pass\ntime.sleep(3)';

describe(`PBS usage on the real OpenPBS (job history ${MODE})`, () => {
  let ssh: SshConnection;
  let pbs: PbsBackend;
  beforeAll(() => {
    ssh = connect();
    pbs = makeBackend(ssh);
  });
  afterAll(async () => {
    await ssh?.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-usage`).catch(() => undefined);
    await pbs?.close();
  });

  it('a job holding ~200 MB after ~1 CPU-second: resources_used within 1.5× when the MOM sampled it, null with the reason when not (history on), unavailable (off)', async () => {
    const task = parseTaskDocument(
      {
        tasks: [
          {
            id: 'burn',
            name: 'burn',
            command: `python3 -c '${PROGRAM}'`,
            memory: '1G',
            time_limit: '0:05:00',
          },
        ],
      },
      { knownEnvironments: [] },
    ).tasks[0]!;
    const tag = makeSubmitTag(RUN, 900, 1);
    const [o] = await pbs.submit([
      {
        runId: 'r1',
        taskId: 'burn',
        tag,
        workflowName: 'wf',
        task,
        workingDir: task.workingDir,
        env: {},
        extraInit: '',
        stdoutPath: `${LOGS}/burn.out`,
        stderrPath: `${LOGS}/burn.err`,
        logDir: LOGS,
        git: null,
      },
    ]);
    if (!o?.ok) throw new Error(`not submitted: ${JSON.stringify(o)}`);
    const job: TrackedJob = {
      jobId: o.jobId,
      runId: 'r1',
      taskId: 'burn',
      tag,
      stdoutPath: `${LOGS}/burn.out`,
      stderrPath: `${LOGS}/burn.err`,
      submittedAt: new Date().toISOString(),
      lastState: null,
      meta: {},
    };
    let usage: UsageReport | undefined;
    await until(`usage of ${job.jobId}`, async () => {
      usage = (await pbs.fetchUsage!([job])).get(job.jobId);
      return usage !== undefined && usage.kind !== 'pending';
    });
    if (!HISTORY) {
      expect(usage).toEqual({ kind: 'unavailable', reason: expect.stringMatching(/keeps no job history/) });
      return;
    }
    if (usage?.kind !== 'ok') throw new Error(`usage not ok: ${JSON.stringify(usage)}`);
    console.log(`PBS usage: ${JSON.stringify(usage)}`);
    expect(usage.node).toBeTruthy();
    expect(usage.elapsedSec!).toBeGreaterThanOrEqual(3);
    expect(usage.reqMemBytes).toBe(1024 ** 3);
    // The MOM samples jobs every 10-120 s and not when they end: a sample it took is within 1.5×;
    // without one, CPU time and peak RSS are null with the reason (never the 0 PBS prints).
    if (usage.maxRssBytes === null) {
      expect(usage.cpuTimeSec).toBeNull();
      expect(usage.note).toMatch(/not sampled/);
      return;
    }
    expect(usage.cpuTimeSec!).toBeGreaterThanOrEqual(1 / 1.5);
    expect(usage.cpuTimeSec!).toBeLessThanOrEqual(1.5);
    expect(usage.maxRssBytes).toBeGreaterThanOrEqual((200 * 1024 * 1024) / 1.5);
    expect(usage.maxRssBytes).toBeLessThanOrEqual(200 * 1024 * 1024 * 1.5);
  });
});
