/**
 * The CLI as one bundle of the current source, for the subprocess tests: `node <bundle>` starts in
 * about a quarter of the time `node --import tsx apps/cli/src/main.ts` takes (tsx transpiles the
 * CLI and every workspace package it imports on each start).
 *
 * The bundle is built the way `tsup` builds `dist/` (esbuild, ESM, node20, source maps), with
 * three differences that keep it equal to running the source:
 * - every `@scripthut/*` import is inlined from the package's `src/` (the file its package.json
 *   `exports` entry names, with `dist/*.js` read as `src/*.ts`, as in vitest.config.ts), never from
 *   a `dist/` left by an earlier build;
 * - every third-party import stays external and is pinned to the file Node would load for the
 *   importing source file (resolved from that file's directory with Node's conditions), so native
 *   modules (better-sqlite3, ssh2's optional bindings) and dynamic `require`s work, and the bundle
 *   can live in any directory;
 * - `import.meta.url`/`dirname`/`filename` in a source file keep the value they have when that
 *   file runs from source (e.g. `new URL('../package.json', import.meta.url)` in the CLI's
 *   version.ts, `createRequire(import.meta.url)` in the server and the SSH package).
 * Dynamic imports become chunks of their own (`splitting`), so what the CLI loads lazily stays lazy.
 *
 * @example
 * ```ts
 * const { main } = await buildCliBundle(mkdtempSync(join(tmpdir(), 'scripthut-cli-')));
 * spawn(process.execPath, ['--enable-source-maps', main, '--version']);
 * ```
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { workspaceSourceFiles } from '../../../workspace-sources.js';

const REPO = resolve(import.meta.dirname, '../../..');

/** Where a built bundle is: `main` is the entry to run with node. */
export interface CliBundle {
  dir: string;
  main: string;
  /** The files bundled in (absolute paths): workspace sources only, third-party stays external. */
  inputs: string[];
}

const SOURCE_FILE = /\.(ts|tsx|mts)$/;
const IMPORT_META = /\bimport\.meta\.(url|dirname|filename)\b/g;

function sourcePlugin(repo: string): Plugin {
  const workspace = workspaceSourceFiles(repo);
  const sourceDirs = ['packages', 'apps'].map((g) => `${join(repo, g)}/`);
  const isWorkspaceSource = (path: string) =>
    sourceDirs.some((d) => path.startsWith(d)) && !path.includes('/node_modules/');
  return {
    name: 'scripthut-current-source',
    setup(b) {
      b.onResolve({ filter: /^@scripthut\// }, (args) => {
        const path = workspace.get(args.path);
        if (!path)
          return {
            errors: [{ text: `${args.path} is not an export of a workspace package (${args.importer})` }],
          };
        return { path };
      });
      // third-party packages: external, pinned to what Node resolves for the importing file
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData?.pinning || args.path.startsWith('node:') || args.path.startsWith('@scripthut/'))
          return undefined;
        if (!isWorkspaceSource(args.importer)) return undefined;
        const found = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: { pinning: true },
        });
        if (found.errors.length > 0) return { errors: found.errors };
        // a Node builtin without `node:` (esbuild marks it external itself)
        if (found.external) return { path: args.path, external: true };
        return { path: pathToFileURL(found.path).href, external: true };
      });
      b.onLoad({ filter: SOURCE_FILE }, async (args) => {
        if (!isWorkspaceSource(args.path)) return undefined;
        const text = await readFile(args.path, 'utf8');
        const here = {
          url: pathToFileURL(args.path).href,
          dirname: dirname(args.path),
          filename: args.path,
        } as const;
        return {
          contents: text.replace(IMPORT_META, (_m, key: keyof typeof here) => JSON.stringify(here[key])),
          loader: extname(args.path) === '.tsx' ? 'tsx' : 'ts',
          resolveDir: dirname(args.path),
        };
      });
    },
  };
}

/**
 * Bundle apps/cli/src/main.ts (current source) into `outDir` (created when missing; its files are
 * replaced). Rejects with esbuild's messages when the source does not build.
 */
export async function buildCliBundle(outDir: string, repo = REPO): Promise<CliBundle> {
  const { metafile } = await build({
    absWorkingDir: repo,
    entryPoints: { main: join(repo, 'apps/cli/src/main.ts') },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    // resolve third-party packages as Node does: no `module` condition, no `module` field
    conditions: [],
    mainFields: ['main'],
    jsx: 'automatic',
    jsxImportSource: 'hono/jsx',
    logLevel: 'silent',
    metafile: true,
    plugins: [sourcePlugin(repo)],
  });
  const inputs = Object.keys(metafile.inputs).map((p) => resolve(repo, p));
  return { dir: outDir, main: join(outDir, 'main.mjs'), inputs };
}
