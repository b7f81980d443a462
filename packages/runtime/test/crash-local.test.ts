/**
 * Crash safety on the local backend: the control plane is killed with SIGKILL at random moments
 * of a run, restarted on the same data dir each time, and the run must still end with every task
 * ending exactly once and no task submitted twice.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSubmitTag, TERMINAL_TASK_STATES } from '@scripthut/core';
import { openSqliteStore } from '@scripthut/store';
import { describe, expect, it } from 'vitest';

const TASKS = 24;
const KILLS = 8;

function controlPlane(dir: string): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'fixtures/control-plane.ts'), dir, 'crashy'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

function waitReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`control plane exited early (${code}): ${out}`)));
  });
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('kill -9 of the control plane during a run on the local backend', () => {
  it(`survives ${KILLS} kills: every task ends exactly once and nothing is submitted twice`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-crash-'));
    const tasks = Array.from({ length: TASKS }, (_, i) => ({
      id: `t.${i}`,
      name: `task ${i}`,
      command: `sleep 0.$((RANDOM % 6)); echo ${i}`,
      working_dir: dir,
      ...(i >= 4 ? { deps: [`t.${i % 4}`] } : {}),
    }));
    tasks.push({ id: 'end', name: 'end', command: 'echo end', working_dir: dir, deps: ['t.*'] } as never);
    writeFileSync(join(dir, 'tasks.json'), JSON.stringify({ tasks }));
    writeFileSync(
      join(dir, 'scripthut.yaml'),
      `backends:\n  - name: local\n    type: local\n    max_concurrent: 3\nworkflows:\n  - name: crashy\n    backend: local\n    command: cat ${join(dir, 'tasks.json')}\n`,
    );
    for (let i = 0; i < KILLS; i++) {
      const child = controlPlane(dir);
      await waitReady(child);
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 900));
      await kill9(child);
    }
    const last = controlPlane(dir);
    await waitReady(last);
    const store = openSqliteStore(join(dir, 'data', 'scripthut.db'), { readonly: true });
    try {
      const runId = store.listRuns().items[0]!.run.id;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const s = store.summarizeRun(runId)!;
        if (s.status !== 'running' && s.status !== 'pending') break;
        if (Date.now() > deadline) throw new Error(`run did not finish: ${JSON.stringify(s.counts)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const summary = store.summarizeRun(runId)!;
      expect(store.listRuns().total).toBe(1);
      const bad = store
        .allTasks(runId)
        .filter((t) => t.state !== 'completed')
        .map(
          (t) =>
            `${t.spec.id}: ${t.state} ${t.error ?? ''} ${JSON.stringify(store.transitions(runId, t.spec.id).map((x) => [x.to, x.reason]))}`,
        );
      expect(bad).toEqual([]);
      expect(summary.status).toBe('completed');
      expect(summary.counts.completed).toBe(TASKS + 1);

      // Every task reached a terminal state exactly once.
      for (const t of store.allTasks(runId)) {
        const terminal = store
          .transitions(runId, t.spec.id)
          .filter((x) => TERMINAL_TASK_STATES.includes(x.to));
        expect(
          terminal.map((x) => x.to),
          t.spec.id,
        ).toEqual(['completed']);
      }

      // Exactly one local job per task: the spool holds one record per submission.
      const spool = join(dir, 'data', 'local-jobs', 'local');
      const records = readdirSync(spool)
        .filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(join(spool, f), 'utf8')) as { tag: string; taskId: string });
      const perTask = new Map<string, number>();
      for (const r of records) perTask.set(r.taskId, (perTask.get(r.taskId) ?? 0) + 1);
      expect(records.length).toBe(TASKS + 1);
      expect([...perTask.values()].every((n) => n === 1)).toBe(true);
      for (const r of records) expect(parseSubmitTag(r.tag)?.runId).toBe(runId);
    } finally {
      store.close();
      await kill9(last);
    }
  }, 300_000);
});
