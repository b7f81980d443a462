/**
 * `pnpm bench`: runs every ScriptHut benchmark, prints one table and writes bench/results/*.json.
 *
 * - Slurm (bench/slurm.ts, needs the local cluster: brought up here with scripts/cluster/up.sh):
 *   batched submit vs an sbatch loop, completion latency, scheduler commands per poll.
 * - Engine (bench/engine.ts, owned by core): 100,000 tasks, plus 10k/30k for the growth table.
 * - API (apps/server/bench/api.ts, owned by the server), when present.
 *
 * - Job arrays (bench/arrays.ts, local cluster): array vs per-task submission and makespan.
 * - CLI start (bench/cli-start.ts): `node --import tsx src/main.ts` vs the bundle the CLI tests run.
 *
 * Options (env): BENCH_ONLY=slurm,arrays,engine,api,cli-start to run a subset; BENCH_SKIP_CLUSTER_UP=1 to skip up.sh.
 * Each benchmark runs as its own process (clean heap, its own peak RSS).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const resultsDir = join(here, 'results');
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const wanted = (name: string) => !only || only.includes(name);

interface Row {
  bench: string;
  metric: string;
  value: string;
}
const rows: Row[] = [];
const row = (bench: string, metric: string, value: string | number) =>
  rows.push({ bench, metric, value: String(value) });

/** Runs a TypeScript file with tsx; returns the JSON printed on its last stdout line. */
function runTs(file: string, args: string[] = [], resultFile?: string): unknown {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 30 * 60_000,
  });
  process.stderr.write(
    `  ${file} ${args.join(' ')}: exit ${r.status} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  if (r.status !== 0) throw new Error(`${file} failed (exit ${r.status}):\n${r.stderr.slice(-4000)}`);
  if (resultFile) return JSON.parse(readFileSync(join(root, resultFile), 'utf8'));
  const lines = r.stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (line.startsWith('{')) return JSON.parse(line);
  }
  throw new Error(`${file} printed no JSON result`);
}

function save(name: string, data: unknown): void {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(data, null, 2)}\n`);
}

const machine = {
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
  loadAvg1mAtStart: Number(loadavg()[0]!.toFixed(2)),
  at: new Date().toISOString(),
};

// biome-ignore lint/suspicious/noExplicitAny: results are plain JSON from child processes
type Any = any;

if (wanted('slurm')) {
  process.stderr.write('slurm (local cluster)\n');
  if (!process.env.BENCH_SKIP_CLUSTER_UP) {
    const isRoot = process.getuid?.() === 0;
    const up = join(root, 'scripts/cluster/up.sh');
    const r = spawnSync(isRoot ? up : 'sudo', isRoot ? [] : ['-n', up], {
      encoding: 'utf8',
      timeout: 15 * 60_000,
    });
    if (r.status !== 0) throw new Error(`scripts/cluster/up.sh failed:\n${r.stderr}`);
  }
  const s = runTs('bench/slurm.ts') as Any;
  save('slurm', { machine, ...s });
  row(
    'slurm',
    `submit ${s.submit.tasks} tasks, batched backend.submit`,
    `${(s.submit.batchedMs / 1000).toFixed(2)} s`,
  );
  row(
    'slurm',
    `submit ${s.submit.tasks} tasks, sbatch loop in one SSH session`,
    `${(s.submit.shellLoopMs / 1000).toFixed(2)} s`,
  );
  row(
    'slurm',
    `submit ${s.submit.tasks} tasks, same rendered scripts, plain sbatch each`,
    `${(s.submit.sameScriptsLoopMs / 1000).toFixed(2)} s`,
  );
  row(
    'slurm',
    'ratio loop / batched (>1 = batched faster)',
    `${s.submit.speedup}× (vs same scripts ${s.submit.speedupVsSameScripts}×)`,
  );
  row(
    'slurm',
    `task end → recorded completed (poll ${s.latency.pollIntervalMs / 1000} s, quickStatus)`,
    `median ${s.latency.medianMs} ms, max ${s.latency.maxMs} ms`,
  );
  for (const p of s.perPoll) {
    row(
      'slurm',
      `scheduler commands per poll, ${p.activeRuns} active run(s)`,
      `squeue ${p.squeuePerPoll}, sacct ${p.sacctPerPoll} (all SSH ${p.sshCommandsPerPoll})`,
    );
  }
  const z = s.statusSize;
  row(
    'slurm',
    `status poll of ${z.large.jobs} vs ${z.small.jobs} tracked jobs (unknown ids)`,
    `${z.large.medianMs} ms vs ${z.small.medianMs} ms = ${z.ratio}× (${z.large.sshRoundTrips} vs ${z.small.sshRoundTrips} SSH round trips)`,
  );
}

if (wanted('arrays')) {
  process.stderr.write('arrays (local cluster, bench/arrays.ts)\n');
  const a = runTs('bench/arrays.ts') as Any;
  save('arrays', { machine, ...a });
  const sub = a.submit;
  row(
    'arrays',
    `submit ${sub.tasks} tasks, engine with job arrays (created → all have job ids)`,
    `${(sub.engineArraysMs / 1000).toFixed(2)} s`,
  );
  row(
    'arrays',
    `submit ${sub.tasks} tasks, engine one job per task`,
    `${(sub.enginePerTaskMs / 1000).toFixed(2)} s`,
  );
  row('arrays', `submit ${sub.tasks} tasks, bare sbatch --array`, `${(sub.bareArrayMs / 1000).toFixed(2)} s`);
  for (const m of a.makespan) {
    row(
      'arrays',
      `makespan ${m.tasks} × sleep 1: engine arrays / bare sbatch --array`,
      `${(m.engineArraysMs / 1000).toFixed(1)} s / ${(m.bareArrayMs / 1000).toFixed(1)} s = ${m.ratioArrays}×${m.enginePerTaskMs ? ` (one job per task ${(m.enginePerTaskMs / 1000).toFixed(1)} s = ${m.ratioPerTask}×)` : ''}`,
    );
  }
}

if (wanted('engine')) {
  process.stderr.write('engine (bench/engine.ts)\n');
  const growth: Any[] = [];
  // groups × (1 setup + 98 workers + 1 merge) = 100 tasks per group.
  for (const groups of [100, 300, 1000]) {
    const r = runTs('bench/engine.ts', [String(groups), '98']) as Any;
    growth.push({ groups, ...r });
  }
  save('engine-growth', { machine, runs: growth });
  for (const g of growth) {
    row(
      'engine',
      `${g.tasks.toLocaleString('en-US')} tasks (FakeBackend instant, MemoryRunStore)`,
      `parse ${g.parseMs} ms, createRun ${g.createRunMs} ms, run ${g.runMs} ms, total ${g.totalMs} ms, pass p50 ${g.passMedianMs} ms, peak RSS ${g.peakRssMiB} MiB`,
    );
  }
  // The same 100,000-task run kept in the real SQLite store (targets: peak RSS < 400 MiB, pass p50 < 50 ms).
  const q = runTs('bench/engine.ts', ['1000', '98', 'sqlite']) as Any;
  save('engine-sqlite', { machine, ...q });
  row(
    'engine',
    `${q.tasks.toLocaleString('en-US')} tasks (FakeBackend instant, SQLite store)`,
    `parse ${q.parseMs} ms, createRun ${q.createRunMs} ms, run ${q.runMs} ms, total ${q.totalMs} ms, pass p50 ${q.passMedianMs} ms, peak RSS ${q.peakRssMiB} MiB`,
  );
}

if (wanted('api')) {
  const api = join(root, 'apps/server/bench/api.ts');
  if (existsSync(api)) {
    process.stderr.write('api (apps/server/bench/api.ts)\n');
    const r = runTs('apps/server/bench/api.ts', [], 'apps/server/bench/results/api.json') as Any;
    save('api', { machine, ...r });
    for (const [k, v] of Object.entries(r.endpoints as Record<string, { median: number; p95: number }>)) {
      row(
        'api',
        `${k} (${r.tasks.toLocaleString('en-US')}-task run)`,
        `median ${v.median} ms, p95 ${v.p95} ms`,
      );
    }
  } else row('api', 'apps/server/bench/api.ts', 'not present (skipped)');
}

if (wanted('cli-start')) {
  process.stderr.write('cli-start (bench/cli-start.ts)\n');
  const r = runTs('bench/cli-start.ts') as Any;
  save('cli-start', { machine, ...r });
  for (const command of ['version', 'run list'])
    row(
      'cli-start',
      `scripthut ${command}: tsx source vs test bundle (medians of ${r.rounds})`,
      `${r[command].tsxMedianMs} ms vs ${r[command].bundleMedianMs} ms (${r[command].ratio}×); bundle built in ${r.bundleBuildMs} ms`,
    );
}

const w1 = Math.max(...rows.map((r) => r.bench.length), 5);
const w2 = Math.max(...rows.map((r) => r.metric.length), 6);
console.log(
  `\nScriptHut benchmarks — ${machine.cpus}× ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, load ${machine.loadAvg1mAtStart}`,
);
console.log(`${'bench'.padEnd(w1)}  ${'metric'.padEnd(w2)}  value`);
console.log(`${'-'.repeat(w1)}  ${'-'.repeat(w2)}  ${'-'.repeat(20)}`);
for (const r of rows) console.log(`${r.bench.padEnd(w1)}  ${r.metric.padEnd(w2)}  ${r.value}`);
save('summary', { machine, rows });
console.log(`\nresults in ${resultsDir}`);
