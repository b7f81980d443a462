/**
 * Shared setup of the Slurm backend tests (src/backend*.test.ts): `useLocalRunner()` gives every
 * test a fresh LocalBashRunner (`runner`, the fake cluster in a temp dir) and removes it afterwards;
 * `backend()` is the backend `hpc` over it and `tracked()` builds a tracked job.
 */
import type { TrackedJob } from '@scripthut/core';
import { afterEach, beforeEach } from 'vitest';
import { createSlurmBackend } from '../src/backend.js';
import { LocalBashRunner } from './local-runner.js';

/** The current test's runner (reassigned before each test by `useLocalRunner`). */
export let runner: LocalBashRunner;

/** Registers the hooks that create a fresh runner before each test and clean it up after. */
export function useLocalRunner(): void {
  beforeEach(() => {
    runner = new LocalBashRunner();
  });
  afterEach(() => runner.cleanup());
}

/** The backend `hpc` over the current runner, with `over` applied. */
export const backend = (over: Partial<Parameters<typeof createSlurmBackend>[0]> = {}) =>
  createSlurmBackend({ name: 'hpc', ssh: runner, maxConcurrent: 10, ...over });

/** A tracked job of run `run1`, running, with `over` applied. */
export function tracked(jobId: string, tag: string, over: Partial<TrackedJob> = {}): TrackedJob {
  return {
    jobId,
    runId: 'run1',
    taskId: tag,
    tag,
    stdoutPath: null,
    stderrPath: null,
    submittedAt: '2026-02-11T10:00:00.000Z',
    lastState: 'running',
    meta: {},
    ...over,
  };
}
