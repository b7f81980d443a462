/** Secret-free copies of a configuration (and of its file text) for display. */
import { isMap, isScalar, type Node, parseDocument } from 'yaml';
import type { ScriptHutConfig } from './types.js';

/** The replacement shown instead of a secret value. */
export const REDACTED = '***';

/**
 * A deep copy of `config` with secrets replaced by `"***"`: `settings.auth_token`, `settings.notify_url` and the values of
 * secret environment variables (`secret_variables` of each environment). Key *paths* are not
 * secrets and are kept.
 */
export function redactConfig(config: ScriptHutConfig): ScriptHutConfig {
  const copy = structuredClone(config);
  if (copy.settings.auth_token !== null) copy.settings.auth_token = REDACTED;
  if (copy.settings.notify_url != null) copy.settings.notify_url = REDACTED;
  for (const env of copy.environments) {
    for (const name of env.secret_variables) if (name in env.variables) env.variables[name] = REDACTED;
  }
  return copy;
}

/** Every secret value of a loaded config (auth token, secret environment variables). */
export function configSecretValues(config: ScriptHutConfig): string[] {
  const values = new Set<string>();
  if (config.settings.auth_token) values.add(config.settings.auth_token);
  if (config.settings.notify_url) values.add(config.settings.notify_url);
  for (const env of config.environments) {
    for (const name of env.secret_variables) {
      const v = env.variables[name];
      if (v) values.add(v);
    }
  }
  return [...values];
}

/**
 * The config file `text` with the secrets of `config` (the config loaded from that text) replaced
 * by `"***"`: the YAML value of `settings.auth_token` and of every secret environment variable
 * (plain or `{ value, secret }` form) is rewritten in place, layout and comments kept; any other
 * occurrence of a secret value of 4 characters or more (an alias, a comment) is replaced too.
 */
export function redactConfigText(text: string, config: ScriptHutConfig): string {
  const ranges: Array<[number, number]> = [];
  try {
    const doc = parseDocument(text, { merge: true });
    const root = doc.contents;
    const get = (node: unknown, key: string): unknown =>
      isMap(node) ? node.items.find((p) => isScalar(p.key) && String(p.key.value) === key)?.value : undefined;
    const addScalar = (node: unknown) => {
      const range = (node as Node | undefined)?.range;
      if (isScalar(node) && range) ranges.push([range[0], range[1]]);
    };
    addScalar(get(get(root, 'settings'), 'auth_token'));
    addScalar(get(get(root, 'settings'), 'notify_url'));
    const envs = get(root, 'environments') as { items?: unknown[] } | undefined;
    config.environments.forEach((env, i) => {
      const vars = get(envs?.items?.[i], 'variables');
      for (const name of env.secret_variables) {
        const value = get(vars, name);
        addScalar(isMap(value) ? get(value, 'value') : value);
      }
    });
  } catch {
    // unparsable text: only the plain replacement below applies
  }
  let out = text;
  for (const [start, end] of ranges.sort((a, b) => b[0] - a[0])) {
    const trailing = out.slice(start, end).endsWith('\n') ? '\n' : '';
    out = `${out.slice(0, start)}"${REDACTED}"${trailing}${out.slice(end)}`;
  }
  for (const value of configSecretValues(config)) {
    if (value.length >= 4) out = out.split(value).join(REDACTED);
  }
  return out;
}
