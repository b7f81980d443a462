/**
 * Bash programs the PBS backend sends over SSH (on stdin), and the parsers of their
 * machine-readable answers. Every interpolated value goes through `shellQuote`/`shellQuotePath`;
 * job scripts and id lists travel in quoted heredocs (`withHeredoc`), so nothing inside them is
 * expanded. Job ids are passed to qstat/qdel in chunks of {@link IDS_PER_CALL}, so no command line
 * grows past the kernel's limits however many jobs are tracked (a program on stdin has no limit).
 */
import { shellQuote, shellQuotePath, withHeredoc } from '@scripthut/core';
import {
  diskUsageCommand,
  markerLoop,
  parseSubmitAnswerLine,
  type SubmitItem,
  type SubmitLine,
  submitAnswerLine,
  submitPreamble,
} from '@scripthut/ssh';
import { isValidPbsJobId, type PbsFlavour } from './parse.js';

export type { SubmitItem, SubmitLine };

/**
 * Job ids per qstat/qdel invocation. PBS ids are ≤ ~40 characters, so a chunk stays far below
 * Linux's 128 KiB limit for one argument and the 2 MiB limit for a whole command line.
 */
export const IDS_PER_CALL = 500;

/** Lines of at most {@link IDS_PER_CALL} space-separated ids (each validated). */
export function idChunkLines(ids: readonly string[]): string {
  for (const id of ids) if (!isValidPbsJobId(id)) throw new Error(`invalid job id: ${id}`);
  const lines: string[] = [];
  for (let i = 0; i < ids.length; i += IDS_PER_CALL) lines.push(ids.slice(i, i + IDS_PER_CALL).join(' '));
  return lines.join('\n');
}

/** Temporary directory `$T` (removed on exit) and globbing off (array ids contain `[]`). */
function programHead(tmpPrefix: string): string[] {
  return [
    'set -f',
    `T=$(mktemp -d 2>/dev/null || { d="/tmp/${tmpPrefix}.$$"; mkdir -p "$d" && echo "$d"; })`,
    `trap 'rm -rf "$T"' EXIT`,
  ];
}

/** Write the id chunks to `$T/ids`, one chunk per line. */
function idsFile(ids: readonly string[]): string {
  return withHeredoc('cat >"$T/ids"', idChunkLines(ids));
}

/**
 * The batch-submission program: creates all log directories and the marker directory, then runs
 * `qsub` once per script (script on a quoted heredoc, from `$HOME`) and prints
 * `S\t<index>\t<rc>\t<base64 stdout>\t<base64 stderr>` per task.
 */
export function buildSubmitProgram(
  items: readonly SubmitItem[],
  dirs: readonly string[],
  markerDir: string,
): string {
  const lines = submitPreamble(dirs, markerDir, 'cd "$HOME" || exit 90', 'scripthut-qsub');
  for (const item of items) {
    lines.push(`# --- task ${item.index} ---`);
    lines.push(withHeredoc('qsub >"$T/o" 2>"$T/e"', item.script));
    lines.push(submitAnswerLine(item.index, '"$?"'));
  }
  return `${lines.join('\n')}\n`;
}

/** Parse the `S` lines of the submission program (anything else is ignored). */
export function parseSubmitAnswer(stdout: string): Map<number, SubmitLine> {
  const out = new Map<number, SubmitLine>();
  for (const line of stdout.split('\n')) {
    const f = line.replace(/\r$/, '').split('\t');
    const task = parseSubmitAnswerLine(f);
    if (task) out.set(task.index, task);
  }
  return out;
}

/** Format of the job records the status program asks qstat for. */
export type StatusFormat = 'json' | 'text' | 'xml';

/** Inputs of {@link buildStatusProgram}. */
export interface StatusProgramOptions {
  flavour: PbsFlavour;
  ids: readonly string[];
  markerDir: string;
  /** Tags whose exit markers are read in the same round trip. */
  tags: readonly string[];
  /** PBS Pro: `json` (default) or `text`; Torque: `xml` (default) or `text`. */
  format: StatusFormat;
  /** PBS Pro: the server keeps job history, so `-x` shows finished jobs (ignored for Torque). */
  history: boolean;
}

/**
 * The status program: qstat over every id (in chunks), then the exit markers of the given tags (no
 * scheduler command). Sections: `@@fmt`, `@@history`, `@@out`, `@@rc`, `@@err`, `@@markers`, `@@end`.
 *
 * PBS Pro with history on queries `qstat -x -f` (live and finished jobs). A server with history
 * off refuses `-x`: exit 0, no jobs, `PBS is not configured to maintain job history` on stderr
 * (OpenPBS 23.06), so the program then asks again without `-x`; with history off it queries without `-x` (live jobs only: finished ones are settled by
 * their exit markers), and a "Job has finished, use -x" answer means the server keeps history after
 * all, so it asks again with `-x`. `@@history` reports the mode the answer was obtained in. When
 * `-F json` is unknown (old servers) it falls back to text. qstat runs with `TZ=UTC` so that its
 * ctime dates are UTC whatever the login shell's time zone.
 */
export function buildStatusProgram(o: StatusProgramOptions): string {
  const pro = o.flavour === 'pro';
  const fmt = pro ? (o.format === 'text' ? 'text' : 'json') : o.format === 'text' ? 'text' : 'xml';
  const lines = [
    ...programHead('scripthut-qstat'),
    idsFile(o.ids),
    'q() { : >"$T/o"; : >"$T/e"; rc=0; while read -r c; do TZ=UTC qstat "$@" $c >>"$T/o" 2>>"$T/e"; r=$?; [ "$r" -ne 0 ] && rc=$r; done <"$T/ids"; }',
    `fmt=${fmt}; h=${pro && o.history ? 1 : 0}`,
    pro
      ? `opts() { o='-f'; [ "$h" = 1 ] && o="$o -x"; [ "$fmt" = json ] && o="$o -F json"; }`
      : // Torque: `-t` when array elements are asked for (qstat shows arrays summarised without it)
        `opts() { o='-f${o.ids.some((id) => id.includes('[')) ? ' -t' : ''}'; [ "$fmt" = xml ] && o="$o -x"; }`,
    'opts; q $o',
    `if [ "$rc" -ne 0 ] && [ ! -s "$T/o" ] && grep -qiE 'invalid option|illegal option|unknown option|usage' "$T/e"; then fmt=text; opts; q $o; fi`,
  ];
  if (pro) {
    lines.push(
      `if [ "$h" = 1 ] && { grep -q '${HISTORY_OFF}' "$T/e" || { [ ! -s "$T/e" ] && ! grep -qE '"Jobs"|^Job Id:' "$T/o"; }; }; then h=0; opts; q $o; fi`,
      `if [ "$h" = 0 ] && grep -q 'Job has finished' "$T/e"; then h=1; opts; q $o; fi`,
    );
  }
  lines.push(
    `printf '@@fmt\\n%s\\n@@history\\n%s\\n@@out\\n' "$fmt" "$h"; cat "$T/o"`,
    `printf '\\n@@rc\\n%s\\n@@err\\n' "$rc"; head -c 65536 "$T/e"`,
    `printf '\\n@@markers\\n'`,
    markerLoop(o.markerDir, o.tags),
    `printf '\\n@@end\\n'`,
  );
  return `${lines.join('\n')}\n`;
}

/** What qstat/qselect print for `-x` when the server keeps no job history (they still exit 0). */
export const HISTORY_OFF = 'not configured to maintain job history';

/** qstat/qdel messages that only say "this job is not (or no longer) there". */
export const GONE_JOB =
  /Unknown Job Id|Job has finished|Invalid state for job - COMPLETE|Request invalid for state of job|job has already finished/i;

/** True when every non-blank stderr line is a {@link GONE_JOB} message. */
export function onlyGoneJobErrors(stderr: string): boolean {
  return stderr
    .split('\n')
    .filter((l) => l.trim())
    .every((l) => GONE_JOB.test(l));
}

/**
 * The tag lookup: `qselect -u <user>` (with `-x` when the server keeps job history, retried without
 * it when the server says it keeps none) lists the ids of the user's own jobs, then `qstat -f`
 * over them (in chunks, by xargs) reduced on the server to `Job Id:` and `Job_Name =` lines. Other
 * users' jobs and the server's whole history are never scanned. Sections `@@history` (1/0, the
 * mode the lookup ran in), `@@out`, `@@end`.
 */
export function buildFindByTagsProgram(flavour: PbsFlavour, history: boolean): string {
  const h = flavour === 'pro' && history ? 1 : 0;
  return [
    ...programHead('scripthut-qselect'),
    `u=$(id -un); h=${h}; x=; [ "$h" = 1 ] && x=-x`,
    'qselect -u "$u" $x >"$T/ids" 2>"$T/e"',
    `if [ "$h" = 1 ] && grep -q '${HISTORY_OFF}' "$T/e"; then h=0; x=; qselect -u "$u" >"$T/ids" 2>/dev/null; fi`,
    `printf '@@history\n%s\n@@out\n' "$h"`,
    `TZ=UTC xargs -r -n ${IDS_PER_CALL} qstat -f $x <"$T/ids" 2>/dev/null | grep -E '^Job Id: |^[[:space:]]+Job_Name = '`,
    `printf '\n@@end\n'`,
  ].join('\n');
}

/**
 * Cancellation: `qdel` over the given ids that the server still lists for the user, in chunks,
 * jobs that already ran first and jobs that never ran (Q/H/W/T) last. Sections `@@rc` (qdel's),
 * `@@err`, `@@end`, or `@@qselect` with qselect's exit code when the live jobs cannot be listed.
 *
 * Why: OpenPBS 23.06.06's pbs_server crashes (segfault, every client then gets "Connection
 * refused") on a delete-list request in which a job that never ran is followed by an id the server
 * does not know (`qdel <queued> <finished or unknown>`), in both history modes. Only ids that
 * `qselect` just listed are sent, and unknown ids can only appear by a job that already ran ending
 * meanwhile, which is harmless ahead of the never-ran jobs.
 *
 * Array elements (`123[7].server`): PBS Pro's plain `qselect` lists only the array `123[]`, so
 * `qselect -T` (jobs and subjobs) is used. Torque's qselect has no `-T` and lists the elements
 * themselves (its select walks the server's job list, which holds elements, not the array); an
 * element also counts as live when its array `123[].server` is listed, so that the program
 * cancels it whichever of the two a Torque release lists.
 */
export function buildCancelProgram(ids: readonly string[], flavour: PbsFlavour = 'pro'): string {
  const elements = ids.some((id) => id.includes('['));
  const t = elements && flavour === 'pro' ? ' -T' : '';
  const mine =
    elements && flavour === 'torque'
      ? `awk 'NR==FNR{live[$0]=1;next} {a=$0; sub(/\\[[0-9]+\\]/,"[]",a)} ($0 in live)||(a in live)' "$T/live" "$T/want" >"$T/mine"`
      : 'grep -Fxf "$T/live" "$T/want" >"$T/mine"';
  return [
    ...programHead('scripthut-qdel'),
    withHeredoc('tr " " "\\n" >"$T/want"', idChunkLines(ids)),
    'u=$(id -un)',
    `qselect -u "$u"${t} >"$T/live" 2>"$T/e" && qselect -u "$u"${t} -s QHWT >"$T/q" 2>>"$T/e" || { r=$?; printf '@@qselect\\n%s\\n@@err\\n' "$r"; head -c 65536 "$T/e"; printf '\\n@@end\\n'; exit 0; }`,
    `${mine}; grep -Fvxf "$T/q" "$T/mine" >"$T/order"; grep -Fxf "$T/q" "$T/mine" >>"$T/order"`,
    `rc=0; xargs -r -n ${IDS_PER_CALL} qdel <"$T/order" 2>"$T/e" || rc=$?`,
    `printf '@@rc\\n%s\\n@@err\\n' "$rc"; head -c 65536 "$T/e"`,
    `printf '\\n@@end\\n'`,
  ].join('\n');
}

/**
 * The last 4 KiB of each file, base64 on one line per file: `@@tail<i>` sections (empty when the
 * file is missing), then `@@end`. Used for the stderr of jobs that vanished without an exit marker.
 */
export function buildTailsProgram(paths: readonly string[]): string {
  const lines = paths.map(
    (p, i) =>
      `printf '@@tail${i}\\n'; tail -c 4096 -- ${shellQuotePath(p)} 2>/dev/null | base64 | tr -d '\\n'; echo`,
  );
  lines.push(`printf '@@end\\n'`);
  return lines.join('\n');
}

/**
 * Dialect and job-history detection: `qstat --version` and `qstat -Bf`, one round trip, sections
 * `@@version`, `@@server`, `@@end`.
 */
export function buildDetectProgram(): string {
  return [
    `printf '@@version\\n'; qstat --version 2>&1 | head -c 4096`,
    `printf '\\n@@server\\n'; TZ=UTC qstat -Bf 2>&1 | head -c 65536`,
    `printf '\\n@@end\\n'`,
  ].join('\n');
}

/** Cluster information: `pbsnodes -a`, `qstat -Qf`, `qstat -Bf` and `df -Pk` of `cloneDir`. */
export function buildClusterInfoProgram(cloneDir: string): string {
  return [
    `printf '@@nodes\\n'; TZ=UTC pbsnodes -a 2>/dev/null`,
    `printf '\\n@@queues\\n'; TZ=UTC qstat -Qf 2>/dev/null`,
    `printf '\\n@@server\\n'; TZ=UTC qstat -Bf 2>/dev/null`,
    `printf '\\n@@df\\n'; ${diskUsageCommand(cloneDir)}`,
    `printf '\\n@@end\\n'`,
  ].join('\n');
}

/** `qstat -a [-u user]` of other people's (or the user's) jobs. */
export function externalJobsCommand(user: string | null): string {
  return user ? `TZ=UTC qstat -a -u ${shellQuote(user)}` : 'TZ=UTC qstat -a';
}

/** `df -Pk` → disk usage of `path`. */
export function parseDfPk(
  text: string,
  path: string,
): { path: string; totalBytes: number; availableBytes: number } | null {
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 6 && /^\d+$/.test(f[1]!) && /^\d+$/.test(f[3]!))
      return { path, totalBytes: Number(f[1]) * 1024, availableBytes: Number(f[3]) * 1024 };
  }
  return null;
}
