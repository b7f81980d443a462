/**
 * Every command, run as a subprocess, in one mode. `in-process.test.ts` and `server.test.ts` call
 * {@link defineScenarios}; both compare against the SAME golden files, so the two modes are proven to
 * print identical output.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type CliResult, cli, expectGolden, normalise } from './harness.js';

export const CONFIG_YAML = `backends:
  - name: local
    type: local
    max_concurrent: 4

workflows:
  - name: ok
    backend: local
    description: Two quick tasks
    command: >-
      printf '%s' '{"tasks":[{"id":"hello","name":"Hello","command":"echo hello; echo oops >&2"},
      {"id":"bye","name":"Bye","command":"echo bye","deps":["hello"]}]}'
  - name: fails
    backend: local
    description: One task fails, its dependent never runs
    command: >-
      printf '%s' '{"tasks":[{"id":"good","name":"Good","command":"echo fine"},
      {"id":"bad","name":"Bad","command":"echo broken >&2; exit 3"},
      {"id":"after","name":"After","command":"echo never","deps":["bad"]}]}'

settings:
  poll_interval: 5
  # not 8000: a daemon started by these tests must not take the default port from anyone; when
  # several take this one at once, the daemons fall back to free ports
  server_port: 47813
`;

const countsSchema = z.object({
  pending: z.number(),
  submitting: z.number(),
  submitted: z.number(),
  queued: z.number(),
  running: z.number(),
  completed: z.number(),
  failed: z.number(),
  dep_failed: z.number(),
  cancelled: z.number(),
});
const runSummarySchema = z.object({
  run: z.object({
    id: z.string().regex(/^[0-9a-f]{8}$/),
    workflowName: z.string(),
    backendName: z.string(),
    createdAt: z.string(),
  }),
  counts: countsSchema,
  status: z.enum(['pending', 'running', 'completed', 'failed', 'cancelled']),
  total: z.number().int(),
});
const taskSchema = z.object({
  runId: z.string(),
  spec: z.object({ id: z.string(), name: z.string(), command: z.string() }),
  state: z.string(),
  exitCode: z.number().nullable(),
  jobId: z.string().nullable(),
});
export const schemas = {
  backends: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      maxConcurrent: z.number(),
      health: z.object({ connected: z.boolean() }),
    }),
  ),
  workflows: z.array(
    z.object({ kind: z.enum(['workflow', 'source', 'project']), name: z.string(), backend: z.string() }),
  ),
  runList: z.object({ items: z.array(runSummarySchema), total: z.number() }),
  runView: runSummarySchema.extend({ tasks: z.array(taskSchema) }),
  runSummary: runSummarySchema,
  dryRun: z.object({
    workflowName: z.string(),
    backendName: z.string(),
    tasks: z.array(z.object({ task: z.object({ id: z.string() }), script: z.string() })),
  }),
  estimate: z.object({
    workflow: z.string(),
    kind: z.string(),
    available: z.boolean(),
    currency: z.literal('USD'),
  }),
  runCost: z.object({ runId: z.string(), available: z.boolean(), currency: z.literal('USD') }),
  configCheck: z.object({
    file: z.string(),
    valid: z.boolean(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })),
    warnings: z.array(z.unknown()),
  }),
  logs: z.object({
    runId: z.string(),
    taskId: z.string(),
    stream: z.enum(['stdout', 'stderr']),
    content: z.string(),
  }),
  jobs: z.array(z.object({ kind: z.enum(['task', 'external']), backend: z.string(), name: z.string() })),
  error: z.object({ error: z.object({ code: z.string(), message: z.string(), exitCode: z.number() }) }),
  backendDetail: z.object({ name: z.string(), commandLog: z.array(z.unknown()) }),
};

/** Failure message: everything the command printed. */
export function explain(r: CliResult): string {
  return `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

/** Parse stdout as exactly one JSON document and validate its shape (the document is returned whole). */
export function json<T>(r: CliResult, schema: z.ZodType<T>): T {
  const doc = JSON.parse(r.stdout);
  schema.parse(doc);
  return doc as T; // every field, not only those the schema names
}

export type Mode = 'in-process' | 'server' | 'daemon';

export interface ModeSetup {
  /** CLI args put before the command (global flags, e.g. --server URL). */
  args: string[];
  /** Extra env for the subprocess. */
  env: NodeJS.ProcessEnv;
  teardown(): Promise<void>;
}

/** Define the scenario suite for a mode. `setup` receives the temp cwd (containing scripthut.yaml). */
export function defineScenarios(mode: Mode, setup: (cwd: string) => Promise<ModeSetup>): void {
  describe(`scripthut CLI (${mode})`, { timeout: 120_000 }, () => {
    let tmp: string;
    let env: ModeSetup;
    const ids: Record<string, string> = {};

    const run = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
      cli([...env.args, ...args], {
        cwd: tmp,
        // a data dir inside tmp even in server mode: a command that wrongly ran in-process never touches $HOME
        env: { SCRIPTHUT_DATA_DIR: join(tmp, 'data'), ...env.env, ...extraEnv },
      });
    const golden = (name: string, r: CliResult) => expectGolden(name, normalise(r.stdout, tmp));

    beforeAll(async () => {
      tmp = mkdtempSync(join(tmpdir(), `scripthut-cli-${mode}-`));
      writeFileSync(join(tmp, 'scripthut.yaml'), CONFIG_YAML);
      mkdirSync(join(tmp, 'data'), { recursive: true });
      env = await setup(tmp);
    }, 60_000);

    afterAll(async () => {
      await env?.teardown();
      rmSync(tmp, { recursive: true, force: true });
    });

    it('backend list', async () => {
      const human = await run(['backend', 'list']);
      expect(human.code, explain(human)).toBe(0);
      golden('backend-list', human);
      const doc = json(await run(['backend', 'list', '--json']), schemas.backends);
      expect(doc.map((b) => b.name)).toEqual(['local']);
    });

    it('backend status local', async () => {
      const r = await run(['backend', 'status', 'local', '--json']);
      expect(r.code, explain(r)).toBe(0);
      const detail = json(r, schemas.backendDetail);
      expect(detail.name).toBe('local');
      expect(detail.commandLog).toEqual([]); // the local backend runs no remote commands
      const missing = await run(['backend', 'status', 'nope']);
      expect(missing.code).toBe(4);
      expect(missing.stderr).toContain('unknown backend "nope"');
    });

    it('workflow list', async () => {
      const human = await run(['workflow', 'list']);
      expect(human.code, explain(human)).toBe(0);
      golden('workflow-list', human);
      const doc = json(await run(['workflow', 'list', '--json']), schemas.workflows);
      expect(doc.map((w) => w.name)).toEqual(['ok', 'fails']);
    });

    it('workflow dry-run ok', async () => {
      const human = await run(['workflow', 'dry-run', 'ok']);
      expect(human.code, explain(human)).toBe(0);
      golden('workflow-dry-run', human);
      const doc = json(await run(['workflow', 'dry-run', 'ok', '--json']), schemas.dryRun);
      expect(doc).toMatchObject({ workflowName: 'ok', backendName: 'local' });
      expect(doc.tasks.map((t) => t.task.id)).toEqual(['hello', 'bye']);
      expect(doc.tasks[0]?.script).toContain('echo hello; echo oops >&2');
      const scripts = await run(['workflow', 'dry-run', 'ok', '--scripts']);
      expect(scripts.code, explain(scripts)).toBe(0);
      expect(scripts.stdout).toContain('--- script of hello ---');
      expect(scripts.stdout).toContain('echo hello; echo oops >&2');
    });

    it('workflow run with an unknown name: exit 4, names the known workflows', async () => {
      const r = await run(['workflow', 'run', 'nope']);
      expect(r.code).toBe(4);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(
        'unknown workflow "nope"; known workflows: ok, fails (scripthut workflow list)',
      );
      const j = await run(['workflow', 'run', 'nope', '--json']);
      expect(json(j, schemas.error).error).toMatchObject({ code: 'not_found', exitCode: 4 });
    });

    it('workflow run ok --watch: exit 0, final view on stdout, progress on stderr', async () => {
      const r = await run(['workflow', 'run', 'ok', '--watch', '--interval', '0.3']);
      expect(r.code, explain(r)).toBe(0);
      expect(r.stderr).toMatch(/Started run [0-9a-f]{8} \(ok on local, 2 tasks\)/);
      expect(r.stderr).toMatch(/\] run [0-9a-f]{8} {2}completed {2}2\/2 {2}2 completed/);
      golden('workflow-run-ok-watch', r);
      ids.ok = /Run ([0-9a-f]{8})/.exec(r.stdout)?.[1] as string;
      expect(ids.ok).toBeTruthy();
    });

    it('workflow run fails --watch --json: exit 5, one JSON document', async () => {
      const r = await run(['workflow', 'run', 'fails', '--watch', '--interval', '0.3', '--json']);
      expect(r.code, explain(r)).toBe(5);
      const doc = json(r, schemas.runView);
      expect(doc.status).toBe('failed');
      expect(Object.fromEntries(doc.tasks.map((t) => [t.spec.id, t.state]))).toEqual({
        good: 'completed',
        bad: 'failed',
        after: 'dep_failed',
      });
      ids.fails = doc.run.id;
    });

    it('run list', async () => {
      const human = await run(['run', 'list']);
      expect(human.code, explain(human)).toBe(0);
      golden('run-list', human);
      const doc = json(await run(['run', 'list', '--json', '--status', 'failed']), schemas.runList);
      expect(doc.items.map((i) => i.run.id)).toEqual([ids.fails]);
    });

    it('run ids: the shortest unique prefix works like the full id', async () => {
      const all = json(await run(['run', 'list', '--json', '--limit', '100']), schemas.runList).items.map(
        (i) => i.run.id,
      );
      const id = ids.ok as string;
      let prefix = id.slice(0, 1);
      while (all.filter((x) => x.startsWith(prefix)).length > 1) prefix = id.slice(0, prefix.length + 1);
      const full = await run(['run', 'view', id]);
      const short = await run(['run', 'view', prefix]);
      expect(short.code, explain(short)).toBe(0);
      expect(normalise(short.stdout, tmp)).toBe(normalise(full.stdout, tmp));
      const logs = json(await run(['run', 'logs', prefix, 'hello', '--json']), schemas.logs);
      expect(logs.runId).toBe(id);
    });

    it('run list with filters that match nothing says so', async () => {
      const r = await run(['run', 'list', '--workflow', 'nope', '--status', 'failed']);
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout).toMatch(
        /^No runs match --status failed --workflow nope \(\d+ runs? in total; `scripthut run list` shows them\)\.\n$/,
      );
    });

    it('run view (ok and failed) and an unknown run', async () => {
      const ok = await run(['run', 'view', ids.ok as string]);
      expect(ok.code, explain(ok)).toBe(0);
      golden('run-view-ok', ok);
      const failed = await run(['run', 'view', ids.fails as string]);
      expect(failed.code, explain(failed)).toBe(0);
      golden('run-view-failed', failed);
      const doc = json(await run(['run', 'view', ids.ok as string, '--json']), schemas.runView);
      expect(doc.tasks.every((t) => t.exitCode === 0)).toBe(true);
      const missing = await run(['run', 'view', 'deadbeef']);
      expect(missing.code).toBe(4);
      expect(missing.stderr).toContain('deadbeef');
    });

    it('run logs: stdout, --stderr, --tail, --json, unknown task', async () => {
      const out = await run(['run', 'logs', ids.ok as string, 'hello']);
      expect(out.code, explain(out)).toBe(0);
      expect(out.stdout).toContain('hello\n');
      expect(out.stdout).not.toContain('oops');
      const err = await run(['run', 'logs', ids.ok as string, 'hello', '--stderr']);
      expect(err.stdout).toContain('oops');
      const tail = await run(['run', 'logs', ids.fails as string, 'bad', '--stderr', '--tail', '1']);
      expect(tail.stdout).toBe('broken\n');
      const doc = json(await run(['run', 'logs', ids.ok as string, 'bye', '--json']), schemas.logs);
      expect(doc).toMatchObject({ runId: ids.ok, taskId: 'bye', stream: 'stdout' });
      expect(doc.content).toContain('bye\n');
      const missing = await run(['run', 'logs', ids.ok as string, 'nope']);
      expect(missing.code).toBe(4);
    });

    it('run rerun --failed-only --watch: exit 5 again (the command still fails)', async () => {
      const r = await run([
        'run',
        'rerun',
        ids.fails as string,
        '--failed-only',
        '--watch',
        '--interval',
        '0.3',
        '--json',
      ]);
      expect(r.code, explain(r)).toBe(5);
      const doc = json(r, schemas.runView);
      // completed tasks are kept (not run again); the failed one and its dependent run again
      expect(Object.fromEntries(doc.tasks.map((t) => [t.spec.id, t.state]))).toEqual({
        good: 'completed',
        bad: 'failed',
        after: 'dep_failed',
      });
      expect(doc.run.id).not.toBe(ids.fails);
    });

    it('run watch --exit-status: 0 for a completed run, 5 for a failed one', async () => {
      expect((await run(['run', 'watch', ids.ok as string, '--exit-status'])).code).toBe(0);
      const failed = await run(['run', 'watch', ids.fails as string, '--exit-status']);
      expect(failed.code).toBe(5);
      golden('run-watch-failed', failed);
      expect((await run(['run', 'watch', ids.fails as string])).code).toBe(0);
    });

    it('task run --watch (command after --, env) and task run + cancel', async () => {
      // words after -- are passed literally (quoted): `$GREETING` is not expanded, printenv sees the env
      const r = await run([
        'task',
        'run',
        '--backend',
        'local',
        '--env',
        'GREETING=hi there',
        '--id',
        'greet',
        '--watch',
        '--interval',
        '0.3',
        '--',
        'printenv',
        'GREETING',
      ]);
      expect(r.code, explain(r)).toBe(0);
      const id = /Run ([0-9a-f]{8})/.exec(r.stdout)?.[1] as string;
      const log = await run(['run', 'logs', id, 'greet']);
      expect(log.stdout).toContain('hi there\n');
      const literal = await run([
        'task',
        'run',
        '--backend',
        'local',
        '--id',
        'lit',
        '--watch',
        '--interval',
        '0.3',
        '--json',
        '--',
        'echo',
        '$HOME;',
        'x',
      ]);
      expect(literal.code, explain(literal)).toBe(0);
      const litLog = await run(['run', 'logs', json(literal, schemas.runView).run.id, 'lit']);
      expect(litLog.stdout).toContain('$HOME; x\n');

      const started = json(
        await run(['task', 'run', 'sleep 600', '--backend', 'local', '--json']),
        schemas.runSummary,
      );
      const cancelled = await run(['run', 'cancel', started.run.id, '--json']);
      expect(cancelled.code, explain(cancelled)).toBe(0);
      const watched = await run([
        'run',
        'watch',
        started.run.id,
        '--exit-status',
        '--interval',
        '0.3',
        '--json',
      ]);
      expect(watched.code, explain(watched)).toBe(5);
      expect(json(watched, schemas.runView).status).toBe('cancelled');
    });

    it('jobs --json', async () => {
      const r = await run(['jobs', '--json']);
      expect(r.code, explain(r)).toBe(0);
      const jobs = json(r, schemas.jobs);
      // the tasks of the runs above (recent ones are listed too), all on the local backend
      expect(jobs.length).toBeGreaterThan(0);
      expect(jobs.every((j) => j.backend === 'local' && j.kind === 'task')).toBe(true);
      expect(jobs.map((j) => j.name)).toEqual(expect.arrayContaining(['Hello', 'Bye', 'Good', 'Bad']));
    });

    it('cost: workflow estimate and run cost (no pricing configured)', async () => {
      const est = await run(['cost', 'ok']);
      expect(est.code, explain(est)).toBe(0);
      golden('cost-workflow', est);
      expect(json(await run(['cost', 'ok', '--json']), schemas.estimate)).toMatchObject({
        workflow: 'ok',
        kind: 'workflow',
        available: false,
        reason: 'pricing is not configured',
        uncostedTasks: 2,
      });
      const rc = await run(['cost', '--run', ids.ok as string, '--json']);
      expect(json(rc, schemas.runCost)).toMatchObject({
        runId: ids.ok,
        available: false,
        reason: 'pricing is not configured',
      });
      expect((await run(['cost'])).code).toBe(2);
    });

    it('config check: valid and invalid files', async () => {
      const ok = await run(['config', 'check']);
      expect(ok.code, explain(ok)).toBe(0);
      golden('config-check-ok', ok);
      writeFileSync(
        join(tmp, 'bad.yaml'),
        'backends:\n  - name: x\n    type: slurmm\nworkflows:\n  - name: w\n    backend: missing\n',
      );
      const bad = await run(['config', 'check', 'bad.yaml']);
      expect(bad.code).toBe(2);
      golden('config-check-bad', bad);
      const doc = json(await run(['config', 'check', 'bad.yaml', '--json']), schemas.configCheck);
      expect(doc.valid).toBe(false);
      expect(doc.issues.map((i) => i.path)).toEqual(
        expect.arrayContaining(['backends[0].type', 'workflows[0].backend']),
      );
    });

    it('usage errors exit 2', async () => {
      const r = await run(['run', 'list', '--limt', '2']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('did you mean --limit?');
    });
  });
}
