/**
 * Shared by the hostile-string tests (hostile*.test.ts): the corpus (every string tries to create
 * its own canary file), the canary detector, and the inputs built from it — config entries and
 * tasks, one per (field, hostile string), each validated alone. See hostile.test.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfigText } from '@scripthut/config';
import { parseTaskDocument, ScriptHutError, type TaskSpec } from '@scripthut/core';
import { expect } from 'vitest';
import type { Runtime } from '../../src/index.js';

export const C = `shcanary${randomBytes(4).toString('hex')}`;
export const root = mkdtempSync(join(tmpdir(), 'sh-hostile-'));
/** Absolute canaries are created here if a hostile string is ever executed. */
export const canaryDir = join(root, 'canary');
export const workDir = join(root, 'work');
export const fakeHome = join(root, 'home');
for (const d of [canaryDir, workDir, fakeHome]) mkdirSync(d, { recursive: true });

/** canary name → where it was planted (field + corpus index), for the failure message. */
export const planted = new Map<string, string>();

/**
 * The corpus for one field. Each string has its own canary: an absolute path in `canaryDir` and a
 * bare name (relative: lands in whatever directory a shell would run in).
 */
export function corpus(field: string, options: { nul?: boolean } = {}): string[] {
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

export const SHELL_META = /[$`;&|'"\\<>\s(){}*?]/;

/** Paths the test handed out on purpose (output_file, clone_dir...): a canary name under one is literal. */
export const literalPaths: string[] = [];
export const literal = (p: string) => {
  literalPaths.push(p);
  return p;
};

export function walk(dir: string, depth: number, hits: string[]): void {
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
export function findCanaries(): string[] {
  const hits: string[] = [];
  walk(root, 12, hits);
  walk(tmpdir(), 2, hits);
  if (tmpdir() !== '/tmp') walk('/tmp', 2, hits);
  walk(homedir(), 1, hits);
  walk(process.cwd(), 0, hits);
  return [...new Set(hits)];
}

export function expectNoCanary(): void {
  const hits = findCanaries();
  expect(hits.map((h) => `${h} (planted in ${planted.get(h.split('/').pop()!)})`)).toEqual([]);
}

export const quiet = { info() {}, warn() {}, error() {} };
export const TERMINAL = ['completed', 'failed', 'cancelled'];

export async function waitRun(rt: Runtime, runId: string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = rt.getRun(runId);
    if (TERMINAL.includes(s.status)) return s;
    if (Date.now() > deadline) throw new Error(`run ${runId} not finished: ${JSON.stringify(s.counts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A bare git repository with one commit on `main` (a real target for the git fields). */
export function makeRepo(): string {
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
export function runBash(script: string): Promise<number | null> {
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

/** The hostile inputs of one test file (see `buildHostileInputs`). */
export interface HostileInputs {
  /** A bare git repository the git fields can point at. */
  repo: string;
  /** Hostile strings each task field accepted / rejected. */
  accepted: Record<string, number>;
  rejected: Record<string, number>;
  /** The accepted hostile tasks (written to `tasks.json`, run by the `hostile-tasks` workflow). */
  taskDocs: Record<string, unknown>[];
  acceptedSpecs: TaskSpec[];
  /** Config fields whose entry validation rejected / the entries it accepted. */
  configRejected: string[];
  configAccepted: { kind: 'workflow' | 'source' | 'project'; name: string; field: string }[];
  /** The config with every accepted entry (and the `hostile-tasks` workflow). */
  configText: string;
}

/**
 * Builds the config entries and tasks (one per field and hostile string, each validated alone)
 * and writes the task files (`tasks.json`, `tiny.json`) the config's workflows print into `root`.
 */
export function buildHostileInputs(): HostileInputs {
  const tasksFile = join(root, 'tasks.json');
  const tinyFile = join(root, 'tiny.json');
  const repo = makeRepo();
  const accepted: Record<string, number> = {};
  const rejected: Record<string, number> = {};
  const taskDocs: Record<string, unknown>[] = [];
  const acceptedSpecs: TaskSpec[] = [];
  const configRejected: string[] = [];
  const configAccepted: { kind: 'workflow' | 'source' | 'project'; name: string; field: string }[] = [];
  const ENV_PREFIX = 'hostile_env_';
  let envCount = 0;

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
    ['source.path', 'sources', (s, i) => ({ name: `s-path-${i}`, type: 'path', path: s, backend: 'local' })],
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
  const configText = JSON.stringify(config, null, 2);

  return { repo, accepted, rejected, taskDocs, acceptedSpecs, configRejected, configAccepted, configText };
}

/** Removes `root` (call from the test file's `afterAll`). */
export function removeRoot(): void {
  rmSync(root, { recursive: true, force: true });
}
