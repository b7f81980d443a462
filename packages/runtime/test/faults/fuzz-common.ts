/**
 * Shared by the fuzz tests (fuzz-*.test.ts): the fast-check run options (with a fixed seed from
 * the environment to replay a failure) and the arbitrary of values likely to hit validator edge cases.
 */
import fc from 'fast-check';

/** Fixed seed from the environment to replay a failure (`FUZZ_SEED=123 pnpm vitest run ...`). */
export const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
export const opts = (numRuns: number) => ({ numRuns, ...(SEED !== undefined ? { seed: SEED } : {}) });

/** Values that are likely to hit edge cases of the validators. */
export const nasty = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\n',
    '\u0000',
    '-1',
    '0',
    '1e309',
    '99999999999G',
    '4X',
    '25:61:61',
    '-1:00:00',
    '1-',
    '*',
    '**',
    '..',
    '../../etc/passwd',
    '__proto__',
    'constructor',
    'gpu:',
    'gpu:0',
    ':::',
    'x'.repeat(5000),
  ),
  fc.constantFrom(-1, 0, 0.5, Number.MAX_SAFE_INTEGER, 1e308, -0, true, false, null),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }),
);
