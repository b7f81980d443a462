/**
 * Control characters in API fields (workflow descriptions, run names, task names, commands) never
 * reach the terminal raw: every human view shows them escaped, with colours ON (so our own colour
 * codes are in the output and only escaping at the data level keeps a hostile `ESC [8m` out);
 * `--json` stays exact.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness.js';
import { explain, json, schemas } from '../scenarios.js';

const EVIL = '\x1b[2J\x1b]0;owned\x07\u202e\x1b[8m';
/** Sequences a terminal would act on (clear screen, set title, bell, right-to-left, conceal). */
const RAW = ['\x1b[2J', '\x1b]0;', '\x07', '\u202e', '\x1b[8m', '\x9b'];

const CONFIG = `backends:
  - name: local
    type: local
workflows:
  - name: evil
    backend: local
    description: "desc \\e[2J\\e]0;owned\\a\\u202e\\e[8m"
    command: >-
      printf '%s' '{"tasks":[{"id":"t1","name":"A\\u202eB","command":"echo \\u001b[2J\\u009b; exit 3"}]}'
settings:
  server_port: 47815
`;

let tmp: string;
let env: NodeJS.ProcessEnv;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'scripthut-cli-hostile-'));
  writeFileSync(join(tmp, 'scripthut.yaml'), CONFIG);
  env = { SCRIPTHUT_DATA_DIR: join(tmp, 'data'), SCRIPTHUT_NO_DAEMON: '1', FORCE_COLOR: '1', NO_COLOR: '' };
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function expectSafe(text: string, what: string): void {
  for (const seq of RAW)
    expect(text.includes(seq), `${what} contains ${JSON.stringify(seq)} raw:\n${text}`).toBe(false);
}

describe('hostile text in human output', () => {
  it('is escaped in every view, colours on; --json keeps it exact', async () => {
    const run = (args: string[]) => cli(args, { cwd: tmp, env, timeoutMs: 120_000 });
    const outputs: [string, string][] = [];
    const keep = (what: string, r: { stdout: string; stderr: string }) => {
      outputs.push([`${what} (stdout)`, r.stdout], [`${what} (stderr)`, r.stderr]);
    };

    const list = await run(['workflow', 'list']);
    expect(list.code, explain(list)).toBe(0);
    expect(list.stdout).toContain('desc \\x1b[2J\\x1b]0;owned\\x07\\u202e\\x1b[8m');
    expect(list.stdout).toContain('\x1b[1m'); // colour is on: our own codes pass
    keep('workflow list', list);

    const dry = await run(['workflow', 'dry-run', 'evil', '--scripts']);
    expect(dry.code, explain(dry)).toBe(0);
    expect(dry.stdout).toContain('A\\u202eB');
    expect(dry.stdout).toContain('echo \\x1b[2J\\x9b; exit 3');
    keep('dry-run --scripts', dry);

    const failed = await run(['workflow', 'run', 'evil', '--watch', '--interval', '0.3']);
    expect(failed.code, explain(failed)).toBe(5);
    keep('workflow run --watch', failed);

    const named = await run([
      'task',
      'run',
      '--backend',
      'local',
      '--run-name',
      `run${EVIL}name`,
      '--watch',
      '--interval',
      '0.3',
      '--',
      'true',
    ]);
    expect(named.code, explain(named)).toBe(0);
    expect(named.stderr).toContain('Started run');
    expect(named.stderr).toContain('run\\x1b[2J\\x1b]0;owned\\x07\\u202e\\x1b[8mname');
    keep('task run --watch', named);

    const runs = json(await run(['run', 'list', '--json']), schemas.runList);
    const namedRun = runs.items.find((i) => i.run.workflowName.startsWith('run'));
    expect(namedRun?.run.workflowName).toBe(`run${EVIL}name`); // exact in JSON

    for (const args of [
      ['run', 'list'],
      ['run', 'view', namedRun!.run.id],
      ['run', 'view', runs.items.find((i) => i !== namedRun)!.run.id],
      ['jobs'],
    ]) {
      const r = await run(args);
      expect(r.code, explain(r)).toBe(0);
      keep(args.join(' '), r);
    }
    const view = outputs.find(([w]) => w === `run view ${namedRun!.run.id} (stdout)`)![1];
    expect(view).toContain('run\\x1b[2J\\x1b]0;owned\\x07\\u202e\\x1b[8mname');
    for (const [what, text] of outputs) expectSafe(text, what);
  }, 300_000);
});

describe('escaping helpers', () => {
  it('escapeControl and escapeOutput', async () => {
    const { escapeControl, escapeOutput } = await import('../../src/output.js');
    expect(escapeControl('a\x1b[2Jb')).toBe('a\\x1b[2Jb');
    expect(escapeControl('tab\tand\nnewline')).toBe('tab\tand\nnewline');
    expect(escapeControl('tab\tand\nnewline\r', { singleLine: true })).toBe('tab\\tand\\nnewline\\r');
    expect(escapeControl('\x00\x07\x7f\x9b\u202e\u2066\u200f\u061c')).toBe(
      '\\x00\\x07\\x7f\\x9b\\u202e\\u2066\\u200f\\u061c',
    );
    expect(escapeControl('plain ünïcode ✓ 日本')).toBe('plain ünïcode ✓ 日本');
    // the last line of defence keeps colour codes only when colour is on, never other sequences
    expect(escapeOutput('\x1b[1mbold\x1b[22m \x1b]0;t\x07 \x1b[2J', true)).toBe(
      '\x1b[1mbold\x1b[22m \\x1b]0;t\\x07 \\x1b[2J',
    );
    expect(escapeOutput('\x1b[1mbold\x1b[22m', false)).toBe('\\x1b[1mbold\\x1b[22m');
  });
});
