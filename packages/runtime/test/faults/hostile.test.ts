/**
 * Hostile-string corpus: command substitution, backticks, separators, newlines, quotes, `${IFS}`,
 * leading dashes (argument injection), unicode and very long strings, placed in every task field
 * and every config field that reaches a shell. Real runs go through the runtime on the LOCAL
 * backend (this file); Slurm and PBS job scripts rendered from the same tasks are executed with
 * bash in hostile-scripts.test.ts (the corpus and detector: hostile-corpus.ts). Every hostile string tries to create its own canary file; the test asserts that no
 * canary ever appears (searching the temp dirs, $HOME and /tmp).
 *
 * Validation rejecting a hostile value is an acceptable outcome (memory and time_limit must be
 * rejected); executing it is not.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfigText } from '@scripthut/config';
import { ScriptHutError } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRuntime, type Runtime } from '../../src/index.js';
import {
  buildHostileInputs,
  C,
  canaryDir,
  expectNoCanary,
  findCanaries,
  type HostileInputs,
  planted,
  quiet,
  removeRoot,
  root,
  waitRun,
} from './hostile-corpus.js';

afterAll(removeRoot);

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

describe('hostile strings', () => {
  let rt: Runtime;
  let accepted: HostileInputs['accepted'];
  let rejected: HostileInputs['rejected'];
  let taskDocs: HostileInputs['taskDocs'];
  let configAccepted: HostileInputs['configAccepted'];
  let configText: string;

  beforeAll(async () => {
    ({ accepted, rejected, taskDocs, configAccepted, configText } = buildHostileInputs());
    writeFileSync(join(root, 'scripthut.yaml'), configText);
    rt = await createRuntime({ cwd: root, dataDir: join(root, 'data'), pollIntervalMs: 100, logger: quiet });
    await rt.start();
  });

  afterAll(async () => {
    await rt?.close();
  }, 60_000);

  it('the detector works: an executed canary is found', () => {
    const name = `${C}_selftest`;
    planted.set(name, 'selftest');
    execFileSync('bash', ['-c', `touch ${join(canaryDir, name)}`]);
    expect(findCanaries()).toContain(join(canaryDir, name));
    rmSync(join(canaryDir, name));
    planted.delete(name);
    expect(findCanaries()).toEqual([]);
  });

  it('memory and time_limit reject every hostile string; nothing crashed validation', () => {
    expect(accepted.memory ?? 0).toBe(0);
    expect(accepted.time_limit ?? 0).toBe(0);
    expect(rejected.memory).toBeGreaterThan(0);
    // The shell-reaching free-text fields accept most of the corpus: the run below really exercises them.
    expect(accepted.name ?? 0).toBeGreaterThan(10);
    expect(accepted['env_vars.value'] ?? 0).toBeGreaterThan(10);
    expect(accepted.output_file ?? 0).toBeGreaterThan(5);
  });

  it('a real run of every accepted hostile task on the local backend executes no canary', async () => {
    const created = await rt.runWorkflow('hostile-tasks');
    expect(created.total).toBe(taskDocs.length);
    const done = await waitRun(rt, created.run.id);
    // Plain tasks in hostile but valid places still complete: the values were delivered, not executed.
    const tasks = rt.listTasks(created.run.id, { limit: 10_000 }).items;
    const byId = new Map(tasks.map((t) => [t.spec.id, t]));
    for (const doc of taskDocs) {
      const t = byId.get(String(doc.id))!;
      expect(['completed', 'failed', 'dep_failed']).toContain(t.state);
    }
    const envTasks = tasks.filter((t) => t.spec.id.startsWith('env-'));
    for (const t of envTasks) expect(t.state, `${t.spec.id}: ${t.error}`).toBe('completed');
    const valueTasks = tasks.filter((t) => t.spec.envVars.HOSTILE !== undefined);
    for (const t of valueTasks) expect(t.state, `${t.spec.id}: ${t.error}`).toBe('completed');
    expect(done.total).toBe(taskDocs.length);
    expectNoCanary();
  });

  it('config fields (git repo/branch/clone_dir, source url/branch/path, project path) execute no canary', async () => {
    const outcomes: string[] = [];
    for (const c of configAccepted) {
      try {
        if (c.kind === 'workflow') await rt.runWorkflow(c.name);
        else if (c.kind === 'source') await rt.syncSource(c.name);
        else await rt.listProjectWorkflows(c.name);
        outcomes.push(`${c.field}: ok`);
      } catch (e) {
        // A clear ScriptHut error is fine (the clone/path does not exist); a crash is not.
        expect(ScriptHutError.is(e), `${c.kind} ${c.name} (${c.field}) threw ${String(e)}`).toBe(true);
        outcomes.push(`${c.field}: ${(e as ScriptHutError).code}`);
      }
    }
    expect(configAccepted.length).toBeGreaterThan(20);
    expectNoCanary();
  });

  // A NUL byte cannot be passed to a shell: config validation rejects it and names the field.
  it('a NUL byte in git.repo is rejected by config validation', () => {
    const doc = {
      backends: [{ name: 'local', type: 'local' }],
      workflows: [
        { name: 'w', backend: 'local', command: 'true', git: { repo: 'a\u0000b', branch: 'main' } },
      ],
    };
    const issues = validateConfigText(JSON.stringify(doc), 'scripthut.yaml').issues;
    expect(issues.map((i) => i.path)).toContain('workflows[0].git.repo');
  });
});
