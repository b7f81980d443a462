/**
 * Task JSON: parsing, defaults and validation of the document a workflow prints (see
 * `task-json-reference.md`). Everything is checked before anything is submitted and every problem
 * is reported at once, each with a path such as `tasks[3] (id "x").memory`.
 *
 * This module handles the document as a whole (JSON syntax, the top level, ids across tasks,
 * dependency resolution and cycles); one task object's fields are checked in `task-object.ts`, the
 * value grammars (memory, time limits, gres) are in `task-values.ts` and wildcard patterns and
 * cycle detection in `dependency-patterns.ts`. Their public names are exported from here.
 */
import { findCycles, IdIndex, isPattern } from './dependency-patterns.js';
import type { TaskSpec } from './domain.js';
import { type Issue, ScriptHutError } from './errors.js';
import { describe, ENV_RULES_NOT_HERE, validateTaskObject } from './task-object.js';
import { unicodeProblem } from './task-values.js';

export { findCycles, isPattern, matchesPattern } from './dependency-patterns.js';
export { TASK_JSON_FIELDS } from './task-object.js';
export * from './task-values.js';

/** Options of {@link parseTaskDocument}. */
export interface ParseTaskDocumentOptions {
  /** Names of the configured environments; `environment` must be one of them. */
  knownEnvironments: readonly string[];
  /**
   * Ids of tasks already in the run (generates_source). New tasks may depend on them (exactly or
   * through wildcards) and must not reuse their ids.
   */
  existingTaskIds?: readonly string[];
  /** File name reported in issues (e.g. the generates_source path). */
  source?: string;
}

/** Result of {@link parseTaskDocument}: validated tasks (defaults applied) and non-fatal warnings. */
export interface ParsedTaskDocument {
  tasks: TaskSpec[];
  /** Optional top-level `title` of the object form. */
  title?: string;
  warnings: Issue[];
}

const KNOWN_TOP_LEVEL = new Set(['tasks', 'title']);

// ---------------------------------------------------------------------------------------------
// Document parsing
// ---------------------------------------------------------------------------------------------

function positionOf(text: string, message: string): { line?: number; column?: number } {
  const pos = /position (\d+)/.exec(message);
  if (pos) {
    const offset = Number(pos[1]);
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    return { line, column };
  }
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return { line: Number(lc[1]), column: Number(lc[2]) };
  return {};
}

function formatIssues(issues: readonly Issue[]): string {
  return issues
    .map((i) => {
      const where = i.file ? `${i.file}${i.line ? `:${i.line}${i.column ? `:${i.column}` : ''}` : ''}: ` : '';
      return `  - ${where}${i.path}: ${i.message}`;
    })
    .join('\n');
}

/**
 * Parse and validate a task document (object form `{"tasks": [...], "title"?}` or a bare array).
 *
 * Defaults are applied, wildcard dependencies are expanded (against the document's ids plus
 * `existingTaskIds`, excluding the task itself) and every error is collected. Unknown fields and
 * ignored values are returned as warnings.
 *
 * @throws ScriptHutError `task_json_invalid` listing every issue (also in `error.issues`).
 *
 * @example
 * ```ts
 * const { tasks, warnings } = parseTaskDocument(stdout, { knownEnvironments: ['python-ml'] });
 * ```
 */
export function parseTaskDocument(
  input: string | unknown,
  options: ParseTaskDocumentOptions,
): ParsedTaskDocument {
  const file = options.source;
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const err = (path: string, message: string, extra: Partial<Issue> = {}) =>
    errors.push({ path, message, severity: 'error', ...(file ? { file } : {}), ...extra });
  const warn = (path: string, message: string) =>
    warnings.push({ path, message, severity: 'warning', ...(file ? { file } : {}) });
  const fail = (): never => {
    const n = errors.length;
    throw new ScriptHutError(
      'task_json_invalid',
      `Invalid task JSON${file ? ` (${file})` : ''}: ${n} error${n === 1 ? '' : 's'}\n${formatIssues(errors)}`,
      { issues: [...errors, ...warnings] },
    );
  };

  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      err('(document)', `not valid JSON: ${message}`, positionOf(input, message));
      fail();
    }
  }

  let title: string | undefined;
  let rawTasks: unknown[];
  if (Array.isArray(doc)) rawTasks = doc;
  else if (doc !== null && typeof doc === 'object') {
    const obj = doc as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      if (key === 'env' || key === 'env_groups') err(key, ENV_RULES_NOT_HERE);
      else if (!KNOWN_TOP_LEVEL.has(key)) warn(key, `unknown top-level field "${key}" (ignored)`);
    }
    if (obj.title !== undefined) {
      if (typeof obj.title !== 'string')
        warn('title', `must be a string, got ${describe(obj.title)} (ignored)`);
      else if (unicodeProblem(obj.title)) warn('title', `${unicodeProblem(obj.title)} (ignored)`);
      else title = obj.title;
    }
    if (!Array.isArray(obj.tasks)) {
      err(
        'tasks',
        obj.tasks === undefined ? 'missing "tasks" array' : `must be an array, got ${describe(obj.tasks)}`,
      );
      fail();
    }
    rawTasks = obj.tasks as unknown[];
  } else {
    err('(document)', `expected an object with a "tasks" array or an array of tasks, got ${describe(doc)}`);
    fail();
  }

  const knownEnvs = new Set(options.knownEnvironments);
  const existing = options.existingTaskIds ?? [];
  const existingSet = new Set(existing);

  interface Draft {
    spec: TaskSpec;
    index: number;
  }
  const labelOf = (index: number) => {
    const raw = rawTasks[index];
    const rawId = raw && typeof raw === 'object' ? (raw as Record<string, unknown>).id : undefined;
    return typeof rawId === 'string' ? `tasks[${index}] (id ${JSON.stringify(rawId)})` : `tasks[${index}]`;
  };
  const drafts: Draft[] = [];

  for (let index = 0; index < rawTasks!.length; index++) {
    const raw = rawTasks![index];
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      err(labelOf(index), `a task must be an object, got ${describe(raw)}`);
      continue;
    }
    const before = errors.length;
    const spec = validateTaskObject(raw as Record<string, unknown>, labelOf(index), knownEnvs, err, warn);
    if (errors.length > before || spec === undefined) continue;
    drafts.push({ index, spec });
  }

  // Ids: duplicates in the document and clashes with tasks already in the run.
  const firstIndex = new Map<string, number>();
  for (let index = 0; index < rawTasks!.length; index++) {
    const raw = rawTasks![index];
    const id = raw && typeof raw === 'object' ? (raw as Record<string, unknown>).id : undefined;
    if (typeof id !== 'string' || id === '') continue;
    const first = firstIndex.get(id);
    if (first !== undefined)
      err(`${labelOf(index)}.id`, `duplicate task id ${JSON.stringify(id)} (first used by tasks[${first}])`);
    else {
      firstIndex.set(id, index);
      if (existingSet.has(id))
        err(`${labelOf(index)}.id`, `task id ${JSON.stringify(id)} already exists in the run`);
    }
  }

  // Dependencies: exact ids and wildcard expansion.
  let allIds: Set<string> | Map<string, number> = firstIndex;
  if (existing.length) allIds = new Set<string>([...firstIndex.keys(), ...existing]);
  let index: IdIndex | null = null;
  for (const d of drafts) {
    const patterns = d.spec.depPatterns;
    if (
      patterns.length === 1 &&
      !isPattern(patterns[0]!) &&
      patterns[0] !== d.spec.id &&
      allIds.has(patterns[0]!)
    ) {
      d.spec.deps = patterns; // the same single id: one array for both (neither is ever mutated)
      continue;
    }
    const resolved = new Set<string>();
    const depPath = `${labelOf(d.index)}.deps`;
    for (const dep of d.spec.depPatterns) {
      if (isPattern(dep)) {
        index ??= new IdIndex(allIds.keys());
        const matches = index.match(dep).filter((m) => m !== d.spec.id);
        if (matches.length === 0) err(depPath, `wildcard dependency ${JSON.stringify(dep)} matches no tasks`);
        for (const m of matches) resolved.add(m);
      } else if (dep === d.spec.id) {
        err(depPath, `task ${JSON.stringify(dep)} depends on itself`);
      } else if (!allIds.has(dep)) {
        err(depPath, `dependency ${JSON.stringify(dep)} is not a task id of this run`);
      } else resolved.add(dep);
    }
    d.spec.deps = [...resolved];
  }

  // Cycles (only among the document's tasks: existing tasks cannot depend on new ones).
  const byId = new Map(drafts.map((d) => [d.spec.id, d]));
  const cycles = findCycles(
    drafts.map((d) => d.spec.id),
    (id) => byId.get(id)?.spec.deps ?? [],
  );
  for (const cycle of cycles) {
    const d = byId.get(cycle[0]!)!;
    err(`${labelOf(d.index)}.deps`, `circular dependency detected: ${cycle.join(' -> ')}`);
  }

  if (errors.length) fail();
  return { tasks: drafts.map((d) => d.spec), ...(title !== undefined ? { title } : {}), warnings };
}
