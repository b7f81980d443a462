/**
 * What `Engine.createRun` accepts: the checks of a {@link CreateRunInput} (max concurrency, array
 * mode, task ids and dependencies) and the {@link RunRecord} it becomes. Pure; the engine adds the
 * backend checks and stores the run.
 */
import type { RunRecord, TaskSpec } from '../domain.js';
import { ScriptHutError } from '../errors.js';
import { findCycles } from '../task-json.js';
import { defaultLogDir } from './paths.js';
import type { CreateRunInput } from './types.js';

/**
 * The run record of a valid `createRun` input with the given id and creation time.
 * @throws ScriptHutError `validation_failed` naming the field (tasks: `tasks[i].field`).
 */
export function newRunRecord(input: CreateRunInput, id: string, now: Date): RunRecord {
  if (input.maxConcurrent !== null && !(Number.isInteger(input.maxConcurrent) && input.maxConcurrent > 0)) {
    throw new ScriptHutError('validation_failed', `maxConcurrent must be a positive integer or null`);
  }
  if (input.arrayMode !== undefined && input.arrayMode !== 'auto' && input.arrayMode !== 'off')
    throw new ScriptHutError('validation_failed', `arrayMode must be "auto", "off" or absent`);
  checkSpecs(input.tasks);
  return {
    id,
    workflowName: input.workflowName,
    backendName: input.backendName,
    origin: input.origin,
    createdAt: now.toISOString(),
    maxConcurrent: input.maxConcurrent,
    logDir: input.logDir ?? defaultLogDir(input.workflowName),
    baseDir: input.baseDir ?? null,
    git: input.git ?? null,
    cancelRequestedAt: null,
    environments: input.environments ?? {},
    ...(input.resume ? { resume: true } : {}),
    ...(input.arrayMode ? { arrayMode: input.arrayMode } : {}),
  };
}

/** Check task specs given to `createRun`: unique ids, known deps, no cycles. */
function checkSpecs(specs: readonly TaskSpec[]): void {
  const ids = new Set<string>();
  const issues: { path: string; message: string }[] = [];
  for (const [i, s] of specs.entries()) {
    if (ids.has(s.id))
      issues.push({ path: `tasks[${i}].id`, message: `duplicate task id ${JSON.stringify(s.id)}` });
    ids.add(s.id);
  }
  for (const [i, s] of specs.entries()) {
    for (const d of s.deps) {
      if (!ids.has(d))
        issues.push({ path: `tasks[${i}].deps`, message: `unknown dependency ${JSON.stringify(d)}` });
      if (d === s.id) issues.push({ path: `tasks[${i}].deps`, message: 'depends on itself' });
    }
  }
  const byId = new Map(specs.map((s) => [s.id, s]));
  for (const c of findCycles([...ids], (id) => byId.get(id)?.deps ?? [])) {
    issues.push({ path: 'tasks', message: `circular dependency detected: ${c.join(' -> ')}` });
  }
  if (issues.length) {
    throw new ScriptHutError(
      'validation_failed',
      `invalid tasks:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`,
      { issues },
    );
  }
}
