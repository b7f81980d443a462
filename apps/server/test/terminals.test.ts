import { describe, expect, it } from 'vitest';
import { parseTerminalQuery } from '../src/terminals.js';

const q = (o: Record<string, string>) => (k: string) => o[k];

describe('terminal query', () => {
  it('defaults to a login shell of 80x24', () => {
    expect(parseTerminalQuery(q({}))).toEqual({ target: { kind: 'login' }, cols: 80, rows: 24 });
  });

  it('reads a task target and size', () => {
    expect(
      parseTerminalQuery(q({ kind: 'task', run: 'ab12cd34', task: 't-1', cols: '120', rows: '40' })),
    ).toEqual({
      target: { kind: 'task', runId: 'ab12cd34', taskId: 't-1' },
      cols: 120,
      rows: 40,
    });
  });

  it('names the bad field', () => {
    expect(() => parseTerminalQuery(q({ kind: 'root' }))).toThrow(/kind: one of login, task, debug/);
    expect(() => parseTerminalQuery(q({ cols: '0' }))).toThrow(/cols/);
    expect(() => parseTerminalQuery(q({ rows: '1e3' }))).toThrow(/rows/);
    expect(() => parseTerminalQuery(q({ kind: 'task', task: 'x' }))).toThrow(/run: a run id is required/);
    expect(() => parseTerminalQuery(q({ kind: 'debug', run: 'ab', task: 'a b' }))).toThrow(/task/);
  });
});
