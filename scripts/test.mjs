#!/usr/bin/env node
/**
 * `pnpm test`: every vitest project, in sequential groups so that the real-cluster and browser
 * suites do not compete for the machine's two cores with the unit suites:
 *   1. unit projects (one per package/app),
 *   2. `cluster` (real sshd + Slurm on localhost; brought up by its global setup — fails, never skips),
 *   3. `real-pbs`, twice: the PBS backend against a real OpenPBS with job history off (the stock
 *      setting), then on. It needs the vendored OpenPBS source (`$SCRIPTHUT_OPENPBS_DIR`, default
 *      `../shared/vendor/openpbs` next to the repository); without it the group does not run, the
 *      closing line says `real-pbs: not run`, and it never counts as passed
 *      (`SCRIPTHUT_REQUIRE_REAL_PBS=1` makes that a failure). Each run holds
 *      `/tmp/scripthut-openpbs.lock` (the OpenPBS is shared by everything on the machine).
 *   4. `e2e` (Debian's headless Chromium).
 * Prints one closing line `tests: N passed, N failed[, N skipped]; real-pbs: …` and exits non-zero
 * on any failure.
 *
 *   node scripts/test.mjs                     all groups
 *   node scripts/test.mjs --group real-pbs    one group (unit | cluster | real-pbs | e2e)
 *   node scripts/test.mjs --project core …    anything else: one vitest run with these arguments
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = join(import.meta.dirname, '..');
const extra = process.argv.slice(2);
const out = mkdtempSync(join(tmpdir(), 'scripthut-test-'));
const OPENPBS_LOCK = '/tmp/scripthut-openpbs.lock';
const openpbsDir = resolve(root, process.env.SCRIPTHUT_OPENPBS_DIR ?? '../shared/vendor/openpbs');
const haveOpenpbs = existsSync(join(openpbsDir, 'up.sh'));
const haveFlock = spawnSync('flock', ['--version'], { stdio: 'ignore' }).status === 0;

const unitProjects = ['packages', 'apps'].flatMap((g) => readdirSync(join(root, g)));
/** @type {{ name: string, group: string, args: string[], env?: Record<string, string>, lock?: string }[]} */
const all = [
  // Unit files run two at a time at least: without --maxWorkers, vitest 4 ran them one after the
  // other with this config (measured: no two files overlapped), and most of them wait on child
  // processes, not on a core.
  {
    name: 'unit',
    group: 'unit',
    args: [
      ...unitProjects.flatMap((p) => ['--project', p]),
      `--maxWorkers=${Math.max(2, availableParallelism())}`,
    ],
  },
  { name: 'cluster', group: 'cluster', args: ['--project', 'cluster'] },
  ...['0', '1'].map((h) => ({
    name: `real-pbs (job history ${h === '1' ? 'on' : 'off'})`,
    group: 'real-pbs',
    args: ['--project', 'real-pbs'],
    env: { PBS_JOB_HISTORY: h },
    lock: OPENPBS_LOCK,
  })),
  { name: 'e2e', group: 'e2e', args: ['--project', 'e2e'] },
];

let runs;
if (extra[0] === '--group') {
  runs = all.filter((r) => r.group === extra[1]);
  if (!runs.length) {
    console.error(`unknown group ${extra[1]} (unit | cluster | real-pbs | e2e)`);
    process.exit(2);
  }
} else if (extra.length) runs = [{ name: 'custom', group: 'custom', args: extra }];
else runs = all;

const realPbsWanted = runs.some((r) => r.group === 'real-pbs');
let realPbsNote = null;
if (realPbsWanted && !haveOpenpbs) {
  runs = runs.filter((r) => r.group !== 'real-pbs');
  realPbsNote = `not run (no OpenPBS source at ${openpbsDir}; set SCRIPTHUT_OPENPBS_DIR)`;
  process.stderr.write(
    `\n=== vitest: real-pbs NOT RUN: the OpenPBS source is not at ${openpbsDir} (set SCRIPTHUT_OPENPBS_DIR). The PBS backend was tested against the simulator only. ===\n`,
  );
}

let passed = 0;
let failed = 0;
let skipped = 0;
let broken = false;
const realPbs = [];
for (const [i, run] of runs.entries()) {
  const report = join(out, `${i}.json`);
  process.stderr.write(`\n=== vitest: ${run.name} ===\n`);
  const vitest = [
    'pnpm',
    'exec',
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...run.args,
  ];
  // -o: flock keeps the lock itself; nothing vitest starts (PBS daemons!) inherits the descriptor.
  const [cmd, ...args] = run.lock && haveFlock ? ['flock', '-o', run.lock, ...vitest] : vitest;
  const env = {
    ...process.env,
    ...run.env,
    ...(run.lock && haveFlock ? { SCRIPTHUT_OPENPBS_LOCK_HELD: '1' } : {}),
  };
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  const seconds = Math.round((Date.now() - started) / 1000);
  let summary = 'no report';
  try {
    const j = JSON.parse(readFileSync(report, 'utf8'));
    passed += j.numPassedTests;
    failed += j.numFailedTests;
    skipped += j.numPendingTests + (j.numTodoTests ?? 0);
    summary = `${j.numPassedTests} passed, ${j.numFailedTests} failed`;
    if (j.numFailedTestSuites > 0 && j.numFailedTests === 0) broken = true;
  } catch {
    broken = true;
  }
  if (r.status !== 0) broken = true;
  if (run.group === 'real-pbs')
    realPbs.push(`${run.name.replace(/^real-pbs \(job (history \w+)\)$/, '$1')}: ${summary} in ${seconds} s`);
}
if (realPbsWanted && !realPbsNote) realPbsNote = realPbs.join('; ');
const requireRealPbs = process.env.SCRIPTHUT_REQUIRE_REAL_PBS === '1';
if (realPbsWanted && !haveOpenpbs && requireRealPbs) broken = true;
console.log(
  `tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}${realPbsNote ? `; real-pbs: ${realPbsNote}` : ''}`,
);
process.exit(failed > 0 || broken ? 1 : 0);
