/**
 * One vitest config for the whole monorepo. Tests run against source: every `@scripthut/*`
 * import (and its subpath exports) is aliased to the package's `src/` file, so no build is
 * needed before `pnpm test`.
 *
 * Projects:
 * - one per package/app: co-located `src/**\/*.test.ts` and `test/**\/*.test.ts` (fast, no cluster);
 * - `cluster`: `test/cluster/**` of every package — real sshd + Slurm on localhost, brought up by
 *   the global setup (fails, never skips, when the cluster cannot come up);
 * - `real-pbs`: `packages/backend-pbs/test/real-pbs/**` — the PBS backend against a real OpenPBS
 *   (built from ../shared/vendor/openpbs) over real SSH, brought up by `scripts/pbs/up.sh` in the
 *   job-history mode of `PBS_JOB_HISTORY` (fails, never skips, when it cannot come up; `pnpm test`
 *   runs it once per mode when the OpenPBS source is there, and says so when it is not);
 * - `e2e`: the web UI in Debian's headless Chromium.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { workspaceSourceFiles } from './workspace-sources.js';

const root = import.meta.dirname;
const dirs = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(root, group))
    .map((d) => join(group, d))
    .filter((d) => existsSync(join(root, d, 'package.json'))),
);

const alias = [...workspaceSourceFiles(root)].map(([name, file]) => ({
  find: new RegExp(`^${name.replace(/[/.]/g, '\\$&')}$`),
  replacement: file,
}));

const common = { resolve: { alias } };

/** Bundles the CLI's current source once per run for the tests that spawn it (apps/cli/test/harness.ts). */
const cliBundleSetup = join(root, 'apps/cli/test/cli-bundle-setup.ts');

export default defineConfig({
  test: {
    projects: [
      ...dirs.map((dir) => ({
        ...common,
        test: {
          name: dir.split('/')[1]!,
          root: join(root, dir),
          include: ['src/**/*.test.{ts,tsx}', 'test/**/*.test.{ts,tsx}'],
          exclude: ['test/cluster/**', 'test/real-pbs/**', 'test/e2e/**', '**/node_modules/**'],
          ...(dir === 'apps/cli' ? { globalSetup: [cliBundleSetup] } : {}),
          // a hang guard, not a speed target: `pnpm test` runs two files at once, and a subprocess
          // test of the CLI can take 30 s on a busy 2-core machine
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      })),
      {
        ...common,
        test: {
          name: 'cluster',
          root,
          include: ['packages/*/test/cluster/**/*.test.ts', 'apps/*/test/cluster/**/*.test.ts'],
          globalSetup: [join(root, 'scripts/cluster/vitest-global-setup.ts'), cliBundleSetup],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        ...common,
        test: {
          name: 'real-pbs',
          root,
          include: ['packages/backend-pbs/test/real-pbs/**/*.test.ts'],
          globalSetup: [join(root, 'scripts/pbs/vitest-global-setup.ts')],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        ...common,
        esbuild: { jsx: 'automatic', jsxImportSource: 'hono/jsx' },
        test: {
          name: 'e2e',
          root,
          include: ['apps/*/test/e2e/**/*.test.{ts,tsx}'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
