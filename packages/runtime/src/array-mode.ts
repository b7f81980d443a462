/**
 * Which job-array mode a run gets (docs/arrays.md): the `array` of the workflow, source or project
 * it comes from when set (recorded with the run as `arrayMode`), else its backend's `array`.
 */

import type { ScriptHutConfig } from '@scripthut/config';
import type { ArrayMode, RunOrigin } from '@scripthut/core';

/**
 * The `array` the run's workflow, source or project sets, or `null` (unset, or an ad-hoc run): the
 * backend's setting applies.
 */
export function workflowArrayMode(config: ScriptHutConfig, origin: RunOrigin): ArrayMode | null {
  if (origin.kind === 'workflow') return config.workflows.find((w) => w.name === origin.name)?.array ?? null;
  if (origin.kind === 'source') return config.sources.find((s) => s.name === origin.source)?.array ?? null;
  if (origin.kind === 'project') return config.projects.find((p) => p.name === origin.project)?.array ?? null;
  return null;
}

/** The `CreateRunInput` field of a run from `origin`: `{ arrayMode }` when its workflow sets one. */
export function arrayModeInput(config: ScriptHutConfig, origin: RunOrigin): { arrayMode?: ArrayMode } {
  const mode = workflowArrayMode(config, origin);
  return mode ? { arrayMode: mode } : {};
}

/** The array mode a run would get and what set it (shown by the dry run). */
export interface RunArrayMode {
  mode: ArrayMode;
  /** `workflow`: the workflow's, source's or project's `array`; `backend`: the backend's. */
  setBy: 'workflow' | 'backend';
}

/**
 * The mode of a prospective run on `backendName`: `null` when that backend has no `array` setting
 * (no job arrays at all: local, EC2, ECS…).
 */
export function runArrayMode(
  config: ScriptHutConfig,
  backendName: string,
  origin: RunOrigin,
): RunArrayMode | null {
  const backend = config.backends.find((b) => b.name === backendName);
  if (!backend || !('array' in backend)) return null;
  const own = workflowArrayMode(config, origin);
  return own ? { mode: own, setBy: 'workflow' } : { mode: backend.array, setBy: 'backend' };
}
