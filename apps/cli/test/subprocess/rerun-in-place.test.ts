/**
 * `scripthut run rerun --in-place` through the real CLI (in-process engine, local backend, SQLite):
 * a task fails on a missing file; once the file exists, the same run id runs it again.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cli } from '../harness.js';
import { explain, json, schemas } from '../scenarios.js';

let tmp: string;
let env: NodeJS.ProcessEnv;
const run = (args: string[]) => cli(args, { cwd: tmp, env, timeoutMs: 120_000 });

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'scripthut-cli-rerun-in-place-'));
  const tasks = {
    tasks: [
      { id: 'prep', name: 'Prep', command: 'echo prepared' },
      { id: 'load', name: 'Load', command: `cat ${join(tmp, 'input.csv')}`, deps: ['prep'] },
      { id: 'report', name: 'Report', command: 'echo reported', deps: ['load'] },
    ],
  };
  writeFileSync(join(tmp, 'tasks.json'), JSON.stringify(tasks));
  writeFileSync(
    join(tmp, 'scripthut.yaml'),
    `backends:\n  - name: local\n    type: local\nworkflows:\n  - name: pipeline\n    backend: local\n    command: cat tasks.json\nsettings:\n  poll_interval: 5\n`,
  );
  env = { SCRIPTHUT_DATA_DIR: join(tmp, 'data'), SCRIPTHUT_NO_DAEMON: '1' };
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const attempts = z.array(z.object({ attempt: z.number(), state: z.string(), jobId: z.string().nullable() }));

describe('run rerun --in-place (CLI subprocess)', () => {
  it('reruns the failed tasks under the same run id once the missing file exists', async () => {
    const first = await run(['workflow', 'run', 'pipeline', '--watch', '--interval', '0.3', '--json']);
    expect(first.code, explain(first)).toBe(5);
    const failed = json(first, schemas.runView);
    expect(failed.status).toBe('failed');
    const id = failed.run.id;
    const firstLoad = failed.tasks.find((t) => t.spec.id === 'load')!;
    expect(firstLoad.state).toBe('failed');

    // the flags read plainly; contradictory ones are a usage error
    const contradictory = await run(['run', 'rerun', id, '--in-place', '--new']);
    expect(contradictory.code, explain(contradictory)).toBe(2);
    expect(contradictory.stderr).toContain('--in-place');

    writeFileSync(join(tmp, 'input.csv'), 'a,b\n');
    const again = await run([
      'run',
      'rerun',
      id,
      '--in-place',
      '--failed',
      '--watch',
      '--interval',
      '0.3',
      '--json',
    ]);
    expect(again.code, explain(again)).toBe(0);
    const done = json(again, schemas.runView);
    expect(done.run.id).toBe(id);
    expect(done.status).toBe('completed');
    expect(done.tasks.map((t) => `${t.spec.id}:${t.state}`)).toEqual([
      'prep:completed',
      'load:completed',
      'report:completed',
    ]);

    // run view --json carries the earlier attempt; prep kept its job
    const view = json(await run(['run', 'view', id, '--json']), schemas.runView) as unknown as {
      tasks: { spec: { id: string }; jobId: string; meta: { previousAttempts?: unknown } }[];
    };
    const load = view.tasks.find((t) => t.spec.id === 'load')!;
    expect(load.jobId).not.toBe(firstLoad.jobId);
    expect(attempts.parse(load.meta.previousAttempts)).toEqual([
      expect.objectContaining({ attempt: 1, state: 'failed', jobId: firstLoad.jobId }),
    ]);
    const prep = view.tasks.find((t) => t.spec.id === 'prep')!;
    expect(prep.jobId).toBe(failed.tasks.find((t) => t.spec.id === 'prep')!.jobId);
    expect((await run(['run', 'list', '--json'])).stdout).toContain(id);
    expect(json(await run(['run', 'list', '--json']), schemas.runList).total).toBe(1);

    // every task completed now: in place with only the failed ones is refused, naming why
    const nothing = await run(['run', 'rerun', id, '--in-place', '--failed-only', '--json']);
    expect(json(nothing, schemas.error).error).toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/every task completed/),
    });
  }, 180_000);
});
