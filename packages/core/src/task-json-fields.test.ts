import { describe, expect, it } from 'vitest';
import { issuesOf, taskJsonOptions as opts } from '../test/task-json-issues.js';
import {
  findCycles,
  formatDuration,
  matchesPattern,
  normalizeMemory,
  parseGres,
  parseMemoryMiB,
  parseTaskDocument,
  parseTimeLimitSeconds,
} from './task-json.js';

describe('field helpers', () => {
  it('parses memory sizes', () => {
    expect(parseMemoryMiB('4G')).toBe(4096);
    expect(parseMemoryMiB('4g')).toBe(4096);
    expect(parseMemoryMiB('4GB')).toBe(4096);
    expect(parseMemoryMiB('500M')).toBe(500);
    expect(parseMemoryMiB('500mb')).toBe(500);
    expect(parseMemoryMiB('2048')).toBe(2048);
    expect(parseMemoryMiB('1T')).toBe(1024 * 1024);
    expect(parseMemoryMiB('1024K')).toBe(1);
    expect(parseMemoryMiB('1.5G')).toBe(1536);
    for (const bad of ['', 'G', '4X', '-1G', '0', '4 G B', 'four']) expect(parseMemoryMiB(bad)).toBeNull();
    expect(normalizeMemory('4gb')).toBe('4G');
    expect(normalizeMemory('1.5G')).toBe('1536M');
    expect(normalizeMemory('2048')).toBe('2048M');
  });

  it('parses time limits in every Slurm form', () => {
    expect(parseTimeLimitSeconds('1:00:00')).toBe(3600);
    expect(parseTimeLimitSeconds('01:30:15')).toBe(5415);
    expect(parseTimeLimitSeconds('90')).toBe(5400); // MM
    expect(parseTimeLimitSeconds('5:30')).toBe(330); // MM:SS
    expect(parseTimeLimitSeconds('2-12')).toBe(2 * 86400 + 12 * 3600); // D-HH
    expect(parseTimeLimitSeconds('1-02:30')).toBe(86400 + 2 * 3600 + 1800); // D-HH:MM
    expect(parseTimeLimitSeconds('1-02:03:04')).toBe(93784);
    for (const bad of ['', 'abc', '1:2:3:4', '1:60:00', '1:00:61', 'x-1', '0', '0:00:00', '1-', '-1']) {
      expect(parseTimeLimitSeconds(bad), bad).toBeNull();
    }
    expect(formatDuration(3600)).toBe('1:00:00');
    expect(formatDuration(93784)).toBe('1-02:03:04');
    expect(formatDuration(59)).toBe('0:00:59');
  });

  it('parses gres', () => {
    expect(parseGres('gpu:2')).toEqual({ name: 'gpu', type: null, count: 2 });
    expect(parseGres('gpu:v100:1')).toEqual({ name: 'gpu', type: 'v100', count: 1 });
    expect(parseGres('gpu')).toEqual({ name: 'gpu', type: null, count: 1 });
    for (const bad of ['', 'gpu:', 'gpu:x', ':2', 'gpu:v100:0', 'a:b:c:1', 'gpu;rm:1', '2']) {
      expect(parseGres(bad), bad).toBeNull();
    }
  });

  it('matches fnmatch wildcards over the whole id', () => {
    expect(matchesPattern('build.x', 'build.*')).toBe(true);
    expect(matchesPattern('build.x.y', 'build.*')).toBe(true);
    expect(matchesPattern('xbuild.x', 'build.*')).toBe(false);
    expect(matchesPattern('step.a', 'step.?')).toBe(true);
    expect(matchesPattern('step.ab', 'step.?')).toBe(false);
    expect(matchesPattern('data.a', 'data.[ab]')).toBe(true);
    expect(matchesPattern('data.c', 'data.[ab]')).toBe(false);
    expect(matchesPattern('data.c', 'data.[!ab]')).toBe(true);
    expect(matchesPattern('data.5', 'data.[0-9]')).toBe(true);
    expect(matchesPattern('a+b', 'a+*')).toBe(true); // regex metacharacters are literal
    expect(matchesPattern('aab', 'a+*')).toBe(false);
  });

  it('bracket expressions never make an invalid RegExp (reversed ranges are empty, as in fnmatch)', () => {
    // `[b-a]` used to reach `new RegExp` as is: a SyntaxError instead of a task JSON error
    expect(matchesPattern('xb', 'x[b-a]')).toBe(false);
    expect(matchesPattern('xa', 'x[b-ac]')).toBe(false);
    expect(matchesPattern('xc', 'x[b-ac]')).toBe(true);
    expect(matchesPattern('xq', 'x[!b-a]')).toBe(true);
    expect(matchesPattern('x-', 'x[a-c-e]')).toBe(true);
    expect(matchesPattern('xd', 'x[a-c-e]')).toBe(false);
    expect(matchesPattern('x]', 'x[]]')).toBe(true);
    expect(matchesPattern('xa', 'x[!]]')).toBe(true);
    expect(matchesPattern('x\\', 'x[\\]')).toBe(true);
    expect(matchesPattern('x^', 'x[a^]')).toBe(true);
    expect(matchesPattern('x-', 'x[-]')).toBe(true);
    expect(matchesPattern('x[', 'x[')).toBe(true);
    expect(matchesPattern('x\u{1F600}', 'x[\u{1F600}]')).toBe(false); // one UTF-16 unit per class, as before
    for (const pattern of ['[z-a]', '[\\-!]', '[--!]', '[a-\\]', '[\uDFFF-\uD800]']) {
      expect(() => matchesPattern('a', pattern)).not.toThrow();
    }
    const issues = issuesOf(() =>
      parseTaskDocument(
        {
          tasks: [
            { id: 'a', name: 'a', command: 'true', deps: ['b[z-a]*'] },
            { id: 'b1', name: 'b', command: 'true' },
          ],
        },
        opts,
      ),
    );
    expect(issues).toEqual([
      expect.objectContaining({
        path: 'tasks[0] (id "a").deps',
        message: 'wildcard dependency "b[z-a]*" matches no tasks',
      }),
    ]);
  });

  it('finds cycles with their path', () => {
    const deps: Record<string, string[]> = { a: ['b'], b: ['c'], c: ['a'], d: [] };
    expect(findCycles(Object.keys(deps), (id) => deps[id] ?? [])).toEqual([['a', 'b', 'c', 'a']]);
  });
});
