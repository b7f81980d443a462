/**
 * Submitting a job array on a scheduler over SSH, shared by Slurm and PBS Pro: render the array
 * script, send ONE submission program ({@link buildArraySubmitProgram}), and turn its answer into one
 * outcome per element — adopted by tag when the answer was lost ({@link adoptLostArray}), refused as
 * a whole, or one element job id each. What differs between schedulers is an {@link ArrayDialect}.
 */
import type { ExecResult, SubmitOutcome, SubmitRequest } from '@scripthut/core';
import { adoptLostArray } from './array-recovery.js';
import { type ArraySubmitProgramSpec, buildArraySubmitProgram } from './array-submission.js';
import { type BackendExecOptions, interruptedCommand } from './backend-connection.js';
import { truncateOutput } from './remote-files.js';
import { dirOf, parseSubmitAnswerLine, type SubmitLine } from './remote-programs.js';

/** A rendered array job: the script the scheduler gets and what each element runs and logs to. */
export interface RenderedArray {
  script: string;
  /** Per element: the array's directives + that task's body (stored with the task). */
  elementScripts: string[];
  /** Per element: `[link path, log path]` pairs (stdout, stderr) the submission program creates. */
  links: [string, string][][];
}

/** What the scheduler's answer to an array submission means. */
export type ArrayVerdict =
  | {
      ok: true;
      /** The array's own id (e.g. `123`, `123;c1`, `123[].server`). */
      arrayJobId: string;
      /** Meta of element `i` after `tag` and `markerPath` (e.g. `arrayJobId`, a warning). */
      meta: (index: number) => Record<string, unknown>;
    }
  | { ok: false; error: string; transient: boolean; maybeSubmitted?: boolean };

/** What differs between schedulers in an array submission. */
export interface ArrayDialect {
  /** The fixed parts of the submission program (submit command, home line, temp dir, checks). */
  program: Pick<ArraySubmitProgramSpec, 'submitCommand' | 'homeLine' | 'tmpPrefix' | 'after'>;
  /** The command log entry of an array of `size` elements. */
  logAs(size: number): string;
  /** Render the array (throws when a request cannot be rendered). */
  render(requests: SubmitRequest[], linkDir: string, options: { throttle: number | null }): RenderedArray;
  /** The answer line of the submission (index 0) and the whole stdout → a verdict. */
  verdict(line: SubmitLine, stdout: string): ArrayVerdict;
  /** `<array job id>` + index → the element's job id. */
  elementJobId(arrayJobId: string, index: number): string;
  /** Whether an id found by tag is an array job id of this scheduler (default: any). */
  isArrayJobId?(id: string): boolean;
  /** Run before rendering (e.g. learn the server's dialect); may throw like a failed round trip. */
  prepare?(): Promise<unknown>;
}

/** What {@link submitSchedulerArray} needs from its backend. */
export interface ArrayHost {
  run: (command: string, options?: BackendExecOptions) => Promise<ExecResult>;
  resolvePath: (path: string) => string;
  homeDir: () => Promise<string>;
  markerDir: string;
  markerPath: (tag: string) => string;
  findByTags: (tags: string[]) => Promise<Map<string, string>>;
}

/** The answer line of `index` in a submission program's stdout (null when it never came). */
export function submitAnswerOf(stdout: string, index: number): SubmitLine | null {
  let found: SubmitLine | null = null;
  for (const text of stdout.split('\n')) {
    const line = parseSubmitAnswerLine(text.replace(/\r$/, '').split('\t'));
    if (line?.index === index) found = line;
  }
  return found;
}

/**
 * Submit `requests` (elements 0…K-1 of one array) as ONE scheduler job: one outcome per element, in
 * order. The whole array fails alike when it cannot be rendered or the scheduler refuses it; a lost
 * answer is resolved by looking the array up by its tag. Throws only when nothing ran (the engine
 * retries the whole array).
 *
 * @example
 * ```ts
 * const outcomes = await submitSchedulerArray(host, slurmArrayDialect, requests, { throttle: null });
 * ```
 */
export async function submitSchedulerArray(
  host: ArrayHost,
  dialect: ArrayDialect,
  requests: SubmitRequest[],
  options: { throttle: number | null },
): Promise<SubmitOutcome[]> {
  if (!requests.length) return [];
  await host.homeDir();
  await dialect.prepare?.();
  const first = requests[0]!;
  let rendered: RenderedArray;
  try {
    rendered = dialect.render(requests, `${first.logDir.replace(/\/+$/, '')}/.scripthut-arrays`, options);
  } catch (e) {
    const error = `cannot build the array job script: ${e instanceof Error ? e.message : String(e)}`;
    return requests.map((r) => ({ taskId: r.taskId, ok: false, error, transient: false }));
  }
  const dirs = new Set<string>();
  for (const r of requests) dirs.add(host.resolvePath(r.logDir));
  for (const pair of rendered.links)
    for (const [link, target] of pair) dirs.add(dirOf(link)).add(dirOf(target));
  const program = buildArraySubmitProgram({
    ...dialect.program,
    script: rendered.script,
    tags: requests.map((r) => r.tag),
    links: rendered.links.flat(),
    dirs: [...dirs],
    markerDir: host.markerDir,
  });
  const scriptOf = (i: number) => rendered.elementScripts[i]!;
  let stdout: string;
  let lost: string | null = null;
  let exitNote = '';
  try {
    const r = await host.run('bash -s', {
      stdin: program,
      timeoutMs: 60_000 + 20 * requests.length,
      logAs: dialect.logAs(requests.length),
    });
    stdout = r.stdout;
    exitNote = `exit ${r.exitCode}${r.stderr.trim() ? `: ${truncateOutput(r.stderr.trim(), 300)}` : ''}`;
  } catch (e) {
    if (!interruptedCommand(e).started) throw e; // nothing ran: the engine retries the whole array
    stdout = interruptedCommand(e).stdout;
    lost = e instanceof Error ? e.message : String(e);
  }
  const line = submitAnswerOf(stdout, 0);
  if (!line) {
    // The answer was lost: adopt the array if it is found by its tag, else every element may exist.
    return adoptLostArray(
      {
        findByTags: (tags) => host.findByTags(tags),
        markerPath: (tag) => host.markerPath(tag),
        elementJobId: (id, i) => dialect.elementJobId(id, i),
        ...(dialect.isArrayJobId ? { isArrayJobId: (id: string) => dialect.isArrayJobId!(id) } : {}),
      },
      requests,
      scriptOf,
      lost ?? `the submission program ended before answering (${exitNote})`,
    );
  }
  const verdict = dialect.verdict(line, stdout);
  if (!verdict.ok) {
    return requests.map((r, i) => ({
      taskId: r.taskId,
      ok: false,
      error: verdict.error,
      transient: verdict.transient,
      ...(verdict.maybeSubmitted ? { maybeSubmitted: true } : {}),
      script: scriptOf(i),
    }));
  }
  return requests.map((r, i) => ({
    taskId: r.taskId,
    ok: true,
    jobId: dialect.elementJobId(verdict.arrayJobId, i),
    script: scriptOf(i),
    meta: { tag: r.tag, markerPath: host.markerPath(r.tag), ...verdict.meta(i) },
  }));
}
