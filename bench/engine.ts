/**
 * Engine benchmark (not a test): one 100,000-task run — 1,000 groups, each a setup task, 98 workers
 * depending on it and a fan-in depending on `g<N>.w*` — driven on FakeBackend in instant mode with
 * maxConcurrent 1000 and MemoryRunStore.
 *
 * Run: `pnpm tsx bench/engine.ts [groups] [workersPerGroup] [memory|sqlite]`. With `sqlite` the run
 * is kept in the real SQLite store (a fresh file in a temporary directory, as the runtime opens it)
 * instead of MemoryRunStore. Writes bench/results/engine.json (engine-sqlite.json for SQLite).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { Engine, MemoryRunStore, parseTaskDocument } from '@scripthut/core';
import { FakeBackend } from '@scripthut/core/testing';
import { openSqliteStore } from '@scripthut/store';

const groups = Number(process.argv[2] ?? 1000);
const workers = Number(process.argv[3] ?? 98);
const storeKind = process.argv[4] === 'sqlite' ? 'sqlite' : 'memory';
const maxConcurrent = 1000;
/**
 * `SCRIPTHUT_BENCH_HEAP_SNAPSHOTS=<dir>`: write a V8 heap snapshot right after createRun and at the
 * middle pass (50) into `<dir>`, to see what holds the run's memory (open in Chrome DevTools). Off by
 * default: a snapshot forces a full GC, which changes the peak RSS measured.
 */
const snapshotDir = process.env.SCRIPTHUT_BENCH_HEAP_SNAPSHOTS;
const snapshot = (label: string) => {
  if (!snapshotDir) return;
  mkdirSync(snapshotDir, { recursive: true });
  console.log(
    `heap snapshot: ${writeHeapSnapshot(join(snapshotDir, `engine-${storeKind}-${label}.heapsnapshot`))}`,
  );
};

let peakRss = process.memoryUsage().rss;
/** The phase (or pass) during which the peak RSS was sampled, and the memory split at that moment. */
let peakAt = 'start';
let peakSplit = '';
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
/** One line of process and V8 memory: RSS, JS heap used/total, old space used/committed, external, array buffers. */
const memoryLine = () => {
  const m = process.memoryUsage();
  const old = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  return (
    `rss ${mib(m.rss)} heapUsed ${mib(m.heapUsed)} heapTotal ${mib(m.heapTotal)} ` +
    `old ${mib(old?.space_used_size ?? 0)}/${mib(old?.physical_space_size ?? 0)} ` +
    `external ${mib(m.external)} arrayBuffers ${mib(m.arrayBuffers)} MiB`
  );
};
/**
 * `SCRIPTHUT_BENCH_PHASES=1`: print a memory line (see memoryLine) after parse, after createRun, every
 * 10 passes and at the peak, to see which phase sets the peak RSS. Reading the heap statistics costs
 * microseconds and allocates nothing that outlives the call, so it does not move the peak.
 */
const phases = process.env.SCRIPTHUT_BENCH_PHASES === '1';
const phase = (label: string) => {
  if (phases) console.log(`phase ${label.padEnd(14)} ${memoryLine()}`);
};
const sampleRss = (label: string) => {
  const rss = process.memoryUsage().rss;
  if (rss > peakRss) {
    peakRss = rss;
    peakAt = label;
    if (phases) peakSplit = memoryLine();
  }
};

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  const loadStart = loadavg()[0]!;
  const t0 = performance.now();
  let tasks: object[] = [];
  for (let g = 0; g < groups; g++) {
    tasks.push({ id: `g${g}.setup`, name: `setup ${g}`, command: `echo setup ${g}` });
    for (let w = 0; w < workers; w++) {
      tasks.push({
        id: `g${g}.w${w}`,
        name: `work ${g}/${w}`,
        command: `echo ${g} ${w}`,
        deps: [`g${g}.setup`],
      });
    }
    tasks.push({ id: `g${g}.merge`, name: `merge ${g}`, command: 'echo merge', deps: [`g${g}.w*`] });
  }
  let json = JSON.stringify({ tasks });
  tasks = []; // the runtime keeps neither the task objects nor the document text once parsed
  const tParse = performance.now();
  const parsed = parseTaskDocument(json, { knownEnvironments: [] });
  const parseMs = performance.now() - tParse;
  sampleRss('parse');
  phase('after parse');
  const rssAfterParse = process.memoryUsage().rss;

  const dbDir = storeKind === 'sqlite' ? mkdtempSync(join(tmpdir(), 'scripthut-bench-')) : null;
  const sqlite = dbDir ? openSqliteStore(join(dbDir, 'scripthut.db')) : null;
  const store = sqlite ?? new MemoryRunStore({ keepTransitions: false });
  const backend = new FakeBackend({ name: 'fake', maxConcurrent, instant: true });
  const engine = new Engine({
    store,
    backends: [backend],
    pollIntervalMs: 0,
    autoLoop: false,
    clusterInfoIntervalMs: 0,
  });
  // Time spent in store writes (outermost calls only: updateTasks inside transaction() counts once).
  const storeWrites = { wallMs: 0, cpuMs: 0 };
  let writeDepth = 0;
  const writeStore = store as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ['updateTasks', 'recordCacheEntries', 'transaction', 'appendTasks'] as const) {
    const original = writeStore[method]?.bind(store);
    if (!original) continue;
    writeStore[method] = (...args: unknown[]) => {
      if (writeDepth > 0) return original(...args);
      writeDepth++;
      const w0 = performance.now();
      const c0 = process.cpuUsage();
      try {
        return original(...args);
      } finally {
        const c = process.cpuUsage(c0);
        storeWrites.wallMs += performance.now() - w0;
        storeWrites.cpuMs += (c.user + c.system) / 1000;
        writeDepth--;
      }
    };
  }
  await engine.start();
  const tCreate = performance.now();
  const run = engine.createRun({
    workflowName: 'bench',
    backendName: 'fake',
    origin: { kind: 'demo' },
    tasks: parsed.tasks,
    maxConcurrent: null,
  });
  const createMs = performance.now() - tCreate;
  json = '';
  sampleRss('createRun');
  phase('after createRun');
  const rssAfterCreate = process.memoryUsage().rss;
  const heapAfterCreate = process.memoryUsage().heapUsed;
  snapshot('after-create');

  const passes: number[] = [];
  const passesCpu: number[] = [];
  const passesStore: number[] = [];
  storeWrites.wallMs = 0;
  storeWrites.cpuMs = 0;
  const tRun = performance.now();
  while (engine.activeRunIds().length) {
    const s = performance.now();
    const c0 = process.cpuUsage();
    const st0 = storeWrites.cpuMs;
    await engine.tick('fake');
    passes.push(performance.now() - s);
    const c = process.cpuUsage(c0);
    passesCpu.push((c.user + c.system) / 1000);
    passesStore.push(storeWrites.cpuMs - st0);
    sampleRss(`pass ${passes.length}`);
    if (passes.length % 10 === 0) phase(`pass ${passes.length}`);
    if (passes.length === 50) snapshot('pass-50');
    if (passes.length > 100_000) throw new Error('no progress');
  }
  const runMs = performance.now() - tRun;
  if (phases) console.log(`phase peak at ${peakAt}: ${peakSplit}`);
  const totalMs = performance.now() - t0;
  await engine.stop();

  const summary = store.summarizeRun(run.id)!;
  if (summary.status !== 'completed' || summary.counts.completed !== parsed.tasks.length) {
    throw new Error(`benchmark run did not complete: ${JSON.stringify(summary.counts)}`);
  }
  if (backend.maxAlive > maxConcurrent) throw new Error(`cap exceeded: ${backend.maxAlive}`);
  const sorted = [...passes].sort((a, b) => a - b);
  const sortedCpu = [...passesCpu].sort((a, b) => a - b);
  const sortedStore = [...passesStore].sort((a, b) => a - b);
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    loadAvg1mAtStart: Number(loadStart.toFixed(2)),
    tasks: parsed.tasks.length,
    store: storeKind,
    groups,
    workersPerGroup: workers,
    maxConcurrent,
    passes: passes.length,
    submitCalls: backend.submitCount,
    statusCalls: backend.statusCount,
    maxJobsInFlight: backend.maxAlive,
    maxSubmitBatch: backend.maxBatch,
    parseMs: Math.round(parseMs),
    createRunMs: Math.round(createMs),
    runMs: Math.round(runMs),
    totalMs: Math.round(totalMs),
    passMedianMs: Number(percentile(sorted, 50).toFixed(2)),
    passP95Ms: Number(percentile(sorted, 95).toFixed(2)),
    passMaxMs: Number((sorted[sorted.length - 1] ?? 0).toFixed(2)),
    /** CPU time (user + system) of a pass: less sensitive than wall time to other load on the host. */
    passCpuMedianMs: Number(percentile(sortedCpu, 50).toFixed(2)),
    passCpuP95Ms: Number(percentile(sortedCpu, 95).toFixed(2)),
    /** CPU time of a pass inside store writes (updateTasks, recordCacheEntries, transaction). */
    passStoreCpuMedianMs: Number(percentile(sortedStore, 50).toFixed(2)),
    storeWriteCpuMsDuringRun: Math.round(storeWrites.cpuMs),
    storeWriteWallMsDuringRun: Math.round(storeWrites.wallMs),
    peakRssMiB: Math.round(peakRss / 1024 / 1024),
    peakRssAt: peakAt,
    rssAfterParseMiB: Math.round(rssAfterParse / 1024 / 1024),
    rssAfterCreateRunMiB: Math.round(rssAfterCreate / 1024 / 1024),
    heapAfterCreateRunMiB: Math.round(heapAfterCreate / 1024 / 1024),
  };
  const rows: [string, string][] = [
    ['tasks', String(result.tasks)],
    ['store', storeKind === 'sqlite' ? 'SQLite (file)' : 'MemoryRunStore'],
    ['host: cpus / load avg (1 min)', `${result.cpus} / ${result.loadAvg1mAtStart}`],
    ['max concurrent (backend)', String(maxConcurrent)],
    ['max jobs in flight seen', String(result.maxJobsInFlight)],
    ['scheduling passes (ticks)', String(result.passes)],
    ['submit / status calls', `${result.submitCalls} / ${result.statusCalls}`],
    ['parse + validate task JSON', `${result.parseMs} ms`],
    ['createRun (persist + index)', `${result.createRunMs} ms`],
    ['pass median', `${result.passMedianMs} ms`],
    ['pass p95', `${result.passP95Ms} ms`],
    ['pass max', `${result.passMaxMs} ms`],
    ['pass CPU median / p95', `${result.passCpuMedianMs} / ${result.passCpuP95Ms} ms`],
    ['pass CPU in store writes (median)', `${result.passStoreCpuMedianMs} ms`],
    [
      'store writes during run (CPU / wall)',
      `${result.storeWriteCpuMsDuringRun} / ${result.storeWriteWallMsDuringRun} ms`,
    ],
    ['run (all passes)', `${result.runMs} ms`],
    ['total', `${result.totalMs} ms`],
    ['peak RSS', `${result.peakRssMiB} MiB (at ${result.peakRssAt})`],
    ['RSS after parse / after createRun', `${result.rssAfterParseMiB} / ${result.rssAfterCreateRunMiB} MiB`],
    ['JS heap after createRun', `${result.heapAfterCreateRunMiB} MiB`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log(`\nScriptHut engine benchmark (${process.version})`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
  if (dbDir) {
    sqlite?.close();
    rmSync(dbDir, { recursive: true, force: true });
  }
  const out = join(
    dirname(fileURLToPath(import.meta.url)),
    'results',
    storeKind === 'sqlite' ? 'engine-sqlite.json' : 'engine.json',
  );
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\n${JSON.stringify(result)}\nwritten to ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
