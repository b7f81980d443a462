/**
 * Job arrays on PBS Pro ({@link ArraySupport}): `qsub -J 0-(K-1)`, the server's `max_array_size`
 * (read from `qstat -Bf` with the dialect detection, once per connection), and ONE program per
 * array that creates the elements' exit markers and log links and runs `qsub` with the array script
 * on a quoted heredoc. The array's id is `123[].server`; element `i` is `123[i].server` everywhere
 * (status, cancel, logs). Torque has no arrays here: its `maxSize()` is 0, so the engine submits
 * one job per task.
 */
import {
  type ArraySupport,
  type ExecResult,
  MAX_ARRAY_ELEMENTS,
  type SubmitOutcome,
  type SubmitRequest,
} from '@scripthut/core';
import {
  adoptLostArray,
  type BackendExecOptions,
  buildArraySubmitProgram as buildSshArraySubmitProgram,
  dirOf,
  interruptedCommand,
  truncateOutput as truncate,
} from '@scripthut/ssh';
import { pbsArrayKey, renderPbsArrayScript } from './array-script.js';
import { displayJobNumber, type PbsFlavour, parseQsubOutput } from './parse.js';
import { parseSubmitAnswer } from './programs.js';
import type { PbsScriptOptions } from './script.js';
import { qsubFailure } from './verdict.js';

/** PBS Pro's default `max_array_size` (server attribute; used when the server does not show it). */
export const DEFAULT_MAX_ARRAY_SIZE = 10_000;

/** What the array capability needs from its backend. */
export interface PbsArrayContext {
  run: (command: string, options?: BackendExecOptions) => Promise<ExecResult>;
  /** Dialect and `max_array_size` of the server (detected once per connection). */
  server: () => Promise<{ flavour: PbsFlavour; maxArraySize: number | null }>;
  /** Script options of the flavour in use (known once `server()` answered; `pro` before). */
  scriptOptions: () => PbsScriptOptions;
  resolvePath: (path: string) => string;
  homeDir: () => Promise<string>;
  markerDir: string;
  markerPath: (tag: string) => string;
  findByTags: (tags: string[]) => Promise<Map<string, string>>;
}

/** `max_array_size = 10000` in `qstat -Bf` output; null when absent. */
export function parseMaxArraySize(serverOutput: string): number | null {
  const m = /^\s*max_array_size\s*=\s*(\d+)\s*$/m.exec(serverOutput);
  return m ? Number(m[1]) : null;
}

const ARRAY_ID = /^(\d+)\[\]((?:\.[A-Za-z0-9_-][A-Za-z0-9_.-]*)?)$/;

/** `123[].server` + 7 → `123[7].server` (the id qstat and qdel take for the subjob). */
export function pbsElementJobId(arrayJobId: string, index: number): string {
  const m = ARRAY_ID.exec(arrayJobId);
  if (!m || !Number.isInteger(index) || index < 0) throw new Error(`not a PBS array job id: ${arrayJobId}`);
  return `${m[1]}[${index}]${m[2]}`;
}

/** True for the id of one array element (`123[7].server`). */
export function isPbsElementJobId(id: string): boolean {
  return /^\d+\[\d+\]/.test(id);
}

/**
 * The program of one array submission: markers and log links of every element, then ONE `qsub`
 * from `$HOME` (answer line of index 0); a refused array loses its markers.
 */
export function buildArraySubmitProgram(
  script: string,
  tags: readonly string[],
  links: readonly [string, string][][],
  dirs: readonly string[],
  markerDir: string,
): string {
  return buildSshArraySubmitProgram({
    script,
    tags,
    links: links.flat(),
    dirs,
    markerDir,
    homeLine: 'cd "$HOME" || exit 90',
    tmpPrefix: 'scripthut-qsub',
    submitCommand: 'qsub',
  });
}

/** The {@link ArraySupport} of a PBS backend (elements only on PBS Pro). */
export function createPbsArrays(ctx: PbsArrayContext): ArraySupport {
  async function maxSize(): Promise<number> {
    const { flavour, maxArraySize } = await ctx.server();
    if (flavour !== 'pro') return 0;
    // Subjob indexes 0 … K-1: K ≤ max_array_size; 0 or 1 means arrays are off at this site.
    return Math.min(maxArraySize ?? DEFAULT_MAX_ARRAY_SIZE, MAX_ARRAY_ELEMENTS);
  }

  async function submitArray(requests: SubmitRequest[]): Promise<SubmitOutcome[]> {
    if (!requests.length) return [];
    await ctx.homeDir();
    await ctx.server();
    const first = requests[0]!;
    let rendered: ReturnType<typeof renderPbsArrayScript>;
    try {
      rendered = renderPbsArrayScript(requests, {
        ...ctx.scriptOptions(),
        markerPathOf: ctx.markerPath,
        linkDir: `${first.logDir.replace(/\/+$/, '')}/.scripthut-arrays`,
      });
    } catch (e) {
      const error = `cannot build the array job script: ${e instanceof Error ? e.message : String(e)}`;
      return requests.map((r) => ({ taskId: r.taskId, ok: false, error, transient: false }));
    }
    const dirs = new Set<string>();
    for (const r of requests) dirs.add(ctx.resolvePath(r.logDir));
    for (const pair of rendered.links)
      for (const [link, target] of pair) dirs.add(dirOf(link)).add(dirOf(target));
    const tags = requests.map((r) => r.tag);
    const program = buildArraySubmitProgram(rendered.script, tags, rendered.links, [...dirs], ctx.markerDir);
    const scriptOf = (i: number) => rendered.elementScripts[i]!;
    let stdout: string;
    let lost: string | null = null;
    let exitNote = '';
    try {
      const r = await ctx.run('bash -s', {
        stdin: program,
        timeoutMs: 60_000 + 20 * requests.length,
        logAs: `qsub -J 0-${requests.length - 1} (array of ${requests.length} tasks, script on stdin)`,
      });
      stdout = r.stdout;
      exitNote = `exit ${r.exitCode}${r.stderr.trim() ? `: ${truncate(r.stderr.trim(), 300)}` : ''}`;
    } catch (e) {
      if (!interruptedCommand(e).started) throw e; // nothing ran: the engine retries the whole array
      stdout = interruptedCommand(e).stdout;
      lost = e instanceof Error ? e.message : String(e);
    }
    const line = parseSubmitAnswer(stdout).get(0);
    if (!line)
      return resolveLost(
        requests,
        scriptOf,
        lost ?? `the submission program ended before answering (${exitNote})`,
      );
    const arrayJobId = line.rc === 0 ? parseQsubOutput(line.stdout) : null;
    if (line.rc !== 0 || !arrayJobId || !ARRAY_ID.test(arrayJobId)) {
      const msg = (line.stderr.trim() || line.stdout.trim() || `qsub exited with code ${line.rc}`).trim();
      const failure =
        line.rc === 0
          ? { transient: false, reason: `qsub succeeded but printed no array job id: ${msg}` }
          : qsubFailure(msg);
      return requests.map((r, i) => ({
        taskId: r.taskId,
        ok: false,
        error: truncate(failure.reason),
        transient: failure.transient,
        script: scriptOf(i),
      }));
    }
    const warning = line.stderr.trim() ? truncate(line.stderr.trim(), 500) : null;
    return requests.map((r, i) => ({
      taskId: r.taskId,
      ok: true,
      jobId: pbsElementJobId(arrayJobId, i),
      script: scriptOf(i),
      meta: {
        tag: r.tag,
        markerPath: ctx.markerPath(r.tag),
        jobNumber: displayJobNumber(pbsElementJobId(arrayJobId, i)),
        arrayJobId,
        flavour: 'pro',
        ...(warning ? { qsubWarning: warning } : {}),
      },
    }));
  }

  /** The answer was lost: adopt the array if it is found by its tag, else every element may exist. */
  const resolveLost = (requests: SubmitRequest[], scriptOf: (i: number) => string, why: string) =>
    adoptLostArray(
      {
        findByTags: (tags) => ctx.findByTags(tags),
        markerPath: (tag) => ctx.markerPath(tag),
        elementJobId: pbsElementJobId,
        isArrayJobId: (id) => ARRAY_ID.test(id),
      },
      requests,
      scriptOf,
      why,
    );

  return {
    maxSize,
    key: (request) => pbsArrayKey(request, ctx.scriptOptions()),
    submitArray,
    elementJobId: pbsElementJobId,
  };
}
