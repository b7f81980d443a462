/**
 * Loading and validating scripthut.yaml: YAML parsing with positions, schema validation, cross-field
 * checks, `~` expansion of local paths, derived defaults, and the embedded default configuration.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { type BackendRegistry, type Issue, isSecretEnvName, ScriptHutError } from '@scripthut/core';
import { type Document, LineCounter, parseDocument } from 'yaml';
import { DEFAULT_CONFIG_YAML } from './default-config.js';
import { envCrossFieldIssues, envWarnings } from './env-checks.js';
import { installedBackendRegistry } from './installed-backends.js';
import { locate, type Position } from './locate.js';
import { configErrorMap } from './messages.js';
import { loadBackendPlugins } from './plugins.js';
import { ConfigFileSchema, configFileSchemaFor, MIN_REMOTE_TOKEN_LENGTH, SettingsSchema } from './schema.js';
import { didYouMean, formatPath } from './suggest.js';
import type { BackendConfig, EnvironmentConfig, ScriptHutConfig, SettingsConfig } from './types.js';

/** Options shared by the validation and loading functions. */
export interface ValidateOptions {
  /** Home directory used for `~` expansion. Default: `os.homedir()`. */
  homeDir?: string;
  /**
   * Check that files named by local path fields (SSH keys, certificates, known_hosts, deploy keys,
   * a local price_source) exist, reporting missing ones as warnings. Default: true.
   */
  checkFiles?: boolean;
  /**
   * The backend types accepted in `backends[]`. Default: the installed ones
   * ({@link installedBackendRegistry}); {@link loadConfig} adds those of its `plugins` option.
   */
  backends?: BackendRegistry;
}

/** Result of {@link validateConfigText}; `config` is set exactly when `issues` is empty. */
export interface ValidationResult {
  config?: ScriptHutConfig;
  /** Errors (severity "error"), sorted by position. */
  issues: Issue[];
  /** Non-fatal findings (severity "warning"), e.g. a key file that does not exist. */
  warnings: Issue[];
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions extends ValidateOptions {
  /** Explicit config file (e.g. `--config`). It must exist. `~` is expanded. */
  path?: string;
  /** Directory searched for scripthut.yaml / scripthut.yml and base of a relative `path`. Default: cwd. */
  cwd?: string;
  /**
   * Modules that add backend types (third-party backend packages, see `loadBackendPlugins`):
   * package names, resolved from the config file's directory (else `cwd`), or module paths.
   */
  plugins?: readonly string[];
}

/** What {@link loadConfig} returns: the config, its origin, and load-time warnings. */
export type LoadedConfig = (
  | { source: 'file'; path: string; config: ScriptHutConfig; warnings: Issue[] }
  | { source: 'default'; config: ScriptHutConfig; warnings: Issue[] }
) & {
  /** The backend types the config was validated with: the installed ones plus the plugins passed in (`SCRIPTHUT_PLUGINS`, `plugins` options). */
  backends: BackendRegistry;
};

/** File names searched, in order, when no explicit path is given. */
export const CONFIG_FILE_NAMES = ['scripthut.yaml', 'scripthut.yml'] as const;

/** Expands a leading `~` or `~/` to the home directory. Other paths are returned unchanged. */
export function expandHome(path: string, homeDir: string = homedir()): string {
  if (path === '~') return homeDir;
  if (path.startsWith('~/')) return join(homeDir, path.slice(2));
  return path;
}

/** True for `localhost`, `127.0.0.0/8` and `::1`. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** True when `value` is an http(s) URL rather than a local path. */
export function isUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

/** `scripthut.yaml:14:7 backends[1].ssh.port: message` (position and file omitted when unknown). */
export function formatIssue(issue: Issue): string {
  let where = issue.file ?? '';
  if (issue.line !== undefined) where += `${where ? ':' : ''}${issue.line}:${issue.column ?? 1}`;
  return `${where ? `${where} ` : ''}${issue.path}: ${issue.message}`;
}

/** The `config_invalid` error listing every issue, one per line after a summary line. */
export function configInvalidError(fileName: string, issues: Issue[]): ScriptHutError {
  const n = issues.length;
  const header = `${fileName}: ${n} configuration error${n === 1 ? '' : 's'}`;
  return new ScriptHutError('config_invalid', [header, ...issues.map(formatIssue)].join('\n'), {
    issues,
    details: { file: fileName },
  });
}

/** Where a backend came from, kept so {@link checkBackendFiles} can report file:line:column. */
export interface BackendOrigin {
  file: string;
  index: number;
  locate(subPath: readonly PropertyKey[]): Position | undefined;
}
const backendOrigins = new WeakMap<object, BackendOrigin>();

/** Source origin of a backend object returned by the loader, if known. */
export function backendOrigin(backend: BackendConfig): BackendOrigin | undefined {
  return backendOrigins.get(backend);
}

type RawIssue = { path: PropertyKey[]; message: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isUnset = (v: unknown) => v === undefined || v === null;

/** Cross-field checks on the raw document; tolerant of any shape (the schema reports type errors). */
function crossFieldIssues(raw: unknown, registry: BackendRegistry): RawIssue[] {
  if (!isObject(raw)) return [];
  const out: RawIssue[] = [];
  const list = (section: string): unknown[] => {
    const v = raw[section];
    return Array.isArray(v) ? v : [];
  };
  for (const section of ['backends', 'sources', 'workflows', 'projects', 'environments']) {
    const seen = new Map<string, number>();
    list(section).forEach((item, i) => {
      if (!isObject(item) || typeof item.name !== 'string' || item.name === '') return;
      const first = seen.get(item.name);
      if (first === undefined) seen.set(item.name, i);
      else
        out.push({
          path: [section, i, 'name'],
          message: `duplicate name "${item.name}" (already used by ${section}[${first}])`,
        });
    });
  }
  const backendNames = [
    ...new Set(
      list('backends').flatMap((b) =>
        isObject(b) && typeof b.name === 'string' && b.name !== '' ? [b.name] : [],
      ),
    ),
  ];
  for (const section of ['sources', 'workflows', 'projects']) {
    list(section).forEach((item, i) => {
      if (!isObject(item) || typeof item.backend !== 'string' || item.backend === '') return;
      if (backendNames.includes(item.backend)) return;
      const hint = didYouMean(item.backend, backendNames);
      const known =
        hint ||
        (backendNames.length
          ? ` (defined backends: ${backendNames.join(', ')})`
          : ' (no backends are defined)');
      out.push({ path: [section, i, 'backend'], message: `unknown backend "${item.backend}"${known}` });
    });
  }
  const settings = raw.settings;
  if (isObject(settings)) {
    const host = typeof settings.server_host === 'string' ? settings.server_host : '127.0.0.1';
    const token = settings.auth_token;
    if (
      typeof token === 'string' &&
      token !== '' &&
      token.length < MIN_REMOTE_TOKEN_LENGTH &&
      !isLoopbackHost(host)
    )
      out.push({
        path: ['settings', 'auth_token'],
        message: `a server on the non-loopback address "${host}" needs a token of at least ${MIN_REMOTE_TOKEN_LENGTH} characters (this one has ${token.length}); remove auth_token to use the generated one`,
      });
    const cert = !isUnset(settings.tls_cert);
    const key = !isUnset(settings.tls_key);
    if (cert !== key)
      out.push({
        path: ['settings', cert ? 'tls_key' : 'tls_cert'],
        message: 'tls_cert and tls_key go together: set both (https) or neither (http)',
      });
  }
  list('backends').forEach((b, i) => {
    if (!isObject(b) || typeof b.type !== 'string') return;
    const plugin = registry.get(b.type);
    for (const issue of plugin?.configIssues?.(b) ?? [])
      out.push({ path: ['backends', i, ...issue.path], message: issue.message });
  });
  return out;
}

let installedRegistry: BackendRegistry | undefined;
/** The installed backend types (one registry, never changed). */
function installed(): BackendRegistry {
  installedRegistry ??= installedBackendRegistry();
  return installedRegistry;
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
function finish(data: ReturnType<typeof ConfigFileSchema.parse>, home: string): ScriptHutConfig {
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
function warningsFor(config: ScriptHutConfig, checkFiles: boolean): RawIssue[] {
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

function toIssue(
  raw: RawIssue,
  doc: Document,
  lc: LineCounter,
  file: string,
  severity: 'error' | 'warning',
): Issue {
  const pos = locate(doc, lc, raw.path);
  const issue: Issue = {
    path: raw.path.length ? formatPath(raw.path) : '(root)',
    message: raw.message,
    file,
    severity,
  };
  if (pos) {
    issue.line = pos.line;
    issue.column = pos.column;
  }
  return issue;
}

function byPosition(a: Issue, b: Issue): number {
  return (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) || a.path.localeCompare(b.path);
}

/**
 * Validates the text of a scripthut.yaml without throwing. Every problem of the file is reported:
 * YAML syntax errors, or else all schema and cross-field errors, each with file, line, column and
 * field path.
 *
 * @param text - YAML source.
 * @param fileName - Name used in issues and messages (e.g. `scripthut.yaml`).
 * @example
 * ```ts
 * const { config, issues, warnings } = validateConfigText(text, 'scripthut.yaml');
 * for (const i of issues) console.error(formatIssue(i));
 * ```
 */
export function validateConfigText(
  text: string,
  fileName = 'scripthut.yaml',
  options: ValidateOptions = {},
): ValidationResult {
  try {
    return validate(text, fileName, options);
  } catch (e) {
    // Defensive: nothing above is expected to throw, but this function promises not to.
    const message = e instanceof Error ? e.message : String(e);
    return {
      issues: [
        { path: '(root)', message: `could not be validated: ${message}`, file: fileName, severity: 'error' },
      ],
      warnings: [],
    };
  }
}

/** Strings that reach a shell cannot hold a NUL byte: reject them wherever they appear. */
function nulByteIssues(value: unknown, path: (string | number)[]): RawIssue[] {
  if (typeof value === 'string')
    return value.includes('\u0000')
      ? [{ path, message: 'contains a NUL byte, which no shell or file name can hold' }]
      : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => nulByteIssues(v, [...path, i]));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => [
      ...(k.includes('\u0000') ? [{ path: [...path, k], message: 'field name contains a NUL byte' }] : []),
      ...nulByteIssues(v, [...path, k]),
    ]);
  return [];
}

function validate(text: string, fileName: string, options: ValidateOptions): ValidationResult {
  const home = options.homeDir ?? homedir();
  const lc = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lc,
    keepSourceTokens: true,
    prettyErrors: false,
    merge: true,
    uniqueKeys: true,
  });
  const at = (offset: number | undefined, severity: 'error' | 'warning', message: string): Issue => {
    const issue: Issue = { path: '(yaml)', message, file: fileName, severity };
    if (offset !== undefined) {
      const p = lc.linePos(offset);
      issue.line = p.line;
      issue.column = p.col;
    }
    return issue;
  };
  const yamlWarnings = doc.warnings.map((w) => at(w.pos[0], 'warning', `YAML: ${w.message}`));
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => at(e.pos[0], 'error', `YAML syntax error: ${e.message}`));
    return { issues: issues.sort(byPosition), warnings: yamlWarnings };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return {
      issues: [at(0, 'error', `YAML error: ${e instanceof Error ? e.message : String(e)}`)],
      warnings: yamlWarnings,
    };
  }
  if (raw === null || raw === undefined) raw = {};

  const rawIssues: RawIssue[] = [];
  const registry = options.backends ?? installed();
  const schema = options.backends ? configFileSchemaFor(options.backends) : ConfigFileSchema;
  const parsed = schema.safeParse(raw, { error: configErrorMap, reportInput: true });
  if (!parsed.success) {
    for (const iss of parsed.error.issues) {
      if (iss.code === 'unrecognized_keys') {
        const lines = iss.message.split('\n');
        iss.keys.forEach((k, i) => {
          rawIssues.push({ path: [...iss.path, k], message: lines[i] ?? `unknown field "${k}"` });
        });
      } else if (iss.path.length === 0 && iss.code === 'invalid_type') {
        rawIssues.push({
          path: [],
          message: `expected a mapping of sections (backends, settings, ...), got ${iss.message.replace(/^expected .*?, got /, '')}`,
        });
      } else rawIssues.push({ path: iss.path, message: iss.message });
    }
  }
  rawIssues.push(...crossFieldIssues(raw, registry), ...envCrossFieldIssues(raw), ...nulByteIssues(raw, []));
  if (rawIssues.length > 0 || !parsed.success) {
    const seen = new Set<string>();
    const issues = rawIssues
      .map((r) => toIssue(r, doc, lc, fileName, 'error'))
      .filter((i) => {
        const key = `${i.path}\u0000${i.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .sort(byPosition);
    return { issues, warnings: yamlWarnings };
  }

  const config = finish(parsed.data, home);
  config.backends.forEach((b, index) => {
    backendOrigins.set(b, {
      file: fileName,
      index,
      locate: (sub) => locate(doc, lc, ['backends', index, ...sub]),
    });
  });
  const warnings = [
    ...yamlWarnings,
    ...[...warningsFor(config, options.checkFiles ?? true), ...envWarnings(raw)].map((w) =>
      toIssue(w, doc, lc, fileName, 'warning'),
    ),
  ].sort(byPosition);
  return { config, issues: [], warnings };
}

/**
 * Parses and validates the text of a scripthut.yaml.
 *
 * @throws ScriptHutError `config_invalid` whose message lists every issue (one per line) and whose
 *   `issues` holds them.
 */
export function parseConfigText(
  text: string,
  fileName = 'scripthut.yaml',
  options: ValidateOptions = {},
): { config: ScriptHutConfig; warnings: Issue[] } {
  const result = validateConfigText(text, fileName, options);
  if (!result.config) throw configInvalidError(fileName, result.issues);
  return { config: result.config, warnings: result.warnings };
}

/** The first of ./scripthut.yaml, ./scripthut.yml that exists in `cwd` (absolute path), if any. */
export function findConfigFile(cwd: string = process.cwd()): string | undefined {
  for (const name of CONFIG_FILE_NAMES) {
    const p = resolve(cwd, name);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return undefined;
}

/**
 * The embedded default configuration used when no file is found: one `local` backend and a `demo`
 * workflow (prepare → work.1..work.4 → report, with a `work.*` wildcard dependency).
 */
export function defaultConfig(options: ValidateOptions = {}): ScriptHutConfig {
  return parseConfigText(DEFAULT_CONFIG_YAML, '<default config>', { ...options, checkFiles: false }).config;
}

/**
 * Loads the configuration. Lookup: `options.path` (must exist, else `config_not_found`), then
 * `./scripthut.yaml`, then `./scripthut.yml`; if none exists, the embedded default
 * ({@link defaultConfig}) with `source: 'default'`.
 *
 * @throws ScriptHutError `config_not_found` (explicit path missing) or `config_invalid` (all issues).
 * @example
 * ```ts
 * const loaded = await loadConfig({ path: args.config });
 * if (loaded.source === 'file') console.log(`using ${loaded.path}`);
 * for (const w of loaded.warnings) console.warn(formatIssue(w));
 * ```
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const home = options.homeDir ?? homedir();
  let file: string | undefined;
  if (options.path !== undefined) {
    file = resolve(cwd, expandHome(options.path, home));
    if (!existsSync(file) || !statSync(file).isFile())
      throw new ScriptHutError('config_not_found', `config file not found: ${options.path}`, {
        details: { path: file },
      });
  } else file = findConfigFile(cwd);
  const base = options.backends ?? installed();
  const backends = options.plugins?.length
    ? await loadBackendPlugins(base, options.plugins, file === undefined ? cwd : dirname(file))
    : base;
  if (file === undefined)
    return { source: 'default', config: defaultConfig({ ...options, backends }), warnings: [], backends };
  const text = await readFile(file, 'utf8');
  const rel = relative(cwd, file);
  const display = rel.startsWith('..') || isAbsolute(rel) ? file : rel;
  const { config, warnings } = parseConfigText(text, display, { ...options, backends });
  return { source: 'file', path: file, config, warnings, backends };
}
