import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';

const opened: Runtime[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

async function open(cwd: string, extra: { pollIntervalMs?: number } = {}): Promise<Runtime> {
  const rt = await createRuntime({
    cwd,
    dataDir: join(cwd, 'data'),
    pollIntervalMs: extra.pollIntervalMs ?? 200,
    logger: { info() {}, warn() {}, error() {} },
  });
  opened.push(rt);
  return rt;
}

async function waitFor<T>(fn: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('runtime with the embedded default', () => {
  it('runs the demo workflow to completion on the local backend with no config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-rt-'));
    const rt = await open(dir);
    expect(rt.configSource).toEqual({ kind: 'default' });
    expect(rt.listBackends().map((b) => [b.name, b.type])).toEqual([['local', 'local']]);
    expect(rt.listWorkflows().map((w) => w.name)).toContain('demo');
    await rt.start();
    const created = await rt.runWorkflow('demo');
    const done = await waitFor(() => {
      const s = rt.getRun(created.run.id);
      return s.status === 'running' || s.status === 'pending' ? undefined : s;
    });
    expect(done.status).toBe('completed');
    expect(done.counts.completed).toBe(done.total);
    // the fan-in task ran after every wildcard dependency
    const tasks = rt.listTasks(created.run.id, { limit: 100 }).items;
    const report = tasks.find((t) => t.spec.deps.length > 1)!;
    for (const depId of report.spec.deps) {
      const dep = tasks.find((t) => t.spec.id === depId)!;
      expect(Date.parse(dep.finishedAt!)).toBeLessThanOrEqual(
        Date.parse(report.startedAt ?? report.finishedAt!),
      );
    }
    const log = await rt.readTaskLog(created.run.id, report.spec.id, 'stdout');
    expect(log.content).toContain('ScriptHut Task');
  });

  it('refuses a second engine on the same data dir and names the holder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-rt-'));
    const rt = await open(dir);
    rt.setServerUrl('http://127.0.0.1:9999');
    await expect(open(dir)).rejects.toMatchObject({
      code: 'conflict',
      details: { serverUrl: 'http://127.0.0.1:9999' },
    });
  });

  it('names the known workflows when asked for an unknown one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-rt-'));
    const rt = await open(dir);
    await expect(rt.runWorkflow('nope')).rejects.toThrow(/unknown workflow "nope"; known workflows: demo/);
  });

  it('a failing generator creates no run and reports exit code and stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-rt-'));
    writeFileSync(
      join(dir, 'scripthut.yaml'),
      [
        'backends:',
        '  - name: here',
        '    type: local',
        'workflows:',
        '  - name: broken',
        '    backend: here',
        '    command: "echo oops >&2; exit 4"',
        '  - name: badjson',
        '    backend: here',
        `    command: "echo '{not json'"`,
      ].join('\n'),
    );
    const rt = await open(dir);
    await expect(rt.runWorkflow('broken')).rejects.toThrow(/exited with code 4[\s\S]*oops/);
    await expect(rt.runWorkflow('badjson')).rejects.toMatchObject({ code: 'task_json_invalid' });
    expect(rt.listRuns().total).toBe(0);
  });

  it('dry run renders every task script without submitting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-rt-'));
    const rt = await open(dir);
    const dry = await rt.dryRunWorkflow('demo');
    expect(dry.tasks.length).toBeGreaterThan(2);
    for (const t of dry.tasks) expect(t.script).toContain('#!/bin/bash');
    expect(rt.listRuns().total).toBe(0);
    expect(readFileSync(join(dir, 'data', 'engine.lock'), 'utf8')).toContain(String(process.pid));
  });
});
