/**
 * The PBS job script: `#PBS` directives (Torque `nodes=…:ppn=…` or PBS Pro `select=…` resources)
 * above the shared body from `@scripthut/core`.
 */
import { jobNameFor, type SubmitRequest } from '@scripthut/core';
import { renderSchedulerScript } from '@scripthut/ssh';
import { formatWalltime, gpuCountFromGres, type PbsFlavour, toPbsMemory } from './parse.js';

/** Raised when a request cannot be turned into a safe job script (the task fails, not the batch). */
export class ScriptRenderError extends Error {
  override name = 'ScriptRenderError';
}

/** Tags are job names and marker file names: a short safe alphabet (Torque keeps 15 characters). */
export const TAG_RE = /^[A-Za-z][A-Za-z0-9_-]{0,14}$/;

const WORD = /^[A-Za-z0-9_.@+-]+$/;
const PATH = /^[A-Za-z0-9_@%+=,./~ -]+$/;

/** Options of the PBS script that come from the backend configuration. */
export interface PbsScriptOptions {
  flavour: PbsFlavour;
  /** The backend's queue; overrides the task's partition. */
  queue?: string | null;
  account?: string | null;
  loginShell?: boolean;
  /** Exit-code marker file (`<markerDir>/<tag>.rc`); may start with `~`. */
  exitMarkerPath?: string | null;
  /** Resolves `~`/relative log paths to absolute ones (qsub does not expand `~`). */
  resolvePath?: (path: string) => string;
}

function word(value: string, what: string): string {
  if (!WORD.test(value)) throw new ScriptRenderError(`invalid ${what} for PBS: ${JSON.stringify(value)}`);
  return value;
}

/**
 * A path on a `#PBS -o/-e` line. qsub reads `host:path` and splits directive arguments on blanks
 * unless quoted, so paths are limited to a safe alphabet (no `:`, quotes, `$` or newlines) and put
 * in double quotes when they contain a space.
 */
export function pbsPath(value: string, what: string): string {
  if (!PATH.test(value))
    throw new ScriptRenderError(
      `${what} contains characters PBS cannot take in a directive: ${JSON.stringify(value)}`,
    );
  return value.includes(' ') ? `"${value}"` : value;
}

/** The `#PBS` lines of a request. */
export function pbsDirectives(request: SubmitRequest, options: PbsScriptOptions): string[] {
  const t = request.task;
  if (!TAG_RE.test(request.tag))
    throw new ScriptRenderError(`invalid job tag: ${JSON.stringify(request.tag)}`);
  if (!Number.isInteger(t.cpus) || t.cpus < 1) throw new ScriptRenderError(`invalid cpus: ${t.cpus}`);
  const resolve = options.resolvePath ?? ((p: string) => p);
  const mem = toPbsMemory(t.memory) ?? (t.memoryMiB > 0 ? `${t.memoryMiB}mb` : null);
  if (!mem) throw new ScriptRenderError(`invalid memory: ${JSON.stringify(t.memory)}`);
  if (!Number.isFinite(t.timeLimitSeconds) || t.timeLimitSeconds <= 0)
    throw new ScriptRenderError(`invalid time limit: ${JSON.stringify(t.timeLimit)}`);
  const walltime = formatWalltime(t.timeLimitSeconds);
  const gpus = gpuCountFromGres(t.gres);
  const lines = [`#PBS -N ${jobNameFor(request.tag, t.name)}`];
  const queue = options.queue || t.partition;
  if (queue) lines.push(`#PBS -q ${word(queue, 'queue')}`);
  if (options.account) lines.push(`#PBS -A ${word(options.account, 'account')}`);
  if (options.flavour === 'torque') {
    lines.push(`#PBS -l nodes=1:ppn=${t.cpus}${gpus ? `:gpus=${gpus}` : ''},mem=${mem},walltime=${walltime}`);
  } else {
    lines.push(`#PBS -l select=1:ncpus=${t.cpus}:mem=${mem}${gpus ? `:ngpus=${gpus}` : ''}`);
    lines.push(`#PBS -l walltime=${walltime}`);
  }
  lines.push(`#PBS -o ${pbsPath(resolve(t.outputFile ?? request.stdoutPath), 'output file')}`);
  lines.push(`#PBS -e ${pbsPath(resolve(t.errorFile ?? request.stderrPath), 'error file')}`);
  // PBS Pro: write stdout/stderr straight to their final paths while the job runs (`d`), instead
  // of spooling them on the execution host and copying them at the end, so live logs are not
  // empty. Torque's -k has no `d` (it would keep the files in the execution host's home).
  if (options.flavour === 'pro') lines.push('#PBS -k oed');
  return lines;
}

/** The complete job script of a request (shebang, directives, shared body with exit marker). */
export function renderPbsScript(request: SubmitRequest, options: PbsScriptOptions): string {
  return renderSchedulerScript(
    request,
    pbsDirectives(request, options),
    options,
    (message) => new ScriptRenderError(message),
  );
}
