/**
 * Where every `@scripthut/*` import lives in source: for each export of each workspace package
 * (`packages/*`, `apps/*`), the `src/` file its package.json `exports` entry builds from
 * (`./dist/x.js` → `src/x.ts`, or `src/x.tsx` when that exists). One mapping for the tests that run
 * against source: vitest.config.ts aliases these names, and the CLI's test bundle
 * (apps/cli/test/cli-bundle.ts) inlines these files.
 *
 * @example
 * ```ts
 * workspaceSourceFiles(repo).get('@scripthut/core/testing'); // → <repo>/packages/core/src/testing/index.ts
 * ```
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** `@scripthut/<pkg>[/<subpath>]` → the absolute path of its source file. */
export function workspaceSourceFiles(repo: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const group of ['packages', 'apps']) {
    if (!existsSync(join(repo, group))) continue;
    for (const name of readdirSync(join(repo, group))) {
      const dir = join(repo, group, name);
      if (!existsSync(join(dir, 'package.json'))) continue;
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name: string;
        exports?: Record<string, string | { default?: string }>;
      };
      for (const [key, value] of Object.entries(pkg.exports ?? {})) {
        if (key === './package.json') continue;
        const target = typeof value === 'string' ? value : value.default;
        if (!target) continue;
        const src = join(dir, target.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
        const tsx = src.replace(/\.ts$/, '.tsx');
        files.set(key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`, existsSync(tsx) ? tsx : src);
      }
    }
  }
  return files;
}
