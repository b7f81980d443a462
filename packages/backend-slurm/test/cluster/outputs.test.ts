/**
 * Task outputs on the real Slurm cluster: jobs write into SCRIPTHUT_OUTPUT_DIR (created by the job
 * script on the compute node), the engine lists the output directories of all ended tasks with ONE
 * command per tick (counted in the SSH command log), and a recorded PNG reads back byte for byte.
 */
import { Engine, parseTaskDocument, type RunStatus } from '@scripthut/core';
import { MemoryRunStore } from '@scripthut/core/testing';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, makeBackend, RUN, sleep } from './helpers.js';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
const LOGS = `~/scripthut-test-logs/${RUN}-outputs`;
let ssh: SshConnection;
let store: MemoryRunStore;
let engine: Engine;
let backend: ReturnType<typeof makeBackend>;

beforeAll(async () => {
  ssh = connect();
  store = new MemoryRunStore();
  backend = makeBackend(ssh, 10);
  engine = new Engine({
    store,
    backends: [backend],
    pollIntervalMs: 1000,
    clusterInfoIntervalMs: 0,
    outputStore: store,
  });
  await engine.start();
});

afterAll(async () => {
  await engine?.stop();
  await ssh?.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-outputs`).catch(() => undefined);
  await ssh?.close();
});

describe('task outputs on Slurm (real cluster)', () => {
  it('records every task once, with ONE listing command per tick, and reads back a PNG', async () => {
    const N = 6;
    const doc = {
      tasks: Array.from({ length: N }, (_, i) => ({
        id: `t${i}`,
        name: `t${i}`,
        memory: '50M',
        time_limit: '0:05:00',
        command: [
          `printf '%s' '${PNG.toString('base64')}' | base64 -d >"$SCRIPTHUT_OUTPUT_DIR/plot.png"`,
          `printf '# task ${i}\\n' >"$SCRIPTHUT_TASK_SUMMARY"`,
          `printf 'part ${i}\\n' >"$SCRIPTHUT_RUN_SUMMARY"`,
          i === 0 ? 'exit 2' : 'true',
        ].join('\n'),
      })),
    };
    const { tasks } = parseTaskDocument(doc, { knownEnvironments: [] });
    const run = engine.createRun({
      workflowName: 'outputs',
      backendName: 'local',
      origin: { kind: 'adhoc' },
      tasks,
      maxConcurrent: null,
      logDir: LOGS,
    });
    const deadline = Date.now() + 180_000;
    let status: RunStatus | undefined;
    for (;;) {
      status = engine.summary(run.id)?.status;
      const listed = tasks.filter((t) => store.getTaskOutputs(run.id, t.id)).length;
      if (status !== 'running' && status !== 'pending' && listed === N) break;
      if (Date.now() > deadline) throw new Error(`not done: ${status}, ${listed}/${N} listed`);
      await sleep(300);
    }
    expect(status).toBe('failed'); // t0 exits 2: its outputs are recorded all the same
    for (let i = 0; i < N; i++) {
      const l = store.getTaskOutputs(run.id, `t${i}`)!;
      expect(l.missing).toBe(false);
      expect(l.files.map((f) => [f.path, f.size])).toEqual([
        ['plot.png', PNG.length],
        ['task-summary.md', `# task ${i}\n`.length],
      ]);
      expect(l.taskSummary?.text).toBe(`# task ${i}\n`);
      expect(l.runSummary?.text).toBe(`part ${i}\n`);
    }
    const listings = backend.commandLog!().filter((e) =>
      e.command.startsWith('list the output directories of'),
    );
    const listed = listings.map((e) => Number(/of (\d+) task/.exec(e.command)![1]));
    expect(listed.reduce((a, b) => a + b, 0)).toBe(N); // each task listed once
    expect(listings.length).toBeLessThanOrEqual(N);
    const home = (await ssh.exec('printf %s "$HOME"')).stdout;
    const dir = `${home}/scripthut-test-logs/${RUN}-outputs/outputs/${run.id}/tasks/t3`;
    const bytes = await backend.readOutputFile!(dir, 'plot.png', 1_000_000);
    expect(bytes.equals(PNG)).toBe(true);
  });
});
