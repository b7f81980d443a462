/**
 * Job-array settings (docs/arrays.md): `array: auto` by default on the backends with arrays, and a
 * per-workflow / source / project `array: auto | off` that overrides the backend's for its runs.
 */
import { describe, expect, it } from 'vitest';
import { formatIssue, parseConfigText, validateConfigText } from '../src/index.js';
import { HOME } from './helpers.js';

const opts = { homeDir: HOME, checkFiles: false };
const parse = (text: string) => parseConfigText(text, 'scripthut.yaml', opts).config;
const issues = (text: string) => validateConfigText(text, 'scripthut.yaml', opts).issues.map(formatIssue);

const BACKENDS = `backends:
  - name: hpc
    type: slurm
    ssh: {host: h, user: u, key_path: /k}
  - name: pbs
    type: pbs
    ssh: {host: h, user: u, key_path: /k}
  - name: aws
    type: batch
    aws: {region: us-east-1, job_queue: q}
    default_image: alpine
  - name: off-hpc
    type: slurm
    ssh: {host: h, user: u, key_path: /k}
    array: off
    array_min_size: 5
`;

describe('array settings', () => {
  it('slurm, pbs and batch backends default to array: auto with array_min_size 2; off and a size are kept', () => {
    const c = parse(BACKENDS);
    const arrays = c.backends.map((b) =>
      'array' in b ? [b.name, b.array, b.array_min_size] : [b.name, null, null],
    );
    expect(arrays).toEqual([
      ['hpc', 'auto', 2],
      ['pbs', 'auto', 2],
      ['aws', 'auto', 2],
      ['off-hpc', 'off', 5],
    ]);
  });

  it('workflows, sources and projects take array: auto | off; unset is null (the backend decides)', () => {
    const c = parse(`${BACKENDS}workflows:
  - {name: w-off, backend: hpc, command: x, array: off}
  - {name: w-auto, backend: off-hpc, command: x, array: auto}
  - {name: w-unset, backend: hpc, command: x}
sources:
  - {name: s-git, type: git, url: 'git@x:y.git', backend: hpc, array: off}
  - {name: s-path, type: path, path: /p, backend: hpc, array: auto}
  - {name: s-unset, type: path, path: /q, backend: hpc}
projects:
  - {name: p-off, backend: hpc, path: /r, array: off}
  - {name: p-unset, backend: hpc, path: /s}
`);
    expect(c.workflows.map((w) => [w.name, w.array])).toEqual([
      ['w-off', 'off'],
      ['w-auto', 'auto'],
      ['w-unset', null],
    ]);
    expect(c.sources.map((s) => [s.name, s.array])).toEqual([
      ['s-git', 'off'],
      ['s-path', 'auto'],
      ['s-unset', null],
    ]);
    expect(c.projects.map((p) => [p.name, p.array])).toEqual([
      ['p-off', 'off'],
      ['p-unset', null],
    ]);
  });

  it('a wrong value names the file, line, column and field, with a did-you-mean', () => {
    expect(
      issues(`${BACKENDS}workflows:
  - name: w
    backend: hpc
    command: x
    array: of
projects:
  - {name: p, backend: hpc, path: /r, array: yes}
sources:
  - {name: s, type: path, path: /p, backend: hpc, arrays: off}
`),
    ).toEqual([
      'scripthut.yaml:21:5 workflows[0].array: expected one of "auto", "off", got "of"; did you mean "off"?',
      'scripthut.yaml:23:39 projects[0].array: expected one of "auto", "off", got "yes"',
      'scripthut.yaml:25:51 sources[0].arrays: unknown field "arrays"; did you mean "array"?',
    ]);
  });
});
