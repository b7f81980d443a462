/**
 * Testing helpers: {@link FakeBackend}, a scripted in-memory backend, plus {@link MemoryRunStore}
 * (re-exported) and small waiting utilities.
 *
 * @example
 * ```ts
 * import { FakeBackend, MemoryRunStore } from '@scripthut/core/testing';
 * const backend = new FakeBackend({ maxConcurrent: 2, pollsToComplete: 1 });
 * backend.script('b', { kind: 'fail', exitCode: 3 });
 * ```
 */
import type { TaskSpec } from '../domain.js';

export { MemoryRunStore } from '../memory-store.js';
export * from './fake-backend.js';
export { makeRequest, makeTask } from './requests.js';
export * from './run-checks.js';

/**
 * A task spec with the task JSON defaults (1 CPU, 4G, 1:00:00, no partition, working dir `~`),
 * for tests. `name` defaults to the id and `command` to `echo <id>`.
 */
export function taskSpec(id: string, overrides: Partial<TaskSpec> = {}): TaskSpec {
  return {
    id,
    name: id,
    command: `echo ${id}`,
    workingDir: '~',
    partition: null,
    cpus: 1,
    memory: '4G',
    memoryMiB: 4096,
    timeLimit: '1:00:00',
    timeLimitSeconds: 3600,
    gres: null,
    image: null,
    deps: [],
    depPatterns: [],
    outputFile: null,
    errorFile: null,
    environment: null,
    envVars: {},
    generatesSource: null,
    ...overrides,
  };
}

/** Wait until `predicate` is true (polls every few ms); throws with `message` after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 5000,
  message = 'condition',
): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${message}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
