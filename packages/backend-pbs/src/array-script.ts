/**
 * The PBS Pro array script: ONE `qsub -J 0-(K-1)` job whose subjob `i` (`$PBS_ARRAY_INDEX`) runs the
 * script body of its own task — the body a task submitted alone runs — through the dispatch shared
 * with Slurm (`arrayDispatch` in `@scripthut/core`).
 *
 * Logs: `-o`/`-e` are `<linkDir>/<array tag>.^array_index^.out|err` (PBS Pro puts the subjob's index
 * in place of `^array_index^`), and the submission program makes each of these a symbolic link to
 * the task's own log file before `qsub`: with `-k oed` the MoM writes every subjob's stdout and
 * stderr (its own `=>> PBS: job killed` lines too) straight into the task's files, as for a task
 * submitted alone. Torque arrays (`qsub -t`) are not supported: Torque submits one job per task.
 */
import {
  type ArrayScript,
  fitsInArrayScript,
  jobNameFor,
  renderArrayElements,
  type SubmitRequest,
} from '@scripthut/core';
import { type PbsScriptOptions, pbsDirectives, pbsPath, ScriptRenderError, TAG_RE } from './script.js';

/** `#PBS` options that are per element (name, logs) rather than shared by the array. */
const PER_ELEMENT = /^#PBS -[Noe] /;

/**
 * What PBS sees of a request: its shared `#PBS` lines and the login shell. Requests with equal keys
 * can share one array. `null` when the request cannot be in an array (too large, Torque, or its
 * directives cannot be rendered: it then fails alone, with its own error).
 */
export function pbsArrayKey(request: SubmitRequest, options: PbsScriptOptions): string | null {
  if (options.flavour !== 'pro' || !fitsInArrayScript(request)) return null;
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
  if (options.flavour !== 'pro') throw new ScriptRenderError('job arrays need PBS Pro (qsub -J)');
  const tag = first.array.tag;
  if (!TAG_RE.test(tag)) throw new ScriptRenderError(`invalid array tag: ${JSON.stringify(tag)}`);
  const k = requests.length;
  if (k < 2) throw new ScriptRenderError('a PBS job array needs at least two elements');
  const resolve = options.resolvePath ?? ((p: string) => p);
  const linkDir = pbsPath(resolve(options.linkDir).replace(/\/+$/, ''), 'log link directory');
  if (linkDir.startsWith('"')) throw new ScriptRenderError(`log link directory contains a space: ${linkDir}`);
  const shared = pbsDirectives(first, options).filter((l) => !PER_ELEMENT.test(l));
  const head = [
    `#PBS -N ${jobNameFor(tag, `array${k}_${first.task.name}`)}`,
    `#PBS -J 0-${k - 1}`,
    ...shared,
    `#PBS -o ${linkDir}/${tag}.^array_index^.out`,
    `#PBS -e ${linkDir}/${tag}.^array_index^.err`,
  ];
  return renderArrayElements(requests, {
    tag,
    shebang: options.loginShell ? '#!/bin/bash -l' : '#!/bin/bash',
    head,
    indexVariable: 'PBS_ARRAY_INDEX',
    linkDir,
    resolvePath: resolve,
    markerPathOf: options.markerPathOf,
    checkAlone: (r) => pbsDirectives(r, options),
    fail: (message) => new ScriptRenderError(message),
  });
}
