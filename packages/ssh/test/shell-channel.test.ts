import { describe, expect, it } from 'vitest';
import { checkPtySize, checkTerm } from '../src/index.js';

describe('PTY parameters', () => {
  it('accepts sizes from 1 to 1000 and names the bad field', () => {
    expect(checkPtySize(80, 24)).toEqual({ cols: 80, rows: 24 });
    expect(() => checkPtySize(0, 24)).toThrow(/cols must be an integer from 1 to 1000, got 0/);
    expect(() => checkPtySize(80, 1001)).toThrow(/rows/);
    expect(() => checkPtySize(80.5, 24)).toThrow(/cols/);
    expect(() => checkPtySize('80', 24)).toThrow(/cols/);
  });

  it('accepts terminal type names only', () => {
    expect(checkTerm('xterm-256color')).toBe('xterm-256color');
    for (const bad of ['', '-xterm', 'xterm 256', 'xterm\n', 'a'.repeat(65)])
      expect(() => checkTerm(bad)).toThrow(/term must be a terminal type name/);
  });
});
