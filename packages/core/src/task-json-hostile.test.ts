import { describe, expect, it } from 'vitest';
import { issuesOf, taskJsonOptions as opts } from '../test/task-json-issues.js';
import type { ScriptHutError } from './errors.js';
import { parseTaskDocument } from './task-json.js';

describe('hostile-input review: image names and invalid Unicode', () => {
  const task = (extra: Record<string, unknown>) => ({
    tasks: [{ id: 'a', name: 'A', command: 'true', ...extra }],
  });

  it('rejects an image that docker would read as an option, naming the field', () => {
    for (const image of ['--privileged', '-v/:/host', '-']) {
      const issues = issuesOf(() => parseTaskDocument(task({ image }), opts));
      expect(issues).toEqual([
        expect.objectContaining({
          path: 'tasks[0] (id "a").image',
          message: `image ${JSON.stringify(image)} must not start with "-"`,
        }),
      ]);
    }
  });

  it('rejects image names outside the Docker reference grammar', () => {
    for (const image of [
      '',
      'ubuntu latest',
      'ubuntu:latest --privileged',
      'Ubuntu',
      'ubuntu;id',
      '$(id)',
      'ubuntu:',
      'ubuntu@sha256:abc',
      'registry.example.com//x',
      `a:${'t'.repeat(129)}`,
      `${'a'.repeat(256)}`,
      'a\u0000b',
    ]) {
      const issues = issuesOf(() => parseTaskDocument(task({ image }), opts));
      expect(issues.map((i) => i.path)).toEqual(['tasks[0] (id "a").image']);
    }
    const upper = issuesOf(() => parseTaskDocument(task({ image: 'Ubuntu:22.04' }), opts));
    expect(upper[0]!.message).toContain('repository names must be lowercase');
  });

  it('accepts the image references people use', () => {
    for (const image of [
      'ubuntu',
      'python:3.12-slim',
      'library/python:3.12',
      'ghcr.io/org/tool:1.0',
      'localhost:5000/my_img__x/a-b--c.d:v1.2_3',
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:2024-01-01',
      '[::1]:5000/app',
      `alpine@sha256:${'a'.repeat(64)}`,
      `quay.io/org/img:tag@sha512:${'B'.repeat(128)}`,
    ]) {
      const parsed = parseTaskDocument(task({ image }), opts);
      expect(parsed.tasks[0]!.image).toBe(image);
    }
  });

  it('rejects lone UTF-16 surrogates in ids, names and every other string field, naming the field', () => {
    const lone = 'x\uD800y';
    const fields = [
      'id',
      'name',
      'command',
      'working_dir',
      'partition',
      'output_file',
      'error_file',
      'generates_source',
      'environment',
    ];
    for (const field of fields) {
      const issues = issuesOf(() => parseTaskDocument(task({ [field]: lone }), opts));
      expect(issues.map((i) => i.path)).toContain(
        field === 'id' ? `tasks[0] (id ${JSON.stringify(lone)}).id` : `tasks[0] (id "a").${field}`,
      );
      expect(issues.find((i) => i.path.endsWith(`.${field}`))!.message).toBe(
        'must be valid Unicode text: contains a lone UTF-16 surrogate (\\ud800) at index 1',
      );
    }
    const env = issuesOf(() => parseTaskDocument(task({ env_vars: { V: '\uDC00' } }), opts));
    expect(env).toEqual([expect.objectContaining({ path: 'tasks[0] (id "a").env_vars.V' })]);
    const deps = issuesOf(() =>
      parseTaskDocument(
        {
          tasks: [
            { id: 'a', name: 'A', command: 'true', deps: ['b\uDBFF'] },
            { id: 'b', name: 'B', command: 'true' },
          ],
        },
        opts,
      ),
    );
    expect(deps).toEqual([expect.objectContaining({ path: 'tasks[0] (id "a").deps[0]' })]);
    // the error message itself is printable (no lone surrogate copied into it)
    let message = '';
    try {
      parseTaskDocument(task({ id: lone }), opts);
    } catch (e) {
      message = (e as ScriptHutError).message;
    }
    expect(message).toContain('lone UTF-16 surrogate');
    expect(() => encodeURIComponent(message)).not.toThrow();
  });

  it('keeps valid astral characters (emoji, CJK) and ignores a broken title with a warning', () => {
    const parsed = parseTaskDocument(
      { title: 'T\uD800', tasks: [{ id: 'run-😀-数据', name: 'naïve 😀', command: 'echo 😀' }] },
      opts,
    );
    expect(parsed.tasks[0]!.id).toBe('run-😀-数据');
    expect(parsed.title).toBeUndefined();
    expect(parsed.warnings.map((w) => w.path)).toEqual(['title']);
  });
});
