/**
 * From the schema's output to the {@link ScriptHutConfig} the rest of ScriptHut reads: `~` expansion
 * of local paths, host-dependent defaults, environments' secret variables, and the load-time
 * warnings about local files that do not exist.
 */
import { existsSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import { isSecretEnvName } from '@scripthut/core';
import type { RawIssue } from './cross-field-checks.js';
import { type ConfigFileSchema, SettingsSchema } from './schema.js';
import type { BackendConfig, EnvironmentConfig, ScriptHutConfig, SettingsConfig } from './types.js';

/** Expands a leading `~` or `~/` to the home directory. Other paths are returned unchanged. */
export function expandHome(path: string, homeDir: string = homedir()): string {
  if (path === '~') return homeDir;
  if (path.startsWith('~/')) return join(homeDir, path.slice(2));
  return path;
}

/** True when `value` is an http(s) URL rather than a local path. */
export function isUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

function defaultLocalConcurrency(): number {
  return Math.max(1, cpus().length);
}

/** `{ value, secret }` variables → plain values plus the list of secret names. */
function flattenEnvironment(
  e: NonNullable<ReturnType<typeof ConfigFileSchema.parse>['environments']>[number],
): EnvironmentConfig {
  const variables: Record<string, string> = {};
  const secret: string[] = [];
  for (const [name, v] of Object.entries(e.variables)) {
    const entry = typeof v === 'string' ? { value: v, secret: undefined } : v;
    variables[name] = entry.value;
    if (entry.secret ?? isSecretEnvName(name)) secret.push(name);
  }
  return { ...e, variables, secret_variables: secret.sort() };
}

/** Applies host-dependent defaults and `~` expansion to the schema output. */
export function finishConfig(data: ReturnType<typeof ConfigFileSchema.parse>, home: string): ScriptHutConfig {
  const ex = (p: string) => expandHome(p, home);
  const exN = (p: string | null) => (p === null ? null : ex(p));
  const backends: BackendConfig[] = (data.backends ?? []).map((b): BackendConfig => {
    switch (b.type) {
      case 'slurm':
      case 'pbs':
        return {
          ...b,
          ssh: {
            ...b.ssh,
            key_path: ex(b.ssh.key_path),
            cert_path: exN(b.ssh.cert_path),
            known_hosts: exN(b.ssh.known_hosts),
          },
        };
      case 'local':
        return { ...b, max_concurrent: b.max_concurrent ?? defaultLocalConcurrency() };
      default:
        return b;
    }
  });
  const sources = (data.sources ?? []).map((s) =>
    s.type === 'git' ? { ...s, deploy_key: exN(s.deploy_key) } : s,
  );
  const workflows = (data.workflows ?? []).map((w) =>
    w.git ? { ...w, git: { ...w.git, deploy_key: exN(w.git.deploy_key) } } : w,
  );
  const pricing = data.pricing
    ? {
        ...data.pricing,
        price_source: isUrl(data.pricing.price_source)
          ? data.pricing.price_source
          : ex(data.pricing.price_source),
      }
    : null;
  const s = data.settings ?? SettingsSchema.parse({});
  const dataDir = ex(s.data_dir);
  const settings: SettingsConfig = {
    ...s,
    tls_cert: exN(s.tls_cert),
    tls_key: exN(s.tls_key),
    data_dir: dataDir,
    sources_cache_dir: s.sources_cache_dir === undefined ? join(dataDir, 'sources') : ex(s.sources_cache_dir),
  };
  return {
    backends,
    sources,
    workflows,
    projects: data.projects ?? [],
    environments: (data.environments ?? []).map(flattenEnvironment),
    env: data.env ?? [],
    env_groups: data.env_groups ?? {},
    pricing,
    settings,
  };
}

/** Load-time warnings: missing local files, a non-loopback server without auth_token. */
export function fileWarnings(config: ScriptHutConfig, checkFiles: boolean): RawIssue[] {
  const out: RawIssue[] = [];
  const file = (path: PropertyKey[], p: string | null, what: string) => {
    if (p !== null && !existsSync(p)) out.push({ path, message: `${what} not found: ${p}` });
  };
  if (checkFiles) {
    config.backends.forEach((b, i) => {
      if (b.type !== 'slurm' && b.type !== 'pbs') return;
      if (b.ssh.control_path !== null) return; // the OpenSSH master authenticates, not these files
      file(['backends', i, 'ssh', 'key_path'], b.ssh.key_path, 'SSH key file');
      file(['backends', i, 'ssh', 'cert_path'], b.ssh.cert_path, 'SSH certificate file');
      file(['backends', i, 'ssh', 'known_hosts'], b.ssh.known_hosts, 'known_hosts file');
    });
    config.sources.forEach((s, i) => {
      if (s.type === 'git') file(['sources', i, 'deploy_key'], s.deploy_key, 'deploy key file');
    });
    config.workflows.forEach((w, i) => {
      if (w.git) file(['workflows', i, 'git', 'deploy_key'], w.git.deploy_key, 'deploy key file');
    });
    if (config.pricing && !isUrl(config.pricing.price_source))
      file(['pricing', 'price_source'], config.pricing.price_source, 'price source file');
  }
  if (checkFiles) {
    file(['settings', 'tls_cert'], config.settings.tls_cert, 'TLS certificate file');
    file(['settings', 'tls_key'], config.settings.tls_key, 'TLS key file');
  }
  return out;
}
