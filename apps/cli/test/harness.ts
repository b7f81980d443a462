/**
 * Subprocess harness: runs the CLI (`node <bundle of apps/cli/src/main.ts> ...`, built from the
 * current source once per test run by cli-bundle-setup.ts) in a temp cwd, normalises output for
 * golden files, and compares (or rewrites with UPDATE_GOLDEN=1).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { expect, inject } from 'vitest';

export const REPO = resolve(import.meta.dirname, '../../..');

function cliBundle(): string {
  const main = inject('scripthutCliBundle');
  if (!main)
    throw new Error(
      'the CLI bundle was not built: add apps/cli/test/cli-bundle-setup.ts to the globalSetup of this vitest project',
    );
  return main;
}

/** The bundled CLI entry (current source; see cli-bundle.ts). */
export const MAIN = cliBundle();
/** Node arguments that start the CLI: `spawn(process.execPath, [...CLI_NODE_ARGS, ...cliArgs])`. */
export const CLI_NODE_ARGS: readonly string[] = ['--enable-source-maps', MAIN];
const GOLDEN_DIR = join(import.meta.dirname, 'golden');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for a CLI subprocess: no colour, no inherited ScriptHut settings. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
  };
  for (const k of ['SCRIPTHUT_SERVER', 'SCRIPTHUT_TOKEN', 'SCRIPTHUT_DATA_DIR', 'FORCE_COLOR']) delete env[k];
  return { ...env, ...extra };
}

/** Run the CLI as a subprocess. */
export function cli(
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CliResult> {
  return runProcess(process.execPath, [...CLI_NODE_ARGS, ...args], opts);
}

export function runProcess(
  file: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: cliEnv(opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`timed out: scripthut ${args.join(' ')}\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** Replace volatile parts (ids, times, durations, temp paths, pids) with placeholders. */
export function normalise(text: string, tmp: string): string {
  return (
    text
      .split(tmp)
      .join('<TMP>')
      // the usage block of `run view` (figures and advice depend on the machine and on timing)
      .replace(/\n\nUsage\n[\s\S]*$/, '\n\n<USAGE>\n')
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<TIME>')
      // relative times; `never` too (a backend may or may not have polled yet, depending on the mode)
      .replace(/\b(just now|\d+[smhd] ago|never)\b/g, '<AGO>')
      .replace(/\b\d+h \d+m\b|\b\d+m \d+s\b|\b\d+(\.\d+)?(ms|s)\b/g, '<DUR>')
      .replace(/\b[0-9a-f]{8}\b/g, '<ID>')
      .replace(/\b[0-9a-f]{12}\b/g, '<JOB>')
      .split(hostname())
      .join('<HOST>')
      .replace(/ {2,}/g, '  ')
      .replace(/[ \t]+$/gm, '')
  );
}

/** Compare `actual` (already normalised) with golden/<name>.txt; UPDATE_GOLDEN=1 rewrites it. */
export function expectGolden(name: string, actual: string): void {
  const file = join(GOLDEN_DIR, `${name}.txt`);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (process.env.CI && !existsSync(file)) throw new Error(`missing golden file ${file}`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  expect(actual, `golden ${name}.txt (UPDATE_GOLDEN=1 to rewrite)`).toBe(readFileSync(file, 'utf8'));
}
