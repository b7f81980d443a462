import { describe, expect, it } from 'vitest';
import { ScriptHutError } from './errors.js';
import { parseTaskDocument } from './task-json.js';

describe('env rules in a task document given to the parser', () => {
  it('are refused with an error naming the field (not dropped with a warning)', () => {
    const doc = {
      env: [{ set: { A: '1' } }],
      env_groups: { g: [] },
      tasks: [{ id: 'a', name: 'a', command: 'true', env: [{ init: 'module load x' }] }],
    };
    let caught: unknown;
    try {
      parseTaskDocument(doc, { knownEnvironments: [], source: 'gen.json' });
    } catch (e) {
      caught = e;
    }
    expect(ScriptHutError.is(caught)).toBe(true);
    const err = caught as ScriptHutError;
    expect(err.code).toBe('task_json_invalid');
    expect(err.issues.filter((i) => i.severity === 'error').map((i) => i.path)).toEqual([
      'env',
      'env_groups',
      'tasks[0] (id "a").env',
    ]);
    expect(err.message).toContain('tasks added by generates_source cannot carry them');
  });
});
