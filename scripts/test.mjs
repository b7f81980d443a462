#!/usr/bin/env node
/**
 * `pnpm test`: every vitest project, in three sequential groups so that the real-cluster and browser
 * suites do not compete for the machine's two cores with the unit suites:
 *   1. unit projects (one per package/app),
 *   2. `cluster` (real sshd + Slurm on localhost; brought up by its global setup — fails, never skips),
 *   3. `e2e` (Debian's headless Chromium).
 * Prints one closing line `tests: N passed, N failed[, N skipped]` and exits non-zero on any failure.
 * Extra arguments are passed to a single vitest run instead (e.g. `pnpm test --project core`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const extra = process.argv.slice(2);
const out = mkdtempSync(join(tmpdir(), 'scripthut-test-'));

const unitProjects = ['packages', 'apps'].flatMap((g) => readdirSync(join(root, g)));
const groups = extra.length
  ? [['custom', extra]]
  : [
      ['unit', unitProjects.flatMap((p) => ['--project', p])],
      ['cluster', ['--project', 'cluster']],
      ['e2e', ['--project', 'e2e']],
    ];

let passed = 0;
let failed = 0;
let skipped = 0;
let broken = false;
for (const [name, args] of groups) {
  const report = join(out, `${name}.json`);
  process.stderr.write(`\n=== vitest: ${name} ===\n`);
  const r = spawnSync(
    'pnpm',
    [
      'exec',
      'vitest',
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${report}`,
      ...args,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  try {
    const j = JSON.parse(readFileSync(report, 'utf8'));
    passed += j.numPassedTests;
    failed += j.numFailedTests;
    skipped += j.numPendingTests + (j.numTodoTests ?? 0);
    if (j.numFailedTestSuites > 0 && j.numFailedTests === 0) broken = true;
  } catch {
    broken = true;
  }
  if (r.status !== 0) broken = true;
}
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || broken ? 1 : 0);
