/**
 * The environment local jobs and commands start with: the ScriptHut process's own environment
 * WITHOUT its secrets. The job script then exports the task's configured variables, so a secret a
 * task is configured with still reaches it; what the server merely happens to hold (its API token,
 * its AWS credentials, any `*_TOKEN`/`*_KEY`/`*_SECRET`/`*_PASSWORD` variable, anything configured
 * as secret) does not, unless listed in `inherit_env`.
 */
import { isSecretEnvName } from '@scripthut/core';

/**
 * AWS credential variables that the name rule does not catch (`AWS_SECRET_ACCESS_KEY`,
 * `AWS_SESSION_TOKEN` and the like are caught by it).
 */
export const AWS_CREDENTIAL_ENV_NAMES: readonly string[] = [
  'AWS_ACCESS_KEY_ID',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
];

/** What {@link inheritedEnvironment} removes, and what it keeps anyway. */
export interface InheritOptions {
  /** Names configured as secret anywhere (config `secret: true`), removed too. */
  secretNames?: readonly string[];
  /**
   * Names (or `*` patterns, e.g. `AWS_*`) that are passed on although they look secret
   * (`inherit_env` of the local backend).
   */
  inheritEnv?: readonly string[];
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

/** True when the server variable `name` must not reach a local job (see the module comment). */
export function isWithheldEnvName(name: string, options: InheritOptions = {}): boolean {
  const withheld =
    isSecretEnvName(name) ||
    AWS_CREDENTIAL_ENV_NAMES.includes(name) ||
    (options.secretNames?.includes(name) ?? false);
  return withheld && !(options.inheritEnv ?? []).some((p) => globToRegExp(p).test(name));
}

/** `parent` (normally `process.env`) without the variables {@link isWithheldEnvName} withholds. */
export function inheritedEnvironment(
  parent: NodeJS.ProcessEnv,
  options: InheritOptions = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value !== undefined && !isWithheldEnvName(name, options)) env[name] = value;
  }
  return env;
}
