/**
 * Task JSON: parsing, defaults and validation of the document a workflow prints (see
 * `task-json-reference.md`). Everything is checked before anything is submitted and every problem
 * is reported at once, each with a path such as `tasks[3] (id "x").memory`.
 */
import { CACHE_TASK_FIELDS, parseCacheFields } from './cache/fields.js';
import type { TaskSpec } from './domain.js';
import { type Issue, ScriptHutError } from './errors.js';
import { imageReferenceProblem } from './image-ref.js';
import { isReservedEnvName, RESERVED_ENV_PREFIX } from './script.js';
import { isValidEnvName } from './shell.js';
import {
  CLUSTERS_RE,
  CONSTRAINT_RE,
  EXCLUSIVE_MODES,
  isExclusiveMode,
  MAX_EXTRA_DIRECTIVES,
  POLICY_NAME_RE,
} from './site-policy.js';

/** Options of {@link parseTaskDocument}. */
export interface ParseTaskDocumentOptions {
  /** Names of the configured environments; `environment` must be one of them. */
  knownEnvironments: readonly string[];
  /**
   * Ids of tasks already in the run (generates_source). New tasks may depend on them (exactly or
   * through wildcards) and must not reuse their ids.
   */
  existingTaskIds?: readonly string[];
  /** File name reported in issues (e.g. the generates_source path). */
  source?: string;
}

/** Result of {@link parseTaskDocument}: validated tasks (defaults applied) and non-fatal warnings. */
export interface ParsedTaskDocument {
  tasks: TaskSpec[];
  /** Optional top-level `title` of the object form. */
  title?: string;
  warnings: Issue[];
}

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

const KNOWN_TOP_LEVEL = new Set(['tasks', 'title']);

/**
 * Env rules (`env`, `env_groups`) are resolved by the runtime when a run is created, from the
 * workflow's task file and scripthut.yaml; it takes them out before calling the parser. Anywhere
 * else (a generates_source document) they are refused rather than silently dropped.
 */
const ENV_RULES_NOT_HERE =
  "env rules are applied when a run is created (from the workflow's task file and scripthut.yaml); tasks added by generates_source cannot carry them";

// Control characters (everything below 0x20 and DEL). Single-line fields must not contain them:
// they end up in scheduler directives and file names.
const CONTROL = /[\u0000-\u001f\u007f]/;

// ---------------------------------------------------------------------------------------------
// Field helpers
// ---------------------------------------------------------------------------------------------

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Index of the first lone UTF-16 surrogate in `text` (a string that is not valid Unicode: it cannot
 * be encoded as UTF-8 nor put in a URL), or -1 when the text is well formed.
 */
export function loneSurrogateIndex(text: string): number {
  const m = LONE_SURROGATE.exec(text);
  return m ? m.index : -1;
}

/** Why `text` is not valid Unicode text, or `null` (for error messages that name a field). */
export function unicodeProblem(text: string): string | null {
  const at = loneSurrogateIndex(text);
  if (at < 0) return null;
  const unit = text.charCodeAt(at).toString(16);
  return `must be valid Unicode text: contains a lone UTF-16 surrogate (\\u${unit}) at index ${at}`;
}

const MEMORY_RE = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?$/i;

/**
 * Parse a Slurm-style memory size into MiB. Accepts `K`, `M`, `G`, `T` suffixes (any case, optional
 * trailing `B`/`iB`); a bare number means MiB. Returns `null` when malformed or not positive.
 *
 * @example
 * ```ts
 * parseMemoryMiB('4G')    // 4096
 * parseMemoryMiB('500mb') // 500
 * parseMemoryMiB('2048')  // 2048
 * ```
 */
export function parseMemoryMiB(value: string): number | null {
  const m = MEMORY_RE.exec(value.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toUpperCase();
  const factor = unit === 'K' ? 1 / 1024 : unit === 'G' ? 1024 : unit === 'T' ? 1024 * 1024 : 1;
  const mib = Math.ceil(n * factor);
  return Number.isFinite(mib) && mib > 0 ? mib : null;
}

/** Normalise a memory size to Slurm syntax (`4G`, `500M`, `512K`); fractions become MiB. */
export function normalizeMemory(value: string, mib = parseMemoryMiB(value)): string {
  const m = MEMORY_RE.exec(value.trim());
  if (!m || mib === null) return value.trim();
  const unit = (m[2] ?? '').toUpperCase() || 'M';
  return /^\d+$/.test(m[1]!) ? `${Number(m[1])}${unit}` : `${mib}M`;
}

/**
 * Parse a Slurm time limit into seconds. Accepted forms: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`,
 * `D-HH:MM`, `D-HH:MM:SS`. Returns `null` when malformed or zero.
 *
 * @example
 * ```ts
 * parseTimeLimitSeconds('1:00:00')  // 3600
 * parseTimeLimitSeconds('2-12')     // 216000
 * parseTimeLimitSeconds('90')       // 5400
 * ```
 */
export function parseTimeLimitSeconds(value: string): number | null {
  const s = value.trim();
  let days = 0;
  let rest = s;
  const dash = s.indexOf('-');
  if (dash >= 0) {
    const d = s.slice(0, dash);
    if (!/^\d+$/.test(d)) return null;
    days = Number(d);
    rest = s.slice(dash + 1);
  }
  const parts = rest.split(':');
  if (parts.length === 0 || parts.length > 3 || parts.some((p) => !/^\d+$/.test(p))) return null;
  const nums = parts.map(Number);
  let seconds: number;
  if (dash >= 0) {
    // D-HH, D-HH:MM, D-HH:MM:SS
    const [h = 0, m = 0, sec = 0] = nums;
    if (m > 59 || sec > 59) return null;
    seconds = h * 3600 + m * 60 + sec;
  } else if (nums.length === 1) {
    seconds = nums[0]! * 60; // MM
  } else if (nums.length === 2) {
    const [m = 0, sec = 0] = nums;
    if (sec > 59) return null;
    seconds = m * 60 + sec; // MM:SS
  } else {
    const [h = 0, m = 0, sec = 0] = nums;
    if (m > 59 || sec > 59) return null;
    seconds = h * 3600 + m * 60 + sec;
  }
  const total = days * 86400 + seconds;
  return total > 0 && Number.isSafeInteger(total) ? total : null;
}

/**
 * Format seconds as a Slurm time limit: `HH:MM:SS`, or `D-HH:MM:SS` from one day.
 *
 * @example
 * ```ts
 * formatDuration(3600)   // '1:00:00'
 * formatDuration(93784)  // '1-02:03:04'
 * ```
 */
export function formatDuration(totalSeconds: number): string {
  const t = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(t / 86400);
  const h = Math.floor((t % 86400) / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  if (days > 0) return `${days}-${String(h).padStart(2, '0')}:${mm}:${ss}`;
  return `${h}:${mm}:${ss}`;
}

/** A parsed generic resource request. */
export interface Gres {
  name: string;
  type: string | null;
  count: number;
}

const GRES_PART = /^[A-Za-z0-9_.-]+$/;

/**
 * Parse a Slurm-style `gres` (`name[:type]:count`, e.g. `gpu:2`, `gpu:v100:1`). A bare name means
 * a count of 1. Returns `null` when malformed.
 */
export function parseGres(value: string): Gres | null {
  const parts = value.trim().split(':');
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => !GRES_PART.test(p))) return null;
  if (parts.length === 1) return /^\d+$/.test(parts[0]!) ? null : { name: parts[0]!, type: null, count: 1 };
  const last = parts[parts.length - 1]!;
  if (!/^\d+$/.test(last) || Number(last) < 1) return null;
  if (/^\d+$/.test(parts[0]!)) return null;
  return { name: parts[0]!, type: parts.length === 3 ? parts[1]! : null, count: Number(last) };
}

/** True when a dependency string is a wildcard pattern (contains `*`, `?` or `[`). */
export function isPattern(dep: string): boolean {
  return /[*?[]/.test(dep);
}

const regexCache = new Map<string, RegExp>();

/** `\uXXXX` escape of one UTF-16 code unit (inert anywhere in a RegExp). */
const unitEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * RegExp source of an fnmatch bracket expression body (after `!`/`^`): single characters and
 * `a-z` ranges, every character escaped. As in Python's fnmatch, a reversed range (`z-a`) is empty
 * and an empty class never matches (a negated empty class matches any character).
 */
function charClass(body: string, negate: boolean): string {
  let items = '';
  for (let k = 0; k < body.length; ) {
    const c = body[k]!;
    if (body[k + 1] === '-' && k + 2 < body.length) {
      const end = body[k + 2]!;
      if (c <= end) items += `${unitEscape(c)}-${unitEscape(end)}`;
      k += 3;
    } else {
      items += unitEscape(c);
      k++;
    }
  }
  if (items === '') return negate ? '.' : '(?!)';
  return `[${negate ? '^' : ''}${items}]`;
}

/** fnmatch-style pattern → anchored RegExp (`*` any run, `?` one char, `[...]`/`[!...]` classes). */
function patternToRegExp(pattern: string): RegExp {
  const cached = regexCache.get(pattern);
  if (cached) return cached;
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '!' || pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) {
        re += '\\[';
      } else {
        let body = pattern.slice(i + 1, j);
        let negate = false;
        if (body.startsWith('!') || body.startsWith('^')) {
          negate = true;
          body = body.slice(1);
        }
        re += charClass(body, negate);
        i = j;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  const compiled = new RegExp(`^${re}$`, 's');
  if (regexCache.size > 10_000) regexCache.clear();
  regexCache.set(pattern, compiled);
  return compiled;
}

/**
 * fnmatch semantics over the whole id: `*` matches any run of characters (dots included), `?` one
 * character, `[abc]`/`[a-z]`/`[!x]` one character of a class.
 *
 * @example
 * ```ts
 * matchesPattern('build.x', 'build.*') // true
 * matchesPattern('data.c', 'data.[ab]') // false
 * ```
 */
export function matchesPattern(id: string, pattern: string): boolean {
  return patternToRegExp(pattern).test(id);
}

/** Literal prefix of a pattern (before the first wildcard character). */
function literalPrefix(pattern: string): string {
  const i = pattern.search(/[*?[]/);
  return i < 0 ? pattern : pattern.slice(0, i);
}

/** Sorted id index for fast wildcard expansion (binary search on the literal prefix). */
class IdIndex {
  private readonly sorted: string[];
  constructor(ids: Iterable<string>) {
    this.sorted = [...new Set(ids)].sort();
  }
  match(pattern: string): string[] {
    const prefix = literalPrefix(pattern);
    const re = patternToRegExp(pattern);
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    for (let i = lo; i < this.sorted.length; i++) {
      const id = this.sorted[i]!;
      if (!id.startsWith(prefix)) break;
      if (re.test(id)) out.push(id);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Graph helpers (shared with the engine)
// ---------------------------------------------------------------------------------------------

/**
 * Find dependency cycles. `deps(id)` returns the ids a task depends on (only ids present in `ids`
 * are followed). Returns each cycle found as a path that starts and ends with the same id.
 * Iterative three-colour DFS: safe for 100,000-task documents.
 */
export function findCycles(ids: readonly string[], deps: (id: string) => readonly string[]): string[][] {
  const n = ids.length;
  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) index.set(ids[i]!, i);
  // Adjacency as integer lists (CSR) so the walk allocates nothing per node.
  const offsets = new Int32Array(n + 1);
  const edges: number[] = [];
  for (let i = 0; i < n; i++) {
    for (const d of deps(ids[i]!)) {
      const j = index.get(d);
      if (j !== undefined) edges.push(j);
    }
    offsets[i + 1] = edges.length;
  }
  const colour = new Uint8Array(n); // 0 = new, 1 = on stack, 2 = done
  const stackNode = new Int32Array(n);
  const stackNext = new Int32Array(n);
  const cycles: string[][] = [];
  for (let root = 0; root < n; root++) {
    if (colour[root] !== 0) continue;
    let sp = 0;
    stackNode[0] = root;
    stackNext[0] = offsets[root]!;
    colour[root] = 1;
    while (sp >= 0) {
      const node = stackNode[sp]!;
      const next = stackNext[sp]!;
      if (next >= offsets[node + 1]!) {
        colour[node] = 2;
        sp--;
        continue;
      }
      stackNext[sp] = next + 1;
      const dep = edges[next]!;
      const c = colour[dep];
      if (c === 0) {
        colour[dep] = 1;
        sp++;
        stackNode[sp] = dep;
        stackNext[sp] = offsets[dep]!;
      } else if (c === 1) {
        let start = sp;
        while (stackNode[start] !== dep) start--;
        const cycle: string[] = [];
        for (let k = start; k <= sp; k++) cycle.push(ids[stackNode[k]!]!);
        cycle.push(ids[dep]!);
        cycles.push(cycle);
      }
    }
  }
  return cycles;
}

// ---------------------------------------------------------------------------------------------
// Document parsing
// ---------------------------------------------------------------------------------------------

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function positionOf(text: string, message: string): { line?: number; column?: number } {
  const pos = /position (\d+)/.exec(message);
  if (pos) {
    const offset = Number(pos[1]);
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    return { line, column };
  }
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return { line: Number(lc[1]), column: Number(lc[2]) };
  return {};
}

function formatIssues(issues: readonly Issue[]): string {
  return issues
    .map((i) => {
      const where = i.file ? `${i.file}${i.line ? `:${i.line}${i.column ? `:${i.column}` : ''}` : ''}: ` : '';
      return `  - ${where}${i.path}: ${i.message}`;
    })
    .join('\n');
}

/**
 * Parse and validate a task document (object form `{"tasks": [...], "title"?}` or a bare array).
 *
 * Defaults are applied, wildcard dependencies are expanded (against the document's ids plus
 * `existingTaskIds`, excluding the task itself) and every error is collected. Unknown fields and
 * ignored values are returned as warnings.
 *
 * @throws ScriptHutError `task_json_invalid` listing every issue (also in `error.issues`).
 *
 * @example
 * ```ts
 * const { tasks, warnings } = parseTaskDocument(stdout, { knownEnvironments: ['python-ml'] });
 * ```
 */
export function parseTaskDocument(
  input: string | unknown,
  options: ParseTaskDocumentOptions,
): ParsedTaskDocument {
  const file = options.source;
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const err = (path: string, message: string, extra: Partial<Issue> = {}) =>
    errors.push({ path, message, severity: 'error', ...(file ? { file } : {}), ...extra });
  const warn = (path: string, message: string) =>
    warnings.push({ path, message, severity: 'warning', ...(file ? { file } : {}) });
  const fail = (): never => {
    const n = errors.length;
    throw new ScriptHutError(
      'task_json_invalid',
      `Invalid task JSON${file ? ` (${file})` : ''}: ${n} error${n === 1 ? '' : 's'}\n${formatIssues(errors)}`,
      { issues: [...errors, ...warnings] },
    );
  };

  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      err('(document)', `not valid JSON: ${message}`, positionOf(input, message));
      fail();
    }
  }

  let title: string | undefined;
  let rawTasks: unknown[];
  if (Array.isArray(doc)) rawTasks = doc;
  else if (doc !== null && typeof doc === 'object') {
    const obj = doc as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      if (key === 'env' || key === 'env_groups') err(key, ENV_RULES_NOT_HERE);
      else if (!KNOWN_TOP_LEVEL.has(key)) warn(key, `unknown top-level field "${key}" (ignored)`);
    }
    if (obj.title !== undefined) {
      if (typeof obj.title !== 'string')
        warn('title', `must be a string, got ${describe(obj.title)} (ignored)`);
      else if (unicodeProblem(obj.title)) warn('title', `${unicodeProblem(obj.title)} (ignored)`);
      else title = obj.title;
    }
    if (!Array.isArray(obj.tasks)) {
      err(
        'tasks',
        obj.tasks === undefined ? 'missing "tasks" array' : `must be an array, got ${describe(obj.tasks)}`,
      );
      fail();
    }
    rawTasks = obj.tasks as unknown[];
  } else {
    err('(document)', `expected an object with a "tasks" array or an array of tasks, got ${describe(doc)}`);
    fail();
  }

  const knownEnvs = new Set(options.knownEnvironments);
  const existing = options.existingTaskIds ?? [];
  const existingSet = new Set(existing);

  interface Draft {
    spec: TaskSpec;
    index: number;
  }
  const labelOf = (index: number) => {
    const raw = rawTasks[index];
    const rawId = raw && typeof raw === 'object' ? (raw as Record<string, unknown>).id : undefined;
    return typeof rawId === 'string' ? `tasks[${index}] (id ${JSON.stringify(rawId)})` : `tasks[${index}]`;
  };
  const drafts: Draft[] = [];

  for (let index = 0; index < rawTasks!.length; index++) {
    const raw = rawTasks![index];
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      err(labelOf(index), `a task must be an object, got ${describe(raw)}`);
      continue;
    }
    const t = raw as Record<string, unknown>;
    const p = (field: string) => `${labelOf(index)}.${field}`;
    const before = errors.length;

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
        if (typeof v === 'string')
          warn(p('cpus'), `string ${JSON.stringify(v)} converted to the integer ${n}`);
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
          const kp = `${labelOf(index)}.env_vars.${key}`;
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
        if (depPatterns.length > 1) depPatterns = [...new Set(depPatterns)];
      }
    }

    if (errors.length > before || id === undefined || name === undefined || command === undefined) continue;
    drafts.push({
      index,
      spec: {
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
        envVars,
        generatesSource,
        ...site,
        ...cacheFields,
      },
    });
  }

  // Ids: duplicates in the document and clashes with tasks already in the run.
  const firstIndex = new Map<string, number>();
  for (let index = 0; index < rawTasks!.length; index++) {
    const raw = rawTasks![index];
    const id = raw && typeof raw === 'object' ? (raw as Record<string, unknown>).id : undefined;
    if (typeof id !== 'string' || id === '') continue;
    const first = firstIndex.get(id);
    if (first !== undefined)
      err(`${labelOf(index)}.id`, `duplicate task id ${JSON.stringify(id)} (first used by tasks[${first}])`);
    else {
      firstIndex.set(id, index);
      if (existingSet.has(id))
        err(`${labelOf(index)}.id`, `task id ${JSON.stringify(id)} already exists in the run`);
    }
  }

  // Dependencies: exact ids and wildcard expansion.
  let allIds: Set<string> | Map<string, number> = firstIndex;
  if (existing.length) allIds = new Set<string>([...firstIndex.keys(), ...existing]);
  let index: IdIndex | null = null;
  for (const d of drafts) {
    const patterns = d.spec.depPatterns;
    if (
      patterns.length === 1 &&
      !isPattern(patterns[0]!) &&
      patterns[0] !== d.spec.id &&
      allIds.has(patterns[0]!)
    ) {
      d.spec.deps = [patterns[0]!];
      continue;
    }
    const resolved = new Set<string>();
    const depPath = `${labelOf(d.index)}.deps`;
    for (const dep of d.spec.depPatterns) {
      if (isPattern(dep)) {
        index ??= new IdIndex(allIds.keys());
        const matches = index.match(dep).filter((m) => m !== d.spec.id);
        if (matches.length === 0) err(depPath, `wildcard dependency ${JSON.stringify(dep)} matches no tasks`);
        for (const m of matches) resolved.add(m);
      } else if (dep === d.spec.id) {
        err(depPath, `task ${JSON.stringify(dep)} depends on itself`);
      } else if (!allIds.has(dep)) {
        err(depPath, `dependency ${JSON.stringify(dep)} is not a task id of this run`);
      } else resolved.add(dep);
    }
    d.spec.deps = [...resolved];
  }

  // Cycles (only among the document's tasks: existing tasks cannot depend on new ones).
  const byId = new Map(drafts.map((d) => [d.spec.id, d]));
  const cycles = findCycles(
    drafts.map((d) => d.spec.id),
    (id) => byId.get(id)?.spec.deps ?? [],
  );
  for (const cycle of cycles) {
    const d = byId.get(cycle[0]!)!;
    err(`${labelOf(d.index)}.deps`, `circular dependency detected: ${cycle.join(' -> ')}`);
  }

  if (errors.length) fail();
  return { tasks: drafts.map((d) => d.spec), ...(title !== undefined ? { title } : {}), warnings };
}
