/**
 * CLI frictions found by trying ScriptHut as a new user (issue 15, item 6), each through the real
 * CLI: ambiguous run id prefixes, generators (where they run, how they fail), unresolvable SSH
 * hosts, persisted source syncs, and the pricing warning.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime } from '@scripthut/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness.js';
import { CONFIG_YAML, explain, json, schemas } from '../scenarios.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'scripthut-cli-frictions-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function project(name: string, config: string) {
  const cwd = join(tmp, name);
  mkdirSync(cwd, { recursive: true });
  writeFileSync(join(cwd, 'scripthut.yaml'), config);
  const env = { SCRIPTHUT_DATA_DIR: join(cwd, 'data'), SCRIPTHUT_NO_DAEMON: '1' };
  return { cwd, env, run: (args: string[], cwd2 = cwd) => cli(args, { cwd: cwd2, env, timeoutMs: 120_000 }) };
}

describe('run id prefixes', () => {
  it('an ambiguous prefix is a usage error (exit 2) that lists the runs it matches', async () => {
    const p = project('prefix', CONFIG_YAML);
    // 17 runs: some first hex digit is shared (pigeonhole)
    const rt = await createRuntime({
      cwd: p.cwd,
      dataDir: p.env.SCRIPTHUT_DATA_DIR,
      logger: { info() {}, warn() {}, error() {} },
    });
    const ids: string[] = [];
    for (let i = 0; i < 17; i++) ids.push((await rt.runWorkflow('ok')).run.id);
    await rt.close();
    const digit = [...'0123456789abcdef'].find((d) => ids.filter((x) => x.startsWith(d)).length > 1)!;
    const matching = ids.filter((x) => x.startsWith(digit));
    const r = await p.run(['run', 'view', digit]);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toContain(
      `error: run id prefix "${digit}" is ambiguous: it matches ${matching.length} runs: `,
    );
    for (const id of matching) expect(r.stderr).toContain(id);
    const j = await p.run(['run', 'cancel', digit, '--json']);
    expect(json(j, schemas.error).error).toMatchObject({ code: 'validation_failed', exitCode: 2 });
  }, 180_000);
});

describe('generators', () => {
  const config = `backends:
  - name: local
    type: local
workflows:
  - name: here
    backend: local
    command: "cat tasks.json"
  - name: broken
    backend: local
    command: "echo 'no such thing' >&2; exit 3"
settings:
  server_port: 47816
`;
  it('run in the directory of the config file, wherever the command is typed', async () => {
    const p = project('gen/conf', config);
    writeFileSync(
      join(p.cwd, 'tasks.json'),
      '{"tasks":[{"id":"from-config-dir","name":"x","command":"true"}]}',
    );
    const elsewhere = join(tmp, 'gen', 'elsewhere');
    mkdirSync(elsewhere);
    const r = await p.run(
      ['workflow', 'dry-run', 'here', '--json', '--config', join(p.cwd, 'scripthut.yaml')],
      elsewhere,
    );
    expect(r.code, explain(r)).toBe(0);
    expect(json(r, schemas.dryRun).tasks.map((t) => t.task.id)).toEqual(['from-config-dir']);
  }, 120_000);

  it('a failing generator exits 1 with its exit code and stderr, and creates no run', async () => {
    const p = project('gen/broken', config);
    const r = await p.run(['workflow', 'run', 'broken']);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toContain('error: workflow "broken": command exited with code 3');
    expect(r.stderr).toContain('no such thing');
    expect(json(await p.run(['run', 'list', '--json']), schemas.runList).total).toBe(0);
  }, 120_000);
});

describe('an SSH host that does not resolve', () => {
  it('fails the command that needs it at once, naming the host (exit 1)', async () => {
    const p = project(
      'dns',
      `backends:
  - name: hpc
    type: slurm
    ssh:
      host: no-such-host.invalid
      user: me
      key_path: /dev/null
workflows:
  - name: remote
    backend: hpc
    command: "echo '{\\"tasks\\":[]}'"
settings:
  server_port: 47817
`,
    );
    // the command waits for the connection up to its 2-minute generator timeout unless the DNS
    // failure ends the wait: the CLI's own timeout (60 s) fails the test otherwise
    const r = await cli(['workflow', 'dry-run', 'remote'], { cwd: p.cwd, env: p.env, timeoutMs: 60_000 });
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toContain(
      'host "no-such-host.invalid" not found (DNS: getaddrinfo ENOTFOUND no-such-host.invalid)',
    );
  }, 120_000);
});

describe('source sync', () => {
  it('results persist: a later command lists the synced files as workflows', async () => {
    const flows = join(tmp, 'flows');
    mkdirSync(flows);
    writeFileSync(join(flows, 'train.json'), '{"tasks":[{"id":"t","name":"t","command":"echo trained"}]}');
    const p = project(
      'sources',
      CONFIG_YAML.replace(
        'workflows:',
        `sources:\n  - name: flows\n    type: path\n    path: ${flows}\n    backend: local\n    workflows_glob: "*.json"\n\nworkflows:`,
      ),
    );
    const before = json(await p.run(['workflow', 'list', '--json']), schemas.workflows);
    expect(before.map((w) => w.name)).toEqual(['ok', 'fails']);
    const sync = await p.run(['source', 'sync', 'flows']);
    expect(sync.code, explain(sync)).toBe(0);
    expect(sync.stdout).toContain('flows synced: 1 workflow file(s)');
    // a new process: what it knows came from the data dir
    const after = await p.run(['workflow', 'list']);
    expect(after.code, explain(after)).toBe(0);
    expect(after.stdout).toMatch(/^flows\/train\.json +source +local +- *$/m);
    const sources = await p.run(['source', 'list', '--json']);
    expect(JSON.parse(sources.stdout)[0]).toMatchObject({
      name: 'flows',
      error: null,
      lastSyncAt: expect.any(String),
    });
  }, 180_000);
});

describe('pricing that cannot load', () => {
  it('is reported where a cost is shown, and nowhere else', async () => {
    // a price file that exists (the config is valid) but cannot be used
    const prices = join(tmp, 'broken-instances.json');
    writeFileSync(prices, 'not json');
    const p = project('pricing', `${CONFIG_YAML}\npricing:\n  price_source: ${prices}\n`);
    for (const args of [
      ['backend', 'list'],
      ['workflow', 'list'],
      ['workflow', 'run', 'ok', '--watch', '--interval', '0.3'],
    ]) {
      const r = await p.run(args);
      expect(r.code, explain(r)).toBe(0);
      expect(r.stderr).not.toContain('pricing');
    }
    const cost = await p.run(['cost', 'ok']);
    expect(cost.code, explain(cost)).toBe(0);
    expect(cost.stdout).toMatch(
      /^ok: Cost estimate: unavailable \(cannot load price data from .*broken-instances\.json: /,
    );
    expect(cost.stderr).not.toContain('pricing');
  }, 180_000);
});
