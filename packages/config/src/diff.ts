/** Describes what changed between two configurations and whether it can be applied without a restart. */
import type { ScriptHutConfig, SettingsConfig } from './types.js';

/** Result of {@link diffConfigs}: human-readable change descriptions, split by how they apply. */
export interface ConfigDiff {
  /** Changes the server can apply by swapping its config (e.g. `workflows: added "x"`). */
  live: string[];
  /** Changes that only take effect after a restart (e.g. `backends: changed "hpc"`). */
  restart: string[];
}

/** JSON with sorted object keys, so key order never counts as a change. */
function stable(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

function diffNamed(
  section: string,
  before: readonly { name: string }[],
  after: readonly { name: string }[],
): string[] {
  const out: string[] = [];
  const old = new Map(before.map((x) => [x.name, x]));
  const now = new Map(after.map((x) => [x.name, x]));
  for (const [name, item] of now) {
    const prev = old.get(name);
    if (prev === undefined) out.push(`${section}: added "${name}"`);
    else if (stable(prev) !== stable(item)) out.push(`${section}: changed "${name}"`);
  }
  for (const name of old.keys()) if (!now.has(name)) out.push(`${section}: removed "${name}"`);
  return out;
}

/** Settings a running server cannot change: the poll loop period, the socket it listens on, its storage. */
const RESTART_SETTINGS: ReadonlySet<keyof SettingsConfig> = new Set([
  'poll_interval',
  'server_host',
  'server_port',
  'data_dir',
  'sources_cache_dir',
  'tls_cert',
  'tls_key',
]);
/** Settings whose values are never printed. */
const SECRET_SETTINGS: ReadonlySet<keyof SettingsConfig> = new Set(['auth_token', 'notify_url']);

/**
 * Compares two configurations. Live: environments, env, env_groups, workflows, projects, sources,
 * and settings `filter_user` / `auth_token` / `allowed_hosts`. Restart: backends, pricing, and
 * settings `poll_interval`, `server_host`, `server_port`, `data_dir`, `sources_cache_dir`,
 * `tls_cert`, `tls_key`.
 *
 * @example
 * ```ts
 * const { live, restart } = diffConfigs(current, next);
 * // live: ['workflows: added "nightly"'], restart: ['settings.poll_interval: 60 -> 30']
 * ```
 */
export function diffConfigs(oldConfig: ScriptHutConfig, newConfig: ScriptHutConfig): ConfigDiff {
  const live: string[] = [];
  const restart: string[] = [];
  restart.push(...diffNamed('backends', oldConfig.backends, newConfig.backends));
  for (const section of ['environments', 'workflows', 'projects', 'sources'] as const)
    live.push(...diffNamed(section, oldConfig[section], newConfig[section]));
  // Env rules are resolved when a run is created: new runs use the new rules.
  if (stable(oldConfig.env) !== stable(newConfig.env)) live.push('env: changed');
  if (stable(oldConfig.env_groups) !== stable(newConfig.env_groups)) live.push('env_groups: changed');
  if (stable(oldConfig.pricing) !== stable(newConfig.pricing)) {
    if (oldConfig.pricing === null) restart.push('pricing: added');
    else if (newConfig.pricing === null) restart.push('pricing: removed');
    else restart.push('pricing: changed');
  }
  const keys = new Set([...Object.keys(oldConfig.settings), ...Object.keys(newConfig.settings)]) as Set<
    keyof SettingsConfig
  >;
  for (const key of keys) {
    const a = oldConfig.settings[key];
    const b = newConfig.settings[key];
    if (stable(a) === stable(b)) continue;
    const text = SECRET_SETTINGS.has(key)
      ? `settings.${key}: changed`
      : `settings.${key}: ${JSON.stringify(a ?? null)} -> ${JSON.stringify(b ?? null)}`;
    (RESTART_SETTINGS.has(key) ? restart : live).push(text);
  }
  return { live, restart };
}
