/**
 * Hostile-string corpus: command substitution, backticks, separators, newlines, quotes, `${IFS}`,
 * leading dashes (argument injection), unicode and very long strings, placed in every task field
 * and every config field that reaches a shell. Real runs go through the runtime on the LOCAL
 * backend; Slurm job scripts are rendered with the Slurm backend's `renderScript` and executed
 * with bash. Every hostile string tries to create its own canary file; the test asserts that no
 * canary ever appears (searching the temp dirs, $HOME and /tmp).
 *
 * Validation rejecting a hostile value is an acceptable outcome (memory and time_limit must be
 * rejected); executing it is not.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderPbsScript, ScriptRenderError } from '@scripthut/backend-pbs';
import { createSlurmBackend, type SlurmSsh } from '@scripthut/backend-slurm';
import { validateConfigText } from '@scripthut/config';
import { parseTaskDocument, ScriptHutError, type SubmitRequest, type TaskSpec } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRuntime, type Runtime } from '../../src/index.js';

const C = `shcanary${randomBytes(4).toString('hex')}`;
const root = mkdtempSync(join(tmpdir(), 'sh-hostile-'));
/** Absolute canaries are created here if a hostile string is ever executed. */
const canaryDir = join(root, 'canary');
const workDir = join(root, 'work');
const fakeHome = join(root, 'home');
for (const d of [canaryDir, workDir, fakeHome]) mkdirSync(d, { recursive: true });

/** canary name → where it was planted (field + corpus index), for the failure message. */
const planted = new Map<string, string>();

/**
 * The corpus for one field. Each string has its own canary: an absolute path in `canaryDir` and a
 * bare name (relative: lands in whatever directory a shell would run in).
 */
function corpus(field: string, options: { nul?: boolean } = {}): string[] {
  const out: string[] = [];
  const make = (fn: (abs: string, rel: string) => string) => {
    const name = `${C}_${field.replace(/[^a-z0-9]/gi, '')}_${out.length}`;
    planted.set(name, `${field} #${out.length}`);
    out.push(fn(join(canaryDir, name), name));
  };
  make((p) => `$(touch ${p})`);
  make((p) => `\`touch ${p}\``);
  make((p) => `x; touch ${p}`);
  make((p) => `x && touch ${p}`);
  make((p) => `x | touch ${p}`);
  make((p) => `x\ntouch ${p}\n`);
  make((p) => `x\rtouch ${p}`);
  make((p) => `x'; touch ${p}; '`);
  make((p) => `x"; touch ${p}; "`);
  make((p) => `x\\"; touch ${p}; #\\`);
  make((p) => `x;touch\${IFS}${p}`);
  make((p) => `$(touch\${IFS}${p})`);
  make((p) => `x > ${p}`);
  make((p) => `$'\\x41'; touch ${p}`);
  make((p) => `--upload-pack=touch ${p}`);
  make((p) => `--output=${p}`);
  make((p) => `-o${p}`);
  make((_p, rel) => `-rf; touch ${rel}`);
  make((p) => `ünï©ødé 🎉 \u202e $(touch ${p})`);
  make((p) => `${'a'.repeat(6000)}$(touch ${p})`);
  if (options.nul !== false) make((p) => `\u0000; touch ${p}`);
  make((_p, rel) => `$(touch ${rel})`);
  make((p) => `%x%j;touch ${p}`);
  return out;
}

const SHELL_META = /[$`;&|'"\\<>\s(){}*?]/;

/** Paths the test handed out on purpose (output_file, clone_dir...): a canary name under one is literal. */
const literalPaths: string[] = [];
const literal = (p: string) => {
  literalPaths.push(p);
  return p;
};

function walk(dir: string, depth: number, hits: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (planted.has(name) && !SHELL_META.test(dir) && !literalPaths.some((l) => path.startsWith(l)))
      hits.push(path);
    if (depth <= 0) continue;
    try {
      if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) walk(path, depth - 1, hits);
    } catch {
      // unreadable: skip
    }
  }
}

/**
 * Canary files anywhere they could land. A file with a canary name inside a directory whose own
 * path contains shell metacharacters is a literal path the test created on purpose (e.g.
 * output_file `x > …/canary`), not an executed command, and is ignored.
 */
function findCanaries(): string[] {
  const hits: string[] = [];
  walk(root, 12, hits);
  walk(tmpdir(), 2, hits);
  if (tmpdir() !== '/tmp') walk('/tmp', 2, hits);
  walk(homedir(), 1, hits);
  walk(process.cwd(), 0, hits);
  return [...new Set(hits)];
}

function expectNoCanary(): void {
  const hits = findCanaries();
  expect(hits.map((h) => `${h} (planted in ${planted.get(h.split('/').pop()!)})`)).toEqual([]);
}

const quiet = { info() {}, warn() {}, error() {} };
const TERMINAL = ['completed', 'failed', 'cancelled'];

async function waitRun(rt: Runtime, runId: string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = rt.getRun(runId);
    if (TERMINAL.includes(s.status)) return s;
    if (Date.now() > deadline) throw new Error(`run ${runId} not finished: ${JSON.stringify(s.counts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A bare git repository with one commit on `main` (a real target for the git fields). */
function makeRepo(): string {
  const src = join(root, 'repo-src');
  const bare = join(root, 'repo.git');
  mkdirSync(src);
  const git = (args: string[], cwd: string) =>
    execFileSync('git', args, {
      cwd,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@t',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@t',
      },
      stdio: 'pipe',
    });
  git(['init', '-q', '-b', 'main'], src);
  writeFileSync(join(src, 'README'), 'x\n');
  git(['add', '.'], src);
  git(['commit', '-q', '-m', 'init'], src);
  git(['clone', '-q', '--bare', src, bare], root);
  return bare;
}

/** Runs a script with `bash -s` in the work dir (HOME = a temp dir); resolves with its exit code. */
function runBash(script: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-s'], {
      cwd: workDir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: fakeHome },
      stdio: ['pipe', 'ignore', 'ignore'],
      timeout: 170_000,
    });
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
    child.stdin.end(script);
  });
}

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

describe('hostile strings', () => {
  const tasksFile = join(root, 'tasks.json');
  const tinyFile = join(root, 'tiny.json');
  let rt: Runtime;
  let repo: string;
  const accepted: Record<string, number> = {};
  const rejected: Record<string, number> = {};
  const taskDocs: Record<string, unknown>[] = [];
  const acceptedSpecs: TaskSpec[] = [];
  const configRejected: string[] = [];
  const configAccepted: { kind: 'workflow' | 'source' | 'project'; name: string; field: string }[] = [];
  const ENV_PREFIX = 'hostile_env_';
  let envCount = 0;
  let configText = '';

  beforeAll(async () => {
    repo = makeRepo();

    // ---- config entries: one workflow/source/project per (field, hostile string), each validated alone.
    const base = {
      backends: [{ name: 'local', type: 'local', max_concurrent: 16 }],
      settings: { poll_interval: 5 },
    };
    const candidates: {
      section: 'workflows' | 'sources' | 'projects' | 'environments';
      entry: Record<string, unknown>;
      field: string;
    }[] = [];
    const cmd = `cat ${tasksFile}`;
    // Config-field workflows that do get through print one harmless task (not the big corpus run).
    writeFileSync(
      tinyFile,
      JSON.stringify({ tasks: [{ id: 'one', name: 'one', command: 'true', working_dir: workDir }] }),
    );
    const tinyCmd = `cat ${tinyFile}`;
    const safeClone = join(root, 'clones');
    type Section = 'workflows' | 'sources' | 'projects' | 'environments';
    const configFields: [string, Section, (s: string, i: number) => Record<string, unknown>][] = [
      [
        'git.repo',
        'workflows',
        (s, i) => ({
          name: `g-repo-${i}`,
          backend: 'local',
          command: tinyCmd,
          git: { repo: s, branch: 'main', clone_dir: safeClone },
        }),
      ],
      [
        'git.branch',
        'workflows',
        (s, i) => ({
          name: `g-branch-${i}`,
          backend: 'local',
          command: tinyCmd,
          git: { repo, branch: s, clone_dir: safeClone },
        }),
      ],
      [
        'git.clone_dir',
        'workflows',
        (s, i) => ({
          name: `g-clone-${i}`,
          backend: 'local',
          command: tinyCmd,
          git: { repo, branch: 'main', clone_dir: literal(`${workDir}/${s}`) },
        }),
      ],
      [
        'source.path',
        'sources',
        (s, i) => ({ name: `s-path-${i}`, type: 'path', path: s, backend: 'local' }),
      ],
      [
        'source.url',
        'sources',
        (s, i) => ({ name: `s-url-${i}`, type: 'git', url: s, branch: 'main', backend: 'local' }),
      ],
      [
        'source.branch',
        'sources',
        (s, i) => ({ name: `s-branch-${i}`, type: 'git', url: repo, branch: s, backend: 'local' }),
      ],
      ['project.path', 'projects', (s, i) => ({ name: `p-path-${i}`, backend: 'local', path: s })],
      [
        'environment.value',
        'environments',
        (s) => ({ name: `${ENV_PREFIX}${envCount++}`, variables: { HOSTILE: s, PLAIN: 'ok' } }),
      ],
      ['environment.key', 'environments', (s, i) => ({ name: `envkey_${i}`, variables: { [s]: 'v' } })],
    ];
    for (const [field, section, make] of configFields) {
      for (const [i, s] of corpus(field).entries()) {
        candidates.push({ section, field, entry: make(s, i) });
      }
    }

    const final: Record<string, Record<string, unknown>[]> = {
      workflows: [],
      sources: [],
      projects: [],
      environments: [],
    };
    for (const c of candidates) {
      const doc = { ...base, [c.section]: [c.entry] };
      const r = validateConfigText(JSON.stringify(doc), 'scripthut.yaml');
      if (r.issues.length) {
        configRejected.push(c.field);
        continue;
      }
      final[c.section]!.push(c.entry);
      if (c.section !== 'environments') {
        configAccepted.push({
          kind: c.section.slice(0, -1) as 'workflow' | 'source' | 'project',
          name: String(c.entry.name),
          field: c.field,
        });
      }
    }
    const acceptedEnvNames = final.environments!.map((e) => String(e.name));

    // ---- task fields: one task per (field, hostile string), each validated alone.
    const fields: Record<string, (s: string) => Record<string, unknown>> = {
      id: (s) => ({ id: s }),
      name: (s) => ({ name: s }),
      working_dir: (s) => ({ working_dir: literal(`${workDir}/${s}`) }),
      'working_dir(raw)': (s) => ({ working_dir: s }),
      partition: (s) => ({ partition: s }),
      memory: (s) => ({ memory: s }),
      time_limit: (s) => ({ time_limit: s }),
      gres: (s) => ({ gres: s }),
      image: (s) => ({ image: s }),
      output_file: (s) => ({ output_file: literal(`${workDir}/${s}`) }),
      error_file: (s) => ({ error_file: literal(`${workDir}/${s}`) }),
      'env_vars.key': (s) => ({ env_vars: { [s]: 'v' } }),
      'env_vars.value': (s) => ({ env_vars: { HOSTILE: s } }),
      generates_source: (s) => ({ generates_source: literal(`${workDir}/${s}`) }),
    };
    let n = 0;
    for (const [field, put] of Object.entries(fields)) {
      for (const s of corpus(field)) {
        const task = { id: `t${n++}`, name: 'hostile', command: 'true', working_dir: workDir, ...put(s) };
        try {
          const parsed = parseTaskDocument({ tasks: [task] }, { knownEnvironments: acceptedEnvNames });
          accepted[field] = (accepted[field] ?? 0) + 1;
          taskDocs.push(task);
          acceptedSpecs.push(parsed.tasks[0]!);
        } catch (e) {
          expect(ScriptHutError.is(e), `parseTaskDocument threw a non-ScriptHut error: ${String(e)}`).toBe(
            true,
          );
          rejected[field] = (rejected[field] ?? 0) + 1;
        }
      }
    }
    // Tasks that use each accepted hostile environment.
    for (const env of acceptedEnvNames) {
      taskDocs.push({
        id: `env-${env}`,
        name: 'env',
        command: 'printf %s "$HOSTILE" >/dev/null',
        working_dir: workDir,
        environment: env,
      });
    }
    writeFileSync(tasksFile, JSON.stringify({ tasks: taskDocs }));

    const config = {
      ...base,
      workflows: [{ name: 'hostile-tasks', backend: 'local', command: cmd }, ...final.workflows!],
      sources: final.sources,
      projects: final.projects,
      environments: final.environments,
    };
    configText = JSON.stringify(config, null, 2);
    writeFileSync(join(root, 'scripthut.yaml'), configText);
    rt = await createRuntime({ cwd: root, dataDir: join(root, 'data'), pollIntervalMs: 100, logger: quiet });
    await rt.start();
  });

  afterAll(async () => {
    await rt?.close();
  }, 60_000);

  it('the detector works: an executed canary is found', () => {
    const name = `${C}_selftest`;
    planted.set(name, 'selftest');
    execFileSync('bash', ['-c', `touch ${join(canaryDir, name)}`]);
    expect(findCanaries()).toContain(join(canaryDir, name));
    rmSync(join(canaryDir, name));
    planted.delete(name);
    expect(findCanaries()).toEqual([]);
  });

  it('memory and time_limit reject every hostile string; nothing crashed validation', () => {
    expect(accepted.memory ?? 0).toBe(0);
    expect(accepted.time_limit ?? 0).toBe(0);
    expect(rejected.memory).toBeGreaterThan(0);
    // The shell-reaching free-text fields accept most of the corpus: the run below really exercises them.
    expect(accepted.name ?? 0).toBeGreaterThan(10);
    expect(accepted['env_vars.value'] ?? 0).toBeGreaterThan(10);
    expect(accepted.output_file ?? 0).toBeGreaterThan(5);
  });

  it('a real run of every accepted hostile task on the local backend executes no canary', async () => {
    const created = await rt.runWorkflow('hostile-tasks');
    expect(created.total).toBe(taskDocs.length);
    const done = await waitRun(rt, created.run.id);
    // Plain tasks in hostile but valid places still complete: the values were delivered, not executed.
    const tasks = rt.listTasks(created.run.id, { limit: 10_000 }).items;
    const byId = new Map(tasks.map((t) => [t.spec.id, t]));
    for (const doc of taskDocs) {
      const t = byId.get(String(doc.id))!;
      expect(['completed', 'failed', 'dep_failed']).toContain(t.state);
    }
    const envTasks = tasks.filter((t) => t.spec.id.startsWith('env-'));
    for (const t of envTasks) expect(t.state, `${t.spec.id}: ${t.error}`).toBe('completed');
    const valueTasks = tasks.filter((t) => t.spec.envVars.HOSTILE !== undefined);
    for (const t of valueTasks) expect(t.state, `${t.spec.id}: ${t.error}`).toBe('completed');
    expect(done.total).toBe(taskDocs.length);
    expectNoCanary();
  });

  it('config fields (git repo/branch/clone_dir, source url/branch/path, project path) execute no canary', async () => {
    const outcomes: string[] = [];
    for (const c of configAccepted) {
      try {
        if (c.kind === 'workflow') await rt.runWorkflow(c.name);
        else if (c.kind === 'source') await rt.syncSource(c.name);
        else await rt.listProjectWorkflows(c.name);
        outcomes.push(`${c.field}: ok`);
      } catch (e) {
        // A clear ScriptHut error is fine (the clone/path does not exist); a crash is not.
        expect(ScriptHutError.is(e), `${c.kind} ${c.name} (${c.field}) threw ${String(e)}`).toBe(true);
        outcomes.push(`${c.field}: ${(e as ScriptHutError).code}`);
      }
    }
    expect(configAccepted.length).toBeGreaterThan(20);
    expectNoCanary();
  });

  it('Slurm job scripts rendered from hostile tasks and a hostile account run under bash without executing a canary', async () => {
    const fakeSsh: SlurmSsh = {
      remote: true,
      exec: async () => ({ stdout: '', stderr: '', exitCode: 0 }),
      health: () => ({ connected: true, lastError: null, endpoint: 'fake' }),
      commandLog: () => [],
      close: async () => undefined,
    };
    const accounts = [null, ...corpus('slurm.account')];
    let rendered = 0;
    let refused = 0;
    const scripts: string[] = [];
    for (const [ai, account] of accounts.entries()) {
      const backend = createSlurmBackend({
        name: 'render',
        ssh: fakeSsh,
        account,
        maxConcurrent: 1,
        markerDir: join(workDir, 'markers'),
      });
      // All tasks with the null account; one representative task with every hostile account.
      const specs = account === null ? acceptedSpecs : acceptedSpecs.slice(0, 1);
      for (const [i, task] of specs.entries()) {
        const req: SubmitRequest = {
          runId: 'abcd1234',
          taskId: task.id,
          tag: `shrnd${ai}x${i}`.slice(0, 15),
          workflowName: 'hostile',
          task,
          workingDir: task.workingDir,
          env: { SCRIPTHUT_RUN_ID: 'abcd1234', ...task.envVars },
          extraInit: '',
          stdoutPath: join(workDir, 'slurm-logs', `${i}.out`),
          stderrPath: join(workDir, 'slurm-logs', `${i}.err`),
          logDir: join(workDir, 'slurm-logs'),
          git: null,
        };
        let script: string;
        try {
          script = backend.renderScript(req);
        } catch (e) {
          refused++;
          expect(e).toBeInstanceOf(Error);
          continue;
        }
        rendered++;
        scripts.push(script);
      }
    }
    // Run every script with bash (each is also a plain bash program): one file each, one loop.
    const scriptDir = join(root, 'slurm-scripts');
    mkdirSync(scriptDir);
    for (const [i, script] of scripts.entries()) {
      writeFileSync(join(scriptDir, `${String(i).padStart(4, '0')}.sh`), script);
    }
    const ran = await runBash(
      `cd ${workDir} && printf '%s\\0' ${scriptDir}/*.sh | xargs -0 -P 8 -n 1 sh -c 'timeout 10 bash "$1" </dev/null >/dev/null 2>&1; echo x >> ${scriptDir}/count' sh`,
    );
    expect(ran).toBe(0);
    expect(readFileSync(join(scriptDir, 'count'), 'utf8').trim().split('\n')).toHaveLength(scripts.length);
    if (process.env.FAULTS_VERBOSE) {
      console.log(`[faults] hostile task fields accepted: ${JSON.stringify(accepted)}`);
      console.log(`[faults] hostile task fields rejected: ${JSON.stringify(rejected)}`);
      console.log(
        `[faults] config entries accepted ${configAccepted.length}, rejected ${configRejected.length}: ${JSON.stringify(Object.fromEntries([...new Set(configRejected)].map((f) => [f, configRejected.filter((x) => x === f).length])))}`,
      );
      console.log(
        `[faults] slurm scripts rendered and run with bash: ${rendered}, refused by the renderer: ${refused}`,
      );
    }
    expect(rendered).toBeGreaterThan(50);
    expect(refused + rendered).toBeGreaterThan(0);
    expectNoCanary();
  });

  it('PBS Pro and Torque job scripts rendered from hostile tasks, a hostile queue and a hostile account run under bash without executing a canary', async () => {
    const queues = corpus('pbs.queue');
    const accounts = corpus('pbs.account');
    const variants: {
      flavour: 'pro' | 'torque';
      queue: string | null;
      account: string | null;
      all: boolean;
    }[] = [];
    for (const flavour of ['pro', 'torque'] as const) {
      variants.push({ flavour, queue: null, account: null, all: true });
      for (const queue of queues) variants.push({ flavour, queue, account: null, all: false });
      for (const account of accounts) variants.push({ flavour, queue: null, account, all: false });
    }
    let rendered = 0;
    let refused = 0;
    let hostileOptionsRendered = 0;
    const scripts: string[] = [];
    for (const [vi, v] of variants.entries()) {
      // Every task with the plain options; one representative task under each hostile queue/account.
      const specs = v.all ? acceptedSpecs : acceptedSpecs.slice(0, 1);
      for (const [i, task] of specs.entries()) {
        const req: SubmitRequest = {
          runId: 'abcd1234',
          taskId: task.id,
          tag: `shpbs${vi}x${i}`.slice(0, 15),
          workflowName: 'hostile',
          task,
          workingDir: task.workingDir,
          env: { SCRIPTHUT_RUN_ID: 'abcd1234', ...task.envVars },
          extraInit: '',
          stdoutPath: join(workDir, 'pbs-logs', `${i}.out`),
          stderrPath: join(workDir, 'pbs-logs', `${i}.err`),
          logDir: join(workDir, 'pbs-logs'),
          git: null,
        };
        try {
          scripts.push(
            renderPbsScript(req, {
              flavour: v.flavour,
              queue: v.queue,
              account: v.account,
              exitMarkerPath: join(workDir, 'pbs-markers', `${req.tag}.rc`),
            }),
          );
          rendered++;
          if (!v.all) hostileOptionsRendered++;
        } catch (e) {
          // Refused tasks fail with this error naming the field (paths with `:`, quotes, `$`, …).
          refused++;
          expect(e).toBeInstanceOf(ScriptRenderError);
        }
      }
    }
    const scriptDir = join(root, 'pbs-scripts');
    mkdirSync(scriptDir);
    mkdirSync(join(workDir, 'pbs-markers'), { recursive: true });
    for (const [i, script] of scripts.entries()) {
      writeFileSync(join(scriptDir, `${String(i).padStart(4, '0')}.sh`), script);
    }
    const ran = await runBash(
      `cd ${workDir} && printf '%s\\0' ${scriptDir}/*.sh | xargs -0 -P 8 -n 1 sh -c 'timeout 10 bash "$1" </dev/null >/dev/null 2>&1; echo x >> ${scriptDir}/count' sh`,
    );
    expect(ran).toBe(0);
    expect(readFileSync(join(scriptDir, 'count'), 'utf8').trim().split('\n')).toHaveLength(scripts.length);
    if (process.env.FAULTS_VERBOSE) {
      console.log(
        `[faults] pbs scripts rendered and run with bash: ${rendered}, refused by the renderer: ${refused}`,
      );
    }
    // Most accepted tasks render under both flavours; every hostile queue and account is refused
    // (they must be one word), so none of those variants produced a script.
    expect(rendered).toBeGreaterThan(acceptedSpecs.length);
    expect(hostileOptionsRendered).toBe(0);
    expect(refused).toBeGreaterThanOrEqual(2 * (queues.length + accounts.length));
    expectNoCanary();
  });

  // A NUL byte cannot be passed to a shell: config validation rejects it and names the field.
  it('a NUL byte in git.repo is rejected by config validation', () => {
    const doc = {
      backends: [{ name: 'local', type: 'local' }],
      workflows: [
        { name: 'w', backend: 'local', command: 'true', git: { repo: 'a\u0000b', branch: 'main' } },
      ],
    };
    const issues = validateConfigText(JSON.stringify(doc), 'scripthut.yaml').issues;
    expect(issues.map((i) => i.path)).toContain('workflows[0].git.repo');
  });
});
