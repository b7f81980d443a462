/** Shared by the task JSON tests (src/task-json*.test.ts): parser options and the issues of a rejection. */
import { expect } from 'vitest';
import { type Issue, ScriptHutError } from '../src/errors.js';

/** Parser options with one known environment, `python-ml`. */
export const taskJsonOptions = { knownEnvironments: ['python-ml'] };

/** The error issues of the `task_json_invalid` error `fn` throws (fails when it throws nothing else). */
export function issuesOf(fn: () => unknown): Issue[] {
  try {
    fn();
  } catch (e) {
    expect(ScriptHutError.is(e)).toBe(true);
    expect((e as ScriptHutError).code).toBe('task_json_invalid');
    return (e as ScriptHutError).issues.filter((i) => i.severity === 'error');
  }
  throw new Error('expected a task_json_invalid error');
}
