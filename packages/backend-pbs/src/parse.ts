/**
 * Parsers of PBS Pro and Torque output: `qsub`, `qstat -f` (text, PBS Pro `-F json`, Torque XML),
 * `qstat -a`, `qstat -Qf`, `qstat -Bf`, `qstat --version` and `pbsnodes -a`, and the rules that turn
 * a job record into a {@link JobStatus}.
 */
import type { ExternalJob, JobState, JobStatus } from '@scripthut/core';

/** The two PBS dialects this backend speaks. */
export type PbsFlavour = 'pro' | 'torque';

/** One job as reported by `qstat -f`: its full id and its attributes with dotted keys. */
export interface PbsJobRecord {
  /** Full job id (`123.server`). */
  id: string;
  /** Attributes; nested resources use dotted keys (`Resource_List.walltime`). */
  attrs: Record<string, string>;
}

/** Full PBS job ids: `123`, `123.server.domain`, array jobs `123[].server`. */
export const PBS_JOB_ID_RE = /^\d+(?:\[\d*\])?(?:\.[A-Za-z0-9_-][A-Za-z0-9_.-]*)?$/;

/** True for a job id that is safe to pass to qstat/qdel unquoted. */
export function isValidPbsJobId(id: string): boolean {
  return PBS_JOB_ID_RE.test(id);
}

/** The number shown to people: `123.server` → `123`. */
export function displayJobNumber(id: string): string {
  return id.split('.')[0]!;
}

/**
 * Parse qsub's stdout: the first line that is a job id (`12345.pbs-server` or a bare `99999`).
 * Returns the full id (kept for qstat/qdel) or null.
 */
export function parseQsubOutput(stdout: string): string | null {
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (PBS_JOB_ID_RE.test(line)) return line;
  }
  return null;
}

/** Re-join the tab-indented continuation lines qstat uses to wrap long values. */
export function joinContinuations(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.replace(/\r/g, '').split('\n')) {
    if (raw.startsWith('\t') && out.length && out[out.length - 1]!.trim() !== '') {
      out[out.length - 1] += raw.slice(1);
    } else out.push(raw);
  }
  return out;
}

/**
 * Split `Header: name` blocks of indented `key = value` lines (qstat -f, -Qf, -Bf) after re-joining
 * continuation lines.
 */
export function parseAttributeBlocks(
  text: string,
  header: string,
): { name: string; attrs: Record<string, string> }[] {
  const blocks: { name: string; attrs: Record<string, string> }[] = [];
  let current: { name: string; attrs: Record<string, string> } | null = null;
  const prefix = `${header}:`;
  for (const line of joinContinuations(text)) {
    if (line.startsWith(prefix)) {
      current = { name: line.slice(prefix.length).trim(), attrs: {} };
      blocks.push(current);
      continue;
    }
    if (!current) continue;
    const m = /^\s+([^\s=][^=]*?)\s*=\s?(.*)$/.exec(line);
    if (m) current.attrs[m[1]!] = m[2]!.replace(/\s+$/, '');
  }
  return blocks;
}

/** `qstat -f` text output (PBS Pro and Torque) → job records. */
export function parseQstatText(text: string): PbsJobRecord[] {
  return parseAttributeBlocks(text, 'Job Id').map((b) => ({ id: b.name, attrs: b.attrs }));
}

function flatten(prefix: string, value: unknown, out: Record<string, string>): void {
  if (value === null || value === undefined) return;
  if (typeof value === 'object' && !Array.isArray(value)) {
    if (prefix === 'Variable_List') return; // environment of the submitter: not needed, possibly large
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      flatten(prefix ? `${prefix}.${k}` : k, v, out);
    return;
  }
  out[prefix] = String(value);
}

/** PBS Pro `qstat -f -F json` → job records (nested objects flattened to dotted keys). */
export function parseQstatJson(text: string): PbsJobRecord[] {
  const start = text.indexOf('{');
  if (start < 0) return [];
  const doc = JSON.parse(text.slice(start)) as { Jobs?: Record<string, unknown> };
  return Object.entries(doc.Jobs ?? {}).map(([id, job]) => {
    const attrs: Record<string, string> = {};
    flatten('', job, attrs);
    return { id, attrs };
  });
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
function xmlUnescape(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number(e.slice(1)));
    return XML_ENTITIES[e] ?? m;
  });
}

/**
 * Torque `qstat -f -x` XML (`<Data><Job><Job_Id>…</Job_Id>…</Job></Data>`) → job records, nested
 * elements flattened to dotted keys (`<Resource_List><walltime>` → `Resource_List.walltime`).
 */
export function parseQstatXml(text: string): PbsJobRecord[] {
  const jobs: PbsJobRecord[] = [];
  const tagRe = /<(\/?)([A-Za-z_][\w.-]*)[^>]*?(\/?)>|<\?[^>]*\?>|<!--[\s\S]*?-->/g;
  const stack: string[] = [];
  let attrs: Record<string, string> | null = null;
  let textStart = 0;
  for (const m of text.matchAll(tagRe)) {
    if (!m[2]) continue; // declaration or comment
    const [, closing, name, selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`malformed qstat XML: </${name}> closes <${open}>`);
      if (name === 'Job') {
        if (attrs?.Job_Id) {
          const { Job_Id: id, ...rest } = attrs;
          jobs.push({ id: id!, attrs: rest });
        }
        attrs = null;
      } else if (attrs && stack.length >= 2 && stack.includes('Job')) {
        const inner = text.slice(textStart, m.index);
        if (!inner.includes('<')) {
          const path = [...stack.slice(stack.indexOf('Job') + 1), name].join('.');
          attrs[path] = xmlUnescape(inner).trim();
        }
      }
    } else if (!selfClosing) {
      stack.push(name!);
      if (name === 'Job') attrs = {};
      textStart = m.index + m[0].length;
    }
  }
  return jobs;
}

/** Parse whichever `qstat -f` format `text` is in (JSON, XML or text). */
export function parseQstatJobs(text: string): PbsJobRecord[] {
  const t = text.trimStart();
  if (t.startsWith('{')) return parseQstatJson(t);
  if (t.startsWith('<')) return parseQstatXml(t);
  return parseQstatText(text);
}

/** `[[D:]HH:]MM:SS` (PBS walltime) → seconds; null when unparsable. */
export function parseDuration(text: string | undefined | null): number | null {
  if (!text) return null;
  const s = text.trim();
  if (!/^\d+(?::\d+){0,3}$/.test(s)) return null;
  const parts = s.split(':').map(Number);
  const mult = [1, 60, 3600, 86400];
  return parts.reverse().reduce((acc, n, i) => acc + n * mult[i]!, 0);
}

/** Seconds → `HH:MM:SS` (hours may exceed 24, as PBS accepts). */
export function formatWalltime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(Math.floor(s / 3600))}:${p(Math.floor((s % 3600) / 60))}:${p(s % 60)}`;
}

/**
 * Slurm-style memory (`4G`, `500M`, `100K`, `1T`, bare number = megabytes) → PBS units
 * (`4gb`, `500mb`, `100kb`, `1tb`). Null when the text is not a size.
 */
export function toPbsMemory(memory: string): string | null {
  const m = /^\s*(\d+)\s*([KMGT])?B?\s*$/i.exec(memory);
  if (!m) return null;
  return `${m[1]}${(m[2] ?? 'M').toLowerCase()}b`;
}

/** GPU count of a `gpu:N` / `gpu:type:N` gres; null for any other gres (not translatable). */
export function gpuCountFromGres(gres: string | null): number | null {
  if (!gres) return null;
  const m = /^gpu(?::[A-Za-z0-9_.-]+)?:(\d+)$/.exec(gres.trim());
  return m ? Number(m[1]) : null;
}

/** Time attribute → ISO: epoch seconds (Torque XML) or `Tue May 12 15:27:15 2020` text. */
export function pbsTimeToIso(value: string | undefined): string | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d{9,}$/.test(v)) return new Date(Number(v) * 1000).toISOString();
  const t = Date.parse(v);
  return Number.isFinite(t) ? new Date(t).toISOString() : null;
}

/** Host names of `exec_host` (`node1/0*2+node2/1` or Torque `node1/0-3`). */
export function execHosts(value: string | undefined): string | null {
  if (!value) return null;
  const hosts = [...new Set(value.split('+').map((h) => h.split('/')[0]!.trim()))].filter(Boolean);
  return hosts.length ? hosts.join(',') : null;
}

/** Case-insensitive attribute lookup (`Exit_status` in PBS Pro, `exit_status` in Torque). */
export function attr(record: PbsJobRecord, name: string): string | undefined {
  if (name in record.attrs) return record.attrs[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(record.attrs)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Letter states that mean the job is over (PBS Pro F/X, Torque C). */
export const FINISHED_STATES = new Set(['F', 'C', 'X']);

/** Map a `job_state` letter of a job that is not finished; null for finished states. */
export function mapActiveState(
  letter: string,
  record?: PbsJobRecord,
): { state: JobState; reason: string | null } | null {
  const comment = record ? attr(record, 'comment') : undefined;
  switch (letter) {
    case 'Q': {
      const reason = comment?.replace(/^Not Running:\s*/, '').trim();
      return { state: 'pending', reason: reason || 'Queued' };
    }
    case 'H': {
      const types = record ? attr(record, 'Hold_Types') : undefined;
      return { state: 'pending', reason: types && types !== 'n' ? `Held (${types})` : 'Held' };
    }
    case 'W': {
      const when = record ? attr(record, 'Execution_Time') : undefined;
      return { state: 'pending', reason: when ? `Waiting until ${when}` : 'Waiting' };
    }
    case 'T':
      return { state: 'pending', reason: 'Transit' };
    case 'M':
      return { state: 'pending', reason: 'Moved' };
    case 'R':
    case 'E':
    case 'B':
    case 'S':
    case 'U':
      return { state: 'running', reason: null };
    default:
      return FINISHED_STATES.has(letter) ? null : { state: 'unknown', reason: `job_state ${letter}` };
  }
}

/** Verdict on a finished job: exit status, walltime and deletion rules. */
export function finishedVerdict(
  exit: number | null,
  usedSeconds: number | null,
  limitSeconds: number | null,
): {
  state: JobState;
  reason: string | null;
} {
  if (exit === null) return { state: 'cancelled', reason: 'deleted before it ran (no exit status)' };
  if (exit === 0) return { state: 'completed', reason: null };
  if (usedSeconds !== null && limitSeconds !== null && limitSeconds > 0 && usedSeconds >= limitSeconds)
    return { state: 'timeout', reason: `walltime exceeded (Exit_status ${exit})` };
  if (exit === 271 || exit === -29) return { state: 'cancelled', reason: `deleted (Exit_status ${exit})` };
  if (exit > 256) return { state: 'failed', reason: `killed by signal ${exit - 256}` };
  if (exit < 0) return { state: 'failed', reason: `PBS could not run the job (Exit_status ${exit})` };
  return { state: 'failed', reason: null };
}

/**
 * Turn one job record into a status. `marker` is the exit code the job script left in its marker
 * file, if read: it is used only for a finished job whose record has no exit status.
 */
export function pbsJobStatus(record: PbsJobRecord, marker?: number): JobStatus {
  const letter = (attr(record, 'job_state') ?? '').trim();
  const startedAt = pbsTimeToIso(attr(record, 'stime') ?? attr(record, 'start_time'));
  const node = execHosts(attr(record, 'exec_host'));
  const active = mapActiveState(letter, record);
  if (active) {
    // A marker of a job the scheduler still shows as running/exiting is not trusted: a job killed
    // by a signal (walltime, qdel) can leave one behind. The finished record settles it.
    return {
      jobId: record.id,
      state: active.state,
      reason: active.reason,
      startedAt: active.state === 'pending' ? null : startedAt,
      node,
      rawState: letter,
      final: false,
    };
  }
  const exitText = attr(record, 'Exit_status');
  let exit = exitText !== undefined && /^-?\d+$/.test(exitText.trim()) ? Number(exitText) : null;
  if (exit === null && marker !== undefined) exit = marker;
  const used = parseDuration(attr(record, 'resources_used.walltime'));
  const limit = parseDuration(attr(record, 'Resource_List.walltime'));
  const verdict = finishedVerdict(exit, used, limit);
  return {
    jobId: record.id,
    state: verdict.state,
    reason: verdict.reason,
    exitCode: exit,
    startedAt,
    finishedAt: pbsTimeToIso(attr(record, 'obittime') ?? attr(record, 'comp_time')),
    node,
    rawState: letter,
    final: true,
  };
}

// ---------------------------------------------------------------------------------------------
// Cluster information
// ---------------------------------------------------------------------------------------------

/** One node of `pbsnodes -a`. */
export interface PbsNode {
  name: string;
  state: string;
  cpus: number;
  cpusAllocated: number;
  gpus: number;
  gpusAssigned: number;
  memMb: number | null;
}

/** Totals over `pbsnodes -a`. */
export interface PbsNodesSummary {
  nodes: PbsNode[];
  cpusTotal: number;
  cpusIdle: number;
  cpusAllocated: number;
  /** CPUs of down/offline/drained/unknown nodes. */
  cpusOther: number;
  gpusTotal: number;
  /** Free GPUs on usable nodes. */
  gpusIdle: number;
  /** Largest node memory (from `status` physmem or `resources_available.mem`), MB. */
  memPerNodeMb: number | null;
}

const UNUSABLE = /down|offline|drain|unknown|unavail|stale|maintenance/;
const FULL = /job-exclusive|job-busy|busy|reserve/;

function kbOf(text: string | undefined): number | null {
  if (!text) return null;
  const m = /^(\d+)(b|kb|mb|gb|tb)?$/i.exec(text.trim());
  if (!m) return null;
  const mult: Record<string, number> = { b: 1 / 1024, kb: 1, mb: 1024, gb: 1024 ** 2, tb: 1024 ** 3 };
  return Number(m[1]) * mult[(m[2] ?? 'b').toLowerCase()]!;
}

/** Parse `pbsnodes -a` (Torque and PBS Pro attribute names). */
export function parsePbsnodes(text: string): PbsNodesSummary {
  const nodes: PbsNode[] = [];
  let cur: { name: string; attrs: Record<string, string> } | null = null;
  const flush = () => {
    if (!cur) return;
    const a = cur.attrs;
    const num = (k: string) => (a[k] !== undefined && /^\d+$/.test(a[k]!.trim()) ? Number(a[k]) : null);
    const cpus = num('np') ?? num('pcpus') ?? num('resources_available.ncpus') ?? 0;
    const state = (a.state ?? 'unknown').trim();
    const assigned = num('dedicated_threads') ?? num('resources_assigned.ncpus') ?? 0;
    const status = a.status ?? '';
    const physmem = /(?:^|,)physmem=(\d+\w*)/.exec(status)?.[1];
    const memKb = kbOf(physmem) ?? kbOf(a['resources_available.mem']);
    nodes.push({
      name: cur.name,
      state,
      cpus,
      cpusAllocated: UNUSABLE.test(state) ? 0 : FULL.test(state) ? cpus : Math.min(cpus, assigned),
      gpus: num('resources_available.ngpus') ?? num('gpus') ?? 0,
      gpusAssigned: num('resources_assigned.ngpus') ?? 0,
      memMb: memKb === null ? null : Math.floor(memKb / 1024),
    });
    cur = null;
  };
  for (const line of joinContinuations(text)) {
    if (!line.trim()) {
      flush();
      continue;
    }
    if (!/^\s/.test(line)) {
      flush();
      cur = { name: line.trim(), attrs: {} };
      continue;
    }
    const m = /^\s+([^\s=]+)\s*=\s?(.*)$/.exec(line);
    if (m && cur) cur.attrs[m[1]!] = m[2]!.trim();
  }
  flush();
  const s: PbsNodesSummary = {
    nodes,
    cpusTotal: 0,
    cpusIdle: 0,
    cpusAllocated: 0,
    cpusOther: 0,
    gpusTotal: 0,
    gpusIdle: 0,
    memPerNodeMb: null,
  };
  for (const n of nodes) {
    s.cpusTotal += n.cpus;
    s.gpusTotal += n.gpus;
    if (n.memMb !== null) s.memPerNodeMb = Math.max(s.memPerNodeMb ?? 0, n.memMb);
    if (UNUSABLE.test(n.state)) {
      s.cpusOther += n.cpus;
      continue;
    }
    s.cpusAllocated += n.cpusAllocated;
    s.cpusIdle += n.cpus - n.cpusAllocated;
    s.gpusIdle += Math.max(0, n.gpus - n.gpusAssigned);
  }
  return s;
}

/** One queue of `qstat -Qf`. */
export interface PbsQueue {
  name: string;
  type: string | null;
  enabled: boolean | null;
  started: boolean | null;
  maxWalltime: string | null;
  /** `state_count` parsed (`Queued` → 48, …). */
  stateCounts: Record<string, number>;
  totalJobs: number | null;
}

/** Parse `qstat -Qf` (the tab-continued `state_count` line re-joined). */
export function parseQstatQueues(text: string): PbsQueue[] {
  return parseAttributeBlocks(text, 'Queue').map(({ name, attrs }) => {
    const counts: Record<string, number> = {};
    for (const m of (attrs.state_count ?? '').matchAll(/(\w+):(\d+)/g)) counts[m[1]!] = Number(m[2]);
    const bool = (v: string | undefined) => (v === undefined ? null : /^true$/i.test(v));
    return {
      name,
      type: attrs.queue_type ?? null,
      enabled: bool(attrs.enabled),
      started: bool(attrs.started),
      maxWalltime: attrs['resources_max.walltime'] ?? null,
      stateCounts: counts,
      totalJobs: attrs.total_jobs !== undefined ? Number(attrs.total_jobs) : null,
    };
  });
}

/** Pending badge: Queued/Held/Waiting counts summed over queues, zero counts dropped. */
export function pendingCounts(queues: readonly PbsQueue[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const q of queues) {
    for (const k of ['Queued', 'Held', 'Waiting']) {
      const n = q.stateCounts[k] ?? 0;
      if (n > 0) out[k] = (out[k] ?? 0) + n;
    }
  }
  return out;
}

/** Parse `qstat -Bf`: server name and attributes (first server). */
export function parseQstatServer(text: string): { name: string; attrs: Record<string, string> } | null {
  return parseAttributeBlocks(text, 'Server')[0] ?? null;
}

/**
 * Detect the PBS dialect from `qstat --version` output and, when that is inconclusive, `qstat -Bf`.
 * PBS Pro/OpenPBS print `pbs_version = 19.1.3`; Torque prints `Version: 6.1.3` (older: `version:`).
 */
export function detectFlavour(
  versionOutput: string,
  serverOutput = '',
): { flavour: PbsFlavour; version: string | null } | null {
  const pro = /pbs_version\s*=\s*(\S+)/.exec(versionOutput);
  if (pro) return { flavour: 'pro', version: pro[1]! };
  const torque = /^\s*version:\s*(\d\S*)/im.exec(versionOutput);
  if (torque) return { flavour: 'torque', version: torque[1]! };
  const server = parseQstatServer(serverOutput);
  if (!server) return null;
  const a = server.attrs;
  const version = a.pbs_version ?? null;
  if ('keep_completed' in a || 'moab_array_compatible' in a || /Complete:/.test(a.state_count ?? ''))
    return { flavour: 'torque', version };
  if (
    'job_history_enable' in a ||
    'default_chunk.ncpus' in a ||
    'license_count' in a ||
    /Begun:/.test(a.state_count ?? '')
  )
    return { flavour: 'pro', version };
  if (version) return { flavour: Number.parseInt(version, 10) >= 10 ? 'pro' : 'torque', version };
  return null;
}

/**
 * Parse `qstat -a` (sample 12): rows after the dashed separator, whitespace split. The server
 * suffix is dropped from the displayed id but the full id is kept in `jobId`.
 */
export function parseQstatA(text: string): ExternalJob[] {
  const lines = text.replace(/\r/g, '').split('\n');
  const sep = lines.findIndex((l) => /^-{3,}( +-+)+\s*$/.test(l));
  if (sep < 0) return [];
  const out: ExternalJob[] = [];
  for (const line of lines.slice(sep + 1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 11) continue;
    const [id, user, queue, name, , , tsk, memory, , letter, elapsed] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const active = mapActiveState(letter);
    out.push({
      jobId: id,
      name,
      user,
      state: active ? active.state : 'completed',
      partition: queue,
      cpus: /^\d+$/.test(tsk) ? Number(tsk) : null,
      memory: memory === '--' ? null : memory,
      timeUsed: elapsed === '--' ? null : elapsed,
      nodes: null,
      submittedAt: null,
      reason: active?.state === 'pending' ? active.reason : null,
    });
  }
  return out;
}
