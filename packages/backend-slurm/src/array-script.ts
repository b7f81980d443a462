/**
 * The Slurm array script: ONE `sbatch --array=0-(K-1)` job whose elements each run the script body
 * of their own task (command, working dir, environment, exit marker) — the same body a task submitted
 * alone runs. The body of element `i` travels shell-quoted in a `case` on `$SLURM_ARRAY_TASK_ID`
 * and is run with `eval`, so a task's text can never change what another element runs.
 *
 * Logs: `--output`/`--error` are `<linkDir>/<array tag>.%a.out|err`, and the submission program makes
 * each of these a symbolic link to the task's own log file before `sbatch`: Slurm itself writes
 * every element's stdout and stderr (its own messages too — time limit, out of memory) to the task's
 * files, exactly as for a task submitted alone.
 */
import {
  type ArrayScript,
  fitsInArrayScript,
  jobNameFor,
  MAX_ARRAY_ELEMENT_BYTES,
  MAX_ARRAY_ELEMENTS,
  renderArrayElements,
  type SubmitRequest,
} from '@scripthut/core';
import {
  ScriptRenderError,
  type SlurmScriptOptions,
  sbatchQuote,
  slurmDirectives,
  TAG_RE,
} from './script.js';

/** `#SBATCH` options that are per element (name, comment, logs) rather than shared by the array. */
const PER_ELEMENT = /^#SBATCH --(job-name|comment|output|error)=/;

/** Shared with every array script (`@scripthut/core`), re-exported for this package's callers. */
export { MAX_ARRAY_ELEMENT_BYTES, MAX_ARRAY_ELEMENTS };

/**
 * What the scheduler sees of a request: its shared `#SBATCH` lines and the login shell. Requests with
 * equal keys can share one array. `null` when the request cannot be in an array (too large, or its
 * directives cannot be rendered: it then fails alone, with its own error).
 */
export function slurmArrayKey(request: SubmitRequest, options: SlurmScriptOptions): string | null {
  if (!fitsInArrayScript(request)) return null;
  let lines: string[];
  try {
    lines = slurmDirectives(request, options);
  } catch {
    return null;
  }
  return JSON.stringify([options.loginShell ?? false, ...lines.filter((l) => !PER_ELEMENT.test(l))]);
}

/** The rendered array: the script sbatch gets, and the script stored with each task. */
export type SlurmArrayScript = ArrayScript;

/** Options of {@link renderSlurmArrayScript}. */
export interface SlurmArrayOptions extends SlurmScriptOptions {
  /** Exit marker of a task tag (may start with `~`). */
  markerPathOf: (tag: string) => string;
  /** Directory of the log links (absolute, or `~`-relative resolved by `resolvePath`). */
  linkDir: string;
  /** `%M`: most elements running at once; null for none. */
  throttle: number | null;
}

/**
 * Render the array job of `requests` (element `i` = `requests[i]`, all with the same
 * {@link slurmArrayKey}). Throws {@link ScriptRenderError} when a request cannot be rendered.
 */
export function renderSlurmArrayScript(
  requests: readonly SubmitRequest[],
  options: SlurmArrayOptions,
): SlurmArrayScript {
  const first = requests[0];
  if (!first?.array) throw new ScriptRenderError('an array needs at least one element with its placement');
  const tag = first.array.tag;
  if (!TAG_RE.test(tag)) throw new ScriptRenderError(`invalid array tag: ${JSON.stringify(tag)}`);
  const resolve = options.resolvePath ?? ((p: string) => p);
  const k = requests.length;
  const linkDir = resolve(options.linkDir).replace(/\/+$/, '');
  if (linkDir.includes('\\'))
    throw new ScriptRenderError(`log link dir cannot contain a backslash: ${linkDir}`);
  const logPattern = (ext: string) =>
    sbatchQuote(`${linkDir.replace(/%/g, '%%')}/${tag}.%a.${ext}`, 'log link path');
  const throttle =
    options.throttle !== null && Number.isInteger(options.throttle) && options.throttle > 0
      ? `%${options.throttle}`
      : '';
  const shared = slurmDirectives(first, options).filter((l) => !PER_ELEMENT.test(l));
  const head = [
    `#SBATCH --job-name=${sbatchQuote(jobNameFor(tag, `array${k}_${first.task.name}`), 'job name')}`,
    `#SBATCH --comment=${sbatchQuote(`ScriptHut array of ${k} tasks`, 'comment', true)}`,
    `#SBATCH --array=0-${k - 1}${throttle}`,
    ...shared,
    `#SBATCH --output=${logPattern('out')}`,
    `#SBATCH --error=${logPattern('err')}`,
  ];
  return renderArrayElements(requests, {
    tag,
    shebang: options.loginShell ? '#!/bin/bash -l' : '#!/bin/bash',
    head,
    indexVariable: 'SLURM_ARRAY_TASK_ID',
    linkDir,
    resolvePath: resolve,
    markerPathOf: options.markerPathOf,
    checkAlone: (r) => slurmDirectives(r, options),
    fail: (message) => new ScriptRenderError(message),
  });
}
