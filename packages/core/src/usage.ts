/**
 * Resource usage of a task's job, as the scheduler's accounting (or the local wrapper) reports it
 * after the job ended: node, real start and end, elapsed time, allocated CPUs, CPU time, peak RSS
 * and requested memory. Every figure is nullable: a figure the source cannot give stays `null`, it
 * is never reported as zero. Derived figures (efficiency, CPU-hours, advice) are in `usage-figures.ts`.
 */

/** Where a task's usage stands. */
export type UsageStatus = 'pending' | 'ok' | 'unavailable';

/** What ScriptHut knows about the resources a task's job used (stored with the task). */
export interface TaskUsage {
  /**
   * `pending`: the job ended and its accounting is being asked for (accounting lags);
   * `ok`: the figures below are what the source reported;
   * `unavailable`: the source never reported the job (see {@link TaskUsage.reason}).
   */
  status: UsageStatus;
  /** Why the usage is unavailable (`status: 'unavailable'`), e.g. "sacct has no record of job 42". */
  reason: string | null;
  /** Where the figures come from: `sacct`, `pbs`, `local`, `batch`, `ec2`. */
  source: string | null;
  /** When the engine first asked for the usage (ISO): start of the bounded wait for accounting lag. */
  requestedAt: string | null;
  /** Wall time of the job in seconds. */
  elapsedSec: number | null;
  /** CPUs allocated to the job. */
  allocCpus: number | null;
  /** User + system CPU time of the job (all its processes), seconds. */
  cpuTimeSec: number | null;
  /** Peak resident set size, bytes (Slurm: max over the job's steps). */
  maxRssBytes: number | null;
  /** Memory requested for the job, bytes (total for the job). */
  reqMemBytes: number | null;
  /** Instance type the job ran on (EC2), when known. */
  instanceType?: string | null;
}

/**
 * What a backend reports about one job's usage ({@link Backend.fetchUsage}).
 * - `ok`: the figures (and, when known, node/start/end, which win over what the engine observed);
 * - `pending`: not in the accounting yet (lag): the engine asks again at the next poll, for a
 *   bounded time, then records `unavailable` with the reason that the accounting never answered;
 * - `unavailable`: it never will be (e.g. accounting disabled); `reason` says why.
 */
export type UsageReport =
  | {
      kind: 'ok';
      node?: string | null;
      startedAt?: string | null;
      finishedAt?: string | null;
      elapsedSec: number | null;
      allocCpus: number | null;
      cpuTimeSec: number | null;
      maxRssBytes: number | null;
      reqMemBytes: number | null;
      instanceType?: string | null;
      /** Missing figures explained (e.g. "MaxRSS not recorded: no jobacct_gather plugin"). */
      note?: string | null;
    }
  | { kind: 'pending'; reason?: string | null }
  | { kind: 'unavailable'; reason: string };

/** A `pending` usage record started now. */
export function pendingUsage(nowIso: string): TaskUsage {
  return {
    status: 'pending',
    reason: null,
    source: null,
    requestedAt: nowIso,
    elapsedSec: null,
    allocCpus: null,
    cpuTimeSec: null,
    maxRssBytes: null,
    reqMemBytes: null,
  };
}

/** An `unavailable` usage record. */
export function unavailableUsage(
  reason: string,
  requestedAt: string | null,
  source: string | null,
): TaskUsage {
  return { ...pendingUsage(requestedAt ?? ''), requestedAt, status: 'unavailable', reason, source };
}

/** Parse a duration such as Slurm's `[D-]HH:MM:SS[.mmm]`, `MM:SS.mmm` or PBS `HH:MM:SS` to seconds. */
export function parseDurationSeconds(text: string | null | undefined): number | null {
  if (!text) return null;
  const s = text.trim();
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$/.exec(s);
  if (!m) return /^\d+(?:\.\d+)?$/.test(s) ? Number(s) : null;
  const [, d, h, mi, se] = m;
  return Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(mi) * 60 + Number(se);
}

const UNIT_POWER: Record<string, number> = { '': 0, B: 0, K: 1, M: 2, G: 3, T: 4, P: 5 };

/**
 * Parse a memory amount with a binary unit suffix (`1234K`, `12M`, `1.5G`, `310mb`, `4gb`, `512`)
 * to bytes. A bare number is taken in `defaultUnit` (Slurm MaxRSS without unit is KiB... but sacct
 * always prints one; PBS `kb`). Returns null for anything else (e.g. empty, `16Gn` is handled by the
 * caller). Slurm's per-node/per-cpu suffixes (`n`, `c`) must be stripped first.
 */
export function parseMemoryBytes(text: string | null | undefined, defaultUnit = ''): number | null {
  if (!text) return null;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:I?B)?$/i.exec(text.trim());
  if (!m) return null;
  const unit = (m[2] || defaultUnit).toUpperCase();
  const power = UNIT_POWER[unit];
  if (power === undefined) return null;
  return Math.round(Number(m[1]) * 1024 ** power);
}
