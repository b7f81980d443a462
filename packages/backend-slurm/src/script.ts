/**
 * The Slurm job script: `#SBATCH` directives above the shared body from `@scripthut/core`.
 */
import { buildJobScript, jobNameFor, type SubmitRequest } from '@scripthut/core';

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
  lines.push(d('output', resolve(t.outputFile ?? request.stdoutPath), 'output file'));
  lines.push(d('error', resolve(t.errorFile ?? request.stderrPath), 'error file'));
  return lines;
}

/** The complete job script of a request (shebang, directives, shared body with exit marker). */
export function renderSlurmScript(request: SubmitRequest, options: SlurmScriptOptions = {}): string {
  const directives = slurmDirectives(request, options);
  try {
    return buildJobScript({
      taskId: request.taskId,
      taskName: request.task.name,
      command: request.task.command,
      workingDir: request.workingDir,
      env: request.env,
      secretEnvNames: request.secretEnvNames,
      extraInit: request.extraInit,
      exitMarkerPath: options.exitMarkerPath ?? null,
      loginShell: options.loginShell ?? false,
      directives,
    });
  } catch (e) {
    throw new ScriptRenderError(e instanceof Error ? e.message : String(e));
  }
}
