/**
 * Pieces of the bash programs the SSH batch backends (Slurm, PBS) send on stdin, and of the
 * parsers of their answers: exit-marker reads, `@@name` sections, the batch-submission preamble and
 * per-task answer lines, and request chunking. Every interpolated value goes through
 * `shellQuote`/`shellQuotePath`.
 */
import {
  type JobStatus,
  type SubmitOutcome,
  type SubmitRequest,
  shellQuote,
  shellQuotePath,
  type TrackedJob,
} from '@scripthut/core';
import type { RemoteExec } from './remote-files.js';

/** Tags that may name marker files: a safe alphabet (no quoting needed, no newline). */
const MARKER_TAG = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * `tags` one per line as the body of a quoted heredoc whose operator is `<<'SCRIPTHUT_TAGS'` (the
 * body and the delimiter line; checked against {@link MARKER_TAG}).
 */
function tagHeredocBody(tags: readonly string[]): string {
  for (const t of tags) if (!MARKER_TAG.test(t)) throw new Error(`invalid marker tag: ${JSON.stringify(t)}`);
  return `${tags.join('\n')}\nSCRIPTHUT_TAGS`;
}

/**
 * Program that prints one `<prefix><tag> <code>` line per marker of `tags` in `markerDir` holding a
 * complete line, and always succeeds (`true` when there are no tags). The tags travel in a
 * heredoc and markers are read with bash builtins only: no process per file, and no long word
 * list (bash parses `for t in <20,000 words>` in quadratic time: ~30 s). An empty marker
 * (pre-created at submission, the job has not ended) or one without its newline yet prints
 * nothing. Runs in a subshell, so the caller's working directory is unchanged.
 */
export function markerLoop(markerDir: string, tags: readonly string[], prefix = ''): string {
  if (!tags.length) return 'true';
  if (!/^[@A-Za-z0-9 _-]*$/.test(prefix)) throw new Error(`invalid marker prefix: ${prefix}`);
  return `(cd -- ${shellQuotePath(markerDir)} 2>/dev/null && while IFS= read -r t; do IFS= read -r c 2>/dev/null <"$t.rc" && printf '${prefix}%s %s\\n' "$t" "$c"; done <<'SCRIPTHUT_TAGS'\n${tagHeredocBody(tags)}\n); true`;
}

/**
 * Like {@link markerLoop}, for tags listed one per line in a file the program wrote itself (e.g.
 * the tags a status program selected). `file` is a shell word of the form `"$VAR/name"` with an
 * absolute directory in `VAR`.
 */
export function markerLoopFromFile(markerDir: string, file: string, prefix = ''): string {
  if (!/^"\$[A-Za-z_][A-Za-z0-9_]*\/[A-Za-z0-9_.-]+"$/.test(file))
    throw new Error(`invalid tag file reference: ${file}`);
  if (!/^[@A-Za-z0-9 _-]*$/.test(prefix)) throw new Error(`invalid marker prefix: ${prefix}`);
  return `(cd -- ${shellQuotePath(markerDir)} 2>/dev/null && while IFS= read -r t; do case $t in ''|[!A-Za-z0-9]*|*[!A-Za-z0-9_.-]*) continue ;; esac; IFS= read -r c 2>/dev/null <"$t.rc" && printf '${prefix}%s %s\\n' "$t" "$c"; done <${file}); true`;
}

/** `rm -f` of the markers of `tags` in `markerDir` (names on stdin of `xargs`), errors silenced. */
export function markerCleanup(markerDir: string, tags: readonly string[]): string {
  if (!tags.length) return 'true';
  return `(cd -- ${shellQuotePath(markerDir)} 2>/dev/null && sed 's/$/.rc/' <<'SCRIPTHUT_TAGS' | xargs rm -f -- 2>/dev/null\n${tagHeredocBody(tags)}\n); true`;
}

/**
 * Inside a batch-submission program (after {@link submitPreamble}, which sets `$M`): create the
 * empty marker of `tag` before the job is submitted. The job later writes its exit code INTO this
 * file; on NFS the login node then sees the code as soon as it opens the file (close-to-open
 * consistency), while a file created by the compute node could stay invisible for up to a minute
 * (cached negative lookups).
 */
export function markerCreateLine(tag: string): string {
  return `: >"$M"/${shellQuote(`${tag}.rc`)} 2>/dev/null`;
}

/** Inside a batch-submission program: remove the pre-created marker of a task that was not submitted. */
export function markerRemoveLine(tag: string): string {
  return `rm -f -- "$M"/${shellQuote(`${tag}.rc`)} 2>/dev/null`;
}

/** What one exit marker says: the job script's exit code, and whether its command died of a signal. */
export interface ExitMarker {
  code: number;
  /**
   * The code is above 128 (written `<code> signal`): the command died of a signal, possibly one the
   * scheduler sent to the whole job (walltime, memory, preemption) before the job script itself
   * was signalled. The scheduler's record, not this code, decides such a job's verdict.
   */
  signal: boolean;
}

/** Parse `<prefix><tag> <code>[ signal]` marker lines (see {@link markerLoop}) into tag → marker. */
export function parseMarkerLines(text: string, prefix = ''): Map<string, ExitMarker> {
  const out = new Map<string, ExitMarker>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const m = /^(\S+) (-?\d+)( signal)?\s*$/.exec(line.slice(prefix.length));
    if (m) out.set(m[1]!, { code: Number(m[2]), signal: m[3] !== undefined });
  }
  return out;
}

/** Parse `<prefix><tag> <code>[ signal]` marker lines (see {@link markerLoop}) into tag → exit code. */
export function parseMarkers(text: string, prefix = ''): Map<string, number> {
  return new Map([...parseMarkerLines(text, prefix)].map(([tag, m]) => [tag, m.code]));
}

/**
 * Read the exit markers of `jobs` (those whose tag passes `isTag`) with one command and report
 * the finished ones: exit code 0 → `completed`, else `failed`, never `final` (the scheduler's
 * status has the last word). Jobs without a (complete) marker are absent from the result, and so
 * are jobs whose command died of a signal (`<code> signal`): the scheduler's record decides those.
 * `before` is program text run first in the same round trip (e.g. a {@link markerCleanup}).
 */
export async function readExitMarkers(
  run: RemoteExec,
  markerDir: string,
  jobs: readonly TrackedJob[],
  isTag: (tag: string) => boolean,
  before = '',
): Promise<Map<string, JobStatus>> {
  const out = new Map<string, JobStatus>();
  const withTags = jobs.filter((j) => isTag(j.tag));
  if (!withTags.length && !before) return out;
  const program = `${before ? `${before}\n` : ''}${markerLoop(
    markerDir,
    withTags.map((j) => j.tag),
    '@@m ',
  )}\n`;
  const r = await run('bash -s', {
    stdin: program,
    timeoutMs: 15_000,
    logAs: `read ${withTags.length} exit markers in ${markerDir}`,
  });
  const markers = parseMarkerLines(r.stdout, '@@m ');
  for (const job of withTags) {
    const marker = markers.get(job.tag);
    // A command that died of a signal may have been killed with its whole job (walltime, memory,
    // preemption): that verdict is the scheduler's, so such a marker is left to `status`.
    if (marker === undefined || marker.signal) continue;
    const code = marker.code;
    out.set(job.jobId, {
      jobId: job.jobId,
      state: code === 0 ? 'completed' : 'failed',
      exitCode: code,
      reason: code === 0 ? null : `exit code ${code}`,
      final: false,
    });
  }
  return out;
}

/** Split output made of `@@name` header lines into name → text up to the next header. */
export function splitSections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | null = null;
  let buf: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^@@(\w+)$/.exec(line);
    if (m) {
      if (current) out.set(current, buf.join('\n'));
      current = m[1]!;
      buf = [];
    } else if (current) buf.push(line);
  }
  if (current) out.set(current, buf.join('\n'));
  return out;
}

/** `df -Pk` of the nearest existing ancestor of `path` (errors silenced). */
export function diskUsageCommand(path: string): string {
  return `d=${shellQuotePath(path)}; while [ ! -e "$d" ] && [ "$d" != / ] && [ "$d" != . ]; do d=$(dirname "$d"); done; df -Pk "$d" 2>/dev/null`;
}

/** One job script to submit. */
export interface SubmitItem {
  /** Position in the batch (echoed back in the answer). */
  index: number;
  script: string;
}

/** Answer of one task in a batch-submission program (`S` line). */
export interface SubmitLine {
  index: number;
  rc: number;
  stdout: string;
  stderr: string;
}

/**
 * First lines of a batch-submission program: `set -u`, `homeLine`, `M=<markerDir>`, one
 * `mkdir -p` of all `dirs` and the marker directory (answer `D\t<rc>`), removal of markers older
 * than two weeks, and a temporary directory `$T` (named `<tmpPrefix>.$$` when `mktemp` fails)
 * removed on exit.
 */
export function submitPreamble(
  dirs: readonly string[],
  markerDir: string,
  homeLine: string,
  tmpPrefix: string,
): string[] {
  if (!/^[A-Za-z0-9_-]+$/.test(tmpPrefix))
    throw new Error(`invalid temporary directory prefix: ${tmpPrefix}`);
  const uniqueDirs = [...new Set(dirs)].filter(Boolean);
  return [
    'set -u',
    homeLine,
    `M=${shellQuotePath(markerDir)}`,
    `mkdir -p -- ${[...uniqueDirs.map(shellQuotePath), '"$M"'].join(' ')} 2>/dev/null; printf 'D\\t%s\\n' "$?"`,
    // Markers are tiny; drop written ones older than two weeks (empty ones, pre-created for jobs
    // that may still wait in the queue, after two months) so the directory stays small.
    `find "$M" -maxdepth 1 -name '*.rc' \\( -size +0 -mtime +14 -o -mtime +60 \\) -delete 2>/dev/null`,
    `T=$(mktemp -d 2>/dev/null || { d="/tmp/${tmpPrefix}.$$"; mkdir -p "$d" && echo "$d"; })`,
    `trap 'rm -rf "$T"' EXIT`,
  ];
}

/**
 * The answer line of task `index` from `$T/o` and `$T/e`. `rcExpr` is a shell expression such as
 * `"$rc"` or `"$?"`. The common case (exit 0, one line of stdout, nothing on stderr) is printed with
 * shell builtins only — `J\t<index>\t<rc>\t<stdout line>` — because spawning base64/tr per task
 * made batched submission slower than a plain loop; anything else is printed in full as
 * `S\t<index>\t<rc>\t<base64 stdout>\t<base64 stderr>`.
 */
export function submitAnswerLine(index: number, rcExpr: string): string {
  const i = Math.floor(index);
  const full = `printf 'S\\t%s\\t%s\\t%s\\t%s\\n' ${i} "$__rc" "$(base64 <"$T/o" | tr -d '\\n')" "$(base64 <"$T/e" | tr -d '\\n')"`;
  return [
    `__rc=${rcExpr}; __o=; __n=0`,
    `if [ "$__rc" = 0 ] && [ ! -s "$T/e" ]; then while IFS= read -r __l || [ -n "$__l" ]; do __o=$__l; __n=$((__n + 1)); done <"$T/o"; fi`,
    `case "$__o" in *[![:print:]]*) __n=2 ;; esac`,
    `if [ "$__rc" = 0 ] && [ "$__n" = 1 ]; then printf 'J\\t%s\\t%s\\t%s\\n' ${i} "$__rc" "$__o"; else ${full}; fi`,
  ].join('\n');
}

const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** Parse one `S` line of {@link submitAnswerLine} (fields already split on tabs); null otherwise. */
export function parseSubmitAnswerLine(fields: readonly string[]): SubmitLine | null {
  const f = fields;
  if (f[0] === 'J' && f.length === 4 && /^\d+$/.test(f[1]!) && /^\d+$/.test(f[2]!)) {
    return { index: Number(f[1]), rc: Number(f[2]), stdout: `${f[3]}\n`, stderr: '' };
  }
  if (f[0] === 'S' && f.length === 5 && /^\d+$/.test(f[1]!) && /^\d+$/.test(f[2]!)) {
    const index = Number(f[1]);
    return { index, rc: Number(f[2]), stdout: b64(f[3]), stderr: b64(f[4]) };
  }
  return null;
}

/**
 * Split `requests` into consecutive `[start, end)` ranges of at most `maxCount` requests and,
 * roughly, at most `maxStdinBytes` of program text each (a single request is never split).
 */
export function chunkSubmitRequests(
  requests: readonly SubmitRequest[],
  maxCount: number,
  maxStdinBytes: number,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const count = Math.max(1, maxCount);
  let start = 0;
  while (start < requests.length) {
    let end = start;
    let size = 0;
    while (end < requests.length && end - start < count) {
      const req = requests[end]!;
      const approx = req.task.command.length + req.extraInit.length + JSON.stringify(req.env).length + 2048;
      if (end > start && size + approx > maxStdinBytes) break;
      size += approx;
      end++;
    }
    out.push([start, end]);
    start = end;
  }
  return out;
}

/** Most program text one batch-submission round trip sends on stdin. */
export const SUBMIT_STDIN_LIMIT = 4 * 1024 * 1024;

/**
 * Submit `requests` in consecutive chunks ({@link chunkSubmitRequests}: at most `chunkSize` tasks
 * and {@link SUBMIT_STDIN_LIMIT} of program text each), one `submitChunk` round trip after the
 * other; `submitChunk(slice, offset, outcomes)` fills `outcomes[offset …]`. One outcome per request.
 */
export async function submitInChunks(
  requests: readonly SubmitRequest[],
  chunkSize: number,
  submitChunk: (slice: SubmitRequest[], offset: number, outcomes: SubmitOutcome[]) => Promise<void>,
): Promise<SubmitOutcome[]> {
  const outcomes: SubmitOutcome[] = new Array(requests.length);
  for (const [start, end] of chunkSubmitRequests(requests, chunkSize, SUBMIT_STDIN_LIMIT))
    await submitChunk(requests.slice(start, end), start, outcomes);
  return outcomes;
}

/** Job scripts of one submission chunk, ready for a submission program. */
export interface PreparedSubmission {
  items: SubmitItem[];
  /** index → rendered script. */
  scripts: Map<number, string>;
  /** Directories that must exist before submission (log directory, stdout and stderr parents). */
  dirs: string[];
}

/**
 * Render the scripts of `requests` (batch positions `offset`…) with `render` and collect the
 * directories they need (resolved with `resolvePath`). A request whose script cannot be rendered
 * gets a permanent failure in `outcomes` and is left out.
 */
export function prepareSubmission(
  requests: readonly SubmitRequest[],
  offset: number,
  outcomes: SubmitOutcome[],
  render: (request: SubmitRequest) => string,
  resolvePath: (path: string) => string,
): PreparedSubmission {
  const items: SubmitItem[] = [];
  const scripts = new Map<number, string>();
  const dirs: string[] = [];
  requests.forEach((req, i) => {
    const index = offset + i;
    try {
      const script = render(req);
      scripts.set(index, script);
      items.push({ index, script });
      dirs.push(resolvePath(req.logDir));
      dirs.push(dirOf(resolvePath(req.task.outputFile ?? req.stdoutPath)));
      dirs.push(dirOf(resolvePath(req.task.errorFile ?? req.stderrPath)));
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      outcomes[index] = {
        taskId: req.taskId,
        ok: false,
        error: `cannot build the job script: ${message}`,
        transient: false,
      };
    }
  });
  return { items, scripts, dirs };
}

/** Parent directory of a path (`/` for top-level entries, '' for a bare name). */
export function dirOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i > 0 ? p.slice(0, i) : i === 0 ? '/' : '';
}
