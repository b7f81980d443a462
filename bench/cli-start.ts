/**
 * How long one start of the CLI takes, the way the subprocess tests start it, side by side:
 * `node --import tsx apps/cli/src/main.ts …` (the source through tsx) against
 * `node --enable-source-maps <bundle> …` (apps/cli/test/cli-bundle.ts, what apps/cli/test/harness.ts
 * runs). The two are alternated so that machine load hits both alike; the result is the medians and
 * their ratio. The bundle's build time (once per test run) is reported too.
 *
 * Usage: node --import tsx bench/cli-start.ts [rounds]   (prints one JSON line; default 10 rounds)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildCliBundle } from '../apps/cli/test/cli-bundle.js';

const root = join(import.meta.dirname, '..');
const rounds = Number(process.argv[2] ?? 10);
const tmp = mkdtempSync(join(tmpdir(), 'scripthut-bench-cli-'));

try {
  const t0 = performance.now();
  const bundle = await buildCliBundle(join(tmp, 'bundle'));
  const buildMs = Math.round(performance.now() - t0);

  const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
  const starts = {
    tsx: ['--import', tsx, join(root, 'apps/cli/src/main.ts')],
    bundle: ['--enable-source-maps', bundle.main],
  };
  // a read of the (empty) store with no daemon: loads config, store and the command modules
  const commands = { version: ['--version'], 'run list': ['run', 'list', '--json', '--no-daemon'] };
  const env = {
    ...process.env,
    NO_COLOR: '1',
    TSX_TSCONFIG_PATH: join(root, 'tsconfig.json'),
    SCRIPTHUT_DATA_DIR: join(tmp, 'data'),
  };
  const times: Record<string, Record<string, number[]>> = {};
  for (const command of Object.keys(commands))
    times[command] = Object.fromEntries(Object.keys(starts).map((how) => [how, [] as number[]]));
  for (let i = 0; i < rounds; i++) {
    for (const [command, args] of Object.entries(commands)) {
      for (const [how, start] of Object.entries(starts)) {
        const t = performance.now();
        const r = spawnSync(process.execPath, [...start, ...args], { cwd: tmp, env, encoding: 'utf8' });
        const ms = performance.now() - t;
        if (r.status !== 0) throw new Error(`${how} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
        times[command]![how]!.push(ms);
      }
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return Math.round(s[Math.floor(s.length / 2)]!);
  };
  const result: Record<string, unknown> = { rounds, bundleBuildMs: buildMs };
  for (const [command, by] of Object.entries(times)) {
    const tsxMs = median(by.tsx!);
    const bundleMs = median(by.bundle!);
    result[command] = {
      tsxMedianMs: tsxMs,
      bundleMedianMs: bundleMs,
      ratio: Number((tsxMs / bundleMs).toFixed(2)),
    };
  }
  console.log(JSON.stringify(result));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
