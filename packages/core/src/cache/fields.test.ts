import { describe, expect, it } from 'vitest';
import { ScriptHutError } from '../errors.js';
import { parseTaskDocument } from '../task-json.js';

const parse = (extra: Record<string, unknown>) =>
  parseTaskDocument([{ id: 'a', name: 'a', command: 'true', ...extra }], { knownEnvironments: [] });

function issuesOf(extra: Record<string, unknown>): { path: string; message: string }[] {
  try {
    parse(extra);
  } catch (e) {
    if (ScriptHutError.is(e)) return e.issues.filter((i) => i.severity === 'error');
    throw e;
  }
  throw new Error('expected a validation error');
}

describe('task JSON cache fields', () => {
  it('reads inputs, outputs, cache and cache_scope (duplicates dropped)', () => {
    const [t] = parse({
      inputs: ['data/*.csv', 'params.json', 'params.json'],
      outputs: ['out/result.csv'],
      cache: false,
      cache_scope: 'inputs',
    }).tasks;
    expect(t).toMatchObject({
      inputs: ['data/*.csv', 'params.json'],
      outputs: ['out/result.csv'],
      cache: false,
      cacheScope: 'inputs',
    });
  });

  it('leaves the fields absent when the task has none (cache defaults to true)', () => {
    const [t] = parse({}).tasks;
    expect(t!.inputs).toBeUndefined();
    expect(t!.cache).toBeUndefined();
    expect(parse({ warnings: 1 }).warnings.some((w) => w.path.endsWith('.warnings'))).toBe(true);
    expect(parse({ outputs: [] }).warnings).toEqual([]);
  });

  it.each([
    [{ inputs: 'x' }, /\.inputs$/, /must be an array/],
    [{ outputs: [1] }, /\.outputs\[0\]$/, /must be a path or glob/],
    [{ outputs: ['ok', '-rf'] }, /\.outputs\[1\]$/, /must not start with "-"/],
    [{ inputs: [''] }, /\.inputs\[0\]$/, /must not be empty/],
    [{ inputs: ['a\nb'] }, /\.inputs\[0\]$/, /control characters/],
    [{ inputs: ['a\u0000b'] }, /\.inputs\[0\]$/, /control characters/],
    [{ cache: 'yes' }, /\.cache$/, /true or false/],
    [{ cache_scope: 'branch' }, /\.cache_scope$/, /"commit" or "inputs"/],
  ])('rejects %o naming the field', (extra, path, message) => {
    const issues = issuesOf(extra);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toMatch(/^tasks\[0\]/);
    expect(issues[0]!.path).toMatch(path);
    expect(issues[0]!.message).toMatch(message);
  });
});
