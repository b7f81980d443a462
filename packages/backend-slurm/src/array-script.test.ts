import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SubmitRequest } from '@scripthut/core';
import { buildArraySubmitProgram } from '@scripthut/ssh';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRequest } from '../test/requests.js';
import { MAX_ARRAY_ELEMENT_BYTES, renderSlurmArrayScript, slurmArrayKey } from './array-script.js';
import { parseMaxArraySize, SLURM_ARRAY_PROGRAM, slurmElementJobId } from './array-submission.js';

const dir = mkdtempSync(join(tmpdir(), 'slurm-array-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TAG = 'sh0a1b2c3d11';
function elements(commands: string[], over: Partial<SubmitRequest> = {}): SubmitRequest[] {
  return commands.map((command, index) => {
    const id = `t${index}`;
    const wd = join(dir, `wd${index}`);
    return makeRequest(
      `sh0a1b2c3d${(index + 1).toString(36)}1`,
      { id, name: `task ${id}`, command, workingDir: wd },
      {
        env: { SCRIPTHUT_TASK_ID: id, ONLY_MINE: `value of ${id}` },
        logDir: dir,
        stdoutPath: join(dir, `${id}.out`),
        stderrPath: join(dir, `${id}.err`),
        array: { tag: TAG, index, size: commands.length },
        ...over,
      },
    );
  });
}

const options = (throttle: number | null = null) => ({
  markerPathOf: (tag: string) => join(dir, 'markers', `${tag}.rc`),
  linkDir: join(dir, 'links'),
  throttle,
});

describe('the Slurm array script', () => {
  it('one --array job named by the array tag, shared directives once, logs through per-index links', () => {
    const reqs = elements(['echo a', 'echo b', 'echo c']).map((r) => ({
      ...r,
      task: { ...r.task, partition: 'normal', gres: 'gpu:1' },
    }));
    const { script, elementScripts, links } = renderSlurmArrayScript(reqs, { ...options(2), account: 'lab' });
    const directives = script.split('\n').filter((l) => l.startsWith('#SBATCH'));
    expect(directives).toEqual([
      `#SBATCH --job-name=${TAG}-array3_task_t0`,
      '#SBATCH --comment="ScriptHut array of 3 tasks"',
      '#SBATCH --array=0-2%2',
      '#SBATCH --partition=normal',
      '#SBATCH --account=lab',
      '#SBATCH --cpus-per-task=1',
      '#SBATCH --mem=100M',
      '#SBATCH --time=0:05:00',
      '#SBATCH --gres=gpu:1',
      `#SBATCH --output=${dir}/links/${TAG}.%a.out`,
      `#SBATCH --error=${dir}/links/${TAG}.%a.err`,
    ]);
    expect(links[1]).toEqual([
      [`${dir}/links/${TAG}.1.out`, `${dir}/t1.out`],
      [`${dir}/links/${TAG}.1.err`, `${dir}/t1.err`],
    ]);
    expect(elementScripts[2]).toContain('echo c');
    expect(elementScripts[2]).not.toContain('echo b');
    expect(renderSlurmArrayScript(reqs, options(null)).script).toContain('#SBATCH --array=0-2\n');
  });

  it('each index runs only its own task: command, working dir, env, marker; hostile text stays inside its element', () => {
    const hostile = `echo "x' ;; esac; echo PWNED; case y in y) '"; exit 4`;
    const reqs = elements([hostile, 'pwd; echo "$ONLY_MINE"; echo oops >&2; exit 3', 'echo two']);
    const { script } = renderSlurmArrayScript(reqs, options());
    const run = (index: string) =>
      spawnSync('bash', ['-c', `mkdir -p ${dir}/wd0 ${dir}/wd1 ${dir}/wd2 ${dir}/markers; bash`], {
        input: script,
        env: { PATH: process.env.PATH, HOME: dir, SLURM_ARRAY_TASK_ID: index },
        encoding: 'utf8',
      });
    const one = run('1');
    expect(one.status).toBe(3);
    expect(one.stdout).toContain(`${dir}/wd1\nvalue of t1\n`);
    expect(one.stdout).not.toMatch(/PWNED|two/);
    expect(one.stderr).toBe('oops\n');
    expect(readFileSync(join(dir, 'markers', `${reqs[1]!.tag}.rc`), 'utf8')).toBe('3\n');
    const zero = run('0');
    expect(zero.status).toBe(4);
    expect(zero.stdout).not.toContain('PWNED\n');
    const none = run('7');
    expect(none.status).toBe(98);
    expect(none.stderr).toContain('no task for array index 7');
  });

  it('keys: equal for the same shape, different for what sbatch sees, null for a task too large', () => {
    const [a, b] = elements(['echo a', 'echo b']);
    const o = { account: null, loginShell: false };
    expect(slurmArrayKey(a!, o)).toBe(slurmArrayKey(b!, o));
    expect(slurmArrayKey(a!, o)).not.toBe(slurmArrayKey({ ...b!, task: { ...b!.task, cpus: 2 } }, o));
    expect(slurmArrayKey(a!, o)).not.toBe(slurmArrayKey({ ...b!, task: { ...b!.task, qos: 'high' } }, o));
    expect(slurmArrayKey(a!, o)).not.toBe(slurmArrayKey(b!, { ...o, loginShell: true }));
    const big = 'x'.repeat(MAX_ARRAY_ELEMENT_BYTES + 1);
    expect(slurmArrayKey({ ...a!, task: { ...a!.task, command: big } }, o)).toBeNull();
    expect(slurmArrayKey({ ...a!, task: { ...a!.task, memory: 'a\nb' } }, o)).toBeNull();
  });

  it('refuses elements out of order and a bad tag', () => {
    const reqs = elements(['echo a', 'echo b']);
    expect(() => renderSlurmArrayScript([reqs[1]!, reqs[0]!], options())).toThrow(/not element 0/);
    const bad = reqs.map((r) => ({ ...r, array: { ...r.array!, tag: 'bad tag' } }));
    expect(() => renderSlurmArrayScript(bad, options())).toThrow(/invalid array tag/);
  });
});

describe('array ids and limits', () => {
  it('element ids, MaxArraySize, and the submission program quoting', () => {
    expect(slurmElementJobId('123', 7)).toBe('123_7');
    expect(slurmElementJobId('123;c1', 0)).toBe('123_0;c1');
    expect(() => slurmElementJobId('123_4', 1)).toThrow();
    expect(parseMaxArraySize('MaxArrayCount = 3\nMaxArraySize            = 1001\nMaxJobCount = 10')).toBe(
      1001,
    );
    expect(parseMaxArraySize('nothing')).toBeNull();
    const program = buildArraySubmitProgram({
      ...SLURM_ARRAY_PROGRAM,
      script: '#!/bin/bash\necho hi\n',
      tags: [TAG],
      links: [[`/l/${TAG}.0.out`, "/logs/it's here.out"]],
      dirs: ['/logs'],
      markerDir: '~/m',
    });
    expect(program).toContain(`\n/logs/it's here.out\t/l/${TAG}.0.out\nSCRIPTHUT_LINKS\n`);
    expect(program).not.toMatch(/^ln /m);
    expect(program).toContain('sbatch --parsable >"$T/o" 2>"$T/e" <<\'');
  });
});
