/**
 * Secret environment variables through the CLI (subprocesses, in-process runtime): dry runs,
 * `run view --json` and `run list --json` show `***`, never a value.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecrets, writeSecretConfig } from '../../../../packages/runtime/test/fixtures/secrets.js';
import { cli } from '../harness.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'scripthut-cli-secrets-'));
  writeSecretConfig(tmp);
});
// `workflow run --watch` below starts the data dir's daemon: stop it, or it outlives the suite.
afterAll(async () => {
  await cli(['daemon', 'stop'], { cwd: tmp, env: { SCRIPTHUT_DATA_DIR: join(tmp, 'data') } });
  rmSync(tmp, { recursive: true, force: true });
});

describe('secret environment variables in CLI output', () => {
  it('dry run, run --watch, run list and run view --json show *** instead of values', async () => {
    const env = { SCRIPTHUT_DATA_DIR: join(tmp, 'data') };
    const dry = await cli(['workflow', 'dry-run', 'wf', '--json'], { cwd: tmp, env });
    expect(dry.code, dry.stderr).toBe(0);
    expectNoSecrets(dry.stdout + dry.stderr, 'workflow dry-run --json');
    expect(dry.stdout).toContain("export HF_TOKEN='***'");

    const run = await cli(['workflow', 'run', 'wf', '--watch'], { cwd: tmp, env, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    expectNoSecrets(run.stdout + run.stderr, 'workflow run --watch');

    const list = await cli(['run', 'list', '--json'], { cwd: tmp, env });
    expect(list.code, list.stderr).toBe(0);
    expectNoSecrets(list.stdout, 'run list --json');
    const id = /"id":\s*"([0-9a-f]{8})"/.exec(list.stdout)?.[1];
    expect(id).toBeDefined();

    const view = await cli(['run', 'view', id!, '--json'], { cwd: tmp, env });
    expect(view.code, view.stderr).toBe(0);
    expectNoSecrets(view.stdout, 'run view --json');
    expect(view.stdout).toContain('"HF_TOKEN": "***"');
  }, 120_000);
});
