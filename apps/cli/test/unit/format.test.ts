import { emptyStateCounts } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { formatAgo, formatCounts, formatDuration, renderTable } from '../../src/format.js';
import { makeStyles, shouldColor, stripAnsi } from '../../src/output.js';
import { ProgressView, progressBar } from '../../src/watch.js';
import { buffer } from '../buffer.js';
import { summarize, task } from '../fake-api.js';

const plain = makeStyles(false);
const color = makeStyles(true);

describe('renderTable', () => {
  const rows = [
    { a: 'x', n: '1' },
    { a: 'longer', n: '100' },
  ];
  const cols = [
    { header: 'NAME', get: (r: (typeof rows)[number]) => r.a },
    { header: 'N', get: (r: (typeof rows)[number]) => r.n, align: 'right' as const },
  ];

  it('aligns columns, right-aligns numbers, has no trailing spaces', () => {
    expect(renderTable(rows, cols, plain)).toBe(['NAME      N', 'x         1', 'longer  100'].join('\n'));
  });

  it('keeps alignment when cells are coloured', () => {
    const styled = renderTable(rows, [{ ...cols[0]!, style: (v: string) => color.red(v) }, cols[1]!], color);
    expect(stripAnsi(styled)).toBe(renderTable(rows, cols, plain));
    expect(styled).toContain('\x1b[31mx\x1b[39m');
  });

  it('prints the empty message for no rows', () => {
    expect(renderTable([], cols, plain, 'nothing')).toBe('nothing');
  });
});

describe('formatting', () => {
  it('formats durations', () => {
    expect(formatDuration(120)).toBe('120ms');
    expect(formatDuration(5200)).toBe('5.2s');
    expect(formatDuration(65_000)).toBe('1m 5s');
    expect(formatDuration(3_720_000)).toBe('1h 2m');
  });
  it('formats relative times', () => {
    const now = Date.parse('2025-01-01T01:00:00Z');
    expect(formatAgo('2025-01-01T00:59:59.500Z', now)).toBe('just now');
    expect(formatAgo('2025-01-01T00:58:00Z', now)).toBe('2m ago');
    expect(formatAgo('2024-12-31T23:00:00Z', now)).toBe('2h ago');
  });
  it('formats non-zero counts in a fixed order', () => {
    const c = { ...emptyStateCounts(), pending: 2, completed: 3, failed: 1 };
    expect(formatCounts(c, plain)).toBe('3 completed · 2 pending · 1 failed');
  });
});

describe('colour decision', () => {
  it('is off with --no-color, NO_COLOR, or a non-TTY; FORCE_COLOR forces it', () => {
    expect(shouldColor({ flag: true, env: {}, isTTY: true })).toBe(true);
    expect(shouldColor({ flag: false, env: {}, isTTY: true })).toBe(false);
    expect(shouldColor({ flag: true, env: { NO_COLOR: '1' }, isTTY: true })).toBe(false);
    expect(shouldColor({ flag: true, env: {}, isTTY: false })).toBe(false);
    expect(shouldColor({ flag: true, env: { FORCE_COLOR: '1' }, isTTY: false })).toBe(true);
  });
});

describe('progress view', () => {
  const running = summarize('r1', [task('r1', 0, 'a', 'completed'), task('r1', 1, 'b', 'running')]);
  const done = summarize('r1', [task('r1', 0, 'a', 'completed'), task('r1', 1, 'b', 'completed')]);

  it('prints one line per change on a non-TTY', () => {
    const sink = buffer(false);
    const view = new ProgressView(sink, plain);
    view.update(running);
    view.update(running);
    view.update(done);
    view.finish();
    const lines = sink.text.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\] run r1 {2}running {2}1\/2 {2}1 completed · 1 running$/);
    expect(lines[1]).toMatch(/run r1 {2}completed {2}2\/2 {2}2 completed$/);
  });

  it('redraws in place on a TTY and ends with a newline', () => {
    const sink = buffer(true);
    const view = new ProgressView(sink, plain);
    view.update(running);
    view.update(done);
    view.finish();
    expect(sink.text.split('\r\x1b[2K')).toHaveLength(3);
    expect(sink.text.endsWith('\n')).toBe(true);
    expect(sink.text.match(/\n/g)).toHaveLength(1);
  });

  it('draws a bar proportional to the counts', () => {
    expect(progressBar(running.counts, 2, 10, plain)).toBe('[█████▒▒▒▒▒]');
  });
});

describe('progress view width', () => {
  it('never writes a line wider than the terminal', () => {
    const s = summarize('r1', [
      task('r1', 0, 'a', 'completed'),
      task('r1', 1, 'b', 'running'),
      task('r1', 2, 'c', 'pending'),
    ]);
    const sink = { ...buffer(true), columns: 30 };
    const chunks: string[] = [];
    sink.write = (t: string) => {
      chunks.push(t);
      return true;
    };
    const view = new ProgressView(sink, makeStyles(true));
    view.update(s);
    const line = stripAnsi(chunks.join('').replace('\r\x1b[2K', ''));
    expect([...line].length).toBeLessThanOrEqual(29);
    expect(line.startsWith('run r1  running  1/3')).toBe(true);
  });
});
