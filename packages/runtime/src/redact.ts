/**
 * Redaction at the runtime's view boundary: every run, task, event and dry run that leaves the
 * runtime (to the server's API and UI, to the CLI) has the values of secret environment variables
 * replaced by `***`. The store keeps the values (tasks submitted later, reruns and crash recovery
 * need them); nothing shown does.
 *
 * Secret names come from the run's environment snapshot (`secret: true` in the config, or the
 * name rule) and the name rule on a task's own `env_vars`; see `taskSecretNames` in
 * `@scripthut/core`.
 */
import {
  type RunRecord,
  type RunSummary,
  redactEnv,
  redactSecretsInText,
  resolveTaskEnvironment,
  secretNamesOf,
  type TaskRecord,
  type TaskSpec,
} from '@scripthut/core';

type Environments = RunRecord['environments'];

/** A run with the secret values of its environment snapshot replaced (same object when none). */
export function redactRun(run: RunRecord): RunRecord {
  let environments: Environments | null = null;
  for (const [name, def] of Object.entries(run.environments ?? {})) {
    const secret = def.secretNames ?? secretNamesOf(def.variables);
    const variables = redactEnv(def.variables, secret);
    if (variables === def.variables) continue;
    environments ??= { ...run.environments };
    environments[name] = { ...def, variables };
  }
  return environments ? { ...run, environments } : run;
}

/** A run summary with its run redacted (same object when there is nothing to hide). */
export function redactSummary(summary: RunSummary): RunSummary {
  const run = redactRun(summary.run);
  return run === summary.run ? summary : { ...summary, run };
}

/**
 * The task's spec (`env_vars`) and stored script with secret values replaced, against the
 * environment snapshot of its run (same object when there is nothing to hide).
 */
export function redactTask(task: TaskRecord, environments: Environments): TaskRecord {
  const { spec, script } = redactSpecAndScript(task.spec, task.script, environments);
  return spec === task.spec && script === task.script ? task : { ...task, spec, script };
}

/** {@link redactTask} for a spec and a rendered script (dry runs). */
export function redactSpecAndScript<S extends string | null>(
  spec: TaskSpec,
  script: S,
  environments: Environments,
): { spec: TaskSpec; script: S } {
  const def = spec.environment === null ? null : (environments?.[spec.environment] ?? null);
  // fast path (most tasks): no variables of its own, and an environment without secrets
  if (Object.keys(spec.envVars).length === 0 && (!def || def.secretNames?.length === 0))
    return { spec, script };
  const { env, secretNames } = resolveTaskEnvironment({
    injected: {},
    environment: def,
    envVars: spec.envVars,
  });
  if (secretNames.length === 0) return { spec, script };
  const envVars = redactEnv(spec.envVars, secretNames);
  return {
    spec: envVars === spec.envVars ? spec : { ...spec, envVars },
    script: (script === null ? null : redactSecretsInText(script, env, secretNames)) as S,
  };
}
