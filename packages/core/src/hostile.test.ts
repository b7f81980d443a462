/**
 * Hostile strings in every task field: the script built for the task (through the engine and
 * buildJobScript) must run exactly its command and nothing else.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { adhoc, setup } from '../test/helpers.js';
import { ScriptHutError } from './errors.js';
import { withHeredoc } from './shell.js';
import { parseTaskDocument } from './task-json.js';

const payloads = (n: string) => [
  `$(touch canary_${n}a)`,
  `\`touch canary_${n}b\``,
  `'; touch canary_${n}c; '`,
  `"; touch canary_${n}d; "`,
  `\\'$(touch canary_${n}e)\\`,
  `\${IFS}$(touch\${IFS}canary_${n}f)`,
  `SCRIPTHUT_EOF`,
  `%s%n ~root !! *`,
];
const hostile = (n: string) => payloads(n).join(' ');
const multiline = (n: string) => `${hostile(n)}\nSCRIPTHUT_EOF\ntouch canary_${n}g\n'\n"\nEOF`;

function canaries(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('canary')) out.push(join(d, e.name));
      if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  walk(dir);
  return out;
}

describe('hostile task fields', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('produce a script that runs exactly the command', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'scripthut-hostile-'));
    dirs.push(tmp);
    const wdName = `wd ${hostile('wd')}`;
    const wd = join(tmp, wdName);
    mkdirSync(wd);
    const result = join(tmp, 'result.txt');
    const doc = {
      tasks: [
        {
          id: `id ${hostile('id')}`,
          name: `name ${hostile('name')}`,
          command: 'printf "%s\\n" "$H1" "$H2" "$PWD" "$SCRIPTHUT_WORKFLOW" > "$RESULT"',
          working_dir: wd,
          env_vars: { H1: hostile('env1'), H2: multiline('env2'), RESULT: result },
          output_file: `/tmp/out ${hostile('out')}`,
          error_file: `/tmp/err ${hostile('err')}`,
          generates_source: null,
          image: 'registry.example.org:5000/img_x/y-z:1.0',
          environment: 'e',
        },
      ],
    };
    const { tasks } = parseTaskDocument(JSON.stringify(doc), { knownEnvironments: ['e'] });
    const { engine, store, fake } = await setup();
    const run = adhoc(engine, tasks, {
      workflowName: `wf ${hostile('wf')}`,
      environments: { e: { variables: { H3: multiline('env3') }, extraInit: '' } },
    });
    await engine.tick('fake');
    const task = store.getTask(run.id, tasks[0]!.id)!;
    const script = task.script!;
    expect(script).toBe(fake.renderScript(fake.submitCalls[0]![0]!));

    for (const mode of ['file', 'heredoc'] as const) {
      rmSync(result, { force: true });
      const r =
        mode === 'file'
          ? spawnSync('bash', ['-c', script], { cwd: tmp, encoding: 'utf8' })
          : spawnSync('bash', ['-c', withHeredoc('bash', script)], { cwd: tmp, encoding: 'utf8' });
      expect(r.status, `${mode}: ${r.stderr}`).toBe(0);
      expect(readFileSync(result, 'utf8')).toBe(
        `${hostile('env1')}\n${multiline('env2')}\n${wd}\nwf ${hostile('wf')}\n`,
      );
      expect(r.stdout).toContain(`=== ScriptHut Task: name ${hostile('name')} ===`);
      expect(canaries(tmp)).toEqual([]);
    }
  });

  it('a hostile working dir that does not exist stops the script before the command', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'scripthut-hostile-'));
    dirs.push(tmp);
    const { tasks } = parseTaskDocument(
      [{ id: 'x', name: 'x', command: 'touch canary_command_ran', working_dir: `nope ${hostile('wd')}` }],
      { knownEnvironments: [] },
    );
    const { engine, store } = await setup();
    const run = adhoc(engine, tasks);
    await engine.tick('fake');
    const r = spawnSync('bash', ['-c', store.getTask(run.id, 'x')!.script!], { cwd: tmp, encoding: 'utf8' });
    expect(r.status).toBe(97);
    expect(r.stderr).toContain('cannot cd into working directory');
    expect(canaries(tmp)).toEqual([]);
  });

  it('rejects fields that would break scheduler directives', () => {
    for (const [field, value] of [
      ['partition', 'normal\n#SBATCH --wrap=evil'],
      ['partition', 'a b'],
      ['name', 'x\n#SBATCH --wrap=evil'],
      ['working_dir', '/tmp\nrm -rf ~'],
      ['output_file', '/tmp/x\ny'],
      ['gres', 'gpu:1 --wrap=x'],
      ['memory', '4G; rm'],
      ['time_limit', '1:00:00 x'],
      ['image', `img ${hostile('img')}`],
      ['image', '--privileged'],
    ] as const) {
      expect(() =>
        parseTaskDocument([{ id: 'x', name: 'x', command: 'x', [field]: value }], { knownEnvironments: [] }),
      ).toThrow(ScriptHutError);
    }
    expect(() =>
      parseTaskDocument([{ id: 'x', name: 'x', command: 'x', env_vars: { 'A;B': '1' } }], {
        knownEnvironments: [],
      }),
    ).toThrow(/invalid environment variable name/);
  });
});
