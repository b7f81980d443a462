/**
 * The scheduler-independent part of a job-array script (Slurm `--array`, PBS Pro `-J`, Torque `-t`): each
 * element runs the script body of its own task — the same body a task submitted alone runs
 * (exports, `extra_init`, checked `cd`, the command, the exit-code marker) — chosen by a `case` on
 * the scheduler's index variable. Every body travels shell-quoted and is run with `eval`, so the
 * text of one task can never change what another element runs.
 */
import type { SubmitRequest } from './backend.js';
import { buildScriptBody } from './script.js';
import { shellQuote } from './shell.js';

/**
 * Largest task body (command + environment + extra_init, in bytes) that goes into an array: an
 * array of {@link MAX_ARRAY_ELEMENTS} such elements stays below Slurm's default `max_script_size`
 * (4 MB) and keeps a PBS array script of the same order. Larger tasks are submitted alone.
 */
export const MAX_ARRAY_ELEMENT_BYTES = 3000;

/** Most elements in one array script (with {@link MAX_ARRAY_ELEMENT_BYTES}, < 4 MB of script). */
export const MAX_ARRAY_ELEMENTS = 1000;

/** True when the request is small enough to be one element of an array script. */
export function fitsInArrayScript(request: SubmitRequest): boolean {
  const size =
    Buffer.byteLength(request.task.command) +
    Buffer.byteLength(request.extraInit) +
    Object.entries(request.env).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v) + 16, 0);
  return size <= MAX_ARRAY_ELEMENT_BYTES;
}

/** The body element `request` runs (throws `Error` naming the task when it cannot be built). */
export function arrayElementBody(request: SubmitRequest, exitMarkerPath: string): string {
  try {
    return buildScriptBody({
      taskId: request.taskId,
      taskName: request.task.name,
      command: request.task.command,
      workingDir: request.workingDir,
      env: request.env,
      secretEnvNames: request.secretEnvNames,
      extraInit: request.extraInit,
      exitMarkerPath,
    });
  } catch (e) {
    throw new Error(`${request.taskId}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * The dispatch lines of an array script: element `i` (the value of `indexVariable`, e.g.
 * `SLURM_ARRAY_TASK_ID` or `PBS_ARRAY_INDEX`) runs `bodies[i]`; an index without a task exits 98.
 *
 * @example
 * ```ts
 * arrayDispatch('PBS_ARRAY_INDEX', ['echo a', 'echo b']).join('\n')
 * // case "${PBS_ARRAY_INDEX:-}" in
 * // 0) __SCRIPTHUT_ELEMENT='echo a' ;;
 * // 1) __SCRIPTHUT_ELEMENT='echo b' ;;
 * // *) echo "ScriptHut: no task for array index ${PBS_ARRAY_INDEX:-(none)}" >&2; exit 98 ;;
 * // esac
 * // eval "$__SCRIPTHUT_ELEMENT"
 * ```
 */
export function arrayDispatch(indexVariable: string, bodies: readonly string[]): string[] {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(indexVariable))
    throw new Error(`invalid array index variable: ${JSON.stringify(indexVariable)}`);
  return [
    `case "\${${indexVariable}:-}" in`,
    ...bodies.map((body, i) => `${i}) __SCRIPTHUT_ELEMENT=${shellQuote(body)} ;;`),
    `*) echo "ScriptHut: no task for array index \${${indexVariable}:-(none)}" >&2; exit 98 ;;`,
    'esac',
    'eval "$__SCRIPTHUT_ELEMENT"',
  ];
}

/** The scheduler-specific parts of an array script, for {@link renderArrayElements}. */
export interface ArrayScriptParts {
  /** The array's tag (already checked by the caller). */
  tag: string;
  /** `#!/bin/bash` or `#!/bin/bash -l`. */
  shebang: string;
  /** The array's directive lines (name, index range, shared resources, log patterns). */
  head: readonly string[];
  /** The scheduler's index variable (`SLURM_ARRAY_TASK_ID`, `PBS_ARRAY_INDEX`). */
  indexVariable: string;
  /** Directory of the log links, resolved, without a trailing slash. */
  linkDir: string;
  resolvePath: (path: string) => string;
  /** Exit marker of a task tag (may start with `~`; resolved with `resolvePath`). */
  markerPathOf: (tag: string) => string;
  /** Checks a request with the rules of a task submitted alone (tag, log paths, directives); throws. */
  checkAlone: (request: SubmitRequest) => void;
  /** The error thrown when a request cannot be an element. */
  fail: (message: string) => Error;
  /**
   * Paths of element `index`'s log links (stdout, stderr), where the scheduler writes that
   * element's output; default `<linkDir>/<tag>.<index>.out|err`. Torque, which appends `-<index>`
   * to the array's `-o`/`-e` paths, names them `<linkDir>/<tag>.out-<index>`.
   */
  linkPaths?: (index: number) => [string, string];
}

/** A rendered array script: what the scheduler gets, and what each element runs and logs to. */
export interface ArrayScript {
  script: string;
  /** Per element: the array's directives + that task's body (stored with the task). */
  elementScripts: string[];
  /** Per element: `[link path, log path]` pairs (stdout, stderr) the submission program creates. */
  links: [string, string][][];
}

/**
 * The array script of `requests` (element `i` = `requests[i]`): the head, then the dispatch on the
 * index variable; element `i`'s logs are `<linkDir>/<tag>.<i>.out|err` (or `parts.linkPaths(i)`), links to the task's own log
 * files. Throws `parts.fail(…)` for a request that is not element `i` of this array or cannot be
 * rendered.
 */
export function renderArrayElements(
  requests: readonly SubmitRequest[],
  parts: ArrayScriptParts,
): ArrayScript {
  const { tag, shebang, head, indexVariable, linkDir } = parts;
  const resolve = parts.resolvePath;
  const k = requests.length;
  const bodies: string[] = [];
  const elementScripts: string[] = [];
  const links: [string, string][][] = [];
  requests.forEach((r, i) => {
    if (r.array?.tag !== tag || r.array.index !== i || r.array.size !== k)
      throw parts.fail(`request ${i} (${r.taskId}) is not element ${i} of array ${tag}`);
    parts.checkAlone(r);
    let body: string;
    try {
      body = arrayElementBody(r, resolve(parts.markerPathOf(r.tag)));
    } catch (e) {
      throw parts.fail((e as Error).message);
    }
    bodies.push(body);
    elementScripts.push(
      `${[shebang, ...head, `# element ${i} of ${k} (${indexVariable}=${i}) runs:`].join('\n')}\n${body}`,
    );
    const [outLink, errLink] = parts.linkPaths?.(i) ?? [
      `${linkDir}/${tag}.${i}.out`,
      `${linkDir}/${tag}.${i}.err`,
    ];
    links.push([
      [outLink, resolve(r.task.outputFile ?? r.stdoutPath)],
      [errLink, resolve(r.task.errorFile ?? r.stderrPath)],
    ]);
  });
  const script = [
    shebang,
    ...head,
    '# ScriptHut job array: element i runs the script of task i.',
    ...arrayDispatch(indexVariable, bodies),
  ].join('\n');
  return { script: `${script}\n`, elementScripts, links };
}
