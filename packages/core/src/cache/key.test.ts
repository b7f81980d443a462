import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type CacheKeyInput, cacheKeyOf, cacheKeyParts, changedParts, isScriptHutVariable } from './key.js';

const base: CacheKeyInput = {
  command: 'python sim.py --seed 1',
  env: { A: '1', B: '2' },
  extraInit: '',
  workingDir: 'runs/1',
  baseDir: null,
  image: null,
  commit: 'a'.repeat(40),
  inputs: { 'data/*.csv': 'f'.repeat(64), 'params.json': 'e'.repeat(64) },
};
const keyOf = (x: CacheKeyInput) => cacheKeyOf(cacheKeyParts(x));

describe('cache key canonicalisation', () => {
  it('is a 64-hex SHA-256 and stable for the same input', () => {
    expect(keyOf(base)).toMatch(/^[0-9a-f]{64}$/);
    expect(keyOf(structuredClone(base))).toBe(keyOf(base));
  });

  it('is the SHA-256 of the UTF-8 canonical form, so keys recorded by earlier versions still match', () => {
    const input: CacheKeyInput = {
      ...base,
      command: 'python sim.py --seed 1 # é ✓',
      env: { A: '1', B: '2', SCRIPTHUT_RUN_ID: 'x' },
      extraInit: 'module load x',
      inputs: { 'data/*.csv': 'f'.repeat(64) },
    };
    const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
    const parts = cacheKeyParts(input);
    expect(parts.command).toBe(sha(JSON.stringify(input.command)));
    expect(parts.environment).toBe(
      sha(
        JSON.stringify([
          [
            ['A', '1'],
            ['B', '2'],
          ],
          'module load x',
        ]),
      ),
    );
    const ordered = [
      parts.command,
      parts.environment,
      parts.workingDir,
      parts.image,
      parts.commit,
      parts.inputs,
    ];
    expect(cacheKeyOf(parts)).toBe(sha(JSON.stringify([1, ...ordered])));
    // The key of this input as computed before keys were hashed with crypto.hash (main, 2026-11-28).
    expect(cacheKeyOf(parts)).toBe('17df47301f2316f5230ff1f24859877d6f6bf29ddd299b724a3a6e49810c37a4');
  });

  it('hashes a frozen environment once per extra init, with the same parts as an unfrozen copy', () => {
    const env = Object.freeze({ A: '1', B: '2', SCRIPTHUT_RUN_ID: 'r1' });
    const frozen = cacheKeyParts({ ...base, env });
    expect(frozen).toEqual(cacheKeyParts({ ...base, env: { ...env } }));
    expect(cacheKeyParts({ ...base, env, command: 'other' }).environment).toBe(frozen.environment);
    const withInit = cacheKeyParts({ ...base, env, extraInit: 'module load x' });
    expect(withInit.environment).not.toBe(frozen.environment);
    expect(withInit).toEqual(cacheKeyParts({ ...base, env: { ...env }, extraInit: 'module load x' }));
    // Asked again in the other order, each extra init keeps its own hash.
    expect(cacheKeyParts({ ...base, env }).environment).toBe(frozen.environment);
  });

  it('with a memo, hashes each shared part text once and gives the same parts as without', () => {
    const memo = new Map<string, string>();
    const inputs = [base, { ...base, command: 'python sim.py --seed 2' }, { ...base, image: 'img:1' }];
    const memoized = inputs.map((x) => cacheKeyParts(x, memo));
    expect(memoized).toEqual(inputs.map((x) => cacheKeyParts(x)));
    // environment, workingDir, commit, inputs: one text each; image: two (null and img:1).
    expect(memo.size).toBe(6);
    expect(new Set(memoized.map((p) => p.environment)).size).toBe(1);
  });

  it('does not depend on the order of environment variables or input patterns', () => {
    const reordered = {
      ...base,
      env: { B: '2', A: '1' },
      inputs: { 'params.json': 'e'.repeat(64), 'data/*.csv': 'f'.repeat(64) },
    };
    expect(keyOf(reordered)).toBe(keyOf(base));
  });

  it("leaves ScriptHut's own variables out (run id, timestamps, reserved job-script names)", () => {
    const withOwn = { ...base, env: { ...base.env, SCRIPTHUT_RUN_ID: 'abcd1234', __SCRIPTHUT_X: 'y' } };
    expect(keyOf(withOwn)).toBe(keyOf(base));
    expect(isScriptHutVariable('SCRIPTHUT_RUN_ID')).toBe(true);
    expect(isScriptHutVariable('__SCRIPTHUT_MARKER')).toBe(true);
    expect(isScriptHutVariable('MY_SCRIPTHUT_X')).toBe(false);
  });

  it.each([
    ['command', { command: 'python sim.py --seed 2' }],
    ['environment', { env: { A: '1', B: '3' } }],
    ['environment', { env: { A: '1', B: '2', C: '' } }],
    ['environment', { extraInit: 'module load x' }],
    ['workingDir', { workingDir: 'runs/2' }],
    ['workingDir', { baseDir: '/data/src' }],
    ['image', { image: 'python:3.12' }],
    ['commit', { commit: 'b'.repeat(40) }],
    ['commit', { commit: null }],
    ['inputs', { inputs: { 'data/*.csv': '0'.repeat(64), 'params.json': 'e'.repeat(64) } }],
    ['inputs', { inputs: { 'data/*.csv': 'f'.repeat(64) } }],
  ] as const)('changes with %s (%o), and names it', (part, change) => {
    const other = { ...base, ...change } as CacheKeyInput;
    expect(keyOf(other)).not.toBe(keyOf(base));
    expect(changedParts(cacheKeyParts(other), cacheKeyParts(base))).toEqual([part]);
  });

  it('keeps values that differ only in framing apart (no ambiguous concatenation)', () => {
    expect(keyOf({ ...base, env: { A: '1B=2' } })).not.toBe(keyOf({ ...base, env: { A: '1', B: '2' } }));
    expect(keyOf({ ...base, workingDir: 'a', baseDir: 'b' })).not.toBe(
      keyOf({ ...base, workingDir: 'ab', baseDir: null }),
    );
  });
});
