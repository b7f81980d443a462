/**
 * The PBS array script: ONE array job — PBS Pro `qsub -J 0-(K-1)`, Torque `qsub -t 0-(K-1)` — whose
 * element `i` runs the script body of its own task — the body a task submitted alone runs — through
 * the dispatch shared with Slurm (`arrayDispatch` in `@scripthut/core`). What differs between the
 * two dialects is data ({@link PBS_ARRAY_DIALECTS}): the option, the index variable
 * (`PBS_ARRAY_INDEX` / `PBS_ARRAYID`) and how the element's log paths are derived.
 *
 * Logs: the submission program makes each element's log path a symbolic link to the task's own
 * log file before `qsub`, so the scheduler writes every element's stdout and stderr (its own
 * `=>> PBS: job killed` lines too) into the task's files, as for a task submitted alone.
 * - PBS Pro: `-o`/`-e` are `<linkDir>/<array tag>.^array_index^.out|err` (PBS Pro puts the
 *   subjob's index in place of `^array_index^`); with `-k oed` the MoM writes them live.
 * - Torque: `-o`/`-e` are `<linkDir>/<array tag>.out|err`; Torque gives element `i` the array's
 *   paths and name with `-<i>` appended (`job_clone` in Torque's `src/server/job_func.c`), so the
 *   links are `<linkDir>/<array tag>.out-<i>`; the MoM copies the spooled output there at the end.
 */
import {
  type ArrayScript,
  fitsInArrayScript,
  jobNameFor,
  renderArrayElements,
  type SubmitRequest,
} from '@scripthut/core';
import type { PbsFlavour } from './parse.js';
import { type PbsScriptOptions, pbsDirectives, pbsPath, ScriptRenderError, TAG_RE } from './script.js';

/** What an array looks like in one PBS dialect. */
export interface PbsArrayDialect {
  /** The `qsub` option of an array (`-J` PBS Pro, `-t` Torque). */
  option: '-J' | '-t';
  /** The variable the scheduler sets to the element's index in each element. */
  indexVariable: 'PBS_ARRAY_INDEX' | 'PBS_ARRAYID';
  /** The `-o` and `-e` paths of the array (from the link directory and the array's tag). */
  logPaths: (linkDir: string, tag: string) => [string, string];
  /** Where the scheduler writes element `index`'s stdout and stderr (the links the program makes). */
  elementLogPaths: (linkDir: string, tag: string, index: number) => [string, string];
}

/** The two dialects' arrays (see the file comment for the sources). */
export const PBS_ARRAY_DIALECTS: Record<PbsFlavour, PbsArrayDialect> = {
  pro: {
    option: '-J',
    indexVariable: 'PBS_ARRAY_INDEX',
    logPaths: (dir, tag) => [`${dir}/${tag}.^array_index^.out`, `${dir}/${tag}.^array_index^.err`],
    elementLogPaths: (dir, tag, i) => [`${dir}/${tag}.${i}.out`, `${dir}/${tag}.${i}.err`],
  },
  torque: {
    option: '-t',
    indexVariable: 'PBS_ARRAYID',
    logPaths: (dir, tag) => [`${dir}/${tag}.out`, `${dir}/${tag}.err`],
    elementLogPaths: (dir, tag, i) => [`${dir}/${tag}.out-${i}`, `${dir}/${tag}.err-${i}`],
  },
};

/** `#PBS` options that are per element (name, logs) rather than shared by the array. */
const PER_ELEMENT = /^#PBS -[Noe] /;

/**
 * What PBS sees of a request: its shared `#PBS` lines and the login shell. Requests with equal keys
 * can share one array. `null` when the request cannot be in an array (too large, or its
 * directives cannot be rendered: it then fails alone, with its own error).
 */
export function pbsArrayKey(request: SubmitRequest, options: PbsScriptOptions): string | null {
  if (!fitsInArrayScript(request)) return null;
  let lines: string[];
  try {
    lines = pbsDirectives(request, options);
  } catch {
    return null;
  }
  return JSON.stringify([options.loginShell ?? false, ...lines.filter((l) => !PER_ELEMENT.test(l))]);
}

/** The rendered array: the script qsub gets, and the script stored with each task. */
export type PbsArrayScript = ArrayScript;

/** Options of {@link renderPbsArrayScript}. */
export interface PbsArrayOptions extends PbsScriptOptions {
  /** Exit marker of a task tag (may start with `~`). */
  markerPathOf: (tag: string) => string;
  /** Directory of the log links (absolute, or `~`-relative resolved by `resolvePath`). */
  linkDir: string;
  /**
   * At most this many elements run at once (Torque `-t 0-(K-1)%M`; Slurm's `%M`); null: no limit
   * of its own. PBS Pro arrays have no such option here (`max_run_subjobs` is not set).
   */
  throttle?: number | null;
}

/**
 * Render the array job of `requests` (element `i` = `requests[i]`, all with the same
 * {@link pbsArrayKey}). Throws {@link ScriptRenderError} when a request cannot be rendered.
 */
export function renderPbsArrayScript(
  requests: readonly SubmitRequest[],
  options: PbsArrayOptions,
): PbsArrayScript {
  const first = requests[0];
  if (!first?.array) throw new ScriptRenderError('an array needs at least one element with its placement');
  const dialect = PBS_ARRAY_DIALECTS[options.flavour];
  const tag = first.array.tag;
  if (!TAG_RE.test(tag)) throw new ScriptRenderError(`invalid array tag: ${JSON.stringify(tag)}`);
  const k = requests.length;
  if (k < 2) throw new ScriptRenderError('a PBS job array needs at least two elements');
  const resolve = options.resolvePath ?? ((p: string) => p);
  const linkDir = pbsPath(resolve(options.linkDir).replace(/\/+$/, ''), 'log link directory');
  if (linkDir.startsWith('"')) throw new ScriptRenderError(`log link directory contains a space: ${linkDir}`);
  const shared = pbsDirectives(first, options).filter((l) => !PER_ELEMENT.test(l));
  const throttle =
    options.flavour === 'torque' && options.throttle != null && Number.isInteger(options.throttle)
      ? options.throttle
      : null;
  if (throttle !== null && throttle < 1) throw new ScriptRenderError(`invalid array throttle: ${throttle}`);
  const [out, err] = dialect.logPaths(linkDir, tag);
  const head = [
    `#PBS -N ${jobNameFor(tag, `array${k}_${first.task.name}`)}`,
    `#PBS ${dialect.option} 0-${k - 1}${throttle === null ? '' : `%${throttle}`}`,
    ...shared,
    `#PBS -o ${out}`,
    `#PBS -e ${err}`,
  ];
  return renderArrayElements(requests, {
    tag,
    shebang: options.loginShell ? '#!/bin/bash -l' : '#!/bin/bash',
    head,
    indexVariable: dialect.indexVariable,
    linkDir,
    linkPaths: (i) => dialect.elementLogPaths(linkDir, tag, i),
    resolvePath: resolve,
    markerPathOf: options.markerPathOf,
    checkAlone: (r) => pbsDirectives(r, options),
    fail: (message) => new ScriptRenderError(message),
  });
}
