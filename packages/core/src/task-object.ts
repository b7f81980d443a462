/**
 * One task object of a task document (see `task-json-reference.md`): its fields checked, defaults
 * applied and converted into a {@link TaskSpec} whose dependencies are still unresolved patterns.
 * What concerns the document as a whole (JSON syntax, the top level, ids across tasks, dependency
 * resolution and cycles) is in `task-json.ts`.
 */
import { CACHE_TASK_FIELDS, parseCacheFields } from './cache/fields.js';
import type { TaskSpec } from './domain.js';
import { imageReferenceProblem } from './image-ref.js';
import { isReservedEnvName, RESERVED_ENV_PREFIX } from './script.js';
import { NO_ENV_VARS } from './shared-empty.js';
import { isValidEnvName } from './shell.js';
import {
  CLUSTERS_RE,
  CONSTRAINT_RE,
  EXCLUSIVE_MODES,
  isExclusiveMode,
  MAX_EXTRA_DIRECTIVES,
  POLICY_NAME_RE,
} from './site-policy.js';
import {
  normalizeMemory,
  parseGres,
  parseMemoryMiB,
  parseTimeLimitSeconds,
  unicodeProblem,
} from './task-values.js';

/** Every field a task object of the task JSON may hold (`dependencies` is an alias of `deps`). */
export const TASK_JSON_FIELDS = [
  'id',
  'name',
  'command',
  'working_dir',
  'partition',
  'cpus',
  'memory',
  'time_limit',
  'gres',
  'image',
  'deps',
  'dependencies',
  'output_file',
  'error_file',
  'environment',
  'env_vars',
  'generates_source',
  'qos',
  'constraint',
  'reservation',
  'exclusive',
  'clusters',
  'extra_directives',
  ...CACHE_TASK_FIELDS,
] as const;

const KNOWN_FIELDS: ReadonlySet<string> = new Set(TASK_JSON_FIELDS);

interface StrOpts {
  required?: boolean;
  multiline?: boolean;
  nullable?: boolean;
}
const NO_OPTS: StrOpts = {};
const REQUIRED: StrOpts = { required: true };
const REQUIRED_MULTILINE: StrOpts = { required: true, multiline: true };
const NULLABLE: StrOpts = { nullable: true };

/**
 * Env rules (`env`, `env_groups`) are resolved by the runtime when a run is created, from the
 * workflow's task file and scripthut.yaml; it takes them out before calling the parser. Anywhere
 * else (a generates_source document) they are refused rather than silently dropped.
 */
export const ENV_RULES_NOT_HERE =
  "env rules are applied when a run is created (from the workflow's task file and scripthut.yaml); tasks added by generates_source cannot carry them";

// Control characters (everything below 0x20 and DEL). Single-line fields must not contain them:
// they end up in scheduler directives and file names.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** How a JSON value is named in an error message (`null`, `an array`, `string "x"`...). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * Checks one task object and applies the defaults. Every problem is reported through `err` (and
 * notes through `warn`) with a path below `label` (e.g. `tasks[3] (id "x").memory`); `deps` is left
 * empty and `depPatterns` holds the dependencies as written. Returns `undefined` when `id`, `name`
 * or `command` is unusable; the caller drops the task whenever `err` was called.
 */
export function validateTaskObject(
  t: Record<string, unknown>,
  label: string,
  knownEnvs: ReadonlySet<string>,
  err: (path: string, message: string) => void,
  warn: (path: string, message: string) => void,
): TaskSpec | undefined {
  const p = (field: string) => `${label}.${field}`;

  for (const key in t) {
    if (key === 'env') err(p(key), ENV_RULES_NOT_HERE);
    else if (!KNOWN_FIELDS.has(key)) warn(p(key), `unknown field "${key}" (ignored)`);
  }

  const str = (field: string, opts: StrOpts = NO_OPTS) => {
    const v = t[field];
    if (v === undefined || (v === null && opts.nullable)) {
      if (opts.required) err(p(field), 'is required');
      return undefined;
    }
    if (typeof v !== 'string') {
      err(p(field), `must be a string, got ${describe(v)}`);
      return undefined;
    }
    if (opts.required && v.trim() === '') {
      err(p(field), 'must not be empty');
      return undefined;
    }
    if (v.includes('\0')) {
      err(p(field), 'must not contain a NUL byte');
      return undefined;
    }
    const unicode = unicodeProblem(v);
    if (unicode) {
      err(p(field), unicode);
      return undefined;
    }
    if (!opts.multiline && CONTROL.test(v)) {
      err(p(field), 'must not contain control characters (newlines, tabs...)');
      return undefined;
    }
    return v;
  };

  const id = str('id', REQUIRED);
  if (id !== undefined && id.length > 200) err(p('id'), 'must be at most 200 characters');
  const name = str('name', REQUIRED);
  const command = str('command', REQUIRED_MULTILINE);
  const workingDir = str('working_dir') ?? '~';
  if (t.working_dir !== undefined && workingDir.trim() === '') err(p('working_dir'), 'must not be empty');
  const partition = str('partition') ?? null;
  if (partition !== null && !/^[A-Za-z0-9_.,:+@-]+$/.test(partition))
    err(p('partition'), `invalid partition name ${JSON.stringify(partition)}`);

  let cpus = 1;
  if (t.cpus !== undefined) {
    const v = t.cpus;
    const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
      err(p('cpus'), `must be a positive integer, got ${describe(v)}`);
    } else {
      if (typeof v === 'string') warn(p('cpus'), `string ${JSON.stringify(v)} converted to the integer ${n}`);
      cpus = n;
    }
  }

  let memory = '4G';
  let memoryMiB = 4096;
  if (t.memory !== undefined) {
    const v = typeof t.memory === 'number' ? String(t.memory) : t.memory;
    const mib = typeof v === 'string' ? parseMemoryMiB(v) : null;
    if (mib === null) {
      err(p('memory'), `invalid memory ${describe(t.memory)} (expected e.g. "4G", "500M", "2048")`);
    } else {
      memory = normalizeMemory(v as string, mib);
      memoryMiB = mib;
    }
  }

  let timeLimit = '1:00:00';
  let timeLimitSeconds = 3600;
  if (t.time_limit !== undefined) {
    const v = t.time_limit;
    const secs = typeof v === 'string' ? parseTimeLimitSeconds(v) : null;
    if (secs === null) {
      err(
        p('time_limit'),
        `invalid time limit ${describe(v)} (expected [D-]HH:MM:SS, MM:SS, MM, D-HH or D-HH:MM)`,
      );
    } else {
      timeLimit = (v as string).trim();
      timeLimitSeconds = secs;
    }
  }

  let gres: string | null = null;
  if (t.gres !== undefined && t.gres !== null) {
    const v = t.gres;
    if (typeof v !== 'string' || parseGres(v) === null) {
      err(p('gres'), `invalid gres ${describe(v)} (expected name[:type]:count, e.g. "gpu:2")`);
    } else gres = v.trim();
  }

  const image = str('image', NULLABLE) ?? null;
  if (image !== null) {
    const problem = imageReferenceProblem(image);
    if (problem) err(p('image'), `image ${JSON.stringify(image)} ${problem}`);
  }
  const outputFile = str('output_file', NULLABLE) ?? null;
  const errorFile = str('error_file', NULLABLE) ?? null;
  const generatesSource = str('generates_source', NULLABLE) ?? null;
  if (generatesSource !== null && generatesSource.trim() === '')
    err(p('generates_source'), 'must not be empty');

  const site: Pick<
    TaskSpec,
    'qos' | 'constraint' | 'reservation' | 'exclusive' | 'clusters' | 'extraDirectives'
  > = {};
  const policyText = (field: string, re: RegExp, what: string): string | null | undefined => {
    const v = str(field, NULLABLE);
    if (v === undefined) return t[field] === null ? null : undefined;
    if (!re.test(v)) {
      err(p(field), `invalid ${what} ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  };
  const qos = policyText('qos', POLICY_NAME_RE, 'QOS name');
  if (qos !== undefined) site.qos = qos;
  const constraint = policyText(
    'constraint',
    CONSTRAINT_RE,
    'constraint (node features joined by & | , with [] () and *count, e.g. "gpu&a100")',
  );
  if (constraint !== undefined) site.constraint = constraint;
  const reservation = policyText('reservation', POLICY_NAME_RE, 'reservation name');
  if (reservation !== undefined) site.reservation = reservation;
  const clusters = policyText('clusters', CLUSTERS_RE, 'cluster list (names separated by commas)');
  if (clusters !== undefined) site.clusters = clusters;
  if (t.exclusive !== undefined) {
    const v = t.exclusive;
    if (v === null || isExclusiveMode(v)) site.exclusive = v;
    else
      err(
        p('exclusive'),
        `must be true, false or one of ${EXCLUSIVE_MODES.map((m) => `"${m}"`).join(', ')}, got ${describe(v)}`,
      );
  }
  if (t.extra_directives !== undefined && t.extra_directives !== null) {
    const v = t.extra_directives;
    if (!Array.isArray(v)) err(p('extra_directives'), `must be an array of strings, got ${describe(v)}`);
    else if (v.length > MAX_EXTRA_DIRECTIVES)
      err(p('extra_directives'), `at most ${MAX_EXTRA_DIRECTIVES} entries, got ${v.length}`);
    else {
      const list: string[] = [];
      v.forEach((d, i) => {
        const dp = `${p('extra_directives')}[${i}]`;
        if (typeof d !== 'string') err(dp, `must be a string, got ${describe(d)}`);
        else if (CONTROL.test(d) || d.includes('\0'))
          err(dp, 'must not contain control characters (newlines, tabs...)');
        else if (!/^-/.test(d.trim()) || d.trim().length > 1024)
          err(
            dp,
            `must be one scheduler option starting with "-" (e.g. "--mail-type=END"), got ${JSON.stringify(d)}`,
          );
        else list.push(d.trim());
      });
      site.extraDirectives = list;
    }
  }

  const cacheFields = parseCacheFields(t, p, err);

  const environment = str('environment', NULLABLE) ?? null;
  if (environment !== null && !knownEnvs.has(environment)) {
    const list = [...knownEnvs];
    err(
      p('environment'),
      `unknown environment ${JSON.stringify(environment)}${list.length ? ` (configured: ${list.join(', ')})` : ' (no environments are configured)'}`,
    );
  }

  const envVars: Record<string, string> = {};
  if (t.env_vars !== undefined && t.env_vars !== null) {
    const v = t.env_vars;
    if (typeof v !== 'object' || Array.isArray(v)) {
      err(p('env_vars'), `must be an object of name → string, got ${describe(v)}`);
    } else {
      for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
        const kp = `${label}.env_vars.${key}`;
        if (!isValidEnvName(key)) {
          err(kp, `invalid environment variable name ${JSON.stringify(key)}`);
          continue;
        }
        if (isReservedEnvName(key)) {
          err(kp, `${RESERVED_ENV_PREFIX}* names are reserved for ScriptHut's job script`);
          continue;
        }
        if (key.startsWith('SCRIPTHUT_')) {
          warn(kp, `SCRIPTHUT_* variables are set by ScriptHut and cannot be overridden (ignored)`);
          continue;
        }
        if (typeof value === 'string') {
          const unicode = unicodeProblem(value);
          if (value.includes('\0')) err(kp, 'must not contain a NUL byte');
          else if (unicode) err(kp, unicode);
          else envVars[key] = value;
        } else if (typeof value === 'number' || typeof value === 'boolean') {
          envVars[key] = String(value);
          warn(kp, `${typeof value} ${JSON.stringify(value)} converted to the string "${String(value)}"`);
        } else {
          err(kp, `must be a string, got ${describe(value)}`);
        }
      }
    }
  }

  let depPatterns: string[] = [];
  const depField = t.deps !== undefined ? 'deps' : 'dependencies';
  if (t.deps !== undefined && t.dependencies !== undefined) {
    err(p('dependencies'), 'use either "deps" or "dependencies", not both');
  }
  const rawDeps = t[depField];
  if (rawDeps !== undefined && rawDeps !== null) {
    if (!Array.isArray(rawDeps)) err(p(depField), `must be an array of task ids, got ${describe(rawDeps)}`);
    else {
      rawDeps.forEach((d, i) => {
        if (typeof d !== 'string' || d === '')
          err(`${p(depField)}[${i}]`, `must be a task id, got ${describe(d)}`);
        else if (unicodeProblem(d)) err(`${p(depField)}[${i}]`, unicodeProblem(d)!);
        else depPatterns.push(d);
      });
      // Exactly sized (push leaves room for 17 ids: ~150 bytes per task of a large run).
      depPatterns = depPatterns.length > 1 ? [...new Set(depPatterns)] : depPatterns.slice();
    }
  }

  if (id === undefined || name === undefined || command === undefined) return undefined;
  return {
    id,
    name,
    command,
    workingDir,
    partition,
    cpus,
    memory,
    memoryMiB,
    timeLimit,
    timeLimitSeconds,
    gres,
    image,
    deps: [],
    depPatterns,
    outputFile,
    errorFile,
    environment,
    envVars: Object.keys(envVars).length ? envVars : NO_ENV_VARS,
    generatesSource,
    ...site,
    ...cacheFields,
  };
}
