#!/usr/bin/env node
/**
 * `pnpm test:packaging`: checks what a user of the published packages relies on, not the workspace.
 *
 *   1. builds every package (tsup) and lints its package.json (publint --strict);
 *   2. packs every publishable package with `pnpm pack` (workspace:* ranges become versions);
 *   3. installs all tarballs with npm into an empty folder (each @scripthut/* name pinned to its
 *      tarball, so nothing of ours comes from the registry);
 *   4. runs the installed `scripthut` bin against the embedded default configuration (no config file,
 *      a fresh data dir): `--version`, `workflow list --json`, and a whole `workflow run demo --watch`
 *      in-process, which must exit 0;
 *   5. imports one backend package from plain Node (ESM) and uses its factory.
 *
 * Exits non-zero with the failing step's output on any failure. Work dir: a temp folder, removed at
 * the end unless KEEP_PACKAGING_DIR=1.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'scripthut-packaging-'));
const tarballs = join(work, 'tarballs');
const app = join(work, 'app');
mkdirSync(tarballs);
mkdirSync(app);

function step(title, cmd, args, options = {}) {
  process.stderr.write(`\n=== packaging: ${title}\n`);
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ''}\n${r.stderr ?? ''}\n`);
    process.stderr.write(`packaging: FAILED at "${title}" (exit ${r.status ?? r.signal})\n`);
    process.exit(1);
  }
  return r.stdout;
}

const dirs = ['packages', 'apps'].flatMap((g) => readdirSync(join(root, g)).map((d) => join(root, g, d)));
const publishable = dirs
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => pkg.private !== true);

step('build + publint', 'pnpm', ['run', 'build:check'], { cwd: root });

const files = {};
for (const { dir, pkg } of publishable) {
  const out = step(`pack ${pkg.name}`, 'pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir });
  const file = out.trim().split('\n').pop().trim();
  files[pkg.name] = `file:${file}`;
}

writeFileSync(
  join(app, 'package.json'),
  JSON.stringify(
    { name: 'packaging-check', private: true, type: 'module', dependencies: files, overrides: files },
    null,
    2,
  ),
);
step(
  'npm install (empty folder, tarballs only for @scripthut/*)',
  'npm',
  ['install', '--no-audit', '--no-fund'],
  {
    cwd: app,
  },
);

const dataDir = join(work, 'data');
const env = {
  ...process.env,
  SCRIPTHUT_DATA_DIR: dataDir,
  SCRIPTHUT_NO_DAEMON: '1',
  HOME: join(work, 'home'),
};
delete env.SCRIPTHUT_SERVER;
delete env.SCRIPTHUT_TOKEN;
mkdirSync(env.HOME);
const bin = join(app, 'node_modules', '.bin', 'scripthut');
const version = step('scripthut --version', bin, ['--version'], { cwd: app, env }).trim();
if (!/\d+\.\d+\.\d+/.test(version)) {
  process.stderr.write(`packaging: unexpected --version output: ${version}\n`);
  process.exit(1);
}
const list = JSON.parse(
  step('scripthut workflow list --json', bin, ['workflow', 'list', '--json'], { cwd: app, env }),
);
const names = (Array.isArray(list) ? list : (list.items ?? list.workflows ?? [])).map((w) => w.name);
if (!names.includes('demo')) {
  process.stderr.write(`packaging: the embedded default has no demo workflow: ${JSON.stringify(list)}\n`);
  process.exit(1);
}
step(
  'scripthut workflow run demo --watch (embedded default, local backend)',
  bin,
  ['workflow', 'run', 'demo', '--watch'],
  {
    cwd: app,
    env,
    timeout: 300_000,
  },
);

const probe = `
import { createSlurmBackend } from '@scripthut/backend-slurm';
import { parseTaskDocument } from '@scripthut/core';
const { tasks } = parseTaskDocument([{ id: 'a', name: 'A', command: 'true' }], { knownEnvironments: [] });
const fakeSsh = { remote: true, exec: async () => ({ stdout: '', stderr: '', exitCode: 0 }),
  health: () => ({ connected: true, lastError: null, endpoint: 'x' }), commandLog: () => [], close: async () => {} };
const b = createSlurmBackend({ name: 'hpc', ssh: fakeSsh, maxConcurrent: 1 });
if (b.type !== 'slurm' || tasks.length !== 1) { console.error('unexpected', b.type, tasks.length); process.exit(1); }
console.log('ok');
`;
writeFileSync(join(app, 'probe.mjs'), probe);
const probed = step('import @scripthut/backend-slurm from plain Node', process.execPath, ['probe.mjs'], {
  cwd: app,
  env,
});
if (probed.trim() !== 'ok') {
  process.stderr.write(`packaging: probe printed ${probed}\n`);
  process.exit(1);
}

if (process.env.KEEP_PACKAGING_DIR !== '1') rmSync(work, { recursive: true, force: true });
else process.stderr.write(`packaging: kept ${work}\n`);
process.stderr.write(`\npackaging: OK (${publishable.length} packages packed, installed and used)\n`);
