/**
 * The CLI bundle the subprocess tests run (cli-bundle.ts): built from the current source, never a
 * `dist/`, with third-party packages loaded as Node loads them and `import.meta` of each source
 * file unchanged.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { buildCliBundle } from './cli-bundle.js';
import { REPO } from './harness.js';

const tmp = mkdtempSync(join(tmpdir(), 'scripthut-cli-bundle-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function write(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

describe('a bundle of a small workspace', () => {
  const repo = join(tmp, 'repo');
  write(repo, {
    'packages/greet/package.json': JSON.stringify({
      name: '@scripthut/greet',
      type: 'module',
      exports: {
        '.': { types: './dist/index.d.ts', default: './dist/index.js' },
        './where': './dist/where.js',
      },
    }),
    'packages/greet/src/index.ts': `export const greeting: string = 'from source';\n`,
    'packages/greet/dist/index.js': `export const greeting = 'from a stale dist';\n`,
    'packages/greet/src/where.ts':
      'export const where = { url: import.meta.url, dirname: import.meta.dirname, filename: import.meta.filename };\n',
    // a dependency whose exports name a `module` condition first and whose `module` field differs
    // from `main`: Node takes `import` and `main`, so must the bundle
    'node_modules/dual/package.json': JSON.stringify({
      name: 'dual',
      exports: { '.': { module: './module.js', import: './esm.mjs', require: './cjs.cjs' } },
    }),
    'node_modules/dual/module.js': `export const flavour = 'module condition';\n`,
    'node_modules/dual/esm.mjs': `export const flavour = 'import condition';\n`,
    'node_modules/dual/cjs.cjs': `exports.flavour = 'require condition';\n`,
    'node_modules/old/package.json': JSON.stringify({ name: 'old', main: 'main.cjs', module: 'module.mjs' }),
    'node_modules/old/main.cjs': `exports.field = 'main';\n`,
    'node_modules/old/module.mjs': `export const field = 'module';\n`,
    'apps/cli/package.json': JSON.stringify({ name: '@scripthut/cli', version: '9.8.7', type: 'module' }),
    'apps/cli/src/version.ts': [
      `import { readFileSync } from 'node:fs';`,
      `export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;`,
      '',
    ].join('\n'),
    'apps/cli/src/main.ts': [
      `import { greeting } from '@scripthut/greet';`,
      `import { flavour } from 'dual';`,
      `import old from 'old';`,
      `import { VERSION } from './version.js';`,
      `const { where } = await import('@scripthut/greet/where');`,
      `console.log(JSON.stringify({ greeting, flavour, field: old.field, version: VERSION, where }));`,
      '',
    ].join('\n'),
  });

  it('takes workspace packages from src/ and keeps import.meta and Node resolution as from source', async () => {
    const bundle = await buildCliBundle(join(tmp, 'out'), repo);
    const elsewhere = mkdtempSync(join(tmp, 'cwd-'));
    const out = JSON.parse(
      execFileSync(process.execPath, [bundle.main], { cwd: elsewhere, encoding: 'utf8' }),
    );
    const whereTs = join(repo, 'packages/greet/src/where.ts');
    expect(out).toEqual({
      greeting: 'from source',
      flavour: 'import condition',
      field: 'main',
      version: '9.8.7',
      where: { url: pathToFileURL(whereTs).href, dirname: dirname(whereTs), filename: whereTs },
    });
    // third-party code is loaded from its package, not copied into the bundle
    expect(bundle.inputs.filter((p) => p.includes('node_modules'))).toEqual([]);
    expect(bundle.inputs).toContain(join(repo, 'packages/greet/src/index.ts'));
    // the lazily imported module stays a chunk of its own
    expect(readFileSync(bundle.main, 'utf8')).not.toContain('packages/greet/src/where.ts');
  });

  it('fails with esbuild’s message naming the file when the source does not build', async () => {
    const broken = join(tmp, 'broken');
    write(broken, {
      'apps/cli/package.json': JSON.stringify({ name: '@scripthut/cli', version: '1.0.0' }),
      'apps/cli/src/main.ts': `import { nothing } from '@scripthut/missing';\nconsole.log(nothing);\n`,
    });
    await expect(buildCliBundle(join(tmp, 'out-broken'), broken)).rejects.toThrow(
      /@scripthut\/missing is not an export of a workspace package/,
    );
  });
});

describe('the bundle of this repository (the one the subprocess tests run)', () => {
  it('is built from the sources of every workspace package and reports the CLI’s version', () => {
    const main = inject('scripthutCliBundle');
    const chunks = readFileSync(main, 'utf8');
    expect(chunks).toMatch(/^\/\/ apps\/cli\/src\/main\.ts$/m);
    const version = JSON.parse(readFileSync(join(REPO, 'apps/cli/package.json'), 'utf8')).version as string;
    expect(execFileSync(process.execPath, [main, '--version'], { encoding: 'utf8' }).trim()).toBe(version);
  });

  it('imports no dist/ of a workspace package', async () => {
    const bundle = await buildCliBundle(join(tmp, 'repo-bundle'));
    const workspaceInputs = bundle.inputs.filter((p) => p.startsWith(REPO) && !p.includes('/node_modules/'));
    expect(workspaceInputs.length).toBeGreaterThan(50);
    expect(workspaceInputs.filter((p) => !/\/(apps|packages)\/[^/]+\/src\//.test(p))).toEqual([]);
    expect(bundle.inputs.filter((p) => p.includes('/node_modules/'))).toEqual([]);
    for (const pkg of [
      'packages/store/src/index.ts',
      'packages/core/src/index.ts',
      'apps/server/src/index.ts',
    ])
      expect(bundle.inputs).toContain(join(REPO, pkg));
  });
});
