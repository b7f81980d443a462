import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_ARRAY_ELEMENT_BYTES, type SubmitRequest } from '@scripthut/core';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRequest } from '../test/requests.js';
import { type PbsArrayOptions, pbsArrayKey, renderPbsArrayScript } from './array-script.js';
import type { PbsScriptOptions } from './script.js';

const dir = mkdtempSync(join(tmpdir(), 'pbs-array-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TAG = 'sh0a1b2c3d11';
function elements(commands: string[], over: Partial<SubmitRequest> = {}): SubmitRequest[] {
  return commands.map((command, index) => {
    const id = `t${index}`;
    return makeRequest(
      `sh0a1b2c3d${(index + 1).toString(36)}1`,
      { id, name: `task ${id}`, command, workingDir: join(dir, `wd${index}`) },
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

const pro: PbsScriptOptions = { flavour: 'pro', queue: null, account: null, loginShell: false };
const options = (extra: Partial<PbsScriptOptions> = {}) => ({
  ...pro,
  ...extra,
  markerPathOf: (tag: string) => join(dir, 'markers', `${tag}.rc`),
  linkDir: join(dir, 'links'),
});

describe('the PBS Pro array script', () => {
  it('one qsub -J job named by the array tag, shared directives once, logs through per-index links', () => {
    const reqs = elements(['echo a', 'echo b', 'echo c']).map((r) => ({
      ...r,
      task: { ...r.task, partition: 'workq', gres: 'gpu:1' },
    }));
    const { script, elementScripts, links } = renderPbsArrayScript(reqs, options({ account: 'lab' }));
    const directives = script.split('\n').filter((l) => l.startsWith('#PBS'));
    expect(directives).toEqual([
      `#PBS -N ${TAG}-array3_task_t0`,
      '#PBS -J 0-2',
      '#PBS -q workq',
      '#PBS -A lab',
      '#PBS -l select=1:ncpus=1:mem=100mb:ngpus=1',
      '#PBS -l walltime=00:05:00',
      '#PBS -k oed',
      `#PBS -o ${dir}/links/${TAG}.^array_index^.out`,
      `#PBS -e ${dir}/links/${TAG}.^array_index^.err`,
    ]);
    expect(links[1]).toEqual([
      [`${dir}/links/${TAG}.1.out`, `${dir}/t1.out`],
      [`${dir}/links/${TAG}.1.err`, `${dir}/t1.err`],
    ]);
    expect(elementScripts[2]).toContain('# element 2 of 3 (PBS_ARRAY_INDEX=2) runs:');
    expect(elementScripts[2]).toContain('echo c');
    expect(elementScripts[2]).not.toContain('echo b');
  });

  it('each index runs only its own task: command, working dir, env, marker; hostile text stays inside its element', () => {
    const hostile = `echo "x' ;; esac; echo PWNED; case y in y) '"; exit 4`;
    const reqs = elements([hostile, 'pwd; echo "$ONLY_MINE"; echo oops >&2; exit 3', 'echo two']);
    const { script } = renderPbsArrayScript(reqs, options());
    const run = (index: string) =>
      spawnSync('bash', ['-c', `mkdir -p ${dir}/wd0 ${dir}/wd1 ${dir}/wd2 ${dir}/markers; bash`], {
        input: script,
        env: { PATH: process.env.PATH, HOME: dir, PBS_ARRAY_INDEX: index },
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

  it('keys: equal for the same shape, different for what qsub sees (dialect too), null for a task too large', () => {
    const [a, b] = elements(['echo a', 'echo b']);
    expect(pbsArrayKey(a!, pro)).not.toBeNull();
    expect(pbsArrayKey(a!, pro)).toBe(pbsArrayKey(b!, pro));
    expect(pbsArrayKey(a!, pro)).not.toBe(pbsArrayKey({ ...b!, task: { ...b!.task, cpus: 2 } }, pro));
    expect(pbsArrayKey(a!, pro)).not.toBe(pbsArrayKey(b!, { ...pro, account: 'lab' }));
    expect(pbsArrayKey(a!, pro)).not.toBe(pbsArrayKey(b!, { ...pro, loginShell: true }));
    const torque = { ...pro, flavour: 'torque' as const };
    expect(pbsArrayKey(a!, torque)).toBe(pbsArrayKey(b!, torque));
    expect(pbsArrayKey(a!, torque)).not.toBe(pbsArrayKey(a!, pro)); // nodes=…:ppn vs select=
    expect(pbsArrayKey(a!, torque)).toContain('#PBS -l nodes=1:ppn=1,mem=100mb,walltime=00:05:00');
    const big = 'x'.repeat(MAX_ARRAY_ELEMENT_BYTES + 1);
    expect(pbsArrayKey({ ...a!, task: { ...a!.task, command: big } }, pro)).toBeNull();
    expect(pbsArrayKey({ ...a!, task: { ...a!.task, memory: 'a\nb', memoryMiB: 0 } }, pro)).toBeNull();
  });

  it('refuses elements out of order, a bad tag, a single element and log paths qsub cannot take', () => {
    const reqs = elements(['echo a', 'echo b']);
    expect(() => renderPbsArrayScript([reqs[1]!, reqs[0]!], options())).toThrow(/not element 0/);
    const bad = reqs.map((r) => ({ ...r, array: { ...r.array!, tag: 'bad tag' } }));
    expect(() => renderPbsArrayScript(bad, options())).toThrow(/invalid array tag/);
    const single = elements(['echo a']);
    expect(() => renderPbsArrayScript(single, options())).toThrow(/at least two/);
    expect(() => renderPbsArrayScript(reqs, { ...options({ flavour: 'torque' }), throttle: 0 })).toThrow(
      /throttle/,
    );
    const colon = reqs.map((r, i) => (i === 1 ? { ...r, stdoutPath: `${dir}/a:b.out` } : r));
    expect(() => renderPbsArrayScript(colon, options())).toThrow(/output file/);
    expect(() => renderPbsArrayScript(reqs, { ...options(), linkDir: `${dir}/with space` })).toThrow(/space/);
  });
});

describe('the Torque array script', () => {
  const torque = (extra: Partial<PbsArrayOptions> = {}) => ({ ...options({ flavour: 'torque' }), ...extra });

  it('one qsub -t job; Torque appends -<index> to the array -o/-e, so the links are <tag>.out-<i>', () => {
    const reqs = elements(['echo a', 'echo b', 'echo c']).map((r) => ({
      ...r,
      task: { ...r.task, partition: 'batch' },
    }));
    const { script, elementScripts, links } = renderPbsArrayScript(reqs, torque());
    const directives = script.split('\n').filter((l) => l.startsWith('#PBS'));
    expect(directives).toEqual([
      `#PBS -N ${TAG}-array3_task_t0`,
      '#PBS -t 0-2',
      '#PBS -q batch',
      '#PBS -l nodes=1:ppn=1,mem=100mb,walltime=00:05:00',
      `#PBS -o ${dir}/links/${TAG}.out`,
      `#PBS -e ${dir}/links/${TAG}.err`,
    ]);
    expect(script).not.toContain('-k oed'); // Torque's -k has no `d`
    expect(links[2]).toEqual([
      [`${dir}/links/${TAG}.out-2`, `${dir}/t2.out`],
      [`${dir}/links/${TAG}.err-2`, `${dir}/t2.err`],
    ]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell text itself
    expect(script).toContain('case "${PBS_ARRAYID:-}" in');
    expect(script).not.toContain('PBS_ARRAY_INDEX');
    expect(elementScripts[1]).toContain('# element 1 of 3 (PBS_ARRAYID=1) runs:');
  });

  it('a throttle is the %M slot limit; none without one', () => {
    const reqs = elements(['echo a', 'echo b', 'echo c']);
    expect(renderPbsArrayScript(reqs, torque({ throttle: 2 })).script).toContain('\n#PBS -t 0-2%2\n');
    expect(renderPbsArrayScript(reqs, torque({ throttle: null })).script).toContain('\n#PBS -t 0-2\n');
    // PBS Pro arrays take no throttle here
    expect(renderPbsArrayScript(reqs, { ...options(), throttle: 2 }).script).toContain('\n#PBS -J 0-2\n');
  });

  it('each element runs its own task by PBS_ARRAYID (Torque does not set PBS_ARRAY_INDEX)', () => {
    const reqs = elements(['echo zero', 'pwd; echo "$ONLY_MINE"; exit 6']);
    const markers = join(dir, 'markers-torque');
    const { script } = renderPbsArrayScript(
      reqs,
      torque({ markerPathOf: (tag) => join(markers, `${tag}.rc`) }),
    );
    const r = spawnSync('bash', ['-c', `mkdir -p ${dir}/wd0 ${dir}/wd1 ${markers}; bash`], {
      input: script,
      env: { PATH: process.env.PATH, HOME: dir, PBS_ARRAYID: '1' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(6);
    expect(r.stdout).toContain(`${dir}/wd1\nvalue of t1\n`);
    expect(r.stdout).not.toContain('zero');
    expect(readFileSync(join(markers, `${reqs[1]!.tag}.rc`), 'utf8')).toBe('6\n');
    const proVariable = spawnSync('bash', [], {
      input: script,
      env: { PATH: process.env.PATH, HOME: dir, PBS_ARRAY_INDEX: '1' },
      encoding: 'utf8',
    });
    expect(proVariable.status).toBe(98);
  });
});
