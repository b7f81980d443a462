/**
 * Bash programs the Slurm backend sends over SSH (on stdin), and the parsers of their
 * machine-readable answers. Every interpolated value goes through `shellQuote`/`shellQuotePath`;
 * job scripts travel in quoted heredocs (`withHeredoc`), so nothing inside them is expanded.
 */
import { shellQuote, shellQuotePath, withHeredoc } from '@scripthut/core';
import {
  diskUsageCommand,
  markerLoop,
  parseMarkers,
  parseSubmitAnswerLine,
  type SubmitItem,
  type SubmitLine,
  submitAnswerLine,
  submitPreamble,
} from '@scripthut/ssh';
import { isValidJobId, SACCT_FIELDS, SQUEUE_STATUS_FORMAT } from './parse.js';

export type { SubmitItem, SubmitLine };

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
  const lines = submitPreamble(dirs, markerDir, 'H="$HOME"; export H', 'scripthut-submit');
  lines.push('ids=');
  for (const item of items) {
    lines.push(`# --- task ${item.index} ---`);
    lines.push(withHeredoc('sbatch --parsable >"$T/o" 2>"$T/e"', item.script));
    lines.push('rc=$?');
    lines.push(submitAnswerLine(item.index, '"$rc"'));
    lines.push(
      `if [ "$rc" = 0 ]; then IFS= read -r id <"$T/o"; id=\${id%%;*}; id=\${id//[[:space:]]/}; case "$id" in ''|*[!0-9]*) ;; *) ids="$ids\${ids:+,}$id" ;; esac; fi`,
    );
  }
  lines.push(
    `if [ -n "$ids" ]; then squeue -h -t all -j "$ids" -o '%i' >"$T/v" 2>/dev/null; printf 'V\\t%s\\t%s\\n' "$?" "$(tr '\\n' ',' <"$T/v")"; fi`,
  );
  return `${lines.join('\n')}\n`;
}

/** Parsed answer of {@link buildSubmitProgram}. */
export interface SubmitAnswer {
  mkdirRc: number | null;
  tasks: Map<number, SubmitLine>;
  /** Ids squeue saw right after submission; null when verification did not run or failed. */
  verified: Set<string> | null;
}

/** Parse the machine-readable lines of the submission program (anything else is ignored). */
export function parseSubmitAnswer(stdout: string): SubmitAnswer {
  const answer: SubmitAnswer = { mkdirRc: null, tasks: new Map(), verified: null };
  for (const line of stdout.split('\n')) {
    const f = line.replace(/\r$/, '').split('\t');
    const task = parseSubmitAnswerLine(f);
    if (f[0] === 'D' && f.length === 2) answer.mkdirRc = Number(f[1]);
    else if (task) answer.tasks.set(task.index, task);
    else if (f[0] === 'V' && f.length === 3 && f[1] === '0') {
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
 * Cluster-information program: sinfo partitions, per-node CPUs, pending reasons and `df -Pk` of the
 * nearest existing ancestor of `cloneDir`, in sections `@@sinfo`, `@@nodes`, `@@pd`, `@@df`.
 */
export function buildClusterInfoProgram(cloneDir: string): string {
  return [
    `printf '\\n@@sinfo\\n'; sinfo -h -o '%P|%a|%D|%t|%C|%l' 2>/dev/null`,
    `printf '\\n@@nodes\\n'; sinfo -h -N -o '%N|%C' 2>/dev/null`,
    `printf '\\n@@pd\\n'; squeue -h -t PD -o '%r' 2>/dev/null`,
    `printf '\\n@@df\\n'; ${diskUsageCommand(cloneDir)}`,
    `printf '\\n@@end\\n'`,
  ]
    .join('\n')
    .concat('\n');
}
