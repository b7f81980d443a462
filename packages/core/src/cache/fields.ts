/**
 * The result-cache fields of a task object in the task JSON: `inputs`, `outputs`, `cache`,
 * `cache_scope` (compatible with the original ScriptHut). Validated here, each problem naming its
 * field (`tasks[i].inputs[2]`); see docs/resume.md.
 */
import type { CacheScope, TaskSpec } from '../domain.js';

/** The task JSON fields this module reads. */
export const CACHE_TASK_FIELDS = ['inputs', 'outputs', 'cache', 'cache_scope'] as const;

/** At most this many entries in `inputs` or `outputs`. */
export const MAX_CACHE_PATHS = 1000;
const MAX_PATH_LENGTH = 4096;
const CONTROL = /[\u0000-\u001f\u007f]/;
const SCOPES: readonly CacheScope[] = ['commit', 'inputs'];

/**
 * Why `path` cannot be an entry of `inputs`/`outputs`, or null. Paths travel to the backend as data
 * (never as shell text), but a leading `-` would still read as an option to `find`/`test`, and a
 * control character would break the NUL/newline framing.
 */
export function cachePathProblem(path: string): string | null {
  if (path.trim() === '') return 'must not be empty';
  if (path.length > MAX_PATH_LENGTH) return `must be at most ${MAX_PATH_LENGTH} characters`;
  if (CONTROL.test(path)) return 'must not contain control characters (newlines, tabs, NUL...)';
  if (path.startsWith('-')) return `must not start with "-" (write "./${path}")`;
  return null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}

/**
 * Read and check the cache fields of one task object. `field(name)` gives the issue path of a field;
 * `err` records an error. Returns only the fields the task sets (an absent field stays absent, so
 * specs without them are unchanged).
 */
export function parseCacheFields(
  t: Record<string, unknown>,
  field: (name: string) => string,
  err: (path: string, message: string) => void,
): Pick<TaskSpec, 'inputs' | 'outputs' | 'cache' | 'cacheScope'> {
  const out: Pick<TaskSpec, 'inputs' | 'outputs' | 'cache' | 'cacheScope'> = {};
  for (const name of ['inputs', 'outputs'] as const) {
    const v = t[name];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) {
      err(field(name), `must be an array of paths or globs, got ${describe(v)}`);
      continue;
    }
    if (v.length > MAX_CACHE_PATHS) {
      err(field(name), `at most ${MAX_CACHE_PATHS} entries, got ${v.length}`);
      continue;
    }
    const list: string[] = [];
    for (const [i, entry] of v.entries()) {
      const path = `${field(name)}[${i}]`;
      const problem =
        typeof entry === 'string'
          ? cachePathProblem(entry)
          : `must be a path or glob, got ${describe(entry)}`;
      if (problem) err(path, problem);
      else list.push(entry as string);
    }
    out[name] = [...new Set(list)];
  }
  if (t.cache !== undefined && t.cache !== null) {
    if (typeof t.cache !== 'boolean') err(field('cache'), `must be true or false, got ${describe(t.cache)}`);
    else out.cache = t.cache;
  }
  if (t.cache_scope !== undefined && t.cache_scope !== null) {
    const v = t.cache_scope;
    if (typeof v !== 'string' || !(SCOPES as readonly string[]).includes(v))
      err(field('cache_scope'), `must be "commit" or "inputs", got ${describe(v)}`);
    else out.cacheScope = v as CacheScope;
  }
  return out;
}
