/**
 * Site-policy settings of batch jobs (QOS, node features, reservation, exclusive nodes, clusters,
 * further scheduler options): their syntax, how a task overrides its backend, and which Slurm
 * options `extra_directives` may carry. Values that pass these checks are words or expressions that
 * cannot be read as another option; they are still quoted when written into a directive.
 */
import type { ExclusiveMode, SitePolicy, TaskSpec } from './domain.js';

/** A QOS or reservation name: a word that cannot be read as an option. */
export const POLICY_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:+@-]{0,255}$/;
/** A node-feature expression (`gpu`, `a100&ib`, `[rack1*2&rack2*4]`, `(a|b)`), never starting with `-`. */
export const CONSTRAINT_RE = /^(?!-)[A-Za-z0-9_.:,&|*()[\]=@+-]{1,1024}$/;
/** A comma-separated list of cluster names. */
export const CLUSTERS_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(,[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;
/** Accepted string forms of `exclusive` (besides `true`/`false`). */
export const EXCLUSIVE_MODES = ['user', 'mcs', 'topo'] as const;
/** At most this many `extra_directives` per task or backend. */
export const MAX_EXTRA_DIRECTIVES = 64;

/** True for `true`, `false` and the {@link EXCLUSIVE_MODES}. */
export function isExclusiveMode(value: unknown): value is ExclusiveMode {
  return typeof value === 'boolean' || (EXCLUSIVE_MODES as readonly unknown[]).includes(value);
}

/** sbatch options ScriptHut writes itself or that break its model, with what to use instead. */
const SBATCH_OWNED: Record<string, string> = {
  'job-name': 'ScriptHut names jobs after their tag',
  output: 'use the task’s output_file',
  error: 'use the task’s error_file',
  comment: 'ScriptHut sets the comment to the task name',
  parsable: 'ScriptHut sets it on the sbatch command line',
  wrap: 'the job script is ScriptHut’s',
  array: 'ScriptHut makes job arrays itself (backend or workflow `array: auto`, see docs/arrays.md)',
  wait: 'sbatch would block until the job ends',
  'test-only': 'sbatch would create no job',
  partition: 'use the task’s partition',
  account: 'use the backend’s account',
  'cpus-per-task': 'use the task’s cpus',
  mem: 'use the task’s memory',
  'mem-per-cpu': 'use the task’s memory (--mem and --mem-per-cpu exclude each other)',
  'mem-per-gpu': 'use the task’s memory (--mem and --mem-per-gpu exclude each other)',
  time: 'use the task’s time_limit',
  gres: 'use the task’s gres',
  qos: 'use the qos field',
  constraint: 'use the constraint field',
  reservation: 'use the reservation field',
  exclusive: 'use the exclusive field',
  clusters: 'use the clusters field (ScriptHut must know the cluster to follow the job)',
  cluster: 'use the clusters field (ScriptHut must know the cluster to follow the job)',
  uid: 'jobs run as the SSH user',
  gid: 'jobs run as the SSH user',
};

/** A parsed Slurm long option of `extra_directives`. */
export interface SbatchOption {
  name: string;
  /** `null` for a flag without `=value`. */
  value: string | null;
}

/**
 * Parse one `extra_directives` entry for Slurm: `--name` or `--name=value` (long options only; the
 * value may not hold a newline, carriage return or NUL). Returns the option, or a message saying
 * what is wrong.
 *
 * @example
 * ```ts
 * parseSbatchDirective('--mail-type=END,FAIL') // => { name: 'mail-type', value: 'END,FAIL' }
 * parseSbatchDirective('--output=x')           // => 'option --output is not allowed here: use the task’s output_file'
 * ```
 */
export function parseSbatchDirective(directive: string): SbatchOption | string {
  const d = directive.trim();
  if (/[\n\r\0]/.test(d)) return 'must be one line';
  const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(d);
  if (!m) {
    return /^-[A-Za-z]/.test(d) && !d.startsWith('--')
      ? `use the long form of the option (--name or --name=value), got ${JSON.stringify(d)}`
      : `must be an sbatch option --name or --name=value, got ${JSON.stringify(d)}`;
  }
  const name = m[1]!;
  const owned = SBATCH_OWNED[name];
  if (owned) return `option --${name} is not allowed here: ${owned}`;
  return { name, value: m[2] ?? null };
}

/**
 * The policy that applies to a task: each of its own values (even `null`/`false`) replaces the
 * backend's, `extraDirectives` are the backend's followed by the task's.
 */
export function effectiveSitePolicy(backend: SitePolicy, task: Pick<TaskSpec, keyof SitePolicy>): SitePolicy {
  const pick = <K extends 'qos' | 'constraint' | 'reservation' | 'exclusive' | 'clusters'>(k: K) =>
    task[k] !== undefined ? task[k] : (backend[k] ?? null);
  return {
    qos: pick('qos'),
    constraint: pick('constraint'),
    reservation: pick('reservation'),
    exclusive: pick('exclusive'),
    clusters: pick('clusters'),
    extraDirectives: [...(backend.extraDirectives ?? []), ...(task.extraDirectives ?? [])],
  };
}
