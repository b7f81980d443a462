/**
 * Fuzzing with fast-check: task JSON documents, config files and API bodies.
 *
 * Properties:
 * - `parseTaskDocument` never crashes: it returns tasks or throws a `ScriptHutError`
 *   (`task_json_invalid`) whose issues all carry a non-empty field path, and a mutated field is named.
 * - `validateConfigText` never crashes on mutations of the spec's Complete Example (neither a throw
 *   nor its defensive "could not be validated" fallback), and every issue names a path.
 * - The API (`createApp` on a real runtime with the embedded default, in process) answers random
 *   bodies with no 5xx; every 4xx is `{ code, message, details }` naming the field; a rejected
 *   request creates nothing (the run count is unchanged).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfigText } from '@scripthut/config';
import { type Issue, parseTaskDocument, ScriptHutError, TASK_JSON_FIELDS } from '@scripthut/core';
import { createApp } from '@scripthut/server';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/index.js';
import { COMPLETE_EXAMPLE, COMPLETE_EXAMPLE_OBJECT } from './fixtures.js';

/** Fixed seed from the environment to replay a failure (`FUZZ_SEED=123 pnpm vitest run ...`). */
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const opts = (numRuns: number) => ({ numRuns, ...(SEED !== undefined ? { seed: SEED } : {}) });

// ---------------------------------------------------------------------------------------------
// Task JSON
// ---------------------------------------------------------------------------------------------

const VALID_DOC = {
  title: 'fuzz base',
  tasks: [
    {
      id: 'prep',
      name: 'Prepare',
      command: 'echo prep',
      working_dir: '~/work',
      partition: 'normal',
      cpus: 2,
      memory: '2G',
      time_limit: '0:30:00',
      output_file: '/tmp/prep.out',
      error_file: '/tmp/prep.err',
      env_vars: { FOO: 'bar' },
    },
    {
      id: 'work.1',
      name: 'Work 1',
      command: 'echo 1',
      deps: ['prep'],
      gres: 'gpu:1',
      environment: 'py',
      generates_source: 'more.json',
    },
    { id: 'work.2', name: 'Work 2', command: 'echo 2', deps: ['prep'], image: 'alpine:3' },
    { id: 'report', name: 'Report', command: 'echo done', dependencies: ['work.*'] },
  ],
};
const KNOWN_ENVS = ['py'];

const TASK_FIELDS = TASK_JSON_FIELDS;

/** Values that are likely to hit edge cases of the validators. */
const nasty = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\n',
    '\u0000',
    '-1',
    '0',
    '1e309',
    '99999999999G',
    '4X',
    '25:61:61',
    '-1:00:00',
    '1-',
    '*',
    '**',
    '..',
    '../../etc/passwd',
    '__proto__',
    'constructor',
    'gpu:',
    'gpu:0',
    ':::',
    'x'.repeat(5000),
  ),
  fc.constantFrom(-1, 0, 0.5, Number.MAX_SAFE_INTEGER, 1e308, -0, true, false, null),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }),
);

type Mutation =
  | { kind: 'set'; task: number; field: string; value: unknown }
  | { kind: 'delete'; task: number; field: string }
  | { kind: 'replaceTask'; task: number; value: unknown }
  | { kind: 'duplicateTask'; task: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    task: fc.nat({ max: 3 }),
    field: fc.oneof(fc.constantFrom(...TASK_FIELDS), fc.string({ maxLength: 12 })),
    value: nasty,
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    task: fc.nat({ max: 3 }),
    field: fc.constantFrom(...TASK_FIELDS),
  }),
  fc.record({ kind: fc.constant('replaceTask' as const), task: fc.nat({ max: 3 }), value: fc.jsonValue() }),
  fc.record({ kind: fc.constant('duplicateTask' as const), task: fc.nat({ max: 3 }) }),
);

function applyMutation(doc: typeof VALID_DOC, m: Mutation): Record<string, unknown> {
  const copy = structuredClone(doc) as unknown as { tasks: unknown[] };
  const task = copy.tasks[m.task] as Record<string, unknown>;
  // Field mutations apply to task objects only. A task replaced by an array is left alone: fields of
  // an array are not part of its JSON, and redefining its `length` throws (FUZZ_SEED=785 generated
  // replaceTask [] then set "length", which failed the property inside this helper, not the parser).
  if (m.kind !== 'replaceTask' && (task === null || typeof task !== 'object' || Array.isArray(task)))
    return copy as unknown as Record<string, unknown>;
  if (m.kind === 'set')
    Object.defineProperty(task, m.field, {
      value: m.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  else if (m.kind === 'delete') delete task[m.field];
  else if (m.kind === 'replaceTask') copy.tasks[m.task] = m.value;
  else copy.tasks.push(structuredClone(task));
  return copy as unknown as Record<string, unknown>;
}

/** Calls the parser; returns the error (or null when the document was accepted). Any other throw fails. */
function parseOutcome(input: unknown): ScriptHutError | null {
  try {
    const r = parseTaskDocument(input, { knownEnvironments: KNOWN_ENVS, source: 'fuzz.json' });
    expect(Array.isArray(r.tasks)).toBe(true);
    return null;
  } catch (e) {
    if (!ScriptHutError.is(e))
      throw new Error(`parseTaskDocument crashed with a non-ScriptHut error: ${String(e)}`, { cause: e });
    return e;
  }
}

function expectIssuesNamePaths(err: ScriptHutError): Issue[] {
  expect(err.code).toBe('task_json_invalid');
  const errors = err.issues.filter((i) => i.severity !== 'warning');
  expect(errors.length).toBeGreaterThan(0);
  for (const issue of err.issues) {
    expect(typeof issue.path).toBe('string');
    expect(issue.message.length).toBeGreaterThan(0);
  }
  // Errors always say where. (A warning about an unknown top-level key "" has the path "": the key.)
  for (const issue of errors) expect(issue.path.length, JSON.stringify(issue)).toBeGreaterThan(0);
  return errors;
}

describe('fuzz: task JSON through parseTaskDocument', () => {
  it('the unmutated base document is valid (so mutations test something)', () => {
    expect(parseOutcome(VALID_DOC)).toBeNull();
  });

  it('random JSON values and random text never crash it; rejections name a path', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.string({ unit: 'binary' }), fc.json()), (input) => {
        const err = parseOutcome(input);
        if (err) expectIssuesNamePaths(err);
      }),
      opts(1500),
    );
  });

  it('random task-shaped objects never crash it', () => {
    const taskish = fc.dictionary(fc.constantFrom(...TASK_FIELDS, 'x', ''), nasty, { maxKeys: 10 });
    fc.assert(
      fc.property(fc.array(taskish, { maxLength: 6 }), fc.boolean(), (tasks, wrap) => {
        const err = parseOutcome(wrap ? { tasks } : tasks);
        if (err) expectIssuesNamePaths(err);
      }),
      opts(1500),
    );
  });

  it('mutated valid documents: every rejection names the mutated task or field', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), (ms, asText) => {
        let doc: Record<string, unknown> = VALID_DOC;
        for (const m of ms) doc = applyMutation(doc as typeof VALID_DOC, m);
        const err = parseOutcome(asText ? JSON.stringify(doc) : doc);
        if (!err) return;
        const errors = expectIssuesNamePaths(err);
        if (ms.length === 1) {
          const m = ms[0]!;
          // The error is located: at the mutated task, at its field, or at a task that referred to it.
          const named = errors.some(
            (i) =>
              i.path.includes(`tasks[${m.task}]`) ||
              (m.kind === 'duplicateTask' && i.path.includes(`tasks[${VALID_DOC.tasks.length}]`)) ||
              ('field' in m && i.path.includes(m.field)) ||
              /deps|dependencies/.test(i.path),
          );
          expect(named, `issues ${JSON.stringify(errors)} do not name ${JSON.stringify(m)}`).toBe(true);
        }
      }),
      opts(2000),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** All paths to nodes of a parsed YAML document (objects/arrays/leaves). */
function nodePaths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) for (const [i, v] of value.entries()) out.push(...nodePaths(v, [...prefix, i]));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...nodePaths(v, [...prefix, k]));
  return out;
}

function setAt(root: Json, path: (string | number)[], op: 'set' | 'delete', value?: Json): Json {
  if (path.length === 0) return op === 'set' ? (value as Json) : null;
  const copy = structuredClone(root);
  let node = copy as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (op === 'delete') {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
  } else node[last] = value as Json;
  return copy;
}

function checkConfigText(text: string): void {
  let result: ReturnType<typeof validateConfigText>;
  try {
    result = validateConfigText(text, 'scripthut.yaml', { homeDir: '/nonexistent-home' });
  } catch (e) {
    throw new Error(`validateConfigText threw: ${String(e)}`, { cause: e });
  }
  for (const issue of [...result.issues, ...result.warnings]) {
    expect(issue.message).not.toMatch(/could not be validated/);
    expect(typeof issue.path).toBe('string');
    expect(issue.path.length, `issue without path: ${JSON.stringify(issue)}`).toBeGreaterThan(0);
  }
  if (result.issues.length === 0) expect(result.config).toBeDefined();
}

describe('fuzz: config files through validateConfigText (mutations of the Complete Example)', () => {
  const base = COMPLETE_EXAMPLE_OBJECT as unknown as Json;
  const toText = (doc: Json) => JSON.stringify(doc, null, 2);
  const paths = nodePaths(base);

  it('the Complete Example itself validates', () => {
    const r = validateConfigText(COMPLETE_EXAMPLE, 'scripthut.yaml', { homeDir: '/nonexistent-home' });
    expect(r.issues).toEqual([]);
    const j = validateConfigText(toText(base), 'scripthut.yaml', { homeDir: '/nonexistent-home' });
    expect(j.config).toEqual(r.config);
  });

  it('structural mutations (set any node to a random value, delete any node) never crash it', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            path: fc.constantFrom(...paths),
            op: fc.constantFrom('set' as const, 'delete' as const),
            value: nasty as fc.Arbitrary<Json>,
          }),
          { minLength: 1, maxLength: 3 },
        ),
        (ms) => {
          let doc = base;
          for (const m of ms) {
            try {
              doc = setAt(doc, m.path, m.op, m.value);
            } catch {
              // path vanished after an earlier mutation: skip
            }
          }
          const result = validateConfigText(toText(doc), 'scripthut.yaml', { homeDir: '/nonexistent-home' });
          checkConfigText(toText(doc));
          // A single set of a leaf to a wrong type is reported at (or under) that path.
          if (ms.length === 1 && result.issues.length > 0 && ms[0]!.path.length > 0) {
            const top = String(ms[0]!.path[0]);
            // ... or at a reference to a name that the mutation changed (e.g. `workflows[0].backend`).
            expect(
              result.issues.some((i) => i.path.includes(top) || /\.(backend|environment)$/.test(i.path)),
              JSON.stringify(result.issues),
            ).toBe(true);
          }
        },
      ),
      opts(800),
    );
  });

  it('text mutations (insert/delete/replace characters, duplicate lines) never crash it', () => {
    const lines = COMPLETE_EXAMPLE.split('\n');
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant('insert' as const),
              at: fc.nat(),
              text: fc.string({ unit: 'binary', maxLength: 6 }),
            }),
            fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), len: fc.nat({ max: 20 }) }),
            fc.record({ kind: fc.constant('dupLine' as const), at: fc.nat() }),
            fc.record({
              kind: fc.constant('indent' as const),
              at: fc.nat(),
              by: fc.integer({ min: -4, max: 4 }),
            }),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        (ms) => {
          let text = COMPLETE_EXAMPLE;
          for (const m of ms) {
            const at = m.at % (text.length + 1);
            if (m.kind === 'insert') text = text.slice(0, at) + m.text + text.slice(at);
            else if (m.kind === 'cut') text = text.slice(0, at) + text.slice(at + m.len);
            else {
              const ls = text.split('\n');
              const i = m.at % ls.length;
              if (m.kind === 'dupLine') ls.splice(i, 0, ls[i]!);
              else ls[i] = m.by >= 0 ? ' '.repeat(m.by) + ls[i] : ls[i]!.slice(-m.by);
              text = ls.join('\n');
            }
          }
          checkConfigText(text);
        },
      ),
      opts(800),
    );
    expect(lines.length).toBeGreaterThan(10);
  });
});

// ---------------------------------------------------------------------------------------------
// API bodies
// ---------------------------------------------------------------------------------------------

const FUZZ_TOKEN = 'fuzz-token';

describe('fuzz: API bodies (createApp on a real runtime, embedded default config)', () => {
  let dir: string;
  let runtime: Runtime;
  let app: ReturnType<typeof createApp>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sh-fuzz-api-'));
    // Not started: a run created by a valid body is stored but never submitted.
    runtime = await createRuntime({
      cwd: dir,
      dataDir: join(dir, 'data'),
      pollIntervalMs: 60_000,
      logger: { info() {}, warn() {}, error() {} },
    });
    app = createApp(runtime, { authToken: FUZZ_TOKEN });
  });

  afterAll(async () => {
    await runtime?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const runCount = () => runtime.listRuns({ limit: 1 }).total;

  async function post(path: string, body: string): Promise<{ status: number; json: unknown }> {
    const res = await app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${FUZZ_TOKEN}` },
      body,
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }

  function expectErrorShape(status: number, json: unknown, field: string | null): void {
    expect(status, `5xx: ${JSON.stringify(json)}`).toBeLessThan(500);
    const body = json as { code?: unknown; message?: unknown; details?: unknown };
    expect(typeof body.code).toBe('string');
    expect(typeof body.message).toBe('string');
    expect('details' in body).toBe(true);
    const malformedJson = body.code === 'validation_failed' && /malformed json/i.test(String(body.message));
    if ((body.code === 'validation_failed' || body.code === 'task_json_invalid') && !malformedJson) {
      const issues = (body.details as { issues?: Issue[] } | null)?.issues ?? [];
      expect(issues.length, `no issues in ${JSON.stringify(json)}`).toBeGreaterThan(0);
      for (const i of issues) expect(i.path.length).toBeGreaterThan(0);
      if (field) {
        expect(
          issues.some((i) => i.path.includes(field)) || String(body.message).includes(field),
          `${JSON.stringify(json)} does not name ${field}`,
        ).toBe(true);
      }
    }
  }

  const ROUTES: { path: string; valid: Record<string, unknown> }[] = [
    {
      path: '/api/v1/tasks/run',
      valid: { command: 'true', backend: 'local', id: 'fz', name: 'fz', cpus: 1, memory: '100M' },
    },
    { path: '/api/v1/workflows/demo/run', valid: { maxConcurrent: 2 } },
    { path: '/api/v1/workflows/demo/dry-run', valid: { maxConcurrent: 2 } },
    { path: '/api/v1/sources/none/run', valid: { file: 'a.json' } },
    { path: '/api/v1/projects/none/dry-run', valid: { file: 'a.json' } },
    { path: '/api/v1/config/validate', valid: { text: 'backends: []\n' } },
    { path: '/api/v1/runs/deadbeef/rerun', valid: { mode: 'failed' } },
  ];

  it('the valid body of every fuzzed route is answered without a 5xx (the baseline the mutations start from)', async () => {
    for (const route of ROUTES) {
      const before = runCount();
      const { status, json } = await post(route.path, JSON.stringify(route.valid));
      expect(status, `${route.path}: ${JSON.stringify(json)}`).toBeLessThan(500);
      expect(runCount()).toBe(status === 201 ? before + 1 : before);
    }
  });

  it('random JSON and non-JSON bodies: no 5xx, error shape, nothing created', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.oneof(fc.json(), fc.string({ unit: 'binary', maxLength: 60 })),
        async (route, body) => {
          const before = runCount();
          const { status, json } = await post(route.path, body);
          if (status >= 400) {
            expectErrorShape(status, json, null);
            expect(runCount()).toBe(before);
          } else if (status === 201) expect(runCount()).toBe(before + 1);
          else expect(runCount()).toBe(before);
        },
      ),
      opts(300),
    );
  });

  it('valid bodies with one mutated field: no 5xx, 4xx names the field, nothing created', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.oneof(
          fc.constantFrom(
            'command',
            'backend',
            'id',
            'name',
            'runName',
            'cpus',
            'memory',
            'timeLimit',
            'partition',
            'gres',
            'workingDir',
            'image',
            'env',
            'maxConcurrent',
            'file',
            'text',
            'mode',
          ),
          fc.string({ maxLength: 10 }),
        ),
        nasty,
        async (route, field, value) => {
          const body = { ...route.valid, [field]: value };
          const before = runCount();
          const { status, json } = await post(route.path, JSON.stringify(body));
          if (status >= 400) {
            const inSchema = field in route.valid || route.path.endsWith('/tasks/run');
            expectErrorShape(
              status,
              json,
              inSchema && (json as { code?: string }).code === 'validation_failed' ? field : null,
            );
            expect(runCount()).toBe(before);
          } else if (status === 201) expect(runCount()).toBe(before + 1);
          else expect(runCount()).toBe(before);
        },
      ),
      opts(300),
    );
  });
});
