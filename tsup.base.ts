/**
 * The build of every package and app: ESM for Node 20, type declarations and source maps, `dist/`
 * cleaned first. A package's `tsup.config.ts` only names its entry points (the files its
 * package.json `exports` point at).
 *
 * @example
 * ```ts
 * // packages/<name>/tsup.config.ts
 * import { packageBuild } from '../../tsup.base.js';
 * export default packageBuild(['src/index.ts', 'src/plugin.ts']);
 * ```
 */
import { defineConfig } from 'tsup';

/** The tsup configuration of a package with these entry points (paths relative to the package). */
export function packageBuild(entry: string[]) {
  return defineConfig({
    entry,
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
  });
}
