/**
 * Task environment merge: named environment variables, then the task's `env_vars`, then the
 * injected `SCRIPTHUT_*` variables, which are applied last so that no task or environment can
 * override them.
 */
import type { GitContext } from './domain.js';
import { isSecretEnvName, secretNamesOf } from './secrets.js';

/** The variables ScriptHut injects into every task. */
export interface InjectedVariables {
  workflowName: string;
  runId: string;
  /** ISO 8601 creation time of the run. */
  createdAt: string;
  git?: GitContext | null;
}

/** A named environment definition (as snapshotted on the run). */
export interface EnvironmentDefinition {
  variables: Record<string, string>;
  extraInit: string;
  /**
   * Names of `variables` whose values are secret (marked `secret: true`, or following the name
   * rule {@link isSecretEnvName} and not marked `secret: false`). Absent on runs created before
   * secrets existed: the name rule applies then.
   */
  secretNames?: string[];
}

/** Build the `SCRIPTHUT_*` map for a run. Git variables are included only when known. */
export function injectedEnvironment(v: InjectedVariables): Record<string, string> {
  const env: Record<string, string> = {
    SCRIPTHUT_WORKFLOW: v.workflowName,
    SCRIPTHUT_RUN_ID: v.runId,
    SCRIPTHUT_CREATED_AT: v.createdAt,
  };
  if (v.git?.repo) env.SCRIPTHUT_GIT_REPO = v.git.repo;
  if (v.git?.branch) env.SCRIPTHUT_GIT_BRANCH = v.git.branch;
  if (v.git?.sha) env.SCRIPTHUT_GIT_SHA = v.git.sha;
  return env;
}

/**
 * Merge a task's environment. Priority (later wins): named environment `variables` < task
 * `env_vars` < injected `SCRIPTHUT_*` (which therefore cannot be overridden). `SCRIPTHUT_*` names
 * coming from the environment or the task are dropped.
 *
 * @example
 * ```ts
 * const { env, extraInit } = resolveTaskEnvironment({
 *   injected: injectedEnvironment({ workflowName: 'wf', runId: 'abcd1234', createdAt }),
 *   environment: { variables: { DATA: '/shared' }, extraInit: 'module load julia' },
 *   envVars: { DATA: '/scratch' },
 * }); // env.DATA === '/scratch'
 * ```
 */
export function resolveTaskEnvironment(input: {
  injected: Record<string, string>;
  environment?: EnvironmentDefinition | null;
  envVars?: Record<string, string> | null;
}): { env: Record<string, string>; extraInit: string; secretNames: string[] } {
  const env: Record<string, string> = {};
  const put = (source: Record<string, string> | null | undefined) => {
    if (!source) return;
    for (const [k, v] of Object.entries(source)) {
      if (k.startsWith('SCRIPTHUT_')) continue;
      env[k] = v;
    }
  };
  put(input.environment?.variables);
  put(input.envVars);
  for (const [k, v] of Object.entries(input.injected)) env[k] = v;
  return {
    env,
    extraInit: input.environment?.extraInit ?? '',
    secretNames: taskSecretNames(env, input.environment ?? null, input.envVars ?? null),
  };
}

/**
 * Secret names of a task's merged environment `env`: the environment's secret names, plus every
 * name following the rule {@link isSecretEnvName} unless it comes from the environment where it is
 * marked `secret: false` (a task's own `env_vars` cannot opt out of the rule). Sorted.
 */
export function taskSecretNames(
  env: Readonly<Record<string, string>>,
  environment: EnvironmentDefinition | null,
  envVars: Readonly<Record<string, string>> | null,
): string[] {
  const marked = environment?.secretNames;
  if (marked === undefined) return secretNamesOf(env);
  const unmarked = new Set(
    Object.keys(environment?.variables ?? {}).filter(
      (n) => isSecretEnvName(n) && !marked.includes(n) && !(envVars && n in envVars),
    ),
  );
  return secretNamesOf(env, marked, unmarked);
}
