/**
 * Rerun in place (issue 21) on the local backend: real processes, a real SQLite store, jobs counted
 * from the local backend's job spool (one record per submitted job).
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSubmitTag, previousAttemptsOf, type RunSummary } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';

let dir: string;
let rt: Runtime;

/** Jobs submitted for a run, as `taskId#attempt`, from the local job spool. */
function spooled(runId: string): string[] {
  const spool = join(dir, 'data', 'local-jobs', 'local');
  return readdirSync(spool)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(spool, f), 'utf8')) as { tag: string; taskId: string })
    .flatMap((r) => {
      const tag = parseSubmitTag(r.tag);
      return tag?.runId === runId ? [`${r.taskId}#${tag.attempt}`] : [];
    })
    .sort();
}

async function waitDone(runId: string): Promise<RunSummary> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = rt.getRun(runId);
    if (s.status !== 'pending' && s.status !== 'running') return s;
    if (Date.now() > deadline) throw new Error(`run ${runId} not done: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sh-rerun-in-place-'));
  mkdirSync(join(dir, 'work'));
  const work = join(dir, 'work');
  const tasks = [
    { id: 'prep', name: 'prep', command: 'echo prepared > prep.txt', working_dir: work },
    // fails until input.csv exists
    { id: 'load', name: 'load', command: 'cat input.csv > loaded.txt', working_dir: work, deps: ['prep'] },
    { id: 'report', name: 'report', command: 'wc -l loaded.txt', working_dir: work, deps: ['load'] },
  ];
  writeFileSync(join(dir, 'tasks.json'), JSON.stringify({ tasks }));
  writeFileSync(
    join(dir, 'scripthut.yaml'),
    `backends:\n  - name: local\n    type: local\nworkflows:\n  - name: pipeline\n    backend: local\n    command: cat ${join(dir, 'tasks.json')}\n`,
  );
  rt = await createRuntime({
    cwd: dir,
    dataDir: join(dir, 'data'),
    pollIntervalMs: 200,
    logger: { info() {}, warn() {}, error() {} },
  });
  await rt.start();
});
afterAll(async () => {
  await rt?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('rerun in place on the local backend', () => {
  it('a task failed on a missing file runs again in the same run once the file exists', async () => {
    const created = await rt.runWorkflow('pipeline');
    const runId = created.run.id;
    const failed = await waitDone(runId);
    expect(failed.status).toBe('failed');
    expect(failed.counts).toMatchObject({ completed: 1, failed: 1, dep_failed: 1 });
    const firstLoad = rt.getTask(runId, 'load');
    expect(firstLoad.exitCode).not.toBe(0);
    expect(spooled(runId)).toEqual(['load#1', 'prep#1']);
    const runsBefore = rt.listRuns().total;

    writeFileSync(join(dir, 'work', 'input.csv'), 'a,b\n1,2\n');
    const again = await rt.rerunRun(runId.slice(0, 5), 'in-place-failed');
    expect(again.run.id).toBe(runId);
    expect(['pending', 'running']).toContain(again.status);
    // while it runs again, another rerun in place is refused
    await expect(rt.rerunRun(runId, 'in-place-all')).rejects.toMatchObject({ code: 'conflict' });

    const done = await waitDone(runId);
    expect(done.status).toBe('completed');
    expect(done.counts).toMatchObject({ completed: 3, failed: 0, dep_failed: 0, pending: 0 });
    expect(rt.listRuns().total).toBe(runsBefore); // no new run
    // prep was not run again; load ran twice (attempts 1 and 2), report once; no job duplicated
    expect(spooled(runId)).toEqual(['load#1', 'load#2', 'prep#1', 'report#1']);
    expect(readFileSync(join(dir, 'work', 'loaded.txt'), 'utf8')).toBe('a,b\n1,2\n');

    const load = rt.getTask(runId, 'load');
    expect(load.jobId).not.toBe(firstLoad.jobId);
    expect(previousAttemptsOf(load)).toEqual([
      expect.objectContaining({ attempt: 1, state: 'failed', jobId: firstLoad.jobId }),
    ]);
    // both attempts' logs exist: the first attempt's stderr names the missing file
    expect(load.stdoutPath).not.toBe(firstLoad.stdoutPath);
    const onDisk = (p: string | null) => p!.replace(/^~(?=\/)/, homedir());
    expect(existsSync(onDisk(firstLoad.stderrPath))).toBe(true);
    expect(readFileSync(onDisk(firstLoad.stderrPath), 'utf8')).toContain('input.csv');
    expect(readFileSync(onDisk(load.stderrPath), 'utf8')).not.toContain('input.csv');
    const history = rt.taskTransitions(runId, 'load').map((t) => `${t.from}>${t.to}`);
    const reset = history.indexOf('failed>pending');
    expect(history[reset - 1]).toMatch(/>failed$/); // attempt 1
    expect(history[reset + 1]).toBe('pending>submitting'); // attempt 2
    expect(history.filter((h) => h === 'pending>submitting')).toHaveLength(2);
    expect(history.at(-1)).toMatch(/>completed$/);
    expect(rt.taskTransitions(runId, 'report').map((t) => `${t.from}>${t.to}`)).toContain(
      'dep_failed>pending',
    );
    expect(rt.taskTransitions(runId, 'prep').some((t) => t.to === 'pending' && t.from !== null)).toBe(false);
  });

  it('refuses in place with only failed tasks when every task completed; all runs every task again', async () => {
    const created = await rt.runWorkflow('pipeline');
    const runId = created.run.id;
    expect((await waitDone(runId)).status).toBe('completed');
    await expect(rt.rerunRun(runId, 'in-place-failed')).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/every task completed/),
    });
    await rt.rerunRun(runId, 'in-place-all');
    expect((await waitDone(runId)).status).toBe('completed');
    expect(spooled(runId)).toEqual(['load#1', 'load#2', 'prep#1', 'prep#2', 'report#1', 'report#2']);
  });
});
