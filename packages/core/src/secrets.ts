/**
 * Secret environment variables: which names are secret, and redaction of their values wherever a
 * run, a task or a job script is shown (API, CLI, UI, dry runs).
 *
 * A variable is secret when it is marked so in the config (`{ value: …, secret: true }` in an
 * environment) or, unless marked `secret: false` there, when its name follows the default rule
 * {@link isSecretEnvName}. Values stay available to the job (they are exported in the script that
 * runs); only what is *shown* is redacted.
 */
import { shellQuote } from './shell.js';

/** What is shown instead of a secret value. */
export const REDACTED_VALUE = '***';

const SECRET_NAME = /(?:^|_)(?:TOKEN|KEY|SECRET|PASSWORD|PASSWD)$|PASSWORD$/i;

/**
 * The default rule: a name is secret when (ignoring case) it is `TOKEN`, `KEY`, `SECRET`,
 * `PASSWORD` or `PASSWD`, or ends with `_TOKEN`, `_KEY`, `_SECRET`, `_PASSWORD`, `_PASSWD`, or with
 * `PASSWORD` (`PGPASSWORD`).
 *
 * @example
 * ```ts
 * isSecretEnvName('HF_TOKEN')              // true
 * isSecretEnvName('AWS_SECRET_ACCESS_KEY') // true
 * isSecretEnvName('AWS_ACCESS_KEY_ID')     // false
 * ```
 */
export function isSecretEnvName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * Names of `env` that are secret: listed in `marked` (the environment's secret names) or following
 * {@link isSecretEnvName}, except names in `unmarked` (explicitly `secret: false`). Sorted.
 */
export function secretNamesOf(
  env: Readonly<Record<string, string>>,
  marked: readonly string[] = [],
  unmarked: ReadonlySet<string> = new Set(),
): string[] {
  const markedSet = new Set(marked);
  return Object.keys(env)
    .filter((n) => markedSet.has(n) || (isSecretEnvName(n) && !unmarked.has(n)))
    .sort();
}

/** A copy of `env` with the values of `secretNames` replaced by {@link REDACTED_VALUE} (same object when none). */
export function redactEnv(
  env: Readonly<Record<string, string>>,
  secretNames: readonly string[],
): Record<string, string> {
  if (!secretNames.some((n) => n in env)) return env as Record<string, string>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) out[k] = secretNames.includes(k) ? REDACTED_VALUE : v;
  return out;
}

/**
 * Replaces the values of secret variables in a rendered job script: the `export NAME='value'`
 * lines, and any other occurrence of a value (raw, quoted, or inside a quoted word) of at least 4
 * characters. Shorter
 * values are replaced only in their own export line, so that a one-character secret cannot turn
 * every `1` of the script into `***`.
 */
export function redactSecretsInText(
  text: string,
  env: Readonly<Record<string, string>>,
  secretNames: readonly string[],
): string {
  let out = text;
  for (const name of secretNames) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    out = out.split(`export ${name}=${shellQuote(value)}`).join(`export ${name}='${REDACTED_VALUE}'`);
    if (value.length < 4) continue;
    out = out.split(shellQuote(value)).join(`'${REDACTED_VALUE}'`);
    out = out.split(value).join(REDACTED_VALUE);
    // inside a longer single-quoted word (e.g. an echoed banner) quotes appear as '\''
    if (value.includes("'")) out = out.split(value.replace(/'/g, "'\\''")).join(REDACTED_VALUE);
  }
  return out;
}
