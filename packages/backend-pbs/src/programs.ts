/**
 * Bash programs the PBS backend sends over SSH (on stdin), and the parsers of their
 * machine-readable answers. Every interpolated value goes through `shellQuote`/`shellQuotePath`;
 * job scripts travel in quoted heredocs (`withHeredoc`), so nothing inside them is expanded.
 */
import { shellQuote, withHeredoc } from '@scripthut/core';
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

/** The `qstat` command that reports full records of the given jobs (finished ones included). */
export function statusCommand(
  flavour: PbsFlavour,
  ids: readonly string[],
  format: 'json' | 'text' | 'xml',
): string {
  for (const id of ids) if (!isValidPbsJobId(id)) throw new Error(`invalid job id: ${id}`);
  const list = ids.map(shellQuote).join(' ');
  if (flavour === 'torque') return format === 'xml' ? `qstat -f -x ${list}` : `qstat -f ${list}`;
  return format === 'json' ? `qstat -x -f -F json ${list}` : `qstat -x -f ${list}`;
}

/**
 * The status program: ONE qstat for all ids (PBS Pro: JSON, falling back to text when `-F json` is
 * not supported; Torque: XML), then the exit markers of the given tags (no scheduler command).
 * Sections: `@@fmt`, `@@out`, `@@rc`, `@@err`, `@@markers`, `@@end`.
 */
export function buildStatusProgram(
  flavour: PbsFlavour,
  ids: readonly string[],
  markerDir: string,
  tags: readonly string[],
): string {
  const first = flavour === 'pro' ? 'json' : 'xml';
  const second = 'text';
  const lines = [
    'T=$(mktemp -d 2>/dev/null || { d="/tmp/scripthut-qstat.$$"; mkdir -p "$d" && echo "$d"; })',
    `trap 'rm -rf "$T"' EXIT`,
    `fmt=${first}`,
    `${statusCommand(flavour, ids, first)} >"$T/o" 2>"$T/e"; rc=$?`,
    `if [ "$rc" -ne 0 ] && [ ! -s "$T/o" ] && grep -qiE 'invalid option|illegal option|unknown option|usage' "$T/e"; then fmt=${second}; ${statusCommand(flavour, ids, second)} >"$T/o" 2>"$T/e"; rc=$?; fi`,
    `printf '@@fmt\\n%s\\n@@out\\n' "$fmt"; cat "$T/o"`,
    `printf '\\n@@rc\\n%s\\n@@err\\n' "$rc"; head -c 65536 "$T/e"`,
    `printf '\\n@@markers\\n'`,
    markerLoop(markerDir, tags),
    `printf '\\n@@end\\n'`,
  ];
  return `${lines.join('\n')}\n`;
}

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
 * Flavour detection: `qstat --version` and `qstat -Bf`, one round trip, sections `@@version`,
 * `@@server`, `@@end`.
 */
export function buildDetectProgram(): string {
  return [
    `printf '@@version\\n'; qstat --version 2>&1 | head -c 4096`,
    `printf '\\n@@server\\n'; qstat -Bf 2>&1 | head -c 65536`,
    `printf '\\n@@end\\n'`,
  ].join('\n');
}

/** Cluster information: `pbsnodes -a`, `qstat -Qf`, `qstat -Bf` and `df -Pk` of `cloneDir`. */
export function buildClusterInfoProgram(cloneDir: string): string {
  return [
    `printf '@@nodes\\n'; pbsnodes -a 2>/dev/null`,
    `printf '\\n@@queues\\n'; qstat -Qf 2>/dev/null`,
    `printf '\\n@@server\\n'; qstat -Bf 2>/dev/null`,
    `printf '\\n@@df\\n'; ${diskUsageCommand(cloneDir)}`,
    `printf '\\n@@end\\n'`,
  ].join('\n');
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
