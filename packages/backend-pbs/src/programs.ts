/**
 * Bash programs the PBS backend sends over SSH (on stdin), and the parsers of their
 * machine-readable answers. Every interpolated value goes through `shellQuote`/`shellQuotePath`;
 * job scripts travel in quoted heredocs (`withHeredoc`), so nothing inside them is expanded.
 */
import { shellQuote, shellQuotePath, withHeredoc } from '@scripthut/core';
import { isValidPbsJobId, type PbsFlavour } from './parse.js';

/** One job script to submit. */
export interface SubmitItem {
  /** Position in the batch (echoed back in the answer). */
  index: number;
  script: string;
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
  const lines: string[] = ['set -u', 'cd "$HOME" || exit 90', `M=${shellQuotePath(markerDir)}`];
  const uniqueDirs = [...new Set(dirs)].filter(Boolean);
  lines.push(
    `mkdir -p -- ${[...uniqueDirs.map(shellQuotePath), '"$M"'].join(' ')} 2>/dev/null; printf 'D\\t%s\\n' "$?"`,
  );
  lines.push(`find "$M" -maxdepth 1 -name '*.rc' -mtime +14 -delete 2>/dev/null`);
  lines.push('T=$(mktemp -d 2>/dev/null || { d="/tmp/scripthut-qsub.$$"; mkdir -p "$d" && echo "$d"; })');
  lines.push(`trap 'rm -rf "$T"' EXIT`);
  for (const item of items) {
    lines.push(`# --- task ${item.index} ---`);
    lines.push(withHeredoc('qsub >"$T/o" 2>"$T/e"', item.script));
    lines.push(
      `printf 'S\\t%s\\t%s\\t%s\\t%s\\n' ${item.index} "$?" "$(base64 <"$T/o" | tr -d '\\n')" "$(base64 <"$T/e" | tr -d '\\n')"`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Answer of one task in the submission program. */
export interface SubmitLine {
  index: number;
  rc: number;
  stdout: string;
  stderr: string;
}

const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** Parse the `S` lines of the submission program (anything else is ignored). */
export function parseSubmitAnswer(stdout: string): Map<number, SubmitLine> {
  const out = new Map<number, SubmitLine>();
  for (const line of stdout.split('\n')) {
    const f = line.replace(/\r$/, '').split('\t');
    if (f[0] === 'S' && f.length === 5 && /^\d+$/.test(f[1]!) && /^\d+$/.test(f[2]!)) {
      const index = Number(f[1]);
      out.set(index, { index, rc: Number(f[2]), stdout: b64(f[3]), stderr: b64(f[4]) });
    }
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

/** `cd markerDir && for f in <tag>.rc ...; do [ -f "$f" ] && printf '%s %s\n' <tag> <code>; done`. */
export function markerLoop(markerDir: string, tags: readonly string[]): string {
  if (!tags.length) return 'true';
  const files = tags.map((t) => shellQuote(`${t}.rc`)).join(' ');
  return `(cd ${shellQuotePath(markerDir)} 2>/dev/null && for f in ${files}; do [ -f "$f" ] && printf '%s %s\\n' "\${f%.rc}" "$(head -c 32 "$f" | tr -d '\\n')"; done); true`;
}

/** Parse `<tag> <code>` marker lines into tag → exit code. */
export function parseMarkers(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) (-?\d+)\s*$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** Split `@@name` sections. */
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
    `printf '\\n@@df\\n'; d=${shellQuotePath(cloneDir)}; while [ ! -e "$d" ] && [ "$d" != / ] && [ "$d" != . ]; do d=$(dirname "$d"); done; df -Pk "$d" 2>/dev/null`,
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

/**
 * Log reader: prints `MISSING`, or `SIZE <n>`, `OFFSET <start>`, `DATA <base64>` for up to
 * `maxBytes` from `offset` (or the last `tailBytes`).
 */
export function buildReadLogProgram(
  path: string,
  opts: { offset?: number; tailBytes?: number; maxBytes: number },
): string {
  const max = Math.max(0, Math.floor(opts.maxBytes));
  const lines = [
    `f=${shellQuotePath(path)}`,
    `if [ ! -f "$f" ]; then echo MISSING; exit 0; fi`,
    `s=$(wc -c <"$f" | tr -d ' ')`,
  ];
  if (opts.offset !== undefined) lines.push(`o=${Math.max(0, Math.floor(opts.offset))}`);
  else if (opts.tailBytes !== undefined) {
    const t = Math.max(0, Math.floor(opts.tailBytes));
    lines.push(`o=$(( s > ${t} ? s - ${t} : 0 ))`);
  } else lines.push('o=0');
  lines.push(`printf 'SIZE %s\\nOFFSET %s\\n' "$s" "$o"`);
  lines.push(`printf 'DATA %s\\n' "$(tail -c +$((o + 1)) "$f" | head -c ${max} | base64 | tr -d '\\n')"`);
  return `${lines.join('\n')}\n`;
}

/** Parsed answer of {@link buildReadLogProgram}. */
export function parseReadLogAnswer(
  stdout: string,
): { missing: true } | { missing: false; size: number; offset: number; data: Buffer } {
  if (/^MISSING$/m.test(stdout)) return { missing: true };
  const size = /^SIZE (\d+)$/m.exec(stdout);
  const offset = /^OFFSET (\d+)$/m.exec(stdout);
  const data = /^DATA ?(\S*)$/m.exec(stdout);
  if (!size || !offset || !data) throw new Error('unexpected answer from the log reader');
  return {
    missing: false,
    size: Number(size[1]),
    offset: Number(offset[1]),
    data: Buffer.from(data[1] ?? '', 'base64'),
  };
}
