/**
 * Runtime features the CLI's daemon mode relies on: read-only access next to a running engine, run
 * id prefixes, persisted source discoveries, and where local generators run.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type CreateRuntimeOptions, createRuntime, type Runtime } from '../src/index.js';

const opened: Runtime[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

const quiet = { info() {}, warn() {}, error() {} };

async function open(cwd: string, extra: Partial<CreateRuntimeOptions> = {}): Promise<Runtime> {
  const rt = await createRuntime({
    cwd,
    dataDir: join(cwd, 'data'),
    pollIntervalMs: 200,
    logger: quiet,
    ...extra,
  });
  opened.push(rt);
  return rt;
}

const CONFIG = `backends:
  - name: here
    type: local
sources:
  - name: flows
    type: path
    path: PATH
    backend: here
    workflows_glob: "*.json"
workflows:
  - name: pwd
    backend: here
    command: "printf '{\\"tasks\\":[{\\"id\\":\\"t\\",\\"name\\":\\"%s\\",\\"command\\":\\"true\\"}]}' \\"$(pwd)\\""
  - name: quick
    backend: here
    command: "echo '{\\"tasks\\":[{\\"id\\":\\"a\\",\\"name\\":\\"a\\",\\"command\\":\\"true\\"}]}'"
`;

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-rt-access-'));
  const flows = join(dir, 'flows');
  mkdirSync(flows);
  writeFileSync(join(flows, 'train.json'), '{"tasks":[{"id":"x","name":"x","command":"true"}]}');
  writeFileSync(join(dir, 'scripthut.yaml'), CONFIG.replace('PATH', flows));
  return dir;
}

describe('read-only runtime', () => {
  it('reads runs and logs while another runtime holds the engine; takes no lock; cannot start', async () => {
    const dir = project();
    const engine = await open(dir);
    await engine.start();
    const run = await engine.runWorkflow('quick');
    await expect.poll(() => engine.getRun(run.run.id).status, { timeout: 30_000 }).toBe('completed');

    const reader = await open(dir, { readOnly: true });
    expect(reader.readOnly).toBe(true);
    expect(reader.listRuns().items.map((r) => r.run.id)).toEqual([run.run.id]);
    expect(reader.getRun(run.run.id).status).toBe('completed');
    expect(reader.listTasks(run.run.id).items.map((t) => t.state)).toEqual(['completed']);
    const log = await reader.readTaskLog(run.run.id, 'a', 'stdout');
    expect(log.content).toContain('ScriptHut');
    await expect(reader.start()).rejects.toThrow(/read-only runtime cannot start/);
    await expect(reader.runWorkflow('quick')).rejects.toThrow(/readonly|read-only/i);
    // the engine is unaffected by the reader
    const second = await engine.runWorkflow('quick');
    await expect.poll(() => engine.getRun(second.run.id).status, { timeout: 30_000 }).toBe('completed');
  });

  it('a data dir without a database reads as empty (and is not created)', async () => {
    const dir = project();
    const reader = await open(dir, { readOnly: true });
    expect(reader.listRuns()).toEqual({ items: [], total: 0 });
  });
});

describe('run id prefixes', () => {
  it('resolve a unique prefix everywhere a run id is taken; ambiguous and unknown ones are errors', async () => {
    const dir = project();
    const rt = await open(dir);
    const ids: string[] = [];
    // enough runs that some two share a first hex digit (pigeonhole: 17 > 16)
    for (let i = 0; i < 17; i++) ids.push((await rt.runWorkflow('quick')).run.id);
    const id = ids[0]!;
    let prefix = id.slice(0, 1);
    while (ids.filter((x) => x.startsWith(prefix)).length > 1) prefix = id.slice(0, prefix.length + 1);
    expect(rt.resolveRunId(prefix)).toBe(id);
    expect(rt.resolveRunId(prefix.toUpperCase())).toBe(id);
    expect(rt.getRun(prefix).run.id).toBe(id);
    expect(rt.listTasks(prefix).items[0]?.runId).toBe(id);
    expect(rt.getTask(prefix, 'a').runId).toBe(id);
    expect((await rt.cancelRun(prefix)).run.id).toBe(id);

    const digit = [...'0123456789abcdef'].find((d) => ids.filter((x) => x.startsWith(d)).length > 1)!;
    const matching = ids.filter((x) => x.startsWith(digit)).sort();
    let err: unknown;
    try {
      rt.getRun(digit);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'validation_failed' });
    expect((err as Error).message).toMatch(
      new RegExp(`^run id prefix "${digit}" is ambiguous: it matches ${matching.length} runs: `),
    );
    expect([...(err as { details: { candidates: string[] } }).details.candidates].sort()).toEqual(matching);
    for (const m of matching) expect((err as Error).message).toContain(m);

    expect(() => rt.getRun('zz')).toThrow(/unknown run "zz"/);
    expect(() => rt.getRun('ffffffff0')).toThrow(/unknown run/);
    // deletion takes exact ids only
    expect(() => rt.deleteRun(prefix)).toThrow(/unknown run/);
  });
});

describe('sources and generators', () => {
  it('source discoveries survive a restart and are listed as workflows', async () => {
    const dir = project();
    const rt = await open(dir);
    expect(rt.listWorkflows().map((w) => w.name)).toEqual(['pwd', 'quick']);
    const synced = await rt.syncSource('flows');
    expect(synced.workflows.map((w) => w.file)).toEqual(['train.json']);
    await rt.close();
    opened.pop();

    const again = await open(dir);
    expect(again.listSources()[0]).toMatchObject({ name: 'flows', lastSyncAt: synced.lastSyncAt });
    expect(again.listWorkflows().map((w) => [w.kind, w.name])).toEqual([
      ['workflow', 'pwd'],
      ['workflow', 'quick'],
      ['source', 'flows/train.json'],
    ]);
  });

  it('a local generator runs in the directory of the config file, not the process cwd', async () => {
    const dir = project();
    const elsewhere = mkdtempSync(join(tmpdir(), 'sh-rt-cwd-'));
    const rt = await open(elsewhere, { configPath: join(dir, 'scripthut.yaml'), dataDir: join(dir, 'data') });
    const dry = await rt.dryRunWorkflow('pwd');
    expect(dry.tasks[0]?.task.name).toBe(dir);
    expect(process.cwd()).not.toBe(dir);
  });
});
