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

/**
 * `(cd markerDir && for f in <tag>.rc ...; do [ -f "$f" ] && printf '<prefix>%s %s\n' <tag> <code>; done); true`
 * — prints one `<prefix><tag> <code>` line per existing marker and always succeeds (`true` when
 * there are no tags). Runs in a subshell, so the caller's working directory is unchanged.
 */
export function markerLoop(markerDir: string, tags: readonly string[], prefix = ''): string {
  if (!tags.length) return 'true';
  const files = tags.map((t) => shellQuote(`${t}.rc`)).join(' ');
  return `(cd ${shellQuotePath(markerDir)} 2>/dev/null && for f in ${files}; do [ -f "$f" ] && printf '${prefix}%s %s\\n' "\${f%.rc}" "$(head -c 32 "$f" | tr -d '\\n')"; done); true`;
}

/** Parse `<prefix><tag> <code>` marker lines (see {@link markerLoop}) into tag → exit code. */
export function parseMarkers(text: string, prefix = ''): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const m = /^(\S+) (-?\d+)\s*$/.exec(line.slice(prefix.length));
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/**
 * Read the exit markers of `jobs` (those whose tag passes `isTag`) with one command and report
 * the finished ones: exit code 0 → `completed`, else `failed`, never `final` (the scheduler's
 * status has the last word). Jobs without a marker are absent from the result.
 */
export async function readExitMarkers(
  run: RemoteExec,
  markerDir: string,
  jobs: readonly TrackedJob[],
  isTag: (tag: string) => boolean,
): Promise<Map<string, JobStatus>> {
  const out = new Map<string, JobStatus>();
  const withTags = jobs.filter((j) => isTag(j.tag));
  if (!withTags.length) return out;
  const r = await run(
    markerLoop(
      markerDir,
      withTags.map((j) => j.tag),
    ),
    { timeoutMs: 15_000 },
  );
  const markers = parseMarkers(r.stdout);
  for (const job of withTags) {
    const code = markers.get(job.tag);
    if (code === undefined) continue;
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
    // Markers are tiny; drop the ones older than two weeks so the directory stays small.
    `find "$M" -maxdepth 1 -name '*.rc' -mtime +14 -delete 2>/dev/null`,
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
