/**
 * Job arrays on Slurm ({@link ArraySupport}): `MaxArraySize` read once per connection
 * (`scontrol show config`), and ONE program per array that creates the elements' exit markers and
 * log links, runs `sbatch --parsable` with the array script on a quoted heredoc and checks the array
 * with `squeue`. Element ids are `<array job id>_<index>` (`123_7`, or `123_7;cluster`).
 */
import type { ArraySupport, ExecResult, SubmitOutcome, SubmitRequest } from '@scripthut/core';
import {
  adoptLostArray,
  type BackendExecOptions,
  buildArraySubmitProgram as buildSshArraySubmitProgram,
  dirOf,
  interruptedCommand,
  truncateOutput as truncate,
} from '@scripthut/ssh';
import { MAX_ARRAY_ELEMENTS, renderSlurmArrayScript, slurmArrayKey } from './array-script.js';
import { formatJobRef, parseJobRef, parseSbatchOutput } from './parse.js';
import { parseSubmitAnswer } from './programs.js';
import { classifySbatchFailure } from './sbatch-errors.js';
import type { SlurmScriptOptions } from './script.js';

/** What the array capability needs from its backend. */
export interface ArrayContext {
  name: string;
  run: (command: string, options?: BackendExecOptions) => Promise<ExecResult>;
  scriptOptions: () => SlurmScriptOptions;
  resolvePath: (path: string) => string;
  homeDir: () => Promise<string>;
  markerDir: string;
  markerPath: (tag: string) => string;
  findByTags: (tags: string[]) => Promise<Map<string, string>>;
  knownClusters: Set<string>;
}

/** `MaxArraySize = 1001` in `scontrol show config` output; null when absent. */
export function parseMaxArraySize(text: string): number | null {
  const m = /^\s*MaxArraySize\s*=\s*(\d+)\s*$/m.exec(text);
  return m ? Number(m[1]) : null;
}

/** `123` + 7 → `123_7`; `123;c1` + 7 → `123_7;c1`. */
export function slurmElementJobId(arrayJobId: string, index: number): string {
  const ref = parseJobRef(arrayJobId);
  if (!ref || ref.id.includes('_') || !Number.isInteger(index) || index < 0)
    throw new Error(`not an array job id: ${arrayJobId}`);
  return formatJobRef({ id: `${ref.id}_${index}`, cluster: ref.cluster });
}

/**
 * The program of one array submission: markers and log links of every element, then ONE
 * `sbatch --parsable` (answer line of index 0), a refused array loses its markers, and a `V` line
 * with the array id squeue sees (`%F`).
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
    homeLine: 'H="$HOME"; export H',
    tmpPrefix: 'scripthut-submit',
    submitCommand: 'sbatch --parsable',
    after: [
      `if [ "$rc" = 0 ]; then IFS= read -r id <"$T/o"; id=\${id//[[:space:]]/}; case "$id" in ''|*[!0-9]*) ;; *) squeue -h -t all -j "$id" -o '%F' >"$T/v" 2>/dev/null; printf 'V\\t%s\\t%s\\n' "$?" "$(tr '\\n' ',' <"$T/v")" ;; esac; fi`,
    ],
  });
}

/** The {@link ArraySupport} of a Slurm backend. */
export function createSlurmArrays(ctx: ArrayContext): ArraySupport {
  let maxArraySize: Promise<number> | null = null;

  /**
   * MaxArraySize; 0 (no arrays on this connection: every task is its own job) when scontrol answers
   * without it — a site may restrict scontrol, which must not stop submissions. An outage throws.
   */
  async function readMaxSize(): Promise<number> {
    const r = await ctx.run('scontrol show config', { timeoutMs: 30_000 });
    return (r.exitCode === 0 ? parseMaxArraySize(r.stdout) : null) ?? 0;
  }

  async function maxSize(): Promise<number> {
    maxArraySize ??= readMaxSize();
    try {
      // Indexes 0 … K-1 must stay below MaxArraySize; 0 or 1 means arrays are off at this site.
      return Math.min(await maxArraySize, MAX_ARRAY_ELEMENTS);
    } catch (e) {
      maxArraySize = null; // asked again on the next connection
      throw e;
    }
  }

  async function submitArray(
    requests: SubmitRequest[],
    options: { throttle: number | null },
  ): Promise<SubmitOutcome[]> {
    if (!requests.length) return [];
    await ctx.homeDir();
    const first = requests[0]!;
    let rendered: ReturnType<typeof renderSlurmArrayScript>;
    try {
      rendered = renderSlurmArrayScript(requests, {
        ...ctx.scriptOptions(),
        markerPathOf: ctx.markerPath,
        linkDir: `${first.logDir.replace(/\/+$/, '')}/.scripthut-arrays`,
        throttle: options.throttle,
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
        logAs: `sbatch --parsable --array=0-${requests.length - 1} (array of ${requests.length} tasks, script on stdin)`,
      });
      stdout = r.stdout;
      exitNote = `exit ${r.exitCode}${r.stderr.trim() ? `: ${truncate(r.stderr.trim(), 300)}` : ''}`;
    } catch (e) {
      if (!interruptedCommand(e).started) throw e; // nothing ran: the engine retries the whole array
      stdout = interruptedCommand(e).stdout;
      lost = e instanceof Error ? e.message : String(e);
    }
    const answer = parseSubmitAnswer(stdout);
    const line = answer.tasks.get(0);
    if (!line)
      return resolveLost(
        requests,
        scriptOf,
        lost ?? `the submission program ended before answering (${exitNote})`,
      );
    if (line.rc !== 0) {
      const raw = (line.stderr.trim() || line.stdout.trim() || `sbatch exited with code ${line.rc}`).trim();
      const failure = classifySbatchFailure(raw);
      const error = truncate(`${failure.summary}\n${raw}`);
      return requests.map((r, i) => ({
        taskId: r.taskId,
        ok: false,
        error,
        transient: failure.transient,
        ...(failure.maybeSubmitted ? { maybeSubmitted: true } : {}),
        script: scriptOf(i),
      }));
    }
    const parsed = parseSbatchOutput(line.stdout);
    const ref = parsed
      ? parseJobRef(parsed.cluster ? `${parsed.jobId};${parsed.cluster}` : parsed.jobId)
      : null;
    if (!parsed || !ref || ref.id.includes('_')) {
      const error = truncate(
        `sbatch succeeded but printed no array job id: ${line.stdout.trim()} ${line.stderr.trim()}`.trim(),
      );
      return requests.map((r, i) => ({
        taskId: r.taskId,
        ok: false,
        error,
        transient: false,
        script: scriptOf(i),
      }));
    }
    if (ref.cluster) ctx.knownClusters.add(ref.cluster);
    if (answer.verified && !ref.cluster && !answer.verified.has(ref.id)) {
      const error = `sbatch returned array job ${ref.id} but squeue does not know it; the array likely never entered the queue (${truncate(line.stderr.trim(), 500)})`;
      return requests.map((r, i) => ({
        taskId: r.taskId,
        ok: false,
        error,
        transient: false,
        script: scriptOf(i),
      }));
    }
    const arrayJobId = formatJobRef(ref);
    const warning = line.stderr.trim() ? truncate(line.stderr.trim(), 500) : null;
    return requests.map((r, i) => ({
      taskId: r.taskId,
      ok: true,
      jobId: slurmElementJobId(arrayJobId, i),
      script: scriptOf(i),
      meta: {
        tag: r.tag,
        markerPath: ctx.markerPath(r.tag),
        arrayJobId,
        ...(ref.cluster ? { cluster: ref.cluster } : {}),
        ...(warning ? { sbatchWarning: warning } : {}),
      },
    }));
  }

  /** The answer was lost: adopt the array if it is found by its tag, else every element may exist. */
  const resolveLost = (requests: SubmitRequest[], scriptOf: (i: number) => string, why: string) =>
    adoptLostArray(
      {
        findByTags: (tags) => ctx.findByTags(tags),
        markerPath: (tag) => ctx.markerPath(tag),
        elementJobId: slurmElementJobId,
      },
      requests,
      scriptOf,
      why,
    );

  return {
    maxSize,
    key: (request) => slurmArrayKey(request, ctx.scriptOptions()),
    submitArray,
    elementJobId: slurmElementJobId,
  };
}
