/**
 * Bash programs the Slurm backend sends over SSH (on stdin), and the parsers of their
 * machine-readable answers. Every interpolated value goes through `shellQuote`/`shellQuotePath`;
 * job scripts travel in quoted heredocs (`withHeredoc`), id and tag lists in quoted heredocs too
 * (no argument-size limit: 20,000 ids are fine), so nothing inside them is expanded.
 *
 * Every program starts with {@link SLURM_ENV_RESET} (added by the backend's `run`): variables a
 * user may have set in their rc files (`SBATCH_PARTITION`, `SQUEUE_FORMAT`, `SLURM_CLUSTERS`,
 * `SLURM_TIME_FORMAT`, …) and shell functions named like our commands cannot change what the
 * commands do.
 */
import { shellQuote, shellQuotePath, withHeredoc } from '@scripthut/core';
import {
  diskUsageCommand,
  markerCreateLine,
  markerLoopFromFile,
  markerRemoveLine,
  parseMarkers,
  parseSubmitAnswerLine,
  type SubmitItem,
  type SubmitLine,
  splitSections,
  submitAnswerLine,
  submitPreamble,
} from '@scripthut/ssh';
import { isValidJobId, SACCT_FIELDS, SQUEUE_STATUS_FORMAT } from './parse.js';

export type { SubmitItem, SubmitLine };

/**
 * First lines of every Slurm program: unsets the environment variables that change what sbatch,
 * squeue, sacct, sinfo and scancel do (every `SBATCH_*`, `SQUEUE_*`, `SACCT_*`, `SINFO_*`,
 * `SCANCEL_*`, `SCONTROL_*`, and `SLURM_*` except `SLURM_CONF`, which locates the configuration)
 * and every shell function (an exported `squeue()` would shadow the command). Commands whose output
 * has dates get `SLURM_TIME_FORMAT=standard TZ=UTC` on their own command line, never exported, so
 * jobs keep the user's time zone.
 */
export const SLURM_ENV_RESET = [
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash ${!prefix*} expansion
  'unset ${!SBATCH_*} ${!SQUEUE_*} ${!SACCT_*} ${!SINFO_*} ${!SCANCEL_*} ${!SCONTROL_*} 2>/dev/null',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash ${!prefix*} expansion
  'for __v in ${!SLURM_*}; do [ "$__v" = SLURM_CONF ] || unset "$__v"; done; unset __v',
  'while read -r _ _ __f; do unset -f "$__f"; done < <(declare -F); unset __f',
].join('\n');

/** Cluster of a query: a name for `-M <name>`, or null for the default cluster (no `-M`). */
export type ClusterName = string | null;

const CLUSTER_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** ` -M <cluster>` or '' (cluster names are checked, never quoted into anything else). */
export function clusterFlag(cluster: ClusterName): string {
  if (cluster === null) return '';
  if (!CLUSTER_RE.test(cluster)) throw new Error(`invalid cluster name: ${cluster}`);
  return ` -M ${cluster}`;
}

/**
 * The batch-submission program: resolves `$HOME` once, creates all log directories and the marker
 * directory, then per task creates its empty exit marker and runs `sbatch --parsable` (script on a
 * quoted heredoc), printing `J`/`S` answer lines; a task sbatch refused loses its marker. Last, one
 * verification line `V\t<rc>\t<ids seen by squeue, comma separated>` for the accepted ids of the
 * default cluster.
 */
export function buildSubmitProgram(
  items: readonly (SubmitItem & { tag: string })[],
  dirs: readonly string[],
  markerDir: string,
): string {
  const lines = submitPreamble(dirs, markerDir, 'H="$HOME"; export H', 'scripthut-submit');
  lines.push('ids=');
  for (const item of items) {
    lines.push(`# --- task ${item.index} ---`);
    lines.push(markerCreateLine(item.tag));
    lines.push(withHeredoc('sbatch --parsable >"$T/o" 2>"$T/e"', item.script));
    lines.push('rc=$?');
    lines.push(submitAnswerLine(item.index, '"$rc"'));
    lines.push(
      `if [ "$rc" = 0 ]; then IFS= read -r id <"$T/o"; case "$id" in *';'*) id= ;; esac; id=\${id//[[:space:]]/}; case "$id" in ''|*[!0-9]*) ;; *) ids="$ids\${ids:+,}$id" ;; esac; else ${markerRemoveLine(item.tag)}; fi`,
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

/** A job the status program asks about. */
export interface StatusQuery {
  cluster: ClusterName;
  /** Plain Slurm job id (`123` or `123_4`). */
  id: string;
  /** Marker tag, or null when the job has none. */
  tag: string | null;
}

/** Squeue states in which a job's script has not ended: its marker is not read. */
const ACTIVE_SQUEUE_STATES = [
  'PENDING',
  'RUNNING',
  'CONFIGURING',
  'SUSPENDED',
  'REQUEUED',
  'REQUEUE_HOLD',
  'REQUEUE_FED',
  'RESV_DEL_HOLD',
  'SPECIAL_EXIT',
  'STOPPED',
  'RESIZING',
  'SIGNALING',
  'POWER_UP_NODE',
];

/**
 * The status program: per cluster ONE `squeue -u <user> -t all` (the user's own queue, including
 * recently finished jobs), filtered by awk to the asked ids (they travel in a heredoc: no argument
 * limit), then the exit markers of the jobs squeue no longer shows or shows as ended — markers of
 * pending and running jobs are not touched (on NFS each read costs the file server a lookup).
 * Sections: `@@squeue <cluster|->` (rows), `@@rc <n>`, …, `@@markers` (`@@m <tag> <code>` lines),
 * `@@end`. `before` runs first (e.g. a marker cleanup).
 */
export function buildStatusProgram(queries: readonly StatusQuery[], markerDir: string, before = ''): string {
  const clusters = [...new Set(queries.map((q) => q.cluster))];
  const want = queries.map((q) => {
    if (!isValidJobId(q.id)) throw new Error(`invalid job id: ${q.id}`);
    if (q.tag !== null && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(q.tag))
      throw new Error(`invalid tag: ${q.tag}`);
    clusterFlag(q.cluster);
    return `${q.cluster ?? '-'}|${q.id}|${q.tag ?? '-'}`;
  });
  const active = ACTIVE_SQUEUE_STATES.join('|');
  const lines = [
    before,
    'T=$(mktemp -d 2>/dev/null || { d="/tmp/scripthut-status.$$"; mkdir -p "$d" && echo "$d"; })',
    `trap 'rm -rf "$T"' EXIT`,
    `cat >"$T/want" <<'SCRIPTHUT_IDS'\n${want.join('\n')}\nSCRIPTHUT_IDS`,
    ': >"$T/tags"',
    'u=$(id -un)',
  ];
  for (const cluster of clusters) {
    lines.push(
      `printf '@@squeue %s\\n' ${cluster ?? '-'}`,
      `SLURM_TIME_FORMAT=standard TZ=UTC squeue -h -r -t all -u "$u"${clusterFlag(cluster)} -o ${shellQuote(SQUEUE_STATUS_FORMAT)} >"$T/q"; rc=$?`,
      `awk -F'|' -v cl=${cluster ?? '-'} -v tags="$T/tags" 'FILENAME == ARGV[1] { if ($1 == cl) want[$2] = $3; next } ($1 in want) { print; seen[$1] = 1; if ($2 !~ /^(${active})$/ && want[$1] != "-") print want[$1] >> tags } END { for (id in want) if (!(id in seen) && want[id] != "-") print want[id] >> tags }' "$T/want" "$T/q"`,
      `printf '@@rc %s\\n' "$rc"`,
    );
  }
  lines.push(
    `printf '@@markers\\n'`,
    markerLoopFromFile(markerDir, '"$T/tags"', '@@m '),
    `printf '@@end\\n'`,
  );
  return `${lines.filter(Boolean).join('\n')}\n`;
}

/** The answer of {@link buildStatusProgram}. */
export interface StatusAnswer {
  /** Per queried cluster (`-` = default): its squeue rows and rc. */
  squeue: Map<string, { rows: string; rc: number | null }>;
  markers: Map<string, number>;
  /** The program ran to its end. */
  complete: boolean;
}

/** Split the status program's answer (anything outside its sections is ignored). */
export function parseStatusAnswer(stdout: string): StatusAnswer {
  const squeue = new Map<string, { rows: string; rc: number | null }>();
  let current: { rows: string[]; rc: number | null } | null = null;
  let currentName = '';
  let inMarkers = false;
  let complete = false;
  const markerLines: string[] = [];
  const flush = () => {
    if (current) squeue.set(currentName, { rows: current.rows.join('\n'), rc: current.rc });
    current = null;
  };
  for (const raw of stdout.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const sq = /^@@squeue (\S+)$/.exec(line);
    if (sq) {
      flush();
      inMarkers = false;
      currentName = sq[1]!;
      current = { rows: [], rc: null };
      continue;
    }
    const rc = /^@@rc (\d+)$/.exec(line);
    if (rc && current) {
      current.rc = Number(rc[1]);
      flush();
      continue;
    }
    if (line === '@@markers') {
      flush();
      inMarkers = true;
      continue;
    }
    if (line === '@@end') {
      complete = true;
      inMarkers = false;
      continue;
    }
    if (inMarkers) markerLines.push(line);
    else if (current) current.rows.push(line);
  }
  flush();
  return { squeue, markers: parseMarkers(markerLines.join('\n'), '@@m '), complete };
}

/** Job ids per cluster, in order. */
function groupByCluster(
  queries: readonly { cluster: ClusterName; id: string }[],
): Map<ClusterName, string[]> {
  const out = new Map<ClusterName, string[]>();
  for (const q of queries) {
    const list = out.get(q.cluster);
    if (list) list.push(q.id);
    else out.set(q.cluster, [q.id]);
  }
  return out;
}

/** sacct for this many ids or fewer is asked by id (`-j`); more are filtered from `-u <user>`. */
export const SACCT_BY_ID_LIMIT = 500;

/**
 * The accounting program: per cluster ONE time-bounded `sacct` — by id (`-j`, up to
 * {@link SACCT_BY_ID_LIMIT} ids) or, for more, the user's jobs since `starttime` filtered by awk to
 * the asked ids — then, for jobs whose stderr path is known, whether the end of that file says
 * `exceeded memory limit` (`@@oom <id>`). Sections `@@sacct <cluster|->`, `@@rc <n>`, `@@end`.
 */
export function buildSacctProgram(
  queries: readonly { cluster: ClusterName; id: string }[],
  starttime: string | null,
  stderrPaths: ReadonlyMap<string, string>,
  timeoutSeconds = 25,
  formatFields: readonly string[] = SACCT_FIELDS,
): string {
  for (const q of queries) if (!isValidJobId(q.id)) throw new Error(`invalid job id: ${q.id}`);
  for (const f of formatFields) if (!/^[A-Za-z]+$/.test(f)) throw new Error(`invalid sacct field: ${f}`);
  const byCluster = groupByCluster(queries);
  const st = starttime ? ` --starttime=${shellQuote(starttime)}` : '';
  const fields = formatFields.join(',');
  const lines: string[] = [
    'T=$(mktemp -d 2>/dev/null || { d="/tmp/scripthut-sacct.$$"; mkdir -p "$d" && echo "$d"; })',
    `trap 'rm -rf "$T"' EXIT`,
  ];
  for (const [cluster, ids] of byCluster) {
    const base = `SLURM_TIME_FORMAT=standard TZ=UTC timeout ${timeoutSeconds} sacct -n -P${clusterFlag(cluster)} --format=${fields}${st}`;
    lines.push(`printf '@@sacct %s\\n' ${cluster ?? '-'}`);
    if (ids.length <= SACCT_BY_ID_LIMIT) {
      lines.push(`${base} -j ${shellQuote(ids.join(','))}`, `printf '\\n@@rc %s\\n' "$?"`);
    } else {
      lines.push(
        `cat >"$T/ids" <<'SCRIPTHUT_IDS'\n${ids.join('\n')}\nSCRIPTHUT_IDS`,
        `${base} -u "$(id -un)" >"$T/a"; rc=$?`,
        `awk -F'|' 'FILENAME == ARGV[1] { want[$1] = 1; next } { split($1, p, "."); if (p[1] in want) print }' "$T/ids" "$T/a"`,
        `printf '\\n@@rc %s\\n' "$rc"`,
      );
    }
  }
  for (const [id, path] of stderrPaths) {
    if (!isValidJobId(id)) continue;
    lines.push(
      `tail -c 65536 ${shellQuotePath(path)} 2>/dev/null | grep -q 'exceeded memory limit' && printf '@@oom %s\\n' ${id}`,
    );
  }
  lines.push(`printf '@@end\\n'`);
  return `${lines.join('\n')}\n`;
}

/** Split the accounting program's answer. */
export function parseSacctAnswer(stdout: string): {
  sacct: Map<string, { rows: string; rc: number | null }>;
  oom: Set<string>;
  complete: boolean;
} {
  const sacct = new Map<string, { rows: string; rc: number | null }>();
  let name: string | null = null;
  let rows: string[] = [];
  const oom = new Set<string>();
  let complete = false;
  for (const raw of stdout.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const head = /^@@sacct (\S+)$/.exec(line);
    const rc = /^@@rc (\d+)$/.exec(line);
    if (head) {
      name = head[1]!;
      rows = [];
    } else if (rc && name !== null) {
      sacct.set(name, { rows: rows.join('\n'), rc: Number(rc[1]) });
      name = null;
    } else if (line.startsWith('@@oom ')) oom.add(line.slice(6).trim());
    else if (line === '@@end') complete = true;
    else if (name !== null) rows.push(line);
  }
  return { sacct, oom, complete };
}

/**
 * Tag lookup (crash recovery, ambiguous submissions): per cluster, the user's queue and 7 days of
 * accounting, keeping `id|name` lines that mention a tag (tags on stdin of `grep -F`). Sections
 * `@@squeue <cluster|->`, `@@sacct <cluster|->`, `@@end`.
 */
export function buildFindByTagsProgram(tags: readonly string[], clusters: readonly ClusterName[]): string {
  for (const t of tags) if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(t)) throw new Error(`invalid tag: ${t}`);
  const lines = [
    "__scripthut_tags() { cat <<'SCRIPTHUT_TAGS'",
    ...tags,
    'SCRIPTHUT_TAGS',
    '}',
    'u=$(id -un)',
  ];
  for (const cluster of clusters) {
    const name = cluster ?? '-';
    lines.push(
      `printf '@@squeue %s\\n' ${name}`,
      `squeue -h -t all -u "$u"${clusterFlag(cluster)} -o '%F|%j' | grep -F -f <(__scripthut_tags)`,
      `printf '\\n@@sacct %s\\n' ${name}`,
      `SLURM_TIME_FORMAT=standard TZ=UTC timeout 25 sacct -n -P -X -u "$u"${clusterFlag(cluster)} --format=JobID,JobName --starttime now-7days | grep -F -f <(__scripthut_tags)`,
      `printf '\\n'`,
    );
  }
  lines.push(`printf '@@end\\n'`);
  return `${lines.join('\n')}\n`;
}

/** Sections of {@link buildFindByTagsProgram}'s answer: `[cluster, id|name rows]` pairs. */
export function parseFindByTagsAnswer(stdout: string): {
  rows: { cluster: ClusterName; text: string }[];
  complete: boolean;
} {
  const rows: { cluster: ClusterName; text: string }[] = [];
  let cluster: ClusterName | undefined;
  let buf: string[] = [];
  let complete = false;
  const flush = () => {
    if (cluster !== undefined) rows.push({ cluster, text: buf.join('\n') });
    buf = [];
  };
  for (const line of stdout.split('\n')) {
    const m = /^@@(squeue|sacct) (\S+)$/.exec(line);
    if (m) {
      flush();
      cluster = m[2] === '-' ? null : m[2]!;
    } else if (line === '@@end') {
      flush();
      cluster = undefined;
      complete = true;
    } else if (cluster !== undefined) buf.push(line);
  }
  flush();
  return { rows, complete };
}

/**
 * Cancel program: per cluster, `scancel` in chunks of 1,000 ids (ids in the program text, never in
 * one huge argument), stderr kept. Sections `@@scancel <cluster|->`, `@@rc <n>`, `@@end`.
 */
export function buildCancelProgram(queries: readonly { cluster: ClusterName; id: string }[]): string {
  for (const q of queries) if (!isValidJobId(q.id)) throw new Error(`invalid job id: ${q.id}`);
  const byCluster = groupByCluster(queries);
  const lines: string[] = [];
  for (const [cluster, ids] of byCluster) {
    for (let i = 0; i < ids.length; i += 1000) {
      lines.push(
        `printf '@@scancel %s\\n' ${cluster ?? '-'}`,
        `scancel${clusterFlag(cluster)} ${ids.slice(i, i + 1000).join(' ')} 2>&1; printf '\\n@@rc %s\\n' "$?"`,
      );
    }
  }
  lines.push(`printf '@@end\\n'`);
  return `${lines.join('\n')}\n`;
}

/** `scancel` answers: rc and output of every call, and whether the program ran to its end. */
export function parseCancelAnswer(stdout: string): {
  calls: { rc: number; output: string }[];
  complete: boolean;
} {
  const calls: { rc: number; output: string }[] = [];
  let buf: string[] | null = null;
  let complete = false;
  for (const line of stdout.split('\n')) {
    if (/^@@scancel \S+$/.test(line)) buf = [];
    else if (/^@@rc \d+$/.test(line) && buf) {
      calls.push({ rc: Number(line.slice(5)), output: buf.join('\n').trim() });
      buf = null;
    } else if (line === '@@end') complete = true;
    else buf?.push(line);
  }
  return { calls, complete };
}

/**
 * Cluster-information program: sinfo partitions, per-node CPUs, pending reasons and `df -Pk` of the
 * nearest existing ancestor of `cloneDir`, in sections `@@sinfo`, `@@nodes`, `@@pd`, `@@df`, `@@end`.
 */
export function buildClusterInfoProgram(cloneDir: string, cluster: ClusterName = null): string {
  const m = clusterFlag(cluster);
  return [
    `printf '\\n@@sinfo\\n'; sinfo -h${m} -o '%P|%a|%D|%t|%C|%l' 2>/dev/null`,
    `printf '\\n@@nodes\\n'; sinfo -h${m} -N -o '%N|%C' 2>/dev/null`,
    `printf '\\n@@pd\\n'; squeue -h${m} -t PD -o '%r' 2>/dev/null`,
    `printf '\\n@@df\\n'; ${diskUsageCommand(cloneDir)}`,
    `printf '\\n@@end\\n'`,
  ]
    .join('\n')
    .concat('\n');
}

export { splitSections };
