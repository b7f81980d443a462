/**
 * Pure parsers for the cluster views of Slurm (`sinfo`, pending reasons, `df`, and other users'
 * jobs in `squeue`), apart from the job-status parsers of `parse.ts`. No I/O here.
 */
import type { ExternalJob, PartitionInfo } from '@scripthut/core';
import { mapSlurmState, nodeOrNull, parsePipeRows, reasonOrNull, slurmTimeToIso } from './parse.js';

/** `alloc/idle/other/total` → numbers, or null when malformed. */
export function parseCpuTuple(
  value: string,
): { allocated: number; idle: number; other: number; total: number } | null {
  const m = /^(\d+)\/(\d+)\/(\d+)\/(\d+)$/.exec(value.trim());
  return m ? { allocated: Number(m[1]), idle: Number(m[2]), other: Number(m[3]), total: Number(m[4]) } : null;
}

/** Format used by {@link Backend.clusterInfo}: `%P|%a|%D|%t|%C|%l`. */
export const SINFO_FORMAT_LETTERS = ['P', 'a', 'D', 't', 'C', 'l'] as const;

/**
 * Parse `sinfo -h -o '<format>'` into partitions. `letters` names the fields in order (default
 * `P a D t C l`); any subset containing `P` and `C` works (e.g. the summarize format `P a C D m l f`).
 * Rows of the same partition (one per node state) are summed; malformed rows are skipped.
 */
export function parseSinfoPartitions(
  stdout: string,
  letters: readonly string[] = SINFO_FORMAT_LETTERS,
): PartitionInfo[] {
  const byName = new Map<string, PartitionInfo & { states: string[] }>();
  for (const r of parsePipeRows(stdout, letters)) {
    const cpus = parseCpuTuple(r.C ?? '');
    const rawName = r.P ?? '';
    if (!cpus || !rawName) continue;
    const isDefault = rawName.endsWith('*');
    const name = isDefault ? rawName.slice(0, -1) : rawName;
    const nodes = /^\d+$/.test(r.D ?? '') ? Number(r.D) : 0;
    let p = byName.get(name);
    if (!p) {
      p = {
        name,
        isDefault,
        cpusIdle: 0,
        cpusTotal: 0,
        cpusAllocated: 0,
        nodes: 0,
        timeLimit: r.l ? r.l : null,
        states: [],
      };
      byName.set(name, p);
    }
    p.isDefault = p.isDefault || isDefault;
    p.cpusIdle += cpus.idle;
    p.cpusTotal += cpus.total;
    p.cpusAllocated = (p.cpusAllocated ?? 0) + cpus.allocated;
    p.nodes = (p.nodes ?? 0) + nodes;
    const st = r.t ?? r.a;
    if (st && !p.states.includes(st)) p.states.push(st);
  }
  return [...byName.values()].map(({ states, ...p }) =>
    states.length ? { ...p, state: states.join(',') } : p,
  );
}

/**
 * Whole-cluster CPU counts from `sinfo -h -N -o '%N|%C'` (one row per node and partition; nodes in
 * several partitions are counted once).
 */
export function parseSinfoNodeCpus(stdout: string): { cpusIdle: number; cpusTotal: number } | null {
  const seen = new Map<string, { idle: number; total: number }>();
  for (const r of parsePipeRows(stdout, ['N', 'C'] as const)) {
    const cpus = parseCpuTuple(r.C);
    if (!cpus || !r.N) continue;
    seen.set(r.N, { idle: cpus.idle, total: cpus.total });
  }
  if (!seen.size) return null;
  let idle = 0;
  let total = 0;
  for (const v of seen.values()) {
    idle += v.idle;
    total += v.total;
  }
  return { cpusIdle: idle, cpusTotal: total };
}

/** Count pending reasons from `squeue -h -t PD -o '%r'` (or `%R`, parentheses stripped). */
export function parsePendingReasons(stdout: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    const r = line.trim().replace(/^\((.*)\)$/, '$1');
    if (!r) continue;
    out[r] = (out[r] ?? 0) + 1;
  }
  return out;
}

/** Parse `df -Pk <path>` (header + one POSIX row). */
export function parseDfPk(
  stdout: string,
  path: string,
): { path: string; totalBytes: number; availableBytes: number } | null {
  const lines = stdout.split('\n').filter((l) => l.trim());
  for (const line of lines) {
    if (/^Filesystem\s/i.test(line)) continue;
    const parts = line.trim().split(/\s+/);
    if (parts.length < 6) continue;
    const total = Number(parts[1]);
    const avail = Number(parts[3]);
    if (!Number.isFinite(total) || !Number.isFinite(avail)) continue;
    return { path, totalBytes: total * 1024, availableBytes: avail * 1024 };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// external jobs
// ---------------------------------------------------------------------------------------------

/** Format used by {@link Backend.externalJobs}. */
export const SQUEUE_EXTERNAL_FORMAT = '%i|%j|%u|%T|%P|%M|%N|%C|%m|%V|%r';

/**
 * Parse the user's queue (`%i|%j|%u|%T|%P|%M|%N|%C|%m|%V|%r`, or the 12-field variant with `%S`
 * before the reason: pass `letters`).
 */
export function parseExternalJobs(
  stdout: string,
  letters: readonly string[] = ['i', 'j', 'u', 'T', 'P', 'M', 'N', 'C', 'm', 'V', 'r'],
): ExternalJob[] {
  const reasonKey = letters.includes('r') ? 'r' : 'R';
  return parsePipeRows(stdout, letters)
    .filter((r) => /^\d+(_[\d[\]\-,%]+)?$/.test(r.i ?? ''))
    .map((r) => {
      const state = mapSlurmState(r.T ?? '');
      const cpus = /^\d+$/.test(r.C ?? '') ? Number(r.C) : null;
      return {
        jobId: r.i!,
        name: r.j ?? '',
        user: r.u ?? '',
        state,
        partition: r.P || null,
        cpus,
        memory: r.m && r.m !== 'N/A' ? r.m : null,
        timeUsed: r.M || null,
        nodes: nodeOrNull(r.N === '-' ? '' : r.N),
        submittedAt: slurmTimeToIso(r.V),
        // %R is the node list for running jobs: keep the reason only for pending ones.
        reason: state === 'pending' || reasonKey === 'r' ? reasonOrNull(r[reasonKey]) : null,
      };
    });
}
