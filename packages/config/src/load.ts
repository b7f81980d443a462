/**
 * Loading and validating scripthut.yaml: YAML parsing with positions, schema validation, cross-field
 * checks, `~` expansion of local paths, derived defaults, and the embedded default configuration.
 *
 * This module finds, reads and validates the file and locates every issue in it; the cross-field
 * checks are in `cross-field-checks.ts` (and `env-checks.ts`), the defaults and `~` expansion of
 * the validated config in `finish-config.ts`.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { type BackendRegistry, type Issue, ScriptHutError } from '@scripthut/core';
import { type Document, LineCounter, parseDocument } from 'yaml';
import { crossFieldIssues, nulByteIssues, type RawIssue } from './cross-field-checks.js';
import { DEFAULT_CONFIG_YAML } from './default-config.js';
import { envCrossFieldIssues, envWarnings } from './env-checks.js';
import { expandHome, fileWarnings, finishConfig } from './finish-config.js';
import { installedBackendRegistry } from './installed-backends.js';
import { locate, type Position } from './locate.js';
import { configErrorMap } from './messages.js';
import { loadBackendPlugins } from './plugins.js';
import { ConfigFileSchema, configFileSchemaFor } from './schema.js';
import { formatPath } from './suggest.js';
import type { BackendConfig, ScriptHutConfig } from './types.js';

export { isLoopbackHost } from './cross-field-checks.js';
export { expandHome, isUrl } from './finish-config.js';

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

let installedRegistry: BackendRegistry | undefined;
/** The installed backend types (one registry, never changed). */
function installed(): BackendRegistry {
  installedRegistry ??= installedBackendRegistry();
  return installedRegistry;
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

  const config = finishConfig(parsed.data, home);
  config.backends.forEach((b, index) => {
    backendOrigins.set(b, {
      file: fileName,
      index,
      locate: (sub) => locate(doc, lc, ['backends', index, ...sub]),
    });
  });
  const warnings = [
    ...yamlWarnings,
    ...[...fileWarnings(config, options.checkFiles ?? true), ...envWarnings(raw)].map((w) =>
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
