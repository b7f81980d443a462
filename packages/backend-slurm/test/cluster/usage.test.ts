/**
 * Usage accounting on the real local Slurm (22.05, jobacct_gather/linux): the engine completes
 * tasks through the exit markers, then fills their usage from ONE `sacct` per poll.
 */
import { Engine, parseTaskDocument, type RunStatus, type TaskRecord } from '@scripthut/core';
import { MemoryRunStore } from '@scripthut/core/testing';
import { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlurmBackend } from '../../src/backend.js';
import { clusterEnv, RUN, sleep } from './helpers.js';

const LOGS = `~/scripthut-test-logs/${RUN}-usage`;
let ssh: SshConnection;
let store: MemoryRunStore;
let engine: Engine;
const polls: { at: number; end: number }[] = [];

beforeAll(async () => {
  ssh = new SshConnection(
    {
      host: clusterEnv('SSH_HOST'),
      port: Number(clusterEnv('SSH_PORT')),
      user: clusterEnv('SSH_USER'),
      keyPath: clusterEnv('SSH_KEY'),
      knownHostsPath: clusterEnv('SSH_KNOWN_HOSTS'),
    },
    { commandLogSize: 20_000 },
  );
  store = new MemoryRunStore();
  const backend = createSlurmBackend({
    name: 'local',
    ssh,
    maxConcurrent: 200,
    cloneDir: '~/scripthut-repos',
    markerDir: '~/.cache/scripthut/markers-test',
    user: clusterEnv('SSH_USER'),
  });
  engine = new Engine({ store, backends: [backend], pollIntervalMs: 1000, clusterInfoIntervalMs: 0 });
  engine.events.on('poll', ({ at, durationMs }) => {
    const start = Date.parse(at);
    polls.push({ at: start, end: start + durationMs });
  });
  await engine.start();
});

afterAll(async () => {
  await engine?.stop();
  await ssh?.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-usage`).catch(() => undefined);
  await ssh?.close();
});

async function waitFor(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const DONE: RunStatus[] = ['completed', 'failed', 'cancelled'];
const usageSettled = (ts: TaskRecord[]) => ts.every((t) => t.usage && t.usage.status !== 'pending');

describe('usage on the real Slurm', () => {
  it('a task holding ~200 MB after ~1 CPU-second reports node, start, end, elapsed, CPU time and MaxRSS within 1.5×', async () => {
    const program = [
      'import time',
      'b = bytearray(200 * 1024 * 1024)',
      'for i in range(0, len(b), 4096): b[i] = 1',
      't = time.process_time()',
      'while time.process_time() - t < 1.0: pass',
      'time.sleep(3)',
    ].join('\n');
    const { tasks } = parseTaskDocument(
      {
        tasks: [
          {
            id: 'mem.burn',
            name: 'burn',
            command: `python3 - <<'PY'\n${program}\nPY`,
            memory: '1G',
            time_limit: '0:05:00',
          },
        ],
      },
      { knownEnvironments: [] },
    );
    const run = engine.createRun({
      workflowName: 'usage',
      backendName: 'local',
      origin: { kind: 'adhoc' },
      tasks,
      maxConcurrent: null,
      logDir: LOGS,
    });
    await waitFor('the run to finish', () => DONE.includes(engine.summary(run.id)!.status), 120_000);
    expect(engine.summary(run.id)!.status).toBe('completed');
    await waitFor('the usage', () => usageSettled(store.allTasks(run.id)), 120_000);
    const t = store.getTask(run.id, 'mem.burn')!;
    const u = t.usage!;
    expect(u).toMatchObject({ status: 'ok', source: 'sacct', allocCpus: 1, reqMemBytes: 1024 ** 3 });
    expect(t.node).toBeTruthy();
    expect(t.startedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(t.finishedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    // the truth: ≥ 1 CPU-second, 200 MB resident, ≥ 3 s of wall time
    expect(u.cpuTimeSec!).toBeGreaterThanOrEqual(1 / 1.5);
    expect(u.cpuTimeSec!).toBeLessThanOrEqual(1 * 1.5);
    const mb200 = 200 * 1024 * 1024;
    expect(u.maxRssBytes!).toBeGreaterThanOrEqual(mb200 / 1.5);
    expect(u.maxRssBytes!).toBeLessThanOrEqual(mb200 * 1.5);
    expect(u.elapsedSec!).toBeGreaterThanOrEqual(3);
    expect(u.elapsedSec!).toBeLessThanOrEqual(3 * 1.5 + 5);
    expect(Date.parse(t.finishedAt!) - Date.parse(t.startedAt!)).toBe(u.elapsedSec! * 1000);
    console.log(
      `sacct: node ${t.node}, elapsed ${u.elapsedSec} s, CPU ${u.cpuTimeSec} s, MaxRSS ${u.maxRssBytes} B (truth ≥ 1 s, 209715200 B)`,
    );
  });

  it('100 tasks finishing: every one gets its usage, with at most one sacct per poll', async () => {
    const { tasks } = parseTaskDocument(
      {
        tasks: Array.from({ length: 100 }, (_, i) => ({
          id: `many.${i}`,
          name: `many ${i}`,
          command: 'true',
          memory: '20M',
          time_limit: '0:05:00',
        })),
      },
      { knownEnvironments: [] },
    );
    const logStart = ssh.commandLog().length;
    const pollStart = polls.length;
    const run = engine.createRun({
      workflowName: 'usage-many',
      backendName: 'local',
      origin: { kind: 'adhoc' },
      tasks,
      maxConcurrent: null,
      logDir: LOGS,
    });
    await waitFor('the run to finish', () => DONE.includes(engine.summary(run.id)!.status), 240_000);
    expect(engine.summary(run.id)!.status).toBe('completed');
    await waitFor('the usage', () => usageSettled(store.allTasks(run.id)), 240_000);
    const records = store.allTasks(run.id);
    expect(records.filter((t) => t.usage?.status === 'ok')).toHaveLength(100);
    expect(records.every((t) => t.startedAt && t.finishedAt && t.node)).toBe(true);
    const sacct = ssh
      .commandLog()
      .slice(logStart)
      .filter((e) => /\bsacct\b/.test(e.command))
      .map((e) => Date.parse(e.at));
    const ticks = polls.slice(pollStart);
    expect(sacct.length).toBeGreaterThan(0);
    let maxPerPoll = 0;
    for (const p of ticks) {
      const n = sacct.filter((at) => at >= p.at && at <= p.end).length;
      maxPerPoll = Math.max(maxPerPoll, n);
    }
    // every sacct ran inside a poll (tick), and no poll ran more than one
    const inside = sacct.filter((at) => ticks.some((p) => at >= p.at && at <= p.end)).length;
    expect(inside).toBe(sacct.length);
    expect(maxPerPoll).toBe(1);
    console.log(
      `100 tasks: ${sacct.length} sacct calls over ${ticks.length} polls (max ${maxPerPoll} per poll)`,
    );
  });
});
