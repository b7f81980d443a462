/**
 * Parsers of the cluster-wide PBS outputs: `pbsnodes -a`, `qstat -Qf`, `qstat -Bf` (dialect and job
 * history detection) and `qstat -a` (other people's jobs).
 */
import type { ExternalJob } from '@scripthut/core';
import { joinContinuations, type PbsFlavour, parseAttributeBlocks } from './parse.js';
import { mapActiveState } from './verdict.js';

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
 * True when the server keeps finished jobs: `qstat -Bf` shows `job_history_enable = True`. PBS Pro
 * and OpenPBS ship with it unset (off); the server then refuses every `qstat -x` request.
 */
export function jobHistoryEnabled(serverOutput: string): boolean {
  const server = parseQstatServer(serverOutput);
  return /^true$/i.test(server?.attrs.job_history_enable?.trim() ?? '');
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
