#!/usr/bin/env node
/**
 * `pnpm test`: every vitest project, in sequential groups so that the real-cluster and browser
 * suites do not compete for the machine's two cores with the unit suites:
 *   1. unit projects (one per package/app),
 *   2. `cluster` (real sshd + Slurm on localhost; brought up by its global setup — fails, never skips),
 *   3. `real-pbs`, twice: the PBS backend against a real OpenPBS with job history off (the stock
 *      setting), then on. These two run in a background lane next to the `cluster` group (both
 *      mostly wait on their schedulers; separate daemons, ports and locks); their output is
 *      printed after the cluster group. `SCRIPTHUT_TEST_SERIAL=1` runs everything in sequence.
 *      It needs the vendored OpenPBS source (`$SCRIPTHUT_OPENPBS_DIR`, default
 *      `../shared/vendor/openpbs` next to the repository); without it the group does not run, the
 *      closing line says `real-pbs: not run`, and it never counts as passed
 *      (`SCRIPTHUT_REQUIRE_REAL_PBS=1` makes that a failure). Each run holds
 *      `/tmp/scripthut-openpbs.lock` (the OpenPBS is shared by everything on the machine).
 *   4. `e2e` (Debian's headless Chromium).
 * Prints one closing line `tests: N passed, N failed[, N skipped]; real-pbs: …` and exits non-zero
 * on any failure. Before it, each failed test is named with the first lines of its error (a CI log
 * often keeps only its tail); `SCRIPTHUT_TEST_FAILURES_FILE` gets the same lines, so `.ci/run` can
 * repeat them after the packaging output.
 *
 *   node scripts/test.mjs                     all groups
 *   node scripts/test.mjs --group real-pbs    one group (unit | cluster | real-pbs | e2e);
 *                                             repeat --group for several, in this file's order
 *   node scripts/test.mjs --project core …    anything else: one vitest run with these arguments
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
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
  const groups = [];
  for (let i = 0; i < extra.length; i += 2) {
    if (extra[i] !== '--group' || !all.some((r) => r.group === extra[i + 1])) {
      console.error(`unknown group ${extra[i + 1] ?? extra[i]} (unit | cluster | real-pbs | e2e)`);
      process.exit(2);
    }
    groups.push(extra[i + 1]);
  }
  runs = all.filter((r) => groups.includes(r.group));
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
/** One entry per failed test or broken file: `run › file › test` and its error's first lines. */
const failures = [];

/**
 * Strips ANSI colour codes and keeps an error's first `lines` message lines (a long expectation
 * message explains the failure) and the first stack frame in the repository's own code.
 */
function firstLines(message, lines) {
  const all = String(message)
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((l) => l.trim());
  const text = all.filter((l) => !/^\s*at /.test(l)).slice(0, lines);
  const frame = all.find((l) => /^\s*at /.test(l) && l.includes(root) && !l.includes('node_modules'));
  return [...text, ...(frame ? [frame] : [])].map((l) => `      ${l.trim().slice(0, 400)}`).join('\n');
}

/** Adds the failed tests (and files that failed outside any test) of one vitest JSON report. */
function collectFailures(runName, report) {
  for (const file of report.testResults ?? []) {
    const path = String(file.name ?? '').replace(`${root}/`, '');
    const failedTests = (file.assertionResults ?? []).filter((a) => a.status === 'failed');
    for (const a of failedTests)
      failures.push(
        `  ✗ ${runName} › ${path} › ${a.fullName ?? a.title}\n${firstLines((a.failureMessages ?? []).join('\n'), 12)}`,
      );
    if (!failedTests.length && file.status === 'failed')
      failures.push(
        `  ✗ ${runName} › ${path} (the file failed outside a test)\n${firstLines(file.message ?? '', 6)}`,
      );
  }
}

/**
 * Runs one vitest invocation and adds its JSON report to the totals. With `captureTo`, its output
 * goes to that file instead of the terminal (a run in the background lane).
 */
async function runVitest(run, index, captureTo) {
  const report = join(out, `${index}.json`);
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
  let stdio = 'inherit';
  let fd = null;
  if (captureTo) {
    fd = openSync(captureTo, 'a');
    stdio = ['ignore', fd, fd];
  } else process.stderr.write(`\n=== vitest: ${run.name} ===\n`);
  const status = await new Promise((done) => {
    const child = spawn(cmd, args, { cwd: root, stdio, env });
    child.on('error', () => done(-1));
    child.on('exit', (code, signal) => done(signal ? -1 : code));
  });
  if (fd !== null) closeSync(fd);
  const seconds = Math.round((Date.now() - started) / 1000);
  let summary = 'no report';
  try {
    const j = JSON.parse(readFileSync(report, 'utf8'));
    passed += j.numPassedTests;
    failed += j.numFailedTests;
    skipped += j.numPendingTests + (j.numTodoTests ?? 0);
    summary = `${j.numPassedTests} passed, ${j.numFailedTests} failed`;
    collectFailures(run.name, j);
    if (j.numFailedTestSuites > 0 && j.numFailedTests === 0) broken = true;
  } catch {
    broken = true;
    failures.push(`  ✗ ${run.name}: no JSON report (vitest exit ${status})`);
  }
  if (status !== 0) broken = true;
  if (run.group === 'real-pbs')
    realPbs.push(`${run.name.replace(/^real-pbs \(job (history \w+)\)$/, '$1')}: ${summary} in ${seconds} s`);
}

// The `real-pbs` runs spend their time waiting on OpenPBS, the `cluster` group on Slurm jobs that
// sleep: when both are due, the real-pbs runs go in a background lane next to the cluster group
// (their own daemons, ports and lock; output kept in a file and printed after the cluster group).
// SCRIPTHUT_TEST_SERIAL=1 runs every group one after the other.
const parallelPbs =
  process.env.SCRIPTHUT_TEST_SERIAL !== '1' &&
  runs.some((r) => r.group === 'cluster') &&
  runs.some((r) => r.group === 'real-pbs');
const indexed = runs.map((run, index) => ({ run, index }));
const background = parallelPbs ? indexed.filter(({ run }) => run.group === 'real-pbs') : [];
let backgroundLane = null;
const backgroundLog = join(out, 'real-pbs.log');
for (const { run, index } of indexed) {
  if (background.some((b) => b.run === run)) continue;
  if (run.group === 'cluster' && background.length) {
    process.stderr.write(
      `\n=== vitest: ${background.map((b) => b.run.name).join(', ')}: started next to the cluster group, output after it ===\n`,
    );
    backgroundLane = (async () => {
      for (const b of background) {
        appendFileSync(backgroundLog, `\n=== vitest: ${b.run.name} ===\n`);
        await runVitest(b.run, b.index, backgroundLog);
      }
    })();
  }
  await runVitest(run, index, null);
  if (run.group === 'cluster' && backgroundLane) {
    await backgroundLane;
    backgroundLane = null;
    process.stderr.write(readFileSync(backgroundLog, 'utf8'));
  }
}
if (realPbsWanted && !realPbsNote) realPbsNote = realPbs.join('; ');
const requireRealPbs = process.env.SCRIPTHUT_REQUIRE_REAL_PBS === '1';
if (realPbsWanted && !haveOpenpbs && requireRealPbs) broken = true;
if (failures.length) {
  const listing = `failed:\n${failures.join('\n')}\n`;
  console.log(`\n${listing}`);
  if (process.env.SCRIPTHUT_TEST_FAILURES_FILE)
    writeFileSync(process.env.SCRIPTHUT_TEST_FAILURES_FILE, listing);
}
console.log(
  `tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}${realPbsNote ? `; real-pbs: ${realPbsNote}` : ''}`,
);
process.exit(failed > 0 || broken ? 1 : 0);
