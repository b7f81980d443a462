/**
 * The Slurm job script: `#SBATCH` directives above the shared body from `@scripthut/core`.
 */
import {
  effectiveSitePolicy,
  jobNameFor,
  parseSbatchDirective,
  type SitePolicy,
  type SubmitRequest,
} from '@scripthut/core';
import { renderSchedulerScript } from '@scripthut/ssh';

/** Raised when a request cannot be turned into a safe job script (the task fails, not the batch). */
export class ScriptRenderError extends Error {
  override name = 'ScriptRenderError';
}

const PLAIN = /^[A-Za-z0-9_@%+=:,./~-]+$/;

/**
 * Quote a value for an `#SBATCH` line. sbatch's own tokenizer groups characters with `"…"` or `'…'`,
 * honours `\` escapes and treats an unquoted `#` as the start of a comment, so anything beyond a
 * plain word is wrapped in double quotes with `\` and `"` escaped. Newlines, carriage returns and NUL
 * cannot be expressed and are rejected.
 */
export function sbatchQuote(value: string, what = 'value', alwaysQuote = false): string {
  if (/[\n\r\0]/.test(value))
    throw new ScriptRenderError(`${what} cannot contain a newline: ${JSON.stringify(value)}`);
  if (!alwaysQuote && value !== '' && PLAIN.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Slurm tags are short names we also use as file names: keep them to a safe alphabet. */
export const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Options of the Slurm script that come from the backend configuration. */
export interface SlurmScriptOptions {
  account?: string | null;
  loginShell?: boolean;
  /** Exit-code marker file (`<markerDir>/<tag>.rc`); may start with `~`. */
  exitMarkerPath?: string | null;
  /** Resolves `~`/relative log paths to absolute ones (sbatch does not expand `~`). */
  resolvePath?: (path: string) => string;
  /** The backend's site policy (qos, constraint, …); a task's own values override it. */
  policy?: SitePolicy;
}

/**
 * A log path for `--output`/`--error`. sbatch expands `%j`, `%x`, `%u`… in these paths, so a `%` is
 * doubled (`%%` is a literal `%`): Slurm writes exactly the path ScriptHut reads. A backslash would
 * make Slurm drop the backslashes and skip the expansion: such paths are refused.
 */
export function sbatchLogPath(path: string, what: string): string {
  if (path.includes('\\'))
    throw new ScriptRenderError(
      `${what} cannot contain a backslash (Slurm would write to another path): ${JSON.stringify(path)}`,
    );
  return sbatchQuote(path.replace(/%/g, '%%'), what);
}

/** The `#SBATCH` lines of a site policy (qos, constraint, reservation, exclusive, clusters, extras). */
export function policyDirectives(policy: SitePolicy): string[] {
  const lines: string[] = [];
  const d = (opt: string, value: string, what: string) => `#SBATCH --${opt}=${sbatchQuote(value, what)}`;
  if (policy.qos) lines.push(d('qos', policy.qos, 'qos'));
  if (policy.clusters) lines.push(d('clusters', policy.clusters, 'clusters'));
  if (policy.constraint) lines.push(d('constraint', policy.constraint, 'constraint'));
  if (policy.reservation) lines.push(d('reservation', policy.reservation, 'reservation'));
  if (policy.exclusive === true) lines.push('#SBATCH --exclusive');
  else if (typeof policy.exclusive === 'string') lines.push(d('exclusive', policy.exclusive, 'exclusive'));
  (policy.extraDirectives ?? []).forEach((raw, i) => {
    const parsed = parseSbatchDirective(raw);
    if (typeof parsed === 'string') throw new ScriptRenderError(`extra_directives[${i}]: ${parsed}`);
    lines.push(
      parsed.value === null
        ? `#SBATCH --${parsed.name}`
        : `#SBATCH --${parsed.name}=${sbatchQuote(parsed.value, `extra_directives[${i}]`)}`,
    );
  });
  return lines;
}

/** The `#SBATCH` lines of a request, in the documented order. */
export function slurmDirectives(request: SubmitRequest, options: SlurmScriptOptions = {}): string[] {
  const t = request.task;
  if (!TAG_RE.test(request.tag))
    throw new ScriptRenderError(`invalid job tag: ${JSON.stringify(request.tag)}`);
  const resolve = options.resolvePath ?? ((p: string) => p);
  const d = (opt: string, value: string, what: string) => `#SBATCH --${opt}=${sbatchQuote(value, what)}`;
  if (!/^\d+$/.test(String(t.cpus)) || t.cpus < 1) throw new ScriptRenderError(`invalid cpus: ${t.cpus}`);
  const lines = [
    d('job-name', jobNameFor(request.tag, t.name), 'job name'),
    `#SBATCH --comment=${sbatchQuote(t.name, 'task name', true)}`,
  ];
  if (t.partition) lines.push(d('partition', t.partition, 'partition'));
  if (options.account) lines.push(d('account', options.account, 'account'));
  lines.push(`#SBATCH --cpus-per-task=${t.cpus}`);
  lines.push(d('mem', t.memory, 'memory'));
  lines.push(d('time', t.timeLimit, 'time limit'));
  if (t.gres) lines.push(d('gres', t.gres, 'gres'));
  lines.push(`#SBATCH --output=${sbatchLogPath(resolve(t.outputFile ?? request.stdoutPath), 'output file')}`);
  lines.push(`#SBATCH --error=${sbatchLogPath(resolve(t.errorFile ?? request.stderrPath), 'error file')}`);
  lines.push(...policyDirectives(effectiveSitePolicy(options.policy ?? {}, t)));
  return lines;
}

/** The complete job script of a request (shebang, directives, shared body with exit marker). */
export function renderSlurmScript(request: SubmitRequest, options: SlurmScriptOptions = {}): string {
  return renderSchedulerScript(
    request,
    slurmDirectives(request, options),
    options,
    (message) => new ScriptRenderError(message),
  );
}
