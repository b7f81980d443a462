/**
 * Bash programs the Slurm backend sends over SSH (on stdin), and the parsers of their
 * machine-readable answers. Every interpolated value goes through `shellQuote`/`shellQuotePath`;
 * job scripts travel in quoted heredocs (`withHeredoc`), so nothing inside them is expanded.
 */
import { shellQuote, shellQuotePath, withHeredoc } from '@scripthut/core';
import { isValidJobId, SACCT_FIELDS, SQUEUE_STATUS_FORMAT } from './parse.js';

/** One job script to submit, with the directories that must exist before sbatch runs. */
export interface SubmitItem {
  /** Position in the batch (echoed back in the answer). */
  index: number;
  script: string;
}

/**
 * The batch-submission program: resolves `$HOME` once, creates all log directories and the marker
 * directory, then runs `sbatch --parsable` once per script (script on a quoted heredoc) and prints
 * `S\t<index>\t<rc>\t<base64 stdout>\t<base64 stderr>` per task, then one verification line
 * `V\t<rc>\t<ids seen by squeue, comma separated>` for the accepted ids.
 */
export function buildSubmitProgram(
  items: readonly SubmitItem[],
  dirs: readonly string[],
  markerDir: string,
): string {
  const lines: string[] = [];
  lines.push('set -u');
  lines.push('H="$HOME"; export H');
  lines.push(`M=${shellQuotePath(markerDir)}`);
  const uniqueDirs = [...new Set(dirs)].filter(Boolean);
  lines.push(
    `mkdir -p -- ${[...uniqueDirs.map(shellQuotePath), '"$M"'].join(' ')} 2>/dev/null; printf 'D\\t%s\\n' "$?"`,
  );
  // Markers are tiny; drop the ones older than two weeks so the directory stays small.
  lines.push(`find "$M" -maxdepth 1 -name '*.rc' -mtime +14 -delete 2>/dev/null`);
  lines.push('T=$(mktemp -d 2>/dev/null || { d="/tmp/scripthut-submit.$$"; mkdir -p "$d" && echo "$d"; })');
  lines.push(`trap 'rm -rf "$T"' EXIT`);
  lines.push('ids=');
  for (const item of items) {
    lines.push(`# --- task ${item.index} ---`);
    lines.push(withHeredoc('sbatch --parsable >"$T/o" 2>"$T/e"', item.script));
    lines.push('rc=$?');
    lines.push(
      `printf 'S\\t%s\\t%s\\t%s\\t%s\\n' ${item.index} "$rc" "$(base64 <"$T/o" | tr -d '\\n')" "$(base64 <"$T/e" | tr -d '\\n')"`,
    );
    lines.push(
      `if [ "$rc" = 0 ]; then id=$(tr -d ' \\r\\n' <"$T/o"); case "$id" in ''|*[!0-9]*) ;; *) ids="$ids\${ids:+,}$id" ;; esac; fi`,
    );
  }
  lines.push(
    `if [ -n "$ids" ]; then squeue -h -t all -j "$ids" -o '%i' >"$T/v" 2>/dev/null; printf 'V\\t%s\\t%s\\n' "$?" "$(tr '\\n' ',' <"$T/v")"; fi`,
  );
  return `${lines.join('\n')}\n`;
}

/** Answer of one task in the submission program. */
export interface SubmitLine {
  index: number;
  rc: number;
  stdout: string;
  stderr: string;
}

/** Parsed answer of {@link buildSubmitProgram}. */
export interface SubmitAnswer {
  mkdirRc: number | null;
  tasks: Map<number, SubmitLine>;
  /** Ids squeue saw right after submission; null when verification did not run or failed. */
  verified: Set<string> | null;
}

const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** Parse the machine-readable lines of the submission program (anything else is ignored). */
export function parseSubmitAnswer(stdout: string): SubmitAnswer {
  const answer: SubmitAnswer = { mkdirRc: null, tasks: new Map(), verified: null };
  for (const line of stdout.split('\n')) {
    const f = line.replace(/\r$/, '').split('\t');
    if (f[0] === 'D' && f.length === 2) answer.mkdirRc = Number(f[1]);
    else if (f[0] === 'S' && f.length === 5 && /^\d+$/.test(f[1]!) && /^\d+$/.test(f[2]!)) {
      const index = Number(f[1]);
      answer.tasks.set(index, { index, rc: Number(f[2]), stdout: b64(f[3]), stderr: b64(f[4]) });
    } else if (f[0] === 'V' && f.length === 3 && f[1] === '0') {
      answer.verified = new Set(
        f[2]!
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      );
    }
  }
  return answer;
}

/**
 * The status program: ONE `squeue -t all` for all ids, its rc, then the exit markers of the given
 * tags (no scheduler command). Output: squeue rows, `@@rc <n>`, then `@@m <tag> <code>` lines.
 */
export function buildStatusProgram(
  ids: readonly string[],
  markerDir: string,
  tags: readonly string[],
): string {
  for (const id of ids) if (!isValidJobId(id)) throw new Error(`invalid job id: ${id}`);
  const lines: string[] = [];
  if (ids.length) {
    lines.push(
      `TZ=UTC squeue -h -t all -j ${shellQuote(ids.join(','))} -o ${shellQuote(SQUEUE_STATUS_FORMAT)}`,
    );
    lines.push(`printf '\\n@@rc %s\\n' "$?"`);
  }
  lines.push(markerLoop(markerDir, tags, '@@m '));
  return `${lines.join('\n')}\n`;
}

/** `cd markerDir && for f in <tag>.rc ...; do [ -f "$f" ] && printf '<prefix>%s %s\n' ...; done`. */
export function markerLoop(markerDir: string, tags: readonly string[], prefix = ''): string {
  if (!tags.length) return 'true';
  const files = tags.map((t) => shellQuote(`${t}.rc`)).join(' ');
  return `cd ${shellQuotePath(markerDir)} 2>/dev/null && for f in ${files}; do [ -f "$f" ] && printf '${prefix}%s %s\\n' "\${f%.rc}" "$(head -c 32 "$f" | tr -d '\\n')"; done; true`;
}

/** Parse `<tag> <code>` marker lines (with an optional prefix) into tag → exit code. */
export function parseMarkers(stdout: string, prefix = ''): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const m = /^(\S+) (-?\d+)\s*$/.exec(line.slice(prefix.length));
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** Split the status program's answer into squeue stdout, squeue rc and markers. */
export function parseStatusAnswer(stdout: string): {
  squeue: string;
  squeueRc: number | null;
  markers: Map<string, number>;
} {
  const lines = stdout.split('\n');
  const rcAt = lines.findIndex((l) => /^@@rc \d+$/.test(l));
  const squeue = (rcAt >= 0 ? lines.slice(0, rcAt) : lines.filter((l) => !l.startsWith('@@'))).join('\n');
  const squeueRc = rcAt >= 0 ? Number(lines[rcAt]!.slice(5)) : null;
  return { squeue, squeueRc, markers: parseMarkers(stdout, '@@m ') };
}

/**
 * The accounting program: one time-bounded `sacct` for the given ids, then, for jobs whose stderr
 * path is known, whether the end of that file says `exceeded memory limit` (`@@oom <id>`).
 */
export function buildSacctProgram(
  ids: readonly string[],
  starttime: string | null,
  stderrPaths: ReadonlyMap<string, string>,
  timeoutSeconds = 25,
): string {
  for (const id of ids) if (!isValidJobId(id)) throw new Error(`invalid job id: ${id}`);
  const lines: string[] = [];
  const st = starttime ? ` --starttime=${shellQuote(starttime)}` : '';
  lines.push(
    `TZ=UTC timeout ${timeoutSeconds} sacct -n -P --format=${SACCT_FIELDS.join(',')} -j ${shellQuote(ids.join(','))}${st}`,
  );
  lines.push(`printf '\\n@@rc %s\\n' "$?"`);
  for (const [id, path] of stderrPaths) {
    if (!isValidJobId(id)) continue;
    lines.push(
      `tail -c 65536 ${shellQuotePath(path)} 2>/dev/null | grep -q 'exceeded memory limit' && printf '@@oom %s\\n' ${id}`,
    );
  }
  lines.push('true');
  return `${lines.join('\n')}\n`;
}

/** Split the accounting program's answer. */
export function parseSacctAnswer(stdout: string): {
  sacct: string;
  sacctRc: number | null;
  oom: Set<string>;
} {
  const lines = stdout.split('\n');
  const rcAt = lines.findIndex((l) => /^@@rc \d+$/.test(l));
  const sacct = (rcAt >= 0 ? lines.slice(0, rcAt) : lines.filter((l) => !l.startsWith('@@'))).join('\n');
  const oom = new Set(lines.filter((l) => l.startsWith('@@oom ')).map((l) => l.slice(6).trim()));
  return { sacct, sacctRc: rcAt >= 0 ? Number(lines[rcAt]!.slice(5)) : null, oom };
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

/**
 * Cluster-information program: sinfo partitions, per-node CPUs, pending reasons and `df -Pk` of the
 * nearest existing ancestor of `cloneDir`, in sections `@@sinfo`, `@@nodes`, `@@pd`, `@@df`.
 */
export function buildClusterInfoProgram(cloneDir: string): string {
  return [
    `printf '\\n@@sinfo\\n'; sinfo -h -o '%P|%a|%D|%t|%C|%l' 2>/dev/null`,
    `printf '\\n@@nodes\\n'; sinfo -h -N -o '%N|%C' 2>/dev/null`,
    `printf '\\n@@pd\\n'; squeue -h -t PD -o '%r' 2>/dev/null`,
    `printf '\\n@@df\\n'; d=${shellQuotePath(cloneDir)}; while [ ! -e "$d" ] && [ "$d" != / ] && [ "$d" != . ]; do d=$(dirname "$d"); done; df -Pk "$d" 2>/dev/null`,
    `printf '\\n@@end\\n'`,
  ]
    .join('\n')
    .concat('\n');
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
