/**
 * Shell completion in a real bash: the generated script completes workflow names (configured and
 * synced source files), run ids, backends and sources through `scripthut __complete`, for
 * `scripthut …` and for `pnpm scripthut …`, and hands other pnpm completions to pnpm's own.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shellQuote } from '@scripthut/core';
import { createRuntime } from '@scripthut/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionCandidates } from '../../src/completion.js';
import { CLI_NODE_ARGS, cli, cliEnv, REPO } from '../harness.js';
import { CONFIG_YAML } from '../scenarios.js';

let tmp: string;
let dataDir: string;
let bin: string;
let runIds: string[];
let script: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'scripthut-cli-completion-'));
  const flows = join(tmp, 'flows');
  mkdirSync(flows);
  writeFileSync(join(flows, 'train.json'), '{"tasks":[{"id":"x","name":"x","command":"true"}]}');
  writeFileSync(
    join(tmp, 'scripthut.yaml'),
    CONFIG_YAML.replace(
      'workflows:',
      `sources:\n  - name: flows\n    type: path\n    path: ${flows}\n    backend: local\n    workflows_glob: "*.json"\n\nworkflows:`,
    ),
  );
  dataDir = join(tmp, 'data');
  // two runs and a synced source, written by an engine that is gone again
  const rt = await createRuntime({ cwd: tmp, dataDir, logger: { info() {}, warn() {}, error() {} } });
  runIds = [(await rt.runWorkflow('ok')).run.id, (await rt.runWorkflow('fails')).run.id];
  await rt.syncSource('flows');
  await rt.close();
  // `scripthut` on PATH, as after a global install
  bin = join(tmp, 'bin');
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'scripthut'),
    `#!/bin/sh\nexec ${[process.execPath, ...CLI_NODE_ARGS].map(shellQuote).join(' ')} "$@"\n`,
  );
  chmodSync(join(bin, 'scripthut'), 0o755);
  const r = await cli(['completion', 'bash'], { cwd: tmp });
  expect(r.code).toBe(0);
  script = r.stdout;
  writeFileSync(join(tmp, 'completion.bash'), script);
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** COMPREPLY for `words` (the last one is being completed), in `cwd`. */
function complete(words: string[], cwd = tmp, before = ''): string[] {
  const out = execFileSync(
    'bash',
    [
      '-c',
      `${before}\nsource ${JSON.stringify(join(tmp, 'completion.bash'))}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}\nfn=$(complete -p "\${COMP_WORDS[0]}" | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p'); "$fn"; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    {
      cwd,
      encoding: 'utf8',
      env: cliEnv({ PATH: `${bin}:${process.env.PATH}`, SCRIPTHUT_DATA_DIR: dataDir }),
      timeout: 60_000,
    },
  );
  return out.split('\n').filter(Boolean);
}

describe('bash completion with live values', () => {
  it('completes workflow names, run ids, backends and sources from the config and the store', () => {
    expect(complete(['scripthut', 'workflow', 'run', ''])).toEqual(['ok', 'fails', 'flows/train.json']);
    expect(complete(['scripthut', 'cost', 'f'])).toEqual(['fails', 'flows/train.json']);
    expect(complete(['scripthut', 'run', 'list', '--workflow', 'o'])).toEqual(['ok']);
    expect(complete(['scripthut', 'run', 'view', ''])).toEqual([...runIds].reverse()); // newest first
    expect(complete(['scripthut', 'run', 'logs', runIds[0]!.slice(0, 8), ''])).toEqual([]); // TASK: no list
    expect(complete(['scripthut', '--json', 'run', 'cancel', runIds[1]!])).toEqual([runIds[1]]);
    expect(complete(['scripthut', 'backend', 'status', ''])).toEqual(['local']);
    expect(complete(['scripthut', 'task', 'run', '--backend', ''])).toEqual(['local']);
    expect(complete(['scripthut', 'source', 'sync', ''])).toEqual(['flows']);
    // still static where it was
    expect(complete(['scripthut', 'daemon', ''])).toEqual(['start', 'stop', 'status', 'logs', 'run']);
    expect(complete(['scripthut', 'run', 'list', '--status', 'c'])).toEqual(['completed', 'cancelled']);
    // the helper itself is not offered
    expect(complete(['scripthut', '__'])).toEqual([]);
  });

  it('`pnpm scripthut …` completes like `scripthut …`; other pnpm words go to the completion pnpm had', () => {
    // from a clone: pnpm runs the repo's script; no scripthut.yaml in the repo root → the demo config
    expect(complete(['pnpm', 'scripthut', 'workflow', 'run', ''], REPO)).toEqual(['demo']);
    expect(complete(['pnpm', 'scripthut', 'run', 'view', ''], REPO)).toEqual([...runIds].reverse());
    expect(complete(['pnpm', 'scripthut', 'ru'], REPO)).toEqual(['run']);
    const previous = '_previous_pnpm() { COMPREPLY=(from-pnpm); }; complete -F _previous_pnpm pnpm';
    expect(complete(['pnpm', 'inst'], REPO, previous)).toEqual(['from-pnpm']);
    expect(complete(['pnpm', 'scripthut', 'workflow', ''], REPO, previous)).toEqual([
      'list',
      'dry-run',
      'run',
    ]);
  });

  it('`scripthut __complete KIND` prints nothing (and exits 0) when there is nothing to read', async () => {
    const empty = mkdtempSync(join(tmp, 'empty-'));
    const r = await cli(['__complete', 'runs'], {
      cwd: empty,
      env: { SCRIPTHUT_DATA_DIR: join(empty, 'none') },
    });
    expect(r).toMatchObject({ code: 0, stdout: '' });
    const bad = await cli(['__complete', 'nonsense'], { cwd: empty });
    expect(bad).toMatchObject({ code: 0, stdout: '' });
  });
});

describe('completion candidates', () => {
  const from = {
    workflows: ['ok', 'fails', 'ok'],
    backends: ['local', 'hpc'],
    sources: ['flows'],
    discovered: ['flows/a.json', 'flows/has space.json', "flows/it's.json", 'flows/\x1b[2J.json'],
    runs: [
      { id: 'bbbb2222', workflow: 'ok' },
      { id: 'aaaa1111', workflow: 'fails' },
    ],
  };
  it('per kind, deduplicated, without words a shell would split or that carry control characters', () => {
    expect(completionCandidates('workflows', from)).toEqual(['ok', 'fails', 'flows/a.json']);
    expect(completionCandidates('runs', from)).toEqual(['bbbb2222', 'aaaa1111']);
    expect(completionCandidates('backends', from)).toEqual(['local', 'hpc']);
    expect(completionCandidates('sources', from)).toEqual(['flows']);
  });
});
