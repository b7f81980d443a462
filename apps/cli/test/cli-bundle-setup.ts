/**
 * Vitest global setup of the projects whose tests start the CLI (`cli`, `cluster`): bundles the
 * current source of apps/cli/src/main.ts once per test run into a temporary directory (see
 * cli-bundle.ts) and provides its entry as `inject('scripthutCliBundle')`, which harness.ts runs
 * with plain node. In watch mode the bundle is rebuilt before every rerun; it is removed at teardown.
 * A source that does not build fails the run here, with esbuild's message.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildCliBundle } from './cli-bundle.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Absolute path of the bundled CLI entry (`node <it> …` runs the current source). */
    scripthutCliBundle: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), 'scripthut-cli-bundle-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  let main: string;
  try {
    ({ main } = await buildCliBundle(dir));
  } catch (e) {
    remove(); // vitest runs no teardown when the setup throws
    throw e;
  }
  project.provide('scripthutCliBundle', main);
  project.onTestsRerun(async () => {
    await buildCliBundle(dir);
  });
  return remove;
}
