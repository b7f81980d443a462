/**
 * Secret environment variables through a real runtime (config file, SQLite store, local backend):
 * the job gets the values; nothing the runtime shows (runs, tasks, scripts, events, dry runs,
 * config view) contains them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunSummary } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';
import {
  expectNoSecrets,
  SECRETS,
  SERVER_ENV,
  SERVER_ENV_NAMES,
  VISIBLE,
  writeSecretConfig,
} from './fixtures/secrets.js';

describe('secret environment variables through the runtime', () => {
  let dir: string;
  let rt: Runtime;
  const events: unknown[] = [];

  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    for (const n of SERVER_ENV_NAMES) {
      saved[n] = process.env[n];
      process.env[n] = SERVER_ENV[n];
    }
    dir = mkdtempSync(join(tmpdir(), 'sh-secrets-'));
    const configPath = writeSecretConfig(dir);
    rt = await createRuntime({
      configPath,
      cwd: dir,
      dataDir: join(dir, 'data'),
      pollIntervalMs: 200,
      logger: { info() {}, warn() {}, error() {} },
    });
    for (const e of ['task', 'run', 'run-created'] as const)
      rt.events.on(e as 'task', (payload: unknown) => events.push(payload));
    await rt.start();
  });

  afterAll(async () => {
    await rt?.close();
    rmSync(dir, { recursive: true, force: true });
    for (const n of SERVER_ENV_NAMES) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  });

  async function waitDone(runId: string): Promise<RunSummary> {
    for (let i = 0; i < 300; i++) {
      const s = rt.getRun(runId);
      if (s.status !== 'pending' && s.status !== 'running') return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`run ${runId} did not finish`);
  }

  it('a dry run shows the script with secret values as ***, visible ones as they are', async () => {
    const dry = await rt.dryRunWorkflow('wf');
    expectNoSecrets(dry, 'dry run');
    const t = dry.tasks.find((x) => x.task.id === 'show');
    expect(t!.script).toContain(`export HF_TOKEN='***'`);
    expect(t!.script).toContain(`export DB_URL='***'`);
    expect(t!.script).toContain(`export PIN='***'`);
    expect(t!.script).toContain(`export MY_TOKEN='***'`);
    expect(t!.script).toContain(`export SSH_KEY=${VISIBLE.SSH_KEY}`);
    expect(t!.script).toContain(`export PLAIN=${VISIBLE.PLAIN}`);
    expect(t!.task.envVars).toEqual({ MY_TOKEN: '***', NOTE: VISIBLE.NOTE });
  });

  it('the job gets the values; runs, tasks, scripts and events show none of them', async () => {
    const created = await rt.runWorkflow('wf');
    expectNoSecrets(created, 'run creation');
    const done = await waitDone(created.run.id);
    expect(done.status).toBe('completed');
    const log = await rt.readTaskLog(created.run.id, 'show', 'stdout');
    expect(log.content).toContain(
      `${SECRETS.HF_TOKEN}|${SECRETS.DB_URL}|${SECRETS.PIN}|${SECRETS.MY_TOKEN}|${VISIBLE.SSH_KEY}|${VISIBLE.PLAIN}|${VISIBLE.NOTE}|`,
    );

    // local tasks do not inherit the server's secrets, unless inherit_env allows them
    expect((await rt.readTaskLog(created.run.id, 'server-env', 'stdout')).content).toContain(
      'unset|unset|unset|inherited-on-purpose|plain-server-value|',
    );

    const summary = rt.getRun(created.run.id);
    expectNoSecrets(summary, 'getRun');
    expect(summary.run.environments.sec!.variables).toEqual({
      HF_TOKEN: '***',
      DB_URL: '***',
      PIN: '***',
      SSH_KEY: VISIBLE.SSH_KEY,
      PLAIN: VISIBLE.PLAIN,
    });
    expectNoSecrets(rt.listRuns(), 'listRuns');
    const task = rt.getTask(created.run.id, 'show');
    expectNoSecrets(task, 'getTask');
    expect(task.script).toContain(`export MY_TOKEN='***'`);
    expect(task.spec.envVars.MY_TOKEN).toBe('***');
    expectNoSecrets(rt.listTasks(created.run.id), 'listTasks');
    expect(events.length).toBeGreaterThan(3);
    expectNoSecrets(events, 'runtime events');

    // the store keeps the values: a rerun still hands them to the job
    const again = await rt.rerunRun(created.run.id, 'all');
    expectNoSecrets(again, 'rerun');
    expect((await waitDone(again.run.id)).status).toBe('completed');
    expect((await rt.readTaskLog(again.run.id, 'show', 'stdout')).content).toContain(SECRETS.MY_TOKEN);
  });

  it('the config view hides secret variables and the token, in the parsed config and the file text', () => {
    const view = rt.configView();
    expectNoSecrets(view, 'configView');
    expect(view.text).toContain('HF_TOKEN: "***"');
    expect(view.text).toContain(VISIBLE.SSH_KEY);
  });
});
