/**
 * Fuzzing task JSON with fast-check: `parseTaskDocument` never crashes: it returns tasks or throws
 * a `ScriptHutError` (`task_json_invalid`) whose issues all carry a non-empty field path, and a
 * mutated field is named.
 */
import { type Issue, parseTaskDocument, ScriptHutError, TASK_JSON_FIELDS } from '@scripthut/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nasty, opts } from './fuzz-common.js';

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
